"""The reminder ledger: a reminder key is claimed once, then sent, retried or given up."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from eventsourcing.persistence import IntegrityError

from antt.eventstore.application import ServiceApplication
from services.notifications.domain.errors import DeliveryAlreadySettledError, InvalidReminderOffsetError
from services.notifications.domain.ledger import DeliveryStatus, ReminderDelivery, delivery_id, reminder_key

pytestmark = pytest.mark.unit

T0 = datetime(2026, 1, 19, 8, 0, tzinfo=timezone(timedelta(hours=7)))
KEY = reminder_key("2026/registration/u1", "D-14", "unit:u1")


class LedgerStore(ServiceApplication):
    """An in-memory store, as the notifications application will hold the ledger."""

    service_name = "notifications-test"


def test_the_key_is_obligation_offset_and_recipient() -> None:
    assert KEY == "2026/registration/u1|D-14|unit:u1"
    assert delivery_id(KEY) == delivery_id("2026/registration/u1|D-14|unit:u1")
    assert delivery_id(KEY) != delivery_id(reminder_key("2026/registration/u1", "D-7", "unit:u1"))
    with pytest.raises(InvalidReminderOffsetError):
        reminder_key("a|b", "D-1", "unit:u1")


def test_a_second_claim_of_the_same_key_collides_in_the_store() -> None:
    store = LedgerStore()
    store.save(ReminderDelivery(key=KEY, channel="email", claimed_by="replica-a", claimed_at=T0))
    with pytest.raises(IntegrityError):
        store.save(ReminderDelivery(key=KEY, channel="email", claimed_by="replica-b", claimed_at=T0))
    stored: ReminderDelivery = store.repository.get(delivery_id(KEY))
    assert (stored.claimed_by, stored.status) == ("replica-a", DeliveryStatus.CLAIMED)


def test_a_claim_with_a_receipt_is_the_send_in_one_event_and_still_collides() -> None:
    store = LedgerStore()
    store.save(ReminderDelivery(key=KEY, channel="nats", claimed_by="replica-a", claimed_at=T0,
                                sent_receipt="outbox"))
    with pytest.raises(IntegrityError):
        store.save(ReminderDelivery(key=KEY, channel="nats", claimed_by="replica-b", claimed_at=T0,
                                    sent_receipt="outbox"))
    stored: ReminderDelivery = store.repository.get(delivery_id(KEY))
    assert (stored.version, stored.status, stored.settled_at, stored.receipt) == (1, DeliveryStatus.SENT, T0,
                                                                                   "outbox")
    assert stored.settled
    with pytest.raises(DeliveryAlreadySettledError):
        stored.mark_sent(T0, "again")


def test_failures_are_retried_with_backoff_then_the_send_is_recorded_once() -> None:
    store = LedgerStore()
    delivery = ReminderDelivery(key=KEY, channel="webhook", claimed_by="replica-a", claimed_at=T0)
    assert delivery.retry_at() == T0
    delivery.record_failure(T0, "HTTP 503", max_attempts=5)
    delivery.record_failure(T0 + timedelta(seconds=30), "HTTP 503", max_attempts=5)
    assert delivery.retry_at() == T0 + timedelta(seconds=30) + timedelta(seconds=60)
    delivery.mark_sent(T0 + timedelta(seconds=90), receipt="200")
    store.save(delivery)
    stored: ReminderDelivery = store.repository.get(delivery.id)
    assert (stored.status, stored.attempts) == (DeliveryStatus.SENT, 2)
    with pytest.raises(DeliveryAlreadySettledError) as caught:
        stored.mark_sent(T0 + timedelta(minutes=5))
    assert caught.value.reason == "DELIVERY_ALREADY_SETTLED"
    assert store.verify_chains() == []


def test_a_delivery_is_given_up_after_the_last_allowed_attempt() -> None:
    delivery = ReminderDelivery(key=KEY, channel="email", claimed_by="replica-a", claimed_at=T0)
    for attempt in range(3):
        delivery.record_failure(T0 + timedelta(minutes=attempt), "connection refused", max_attempts=3)
    assert delivery.status is DeliveryStatus.GIVEN_UP
    with pytest.raises(DeliveryAlreadySettledError):
        delivery.record_failure(T0 + timedelta(minutes=5), "again", max_attempts=3)


def test_a_taken_over_claim_refuses_the_first_workers_hand_over() -> None:
    store = LedgerStore()
    store.save(ReminderDelivery(key=KEY, channel="email", claimed_by="replica-a", claimed_at=T0))
    slow: ReminderDelivery = store.repository.get(delivery_id(KEY))  # replica-a, still building its message
    other: ReminderDelivery = store.repository.get(delivery_id(KEY))
    other.reclaim("replica-b", T0 + timedelta(minutes=3))
    store.save(other)
    slow.hand_over(T0 + timedelta(minutes=3, seconds=1))
    with pytest.raises(IntegrityError):  # the version replica-a read is gone: it must not commit the send
        store.save(slow)
    stored: ReminderDelivery = store.repository.get(delivery_id(KEY))
    assert (stored.claimed_by, stored.status) == ("replica-b", DeliveryStatus.CLAIMED)


def test_a_handed_over_delivery_is_never_taken_over_but_a_refusal_after_it_is_retried() -> None:
    delivery = ReminderDelivery(key=KEY, channel="email", claimed_by="replica-a", claimed_at=T0)
    delivery.hand_over(T0)
    assert delivery.status is DeliveryStatus.HANDED_OVER
    with pytest.raises(DeliveryAlreadySettledError):
        delivery.reclaim("replica-b", T0 + timedelta(hours=1))
    delivery.record_failure(T0, "554 rejected after end of data", max_attempts=5)  # the server said no
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.CLAIMED, 1)
    delivery.reclaim("replica-a", delivery.retry_at())
    delivery.hand_over(delivery.retry_at())
    delivery.mark_sent(delivery.retry_at(), "250 OK")
    assert delivery.settled
