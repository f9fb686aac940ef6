"""Registry rule violations, each with a reason code and Vietnamese and English text."""

from __future__ import annotations

from antt.errors import AlreadyExistsError, FailedPreconditionError, InvalidArgumentError, NotFoundError


class InvalidUnitFieldError(InvalidArgumentError):
    """A unit field is empty, too long or has control characters."""

    reason = "INVALID_UNIT_FIELD"


class UnknownAreaError(NotFoundError):
    """The province or commune code is not an official code."""

    reason = "UNKNOWN_AREA"


class UnitAlreadyRegisteredError(AlreadyExistsError):
    """A unit with this code exists already."""

    reason = "UNIT_ALREADY_REGISTERED"

    def __init__(self, code: str) -> None:
        super().__init__(f"Đơn vị có mã {code} đã được đăng ký", f"A unit with code {code} is already registered",
                         field="code")


class UnitNotFoundError(NotFoundError):
    """No unit has this id."""

    reason = "UNIT_NOT_FOUND"

    def __init__(self, unit_id: str, field: str = "unit_id") -> None:
        super().__init__(f"Không tìm thấy đơn vị {unit_id}", f"Unit {unit_id} not found", field=field)


class InvalidAreaFieldError(InvalidArgumentError):
    """An area field (name, kind, legal basis, parent level, targets) is malformed."""

    reason = "INVALID_AREA_FIELD"


class AreaNotFoundError(NotFoundError):
    """No administrative area has this level and code."""

    reason = "AREA_NOT_FOUND"

    def __init__(self, level: str, code: str, field: str = "code") -> None:
        super().__init__(f"Không tìm thấy đơn vị hành chính cấp {level} mã {code!r}",
                         f"no {level} area with code {code!r}", field=field)


class AreaAlreadyExistsError(AlreadyExistsError):
    """An area with this level and code exists already."""

    reason = "AREA_ALREADY_EXISTS"

    def __init__(self, codes: str) -> None:
        super().__init__(f"Đơn vị hành chính mã {codes} đã tồn tại", f"area {codes} exists already", field="code")


class AreaRuleError(FailedPreconditionError):
    """A reorganisation that the area's history does not allow; the reason code names the rule."""

    reason = "AREA_RULE_VIOLATED"


def effective_before_existed(code: str, effective: object, created: object) -> AreaRuleError:
    """The change is dated before the area was created."""
    return AreaRuleError(f"Ngày hiệu lực {effective} trước ngày thành lập {created} của đơn vị {code}",
                         f"effective date {effective} is before area {code} existed (from {created})",
                         field="effective_date", reason="EFFECTIVE_DATE_BEFORE_AREA_EXISTED")


def effective_before_last_change(code: str, effective: object, last: object) -> AreaRuleError:
    """The change is dated before the area's last recorded change."""
    return AreaRuleError(f"Ngày hiệu lực {effective} trước lần thay đổi gần nhất ({last}) của đơn vị {code}",
                         f"effective date {effective} is before the last change of area {code} ({last})",
                         field="effective_date", reason="EFFECTIVE_DATE_BEFORE_LAST_CHANGE")


def area_abolished(code: str, abolished: object) -> AreaRuleError:
    """The area no longer exists."""
    return AreaRuleError(f"Đơn vị hành chính {code} đã bị giải thể/sáp nhập từ {abolished}",
                         f"area {code} was abolished on {abolished}", field="code", reason="AREA_ABOLISHED")


def merged_into_itself(code: str) -> AreaRuleError:
    """A merge or split names the same area as source and target."""
    return AreaRuleError(f"Không thể sáp nhập/chia tách đơn vị {code} vào chính nó",
                         f"area {code} cannot be merged or split into itself", field="target_code",
                         reason="AREA_MERGED_INTO_ITSELF")


def area_not_in_force(code: str, on: object, field: str = "code") -> AreaRuleError:
    """The area did not exist on the date."""
    return AreaRuleError(f"Đơn vị hành chính {code} không tồn tại vào ngày {on}",
                         f"area {code} did not exist on {on}", field=field, reason="AREA_NOT_IN_FORCE")


def history_only(what_vi: str, what_en: str, on: object) -> AreaRuleError:
    """Districts and thị trấn exist only before 01/7/2025."""
    return AreaRuleError(f"{what_vi} chỉ tồn tại trước ngày 01/7/2025 (ngày hiệu lực {on})",
                         f"{what_en} exists only before 2025-07-01 (effective date {on})", field="effective_date",
                         reason="HISTORY_ONLY_BEFORE_2025_07_01")


class UnitRuleError(FailedPreconditionError):
    """A unit command that the unit's history does not allow; the reason code names the rule."""

    reason = "UNIT_RULE_VIOLATED"


def unit_closed(code: str, closed: object) -> UnitRuleError:
    """The unit was closed."""
    return UnitRuleError(f"Đơn vị {code} đã chấm dứt từ {closed}", f"unit {code} was closed on {closed}",
                         field="unit_id", reason="UNIT_CLOSED")


def unit_effective_too_early(code: str, effective: object, last: object) -> UnitRuleError:
    """The change is dated before the unit's registration or its last dated change."""
    return UnitRuleError(f"Ngày hiệu lực {effective} trước ngày {last} trong lịch sử của đơn vị {code}",
                         f"effective date {effective} is before {last} in the history of unit {code}",
                         field="effective_date", reason="EFFECTIVE_DATE_BEFORE_LAST_CHANGE")
