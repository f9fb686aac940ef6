"""Check import rows against the registry (every bad row is reported) and commit them all at once."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Any

from eventsourcing.persistence import IntegrityError, StoredEvent

from antt.actor import Actor
from antt.contracts.vocabulary import UnitType
from antt.errors import DomainError
from antt.eventstore.hashchain import share
from services.registry import reference
from services.registry.application import Registry
from services.registry.domain.area_history import AreaKey, AreaLevel
from services.registry.domain.crosswalk import ancestor_as_of
from services.registry.domain.details import parse_household_cell
from services.registry.domain.errors import InvalidUnitFieldError, UnitAlreadyRegisteredError, UnknownAreaError
from services.registry.domain.facts import EligibilityFacts, SchoolLevel, SizeClass
from services.registry.domain.unit import Unit
from services.registry.importing.columns import slug
from services.registry.importing.encoding import StoredEventEncoder
from services.registry.importing.errors import ImportFileError, RowProblem
from services.registry.importing.reader import RawRow

UNIT_TYPES = {**{slug(t.value): t.value for t in UnitType}, **{slug(t.label_vi): t.value for t in UnitType}}
YES = {"co", "x", "1", "true", "yes", "y", "dung"}
NO = {"", "khong", "0", "false", "no", "n", "sai"}
CONTACT_FIELDS = ("managing_authority", "contact_email", "contact_webhook")  # columns recorded by an Updated event
_FACTS_MAX = 4096  # remembered fact-cell combinations per import
_VN_DATE = re.compile(r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$")


def parse_cell_date(text: str, field: str) -> date | None:
    """An ISO (YYYY-MM-DD) or Vietnamese (DD/MM/YYYY) date; None when empty."""
    if not text:
        return None
    try:
        match = _VN_DATE.match(text)
        if match:
            return date(int(match[3]), int(match[2]), int(match[1]))
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidUnitFieldError(f"Ngày không hợp lệ: {text!r} (YYYY-MM-DD hoặc DD/MM/YYYY)",
                                    f"invalid date {text!r} (YYYY-MM-DD or DD/MM/YYYY)", field=field) from None


def _enum_value(enum_type: type[SizeClass] | type[SchoolLevel], text: str, field: str, label_vi: str) -> object:
    try:
        return enum_type(slug(text))
    except ValueError:
        valid = ", ".join(m.value for m in enum_type)
        raise InvalidUnitFieldError(f"{label_vi} không hợp lệ: {text!r} (hợp lệ: {valid})",
                                    f"invalid {field} {text!r} (valid: {valid})", field=field) from None


FACT_FIELDS = ("armed_forces", "size_class", "size_declared_on", "school_levels")


def parse_facts(values: dict[str, str]) -> EligibilityFacts | None:
    """Eligibility facts from the row's columns; None when the row declares none."""
    return facts_of(*(values.get(f, "") for f in FACT_FIELDS))


def facts_of(armed: str, size: str, declared: str, levels: str) -> EligibilityFacts | None:
    """Eligibility facts from the four fact cells' texts (see `parse_facts`)."""
    if not (armed or size or declared or levels):
        return None
    flag = slug(armed)
    if flag not in YES | NO:
        raise InvalidUnitFieldError(f"Giá trị lực lượng vũ trang không hợp lệ: {armed!r} (có/không)",
                                    f"invalid armed_forces {armed!r} (yes/no)", field="armed_forces")
    size_class = _enum_value(SizeClass, size, "size_class", "Quy mô doanh nghiệp") if size else None
    school = frozenset(_enum_value(SchoolLevel, part, "school_levels", "Cấp học")
                       for part in re.split(r"[;,]", levels) if part.strip())
    return EligibilityFacts(flag in YES, size_class, parse_cell_date(declared, "size_declared_on"),  # type: ignore[arg-type]
                            school)  # type: ignore[arg-type]


class UnitImport:
    """One import: rows are checked as they arrive; commit() saves every unit atomically, or nothing.

    A good row's events are made straight from it, without building its Unit aggregate, and encoded
    for storage at once: a national import keeps bytes, not hundreds of thousands of aggregates,
    until it commits. `now` stamps the events (the domain's clock unless a test gives its own).
    """

    def __init__(self, app: Registry, actor: Actor, columns: dict[str, str] | None = None, *,
                 now: Callable[[], datetime] | None = None) -> None:
        self.app = app
        self.now = now
        self.encode: Callable[[Any], StoredEvent] = StoredEventEncoder(app.mapper)  # mapper.to_stored_event
        self.actor = share(actor)  # every event of the import holds it: its digest text is written once
        self.columns = dict(columns or {})
        self.histories = app.catalog.histories()
        self.places: set[tuple[str, str, date]] = set()  # (province, commune, date) valid in self.histories
        self.seen: dict[str, int] = {}
        self.stored: list[StoredEvent] = []
        self.accepted = 0
        self.problems: list[RowProblem] = []
        self.checked = 0
        # Fact cells' texts -> their facts: few distinct combinations per import, each parsed once
        # (facts are immutable; a bad combination is not remembered, so its error is raised afresh).
        self._facts: dict[tuple[str, str, str, str], EligibilityFacts | None] = {}

    def _problem(self, row: RawRow, error: DomainError, default_field: str = "code") -> None:
        field = error.field or default_field
        self.problems.append(RowProblem(row.row_number, field, self.columns.get(field, field), error.reason,
                                        error.message_vi, error.message_en))

    def check(self, rows: Iterable[RawRow]) -> None:
        """Check rows; a bad row is recorded (first problem found), a good one is kept for commit."""
        # A row's events are encoded as soon as they are made, so they die young: kept for the whole
        # batch they would survive the garbage collector's young generations, which then scan them
        # again and again. Problems are still recorded in row order by the second loop.
        encode = self.encode
        built: list[tuple[RawRow, str, Any, list[StoredEvent]] | tuple[RawRow, DomainError]] = []
        for row in rows:
            try:
                events = self._events(row)
            except DomainError as error:
                built.append((row, error))
                continue
            first = events[0]
            built.append((row, first.code, first.originator_id, [encode(e) for e in events]))  # type: ignore[attr-defined]
            del events, first
        # Codes already registered: one query per few hundred rows rather than every code in memory.
        existing = self.app.existing_ids(b[2] for b in built if len(b) == 4)
        for item in built:
            self.checked += 1
            row = item[0]
            if len(item) == 2:
                self._problem(row, item[1])  # type: ignore[arg-type]
                continue
            _, code, originator_id, stored = item  # type: ignore[misc]
            if code in self.seen:
                self._problem(row, InvalidUnitFieldError(
                    f"Mã đơn vị {code} trùng với dòng {self.seen[code]}",
                    f"unit code {code} repeats row {self.seen[code]}", field="code",
                    reason="DUPLICATE_CODE_IN_FILE"))
                continue
            self.seen[code] = row.row_number
            if originator_id in existing:
                self._problem(row, UnitAlreadyRegisteredError(code))
                continue
            self.stored.extend(stored)
            self.accepted += 1

    def _events(self, row: RawRow) -> list[Unit.Event]:
        """The events of the row's new unit (see Registry.new_unit_events: no aggregate is built)."""
        v = row.values
        unit_type = UNIT_TYPES.get(slug(v.get("unit_type", "")), v.get("unit_type", ""))
        commune = v.get("commune_code", "")
        province = v.get("province_code", "")
        effective = parse_cell_date(v.get("effective_date", ""), "effective_date")
        if not province:
            province = self._province_of(commune, effective or date.today())
        cells = (v.get("armed_forces", ""), v.get("size_class", ""), v.get("size_declared_on", ""),
                 v.get("school_levels", ""))
        try:
            facts = self._facts[cells]
        except KeyError:
            facts = facts_of(*cells)
            if len(self._facts) >= _FACTS_MAX:
                self._facts.clear()
            self._facts[cells] = facts
        households = parse_household_cell(v.get("household_count", ""))
        contacts = {f: v[f] for f in CONTACT_FIELDS if v.get(f)}
        return self.app.new_unit_events(v.get("code", ""), v.get("name", ""), unit_type, province, commune,
                                        self.actor, effective, facts=facts, histories=self.histories,
                                        household_count=households, tax_code=v.get("tax_code") or None,
                                        contacts=contacts, now=self.now, places=self.places)

    def _province_of(self, commune: str, on: date) -> str:
        """The province of a commune on the date (stored tree first, then the 2025 list); NOT_FOUND if unknown."""
        key = AreaKey(AreaLevel.COMMUNE, commune)
        if key in self.histories:
            province = ancestor_as_of(self.histories, key, on, AreaLevel.PROVINCE)
            return province.code if province is not None else ""  # new_unit says why (e.g. not in force then)
        if commune in reference.communes():
            return reference.communes()[commune].province_code
        raise UnknownAreaError(f"Không có xã/phường/đặc khu mã {commune!r}", f"no commune with code {commune!r}",
                               field="commune_code")

    def commit(self) -> int:
        """Save every checked unit in one transaction; refuses when any row was bad."""
        if self.problems:
            raise ImportFileError(f"Có {len(self.problems)} dòng lỗi; không ghi gì",
                                  f"{len(self.problems)} bad rows; nothing written", field="file",
                                  reason="IMPORT_HAS_BAD_ROWS")
        if self.stored:
            try:
                self.app.record(self.stored)
            except IntegrityError:  # registered by another command since the check
                raise UnitAlreadyRegisteredError(", ".join(list(self.seen)[:5])) from None
        return self.accepted
