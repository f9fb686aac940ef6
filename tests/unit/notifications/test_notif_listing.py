"""The packed preview listing sorts and pages by key exactly as the strings do (tests/integration/test_notif_preview_pages.py
compares whole previews)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.notifications.preview import Listing, PlannedSend, _packed

pytestmark = pytest.mark.unit

ICT = timezone(timedelta(hours=7))


def _send(key: str, subject: str = "s") -> PlannedSend:
    return PlannedSend(key, "reminder", "D-7", "r", "nats", "", "u", key, subject, "01", "00145", 0)


def test_listing_orders_keys_that_prefix_others_as_strings_do() -> None:
    keys = ["a", "a|b", "a/", "a\x01", "ab", "á", "a b", "Đ", "2026/x|D-7|unit:1", "2026/x|D-7|unit:10"]
    sends = [_send(k) for k in keys]
    packed = Listing(datetime(2026, 3, 24, tzinfo=ICT), sorted(_packed(p) for p in sends))
    assert [p.key for p in packed.page("", 100)[0]] == sorted(keys)
    for after in keys + ["", "a\x00", "zz"]:
        expected = [k for k in sorted(keys) if k > after][:3] if after else sorted(keys)[:3]
        assert [p.key for p in packed.page(after, 3)[0]] == expected


@given(keys=st.sets(st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=6),
                    max_size=30),
       subject=st.text(st.characters(blacklist_categories=("Cs",)) | st.just("\x00")), size=st.integers(1, 7),
       after=st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=6))
def test_any_keys_and_texts_page_as_the_sorted_sends(keys: set[str], subject: str, size: int, after: str) -> None:
    sends = sorted((_send(k, subject) for k in keys), key=lambda p: p.key)
    listing = Listing(datetime(2026, 3, 24, tzinfo=ICT), sorted(_packed(p) for p in sends))
    assert listing.page("", len(sends) + 1)[0] == sends
    rest = [p for p in sends if p.key > after] if after else sends
    page, last = listing.page(after, size)
    assert page == rest[:size]
    assert last == (page[-1].key if len(rest) > size else "")
