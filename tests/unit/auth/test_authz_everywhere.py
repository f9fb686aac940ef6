"""@requires skips check() for callers who reach everywhere; every principal and every permission the
services declare must end as check() decides (the request and resolver are not even read then)."""

from __future__ import annotations

import asyncio
import importlib
import itertools
from typing import Any

import grpc
import pytest

from antt.auth.authz import Permission, PermissionDeniedError, check, requires
from antt.auth.principal import Principal, Role, Tier
from antt.grpcx import auth as grpc_auth

pytestmark = pytest.mark.unit

MODULES = tuple(f"services.{s}.api.jurisdiction" for s in ("assessment", "registry", "reporting", "notifications"))
PERMISSIONS = [value for name in MODULES for value in vars(importlib.import_module(name)).values()
               if isinstance(value, Permission)]


def principals() -> list[Principal]:
    found = []
    for role, tier, place in itertools.product(Role, Tier, ("", "01", "00004")):
        try:
            found.append(Principal("u:test", role, tier, place, "U1" if tier is Tier.DON_VI else ""))
        except Exception:  # noqa: BLE001 - combinations a token cannot carry
            continue
    return found


class Untouchable:
    """A request or resolver that may not be read."""

    def __getattr__(self, name: str) -> Any:
        raise LookupError(name)


class Aborted(Exception):
    """The call was aborted with this status code."""


class Context:
    async def abort_with_status(self, status: Any) -> None:
        raise Aborted(status.code)


async def reference(p: Principal, perm: Permission) -> str:
    try:
        await check(p, perm, Untouchable(), Untouchable())  # type: ignore[arg-type]
    except PermissionDeniedError:
        return "denied"
    except LookupError:
        return "read"
    return "ok"


async def decorated(p: Principal, perm: Permission) -> str:
    class Servicer:
        authz_resolver = Untouchable()
        authz_service = "test"

        @requires(perm)
        async def Call(self, request: Any, context: Any) -> str:  # noqa: N802 - an RPC name
            return "ok"

    token = grpc_auth._PRINCIPAL.set(p)
    try:
        return await Servicer().Call(Untouchable(), Context())
    except Aborted as aborted:
        assert aborted.args[0] == grpc.StatusCode.PERMISSION_DENIED
        return "denied"
    except LookupError:
        return "read"
    finally:
        grpc_auth._PRINCIPAL.reset(token)


def test_requires_decides_as_check_for_every_principal_and_permission() -> None:
    cases = [(p, perm) for p in principals() for perm in PERMISSIONS]
    assert len(PERMISSIONS) > 10 and {p.role for p, _ in cases} == set(Role)

    async def run() -> list[tuple[str, str]]:
        return [(await reference(p, perm), await decorated(p, perm)) for p, perm in cases]
    outcomes = asyncio.run(run())
    assert all(ref == got for ref, got in outcomes), [c for c, o in zip(cases, outcomes) if o[0] != o[1]][:3]
    assert {ref for ref, _ in outcomes} == {"ok", "denied", "read"}
