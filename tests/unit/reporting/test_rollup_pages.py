"""GetRollup's award list in pages: pages concatenated are the unpaged list, every page has the whole figures."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from antt.errors import InvalidArgumentError
from antt.grpcx import paging
from antt.reporting.v1 import reporting_service_pb2 as pb
from services.reporting import queries
from services.reporting.api import converters, rollups
from services.reporting.rollup.report import Report
from tests.unit.reporting.builders import World
from tests.unit.reporting.test_rollups import HN, Y, build

pytestmark = pytest.mark.unit

TODAY = date(2026, 11, 22)


@pytest.fixture
def report(store: Engine, feed: Callable[[World], None]) -> Report:
    world = World()
    build(world)
    feed(world)
    with store.connect() as conn:
        return queries.report(conn, Y, f"province:{HN}", today=TODAY)


def _without_awards(rollup: pb.Rollup) -> pb.Rollup:
    out = pb.Rollup()
    out.CopyFrom(rollup)
    del out.award_eligible[:]
    return out


def _all_pages(prepared: rollups.PreparedRollup, size: int) -> list[pb.GetRollupResponse]:
    pages, token = [], ""
    while True:
        page = rollups.reply(prepared, size, token)
        pages.append(page)
        token = page.next_award_page_token
        if not token:
            return pages
        assert len(pages) <= len(prepared.codes) + 1  # a token always moves forward


def test_an_unpaged_request_gets_the_reply_old_clients_got(report: Report) -> None:
    old = pb.GetRollupResponse(rollup=converters.rollup_pb(report))  # the reply before pages existed
    new = rollups.reply(rollups.prepare(report))
    assert len(new.rollup.award_eligible) == len(report.award_eligible) > 0
    assert new.rollup == old.rollup and not new.next_award_page_token
    assert new.award_eligible_total == len(report.award_eligible)
    # and what an old client parses from the new reply's bytes is the same message
    assert pb.GetRollupResponse.FromString(new.SerializeToString()).rollup == old.rollup


lines = st.lists(st.tuples(st.sampled_from(["A", "B", "C-1", "C-10", "C-2", "Đ", "b"]), st.integers(0, 3)),
                 max_size=40)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(codes=lines, size=st.integers(1, 45))
def test_pages_concatenated_are_the_full_list_with_the_same_figures_and_digest(
        report: Report, codes: list[tuple[str, int]], size: int) -> None:
    # award lists of any length, with repeated codes, in the report's order (by unit_code)
    awarded = sorted(({**report.award_eligible[0], "unit_code": f"{c}{n}", "name": f"{c}-{i}"}
                      for i, (c, n) in enumerate(codes)), key=lambda a: a["unit_code"])
    varied = dataclasses.replace(report, award_eligible=awarded)
    prepared = rollups.prepare(varied)
    full = rollups.reply(prepared)
    pages = _all_pages(prepared, size)
    assert [a for p in pages for a in p.rollup.award_eligible] == list(full.rollup.award_eligible)
    for page in pages:
        assert _without_awards(page.rollup) == _without_awards(full.rollup)  # the whole figures on every page
        assert page.rollup.digest == varied.digest() == full.rollup.digest
        assert page.award_eligible_total == len(awarded)
        # a page is at most `size` lines, unless lines of one code would be split
        page_codes = [a.unit_code for a in page.rollup.award_eligible]
        assert len(page_codes) <= size or len(set(page_codes[size - 1:])) == 1
    assert all(p.rollup.award_eligible for p in pages) or len(pages) == 1


def test_a_page_resumes_after_the_last_code_and_a_bad_token_is_invalid(report: Report) -> None:
    prepared = rollups.prepare(report)
    first = rollups.reply(prepared, 1)
    assert len(first.rollup.award_eligible) == 1 and first.next_award_page_token
    assert paging.decode_page_token(first.next_award_page_token) == first.rollup.award_eligible[0].unit_code
    second = rollups.reply(prepared, 1, first.next_award_page_token)
    assert second.rollup.award_eligible[0] == rollups.reply(prepared).rollup.award_eligible[1]
    # a token past every line: an empty last page
    beyond = rollups.reply(prepared, 10, paging.encode_page_token("\uffff"))
    assert not beyond.rollup.award_eligible and not beyond.next_award_page_token
    assert beyond.rollup.area == first.rollup.area
    with pytest.raises(InvalidArgumentError):
        rollups.reply(prepared, 10, "not-a-token")
    # a huge page size is capped
    assert len(rollups.reply(prepared, 10**9).rollup.award_eligible) == len(report.award_eligible)
