"""Bulk-claimed chunks store a group's notices by unit id alone when every item is `year/rule/unit|offset|recipient`
(`_units_only`); such a group rebuilds exactly the items of the full form (`chunk_items`), publishes the same
RemindersSent bytes, and survives a pending record. Groups whose items do not fit (drawn keys with quotes,
backslashes, control characters, non-ASCII, recipients of another shape) keep the full form."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.notifications.application import BulkNotice, _chunks, pending_text, read_pending
from services.notifications.domain.ledger import NoticeChunk, chunk_items
from services.notifications.published import chunk_message

pytestmark = pytest.mark.unit

ICT = timezone(timedelta(hours=7))
AT = datetime(2026, 3, 24, 9, tzinfo=ICT)
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00|"), min_size=1, max_size=8)


def _group(notice: str, offset: str, rule: str, title: str, year: int) -> tuple[str, str, str]:
    facts = {"year": year, "rule_id": rule, "kind": rule, "title_vi": title, "title_en": title[::-1],
             "due_date": "2026-03-31", "nominal_due_date": "2026-03-31", "flagged": False}
    return notice, offset, json.dumps(facts, sort_keys=True, ensure_ascii=False)


GROUPS = st.lists(st.builds(_group, st.sampled_from(["reminder", "overdue"]), st.sampled_from(["D-7", "D-1", "D+1"]),
                            st.sampled_from(["registration", "plan", "a/b"]), TEXT, st.sampled_from([2026, 2027])),
                  min_size=1, max_size=3)


@st.composite
def notices(draw: st.DrawFn) -> list[BulkNotice]:
    """Notices of a few communes and groups: most built as the scan builds them (to the unit itself, or to the
    commune authority), some with a recipient, offset or year that does not match their group."""
    groups = draw(GROUPS)
    out = []
    for i in range(draw(st.integers(1, 60))):
        group = groups[draw(st.integers(0, len(groups) - 1))]
        facts = json.loads(group[2])
        uid = draw(st.one_of(st.just(str(uuid.UUID(int=i))), TEXT.map(lambda t, i=i: f"{t}{i}")))
        commune = draw(st.sampled_from(["00004", "16681"]))
        shape = draw(st.sampled_from(["unit", "unit", "authority", "other recipient", "other offset", "other year"]))
        recipient = {"unit": f"unit:{uid}", "authority": f"commune:{commune}"}.get(shape, f"unit:{uid}x")
        offset = "D-99" if shape == "other offset" else group[1]
        year = facts["year"] + (shape == "other year")
        out.append(BulkNotice(f"{year}/{facts['rule_id']}/{uid}|{offset}|{recipient}", uid, recipient, "01", commune,
                              group))
    return out


def _event(args: dict[str, object]) -> NoticeChunk.Sent:
    return NoticeChunk(**{**args, "sent_at": datetime.fromisoformat(str(args["sent_at"]))}).collect_events()[0]


@settings(max_examples=50, deadline=None)
@given(notices())
def test_compact_chunks_rebuild_the_full_items_and_publish_the_same_bytes(bulk: list[BulkNotice]) -> None:
    batch = str(uuid.UUID(int=9))
    full, compact = _chunks(batch, bulk, AT, "nats"), _chunks(batch, bulk, AT, "nats", compact=True)
    assert len(full) == len(compact)
    for f, c in zip(full, compact):
        assert {k: v for k, v in f.items() if k != "groups"} == {k: v for k, v in c.items() if k != "groups"}
        assert len(f["groups"]) == len(c["groups"])
        for fg, cg in zip(f["groups"], c["groups"]):
            assert chunk_items(cg) == chunk_items(fg)
            assert list(cg)[:3] == ["notice", "offset", "obligation"] and list(cg)[-1] in ("items", "units")
            assert {k: cg[k] for k in ("notice", "offset", "obligation")} == {k: fg[k] for k in cg if k in fg
                                                                           and k != "items"}
        published, expected = chunk_message(_event(c)), chunk_message(_event(f))
        for message in (published.payload, expected.payload):
            message.ClearField("meta")  # the two events' own ids and times: the rest is the same bytes
        assert published.payload.SerializeToString(deterministic=True) == \
            expected.payload.SerializeToString(deterministic=True)
        assert (published.province_code, published.commune_code) == (expected.province_code, expected.commune_code)
        assert _event(c).mutate(None).keys() == _event(f).mutate(None).keys()


@settings(deadline=None)
@given(notices())
def test_a_group_is_compact_exactly_when_every_item_has_the_scans_shape(bulk: list[BulkNotice]) -> None:
    for chunk in _chunks("b", bulk, AT, "nats", compact=True):
        for g in chunk["groups"]:
            items = chunk_items(g)
            head = f"{g['obligation']['year']}/{g['obligation']['rule_id']}/"
            keyed = all(k == f"{head}{u}|{g['offset']}|{r}" for k, u, r in items)
            _, u0, r0 = items[0]
            label = r0[:len(r0) - len(u0)]  # the recipients are `<label><unit id>`, or one for all
            per_unit = r0.endswith(u0) and len(r0) > len(u0) and all(r == label + u for _, u, r in items)
            assert ("units" in g) == (keyed and (per_unit or len({r for _, _, r in items}) == 1)), g


def test_notices_as_the_scan_makes_them_are_stored_by_unit_id() -> None:
    group = _group("reminder", "D-7", "registration", "Đăng ký \"x\"", 2026)
    units = [str(uuid.UUID(int=i)) for i in range(5)]
    bulk = [BulkNotice(f"2026/registration/{u}|D-7|unit:{u}", u, f"unit:{u}", "01", "00004", group) for u in units]
    bulk += [BulkNotice(f"2026/registration/{u}|D-7|commune:00004", u, "commune:00004", "01", "00004",
                        _group("overdue", "D-7", "registration", "t", 2026)) for u in units]
    [chunk] = _chunks("b", bulk, AT, "nats", compact=True)
    assert [g["units"] for g in chunk["groups"]] == [json.dumps(units)] * 2
    assert [(g["recipient_head"], g["recipient_per_unit"]) for g in chunk["groups"]] == [("unit:", True),
                                                                                         ("commune:00004", False)]


@settings(deadline=None)
@given(notices())
def test_a_pending_record_of_compact_chunks_reads_back_as_them(bulk: list[BulkNotice]) -> None:
    chunks = _chunks("b", bulk, AT, "nats", compact=True)
    back = read_pending(pending_text(chunks))
    assert json.dumps(back, ensure_ascii=False) == json.dumps(chunks, ensure_ascii=False)  # key order too
