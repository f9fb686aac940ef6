"""The reminder ledger: one ReminderDelivery per (obligation, offset, recipient), claimed before sending.

The aggregate id is a UUID5 of the key, so a second claim of the same key (a replay, a restart,
another replica) collides in the event store instead of sending twice. The delivery then records
each failed attempt, and ends as sent or given up. The hand-over, recorded just before the channel's
commit point, is what makes a restart safe: a delivery claimed but not handed over never reached the
channel and is sent again; one handed over is never sent again.
"""

from __future__ import annotations

import enum
import json
import uuid
from datetime import datetime, timedelta
from typing import Any

from eventsourcing.domain import event

from antt.eventstore.hashchain import ChainedAggregate
from services.notifications.domain.errors import DeliveryAlreadySettledError, InvalidReminderOffsetError

DELIVERY_NAMESPACE = uuid.UUID("2b0f6c1e-7d4a-5e39-8c61-4e6f0a9d2026")
_SEPARATOR = "|"


def reminder_key(obligation_key: str, offset: str, recipient: str) -> str:
    """The idempotency key of a reminder: obligation, offset and recipient, joined by '|'."""
    parts = (obligation_key, offset, recipient)
    if any(not p or _SEPARATOR in p for p in parts):
        raise InvalidReminderOffsetError("Khóa nhắc việc không hợp lệ", f"invalid reminder key parts {parts!r}",
                                         field="key")
    return _SEPARATOR.join(parts)


def delivery_id(key: str) -> uuid.UUID:
    """The ReminderDelivery id of a key (UUID5): equal keys, equal ids."""
    return uuid.uuid5(DELIVERY_NAMESPACE, key)


class DeliveryStatus(enum.Enum):
    """Where a delivery stands."""

    CLAIMED = "claimed"  # recorded before the send; the outcome is not known yet
    HANDED_OVER = "handed_over"  # recorded just before the channel's commit point: never sent again
    SENT = "sent"
    GIVEN_UP = "given_up"  # every attempt failed


class ReminderDelivery(ChainedAggregate):
    """The at-most-once record of one reminder (or digest) to one recipient."""

    @staticmethod
    def create_id(key: str) -> uuid.UUID:
        """Deliveries are keyed by their reminder key."""
        return delivery_id(key)

    @event("Claimed")
    def __init__(self, key: str, channel: str, claimed_by: str, claimed_at: datetime,
                 message: dict[str, Any] | None = None, sent_receipt: str | None = None) -> None:
        self.key = key
        self.channel = channel
        self.claimed_by = claimed_by
        self.claimed_at = claimed_at
        self.message = dict(message or {})  # what is sent (address, subject, body, facts): kept for retries
        self.attempts = 0
        self.last_error = ""
        self.last_failure_at: datetime | None = None
        # With a receipt the claim is the send (the NATS channel: the stored event is what the relay
        # publishes), so one event records both and the delivery is settled from its first version.
        self.receipt = sent_receipt or ""
        self.status_value = (DeliveryStatus.CLAIMED if sent_receipt is None else DeliveryStatus.SENT).value
        self.settled_at: datetime | None = None if sent_receipt is None else claimed_at

    @property
    def status(self) -> DeliveryStatus:
        """CLAIMED, SENT or GIVEN_UP."""
        return DeliveryStatus(self.status_value)

    def _require_open(self, *allowed: DeliveryStatus) -> None:
        if self.status not in (allowed or (DeliveryStatus.CLAIMED,)):
            raise DeliveryAlreadySettledError(self.key, self.status.value)

    def reclaim(self, by: str, at: datetime) -> None:
        """A new attempt by `by` (after a failure's backoff, or a claim whose worker vanished).

        Never after the hand-over: a message that may have reached the channel is not sent again.
        """
        self._require_open()
        self._reclaimed(by, at)

    @event("Reclaimed")
    def _reclaimed(self, by: str, at: datetime) -> None:
        self.claimed_by = by
        self.claimed_at = at

    def hand_over(self, at: datetime) -> None:
        """Recorded just before the channel's commit point (the SMTP end of data, the last body byte)."""
        self._require_open()
        self._handed_over(at)

    @event("HandedOver")
    def _handed_over(self, at: datetime) -> None:
        self.status_value = DeliveryStatus.HANDED_OVER.value
        self.handed_over_at = at

    def mark_sent(self, at: datetime, receipt: str = "") -> None:
        """Records that the channel accepted the message; only once."""
        self._require_open(DeliveryStatus.CLAIMED, DeliveryStatus.HANDED_OVER)
        self._sent(at, receipt)

    @event("Sent")
    def _sent(self, at: datetime, receipt: str) -> None:
        self.status_value = DeliveryStatus.SENT.value
        self.settled_at = at
        self.receipt = receipt

    def record_failure(self, at: datetime, error: str, max_attempts: int) -> None:
        """Counts a failed attempt; after `max_attempts` failures the delivery is given up."""
        self._require_open(DeliveryStatus.CLAIMED, DeliveryStatus.HANDED_OVER)
        self._attempt_failed(at, error[:500])
        if self.attempts >= max_attempts:
            self._given_up(at)

    @event("AttemptFailed")
    def _attempt_failed(self, at: datetime, error: str) -> None:
        self.status_value = DeliveryStatus.CLAIMED.value  # a refusal after the hand-over is retried
        self.attempts += 1
        self.last_error = error
        self.last_failure_at = at

    @event("GivenUp")
    def _given_up(self, at: datetime) -> None:
        self.status_value = DeliveryStatus.GIVEN_UP.value
        self.settled_at = at

    @property
    def settled(self) -> bool:
        """True once sent or given up."""
        return self.status in (DeliveryStatus.SENT, DeliveryStatus.GIVEN_UP)

    def retry_at(self, base: timedelta = timedelta(seconds=30), cap: timedelta = timedelta(hours=1)) -> datetime:
        """When the next attempt may start: at once after the claim, then exponential backoff, capped."""
        if self.last_failure_at is None:
            return self.claimed_at
        return self.last_failure_at + min(base * (1 << min(self.attempts - 1, 30)), cap)


class NoticeChunk(ChainedAggregate):
    """Event-only notices of one commune sent by one scan: one stored event lists them all.

    The keys are claimed in the listing table (its primary key holds each key once) in the transaction
    that also records the pending chunk; the chunk's id comes from that record, so saving it again
    after a crash collides in the event store instead of publishing twice.
    """

    @event("Sent")
    def __init__(self, chunk_id: str, sent_at: datetime, channel: str, province_code: str, commune_code: str,
                 groups: list[dict[str, Any]]) -> None:
        # groups: [{"notice", "offset", "obligation": facts without key and unit, "items": JSON text of
        # [[key, unit_id, recipient], ...]}]: what each notice shares with its group is stored once, and the
        # items are one string (the hash chain canonicalises a string at once, not item by item); or, in place
        # of "items", the unit ids alone and what rebuilds each item from one (see `chunk_items`).
        self.chunk_id = chunk_id
        self.sent_at = sent_at
        self.channel = channel
        self.province_code = province_code
        self.commune_code = commune_code
        self.groups = groups

    @staticmethod
    def create_id(chunk_id: str) -> uuid.UUID:
        """A chunk's id is derived from its claim record: equal records, equal ids."""
        return uuid.uuid5(DELIVERY_NAMESPACE, f"chunk:{chunk_id}")

    def keys(self) -> list[str]:
        """The reminder keys the chunk sent."""
        return [item[0] for g in self.groups for item in chunk_items(g)]


def chunk_items(group: dict[str, Any]) -> list[list[str]]:
    """[key, unit_id, recipient] of each notice of a NoticeChunk group.

    A group holds its items, or (stored so since their text was ≈ 4x longer) only its unit ids: each item is
    then [key_head + unit + key_tail + recipient, unit, recipient], the recipient being recipient_head + unit
    when `recipient_per_unit`, else recipient_head.
    """
    if "units" in group:
        head, tail, label = group["key_head"], group["key_tail"], group["recipient_head"]
        if group["recipient_per_unit"]:
            return [[head + u + tail + label + u, u, label + u] for u in json.loads(group["units"])]
        return [[head + u + tail + label, u, label] for u in json.loads(group["units"])]
    items = group["items"]
    return json.loads(items) if isinstance(items, str) else items
