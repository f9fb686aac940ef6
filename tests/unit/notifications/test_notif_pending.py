"""Pending chunk records read back as the chunks written, in the line form written now and in the one-document
form records were written in before (a crash may leave either behind an upgrade)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.notifications.application import pending_text, read_pending

pytestmark = pytest.mark.unit

TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=6)
ITEMS = st.lists(st.tuples(TEXT, TEXT, TEXT), min_size=1, max_size=4).map(
    lambda items: json.dumps(items, ensure_ascii=False))  # as `_chunks` writes them
GROUP = st.tuples(TEXT, TEXT, st.dictionaries(TEXT, TEXT, max_size=2), ITEMS).map(
    lambda g: {"notice": g[0], "offset": g[1], "obligation": g[2], "items": g[3]})  # in `_chunks`' key order
CHUNK = st.fixed_dictionaries({"chunk_id": TEXT, "sent_at": TEXT, "channel": TEXT, "province_code": TEXT,
                               "commune_code": TEXT, "groups": st.lists(GROUP, max_size=3)})


@settings(max_examples=300)
@given(chunks=st.lists(CHUNK, min_size=1, max_size=3))
def test_a_pending_record_reads_back_as_its_chunks_in_either_form(chunks: list[dict[str, object]]) -> None:
    for text in (pending_text(chunks), json.dumps(chunks)):
        back = read_pending(text)
        assert back == chunks
        # the key order too: the stored events' state is written in it
        assert json.dumps(back, ensure_ascii=False) == json.dumps(chunks, ensure_ascii=False)
