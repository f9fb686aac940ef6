"""Assessment rule violations, each with a machine-readable reason and Vietnamese and English text."""

from __future__ import annotations

from antt.errors import FailedPreconditionError, InvalidArgumentError, NotFoundError


class StepOutOfOrderError(FailedPreconditionError):
    """The command is not allowed in the case's current state."""

    reason = "STEP_OUT_OF_ORDER"

    def __init__(self, step: str, state_vi: str, state: str) -> None:
        super().__init__(f"Không thể thực hiện bước '{step}' khi hồ sơ đang ở trạng thái '{state_vi}'",
                         f"step '{step}' is not allowed while the case is '{state}'", field="state")


class WrongAuthorityError(FailedPreconditionError):
    """The issuing authority does not match the authority map in force."""

    reason = "WRONG_AUTHORITY"


class UnmetCriterionError(FailedPreconditionError):
    """Recognition needs every mandatory criterion met (TT124 Đ8 k1)."""

    reason = "UNMET_CRITERION"

    def __init__(self, criterion_ids: list[str]) -> None:
        ids = ", ".join(criterion_ids)
        super().__init__(f"Chưa đạt tiêu chí bắt buộc: {ids}", f"mandatory criteria not met: {ids}",
                         field="outcome")


class CommuneCoverageNotMetError(FailedPreconditionError):
    """A commune needs 100% of its managed units registered and ≥70% recognised (TT124 Đ5 k4)."""

    reason = "COMMUNE_COVERAGE_NOT_MET"


class SecondCaseError(FailedPreconditionError):
    """A unit has at most one case (or one classification) per year (TT124 Đ3 k1)."""

    reason = "SECOND_CASE_FOR_YEAR"

    def __init__(self, what_vi: str, what_en: str, unit_id: str, year: int) -> None:
        super().__init__(f"Đơn vị {unit_id} đã có {what_vi} năm {year}",
                         f"unit {unit_id} already has a {what_en} for {year}", field="unit_id")


class UnitNotEligibleError(FailedPreconditionError):
    """The unit is outside TT124's scope (armed forces, small/micro enterprise, primary school...)."""

    reason = "UNIT_NOT_ELIGIBLE"


class UnitNotInReplicaError(FailedPreconditionError):
    """The unit is unknown to this service's replica of the registry."""

    reason = "UNIT_NOT_IN_REPLICA"

    def __init__(self, unit_id: str) -> None:
        super().__init__(f"Đơn vị {unit_id} chưa có trong danh mục đơn vị", f"unit {unit_id} is not in the replica",
                         field="unit_id")


class MissingDecisionNumberError(InvalidArgumentError):
    """Every decision (recognition, revocation, classification) has a number."""

    reason = "MISSING_DECISION_NUMBER"

    def __init__(self) -> None:
        super().__init__("Quyết định phải có số", "the decision number is missing", field="decision.number")


class PointsOutsideScaleError(InvalidArgumentError):
    """Classification points must lie on the scale in force (0–100 by default)."""

    reason = "POINTS_OUTSIDE_SCALE"


class InvalidAssessmentError(InvalidArgumentError):
    """A self-assessment or finding is malformed (unknown criterion, missing value, bad digest...)."""

    reason = "INVALID_ASSESSMENT"


class InvalidFieldError(InvalidArgumentError):
    """A required field is empty or malformed."""

    reason = "INVALID_FIELD"


class StaleAssessmentError(FailedPreconditionError):
    """The decision names an assessment version other than the case's current one."""

    reason = "STALE_ASSESSMENT"


class ConcurrentUpdateError(FailedPreconditionError):
    """Another command changed the same case first; nothing was saved, retry on fresh state."""

    reason = "CONCURRENT_UPDATE"

    def __init__(self) -> None:
        super().__init__("Hồ sơ vừa được người khác cập nhật, không có gì được lưu; hãy thử lại",
                         "another command updated the case first; nothing was saved, retry", field="case_id")


class NoRuleSetInForceError(FailedPreconditionError):
    """No rule set is in force on the date asked for."""

    reason = "NO_RULE_SET_IN_FORCE"


class UnknownRuleSetError(NotFoundError):
    """No rule set has this id."""

    reason = "UNKNOWN_RULE_SET"


class CaseNotFoundError(NotFoundError):
    """No case (or classification) has this id, or it did not exist yet at the time asked for."""

    reason = "CASE_NOT_FOUND"

    def __init__(self, case_id: str, when: str = "") -> None:
        at_vi, at_en = (f" tại thời điểm {when}", f" at {when}") if when else ("", "")
        super().__init__(f"Không tìm thấy hồ sơ {case_id}{at_vi}", f"case {case_id} not found{at_en}",
                         field="case_id")
