"""Reports -> protobuf messages of antt.reporting.v1."""

from __future__ import annotations

from antt.reporting.v1 import reporting_service_pb2 as pb
from services.reporting.rollup.figures import Figures
from services.reporting.rollup.report import AreaFigures, Report

CONTENT_TYPES = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                 "csv": "text/csv; charset=utf-8", "pdf": "application/pdf"}


def figures_pb(f: Figures) -> pb.Figures:
    """Counts and rates (a rate is absent when its denominator is 0)."""
    rates = {name: value for name, value in (
        ("pct_recognised", f.pct_recognised), ("pct_kha_or_above", f.pct_kha_or_above),
        ("completeness_pct", f.completeness_pct), ("registration_timeliness_pct", f.registration_timeliness_pct),
        ("decision_timeliness_pct", f.decision_timeliness_pct)) if value is not None}
    return pb.Figures(in_scope=f.in_scope, registered=f.registered, registered_on_time=f.registered_on_time,
                      decided=f.decided, decided_on_time=f.decided_on_time, recognised=f.recognised,
                      not_recognised=f.not_recognised, revoked=f.revoked, classified=f.classified,
                      classified_on_time=f.classified_on_time, levels=f.levels, **rates)


def area_pb(a: AreaFigures) -> pb.AreaFigures:
    """One area's figures."""
    return pb.AreaFigures(code=a.code, name=a.name, total=figures_pb(a.total),
                          by_type={t: figures_pb(f) for t, f in a.by_type.items()})


def rollup_pb(r: Report, digest: str = "", with_awards: bool = True) -> pb.Rollup:
    """The whole report, with its digest (`digest` when already computed); without the award lines if asked."""
    return pb.Rollup(
        year=r.year, scope=str(r.scope), boundary=r.boundary.value, area=area_pb(r.area),
        sub_areas=[area_pb(s) for s in r.sub_areas], recognition_target=r.targets.recognition.label(),
        kha_or_above_target=r.targets.kha_or_above.label(), meets_recognition_target=r.meets_recognition_target,
        meets_classification_target=r.meets_classification_target,
        near_threshold=[pb.NearThreshold(**n) for n in r.near_threshold],
        award_eligible=[pb.AwardEligibleUnit(**a) for a in r.award_eligible] if with_awards else [],
        digest=digest or r.digest())


def filename(r: Report, fmt: str) -> str:
    """E.g. "bao-cao-2025-province-01.xlsx"."""
    return f"bao-cao-{r.year}-{str(r.scope).replace(':', '-')}.{fmt}"
