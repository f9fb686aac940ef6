"""Reads deadline calendars from plain mappings (as loaded from YAML), refusing anything malformed."""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any, TypeVar

from services.notifications.domain.calendar import (
    UNIT_TYPES,
    Calendar,
    CalendarSet,
    CalendarVersion,
    Certainty,
    DayMonth,
    DeadlineRule,
    HolidayRule,
    ObligationKind,
    Observance,
    ScopeLevel,
    Tier,
)
from services.notifications.domain.errors import InvalidCalendarError

E = TypeVar("E", bound=enum.Enum)
_CODE_PATTERN = {ScopeLevel.NATIONAL: re.compile(r"^$"), ScopeLevel.PROVINCE: re.compile(r"^\d{2}$"),
                 ScopeLevel.COMMUNE: re.compile(r"^\d{5}$")}
_DAY_MONTH = re.compile(r"^(\d{1,2})/(\d{1,2})$")
_ID = re.compile(r"^[a-z][a-z0-9_]*$")


def _bad(where: str, problem_vi: str, problem_en: str) -> InvalidCalendarError:
    return InvalidCalendarError(f"Lịch hạn {where}: {problem_vi}", f"calendar {where}: {problem_en}", field=where)


def _text(data: Mapping[str, Any], key: str, where: str, default: str | None = None) -> str:
    value = data.get(key, default)
    if not isinstance(value, str) or (default is None and not value.strip()):
        raise _bad(f"{where}.{key}", "thiếu hoặc không phải chuỗi", "missing or not a string")
    return value.strip()


def _enum(kind: type[E], value: Any, where: str) -> E:
    try:
        return kind(value)
    except ValueError:
        valid = ", ".join(str(m.value) for m in kind)
        raise _bad(where, f"giá trị {value!r} không hợp lệ (hợp lệ: {valid})",
                   f"invalid value {value!r} (valid: {valid})") from None


def _optional_tier(value: Any, where: str) -> Tier | None:
    return None if value in (None, "supervisor") else _enum(Tier, value, where)


def parse_day_month(value: Any, where: str) -> DayMonth:
    """'31/01' → DayMonth(1, 31)."""
    match = _DAY_MONTH.match(value) if isinstance(value, str) else None
    if match is None:
        raise _bad(where, f"{value!r} không theo dạng NN/TT", f"{value!r} is not DD/MM")
    try:
        return DayMonth(int(match.group(2)), int(match.group(1)))
    except InvalidCalendarError:
        raise _bad(where, f"ngày {value} không tồn tại", f"{value} is not a date") from None


def parse_deadline(data: Mapping[str, Any], where: str) -> DeadlineRule:
    """One deadline entry."""
    rid = _text(data, "id", where)
    if not _ID.match(rid):
        raise _bad(f"{where}.id", f"mã {rid!r} không hợp lệ", f"invalid id {rid!r}")
    where = f"{where}[{rid}]"
    owing = data.get("owing")
    if not isinstance(owing, Mapping):
        raise _bad(f"{where}.owing", "thiếu bên có nghĩa vụ", "missing owing party")
    unit_types = owing.get("unit_types") or []
    unknown = sorted(set(unit_types) - UNIT_TYPES)
    if unknown:
        raise _bad(f"{where}.owing.unit_types", f"loại đơn vị không hợp lệ {unknown}", f"unknown unit types {unknown}")
    owing_tier = _enum(Tier, owing.get("tier"), f"{where}.owing.tier")
    if owing_tier is Tier.UNIT and not unit_types:
        raise _bad(f"{where}.owing", "đơn vị có nghĩa vụ phải nêu loại đơn vị", "a unit-owed deadline needs unit_types")
    recipient = _optional_tier(data.get("recipient", "supervisor"), f"{where}.recipient")
    if recipient is Tier.UNIT and not unit_types:
        raise _bad(f"{where}.recipient", "chỉ hạn theo từng đơn vị mới gửi cho đơn vị",
                   "only a per-unit deadline can be owed to the unit")
    holiday = data.get("holiday_rule")
    return DeadlineRule(
        id=rid, kind=_enum(ObligationKind, data.get("kind"), f"{where}.kind"),
        title_vi=_text(data, "title_vi", where), title_en=_text(data, "title_en", where),
        owing_tier=owing_tier, unit_types=frozenset(unit_types),
        recipient_tier=recipient,
        due=parse_day_month(data.get("due"), f"{where}.due"),
        escalate_to=_optional_tier(data.get("escalate_to"), f"{where}.escalate_to"),
        holiday_rule=None if holiday is None else _enum(HolidayRule, holiday, f"{where}.holiday_rule"),
        certainty=_enum(Certainty, data.get("certainty", "confirmed"), f"{where}.certainty"),
        source=_text(data, "source", where, ""), note=_text(data, "note", where, ""),
    )


def _parse_version(data: Mapping[str, Any], where: str) -> CalendarVersion:
    effective = data.get("effective_from")
    if not isinstance(effective, date):
        raise _bad(f"{where}.effective_from", "thiếu ngày hiệu lực (YYYY-MM-DD)", "missing effective date (YYYY-MM-DD)")
    deadlines = tuple(parse_deadline(d, f"{where}.deadlines") for d in data.get("deadlines") or [])
    ids = [d.id for d in deadlines]
    if len(ids) != len(set(ids)):
        raise _bad(where, "mã hạn bị trùng", "duplicate deadline ids")
    holiday = data.get("holiday_rule")
    observances = tuple(Observance(parse_day_month(o.get("date"), f"{where}.observances"),
                                   _text(o, "name_vi", where), _text(o, "name_en", where),
                                   _text(o, "source", where, ""))
                        for o in data.get("observances") or [])
    return CalendarVersion(version=int(data.get("version", 0)), effective_from=effective, deadlines=deadlines,
                           holiday_rule=None if holiday is None else _enum(HolidayRule, holiday,
                                                                             f"{where}.holiday_rule"),
                           removed=frozenset(data.get("removed") or []), observances=observances)


def parse_calendar(data: Mapping[str, Any]) -> Calendar:
    """A whole calendar document: scope, official code and versions."""
    level = _enum(ScopeLevel, data.get("scope"), "scope")
    code = data.get("code", "")
    if not isinstance(code, str) or not _CODE_PATTERN[level].match(code):
        raise _bad("code", f"mã {code!r} không đúng cho phạm vi {level.value} (nhớ đặt trong dấu nháy)",
                   f"code {code!r} does not fit scope {level.value} (quote it in YAML)")
    province = data.get("province_code", "")
    if level is ScopeLevel.COMMUNE and not (isinstance(province, str) and _CODE_PATTERN[ScopeLevel.PROVINCE]
                                            .match(province)):
        raise _bad("province_code", "lịch cấp xã phải nêu mã tỉnh", "a commune calendar needs its province_code")
    where = f"{level.value}:{code}" if code else level.value
    versions = tuple(_parse_version(v, f"{where}.v{v.get('version', '?')}") for v in data.get("versions") or [])
    if not versions:
        raise _bad(where, "không có phiên bản nào", "has no versions")
    if len({v.effective_from for v in versions}) != len(versions):
        raise _bad(where, "hai phiên bản cùng ngày hiệu lực", "two versions share an effective date")
    return Calendar(level, code, _text(data, "name_vi", where), versions, province_code=province or "")


def build_calendar_set(documents: Iterable[Mapping[str, Any]]) -> CalendarSet:
    """One national calendar plus any province and commune calendars, each scope at most once."""
    calendars = [parse_calendar(d) for d in documents]
    national = [c for c in calendars if c.level is ScopeLevel.NATIONAL]
    if len(national) != 1:
        raise _bad("national", "cần đúng một lịch toàn quốc", "exactly one national calendar is required")
    by_level: dict[ScopeLevel, dict[str, Calendar]] = {ScopeLevel.PROVINCE: {}, ScopeLevel.COMMUNE: {}}
    for c in calendars:
        if c.level is ScopeLevel.NATIONAL:
            continue
        if c.code in by_level[c.level]:
            raise _bad(f"{c.level.value}:{c.code}", "lịch bị khai báo hai lần", "calendar declared twice")
        by_level[c.level][c.code] = c
    return CalendarSet(national[0], by_level[ScopeLevel.PROVINCE], by_level[ScopeLevel.COMMUNE])
