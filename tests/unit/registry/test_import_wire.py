"""Import rows read from their wire form: the fields that are set, as reading every field one by one gives them."""

from __future__ import annotations

import pytest
from google.protobuf.message import Message
from hypothesis import given
from hypothesis import strategies as st

from antt.registry.v1 import registry_service_pb2 as pb
from services.registry.api.import_endpoint import AREA_FIELDS, UNIT_FIELDS, row_from_pb

pytestmark = pytest.mark.unit

CELLS = st.sampled_from(("", " ", "0", "Thôn 1", "11948")) | st.text(max_size=5)


def every_field(row: Message, fields: tuple[str, ...]) -> dict[str, str]:
    """The reading row_from_pb replaces: each named field, when not empty."""
    return {f: getattr(row, f) for f in fields if getattr(row, f)}


@given(number=st.integers(0, 2**32 - 1), cells=st.fixed_dictionaries({f: CELLS for f in UNIT_FIELDS}))
def test_unit_rows(number: int, cells: dict[str, str]) -> None:
    row = pb.ImportRow(row_number=number, **cells)
    raw = row_from_pb(row)
    assert raw.row_number == number and raw.values == every_field(row, UNIT_FIELDS)
    assert list(raw.values) == [f for f in UNIT_FIELDS if cells[f]]  # the message's order


@given(cells=st.fixed_dictionaries({f: CELLS for f in AREA_FIELDS}))
def test_area_rows(cells: dict[str, str]) -> None:
    row = pb.ImportAreaRow(row_number=7, **cells)
    assert row_from_pb(row, AREA_FIELDS).values == every_field(row, AREA_FIELDS)
    assert row_from_pb(row, AREA_FIELDS[:2]).values == every_field(row, AREA_FIELDS[:2])  # only the fields named
