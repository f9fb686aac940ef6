"""The services' transcoder writes, with its one reused C encoder, the bytes eventsourcing's JSONTranscoder writes."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import JSONTranscoder, Transcoding
from hypothesis import given, settings, strategies as st

from antt.actor import Actor
from antt.eventstore.application import reuse_json_encoder
from antt.eventstore.hashchain import share
from services.assessment.application import VALUE_TYPES, Assessments
from services.assessment.domain.states import CaseState, Outcome
from services.assessment.domain.values import (
    Authority, Basis, CoverageFigures, CriterionEvaluation, CriterionResult, EvidenceRef, Finding,
)
from services.assessment.rules.model import CriterionKind
from services.assessment.rules.types import Tier, UnitType

pytestmark = pytest.mark.unit


def plain_value_transcoding(cls: type) -> Transcoding:
    """The value transcoding as it was before values remembered their fields: a fresh dict every time."""

    class Plain(Transcoding):
        type = cls
        name = f"value_{cls.__module__}.{cls.__qualname__}"

        def encode(self, obj: Any) -> dict[str, Any]:
            return {f.name: getattr(obj, f.name) for f in dataclasses.fields(cls)}

        def decode(self, data: dict[str, Any]) -> Any:
            return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})
    return Plain()


def _reference(app: Assessments) -> JSONTranscoder:
    """A plain JSONTranscoder with the application's transcodings (what stored the existing events)."""
    reference = JSONTranscoder()
    app.register_transcodings(reference)
    for cls in VALUE_TYPES:
        reference.register(plain_value_transcoding(cls))
    return reference


APP = Assessments()  # in memory: only its transcoder is used
REFERENCE = _reference(APP)
texts = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
named = texts.filter(lambda t: bool(t.strip()))
evidence = st.builds(EvidenceRef, kind=named, uri=named, title=texts,
                     sha256=st.text("0123456789abcdef", min_size=64, max_size=64))
atoms = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True), texts,
    st.uuids(), st.dates(), st.datetimes(timezones=st.just(timezone.utc)), st.decimals(allow_nan=False),
    st.sampled_from([*CaseState, *Outcome, *Tier, *UnitType]), evidence,
    st.builds(Actor, id=texts, role=texts, tier=texts, jurisdiction=texts),
    st.builds(CriterionResult, criterion_id=texts, met=st.none() | st.booleans(),
              value=st.none() | st.floats(allow_nan=False), evidence=st.lists(evidence, max_size=2).map(tuple)),
    st.builds(CriterionEvaluation, criterion_id=texts, label_vi=texts, label_en=texts,
              kind=st.sampled_from(CriterionKind), met=st.booleans(), basis=st.sampled_from(Basis),
              value=st.none() | st.floats(), previous_value=st.none() | st.integers(), threshold=texts,
              not_applicable=st.booleans(), exception=texts),
    st.builds(Finding, criterion_id=texts, met=st.none() | st.booleans(), note=texts),
    st.builds(Authority, tier=st.sampled_from(Tier), name=texts, area_code=texts),
    st.builds(CoverageFigures, managed=st.integers(0, 99), registered=st.integers(0, 99),
              recognised=st.integers(0, 99)),
)
values = st.recursive(st.one_of(atoms, atoms.map(share)), lambda inner: st.one_of(  # shared values remember
    st.lists(inner, max_size=4), st.lists(inner, max_size=4).map(tuple),
    st.dictionaries(texts, inner, max_size=4)), max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(state=st.dictionaries(texts, values, max_size=6))
def test_event_states_encode_to_the_reference_bytes(state: dict[str, Any]) -> None:
    transcoder = APP.mapper.transcoder
    assert type(transcoder) is JSONTranscoder  # readers of plain JSON states still recognise it
    stored = transcoder.encode(state)
    assert stored == REFERENCE.encode(state)
    assert transcoder.decode(stored) == REFERENCE.decode(stored)
    # a second time, the frozen values' remembered fields: the same bytes again
    assert transcoder.encode(state) == stored == REFERENCE.encode(state)


def test_a_remembered_value_encodes_as_a_fresh_copy_and_stays_equal() -> None:
    transcoder = APP.mapper.transcoder
    line = share(CriterionEvaluation("XA-1", "Tiêu chí", "Criterion", CriterionKind.BOOLEAN, True,
                                     Basis.TU_DANH_GIA))  # shared: its fields are remembered
    first = transcoder.encode({"line": line})
    copy = CriterionEvaluation(**{f: getattr(line, f) for f in CriterionEvaluation.__dataclass_fields__})
    assert transcoder.encode({"line": line, "again": line}) == REFERENCE.encode({"line": copy, "again": copy})
    assert first == REFERENCE.encode({"line": copy}) and line == copy and hash(line) == hash(copy)


def test_it_is_the_reused_encoder_that_writes_and_unknown_types_still_fail() -> None:
    app = Assessments()
    transcoder: Any = app.mapper.transcoder
    assert "encode" in vars(transcoder)  # the instance's own encode, not JSONTranscoder.encode
    state = {"on": date(2026, 1, 2), "id": UUID(int=7), "at": datetime(2026, 1, 2, tzinfo=timezone.utc),
             "n": Decimal("1.5"), "s": "Phúc Xá", "f": float("nan")}
    assert transcoder.encode(state) == _reference(app).encode(state)
    assert transcoder.encode("chuỗi") == _reference(app).encode("chuỗi")  # not a dict: the reference path
    with pytest.raises(TypeError):
        transcoder.encode({"x": object()})
    with pytest.raises(TypeError):  # and the encoder is still usable after a failure
        transcoder.encode({"x": [1, {2, 3}]})
    assert transcoder.encode({"x": [1, 2]}) == b'{"x":[1,2]}'


def test_other_transcoders_are_left_alone() -> None:
    class Other(JSONTranscoder):
        pass
    other = Other()
    reuse_json_encoder(other)
    assert "encode" not in vars(other)


def test_only_shared_values_keep_their_fields() -> None:
    transcoder = APP.mapper.transcoder
    alone = Finding("XA-1", True, "ghi chú")
    shared = share(Finding("XA-1", True, "ghi chú"))
    assert transcoder.encode({"f": alone}) == transcoder.encode({"f": shared}) == REFERENCE.encode({"f": alone})
    assert set(vars(alone)) == {f.name for f in dataclasses.fields(Finding)}
    assert any(isinstance(v, dict) for v in vars(shared).values())
