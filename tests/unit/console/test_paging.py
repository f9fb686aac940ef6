"""The console reads every page of a paged list call, and stops at its bound."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from services.console.app import every_page

pytestmark = pytest.mark.unit


@dataclass
class Page:
    units: list[int]
    next_page_token: str = ""


@dataclass
class Pages:
    """Three pages of a list, tokens "p2", "p3", remembering the tokens asked for."""

    asked: list[str] = field(default_factory=list)

    async def __call__(self, token: str) -> Page:
        self.asked.append(token)
        return {"": Page([1, 2, 3], "p2"), "p2": Page([4, 5, 6], "p3"), "p3": Page([7])}[token]


async def test_every_page_is_read_in_order() -> None:
    fetch = Pages()
    assert [u async for u in every_page(fetch, "units")] == [1, 2, 3, 4, 5, 6, 7]
    assert fetch.asked == ["", "p2", "p3"]


async def test_reading_stops_at_the_bound() -> None:
    fetch = Pages()
    assert [u async for u in every_page(fetch, "units", limit=4)] == [1, 2, 3, 4, 5, 6]
    assert fetch.asked == ["", "p2"]
