"""The lives read model (one row per unit, folded event by event) equals a reading of the unit's whole history
(property-based: random histories, per event or batched, and backfilled)."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from antt.eventstore.persistence import sqlalchemy_url
from antt.testing import postgres
from services.reporting import projections
from services.reporting.consumers import FROM_REGISTRY
from services.reporting.projections import lives
from services.reporting.projections.units import unit_history
from tests.conftest import postgres_server_url
from tests.unit.test_batch_projections import build, steps

pytestmark = pytest.mark.unit

_H = unit_history


def reference(conn: sa.Connection) -> dict[str, tuple[object, ...]]:
    """Each unit's life read from its whole history, in version order: whether it is simple (one registration,
    first; no move or closing; one eligibility value, or every eligibility effective by the opening), how often
    it was renamed and, when simple, its eligibility in force after the opening and its registration."""
    history: dict[str, list[sa.Row[tuple[object, ...]]]] = {}
    for r in conn.execute(sa.select(_H).order_by(_H.c.unit_id, _H.c.version)):
        history.setdefault(r.unit_id, []).append(r)
    out: dict[str, tuple[object, ...]] = {}
    for uid, rows in history.items():
        registrations = [r for r in rows if r.change == "registered"]
        eligibility = [(r.effective_from, bool(r.eligible)) for r in rows if r.eligible is not None]
        simple = (len(registrations) == 1 and rows[0].change == "registered"
                  and not any(r.change in ("moved", "closed") for r in rows)
                  and (len({e for _, e in eligibility}) <= 1
                       or all(since <= registrations[0].effective_from for since, _ in eligibility)))
        renamed = sum(1 for r in rows if r.change == "updated" and r.name)
        reg = registrations[0] if simple else None
        out[uid] = (simple, renamed, *((eligibility[-1][1] if eligibility else True, reg.effective_from, reg.code,
                                        reg.name, reg.unit_type, reg.province_code, reg.commune_code)
                                       if reg is not None else ()))
    return out


def stored(conn: sa.Connection) -> dict[str, tuple[object, ...]]:
    """The lives table in the reference's shape."""
    lv = lives.unit_lives
    out = {}
    for r in conn.execute(sa.select(lv)):
        out[r.unit_id] = (bool(r.simple), int(r.renamed),
                          *((bool(r.eligible), r.opened_on, r.code, r.name, r.unit_type, r.province_code,
                             r.commune_code) if r.simple else ()))
    return out


def last_names(conn: sa.Connection) -> dict[str, str]:
    """The name the fold gives a simple life: its last non-empty UnitUpdated name, else its registered name."""
    names: dict[str, str] = {}
    for r in conn.execute(sa.select(_H).order_by(_H.c.unit_id, _H.c.version)):
        if r.change == "registered" or (r.change == "updated" and r.name):
            names[r.unit_id] = r.name
    return names


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plan=steps, batched=st.booleans(), cut=st.integers(0, 40))
def test_lives_equal_the_aggregation_of_the_history(plan: list[tuple[str, int, int, bool]], batched: bool,
                                                    cut: int) -> None:
    # a second registration of a unit fails in `reporting_units` (its primary key), so none is generated
    events = build(plan, reregister=False)
    engine = sa.create_engine("sqlite://")
    projections.metadata.create_all(engine)
    assert FROM_REGISTRY.batch_projection is not None
    with engine.begin() as conn:
        if batched:
            cut = cut % (len(events) + 1)
            for part in (events[:cut], events[cut:]):
                if part:
                    FROM_REGISTRY.batch_projection(conn, part)
        else:
            for event in events:
                FROM_REGISTRY.projection(conn, event)
    with engine.connect() as conn:
        assert stored(conn) == reference(conn)
        names = last_names(conn)
        for r in conn.execute(sa.select(lives.unit_lives).where(lives.unit_lives.c.simple.is_(True))):
            assert (r.renamed_to if r.renamed else r.name) == names[r.unit_id]
        # a store made before the lives existed is backfilled to the same rows
        expected = sorted(tuple(r) for r in conn.execute(sa.select(lives.unit_lives)))
    with engine.begin() as conn:
        conn.execute(lives.unit_lives.delete())
        lives.backfill(conn, unit_history)
        assert sorted(tuple(r) for r in conn.execute(sa.select(lives.unit_lives))) == expected


@pytest.mark.postgres
def test_two_replicas_backfilling_together_on_postgresql_write_each_life_once() -> None:
    # replica A backfills and has not committed yet; replica B starts meanwhile and must wait, then find the rows
    plan = [("registered", u, u % 3, True) for u in range(4)]
    with postgres.temporary_databases(postgres_server_url()) as (url,):
        engine = sa.create_engine(sqlalchemy_url(url))
        try:
            projections.metadata.create_all(engine)
            with engine.begin() as conn:
                for event in build(plan, reregister=False):
                    FROM_REGISTRY.projection(conn, event)
                conn.execute(lives.unit_lives.delete())
            outcome: list[object] = []
            with engine.connect() as first:
                first.begin()
                assert lives.backfill(first, unit_history) == 4
                other = threading.Thread(target=lambda: outcome.append(_prepare_or_error(engine)))
                other.start()
                other.join(timeout=1.0)
                assert other.is_alive()  # waiting for the first backfill's lock
                first.commit()
            other.join(timeout=30)
            assert outcome == [None]
            with engine.connect() as conn:
                assert conn.execute(sa.select(sa.func.count()).select_from(lives.unit_lives)).scalar_one() == 4
        finally:
            engine.dispose()


def _prepare_or_error(engine: sa.Engine) -> Exception | None:
    """Start a replica's reporting store: None, or the error it failed with."""
    try:
        projections.prepare(engine)
    except Exception as exc:  # noqa: BLE001 - the test asserts there is none
        return exc
    return None
