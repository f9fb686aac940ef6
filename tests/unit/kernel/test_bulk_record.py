"""Bulk saves of pre-encoded events (`record`) and "which ids exist" (`existing_ids`), on every backend."""

from __future__ import annotations

import pytest
from eventsourcing.persistence import IntegrityError

from antt.actor import SYSTEM
from services.registry.application import Registry
from services.registry.domain.unit import Unit

pytestmark = pytest.mark.unit


def encoded(app: Registry, *codes: str) -> tuple[list[Unit], list[object]]:
    """New units and their events, encoded with the app's mapper as an import does."""
    units = [app.new_unit(code, f"Thôn {code}", "khu_dan_cu", "31", "11948", SYSTEM) for code in codes]
    return units, [app.mapper.to_stored_event(e) for u in units for e in u.collect_events()]


def check(app: Registry) -> None:
    saved = app.register_unit("A-0", "Thôn A", "khu_dan_cu", "31", "11948", SYSTEM)
    many = [Unit.create_id(f"X-{i}") for i in range(1200)]  # more than one query's worth of ids
    assert app.existing_ids([*many, saved.id, saved.id]) == {saved.id}
    units, stored = encoded(app, "B-1", "B-2")
    app.record(stored)  # type: ignore[arg-type]
    assert app.recorder.max_notification_id() == 3
    assert app.existing_ids([saved.id, units[0].id, units[1].id, many[0]]) == {saved.id, units[0].id, units[1].id}
    # Read back exactly as if saved through the aggregate, chain included.
    again = app.get_unit(units[1].id)
    assert (again.code, again.version) == ("B-2", 1)
    assert app.verify_chains() == []
    # A repeated unit rejects the whole bulk save: nothing of it is written.
    before = app.recorder.max_notification_id()
    _, repeated = encoded(app, "C-1", "B-1")
    with pytest.raises(IntegrityError):
        app.record(repeated)  # type: ignore[arg-type]
    assert app.recorder.max_notification_id() == before
    assert app.existing_ids([Unit.create_id("C-1")]) == set()


def test_bulk_record_and_existing_ids_in_memory() -> None:
    check(Registry())


@pytest.mark.integration
def test_bulk_record_and_existing_ids_in_the_database(database_urls: dict[str, str]) -> None:
    app = Registry(database_urls["registry"])
    try:
        check(app)
    finally:
        app.close()
