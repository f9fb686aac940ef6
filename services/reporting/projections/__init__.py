"""Reporting's read models, one module per read model, all in one MetaData.

`on_registry_event` and `on_assessment_event` are the projections of the two durable consumers; the
first read model (units per province: `units`, `province_unit_counts`, `unit_counts`) is kept as is.
"""

from __future__ import annotations

import sqlalchemy as sa

from antt.messaging.consumer import ReceivedEvent
from antt.eventstore.persistence import create_tables, write_transaction
from services.reporting.projections import areas, cases, catch_up, lives, province_counts, version
from services.reporting.projections import units as unit_history
from services.reporting.projections.province_counts import province_unit_counts, unit_counts, units
from services.reporting.projections.schema import metadata

__all__ = ["metadata", "units", "province_unit_counts", "unit_counts", "on_registry_event", "on_registry_events",
           "on_assessment_event", "on_assessment_events", "areas", "cases", "lives", "unit_history", "province_counts",
           "prepare", "version", "read_model_tables", "catch_up"]


def on_registry_event(conn: sa.Connection, event: ReceivedEvent) -> None:
    """Apply a registry event to every registry-fed read model (once per event, by the consumer base)."""
    province_counts.apply(conn, event)
    unit_history.apply(conn, event)
    areas.apply(conn, event)
    version.bump(conn)


def on_registry_events(conn: sa.Connection, events: list[ReceivedEvent]) -> None:
    """`on_registry_event` for a fetched batch: the read models' tables are disjoint, so each read model
    takes the whole batch in turn, with a few statements per table."""
    province_counts.apply_batch(conn, events)
    unit_history.apply_batch(conn, events)
    areas.apply_batch(conn, events)
    version.bump(conn)


def on_assessment_event(conn: sa.Connection, event: ReceivedEvent) -> None:
    """Apply an assessment event to the case and classification read model."""
    cases.apply(conn, event)
    version.bump(conn)


def on_assessment_events(conn: sa.Connection, events: list[ReceivedEvent]) -> None:
    """`on_assessment_event` for a fetched batch: each (unit, year) row read and written once."""
    cases.apply_batch(conn, events)
    version.bump(conn)


def read_model_tables() -> dict[str, sa.Table]:
    """Every read-model table by name (the data version counter is bookkeeping: rebuilds raise it differently)."""
    return {name: table for name, table in metadata.tables.items() if table.info.get("read_model", True)}


def prepare(engine: sa.Engine) -> None:
    """Create the read models (with any index a stopped catch-up left aside), and build the lives of a store kept
    from before they existed from its history."""
    create_tables(engine, metadata)
    with write_transaction(engine) as conn:
        catch_up.restore(conn)
        if lives.backfill(conn, unit_history.unit_history):
            version.bump(conn)
