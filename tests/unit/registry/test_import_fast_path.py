"""Imports make each unit's events straight from its row: the same stored bytes as building the Unit aggregate."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta, timezone

import eventsourcing.domain
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from antt.actor import SYSTEM, Actor
from antt.eventstore.hashchain import event_digest
from services.registry.application import Registry
from services.registry.domain.unit import Unit
from services.registry.importing.encoding import StoredEventEncoder
from services.registry.importing.reader import RawRow
from services.registry.importing.validate import (CONTACT_FIELDS, UNIT_TYPES, UnitImport, parse_cell_date,
                                                  parse_facts, parse_household_cell, slug)

from .conftest import OFFICER

pytestmark = pytest.mark.unit


class AggregateImport(UnitImport):
    """The import as it was: each row's Unit aggregate is built, its pending events collected and mapped."""

    def __init__(self, app: Registry, actor: Actor, columns: dict[str, str]) -> None:
        super().__init__(app, actor, columns)
        self.encode = app.mapper.to_stored_event

    def _events(self, row: RawRow) -> list[Unit.Event]:
        return self.unit(row).collect_events()  # type: ignore[no-any-return]

    def unit(self, row: RawRow) -> Unit:
        """The row's Unit aggregate, its events pending."""
        v = row.values
        unit_type = UNIT_TYPES.get(slug(v.get("unit_type", "")), v.get("unit_type", ""))
        commune, province = v.get("commune_code", ""), v.get("province_code", "")
        effective = parse_cell_date(v.get("effective_date", ""), "effective_date")
        if not province:
            province = self._province_of(commune, effective or date.today())
        facts = parse_facts(v)
        households = parse_household_cell(v.get("household_count", ""))
        unit = self.app.new_unit(v.get("code", ""), v.get("name", ""), unit_type, province, commune, self.actor,
                                 effective, facts=facts, histories=self.histories, household_count=households,
                                 tax_code=v.get("tax_code") or None)
        changes = {f: v[f] for f in CONTACT_FIELDS if v.get(f)}
        if changes:
            unit.update(self.actor, **changes)
        return unit


def ticking_clock() -> Callable[[], datetime]:
    """Timestamps one microsecond apart from a whole second (isoformat drops a zero microsecond)."""
    ticks: Iterator[int] = itertools.count()
    start = datetime(2026, 3, 1, 8, 0, 0, tzinfo=timezone.utc)
    return lambda: start + timedelta(microseconds=next(ticks))


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Resets the domain's clock (what both paths stamp events with) to the same ticking sequence."""

    def reset() -> None:
        monkeypatch.setattr(eventsourcing.domain, "datetime_now_with_tzinfo", ticking_clock())

    reset()
    return reset


# Communes of the 2025 list in Hải Phòng (31) and Hà Nội (01).
PLACES = (("31", "11948"), ("01", "00145"), ("01", "00004"))
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=12) | st.sampled_from(
    ("Thôn 1", "Tổ dân phố \"2\"", " Công ty\\A ", "e\u0301", "Trường 😀"))
DATES = st.sampled_from(("", "01/08/2025", "2025-08-01", "2024-03-05", "15/06/2025"))
# Columns that fit each unit type (as its label or its value), all optional.
FITTING = {
    "khu_dan_cu": {"household_count": ("", "0", "1.234", "12.0", "250")},
    "doanh_nghiep": {"size_class": ("", "vừa", "lon"), "tax_code": ("", "0101234567", "0101234567-001", " ")},
    "co_so_giao_duc": {"school_levels": ("", "thcs", "thpt; THCS", "dai_hoc,cao_dang")},
    "co_quan": {"armed_forces": ("", "có", "không", "0")},
    "xa_phuong": {},
}
LABELS = {"khu_dan_cu": "Khu dân cư", "doanh_nghiep": "Doanh nghiệp", "co_so_giao_duc": "Cơ sở giáo dục",
          "co_quan": "cơ quan", "xa_phuong": "Xã, phường"}
CONTACTS = {"managing_authority": ("", "01", " 31 "), "contact_email": ("", "an-ninh@b.example.vn"),
            "contact_webhook": ("", "https://hook.example.vn/a")}
# One wrong value (or a wrong place) makes a bad row, each in its own way.
WRONG = {"code": "", "name": "Thôn\x07", "unit_type": "truong_hoc", "commune_code": "99999", "province_code": "79",
         "effective_date": "31/02/2024", "armed_forces": "maybe", "size_class": "to", "school_levels": "lop_1",
         "household_count": "-3", "tax_code": "12", "managing_authority": "x" * 17,
         "contact_email": "khong-phai-email", "contact_webhook": "ftp://x", "size_declared_on": "2025-13-01"}

MISPLACED = (("armed_forces", "có"), ("size_class", "vua"), ("size_declared_on", "2025-08-01"),
             ("school_levels", "thcs"), ("household_count", "12"), ("tax_code", "0101234567"))


@st.composite
def import_rows(draw: st.DrawFn) -> dict[str, str]:
    """A row as an import file gives it: a valid unit of any type, sometimes with one wrong or misplaced value."""
    kind = draw(st.sampled_from(sorted(FITTING)))
    province, commune = draw(st.sampled_from(PLACES))
    values = {"code": draw(st.sampled_from(("K-1", "K-2", "D-3", "Mã 4")) | TEXT), "name": draw(TEXT),
              "unit_type": draw(st.sampled_from((kind, LABELS[kind]))), "commune_code": commune,
              "province_code": draw(st.sampled_from((province, ""))), "effective_date": draw(DATES)}
    for field, choices in {**FITTING[kind], **CONTACTS}.items():
        values[field] = draw(st.sampled_from(choices))
    if values.get("size_class"):
        values["size_declared_on"] = draw(DATES.filter(bool))
    bad = draw(st.integers(0, 7))
    if bad < 2:  # a wrong value
        field = draw(st.sampled_from(sorted(WRONG)))
        values[field] = WRONG[field]
    elif bad == 2:  # a fact or detail of another unit type (or a size class without its date)
        field, value = draw(st.sampled_from(MISPLACED))
        values[field] = value
    return {k: v for k, v in values.items() if v}


def checked(session: UnitImport, rows: list[dict[str, str]], reset: Callable[[], None]) -> UnitImport:
    reset()
    session.check([RawRow(n, values) for n, values in enumerate(rows, start=2)])
    return session


@pytest.fixture(scope="module")
def registries() -> dict[str, Registry]:
    """Registries checking places against the 2025 list, and against the stored tree (dates matter there)."""
    by_list, by_tree = Registry(), Registry()
    by_tree.load_reference_tree(OFFICER, commune_provinces={"31", "01"})
    for app in (by_list, by_tree):
        app.register_unit("K-2", "Thôn 2 (đăng ký trước)", "khu_dan_cu", "31", "11948", OFFICER,
                          date(2025, 8, 1))
    return {"list": by_list, "tree": by_tree}


@pytest.mark.parametrize("places", ["list", "tree"])
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(import_rows(), min_size=1, max_size=6))
def test_rows_give_the_stored_events_and_problems_of_the_aggregate_path(
        rows: list[dict[str, str]], places: str, registries: dict[str, Registry], clock: Callable[[], None]) -> None:
    app = registries[places]  # only checked against: nothing is committed
    fast = checked(UnitImport(app, OFFICER, {}), rows, clock)
    slow = checked(AggregateImport(app, OFFICER, {}), rows, clock)
    assert fast.problems == slow.problems
    assert (fast.checked, fast.accepted, fast.seen) == (slow.checked, slow.accepted, slow.seen)
    assert fast.stored == slow.stored  # ids, versions, topics and state bytes (digests and chain links included)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(import_rows(), min_size=1, max_size=5))
def test_imported_units_load_as_the_aggregates_and_their_chains_verify(rows: list[dict[str, str]],
                                                                       clock: Callable[[], None]) -> None:
    app = Registry()
    session = checked(UnitImport(app, OFFICER, {}), rows, clock)
    if session.problems:
        return
    expected = {}
    clock()
    aggregates = AggregateImport(app, OFFICER, {})
    for n, values in enumerate(rows, start=2):  # the same rows as aggregates, as saving them leaves them
        unit = aggregates.unit(RawRow(n, values))
        unit.collect_events()
        expected[unit.id] = unit
    session.commit()
    assert app.verify_chains() == []
    for unit_id, unit in expected.items():
        loaded = app.get_unit(unit_id)
        assert vars(loaded) == vars(unit)


def test_the_registration_events_of_a_full_row_chain_like_collected_events(app: Registry,
                                                                           clock: Callable[[], None]) -> None:
    row = RawRow(2, {"code": "D-1", "name": "Công ty A", "unit_type": "doanh_nghiep", "commune_code": "11948",
                     "size_class": "vừa", "size_declared_on": "2025-08-01", "tax_code": "0101234567",
                     "managing_authority": "31", "contact_email": "a@b.example.vn"})
    events = UnitImport(app, SYSTEM, {}, now=ticking_clock())._events(row)
    assert [type(e).__name__ for e in events] == ["Registered", "DetailsDeclared", "EligibilityFactsDeclared",
                                                  "Updated"]
    assert [e.originator_version for e in events] == [1, 2, 3, 4]
    assert [e.timestamp.microsecond for e in events] == [0, 1, 2, 3]  # type: ignore[attr-defined]
    heads = [""] + [e.digest for e in events[:-1]]  # type: ignore[attr-defined]
    assert [e.prev_digest for e in events] == heads  # type: ignore[attr-defined]
    assert all(e.digest == event_digest(e) for e in events)  # type: ignore[attr-defined]


def test_the_encoder_stores_every_kind_of_event_as_the_mapper_does(registries: dict[str, Registry]) -> None:
    app = registries["tree"]  # area events of the reference tree (nested values, lists, dates) and a unit's
    encode = StoredEventEncoder(app.mapper)
    events = [app.mapper.to_domain_event(n) for n in app.iter_notifications()]
    assert len(events) > 100
    assert [encode(e) for e in events] == [app.mapper.to_stored_event(e) for e in events]


def test_the_encoder_leaves_compressed_stores_to_the_mapper() -> None:
    app = Registry(env={"COMPRESSOR_TOPIC": "eventsourcing.compressor:ZlibCompressor"})
    events = app.new_unit_events("K-1", "Thôn 1", "khu_dan_cu", "31", "11948", OFFICER)
    assert [StoredEventEncoder(app.mapper)(e) for e in events] == [app.mapper.to_stored_event(e) for e in events]
    assert app.mapper.transcoder.decode(app.mapper.compressor.decompress(  # type: ignore[union-attr]
        StoredEventEncoder(app.mapper)(events[0]).state))["code"] == "K-1"
