"""The notifications service's published language: ledger events -> antt.events.v1 notification payloads.

Only outcomes are published: a sent reminder (ReminderSent), a sent digest (OverdueEscalated) and a
reminder given up (ReminderFailed), from a Sent event, or from a claim that was the send itself (the NATS
channel: Claimed with a receipt), and the event-only notices a scan claimed in bulk (RemindersSent, one
message per NoticeChunk: one commune's notices). Other claims, hand-overs and failed attempts stay internal.
"""

from __future__ import annotations

from typing import Any

from antt.contracts.meta import event_meta
from antt.events.v1 import notifications_pb2 as pb
from antt.relay.outbox import Published
from services.notifications.domain.ledger import NoticeChunk, ReminderDelivery, chunk_items


def _obligation(facts: dict[str, Any]) -> pb.ObligationRef:
    return pb.ObligationRef(**{k: facts[k] for k in pb.ObligationRef.DESCRIPTOR.fields_by_name if k in facts})


class NotificationsPublisher:
    """Maps stored ledger events to published messages; reads the delivery as of that event."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def to_message(self, event: Any) -> Published | None:
        """The published form of a stored event (None for internal ones)."""
        if isinstance(event, NoticeChunk.Sent):
            return chunk_message(event)
        claimed_sent = isinstance(event, ReminderDelivery.Claimed) and getattr(event, "sent_receipt", None) is not None
        if not (claimed_sent or isinstance(event, (ReminderDelivery.Sent, ReminderDelivery.GivenUp))):
            return None
        # A claim that was the send holds the whole delivery (version 1): no read of the store per notice.
        d: Any = (event.mutate(None) if claimed_sent
                  else self.app.repository.get(event.originator_id, version=event.originator_version))
        sent_at = event.claimed_at if claimed_sent else getattr(event, "at", None)
        facts = d.message.get("facts", {})
        meta = event_meta(event)
        province, commune = facts.get("province_code", ""), facts.get("commune_code", "")
        common = dict(meta=meta, channel=d.channel, province_code=province, commune_code=commune)
        if isinstance(event, ReminderDelivery.GivenUp):
            payload: Any = pb.ReminderFailed(reminder_key=d.key, obligation=_obligation(facts.get("obligation", {})),
                                             offset=facts.get("offset", ""), recipient=facts.get("recipient", ""),
                                             attempts=d.attempts, last_error=d.last_error, **common)
        elif facts.get("notice") == "digest":
            payload = pb.OverdueEscalated(digest_key=d.key, supervisor=facts.get("supervisor", ""),
                                          as_of=facts.get("as_of", ""),
                                          items=[_obligation(i) for i in facts.get("items", [])], **common)
        else:
            payload = pb.ReminderSent(reminder_key=d.key, obligation=_obligation(facts.get("obligation", {})),
                                      offset=facts.get("offset", ""), recipient=facts.get("recipient", ""),
                                      sent_at=sent_at.isoformat(), attempts=d.attempts, **common)
        return Published(payload, province, commune)


def chunk_message(event: NoticeChunk.Sent) -> Published:
    """RemindersSent of a stored chunk: each item as the ReminderSent a one-by-one send would publish."""
    sent_at = event.sent_at.isoformat()
    province, commune = event.province_code, event.commune_code
    payload = pb.RemindersSent(meta=event_meta(event), channel=event.channel, sent_at=sent_at,
                               province_code=province, commune_code=commune)
    add = payload.reminders.add
    for group in event.groups:
        # What a group's items share is set once and copied: building each item from keywords cost 3x more
        # (tests/unit/notifications/test_notif_fast_paths.py compares the bytes with the keyword-built form).
        shared = pb.ReminderSent(obligation=pb.ObligationRef(**group["obligation"]), offset=group["offset"],
                                 channel=event.channel, sent_at=sent_at, attempts=0, province_code=province,
                                 commune_code=commune)
        for key, unit_id, recipient in chunk_items(group):
            item = add()
            item.CopyFrom(shared)
            item.reminder_key = key
            item.recipient = recipient
            obligation = item.obligation
            obligation.obligation_key = key.split("|", 1)[0]
            obligation.unit_id = unit_id
    return Published(payload, province, commune)
