"""A scoped replay's stream reads (decoded batch by batch as they arrive) equal the plain read-then-decode path."""

from __future__ import annotations

from datetime import date

import nats
import pytest

from antt.contracts import envelope, subjects
from antt.messaging.streams import ensure_streams, stream_name
from antt.runtime.nats_server import NatsServer
from services.reporting import queries, replay
from tests.unit.reporting.builders import World
from tests.unit.reporting.test_rollups import HN, HP, Y, build

pytestmark = pytest.mark.integration

LATER = "2026-12-20T09:00:00+07:00"


def world() -> World:
    """The rollup tests' world, plus a reclassification recorded after the others (cut by an "as of")."""
    w = World()
    build(w)
    w.reclassify("a1", Y, (HN, "00004"), "trung_binh", "xuat_sac", date(Y, 12, 10), recorded=LATER)
    return w


async def publish(url: str, w: World) -> dict[str, int]:
    """Publish both streams as the relay would (one message a source cannot read among them); their last seqs."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        await ensure_streams(js)
        for stream in (w.registry, w.assessment):
            for i, event in enumerate(stream.events):
                await js.publish(str(event.subject), event.payload.SerializeToString(),
                                 headers=envelope.headers_for(event.envelope))
                if i == 3:  # an event type this version does not know, on a subject every filter here reads
                    bad = envelope.new(stream.service, 10_000, f"antt.{stream.service}.v1.FutureThing", LATER, "x")
                    await js.publish(subjects.for_event(stream.service, "AreaCreated", HN), b"\x00",
                                     headers=envelope.headers_for(bad))
        return {s: (await js.stream_info(stream_name(s))).state.last_seq for s in ("registry", "assessment")}
    finally:
        await nc.close()


FILTERS = {
    "registry": [[subjects.filter_for("registry", "*", p) for p in (HN, subjects.NO_AREA)],
                 [subjects.filter_for("registry", "*", p) for p in (HN, HP, subjects.NO_AREA)],
                 [subjects.filter_for("registry", t) for t in (*replay.AREA_EVENTS, "UnitMoved")],
                 [subjects.filter_for("registry", "*", HP)]],
    "assessment": [[subjects.filter_for("assessment", "*", p) for p in (HN, subjects.NO_AREA)],
                   [subjects.filter_for("assessment", "*", p) for p in (HP, HN)],
                   [subjects.filter_for("assessment", "*", "99")]],
}


async def test_reads_decoded_on_arrival_equal_the_reference_read(nats_server: NatsServer) -> None:
    w = world()
    last = await publish(nats_server.url, w)
    nc = await nats.connect(nats_server.url)
    try:
        for as_of in (None, replay.parse_as_of("2026-11-19T09:00:00+07:00"), replay.parse_as_of(LATER)):
            for source, filter_sets in FILTERS.items():
                for filters in filter_sets:
                    for upto in (last[source], last[source] // 2):
                        fast = await replay._read(nc, source, filters, as_of, upto)
                        reference = await replay._read_reference(nc, source, filters, as_of, upto)
                        assert fast == reference, (source, filters, as_of, upto)
        # the cases above are not vacuous: several filters merged, an "as of" that cuts, an end before the last
        full = await replay._read(nc, "registry", FILTERS["registry"][1], None, last["registry"])
        assert {e.subject.province_code for e in full} >= {HN, HP}
        positions = [e.envelope.position for e in full]
        assert positions == sorted(positions)
        cut = await replay._read(nc, "assessment", FILTERS["assessment"][0], replay.parse_as_of(LATER), 10**9)
        assert len(await replay._read(nc, "assessment", FILTERS["assessment"][0], None, 10**9)) == len(cut)
        assert len(await replay._read(nc, "assessment", FILTERS["assessment"][0],
                                      replay.parse_as_of("2026-11-19T09:00:00+07:00"), 10**9)) < len(cut)
    finally:
        await nc.close()


@pytest.mark.parametrize("scope", [f"province:{HN}", f"province:{HP}", "commune:00004"])
async def test_a_scoped_replay_equals_the_report_of_a_store_built_from_every_event(nats_server: NatsServer,
                                                                                    scope: str) -> None:
    w = world()
    await publish(nats_server.url, w)
    as_of = "2026-11-19T09:00:00+07:00"
    replayed = await replay.replay(nats_server.url, Y, scope, as_of=as_of)
    streams = {"registry": w.registry.events, "assessment": w.assessment.events}
    store = replay.build_store(streams, replay.parse_as_of(as_of), memory=True)
    try:
        with store.connect() as conn:
            expected = queries.report(conn, Y, scope, "then", date(2026, 11, 19))
        assert replayed.digest == expected.digest()
        assert replayed.report.area.total.decided > 0  # the scope has figures to compare
        assert sum(replayed.events.values()) < len(w.registry.events) + len(w.assessment.events)  # a scoped read
    finally:
        replay.discard(store)
