"""Issue 4 acceptance: a whole year for one commune through the registry and assessment gRPC APIs.

Units are registered in the REGISTRY and reach assessment's replica through NATS; the yearly
cycle then runs through the ASSESSMENT API: recognitions (one decision for many cases), the
commune's own recognition under the 70% rule, classifications, one reclassification and one
revocation, the history, the "as of" view, a rule-set change dated next year, and `antt verify`
on an untouched and on a tampered store.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import grpc
import pytest

from antt.assessment.v1 import assessment_service_pb2 as pb
from antt.assessment.v1 import assessment_service_pb2_grpc as pb_grpc
from antt.events.v1 import assessment_pb2 as events_pb
from antt.registry.v1 import registry_service_pb2_grpc as reg_grpc
from antt.runtime.nats_server import NatsServer
from antt.runtime.service import Roles, Service
from antt.settings import ServiceSettings
from antt.testing.auth import AuthKit
from services.assessment.main import RULES_VAR
from services.assessment.main import build as build_assessment
from services.assessment.rules import UnitType, load_catalogue
from services.registry.main import build as build_registry
from tests.unit.assessment.cycle_driver import Cycle, fails, tamper, verify, write_next_year_rules
from tests.unit.assessment.grpc_builders import COMMUNE, OPERATOR, decision, items, results

pytestmark = pytest.mark.e2e

YEAR = 2026
FAILED = grpc.StatusCode.FAILED_PRECONDITION


class Running:
    """Registry and assessment running in this process; assessment can be restarted."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.registry = build_registry(ServiceSettings.from_env("registry", env))
        self.assessment = build_assessment(ServiceSettings.from_env("assessment", env))

    async def start(self) -> None:
        """Start both services (no metrics endpoints)."""
        await self.registry.start(Roles(metrics=False))
        await self.assessment.start(Roles(metrics=False))

    async def restart_assessment(self) -> Service:
        """Stop assessment and start it again on the same store (settings read again)."""
        await self.assessment.stop()
        self.assessment = build_assessment(ServiceSettings.from_env("assessment", self.env))
        await self.assessment.start(Roles(metrics=False))
        return self.assessment

    async def stop(self) -> None:
        """Stop both."""
        await self.assessment.stop()
        await self.registry.stop()


@pytest.fixture
async def services(tmp_path: Path, nats_server: NatsServer, auth_kit: AuthKit) -> AsyncIterator[Running]:
    """Registry and assessment on one nats-server, each with its SQLite file in tmp_path."""
    running = Running({
        "ANTT_NATS_URL": nats_server.url, "ANTT_RELAY_POLL_INTERVAL": "0.05", "ANTT_DATA_DIR": str(tmp_path),
        "ANTT_REGISTRY_REFERENCE_TREE": "none", "ANTT_REGISTRY_GRPC_PORT": "0", "ANTT_ASSESSMENT_GRPC_PORT": "0",
        "ANTT_REGISTRY_DATABASE_URL": f"sqlite:///{tmp_path / 'registry.db'}",
        "ANTT_ASSESSMENT_DATABASE_URL": f"sqlite:///{tmp_path / 'assessment.db'}", **auth_kit.env})
    await running.start()
    yield running
    await running.stop()


async def test_a_whole_year_for_one_commune(auth_kit: AuthKit, services: Running, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    registry, assessment = services.registry, services.assessment
    rules = load_catalogue().for_year(YEAR)
    # Events record the token's subject: the operator's (nationwide, so every step of the year is in reach).
    operator = auth_kit.token("ministry_operator", "bo", subject=OPERATOR.id)
    async with auth_kit.aio_channel(f"127.0.0.1:{registry.grpc_port}", operator) as reg_ch, \
            auth_kit.aio_channel(f"127.0.0.1:{assessment.grpc_port}", operator) as ass_ch:
        api = pb_grpc.AssessmentServiceStub(ass_ch)
        cycle = Cycle(reg_grpc.RegistryServiceStub(reg_ch), api, rules, YEAR)
        # -- the registry knows the commune's units; eligibility comes from the registry's facts ------------
        ward = await cycle.register_unit("XA-00004", UnitType.XA_PHUONG)
        villages = [await cycle.register_unit(f"KDC-0{i}", UnitType.KHU_DAN_CU) for i in range(1, 5)]
        agency = await cycle.register_unit("CQ-01", UnitType.CO_QUAN)
        barracks = await cycle.register_unit("CQ-QS", UnitType.CO_QUAN, armed_forces=True)
        firm = await cycle.register_unit("DN-01", UnitType.DOANH_NGHIEP, size_class="vua",
                                         size_declared_on="2025-06-01")
        await cycle.register_unit("DN-02", UnitType.DOANH_NGHIEP, size_class="nho", size_declared_on="2025-06-01")
        school = await cycle.register_unit("TH-01", UnitType.CO_SO_GIAO_DUC, school_levels=["thcs", "thpt"])
        await cycle.register_unit("TH-02", UnitType.CO_SO_GIAO_DUC, school_levels=["tieu_hoc"])
        plant = await cycle.register_unit("DN-TINH", UnitType.DOANH_NGHIEP, managing_authority="01",
                                          size_class="lon", size_declared_on="2025-06-01")
        await cycle.replicated()
        assert (await api.CountReplicatedUnits(pb.CountReplicatedUnitsRequest())).units == 12
        assert (await api.GetReplicatedUnit(pb.GetReplicatedUnitRequest(unit_id=plant))).managed_by == "tinh"

        # -- registration: eligible units only, one case per unit and year ----------------------------------
        cases = {u: await cycle.open_case(u) for u in (ward, *villages, agency, firm, school, plant)}
        assert await fails(cycle.open_case(barracks)) == (FAILED, "UNIT_NOT_ELIGIBLE")
        assert await fails(cycle.open_case(agency)) == (FAILED, "SECOND_CASE_FOR_YEAR")

        # -- self-assessment, submission, appraisal (the school is first returned for completion) ----------
        firm_fails = next(r.criterion_id for r in cycle_results(cycle, firm) if r.HasField("met"))
        for unit in (*villages, agency, firm, school, plant):
            await cycle.self_assess(cases[unit], unit, frozenset({firm_fails}) if unit == firm else frozenset())
        returned = await cycle.appraise(cases[school], "Thiếu biên bản họp phụ huynh")
        assert (returned.state, returned.return_reason) == ("tu_danh_gia", "Thiếu biên bản họp phụ huynh")
        await cycle.self_assess(cases[school], school)
        for unit in (*villages, agency, firm, school, plant):
            assert (await cycle.appraise(cases[unit])).state == "da_tham_dinh"

        # -- one decision for many cases is atomic: an unmet criterion in one saves none --------------------
        xa_decision = decision("101/QĐ-UBND", date(YEAR, 11, 10))
        batch = {cases[v]: True for v in villages}
        assert await fails(cycle.decide({**batch, cases[firm]: True}, xa_decision)) == (FAILED, "UNMET_CRITERION")
        assert {await cycle.state(cases[v]) for v in villages} == {"da_tham_dinh"}
        decided = await cycle.decide(batch, xa_decision)
        assert [c.state for c in decided] == ["cong_nhan"] * 4 and {c.decision.number for c in decided} == {
            "101/QĐ-UBND"}

        # -- the ward itself: 100% registered but 4/7 recognised (57%) is not enough (TT124 Đ5 k4) ---------
        await cycle.self_assess(cases[ward], ward)
        await cycle.appraise(cases[ward])
        coverage = await api.GetCommuneCoverage(pb.GetCommuneCoverageRequest(commune_code=COMMUNE, year=YEAR))
        assert (coverage.coverage.managed, coverage.coverage.registered, coverage.coverage.recognised) == (7, 7, 4)
        tinh_decision = decision("57/QĐ-UBND", date(YEAR, 11, 19), tier="tinh")
        assert await fails(cycle.decide({cases[ward]: True}, tinh_decision)) == (FAILED, "COMMUNE_COVERAGE_NOT_MET")
        assert await fails(cycle.decide({cases[plant]: True}, xa_decision)) == (FAILED, "WRONG_AUTHORITY")
        await cycle.decide({cases[agency]: True, cases[firm]: False}, decision("102/QĐ-UBND", date(YEAR, 11, 12)))
        await cycle.decide({cases[school]: True}, decision("103/QĐ-UBND", date(YEAR, 11, 12)))
        await cycle.decide({cases[plant]: True}, decision("56/QĐ-UBND", date(YEAR, 11, 18), tier="tinh"))
        (ward_case,) = await cycle.decide({cases[ward]: True}, tinh_decision)   # 6/7 = 85.7%
        assert ward_case.state == "cong_nhan" and await cycle.state(cases[firm]) == "khong_cong_nhan"
        explained = await api.ExplainCase(pb.ExplainCaseRequest(case_id=cases[ward]))
        lines = {c.criterion_id: c for c in explained.criteria}
        assert explained.rule_set_id == rules.id and (explained.coverage.registered, explained.coverage.recognised) == (
            7, 6)
        assert lines["XA-4b"].met and lines["XA-4b"].threshold == "≥ 70 %" and round(lines["XA-4b"].value, 1) == 85.7
        firm_lines = (await api.ExplainCase(pb.ExplainCaseRequest(case_id=cases[firm]))).criteria
        assert [c.criterion_id for c in firm_lines if not c.met] == [firm_fails]

        # -- the ward is designated điển hình under the QĐ 9745 set for communes ------------------------------
        exemplary = await api.DesignateExemplary(pb.DesignateExemplaryRequest(
            unit_id=ward, year=YEAR, criteria_set_id="qd9745-xa", criteria_met=34,
            decision=decision("60/QĐ-UBND", date(YEAR, 12, 15), tier="tinh"), actor=OPERATOR))
        assert (exemplary.active, exemplary.criteria_count, exemplary.rule_set_id) == (True, 34, rules.id)
        assert await fails(api.DesignateExemplary(pb.DesignateExemplaryRequest(
            unit_id=ward, year=YEAR, criteria_set_id="qd9745-xa", criteria_met=34,
            decision=decision("61/QĐ-UBND", date(YEAR, 12, 15), tier="tinh"), actor=OPERATOR))) == (
            FAILED, "SECOND_CASE_FOR_YEAR")

        # -- classification, then one reclassification; "as of" before it shows the old level -------------
        village_c = await api.ProposeClassification(pb.ProposeClassificationRequest(
            unit_id=villages[0], year=YEAR, items=items(i1=40, i2=52), effective_date=f"{YEAR}-11-05", actor=OPERATOR))
        agency_c = await api.ProposeClassification(pb.ProposeClassificationRequest(
            unit_id=agency, year=YEAR, items=items(i1=3, i2=3, i3=5, i4=70), effective_date=f"{YEAR}-11-05",
            actor=OPERATOR))
        for c in (village_c, agency_c):
            await api.DecideClassification(pb.DecideClassificationRequest(
                classification_id=c.classification_id, decision=decision("130/QĐ-UBND", date(YEAR, 11, 18)),
                actor=OPERATOR))
        levels = {c.unit_code: c for c in [await api.GetClassification(pb.GetClassificationRequest(
            unit_id=u, year=YEAR)) for u in (villages[0], agency)]}
        assert (levels["KDC-01"].level, levels["CQ-01"].level) == ("xuat_sac", "kha")
        assert await fails(api.ProposeClassification(pb.ProposeClassificationRequest(
            unit_id=school, year=YEAR, items=items(i1=3, i4=101), actor=OPERATOR))) == (
            grpc.StatusCode.INVALID_ARGUMENT, "POINTS_OUTSIDE_SCALE")
        before_reclassification = (await api.GetHistory(pb.GetHistoryRequest(
            aggregate_id=village_c.classification_id))).events[-1].recorded_at
        reclassified = await api.Reclassify(pb.ReclassifyRequest(
            classification_id=village_c.classification_id, items=items(i1=30, i2=35), reason="Phát hiện vụ việc "
            "chưa báo cáo", decision=decision("140/QĐ-UBND", date(YEAR, 12, 5)), actor=OPERATOR))
        assert (reclassified.level, reclassified.award_eligible) == ("trung_binh", False)
        then = await api.GetClassification(pb.GetClassificationRequest(
            classification_id=village_c.classification_id, as_of=before_reclassification))
        assert (then.level, then.award_eligible, then.decision.number) == ("xuat_sac", True, "130/QĐ-UBND")

        # -- one revocation -----------------------------------------------------------------------------------
        revoked = await api.RevokeRecognition(pb.RevokeRecognitionRequest(
            case_id=cases[villages[3]], decision=decision("150/QĐ-UBND", date(YEAR, 12, 10)),
            reason="Che giấu vụ việc phức tạp về ANTT", actor=OPERATOR))
        assert revoked.state == "thu_hoi" and revoked.revocation.number == "150/QĐ-UBND"

        # -- every step is in the history ---------------------------------------------------------------------
        steps = (await api.GetHistory(pb.GetHistoryRequest(aggregate_id=cases[villages[3]]))).events
        assert [e.event_type for e in steps] == ["CaseRegistered", "SelfAssessmentRecorded", "CaseSubmitted",
                                                 "CaseAppraised", "CaseDecided", "RecognitionRevoked"]
        assert all(e.actor.id == OPERATOR.id and e.digest for e in steps)
        assert [e.prev_digest for e in steps[1:]] == [e.digest for e in steps[:-1]]
        school_steps = [e.event_type for e in (await api.GetHistory(pb.GetHistoryRequest(
            aggregate_id=cases[school]))).events]
        assert "CaseReturnedForCompletion" in school_steps and school_steps[-1] == "CaseDecided"
        classification_steps = (await api.GetHistory(pb.GetHistoryRequest(
            aggregate_id=village_c.classification_id))).events
        assert [e.event_type for e in classification_steps] == ["ClassificationProposed", "ClassificationDecided",
                                                                "Reclassified"]
        last = events_pb.Reclassified()
        assert classification_steps[-1].payload.Unpack(last)
        assert (last.previous_level, last.level, last.reason) == ("xuat_sac", "trung_binh",
                                                                  "Phát hiện vụ việc chưa báo cáo")
        recognised = await list_codes(api, "cong_nhan")
        assert recognised == ["CQ-01", "DN-TINH", "KDC-01", "KDC-02", "KDC-03", "TH-01", "XA-00004"]
        explanations_before = {c: (await api.ExplainCase(pb.ExplainCaseRequest(case_id=c))).SerializeToString()
                               for c in cases.values()}

        # -- a rule-set change dated next year leaves this year's decisions and explanations unchanged ---
        new_id = write_next_year_rules(tmp_path / "rules", rules.id, YEAR + 1, xuat_sac_min=95)
        monkeypatch.setenv(RULES_VAR, str(tmp_path / "rules"))
        assessment = await services.restart_assessment()  # the new catalogue is read at start
    async with auth_kit.aio_channel(f"127.0.0.1:{assessment.grpc_port}", operator) as ass_ch:
        api = pb_grpc.AssessmentServiceStub(ass_ch)
        after = {c: (await api.ExplainCase(pb.ExplainCaseRequest(case_id=c))).SerializeToString()
                 for c in cases.values()}
        assert after == explanations_before
        assert await list_codes(api, "cong_nhan") == recognised
        kept = await api.GetClassification(pb.GetClassificationRequest(unit_id=agency, year=YEAR))
        assert (kept.level, kept.rule_set_id) == ("kha", rules.id)
        next_case = await api.RegisterCase(pb.RegisterCaseRequest(
            unit_id=villages[0], year=YEAR + 1, dossier=list((await api.GetCase(pb.GetCaseRequest(
                case_id=cases[villages[0]]))).registration_dossier), effective_date=f"{YEAR + 1}-01-10",
            actor=OPERATOR))
        assert next_case.rule_set_id == new_id
        next_c = await api.ProposeClassification(pb.ProposeClassificationRequest(
            unit_id=villages[0], year=YEAR + 1, items=items(i1=40, i2=52), effective_date=f"{YEAR + 1}-11-05",
            actor=OPERATOR))
        assert (next_c.rule_set_id, next_c.proposed_level) == (new_id, "kha")   # 92 < 95 in the new set

    # -- `antt verify`: an untouched store verifies; one changed byte is named ---------------------------------
    database = tmp_path / "assessment.db"
    clean = verify(database, tmp_path)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    tamper(database, cases[villages[1]], 5, "101/Q".encode(), "109/Q".encode())
    broken = verify(database, tmp_path)
    assert broken.returncode == 1
    assert f"aggregate {cases[villages[1]]} version 5" in broken.stdout, broken.stdout + broken.stderr


def cycle_results(cycle: Cycle, unit_id: str) -> list[events_pb.AssessmentCriterionResult]:
    """The passing self-assessment of a unit (to pick a boolean criterion to fail)."""
    return results(cycle.rules, cycle.types[unit_id])


async def list_codes(api: pb_grpc.AssessmentServiceStub, state: str) -> list[str]:
    """Unit codes of the commune's cases in a state, read page by page (pages of 3)."""
    codes: list[str] = []
    token = ""
    while True:
        page = await api.ListCases(pb.ListCasesRequest(commune_code=COMMUNE, year=YEAR, state=state, page_size=3,
                                                       page_token=token))
        codes += [c.unit_code for c in page.cases]
        if not page.next_page_token:
            return codes
        token = page.next_page_token
