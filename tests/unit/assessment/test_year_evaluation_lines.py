"""Shared evaluation lines: a line handed out for another equal one is stored, hashed and read exactly alike."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from antt.eventstore.hashchain import canonical, canonical_json
from services.assessment.domain.evaluation import shared_line
from services.assessment.domain.values import Basis, CriterionEvaluation
from services.assessment.rules.model import CriterionKind

pytestmark = pytest.mark.unit

numbers = st.none() | st.booleans() | st.integers(-2, 2) | st.sampled_from([0.0, -0.0, 1.0, 2.5, float("nan")])
lines = st.builds(CriterionEvaluation, st.sampled_from(["TC-1", "TC-2"]), st.sampled_from(["Nhãn", "Khác"]),
                  st.just("Label"), st.sampled_from(list(CriterionKind)), st.booleans() | st.integers(0, 1),
                  st.sampled_from(list(Basis)), numbers, numbers, st.sampled_from(["", "= 0 count"]),
                  st.booleans() | st.integers(0, 1), st.sampled_from(["", "lý do"]))


def exact(line: CriterionEvaluation) -> list[tuple[str, type, str]]:
    """Every field with its exact type and JSON text (NaN included)."""
    return [(f.name, type(getattr(line, f.name)), json.dumps(canonical(getattr(line, f.name))))
            for f in dataclasses.fields(line)]


@settings(max_examples=300, deadline=None)
@given(st.lists(lines, min_size=1, max_size=12))
def test_a_shared_line_is_exactly_the_line_it_stands_for(made: list[CriterionEvaluation]) -> None:
    for line in made:
        got = shared_line(line)
        assert exact(got) == exact(line)
        assert canonical_json(got) == json.dumps(canonical(line), sort_keys=True, separators=(",", ":"),
                                                 ensure_ascii=False)


def test_equal_lines_are_shared_and_unequal_ones_are_not() -> None:
    def make(**changes: Any) -> CriterionEvaluation:
        return CriterionEvaluation(**({"criterion_id": "TC-9", "label_vi": "a", "label_en": "b",
                                       "kind": CriterionKind.BOOLEAN, "met": True, "basis": Basis.TU_DANH_GIA,
                                       "value": 0.0} | changes))
    first = shared_line(make())
    assert shared_line(make()) is first
    for other in (make(value=-0.0), make(value=0), make(value=False), make(met=1), make(exception="x")):
        assert shared_line(other) is not first
