"""A year for two provinces through the real registry and the real assessment service, as processes:
`antt relay registry`, `antt serve assessment` (its registry replica + its relay), `antt serve reporting`.

The test writes commands straight into the registry and assessment stores (their applications, as the
gRPC servicers would), and reads reporting only through its gRPC API and `antt report replay`.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from uuid import UUID

import grpc
import pytest

from antt.actor import SYSTEM
from antt.eventstore.persistence import create_engine
from antt.reporting.v1 import reporting_service_pb2 as pb
from antt.reporting.v1 import reporting_service_pb2_grpc as pb_grpc
from antt.runtime.nats_server import NatsServer
from antt.testing.auth import service_channel
from antt.testing.processes import ServiceProcess, service_env
from antt.testing.wait import wait_until
from services.assessment.application import Assessments
from services.assessment.domain.states import Outcome
from services.assessment.main import rule_catalogue
from services.assessment.unit_directory import ReplicaUnitDirectory
from services.registry.application import Registry
from tests.unit.assessment.builders import decision, evidence, passing_results, xa_authority

pytestmark = pytest.mark.e2e

Y = 2025
# code, type, province, commune, recognised (None: registered, not decided), classification items
PLAN: list[tuple[str, str, str, str, bool | None, dict[str, float] | None]] = [
    ("E-HN-1", "khu_dan_cu", "01", "00004", True, {"1": 40, "2": 35, "3": 17}),
    ("E-HN-2", "khu_dan_cu", "01", "00004", True, {"1": 40, "2": 35}),
    ("E-HN-3", "co_quan", "01", "00008", False, None),
    ("E-HP-1", "khu_dan_cu", "31", "11560", True, {"1": 40, "2": 35}),
    ("E-HP-2", "khu_dan_cu", "31", "11557", None, None),
]


@dataclass
class Stack:
    """The processes and the two applications the test drives."""

    env: dict[str, str]
    registry: Registry
    assessments: Assessments
    units: ReplicaUnitDirectory
    stub: pb_grpc.ReportingServiceStub
    channel: grpc.Channel
    processes: list[ServiceProcess]


@pytest.fixture
def stack(tmp_path: Path, nats_server: NatsServer) -> Iterator[Stack]:
    urls = {s: f"sqlite:///{tmp_path / f'{s}.db'}" for s in ("registry", "assessment", "reporting")}
    env = service_env(tmp_path, nats_server.url, ANTT_REGISTRY_DATABASE_URL=urls["registry"],
                      ANTT_ASSESSMENT_DATABASE_URL=urls["assessment"], ANTT_REPORTING_DATABASE_URL=urls["reporting"])
    registry = Registry(urls["registry"])
    units = ReplicaUnitDirectory(create_engine(urls["assessment"]))
    assessments = Assessments(urls["assessment"], rules=rule_catalogue(env), units=units)
    processes = [ServiceProcess(["relay", "registry"], env, tmp_path / "registry-relay.log").start(),
                 ServiceProcess(["serve", "assessment", "--no-grpc", "--no-metrics"], env,
                                tmp_path / "assessment.log").start(),
                 ServiceProcess(["serve", "reporting", "--no-metrics"], env, tmp_path / "reporting.log").start()]
    channel = service_channel(env, f"127.0.0.1:{env['ANTT_REPORTING_GRPC_PORT']}")
    yield Stack(env, registry, assessments, units, pb_grpc.ReportingServiceStub(channel), channel, processes)
    channel.close()
    for p in processes:
        p.stop()


def rollup(stack: Stack, scope: str, as_of: str = "") -> pb.Rollup:
    return stack.stub.GetRollup(pb.GetRollupRequest(query=pb.ReportQuery(year=Y, scope=scope, as_of=as_of))).rollup


def served(stack: Stack) -> bool:
    try:
        rollup(stack, "national")
        return True
    except grpc.RpcError:
        return False


def drive(stack: Stack) -> dict[str, UUID]:
    """Units in the registry; once assessment's replica has them, the year's cases and classifications."""
    ids: dict[str, UUID] = {}
    for code, kind, province, commune, *_ in PLAN:
        ids[code] = stack.registry.register_unit(code, f"Đơn vị {code}", kind, province, commune, SYSTEM,
                                                 date(2020, 1, 1)).id
    wait_until(lambda: all(stack.units.get(i) is not None for i in ids.values()), timeout=60,
               message="assessment's replica has the units")
    a = stack.assessments
    for code, _, _, commune, recognised, items in PLAN:
        unit = stack.units.get(ids[code])
        assert unit is not None
        case = a.register_case(ids[code], Y, [evidence("REG-FORM")], SYSTEM, date(Y, 1, 15))
        if recognised is None:
            continue
        rules = a.rules.get(case.rule_set_id)
        a.record_self_assessment(case.id, passing_results(rules, unit), SYSTEM, date(Y, 10, 1))
        a.submit(case.id, [evidence("REC-REQUEST")], SYSTEM, date(Y, 10, 5))
        a.appraise(case.id, [], SYSTEM, date(Y, 10, 20))
        outcome = Outcome.DAT if recognised else Outcome.CHUA_DAT
        a.decide_many({case.id: outcome}, decision(xa_authority(commune), f"{code}/QĐ-UBND", date(Y, 11, 10)), SYSTEM)
        if items:
            c = a.propose_classification(ids[code], Y, items, SYSTEM, date(Y, 11, 12))
            a.classify(c.id, decision(xa_authority(commune), f"PL-{code}/QĐ", date(Y, 11, 18)), SYSTEM)
    return ids


def year_applied(stack: Stack) -> bool:
    """Whether reporting shows the whole year: the last event is E-HP-2's registration, after every classification."""
    t = rollup(stack, "national").area.total
    return (t.classified, t.registered) == (3, len(PLAN))


def test_a_year_through_registry_and_assessment_then_replay_before_a_reclassification(stack: Stack) -> None:
    ids = drive(stack)
    wait_until(lambda: served(stack) and year_applied(stack), timeout=90,
               message="reporting has the year's classifications and registrations")
    national = rollup(stack, "national")
    t = national.area.total
    # independent count from the plan
    assert t.in_scope == len(PLAN)
    assert t.registered == len(PLAN)
    assert t.recognised == sum(1 for p in PLAN if p[4] is True)
    assert t.not_recognised == sum(1 for p in PLAN if p[4] is False)
    assert sum(t.levels.values()) == t.classified == sum(1 for p in PLAN if p[5])
    assert {s.code: s.total.in_scope for s in national.sub_areas} == {"01": 3, "31": 2}
    hn = rollup(stack, "province:01")
    assert {s.code: (s.total.in_scope, s.total.recognised) for s in hn.sub_areas} == {
        "00004": (2, 2), "00008": (1, 0)}
    assert rollup(stack, "commune:11557").area.total.registered == 1
    # the figures as of now; then a reclassification recorded later
    time.sleep(1.1)
    before_time = datetime.now(UTC)
    time.sleep(1.1)
    a = stack.assessments
    from services.assessment.domain.classification import Classification

    c = a.get_classification(Classification.create_id(ids["E-HN-1"], Y))
    a.reclassify(c.id, {"1": 20, "2": 20}, "Phát hiện vụ việc chưa báo cáo",
                 decision(xa_authority("00004"), "RC-1/QĐ", date(Y, 12, 5)), SYSTEM)
    wait_until(lambda: rollup(stack, "province:01").digest != hn.digest, timeout=60,
               message="reporting applied the reclassification")
    live = rollup(stack, "province:01")
    assert live.area.total.levels["xuat_sac"] == hn.area.total.levels["xuat_sac"] - 1
    as_of = before_time.astimezone().isoformat()
    replayed = stack.stub.ReplayReport(pb.ReplayReportRequest(
        query=pb.ReportQuery(year=Y, scope="province:01", as_of=as_of)))
    assert replayed.digest == hn.digest and replayed.rollup == hn
    out = subprocess.run([sys.executable, "-m", "antt.cli", "report", "replay", "--year", str(Y), "--as-of", as_of,
                          "--scope", "province:01"], capture_output=True, text=True, env=stack.env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert f"digest sha256: {hn.digest}" in out.stdout
    gaps = stack.stub.CheckGaps(pb.CheckGapsRequest())
    assert gaps.ok, list(gaps.findings)
    assert gaps.events_in_stream["assessment"] == gaps.events_applied["assessment"] > 0


