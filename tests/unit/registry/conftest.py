"""Fixtures for the registry's unit tests: an in-memory Registry, with or without the reference tree."""

from __future__ import annotations

from datetime import date

import pytest

from antt.actor import Actor
from services.registry.application import Registry

JUNE_2025 = date(2025, 6, 15)
JULY_2025 = date(2025, 7, 15)
MERGER = date(2025, 7, 1)
OFFICER = Actor(id="user:test", role="officer", tier="province", jurisdiction="31")


@pytest.fixture
def app() -> Registry:
    """An empty registry in memory."""
    return Registry()


@pytest.fixture
def tree_app() -> Registry:
    """A registry holding the reference tree, with the 2025 communes of Hải Phòng (31) and Hà Nội (01) only."""
    registry = Registry()
    registry.load_reference_tree(OFFICER, commune_provinces={"31", "01"})
    return registry
