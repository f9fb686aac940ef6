"""Which provinces a scoped audit replay reads: the scope's, closed over unit moves and area successions."""

from __future__ import annotations

import pytest

from antt.events.v1 import registry_pb2 as pb
from antt.messaging.consumer import ReceivedEvent
from services.reporting.replay import provinces_needed
from services.reporting.rollup.report import Scope
from tests.unit.notifications.helpers import received

pytestmark = pytest.mark.unit


def commune(code: str, province: str) -> ReceivedEvent:
    return received("registry", pb.AreaCreated(level="commune", code=code, name=code, parent_level="province",
                                               parent_code=province), province, code)


def moved(unit: str, old: str, new: str) -> ReceivedEvent:
    return received("registry", pb.UnitMoved(unit_id=unit, from_province_code=old, from_commune_code="00001",
                                             province_code=new, commune_code="00002"), new, "00002")


AREAS = [commune("00001", "01"), commune("00002", "31"), commune("00003", "79"), commune("00004", "48")]


def test_a_province_alone_reads_only_itself() -> None:
    assert provinces_needed(Scope.parse("province:01"), AREAS, []) == {"01"}
    assert provinces_needed(Scope.parse("commune:00003"), AREAS, []) == {"79"}


def test_unit_moves_link_both_provinces_transitively() -> None:
    moves = [moved("u1", "01", "31"), moved("u2", "31", "79")]
    assert provinces_needed(Scope.parse("province:01"), AREAS, moves) == {"01", "31", "79"}
    assert provinces_needed(Scope.parse("province:48"), AREAS, moves) == {"48"}


def test_a_commune_merged_across_provinces_links_them() -> None:
    merged = received("registry", pb.AreaMergedInto(level="commune", code="00004", target_code="00001"), "48", "00004")
    assert provinces_needed(Scope.parse("province:01"), [*AREAS, merged], []) == {"01", "48"}


def test_an_area_of_unknown_province_or_an_unknown_commune_reads_everything() -> None:
    orphan = received("registry", pb.AreaCreated(level="commune", code="00009", name="x", parent_level="district",
                                                 parent_code="001"), "", "")
    split = received("registry", pb.AreaSplitUp(level="commune", code="00009", target_codes=["00001"]), "", "")
    assert provinces_needed(Scope.parse("province:01"), [*AREAS, orphan, split], []) is None
    assert provinces_needed(Scope.parse("commune:99999"), AREAS, []) is None
