"""PreviewSends' packed listing pages exactly as the full preview did (issue 8: the preview's memory).

The reference is the path the servicer used before: `preview_at` (every send an object in memory) and
`page_of` over it. The new path keeps the sends packed (`listing_at`) and unpacks one page at a time.
A generated country (local calendars, every unit type, contacts, closures, moves, obligations done,
names with quotes, backslashes and control characters) is paged at instants and page sizes drawn by
hypothesis, with part of the notices claimed by an earlier scan, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from antt.eventstore.persistence import create_engine
from services.notifications.application import Notifications
from services.notifications.calendars import load_calendar_set
from services.notifications.clock import FakeClock
from services.notifications.preview import PlannedSend, listing_at, page_of, preview_at
from services.notifications.scanner import Scanner
from tests.integration.test_notifications_sweep import CHANNELS, ICT, INSTANTS, country
from tests.unit.notifications.helpers import register_unit

pytestmark = pytest.mark.integration

STAGES = [datetime(2026, 1, 19, 8, tzinfo=ICT), datetime(2026, 3, 24, 9, tzinfo=ICT),
          datetime(2026, 4, 1, 8, tzinfo=ICT), datetime(2026, 4, 2, 8, tzinfo=ICT)]


def _pages(first: tuple[list[PlannedSend], str], next_page: object) -> list[list[PlannedSend]]:
    pages = [first[0]]
    last = first[1]
    for _ in range(10_000):  # a listing whose pages do not advance fails here instead of hanging
        if not last:
            return pages
        sends, last = next_page(last)  # type: ignore[operator]
        pages.append(sends)
    raise AssertionError("the pages never end")


def test_listing_pages_equal_the_full_previews_pages(database_urls: dict[str, str]) -> None:
    url = database_urls["notifications"]
    app = Notifications(url, engine=create_engine(url))
    engine = app.engine
    country(engine)
    for i, name in enumerate(('Tổ "dân phố" \\ số 1', "Cơ quan\x1fA\tB", "x|y:z")):
        register_unit(engine, f"odd-{i}", f"ODD-{i}", "co_quan", "01", "00145")
        with engine.begin() as conn:
            conn.exec_driver_sql("UPDATE notifications_units SET name = ? WHERE unit_id = ?"
                                 if engine.dialect.name == "sqlite" else
                                 "UPDATE notifications_units SET name = %s WHERE unit_id = %s", (name, f"odd-{i}"))
    # Part of the notices claimed: the preview counts them as already claimed and lists the rest.
    Scanner(app, engine, load_calendar_set(), CHANNELS, FakeClock(STAGES[1])).scan()
    seen = {"sends": 0, "claimed": 0, "pages": 0}

    @settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(now=st.one_of(INSTANTS, st.sampled_from(STAGES)), size=st.integers(1, 40),
           scope=st.sampled_from([("", ""), ("40", ""), ("31", "11948"), ("", "00145"), ("01", "")]))
    def same(now: datetime, size: int, scope: tuple[str, str]) -> None:
        scanner = Scanner(app, engine, load_calendar_set(), CHANNELS, FakeClock(now))
        old = preview_at(scanner, now, *scope)
        new = listing_at(scanner, now, *scope)
        assert (new.at, new.total, new.already_claimed) == (old.at, len(old.sends), old.already_claimed)
        old_pages = _pages(page_of(old, "", size), lambda after: page_of(old, after, size))
        new_pages = _pages(new.page("", size), lambda after: new.page(after, size))
        assert new_pages == old_pages
        # a page token may also name a key that is not (or no longer) listed
        for after in ("", "2026/", "2026/registration/u-0", "2026/registration/u-050|", "\uffff"):
            assert new.page(after, size) == page_of(old, after, size)
        seen["sends"] += len(old.sends)
        seen["claimed"] += old.already_claimed
        seen["pages"] += len(old_pages)

    same()
    assert min(seen.values()) > 0, seen
