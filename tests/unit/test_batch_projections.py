"""A batch projection gives the same read model as its per-event projection on the same events, however
the events are cut into batches (property-based: random unit histories, random batch boundaries)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from antt.events.v1 import assessment_pb2 as apb
from antt.events.v1 import registry_pb2 as rpb
from antt.messaging.consumer import ConsumerSpec, ReceivedEvent
from services.assessment import consumers as assessment_consumers
from services.assessment import projections as assessment
from services.notifications import consumers as notifications_consumers
from services.notifications import projections as notifications
from services.reporting import consumers as reporting_consumers
from services.reporting import projections as reporting
from tests.unit.reporting.builders import Stream, meta

pytestmark = pytest.mark.unit

UNITS = [f"00000000-0000-0000-0000-00000000000{i}" for i in range(4)]
PLACES = [("01", "00004"), ("01", "00007"), ("79", "26734")]
KINDS = ("registered", "facts", "updated", "moved", "closed", "area_created", "area_renamed")

# (kind, unit index, place index, flag)
steps = st.lists(st.tuples(st.sampled_from(KINDS), st.integers(0, len(UNITS) - 1),
                           st.integers(0, len(PLACES) - 1), st.booleans()), max_size=40)


def build(plan: list[tuple[str, int, int, bool]], reregister: bool) -> list[ReceivedEvent]:
    """Registry events of the plan; each unit is registered at most once unless `reregister`."""
    stream, versions, registered, areas = Stream("registry"), dict[str, int](), set[str](), set[str]()
    for n, (kind, u, place, flag) in enumerate(plan):
        uid, (province, commune) = UNITS[u], PLACES[place]
        version = versions[uid] = versions.get(uid, 0) + 1
        m = meta(version=version, aggregate=uid)
        m.effective_date = f"2026-0{1 + n % 9}-1{n % 10}"
        elig = rpb.Eligibility(eligible=flag, reason_code="" if flag else "OUT_OF_SCOPE", explanation_vi=f"lý do {n}")
        if kind == "registered":
            if uid in registered and not reregister:
                continue
            registered.add(uid)
            payload: object = rpb.UnitRegistered(unit_id=uid, code=f"U-{u}", name=f"Đơn vị {n}", unit_type="xa",
                                                 province_code=province, commune_code=commune, eligibility=elig, meta=m)
        elif kind == "facts":
            payload = rpb.UnitEligibilityFactsDeclared(unit_id=uid, code=f"U-{u}", unit_type="xa", eligibility=elig,
                                                       province_code=province, commune_code=commune, meta=m)
        elif kind == "updated":
            payload = rpb.UnitUpdated(unit_id=uid, code=f"U-{u}", name=f"Tên {n}", managing_authority=province,
                                      province_code=province, commune_code=commune, meta=m)
        elif kind == "moved":
            payload = rpb.UnitMoved(unit_id=uid, code=f"U-{u}", province_code=province, commune_code=commune, meta=m)
        elif kind == "closed":
            payload = rpb.UnitClosed(unit_id=uid, code=f"U-{u}", reason="dissolved",
                                     successor_code="U-0" if flag else "", province_code=province,
                                     commune_code=commune, meta=m)
        elif kind == "area_created":
            if commune in areas:
                continue
            areas.add(commune)
            payload = rpb.AreaCreated(level="xa", code=commune, name=f"Xã {n}", parent_level="tinh",
                                      parent_code=province, meta=meta(version=1))
        else:
            if commune not in areas:
                continue
            payload = rpb.AreaRenamed(level="xa", code=commune, name=f"Xã mới {n}", meta=meta(version=n + 2))
        stream.add(payload, province, commune)  # type: ignore[arg-type]
    return stream.events


def snapshot(engine: sa.Engine, metadata: sa.MetaData) -> dict[str, list[tuple[object, ...]]]:  # a Snapshot
    """Every row of every read-model table, sorted (bookkeeping such as a data version left out)."""
    with engine.connect() as conn:
        return {t.name: sorted((tuple(r) for r in conn.execute(sa.select(t))), key=repr)
                for t in metadata.sorted_tables if t.info.get("read_model", True)}


Snapshot = dict[str, list[tuple[object, ...]]]


def per_event_and_batched(spec: ConsumerSpec, metadata: sa.MetaData, events: list[ReceivedEvent],
                          cuts: list[int], setup: Callable[[sa.Engine], None]) -> tuple[Snapshot, Snapshot]:
    """Read models after applying `events` one by one, and after applying them in batches cut at `cuts`."""
    assert spec.batch_projection is not None
    one, many = sa.create_engine("sqlite://"), sa.create_engine("sqlite://")
    for engine in (one, many):
        setup(engine)
    with one.begin() as conn:
        for event in events:
            spec.projection(conn, event)
    bounds = [0, *sorted({c % (len(events) + 1) for c in cuts}), len(events)]
    for start, end in zip(bounds, bounds[1:]):
        if start < end:
            with many.begin() as conn:
                spec.batch_projection(conn, events[start:end])
    return snapshot(one, metadata), snapshot(many, metadata)


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(plan=steps, cuts=st.lists(st.integers(0, 40), max_size=5))
def test_reporting_registry_batch_equals_per_event(plan: list[tuple[str, int, int, bool]], cuts: list[int]) -> None:
    events = build(plan, reregister=False)
    one, many = per_event_and_batched(reporting_consumers.FROM_REGISTRY, reporting.metadata, events, cuts,
                                      reporting.metadata.create_all)
    assert one == many


@SETTINGS
@given(plan=steps, cuts=st.lists(st.integers(0, 40), max_size=5))
def test_assessment_replica_batch_equals_per_event(plan: list[tuple[str, int, int, bool]], cuts: list[int]) -> None:
    events = build(plan, reregister=True)
    one, many = per_event_and_batched(assessment_consumers.FROM_REGISTRY, assessment.metadata, events, cuts,
                                      assessment.ensure_schema)
    assert one == many


@SETTINGS
@given(plan=steps, cuts=st.lists(st.integers(0, 40), max_size=5))
def test_notifications_replica_batch_equals_per_event(plan: list[tuple[str, int, int, bool]], cuts: list[int]
                                                      ) -> None:
    events = build(plan, reregister=True)
    one, many = per_event_and_batched(notifications_consumers.FROM_REGISTRY, notifications.metadata, events, cuts,
                                      notifications.metadata.create_all)
    assert one == many


def test_batch_sees_the_counts_of_earlier_batches() -> None:
    """Counts add up across batches and provinces (the property above also covers this, here it is spelt out)."""
    plan = [("registered", u, u % 3, True) for u in range(4)]
    events = build(plan, reregister=False)
    engine = sa.create_engine("sqlite://")
    reporting.metadata.create_all(engine)
    assert reporting_consumers.FROM_REGISTRY.batch_projection is not None
    for chunk in (events[:1], events[1:]):
        with engine.begin() as conn:
            reporting_consumers.FROM_REGISTRY.batch_projection(conn, chunk)
    with engine.connect() as conn:
        assert reporting.unit_counts(conn) == [("01", 3), ("79", 1)]


CASE_KINDS = ("registered", "decided", "revoked", "closed", "classified", "reclassified", "self_assessed")
# (kind, unit index, year offset, flag)
case_steps = st.lists(st.tuples(st.sampled_from(CASE_KINDS), st.integers(0, len(UNITS) - 1), st.integers(0, 1),
                                st.booleans()), max_size=40)


def build_cases(plan: list[tuple[str, int, int, bool]]) -> list[ReceivedEvent]:
    """Assessment events of the plan; a reclassification only follows a classification of its (unit, year)."""
    stream, classified = Stream("assessment"), set[tuple[int, int]]()
    for n, (kind, u, dy, flag) in enumerate(plan):
        m = meta(aggregate=f"case-{u}-{dy}")
        m.effective_date = "" if n % 5 == 0 else f"2025-0{1 + n % 9}-1{n % 10}"  # "": the recorded date is used
        decided_on = "" if n % 3 == 0 else f"2025-1{n % 3}-0{1 + n % 9}"
        head = dict(meta=m, unit_id=UNITS[u], unit_code=f"U-{u}", unit_type="xa", year=2025 + dy,
                    province_code="01", commune_code="00004")
        if kind == "registered":
            payload: object = apb.CaseRegistered(**head, late=flag)
        elif kind == "decided":
            payload = apb.CaseDecided(**head, recognised=flag, decision_date=decided_on, late=not flag,
                                      decision_number=f"QĐ {n}")
        elif kind == "revoked":
            payload = apb.RecognitionRevoked(**head, reason="vi phạm", decision_date=decided_on)
        elif kind == "closed":
            payload = apb.CaseClosed(**head)
        elif kind == "classified":
            classified.add((u, dy))
            payload = apb.ClassificationDecided(**head, level="kha" if flag else "xuat_sac", points=50.0 + n,
                                                decision_date=decided_on, late=flag)
        elif kind == "reclassified":
            if (u, dy) not in classified:
                continue
            payload = apb.Reclassified(**head, level="trung_binh" if flag else "yeu", previous_level="kha",
                                       points=40.0 + n, decision_date=decided_on)
        else:  # an assessment event the read model ignores
            payload = apb.CaseSubmitted(**head)
        stream.add(payload, "01", "00004")  # type: ignore[arg-type]
    return stream.events


@SETTINGS
@given(plan=case_steps, cuts=st.lists(st.integers(0, 40), max_size=5))
def test_reporting_case_batch_equals_per_event(plan: list[tuple[str, int, int, bool]], cuts: list[int]) -> None:
    events = build_cases(plan)
    one, many = per_event_and_batched(reporting_consumers.FROM_ASSESSMENT, reporting.metadata, events, cuts,
                                      reporting.metadata.create_all)
    assert one == many


def test_case_batch_fails_on_a_reclassification_without_classification_as_per_event_does() -> None:
    """The consumer then applies the batch message by message, and only that message fails."""
    events = build_cases([("registered", 0, 0, True)])
    orphan = Stream("assessment").add(apb.Reclassified(meta=meta(aggregate="case-1"), unit_id=UNITS[1], year=2025,
                                                       level="kha", previous_level="yeu", points=70),
                                      "01", "00004")
    for apply in (lambda conn: reporting.on_assessment_event(conn, orphan),
                  lambda conn: reporting.on_assessment_events(conn, [*events, orphan])):
        engine = sa.create_engine("sqlite://")
        reporting.metadata.create_all(engine)
        with pytest.raises(Exception):
            with engine.begin() as conn:
                apply(conn)
