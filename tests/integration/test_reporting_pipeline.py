"""A year for two provinces through the real registry (relay) and published assessment events, on a real
nats-server, applied by reporting's real durable consumers; then the acceptance checks of issue 5.

Assessment events are real antt.events.v1 protobuf payloads published with the kernel envelope
(headers_for, subjects.for_event): the path the assessment relay takes.
"""

from __future__ import annotations

import asyncio
import io
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import nats
import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from antt.auth import client
from antt.actor import SYSTEM
from antt.contracts import envelope
from antt.eventstore.persistence import create_engine
from antt.messaging.streams import ensure_streams, stream_name
from antt.messaging.tracking import tracking
from antt.relay.outbox import OutboxRelay
from antt.reporting.v1 import reporting_service_pb2 as pb
from antt.reporting.v1 import reporting_service_pb2_grpc as pb_grpc
from antt.runtime.nats_server import NatsServer
from antt.runtime.service import Roles
from antt.settings import ServiceSettings
from services.registry.application import Registry
from services.registry.domain.facts import EligibilityFacts, SchoolLevel, SizeClass
from services.registry.published import RegistryPublisher
from services.reporting import gaps, main, replay
from services.reporting.projections import unit_history
from tests.unit.reporting.builders import Stream, World

pytestmark = pytest.mark.integration

Y = 2025
HN, HP = "01", "31"
# code, type, province, commune, registered, decided (None/True/False), level
PLAN = [
    ("HN-1", "khu_dan_cu", HN, "00004", True, True, "xuat_sac"),
    ("HN-2", "khu_dan_cu", HN, "00004", True, True, "kha"),
    ("HN-3", "co_quan", HN, "00004", True, False, "trung_binh"),
    ("HN-4", "khu_dan_cu", HN, "00008", True, True, "kha"),
    ("HN-5", "doanh_nghiep", HN, "00008", False, None, ""),
    ("HP-1", "khu_dan_cu", HP, "11560", True, True, "kha"),
    ("HP-2", "co_so_giao_duc", HP, "11560", True, True, "yeu"),
    ("HP-3", "khu_dan_cu", HP, "11557", True, True, "xuat_sac"),
    ("HP-4", "khu_dan_cu", HP, "11557", True, None, ""),
]
MOVED = ("HN-M", "khu_dan_cu", HN, "00004", "00008")  # moved 00004 -> 00008 on 01/6
CLOSED = ("HP-C", "doanh_nghiep", HP, "11560")          # closed 01/8, registered, never decided


def now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Pipeline:
    """Registry (store + relay), the assessment stream, reporting (consumers + gRPC) around one nats-server."""

    tmp: Path
    nats_url: str
    nc: Any
    registry: Registry
    registry_url: str
    reporting_url: str
    assessment: Stream
    world: World
    ids: dict[str, str]
    service: Any = None
    channel: Any = None

    @property
    def stub(self) -> pb_grpc.ReportingServiceStub:
        return pb_grpc.ReportingServiceStub(self.channel)

    async def relay_registry(self) -> None:
        await OutboxRelay("registry", self.registry, RegistryPublisher(self.registry).to_message,
                          create_engine(self.registry_url), self.nc).run_once()

    async def publish_assessment(self, events: list[Any]) -> None:
        js = self.nc.jetstream()
        for e in events:
            await js.publish(str(e.subject), e.payload.SerializeToString(), headers=envelope.headers_for(e.envelope),
                             stream=stream_name("assessment"))

    async def start_reporting(self) -> None:
        env = {"ANTT_NATS_URL": self.nats_url, "ANTT_REPORTING_DATABASE_URL": self.reporting_url,
               "ANTT_REPORTING_GRPC_PORT": "0", "ANTT_DATA_DIR": str(self.tmp), "ANTT_CONSUMER_BATCH": "50"}
        self.service = main.build(ServiceSettings.from_env("reporting", env))
        await self.service.start(Roles(relay=False, metrics=False))
        # a service token signed with the development key the service made under ANTT_DATA_DIR
        self.channel = client.aio_channel(f"127.0.0.1:{self.service.grpc_port}", client.client_token(env))

    async def stop_reporting(self) -> None:
        await self.channel.close()
        await self.service.stop()

    async def applied(self, source: str) -> int:
        engine = create_engine(self.reporting_url)
        try:
            with engine.connect() as conn:
                return int(conn.execute(sa.select(sa.func.count()).select_from(tracking)
                                        .where(tracking.c.source == source)).scalar() or 0)
        except sa.exc.DBAPIError:  # tables not created yet
            return 0
        finally:
            engine.dispose()

    async def settle(self) -> None:
        """Wait until reporting has applied every message of both streams."""
        js = self.nc.jetstream()
        want = {s: (await js.stream_info(stream_name(s))).state.messages for s in ("registry", "assessment")}
        for source, count in want.items():
            await _wait_count(self, source, count)


async def _wait_count(p: Pipeline, source: str, count: int) -> None:
    for _ in range(600):
        if await p.applied(source) >= count:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"reporting did not apply {count} {source} events")


def facts(kind: str) -> EligibilityFacts | None:
    """Declared facts that put enterprises and schools in scope (medium enterprise, upper-secondary school)."""
    if kind == "doanh_nghiep":
        return EligibilityFacts(size_class=SizeClass.VUA, size_declared_on=date(2019, 1, 1))
    if kind == "co_so_giao_duc":
        return EligibilityFacts(school_levels=frozenset({SchoolLevel.THPT}))
    return None


def drive_year(p: Pipeline) -> None:
    """Units in the registry; the year's cases and classifications as assessment events."""
    w = p.world
    p.registry.register_unit("HN-SMALL", "Doanh nghiệp nhỏ", "doanh_nghiep", HN, "00004", SYSTEM, date(2020, 1, 1),
                             facts=EligibilityFacts(size_class=SizeClass.NHO, size_declared_on=date(2019, 1, 1)))
    for code, kind, prov, commune, *_ in PLAN:
        unit = p.registry.register_unit(code, f"Đơn vị {code}", kind, prov, commune, SYSTEM, date(2020, 1, 1),
                                        facts=facts(kind))
        p.ids[code] = str(unit.id)
    code, kind, prov, old, new = MOVED
    p.ids[code] = str(p.registry.register_unit(code, "Thôn chuyển", kind, prov, old, SYSTEM, date(2021, 1, 1)).id)
    p.registry.move_unit(p.registry.get_unit_by_code(code).id, prov, new, date(Y, 6, 1), SYSTEM)
    code, kind, prov, commune = CLOSED
    p.ids[code] = str(p.registry.register_unit(code, "Doanh nghiệp giải thể", kind, prov, commune, SYSTEM,
                                               date(2019, 1, 1), facts=facts(kind)).id)
    p.registry.close_unit(p.registry.get_unit_by_code(code).id, "dissolved", date(Y, 8, 1), SYSTEM)
    p.registry.register_unit("HN-OLD", "Thôn mới năm sau", "khu_dan_cu", HN, "00004", SYSTEM, date(Y + 1, 1, 5))
    recorded = now().isoformat()
    for code, kind, prov, commune, registered, decided, level in PLAN:
        uid, where = p.ids[code], (prov, commune)
        w.types[uid] = kind
        if registered:
            w.register(uid, Y, where, date(Y, 1, 20), late=code == "HN-2", recorded=recorded)
        if decided is not None:
            w.decide(uid, Y, where, decided, date(Y, 11, 14), late=code == "HP-1", recorded=recorded)
        if level:
            w.classify(uid, Y, where, level, date(Y, 11, 25), recorded=recorded)
    moved = p.ids[MOVED[0]]
    w.register(moved, Y, (HN, "00004"), date(Y, 1, 10), recorded=recorded)
    w.decide(moved, Y, (HN, "00008"), True, date(Y, 11, 10), recorded=recorded)
    w.classify(moved, Y, (HN, "00008"), "kha", date(Y, 11, 20), recorded=recorded)
    w.register(p.ids[CLOSED[0]], Y, (HP, "11560"), date(Y, 1, 12), recorded=recorded)


def independent(select: Any) -> dict[str, Any]:
    """The expected figures, counted from the plan without reporting's code."""
    rows = [(p, c, reg, dec, lvl) for _, _, p, c, reg, dec, lvl in PLAN]
    rows += [(HN, "00008", True, True, "kha"), (HP, "11560", True, None, "")]  # moved, closed
    chosen = [r for r in rows if select(r[0], r[1])]
    levels = {lv: sum(1 for r in chosen if r[4] == lv) for lv in ("kha", "trung_binh", "xuat_sac", "yeu")}
    return {"in_scope": len(chosen), "registered": sum(r[2] for r in chosen),
            "decided": sum(r[3] is not None for r in chosen), "recognised": sum(r[3] is True for r in chosen),
            "not_recognised": sum(r[3] is False for r in chosen), "classified": sum(levels.values()),
            "levels": levels}


def figures(f: pb.Figures) -> dict[str, Any]:
    return {"in_scope": f.in_scope, "registered": f.registered, "decided": f.decided, "recognised": f.recognised,
            "not_recognised": f.not_recognised, "classified": f.classified,
            "levels": {k: f.levels.get(k, 0) for k in ("kha", "trung_binh", "xuat_sac", "yeu")}}


@pytest.fixture
async def pipeline(tmp_path: Path, nats_server: NatsServer, monkeypatch: pytest.MonkeyPatch,
                   database_urls: dict[str, str]) -> AsyncIterator[Pipeline]:
    monkeypatch.setenv("ANTT_DATA_DIR", str(tmp_path))  # development token keys go here, not ./var
    nc = await nats.connect(nats_server.url)
    await ensure_streams(nc.jetstream())
    registry_url = f"sqlite:///{tmp_path / 'registry.db'}"
    world = World()
    p = Pipeline(tmp_path, nats_server.url, nc, Registry(registry_url), registry_url,
                 database_urls["reporting"], world.assessment, world, {})  # SQLite file or PostgreSQL
    drive_year(p)
    await p.relay_registry()
    await p.publish_assessment(world.assessment.events)
    await p.start_reporting()
    await p.settle()
    yield p
    await p.stop_reporting()
    await nc.close()


def query(scope: str, as_of: str = "", boundary: str = "then") -> pb.ReportQuery:
    return pb.ReportQuery(year=Y, scope=scope, as_of=as_of, boundary=boundary)


async def test_rollups_match_an_independent_count_per_commune_province_and_nationally(pipeline: Pipeline) -> None:
    stub = pipeline.stub
    national = (await stub.GetRollup(pb.GetRollupRequest(query=query("national")))).rollup
    assert figures(national.area.total) == independent(lambda p, c: True)
    assert [s.code for s in national.sub_areas] == sorted(
        [HN, HP], key=lambda code: -national.sub_areas[[s.code for s in national.sub_areas].index(code)]
        .total.pct_recognised)
    for province, communes in ((HN, ("00004", "00008")), (HP, ("11560", "11557"))):
        rollup = (await stub.GetRollup(pb.GetRollupRequest(query=query(f"province:{province}")))).rollup
        assert figures(rollup.area.total) == independent(lambda p, c: p == province)
        ranked = (await stub.ListSubAreas(pb.ListSubAreasRequest(query=query(f"province:{province}")))).sub_areas
        assert sorted(s.code for s in ranked) == sorted(communes)
        rates = [s.total.pct_recognised for s in ranked]
        assert rates == sorted(rates, reverse=True)
        for commune in communes:
            direct = (await stub.GetRollup(pb.GetRollupRequest(query=query(f"commune:{commune}")))).rollup
            assert figures(direct.area.total) == independent(lambda p, c: c == commune)
    # the moved unit counts once, in 00008; the closed one once, in 11560; the unit opened in 2026 and the
    # small enterprise (out of scope) not at all
    assert national.area.total.in_scope == len(PLAN) + 2
    for rollup in [national, *[(await stub.GetRollup(pb.GetRollupRequest(query=query(f"province:{p}")))).rollup
                               for p in (HN, HP)]]:
        for area in [rollup.area, *rollup.sub_areas]:
            for rate in ("pct_recognised", "pct_kha_or_above", "completeness_pct", "registration_timeliness_pct",
                         "decision_timeliness_pct"):
                assert not area.total.HasField(rate) or 0 <= getattr(area.total, rate) <= 100
    assert national.area.total.registered_on_time == national.area.total.registered - 1
    assert national.recognition_target == "≥ 70%" and national.kha_or_above_target == "> 75%"
    award = {a.unit_code for a in national.award_eligible}
    assert award == {"HN-1", "HN-2", "HN-4", "HP-1", "HP-3", "HN-M"}


async def test_replay_as_of_the_day_before_a_reclassification_reproduces_the_earlier_report(
        pipeline: Pipeline) -> None:
    stub = pipeline.stub
    before = (await stub.GetRollup(pb.GetRollupRequest(query=query(f"province:{HN}")))).rollup
    day_d = now() + timedelta(days=2)
    w = World(assessment=pipeline.assessment, types=pipeline.world.types)
    w.reclassify(pipeline.ids["HN-2"], Y, (HN, "00004"), "trung_binh", "kha", date(Y, 12, 10),
                 recorded=day_d.isoformat())
    await pipeline.publish_assessment(w.assessment.events[-1:])
    await pipeline.settle()
    live = (await stub.GetRollup(pb.GetRollupRequest(query=query(f"province:{HN}")))).rollup
    assert live.digest != before.digest
    assert live.area.total.levels["trung_binh"] == before.area.total.levels["trung_binh"] + 1
    as_of = (day_d - timedelta(days=1)).astimezone(datetime.now().astimezone().tzinfo).isoformat()
    replayed = await stub.ReplayReport(pb.ReplayReportRequest(query=query(f"province:{HN}", as_of)))
    assert replayed.digest == before.digest and replayed.rollup == before
    via_rollup = (await stub.GetRollup(pb.GetRollupRequest(query=query(f"province:{HN}", as_of)))).rollup
    assert via_rollup.digest == before.digest
    effective = await stub.ReplayReport(pb.ReplayReportRequest(query=query(f"province:{HN}")))
    assert effective.digest == live.digest
    # the command line prints the same digest
    env = {**os.environ, "ANTT_NATS_URL": pipeline.nats_url, "ANTT_DATA_DIR": str(pipeline.tmp)}
    out = await asyncio.to_thread(subprocess.run, [sys.executable, "-m", "antt.cli", "report", "replay", "--year",
                                                   str(Y), "--as-of", as_of, "--scope", f"province:{HN}"],
                                  capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert f"digest sha256: {before.digest}" in out.stdout


async def test_scoped_replays_read_only_their_provinces_and_equal_the_live_rollups_across_a_province_move(
        pipeline: Pipeline) -> None:
    stub = pipeline.stub
    # before any move between them, a province's replay does not read the other province's events
    whole = await stub.ReplayReport(pb.ReplayReportRequest(query=query("national")))
    hp = await stub.ReplayReport(pb.ReplayReportRequest(query=query(f"province:{HP}")))
    assert hp.events["registry"] < whole.events["registry"] and hp.events["assessment"] < whole.events["assessment"]
    # HP-1 moves to Hà Nội in December: both provinces' replays must place it as the live rollups do
    pipeline.registry.move_unit(pipeline.registry.get_unit_by_code("HP-1").id, HN, "00008", date(Y, 12, 1), SYSTEM)
    await pipeline.relay_registry()
    await pipeline.settle()
    for boundary in ("then", "today"):
        for scope in (f"province:{HN}", f"province:{HP}", "commune:00008", "commune:11560", "national"):
            live = (await stub.GetRollup(pb.GetRollupRequest(query=query(scope, boundary=boundary)))).rollup
            replayed = await stub.ReplayReport(pb.ReplayReportRequest(query=query(scope, boundary=boundary)))
            assert replayed.digest == live.digest and replayed.rollup == live, (scope, boundary)
    hn = (await stub.GetRollup(pb.GetRollupRequest(query=query(f"province:{HN}")))).rollup
    assert "HP-1" in {a.unit_code for a in hn.award_eligible}  # the move is counted where the unit ended the year


async def test_drop_and_rebuild_gives_an_identical_checksum_and_the_gap_check_finds_a_deleted_row(
        pipeline: Pipeline) -> None:
    engine = create_engine(pipeline.reporting_url)
    report = (await pipeline.stub.GetRollup(pb.GetRollupRequest(query=query("national")))).rollup
    await pipeline.stop_reporting()  # no consumer writes while we rebuild
    live = replay.checksum(engine)
    assert (await gaps.check(engine, pipeline.nats_url)).ok
    counts = await replay.rebuild(engine, pipeline.nats_url)
    assert counts["registry"] > 0 and counts["assessment"] > 0
    assert replay.checksum(engine) == live
    scratch = replay.build_store(await replay.read_streams(pipeline.nats_url))
    assert replay.checksum(scratch) == live
    replay.discard(scratch)
    with engine.begin() as conn:
        history = unit_history.unit_history
        victim = conn.execute(sa.select(history).where(history.c.change == "moved")).one()
        conn.execute(history.delete().where(history.c.unit_id == victim.unit_id,
                                            history.c.version == victim.version))
        conn.execute(tracking.delete().where(tracking.c.consumer == "reporting-from-assessment",
                                             tracking.c.position == 1))
    found = await gaps.check(engine, pipeline.nats_url)
    assert not found.ok
    assert [r[0] for r in found.missing_rows["reporting_unit_history"]] == [victim.unit_id]
    assert "reporting_unit_history" not in found.unexpected_rows
    assert found.unapplied_positions == {"assessment": [1]}
    assert any("reporting_unit_history" in line for line in found.lines())
    await pipeline.start_reporting()
    after = (await pipeline.stub.GetRollup(pb.GetRollupRequest(query=query("national")))).rollup
    assert after.area.total.in_scope == report.area.total.in_scope  # the move is lost, not the unit
    engine.dispose()


async def test_exports_have_the_apis_totals_and_one_pdf_page_per_sub_area(pipeline: Pipeline) -> None:
    stub = pipeline.stub
    rollup = (await stub.GetRollup(pb.GetRollupRequest(query=query("national")))).rollup
    xlsx = await stub.ExportReport(pb.ExportReportRequest(query=query("national"), format="xlsx"))
    assert xlsx.filename == f"bao-cao-{Y}-national.xlsx" and xlsx.digest == rollup.digest
    sheet = load_workbook(io.BytesIO(xlsx.content))["Tổng hợp"]
    rows = list(sheet.iter_rows(min_row=3, values_only=True))
    total = rows[-1]
    t = rollup.area.total
    assert (total[2], total[3], total[7], total[8], total[10]) == (
        t.in_scope, t.registered, t.recognised, t.not_recognised, round(t.pct_recognised, 2))
    assert [r[0] for r in rows[:-1]] == [s.code for s in rollup.sub_areas]
    for r, s in zip(rows[:-1], rollup.sub_areas, strict=True):
        assert (r[2], r[7]) == (s.total.in_scope, s.total.recognised)
    pdf = await stub.ExportReport(pb.ExportReportRequest(query=query(f"province:{HN}"), format="pdf"))
    pages = re.findall(rb"/Type /Page\b(?!s)", pdf.content)
    assert len(pages) == 1 + 2  # summary + communes 00004 and 00008
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.ExportReport(pb.ExportReportRequest(query=query("national"), format="docx"))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.GetRollup(pb.GetRollupRequest(query=query("district:001")))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "Phạm vi" in err.value.details()


async def test_reports_are_scoped_by_the_callers_jurisdiction(pipeline: Pipeline) -> None:
    from antt.auth.config import AuthConfig
    from antt.auth.tokens import issue

    keyring = AuthConfig.from_env().keyring()  # the development keyring under this test's ANTT_DATA_DIR
    token = issue(keyring, "u:cat-31", "province_operator", "tinh", "31")
    auth = (("authorization", f"Bearer {token}"),)
    stub = pipeline.stub
    own = await stub.GetRollup(pb.GetRollupRequest(query=query(f"province:{HP}")), metadata=auth)
    assert own.rollup.area.total.in_scope == independent(lambda p, c: p == HP)["in_scope"]
    mine = await stub.GetRollup(pb.GetRollupRequest(query=query("commune:11560")), metadata=auth)
    assert mine.rollup.area.code == "11560"
    for scope in (f"province:{HN}", "commune:00004", "national"):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.GetRollup(pb.GetRollupRequest(query=query(scope)), metadata=auth)
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.CheckGaps(pb.CheckGapsRequest(), metadata=auth)
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
