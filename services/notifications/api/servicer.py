"""NotificationsService over gRPC: thin adapter over the queries and the scanner."""

from __future__ import annotations

import asyncio
import time
from datetime import date, datetime
from typing import Any

import grpc
from sqlalchemy.engine import Engine

from antt.auth.authz import requires
from antt.errors import InvalidArgumentError
from antt.grpcx.errors import map_domain_errors
from antt.grpcx.paging import page_size
from antt.notifications.v1 import notifications_service_pb2 as pb
from antt.notifications.v1 import notifications_service_pb2_grpc as pb_grpc
from services.notifications import feed, preview, projections, queries
from services.notifications.api import jurisdiction as authz
from services.notifications.domain import ical
from services.notifications.domain.schedule import VIETNAM
from services.notifications.scanner import Scanner

PREVIEW_PAGE, PREVIEW_PAGE_MAX = 1000, 5000  # sends per PreviewSends page: default, maximum (≈ 2 MB)
PREVIEW_KEPT_S = 300.0  # seconds a preview serves the pages after its first


def _date(value: str, field: str, default: date) -> date:
    if not value:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidArgumentError(f"Ngày không hợp lệ: {value!r} (định dạng YYYY-MM-DD)",
                                   f"invalid date {value!r} (expected YYYY-MM-DD)", field=field) from None


def _instant(value: str, field: str) -> datetime:
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        raise InvalidArgumentError(f"Thời điểm không hợp lệ: {value!r} (ISO 8601 có múi giờ)",
                                   f"invalid instant {value!r} (ISO 8601 with an offset)", field=field)
    return at


def _year(value: int, default: int) -> int:
    if value and not 1900 < value < 2200:
        raise InvalidArgumentError(f"Năm không hợp lệ: {value}", f"invalid year {value}", field="year")
    return value or default


def add_sends(response: pb.PreviewSendsResponse, rows: list[list[str]]) -> None:
    """The sends of a page (`Listing.fields`) into the response, each made in place (a list of messages
    would be copied into the field again)."""
    add = response.sends.add
    for key, notice, offset, recipient, channel, address, unit_id, obligation_key, subject, province, commune, \
            items in rows:
        add(reminder_key=key, notice=notice, offset=offset, recipient=recipient, channel=channel, address=address,
            unit_id=unit_id, obligation_key=obligation_key, subject=subject, province_code=province,
            commune_code=commune, items=int(items))


def _obligation_pb(v: queries.ObligationView) -> pb.Obligation:
    o = v.obligation
    deadline = _deadline_pb(queries.DeadlineView(o, v.unit, v.state is queries.ObligationState.SATISFIED))
    return pb.Obligation(deadline=deadline, state=v.state.value, state_vi=v.state.label_vi, owing=str(o.owing),
                         recipient=str(o.recipient), escalate_to=str(o.escalate_to), source=o.source)


def _deadline_pb(v: queries.DeadlineView) -> pb.Deadline:
    o = v.obligation
    return pb.Deadline(obligation_key=o.key, unit_id=v.unit.unit_id, unit_code=v.unit.code, rule_id=o.rule_id,
                       kind=o.kind.value, title_vi=o.title_vi, title_en=o.title_en, due_date=o.due.due.isoformat(),
                       nominal_due_date=o.due.nominal.isoformat(), flagged=o.due.flagged,
                       day_off_reason=o.due.day_off_reason, satisfied=v.satisfied,
                       province_code=v.unit.province_code, commune_code=v.unit.commune_code)


def _delivery_pb(row: dict[str, Any]) -> pb.Delivery:
    updated = row["updated_at"]
    return pb.Delivery(reminder_key=row["key"], status=row["status"], channel=row["channel"],
                       recipient=row["recipient"], address=row["address"], unit_id=row["unit_id"],
                       attempts=row["attempts"], last_error=row["last_error"],
                       updated_at=updated.isoformat() if updated else "", province_code=row["province_code"],
                       commune_code=row["commune_code"])


class NotificationsServicer(pb_grpc.NotificationsServiceServicer):
    """Deadlines, overdue units and the ledger of one jurisdiction; scans on demand."""

    authz_service = "notifications"

    def __init__(self, engine: Engine, scanner: Scanner) -> None:
        self.engine = engine
        self.scanner = scanner
        self.working = scanner.working
        self.authz_resolver = authz.ReplicaResolver(engine)
        # The preview computed for a first page, reused by the pages after it (one consistent listing):
        # (instant, province, commune) -> (monotonic time, preview).
        self._previews: dict[tuple[datetime, str, str], tuple[float, preview.Listing]] = {}

    def _today(self) -> date:
        return self.scanner.clock.now().astimezone(VIETNAM).date()

    def _count(self) -> int:
        with self.engine.connect() as conn:
            return projections.recipient_count(conn)

    @requires(authz.NATIONAL_READ)
    @map_domain_errors
    async def GetRecipientCount(self, request: pb.GetRecipientCountRequest, context: grpc.aio.ServicerContext
                                ) -> pb.GetRecipientCountResponse:
        return pb.GetRecipientCountResponse(units=await asyncio.to_thread(self._count))

    @requires(authz.AREA_READ)
    @map_domain_errors
    async def ListUpcomingDeadlines(self, request: pb.ListUpcomingDeadlinesRequest,
                                    context: grpc.aio.ServicerContext) -> pb.ListUpcomingDeadlinesResponse:
        start = _date(request.from_date, "from_date", self._today())
        j = request.jurisdiction
        views = await asyncio.to_thread(queries.upcoming, self.engine, self.scanner.calendars, self.working,
                                        j.province_code, j.commune_code, start, request.days or 60)
        return pb.ListUpcomingDeadlinesResponse(deadlines=[_deadline_pb(v) for v in views[:request.limit or 1000]])

    @requires(authz.AREA_READ)
    @map_domain_errors
    async def ListOverdue(self, request: pb.ListOverdueRequest, context: grpc.aio.ServicerContext
                          ) -> pb.ListOverdueResponse:
        as_of = _date(request.as_of, "as_of", self._today())
        j = request.jurisdiction
        views = await asyncio.to_thread(queries.overdue, self.engine, self.scanner.calendars, self.working,
                                        j.province_code, j.commune_code, as_of)
        return pb.ListOverdueResponse(overdue=[_deadline_pb(v) for v in views[:request.limit or 1000]])

    @requires(authz.AREA_READ)
    @map_domain_errors
    async def ListDeliveries(self, request: pb.ListDeliveriesRequest, context: grpc.aio.ServicerContext
                             ) -> pb.ListDeliveriesResponse:
        j = request.jurisdiction
        rows = await asyncio.to_thread(queries.list_deliveries, self.engine, j.province_code, j.commune_code,
                                       request.status, request.limit or 1000)
        return pb.ListDeliveriesResponse(deliveries=[_delivery_pb(r) for r in rows])

    @requires(authz.RUN_SCAN)
    @map_domain_errors
    async def RunScan(self, request: pb.RunScanRequest, context: grpc.aio.ServicerContext) -> pb.RunScanResponse:
        r = await asyncio.to_thread(self.scanner.scan)
        return pb.RunScanResponse(at=r.at.isoformat(), due=r.due, sent=r.sent, failed=r.failed, skipped=r.skipped)

    @requires(authz.UNIT_READ)
    @map_domain_errors
    async def GetUnitCalendar(self, request: pb.GetUnitCalendarRequest, context: grpc.aio.ServicerContext
                              ) -> pb.GetUnitCalendarResponse:
        today = self._today()
        year = _year(request.year, today.year)
        body, count = await asyncio.to_thread(feed.unit_calendar, self.engine, self.scanner.calendars, self.working,
                                              request.unit_id, year, today, self.scanner.clock.now(),
                                              request.include_past)
        return pb.GetUnitCalendarResponse(content_type=ical.CONTENT_TYPE, body=body, events=count)

    async def _preview(self, at: datetime, province: str, commune: str, again: bool) -> preview.Listing:
        """A first page computes the preview; the next pages of it reuse that one while it is fresh."""
        key, now = (at, province, commune), time.monotonic()
        cached = self._previews.get(key)
        if again and cached is not None and now - cached[0] < PREVIEW_KEPT_S:
            return cached[1]
        self._previews, cached = {}, None  # the listing kept is let go before the next one is built
        found = await asyncio.to_thread(preview.listing_at, self.scanner, at, province, commune)
        self._previews = {key: (now, found)}  # one listing kept: the memory of one preview at most
        return found

    @requires(authz.NATIONAL_READ)
    @map_domain_errors
    async def PreviewSends(self, request: pb.PreviewSendsRequest, context: grpc.aio.ServicerContext
                           ) -> pb.PreviewSendsResponse:
        # later pages preview the first page's instant: the token carries it with the last key sent
        if request.page_token:
            start = preview.Page.parse(request.page_token)
        elif request.at:
            start = preview.Page(_instant(request.at, "at"))
        else:
            start = preview.Page(preview.send_time(self.scanner, _date(request.date, "date", self._today())))
        size = page_size(request.page_size, PREVIEW_PAGE, PREVIEW_PAGE_MAX)
        j = request.jurisdiction
        found = await self._preview(start.at, j.province_code, j.commune_code, again=bool(request.page_token))
        rows, last = await asyncio.to_thread(found.fields, start.after, size)
        response = pb.PreviewSendsResponse(at=found.at.isoformat(), already_claimed=found.already_claimed,
                                           total=found.total,
                                           next_page_token=preview.Page(start.at, last).token() if last else "")
        add_sends(response, rows)
        return response

    @requires(authz.OBLIGATIONS_READ)
    @map_domain_errors
    async def ListObligations(self, request: pb.ListObligationsRequest, context: grpc.aio.ServicerContext
                              ) -> pb.ListObligationsResponse:
        as_of = _date(request.as_of, "as_of", self._today())
        year = _year(request.year, as_of.year)
        j = request.jurisdiction
        views = await asyncio.to_thread(queries.obligations, self.engine, self.scanner.calendars, self.working,
                                        year, as_of, request.unit_id, j.province_code, j.commune_code)
        return pb.ListObligationsResponse(obligations=[_obligation_pb(v) for v in views[:request.limit or 5000]])
