"""The reminder scan for one deadline across all units, through notifications' gRPC API.

The stack starts notifications with its scheduler clock at D-7 of the 31/03 deadlines of the
bench's year (`stack.REMINDER_CLOCK`), after its own first scan and before the units arrive, so
every registered unit owes a D-7 registration reminder when this stage runs. The units have no
e-mail or webhook, so the reminders are event-only (the NATS channel): claimed in bulk and recorded
as one stored chunk event per commune (published as RemindersSent), the scan's own cost without an
SMTP server's.
"""

from __future__ import annotations

import asyncio
import time

from antt.bench.results import Measurement, progress
from antt.bench.stack import REMINDER_CLOCK
from antt.bench.stages import BenchContext, stage
from antt.messaging.streams import stream_name
from antt.notifications.v1 import notifications_service_pb2 as pb
from antt.notifications.v1 import notifications_service_pb2_grpc as pb_grpc

TARGET_S = 5.0


def owing_the_scanned_deadline(units: list, year: int, due: str) -> int:  # type: ignore[type-arg]
    """Units whose registration deadline (per the calendars in force: reference data, like the rule
    catalogue) falls on `due` (ISO date): a commune with its own calendar (Bạch Long Vĩ: 31/01) is not
    reminded before the national 31/03."""
    from services.notifications.calendars import load_calendar_set

    calendars = load_calendar_set()
    by_commune: dict[tuple[str, str], bool] = {}
    count = 0
    for unit in units:
        where = (unit.province_code, unit.commune_code)
        if where not in by_commune:
            by_commune[where] = any(d.rule.id == "registration" and d.nominal.isoformat() == due
                                    for d in calendars.deadlines(*where, year))
        count += by_commune[where]
    return count
PREVIEW_PAGE = 5000  # sends per PreviewSends page (the service's maximum)


async def _caught_up(ctx: BenchContext, timeout: float) -> int:
    """Until notifications has applied every registry event (its unit replica is complete)."""
    deadline = time.perf_counter() + timeout
    while True:
        messages = await ctx.stack.stream_messages(stream_name("registry"))
        applied = await asyncio.to_thread(ctx.stack.applied, "notifications", "registry")
        if applied >= messages:
            return applied
        if time.perf_counter() > deadline:
            raise TimeoutError(f"notifications applied {applied}/{messages} registry events")
        await asyncio.sleep(0.25)


@stage("reminder_scan", requires=("antt.notifications.v1.NotificationsService/RunScan",
                                  "antt.notifications.v1.NotificationsService/PreviewSends"),
       title="reminder scan for one deadline over all units")
async def reminder_scan(ctx: BenchContext) -> list[Measurement]:
    """PreviewSends (read only, every page) then RunScan at D-7 of the registration deadline: seconds."""
    registered = ctx.state.get("registered", ctx.country.units)
    await _caught_up(ctx, timeout=max(300.0, len(registered) / 50))
    measured: list[Measurement] = []
    async with ctx.stack.channel("notifications") as channel:
        stub = pb_grpc.NotificationsServiceStub(channel)
        # PreviewSends pages (PREVIEW_PAGE sends each: far below gRPC's 4 MB default); every page is timed
        t0 = time.perf_counter()
        preview_sends, pages, token, claimed = 0, 0, "", 0
        while True:
            page = await stub.PreviewSends(pb.PreviewSendsRequest(date=REMINDER_CLOCK[:10], page_size=PREVIEW_PAGE,
                                                                  page_token=token), timeout=600)
            preview_sends, pages, claimed = preview_sends + len(page.sends), pages + 1, page.already_claimed
            token = page.next_page_token
            if not token:
                break
        seconds = round(time.perf_counter() - t0, 2)
        measured.append(Measurement("reminder preview for the same deadline (PreviewSends, read only)",
                                    value=seconds, unit="s", seconds=seconds, count=preview_sends,
                                    details={"already_claimed": claimed, "pages": pages, "page_size": PREVIEW_PAGE,
                                             "total": page.total}))
        progress(f"reminder scan: running the scan over {len(registered):,} units")
        t1 = time.perf_counter()
        scan = await stub.RunScan(pb.RunScanRequest(), timeout=1800)
        t2 = time.perf_counter()
    reminded = int(ctx.stack.rows("notifications", "SELECT count(DISTINCT unit_id) FROM notifications_deliveries_v2 "
                                                   "WHERE key LIKE '%registration%' AND unit_id != ''")[0][0])
    owing = owing_the_scanned_deadline(registered, int(REMINDER_CLOCK[:4]), f"{REMINDER_CLOCK[:4]}-03-31")
    checks = {"every due notice sent": int(scan.sent) == int(scan.due),
              "no send failed": scan.failed == 0,
              "every unit owing that deadline has its registration reminder": reminded == owing}
    checks["the scan sent what the preview listed"] = int(scan.sent) == preview_sends
    note = (f"clock {scan.at[:19]}; {scan.due:,} due, {scan.sent:,} sent (NATS channel: no contacts), "
            f"{reminded:,} units reminded of registration (of {owing:,} owing the 31/03 deadline; the rest follow "
            f"a local calendar); target < {TARGET_S:.0f} s")
    measured.insert(0, Measurement("reminder scan for one deadline over all units (RunScan)", value=round(t2 - t1, 2),
                                   unit="s", seconds=round(t2 - t1, 2), count=int(scan.sent),
                                   errors=int(scan.failed), checks=checks,
                                   details={"due": scan.due, "skipped": scan.skipped, "at": scan.at,
                                            "units_reminded": reminded},
                                   note=note))
    return measured
