"""The bench's rollup check on a first page: whole figures of the generated country, a full first page."""

from __future__ import annotations

from typing import Any

import pytest

from antt.bench import query_stage
from antt.bench.country import generate
from antt.bench.stages import BenchContext
from antt.bench.year_stage import year_sample
from antt.reporting.v1 import reporting_service_pb2 as pb

pytestmark = pytest.mark.unit


def _reply(code: str, units: int, year: int, total: int, lines: int, token: bool) -> pb.GetRollupResponse:
    figures = pb.Figures(in_scope=units, decided=year, recognised=year)
    rollup = pb.Rollup(area=pb.AreaFigures(code=code, total=figures),
                       award_eligible=[pb.AwardEligibleUnit(unit_code=f"U{i:05d}") for i in range(lines)])
    return pb.GetRollupResponse(rollup=rollup, award_eligible_total=total, next_award_page_token="t" if token else "")


def test_the_check_wants_the_first_page_and_the_scope_counted_once_per_run() -> None:
    ctx = BenchContext(country=generate(0.02), stack=None, year_units=1000)  # type: ignore[arg-type]
    province, _ = query_stage.busiest(ctx)
    assert ctx.state["busiest"][0] == province  # worked out once, outside the timed calls

    def inside(u: Any) -> bool:
        return bool(u.province_code == province)

    units = sum(1 for u in ctx.country.units if inside(u))
    year = sum(1 for u in year_sample(ctx.country.units, 1000) if inside(u))
    page = query_stage.AWARD_PAGE
    check = query_stage._scope_matches("province")
    assert year > page
    assert check(_reply(province, units, year, year, page, True), ctx)
    assert check(_reply(province, units, year, 40, 40, False), ctx)  # a short list fits on one page
    assert not check(_reply(province, units, year, year, page - 1, True), ctx)  # a short first page
    assert not check(_reply(province, units, year, year, page, False), ctx)  # no next page though more lines
    assert not check(_reply(province, units, year, year + 1, page, True), ctx)  # more awards than recognised
    assert not check(_reply(province, units + 1, year, year, page, True), ctx)  # wrong figures
