"""The scan's and the preview's per-notice fast paths give exactly what the former code gave (issue 8).

Each reference below is the former implementation, kept here verbatim: chunk arguments grouped one
notice at a time (`_chunks`), RemindersSent items built from keywords (`chunk_message`), PreviewSend
messages built from `PlannedSend` objects (the servicer's page). Hypothesis draws the inputs: notices
of communes met in several runs, several groups a chunk, keys and texts with quotes, backslashes,
control characters and non-ASCII letters.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from antt.contracts.meta import event_meta
from antt.events.v1 import notifications_pb2 as events_pb
from antt.notifications.v1 import notifications_service_pb2 as pb
from services.notifications.api.servicer import add_sends
from services.notifications.application import CHUNK_NOTICES, BulkNotice, _chunks
from services.notifications.domain.ledger import NoticeChunk, chunk_items
from services.notifications.preview import Listing, PlannedSend, _packed
from services.notifications.published import chunk_message

pytestmark = pytest.mark.unit

ICT = timezone(timedelta(hours=7))
AT = datetime(2026, 3, 24, 9, tzinfo=ICT)
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00|"), min_size=1, max_size=8)


def reference_chunks(batch_id: str, notices: list[BulkNotice], at: datetime, channel: str) -> list[dict[str, Any]]:
    """`_chunks` as it was: every notice grouped by area, then by group, one at a time."""
    by_area: dict[tuple[str, str], list[BulkNotice]] = {}
    for n in notices:
        by_area.setdefault((n.province_code, n.commune_code), []).append(n)
    out = []
    for (province, commune), members in by_area.items():
        for first in range(0, len(members), CHUNK_NOTICES):
            groups: dict[tuple[str, str, str], list[list[str]]] = {}
            for n in members[first:first + CHUNK_NOTICES]:
                groups.setdefault(n.group, []).append([n.key, n.unit_id, n.recipient])
            out.append({"chunk_id": f"{batch_id}/{len(out)}", "sent_at": at.isoformat(), "channel": channel,
                        "province_code": province, "commune_code": commune,
                        "groups": [{"notice": g[0], "offset": g[1], "obligation": json.loads(g[2]),
                                    "items": json.dumps(items, ensure_ascii=False)} for g, items in groups.items()]})
    return out


def reference_chunk_message(event: NoticeChunk.Sent) -> events_pb.RemindersSent:
    """`chunk_message`'s payload as it was: each item built from keywords, then copied into the message."""
    sent_at = event.sent_at.isoformat()
    province, commune = event.province_code, event.commune_code
    reminders = []
    for group in event.groups:
        shared = group["obligation"]
        for key, unit_id, recipient in chunk_items(group):
            obligation = events_pb.ObligationRef(obligation_key=key.split("|", 1)[0], unit_id=unit_id, **shared)
            reminders.append(events_pb.ReminderSent(reminder_key=key, obligation=obligation, offset=group["offset"],
                                                    recipient=recipient, channel=event.channel, sent_at=sent_at,
                                                    attempts=0, province_code=province, commune_code=commune))
    return events_pb.RemindersSent(meta=event_meta(event), reminders=reminders, channel=event.channel,
                                   sent_at=sent_at, province_code=province, commune_code=commune)


def _group(notice: str, offset: str, title: str, flagged: bool) -> tuple[str, str, str]:
    facts = {"year": 2026, "rule_id": "registration", "kind": "registration", "title_vi": title,
             "title_en": title[::-1], "due_date": "2026-03-31", "nominal_due_date": "2026-03-31", "flagged": flagged}
    return notice, offset, json.dumps(facts, sort_keys=True, ensure_ascii=False)


GROUPS = st.lists(st.builds(_group, st.sampled_from(["reminder", "overdue"]), st.sampled_from(["D-7", "D-1", "D+1"]),
                            TEXT, st.booleans()), min_size=1, max_size=3)
AREAS = st.lists(st.tuples(st.sampled_from(["01", "31", "40"]), st.sampled_from(["00145", "11948", "16681"])),
                 min_size=1, max_size=3)


@st.composite
def notices(draw: st.DrawFn) -> list[BulkNotice]:
    """Bulk notices in runs of communes (a commune may come back after another), of a few groups."""
    groups, areas = draw(GROUPS), draw(AREAS)
    runs = draw(st.lists(st.tuples(st.sampled_from(areas), st.integers(1, 700)), min_size=1, max_size=4))
    unit = draw(TEXT)
    out = []
    for (province, commune), count in runs:
        for i in range(count):
            uid = f"{unit}-{len(out)}"
            group = groups[draw(st.integers(0, len(groups) - 1)) if i < 3 else i % len(groups)]
            recipient = f"unit:{uid}" if i % 5 else f"commune:{commune}"
            out.append(BulkNotice(f"2026/registration/{uid}|{group[1]}|{recipient}", uid, recipient, province,
                                  commune, group))
    return out


@given(notices())
def test_chunks_equal_the_former_grouping(bulk: list[BulkNotice]) -> None:
    assert _chunks("batch", bulk, AT, "nats") == reference_chunks("batch", bulk, AT, "nats")


@given(notices())
def test_chunk_messages_equal_the_keyword_built_ones_byte_for_byte(bulk: list[BulkNotice]) -> None:
    for args in _chunks(str(uuid.UUID(int=7)), bulk, AT, "nats"):
        event = NoticeChunk(**{**args, "sent_at": datetime.fromisoformat(args["sent_at"])}).collect_events()[0]
        published = chunk_message(event)
        assert (published.province_code, published.commune_code) == (args["province_code"], args["commune_code"])
        expected = reference_chunk_message(event)
        assert published.payload == expected
        assert published.payload.SerializeToString(deterministic=True) == expected.SerializeToString(deterministic=True)


def _planned_pb(p: PlannedSend) -> pb.PreviewSend:
    """The servicer's former conversion of one send."""
    return pb.PreviewSend(reminder_key=p.key, notice=p.notice, offset=p.offset, recipient=p.recipient,
                          channel=p.channel, address=p.address, unit_id=p.unit_id, obligation_key=p.obligation_key,
                          subject=p.subject, province_code=p.province_code, commune_code=p.commune_code,
                          items=p.items)


SENDS = st.lists(st.builds(PlannedSend, key=TEXT, notice=st.sampled_from(["reminder", "overdue", "digest"]),
                           offset=TEXT, recipient=TEXT, channel=st.sampled_from(["nats", "email", "webhook"]),
                           address=st.text(max_size=5), unit_id=TEXT, obligation_key=TEXT,
                           subject=st.text(st.characters(blacklist_categories=("Cs",)), max_size=8),
                           province_code=st.text(max_size=2), commune_code=st.text(max_size=5),
                           items=st.integers(0, 40)), max_size=25, unique_by=lambda p: p.key)


@given(SENDS, st.integers(1, 9))
def test_preview_pages_from_fields_equal_the_former_messages(sends: list[PlannedSend], size: int) -> None:
    listing = Listing(AT, sorted(_packed(p) for p in sends))
    after = ""
    while True:
        page, last = listing.page(after, size)
        rows, last_too = listing.fields(after, size)
        assert last_too == last
        response = pb.PreviewSendsResponse(at=AT.isoformat())
        add_sends(response, rows)
        expected = pb.PreviewSendsResponse(at=AT.isoformat(), sends=[_planned_pb(p) for p in page])
        assert response.SerializeToString(deterministic=True) == expected.SerializeToString(deterministic=True)
        if not last:
            break
        after = last
    assert sorted(p.key for p in sends) == [p.key for p in listing.page("", len(sends) + 1)[0]]
