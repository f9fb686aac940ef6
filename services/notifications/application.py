"""Notifications application: the reminder ledger in the event store, and its listing table.

Every state change of a ReminderDelivery is an optimistic write: the claim is the first event of
an aggregate whose id is derived from the reminder key (a second claim fails in the store), and
every later change (hand-over, sent, failure, take-over) is checked against the version read, so
of two workers only one can hand a message over.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError
from sqlalchemy.engine import Engine

from antt.eventstore.persistence import create_tables
from antt.eventstore.application import ServiceApplication
from antt.messaging.tracking import metadata as tracking_metadata
from services.notifications import projections
from services.notifications.domain.errors import DeliveryAlreadySettledError
from services.notifications.domain.ledger import ReminderDelivery, delivery_id

ledger_metadata = sa.MetaData()

# A listing of the ledger for queries and scans; the event store stays the truth (rows are healed
# from it whenever a claim collides with a delivery the table does not know).
CLAIM_CHUNK = 500  # notices saved per transaction by claim_sent
deliveries = sa.Table(
    "notifications_deliveries", ledger_metadata,
    sa.Column("key", sa.String(400), primary_key=True),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("channel", sa.String(16), nullable=False),
    sa.Column("recipient", sa.String(80), nullable=False, server_default=""),
    sa.Column("address", sa.String(1000), nullable=False, server_default=""),
    sa.Column("unit_id", sa.String(36), nullable=False, server_default=""),
    sa.Column("province_code", sa.String(5), nullable=False, server_default="", index=True),
    sa.Column("commune_code", sa.String(5), nullable=False, server_default="", index=True),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_error", sa.String(500), nullable=False, server_default=""),
    sa.Column("claimed_by", sa.String(100), nullable=False, server_default=""),
    sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("retry_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
)



class Notifications(ServiceApplication):
    """The reminder ledger (never rename: the class name names the event store's tables)."""

    service_name = "notifications"

    def __init__(self, database_url: str | None = None, env: dict[str, str] | None = None,
                 engine: Engine | None = None) -> None:
        super().__init__(database_url, env)
        self.engine = engine
        if engine is not None:
            create_tables(engine, ledger_metadata, projections.metadata, tracking_metadata)

    # -- ledger -------------------------------------------------------------------------------------
    def claim(self, key: str, channel: str, by: str, at: datetime, message: dict[str, Any],
              sent_receipt: str | None = None) -> ReminderDelivery | None:
        """Record the intent to send; None when the key is claimed already (by anyone, ever).

        With `sent_receipt` the claim and the send are one event: for the NATS channel, where the
        stored event is itself what the outbox relay publishes.
        """
        delivery = ReminderDelivery(key=key, channel=channel, claimed_by=by, claimed_at=at, message=message,
                                    sent_receipt=sent_receipt)
        try:
            self.save(delivery)
        except IntegrityError:
            self.refresh_row(key)
            return None
        self.write_row(delivery)
        return delivery

    def get_delivery(self, key: str) -> ReminderDelivery | None:
        """The delivery of a key, or None."""
        try:
            return self.repository.get(delivery_id(key))  # type: ignore[no-any-return]
        except AggregateNotFoundError:
            return None

    def take_over(self, key: str, by: str, at: datetime) -> ReminderDelivery | None:
        """A new attempt on an open delivery; None when it was settled, handed over or taken by someone else."""
        delivery = self.get_delivery(key)
        if delivery is None:
            return None
        try:
            delivery.reclaim(by, at)
            self.save(delivery)
        except (IntegrityError, DeliveryAlreadySettledError):
            self.refresh_row(key)
            return None
        self.write_row(delivery)
        return delivery

    def hand_over(self, delivery: ReminderDelivery, at: datetime) -> bool:
        """Record the hand-over; False when another worker changed the delivery first.

        The listing row is not touched here: the channel commits right after this write, and the
        shorter that gap, the smaller the window in which a crash leaves a handed-over message unsent.
        """
        try:
            delivery.hand_over(at)
            self.save(delivery)
        except (IntegrityError, DeliveryAlreadySettledError):
            return False
        return True

    def mark_sent(self, delivery: ReminderDelivery, at: datetime, receipt: str) -> bool:
        """Record the channel's acceptance; False when another worker changed the delivery first."""
        try:
            delivery.mark_sent(at, receipt[:500])
            self.save(delivery)
        except (IntegrityError, DeliveryAlreadySettledError):
            self.refresh_row(delivery.key)
            return False
        self.write_row(delivery)
        return True

    def record_failure(self, delivery: ReminderDelivery, at: datetime, error: str, max_attempts: int) -> bool:
        """Record a failed attempt (given up after `max_attempts`); False on a concurrent change."""
        try:
            delivery.record_failure(at, error, max_attempts)
            self.save(delivery)
        except (IntegrityError, DeliveryAlreadySettledError):
            self.refresh_row(delivery.key)
            return False
        self.write_row(delivery)
        return True

    # -- listing table ------------------------------------------------------------------------------
    def claim_sent(self, claims: list[tuple[str, str, str, datetime, dict[str, Any]]], receipt: str,
                   chunk: int = CLAIM_CHUNK) -> list[ReminderDelivery | None]:
        """`claim(..., sent_receipt=receipt)` for many (key, channel, by, at, message), a chunk per write.

        One transaction saves a whole chunk; a chunk meeting a key claimed already is claimed again
        one by one, so each key is still claimed once and the others are not held back.
        """
        out: list[ReminderDelivery | None] = []
        for first in range(0, len(claims), chunk):
            part = claims[first:first + chunk]
            made = []
            for key, channel, by, at, message in part:
                made.append(ReminderDelivery(key=key, channel=channel, claimed_by=by, claimed_at=at, message=message,
                                             sent_receipt=receipt))
            try:
                self.save(*made)
            except IntegrityError:
                out.extend(self.claim(k, c, b, a, m, sent_receipt=receipt) for k, c, b, a, m in part)
                continue
            self.write_rows(made, new=True)
            out.extend(made)
        return out

    def write_row(self, d: ReminderDelivery) -> None:
        """Upsert the listing row of a delivery (after each saved change)."""
        self.write_rows([d])

    def write_rows(self, changed: list[ReminderDelivery], new: bool = False) -> None:
        """Upsert the listing rows of deliveries in one transaction.

        With `new` (deliveries just created in the store) the rows are inserted in one statement; a
        row healed meanwhile from the store by another worker makes it fall back to the upsert per row.
        """
        if self.engine is None or not changed:
            return
        with self.engine.begin() as conn:
            if new:
                try:
                    with conn.begin_nested():
                        conn.execute(_INSERT_ROW, [{"key": d.key, **_row_values(d)} for d in changed])
                    return
                except sa.exc.IntegrityError:
                    pass  # some row exists already: the per-row upsert below settles each one
            for d in changed:
                values = _row_values(d)
                if conn.execute(_UPDATE_ROW, {"target_key": d.key, **values}).rowcount == 0:
                    try:
                        with conn.begin_nested():
                            conn.execute(_INSERT_ROW, {"key": d.key, **values})
                    except sa.exc.IntegrityError:
                        conn.execute(_UPDATE_ROW, {"target_key": d.key, **values})

    def refresh_row(self, key: str) -> None:
        """Rewrite a row from the event store (the truth)."""
        delivery = self.get_delivery(key)
        if delivery is not None:
            self.write_row(delivery)


# Built once and executed with parameters: a statement built per row cost more than the SQL.
_UPDATE_ROW = deliveries.update().where(deliveries.c.key == sa.bindparam("target_key"))
_INSERT_ROW = deliveries.insert()


def _row_values(d: ReminderDelivery) -> dict[str, Any]:
    """The listing row of a delivery, without its key."""
    facts = d.message.get("facts", {})
    return dict(
        status=d.status.value, channel=d.channel, recipient=facts.get("recipient", ""),
        address=d.message.get("address", ""), unit_id=facts.get("unit_id", ""),
        province_code=facts.get("province_code", ""), commune_code=facts.get("commune_code", ""),
        attempts=d.attempts, last_error=d.last_error, claimed_by=d.claimed_by, claimed_at=d.claimed_at,
        retry_at=d.retry_at(), updated_at=d.settled_at or d.last_failure_at or d.claimed_at,
    )
