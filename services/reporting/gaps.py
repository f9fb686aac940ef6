"""Gap check: what the live read models have seen against what the streams hold."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from antt.messaging.tracking import tracking
from services.reporting import projections
from services.reporting.consumers import CONSUMERS
from services.reporting.replay import _plain, build_store, discard, read_streams


@dataclass
class Gaps:
    """Positions not applied, per source, and read-model rows missing or unexpected, per table."""

    events_in_stream: dict[str, int] = field(default_factory=dict)
    events_applied: dict[str, int] = field(default_factory=dict)
    unapplied_positions: dict[str, list[int]] = field(default_factory=dict)
    missing_rows: dict[str, list[list[Any]]] = field(default_factory=dict)
    unexpected_rows: dict[str, list[list[Any]]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """No gap of any kind."""
        return not (self.unapplied_positions or self.missing_rows or self.unexpected_rows)

    def lines(self) -> list[str]:
        """A human-readable account, one line per finding (Vietnamese / English)."""
        out = [f"{s}: {self.events_applied.get(s, 0)}/{n} sự kiện đã áp dụng / events applied"
               for s, n in sorted(self.events_in_stream.items())]
        for s, positions in sorted(self.unapplied_positions.items()):
            out.append(f"{s}: thiếu vị trí / unapplied positions {positions[:20]}")
        for t, rows in sorted(self.missing_rows.items()):
            out.append(f"{t}: thiếu {len(rows)} dòng / {len(rows)} missing rows, e.g. {rows[0]}")
        for t, rows in sorted(self.unexpected_rows.items()):
            out.append(f"{t}: thừa {len(rows)} dòng / {len(rows)} unexpected rows, e.g. {rows[0]}")
        return out


def _rows(engine: Engine) -> dict[str, set[tuple[Any, ...]]]:
    with engine.connect() as conn:
        return {name: {tuple(_plain(v) for v in r) for r in conn.execute(sa.select(table))}
                for name, table in projections.read_model_tables().items()}


async def check(engine: Engine, nats_url: str) -> Gaps:
    """Compare tracked positions with the streams, then every read-model row with a rebuild in a scratch store."""
    streams = await read_streams(nats_url)
    gaps = Gaps()
    with engine.connect() as conn:
        for spec in CONSUMERS:
            tracked = {int(r.position) for r in conn.execute(sa.select(tracking.c.position).where(
                tracking.c.consumer == spec.name, tracking.c.source == spec.source))}
            positions = {e.envelope.position for e in streams.get(spec.source, [])}
            gaps.events_in_stream[spec.source] = len(positions)
            gaps.events_applied[spec.source] = len(positions & tracked)
            if positions - tracked:
                gaps.unapplied_positions[spec.source] = sorted(positions - tracked)
    # Only events the live store has applied are expected in it: a consumer that is behind is not a gap in rows.
    applied = {}
    for spec in CONSUMERS:
        behind = set(gaps.unapplied_positions.get(spec.source, []))
        applied[spec.source] = [e for e in streams.get(spec.source, []) if e.envelope.position not in behind]
    scratch = build_store(applied)
    try:
        expected, live = _rows(scratch), _rows(engine)
    finally:
        discard(scratch)
    for name in sorted(expected):
        missing, extra = expected[name] - live.get(name, set()), live.get(name, set()) - expected[name]
        if missing:
            gaps.missing_rows[name] = sorted([list(r) for r in missing], key=str)
        if extra:
            gaps.unexpected_rows[name] = sorted([list(r) for r in extra], key=str)
    return gaps
