"""Authorisation in one place: each RPC declares what it needs with @requires(...).

A permission names the roles allowed, whether the call writes, and how to find its target
(province, commune or unit) in the request. Jurisdiction is checked against the target; a service
supplies a JurisdictionResolver (servicer attribute `authz_resolver`) to find a commune's province
and a unit's place. A denial aborts with PERMISSION_DENIED before the method runs: nothing is written.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import grpc
from google.rpc import code_pb2

from antt import metrics
from antt.auth.principal import Principal, Role, Tier
from antt.errors import DomainError, ErrorKind

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])

OPERATORS = frozenset({Role.MINISTRY_OPERATOR, Role.PROVINCE_OPERATOR, Role.COMMUNE_OPERATOR})
READERS = OPERATORS | {Role.AUDITOR}
ALWAYS = frozenset({Role.SERVICE})  # service accounts act nationwide on every method


@dataclass(frozen=True)
class UnitPlace:
    """Where a unit is (as of a date): its code, province and commune."""

    code: str
    province_code: str
    commune_code: str


class JurisdictionResolver(Protocol):
    """Supplied by a service: area and unit look-ups the checks need (sync or async)."""

    def province_of(self, commune_code: str, as_of: str = "") -> str | None | Awaitable[str | None]:
        """The province code of a commune on `as_of` ("" today), or None if unknown."""

    def unit_place(self, unit_ref: str, as_of: str = "") -> UnitPlace | None | Awaitable[UnitPlace | None]:
        """The place of a unit (by id or code) on `as_of` ("" today), or None if unknown."""


@dataclass(frozen=True)
class Target:
    """What a request acts on; empty fields are resolved or mean national."""

    province_code: str = ""
    commune_code: str = ""
    unit_ref: str = ""
    as_of: str = ""


NATIONAL = Target()


def fields(province: str = "", commune: str = "", unit: str = "", as_of: str = "") -> Callable[[Any], Target]:
    """A target extractor reading the named request fields (a misspelt field fails loudly, not open)."""

    def extract(request: Any) -> Target:
        def get(name: str) -> str:
            if not name:
                return ""
            descriptor = getattr(request, "DESCRIPTOR", None)
            if descriptor is not None and name not in descriptor.fields_by_name:
                raise LookupError(f"{descriptor.full_name} has no field {name!r} (check the @requires target)")
            return str(getattr(request, name, "") or "")
        return Target(get(province), get(commune), get(unit), get(as_of))

    return extract


class PermissionDeniedError(DomainError):
    """The caller may not do this (reason code says why)."""

    kind = ErrorKind.PERMISSION_DENIED
    reason = "AUTH_PERMISSION_DENIED"


@dataclass(frozen=True)
class Permission:
    """What an RPC needs: roles, read or write, the target, and whether a unit may act on itself."""

    roles: frozenset[Role]
    write: bool
    target: Callable[[Any], Target | Sequence[Target]]  # every target returned must be within reach
    unit_self: bool = False  # unit representatives may call it for their own unit


def permission(roles: frozenset[Role] | set[Role] = OPERATORS, *, write: bool,
               target: Callable[[Any], Target | Sequence[Target]] | None = None, unit_self: bool = False) -> Permission:
    """Build a Permission (auditors are added to every read; service accounts to everything)."""
    allowed = frozenset(roles) | ALWAYS | (frozenset() if write else {Role.AUDITOR})
    if unit_self:
        allowed |= {Role.UNIT_REPRESENTATIVE}
    return Permission(allowed, write, target or (lambda _r: NATIONAL), unit_self)


async def _maybe(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


def _deny(reason: str, vi: str, en: str) -> PermissionDeniedError:
    return PermissionDeniedError(vi, en, reason=reason)


def _everywhere(p: Principal) -> bool:
    """Service accounts and the ministry reach every target: no target need be looked at."""
    return p.role is Role.SERVICE or (p.national and p.tier is Tier.BO)


def admits_everywhere(p: Principal, perm: Permission) -> bool:
    """Whether `check` admits `p` for `perm` whatever the request's target (without reading it)."""
    return p.role in perm.roles and _everywhere(p)


async def check(p: Principal, perm: Permission, request: Any, resolver: JurisdictionResolver | None) -> None:
    """Raise PermissionDeniedError unless `p` may make this request."""
    if p.role not in perm.roles:
        if p.role is Role.AUDITOR and perm.write:
            raise _deny("AUTH_READ_ONLY", "kiểm toán viên chỉ được đọc", "auditors may only read")
        raise _deny("AUTH_ROLE_NOT_ALLOWED", f"vai trò {p.role.value} không được gọi thao tác này",
                    f"role {p.role.value} may not call this operation")
    if _everywhere(p):
        return
    found = perm.target(request)
    for target in ([found] if isinstance(found, Target) else list(found)):
        await _check_target(p, target, resolver)


async def _check_target(p: Principal, target: Target, resolver: JurisdictionResolver | None) -> None:
    """Raise PermissionDeniedError unless `target` lies within what `p` may act on."""
    province, commune = target.province_code, target.commune_code
    if target.unit_ref:
        place = await _maybe(resolver.unit_place(target.unit_ref, target.as_of)) if resolver else None
        if place is None:
            raise _deny("AUTH_TARGET_UNRESOLVED", "không xác định được địa bàn của đơn vị",
                        "cannot tell where the unit is")
        if p.role is Role.UNIT_REPRESENTATIVE:
            if place.code != p.unit:
                raise _deny("AUTH_NOT_OWN_UNIT", "đại diện chỉ được thao tác trên đơn vị của mình",
                            "a unit representative may act only on its own unit")
            return
        province, commune = place.province_code, place.commune_code
    elif p.role is Role.UNIT_REPRESENTATIVE:
        raise _deny("AUTH_NOT_OWN_UNIT", "đại diện chỉ được thao tác trên đơn vị của mình",
                    "a unit representative may act only on its own unit")
    if commune and resolver is not None:  # the commune's own province wins over what the request says
        province = await _maybe(resolver.province_of(commune, target.as_of)) or province
    if _within(p, province, commune):
        return
    raise _deny("AUTH_OUT_OF_JURISDICTION",
                f"ngoài địa bàn quản lý ({p.jurisdiction or 'toàn quốc'})",
                f"outside the caller's jurisdiction ({p.jurisdiction or 'national'})")


def _within(p: Principal, province: str, commune: str) -> bool:
    """True when the target area lies in the principal's jurisdiction."""
    if p.national:
        return True
    if p.tier is Tier.TINH:
        return province == p.jurisdiction
    return commune == p.jurisdiction  # commune tier (and auditors of a commune)


async def authorize(context: grpc.aio.ServicerContext, perm: Permission, request: Any,
                    resolver: JurisdictionResolver | None = None, service: str = "", method: str = "") -> Principal:
    """Check the current caller; on denial count, log and abort PERMISSION_DENIED. Returns the principal.

    @requires calls it before the method; streaming methods call it per message themselves.
    """
    from antt.grpcx.auth import current_principal, status_with_reason

    principal = current_principal(context)
    try:
        await check(principal, perm, request, resolver)
    except PermissionDeniedError as denied:
        metrics.AUTHZ_DENIED.labels(service, method, denied.reason).inc()
        log.warning("permission denied: %s.%s for %s (role %s, tier %s, jurisdiction %r, unit %r): %s",
                    service, method, principal.subject, principal.role.value, principal.tier.value,
                    principal.jurisdiction, principal.unit, denied.reason)
        await context.abort_with_status(status_with_reason(
            code_pb2.PERMISSION_DENIED, denied.reason, denied.message_vi, denied.message_en))
    return principal


def requires(perm: Permission) -> Callable[[F], F]:
    """Decorator for async servicer methods (self, request, context): check first, then run.

    The servicer may set `authz_resolver` (a JurisdictionResolver) and `authz_service` (metric label).
    """

    from antt.grpcx.auth import current_principal  # antt.grpcx imports antt.auth: not at module level

    def decorate(method: F) -> F:
        async def enforce(self: Any, request: Any, context: grpc.aio.ServicerContext) -> None:
            if admits_everywhere(current_principal(context), perm):
                return  # what check() decides without a look at the request, without its coroutines
            await authorize(context, perm, request, getattr(self, "authz_resolver", None),
                            getattr(self, "authz_service", type(self).__name__), method.__name__)

        if inspect.isasyncgenfunction(method):
            @functools.wraps(method)
            async def gen_wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
                await enforce(self, request, context)
                async for item in method(self, request, context):
                    yield item
            wrapper: Any = gen_wrapper
        else:
            @functools.wraps(method)
            async def wrapper(self: Any, request: Any, context: grpc.aio.ServicerContext) -> Any:
                await enforce(self, request, context)
                return await method(self, request, context)

        wrapper.__antt_permission__ = perm
        return wrapper  # type: ignore[no-any-return]

    return decorate


def authorised_in_body(method: F) -> F:
    """Mark a (streaming) method that calls authorize() itself, e.g. once per imported row."""
    method.__antt_permission__ = "in-body"  # type: ignore[attr-defined]
    return method


def undeclared(servicer_class: type, service_descriptor: Any) -> list[str]:
    """RPC names of `service_descriptor` whose method on `servicer_class` lacks @requires (or the mark)."""
    return [m.name for m in service_descriptor.methods
            if getattr(getattr(servicer_class, m.name, None), "__antt_permission__", None) is None]
