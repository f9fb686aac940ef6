"""SubmitCase carrying its self-assessment, over real gRPC: the same history as the two commands, errors alike."""

from __future__ import annotations

import grpc
import pytest

from antt.assessment.v1 import assessment_service_pb2 as pb
from services.assessment.rules import UnitType
from tests.integration.test_assessment_grpc import RULES, YEAR, Stack, failure, register_unit, stack  # noqa: F401
from tests.unit.assessment.grpc_builders import OPERATOR, evidence, results

pytestmark = pytest.mark.integration


async def registered(s: Stack, code: str) -> str:
    unit = await register_unit(s, code, "khu_dan_cu")
    case = await s.assessment.RegisterCase(pb.RegisterCaseRequest(
        unit_id=unit, year=YEAR, dossier=[evidence("REG-FORM", code)], effective_date=f"{YEAR}-01-15",
        actor=OPERATOR))
    return str(case.case_id)


async def test_one_submission_with_its_self_assessment_writes_the_two_events(stack: Stack) -> None:  # noqa: F811
    one, two = await registered(stack, "KDC-MOT-LAN"), await registered(stack, "KDC-HAI-LAN")
    full = results(RULES, UnitType.KHU_DAN_CU)
    combined = pb.SubmitCaseRequest(case_id=one, dossier=[evidence("REC-REQUEST", "dn")], effective_date=f"{YEAR}-10-05",
                                    actor=OPERATOR, self_assessment_results=full[1:],
                                    self_assessment_documents=[evidence("BIEN-BAN", "bb")],
                                    self_assessed_on=f"{YEAR}-10-01")
    # a self-assessment that lacks a criterion is refused as SubmitCase refuses it, and nothing is written
    assert await failure(stack.assessment.SubmitCase(combined)) == (grpc.StatusCode.INVALID_ARGUMENT,
                                                                    "SELF_ASSESSMENT_INCOMPLETE")
    del combined.self_assessment_results[:]
    code, _ = await failure(stack.assessment.SubmitCase(combined))  # documents without results
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert (await stack.assessment.GetCase(pb.GetCaseRequest(case_id=one))).state == "dang_ky"
    combined.self_assessment_results.extend(full)
    got = await stack.assessment.SubmitCase(combined)
    await stack.assessment.RecordSelfAssessment(pb.RecordSelfAssessmentRequest(
        case_id=two, results=full, documents=[evidence("BIEN-BAN", "bb")], effective_date=f"{YEAR}-10-01",
        actor=OPERATOR))
    want = await stack.assessment.SubmitCase(pb.SubmitCaseRequest(
        case_id=two, dossier=[evidence("REC-REQUEST", "dn")], effective_date=f"{YEAR}-10-05", actor=OPERATOR))
    assert (got.state, got.version, got.assessment_digest) == (want.state, want.version, want.assessment_digest)
    assert list(got.results) == list(want.results) and list(got.documents) == list(want.documents)
    histories = [await stack.assessment.GetHistory(pb.GetHistoryRequest(aggregate_id=c)) for c in (one, two)]
    steps = [[(e.event_type, e.effective_date) for e in h.events] for h in histories]
    assert steps[0] == steps[1] and [d for _, d in steps[0]] == [f"{YEAR}-01-15", f"{YEAR}-10-01", f"{YEAR}-10-05"]
