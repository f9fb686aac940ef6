"""The ImportUnits and ImportAreas streams: rows arrive in chunks, each chunk is checked and answered with progress."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
from google.protobuf.message import Message
from grpc_status import rpc_status

from antt.actor import SYSTEM, Actor
from antt.auth.authz import Permission, admits_everywhere, authorised_in_body, authorize
from antt.errors import DomainError
from antt.grpcx.auth import current_principal, effective_actor, request_actor
from antt.grpcx.errors import to_status
from antt.registry.v1 import registry_service_pb2 as pb
from services.registry.api.jurisdiction import AREA_WRITE, IMPORT_ROW, IMPORT_UNITS
from services.registry.application import Registry
from services.registry.importing.areas import AreaImport
from services.registry.importing.errors import RowProblem
from services.registry.importing.reader import RawRow
from services.registry.importing.validate import UnitImport

log = logging.getLogger(__name__)
UNIT_FIELDS = tuple(f.name for f in pb.ImportRow.DESCRIPTOR.fields if f.name != "row_number")
AREA_FIELDS = tuple(f.name for f in pb.ImportAreaRow.DESCRIPTOR.fields if f.name != "row_number")


# Per (message type, wanted fields): each wanted field's descriptor and its name.
_NAMES: dict[tuple[Any, tuple[str, ...]], dict[Any, str]] = {}


def row_from_pb(row: Message, fields: tuple[str, ...] = UNIT_FIELDS) -> RawRow:
    """A raw row from its wire form: the named fields that are not empty."""
    kind = row.DESCRIPTOR
    names = _NAMES.get((kind, fields))
    if names is None:
        wanted = frozenset(fields)
        names = _NAMES[(kind, fields)] = {fd: fd.name for fd in kind.fields if fd.name in wanted}
    # ListFields gives exactly the fields holding a non-default value (for these string fields: not
    # empty), in field-number order, without a getattr per field of the message; a descriptor is
    # looked up rather than its name read (which makes a new str each time).
    return RawRow(row.row_number, {names[fd]: value for fd, value in row.ListFields()  # type: ignore[attr-defined]
                                   if fd in names})


def row_to_pb(row: RawRow) -> pb.ImportRow:
    """The wire form of a unit row (fields the message does not know are dropped)."""
    return pb.ImportRow(row_number=row.row_number, **{f: v for f, v in row.values.items() if f in UNIT_FIELDS})


def area_row_to_pb(row: RawRow) -> pb.ImportAreaRow:
    """The wire form of an area row."""
    return pb.ImportAreaRow(row_number=row.row_number, **{f: v for f, v in row.values.items() if f in AREA_FIELDS})


def problem_to_pb(problem: RowProblem) -> pb.RowError:
    """The wire form of a bad row."""
    return pb.RowError(row_number=problem.row_number, column=problem.column, field=problem.field,
                       reason=problem.reason, message_vi=problem.message_vi, message_en=problem.message_en)


Session = UnitImport | AreaImport


class ImportEndpoint:
    """ImportUnits and ImportAreas (mixed into RegistryServicer)."""

    app: Registry

    async def _allow(self, context: grpc.aio.ServicerContext, perm: Permission, request: Any, method: str) -> None:
        await authorize(context, perm, request, getattr(self, "authz_resolver", None), "registry", method)

    @authorised_in_body
    async def ImportUnits(self, request_iterator: AsyncIterator[pb.ImportUnitsRequest],
                          context: grpc.aio.ServicerContext) -> AsyncIterator[pb.ImportUnitsProgress]:
        async for progress in self._import(request_iterator, context, UnitImport, UNIT_FIELDS, "units",
                                           "ImportUnits"):
            yield progress

    @authorised_in_body
    async def ImportAreas(self, request_iterator: AsyncIterator[pb.ImportAreasRequest],
                          context: grpc.aio.ServicerContext) -> AsyncIterator[pb.ImportUnitsProgress]:
        async for progress in self._import(request_iterator, context, AreaImport, AREA_FIELDS, "areas",
                                           "ImportAreas"):
            yield progress

    async def _import(self, request_iterator: AsyncIterator[Any], context: grpc.aio.ServicerContext,
                      start: Callable[[Registry, Actor, dict[str, str]], Session], fields: tuple[str, ...],
                      what: str, method: str) -> AsyncIterator[pb.ImportUnitsProgress]:
        session: Session | None = None
        dry_run, total = False, 0
        allowed: set[Any] = set()  # IMPORT_ROW targets already authorised in this stream
        per_row = False  # whether rows' places must be authorised (not for callers admitted everywhere)
        try:
            async for request in request_iterator:
                if session is None:
                    await self._allow(context, IMPORT_UNITS if what == "units" else AREA_WRITE, request, method)
                    dry_run, total = request.dry_run, request.total_rows
                    session = await asyncio.to_thread(start, self.app, request_actor(request),
                                                      dict(request.columns))
                    per_row = what == "units" and not admits_everywhere(current_principal(context), IMPORT_ROW)
                if per_row:  # every row must lie within the caller's jurisdiction
                    for row in request.rows:
                        # The caller is the same for the whole stream, so a row is allowed when its
                        # target (province and commune) was: each target is checked once (a denial aborts).
                        target = IMPORT_ROW.target(row)
                        if target not in allowed:
                            await self._allow(context, IMPORT_ROW, row, method)
                            allowed.add(target)
                rows = [row_from_pb(r, fields) for r in request.rows]
                await asyncio.to_thread(session.check, rows)
                yield pb.ImportUnitsProgress(rows_checked=session.checked, total_rows=total,
                                             bad_rows=len(session.problems), dry_run=dry_run)
            if session is None:  # an empty stream
                session = await asyncio.to_thread(start, self.app, effective_actor(SYSTEM), {})
            final = pb.ImportUnitsProgress(rows_checked=session.checked, total_rows=total,
                                           bad_rows=len(session.problems), done=True, dry_run=dry_run,
                                           errors=[problem_to_pb(p) for p in session.problems])
            log.info("import %s: %d rows checked, %d bad%s", what, session.checked, len(session.problems),
                     " (dry run)" if dry_run else "")
            if not dry_run and not session.problems:
                final.imported = await asyncio.to_thread(session.commit)
                final.committed = True
                log.info("import %s: %d committed", what, final.imported)
            yield final
        except DomainError as error:
            await context.abort_with_status(rpc_status.to_status(to_status(error)))
