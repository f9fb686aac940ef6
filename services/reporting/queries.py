"""Query facade over the read models: the report of a year for a scope, as the API and exports show it."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from functools import lru_cache
from typing import Any

import sqlalchemy as sa

from antt.errors import InvalidArgumentError, parse_enum
from services.reporting import targets as targets_data
from services.reporting.rollup.boundaries import BoundaryMode
from services.reporting.rollup import fast
from services.reporting.rollup.report import Counted, Report, Scope, compute
from services.reporting.rollup.snapshot import Snapshot, load

MIN_YEAR, MAX_YEAR = 2000, 2100


def check_year(year: int) -> int:
    """A plausible reporting year, else INVALID_ARGUMENT."""
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise InvalidArgumentError(f"Năm báo cáo không hợp lệ: {year}", f"invalid report year {year}", field="year")
    return year


def parse_boundary(value: str) -> BoundaryMode:
    """"then" (default) or "today"."""
    return parse_enum(BoundaryMode, value or "then", "boundary", "Chế độ địa giới")


def report_from_snapshot(snapshot: Snapshot, year: int, scope: str, boundary: str = "then",
                         today: date | None = None, target_files: list[dict[str, Any]] | None = None,
                         counted: Iterable[Counted] = (), awarded: Iterable[dict[str, str]] = ()) -> Report:
    """Compute a report from a snapshot (targets from the shipped YAML unless given), plus units counted in SQL."""
    files = targets_data.load_files() if target_files is None else target_files
    y = check_year(year)

    @lru_cache(maxsize=None)
    def targets_for(province: str, commune: str) -> targets_data.Targets:
        return targets_data.resolve(y, province, commune, files)

    return compute(snapshot, y, Scope.parse(scope), parse_boundary(boundary), targets_for, today or date.today(),
                   counted, awarded)


def report(conn: sa.Connection, year: int, scope: str, boundary: str = "then", today: date | None = None,
           target_files: list[dict[str, Any]] | None = None) -> Report:
    """The report of the live read models. Under "then" boundaries (the default) units with a simple life are
    counted in SQL and only the others are read, and a province or commune reads only units ever placed there;
    under "today" a unit may count in an area it never was in, through the crosswalk, so every unit is read."""
    y, parsed = check_year(year), Scope.parse(scope)
    if parse_boundary(boundary) is BoundaryMode.THEN:
        inputs = fast.then_inputs(conn, parsed.kind, parsed.code, y)
        return report_from_snapshot(inputs.snapshot, y, scope, boundary, today, target_files,
                                    inputs.counted, inputs.awarded)
    return report_from_snapshot(load(conn, year=y), y, scope, boundary, today, target_files)
