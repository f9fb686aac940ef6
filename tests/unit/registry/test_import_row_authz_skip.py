"""ImportUnits skips the per-row place check only for callers whom IMPORT_ROW admits whatever the row's place
(`admits_everywhere`); `tests/integration/test_import_rows_authorised.py` covers the walk itself."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from antt.auth.authz import PermissionDeniedError, admits_everywhere, check
from antt.auth.principal import ROLE_TIERS, Principal, Role, Tier
from antt.registry.v1 import registry_service_pb2 as pb
from services.registry.api.jurisdiction import IMPORT_ROW

pytestmark = pytest.mark.unit

PROVINCES = ("", "01", "31", "79")
COMMUNES = ("", "00145", "11948", "26734", "99999")
# Where each commune lies (a resolver the check consults for callers it does not admit outright).
COMMUNE_PROVINCE = {"00145": "01", "11948": "31", "26734": "79"}


class Resolver:
    """Commune → province from a fixed table (no unit lookups: import rows name places, not units)."""

    def province_of(self, commune_code: str, as_of: str = "") -> str | None:
        return COMMUNE_PROVINCE.get(commune_code)

    def unit_place(self, unit_ref: str, as_of: str = "") -> None:
        return None


def _jurisdiction(tier: Tier) -> st.SearchStrategy[str]:
    if tier is Tier.TINH:
        return st.sampled_from(["01", "31"])
    if tier is Tier.XA:
        return st.sampled_from(["00145", "11948"])
    return st.just("")


@st.composite
def principals(draw: st.DrawFn) -> Principal:
    role = draw(st.sampled_from(list(Role)))
    tier = draw(st.sampled_from(sorted(ROLE_TIERS[role], key=lambda t: t.value)))
    unit = "KDC-1" if tier is Tier.DON_VI else ""
    return Principal(f"user:{role.value}", role, tier, draw(_jurisdiction(tier)), unit)


rows = st.builds(lambda p, c: pb.ImportRow(row_number=2, code="X", province_code=p, commune_code=c),
                 st.sampled_from(PROVINCES), st.sampled_from(COMMUNES))


async def _need(principal: Principal) -> bool:
    """Whether ImportUnits walks the rows for this caller (the endpoint's own test)."""
    return not admits_everywhere(principal, IMPORT_ROW)


async def _admitted(principal: Principal, row: pb.ImportRow) -> bool:
    try:
        await check(principal, IMPORT_ROW, row, Resolver())
    except PermissionDeniedError:
        return False
    return True


@settings(max_examples=300, deadline=None)
@given(principals(), st.lists(rows, min_size=1, max_size=8))
def test_a_caller_whose_rows_are_not_checked_is_admitted_for_every_row(principal: Principal,
                                                                       batch: list[pb.ImportRow]) -> None:
    async def run() -> None:
        if not await _need(principal):
            for row in batch:
                assert await _admitted(principal, row), (principal, row)
    asyncio.run(run())


@pytest.mark.parametrize(("principal", "need"), [
    (Principal("service:bench", Role.SERVICE, Tier.BO), False),
    (Principal("user:bo", Role.MINISTRY_OPERATOR, Tier.BO), False),
    (Principal("user:tinh", Role.PROVINCE_OPERATOR, Tier.TINH, "31"), True),
    (Principal("user:xa", Role.COMMUNE_OPERATOR, Tier.XA, "11948"), True),
    (Principal("user:unit", Role.UNIT_REPRESENTATIVE, Tier.DON_VI, unit="KDC-1"), True),  # denied: per-row path
    (Principal("user:audit", Role.AUDITOR, Tier.BO), True),  # read-only: denied on the per-row path
])
async def test_who_skips_the_per_row_check(principal: Principal, need: bool) -> None:
    assert await _need(principal) is need
