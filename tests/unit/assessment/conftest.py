"""Fixtures for the assessment unit tests."""

from __future__ import annotations

import pytest

from antt.actor import Actor
from services.assessment.application import Assessments
from services.assessment.domain.units import StaticUnitDirectory
from services.assessment.rules import RuleCatalogue, RuleSet, load_catalogue

from .builders import COMMUNE, YEAR


@pytest.fixture
def actor() -> Actor:
    """A commune officer."""
    return Actor(id="user:can-bo-xa", role="can_bo", tier="xa", jurisdiction=COMMUNE)


@pytest.fixture(scope="session")
def catalogue() -> RuleCatalogue:
    """The packaged rule sets."""
    return load_catalogue()


@pytest.fixture
def rules(catalogue: RuleCatalogue) -> RuleSet:
    """The rule set governing the test year."""
    return catalogue.for_year(YEAR)


@pytest.fixture
def directory() -> StaticUnitDirectory:
    """An empty unit directory."""
    return StaticUnitDirectory()


@pytest.fixture
def app(catalogue: RuleCatalogue, directory: StaticUnitDirectory) -> Assessments:
    """An in-memory Assessments application."""
    return Assessments(rules=catalogue, units=directory)
