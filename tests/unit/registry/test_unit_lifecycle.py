"""Units: register (with eligibility facts), update, move, close, history; errors carry reason codes."""

from __future__ import annotations

from datetime import date
from uuid import UUID

import pytest

from antt.errors import DomainError, ErrorKind
from services.registry.application import Registry
from services.registry.domain.facts import EligibilityFacts, SchoolLevel, SizeClass
from services.registry.domain.unit import ClosureReason

from .conftest import OFFICER
from .test_registry_areas import refused

pytestmark = pytest.mark.unit

D1, D2, D3 = date(2025, 8, 1), date(2025, 9, 1), date(2025, 10, 1)


def test_register_unit_keeps_working_without_areas_in_the_store(app: Registry) -> None:
    unit = app.register_unit("DEMO-1", "Thôn Một", "khu_dan_cu", "31", "11948", OFFICER, D1)
    assert app.get_unit(unit.id).commune_code == "11948"
    assert app.locate_unit(unit.id, D2).province_code == "31"  # type: ignore[union-attr]
    refused(app, lambda: app.register_unit("DEMO-1", "Thôn Một", "khu_dan_cu", "31", "11948", OFFICER, D1),
            "UNIT_ALREADY_REGISTERED", ErrorKind.ALREADY_EXISTS)
    refused(app, lambda: app.register_unit("DEMO-2", "Thôn Hai", "khu_dan_cu", "31", "00145", OFFICER, D1),
            "UNKNOWN_AREA", ErrorKind.NOT_FOUND)


def test_acceptance_small_enterprise_primary_school_and_armed_forces_agency_are_out_of_scope(app: Registry) -> None:
    # All three are registered (stored), but derived eligibility says out of scope, with a reason code each.
    small = app.register_unit("0100000001", "Công ty TNHH Nhỏ", "doanh_nghiep", "01", "00145", OFFICER, D1,
                              facts=EligibilityFacts(size_class=SizeClass.NHO, size_declared_on=date(2025, 1, 15)))
    school = app.register_unit("DEMO-TH", "Trường Tiểu học Long Biên", "co_so_giao_duc", "01", "00145", OFFICER, D1,
                               facts=EligibilityFacts(school_levels=frozenset({SchoolLevel.TIEU_HOC})))
    army = app.register_unit("DEMO-LLVT", "Đơn vị quân đội", "co_quan", "01", "00145", OFFICER, D1,
                             facts=EligibilityFacts(armed_forces=True))
    medium = app.register_unit("0100000002", "Công ty CP Vừa", "doanh_nghiep", "01", "00145", OFFICER, D1,
                               facts=EligibilityFacts(size_class=SizeClass.VUA, size_declared_on=date(2025, 1, 15)))
    reasons = {u.code: app.get_eligibility(u.id, D2) for u in (small, school, army, medium)}
    assert {c: (e.eligible, e.reason_code) for c, e in reasons.items()} == {
        "0100000001": (False, "OUT_OF_SCOPE_SMALL_ENTERPRISE"),
        "DEMO-TH": (False, "OUT_OF_SCOPE_PRIMARY_SCHOOL"),
        "DEMO-LLVT": (False, "OUT_OF_SCOPE_ARMED_FORCES_AGENCY"),
        "0100000002": (True, "ELIGIBLE_MEDIUM_ENTERPRISE"),
    }
    listed = app.list_units(D2, province_code="01", eligible=False)
    assert [v.unit.code for v in listed] == ["0100000001", "DEMO-LLVT", "DEMO-TH"]


def test_facts_are_stored_and_read_back_through_the_event_store(app: Registry) -> None:
    unit = app.register_unit("DEMO-S", "Trường liên cấp", "co_so_giao_duc", "01", "00145", OFFICER, D1,
                             facts=EligibilityFacts(school_levels=frozenset({SchoolLevel.TIEU_HOC, SchoolLevel.THCS})))
    reloaded = app.get_unit(unit.id)
    assert reloaded.facts_on(D1).school_levels == frozenset({SchoolLevel.TIEU_HOC, SchoolLevel.THCS})
    assert app.verify_chains() == []


def test_eligibility_follows_the_declared_size_over_time(app: Registry) -> None:
    unit = app.register_unit("0100000003", "Công ty Lớn Lên", "doanh_nghiep", "01", "00145", OFFICER, D1,
                             facts=EligibilityFacts(size_class=SizeClass.NHO, size_declared_on=D1))
    app.declare_eligibility_facts(unit.id, EligibilityFacts(size_class=SizeClass.VUA, size_declared_on=D2), D2,
                                  OFFICER)
    assert app.get_eligibility(unit.id, D1).reason_code == "OUT_OF_SCOPE_SMALL_ENTERPRISE"
    assert app.get_eligibility(unit.id, D2).reason_code == "ELIGIBLE_MEDIUM_ENTERPRISE"


def test_facts_for_another_unit_type_are_invalid_arguments_naming_the_field(app: Registry) -> None:
    for facts, field in ((EligibilityFacts(armed_forces=True), "armed_forces"),
                         (EligibilityFacts(size_class=SizeClass.LON, size_declared_on=D1), "size_class"),
                         (EligibilityFacts(school_levels=frozenset({SchoolLevel.THPT})), "school_levels")):
        err = refused(app, lambda f=facts: app.register_unit("DEMO-K", "Thôn K", "khu_dan_cu", "01", "00145",
                                                                OFFICER, D1, facts=f),
                      "INVALID_UNIT_FIELD", ErrorKind.INVALID_ARGUMENT)
        assert err.field == field
    err = refused(app, lambda: app.register_unit("DEMO-E", "Công ty E", "doanh_nghiep", "01", "00145", OFFICER, D1,
                                                 facts=EligibilityFacts(size_class=SizeClass.LON)),
                  "INVALID_UNIT_FIELD", ErrorKind.INVALID_ARGUMENT)
    assert err.field == "size_declared_on"


def test_update_move_close_and_history(app: Registry) -> None:
    unit = app.register_unit("DEMO-U", "Tổ dân phố 1", "khu_dan_cu", "01", "00145", OFFICER, D1)
    app.update_unit(unit.id, OFFICER, name="Tổ dân phố số 1", contact_email="tdp1@example.vn",
                    contact_webhook="https://example.vn/hook")
    app.move_unit(unit.id, "31", "11948", D2, OFFICER)
    app.close_unit(unit.id, "dissolved", D3, OFFICER)
    assert app.locate_unit(unit.id, D1).commune_code == "00145"  # type: ignore[union-attr]
    assert app.locate_unit(unit.id, D2).commune_code == "11948"  # type: ignore[union-attr]
    assert app.locate_unit(unit.id, D3) is None
    history = app.unit_history(unit.id)
    assert [h.event for h in history] == ["Registered", "Updated", "Moved", "Closed"]
    assert [h.effective_date for h in history] == [D1, None, D2, D3]
    assert all(h.actor == OFFICER for h in history)
    assert app.get_unit(unit.id).name == "Tổ dân phố số 1"


def test_unit_errors_have_reason_codes_and_write_nothing(app: Registry) -> None:
    unit = app.register_unit("DEMO-V", "Thôn V", "khu_dan_cu", "01", "00145", OFFICER, D2)
    other = app.register_unit("DEMO-W", "Thôn W", "khu_dan_cu", "01", "00145", OFFICER, D2)
    refused(app, lambda: app.move_unit(unit.id, "31", "11948", D1, OFFICER),
            "EFFECTIVE_DATE_BEFORE_LAST_CHANGE", ErrorKind.FAILED_PRECONDITION)
    refused(app, lambda: app.move_unit(unit.id, "31", "99999", D3, OFFICER), "UNKNOWN_AREA", ErrorKind.NOT_FOUND)
    refused(app, lambda: app.close_unit(unit.id, ClosureReason.MERGED, D3, OFFICER, successor_code="DEMO-V"),
            "UNIT_MERGED_INTO_ITSELF", ErrorKind.FAILED_PRECONDITION)
    refused(app, lambda: app.close_unit(unit.id, "merged", D3, OFFICER, successor_code="DEMO-NONE"),
            "UNIT_NOT_FOUND", ErrorKind.NOT_FOUND)
    refused(app, lambda: app.close_unit(unit.id, "vanished", D3, OFFICER), "INVALID_UNIT_FIELD",
            ErrorKind.INVALID_ARGUMENT)
    refused(app, lambda: app.update_unit(unit.id, OFFICER, contact_email="not-an-email"), "INVALID_UNIT_FIELD",
            ErrorKind.INVALID_ARGUMENT)
    refused(app, lambda: app.update_unit(unit.id, OFFICER, contact_webhook="ftp://x"), "INVALID_UNIT_FIELD",
            ErrorKind.INVALID_ARGUMENT)
    app.close_unit(unit.id, "merged", D3, OFFICER, successor_code="DEMO-W")
    assert app.get_unit(unit.id).successor_code == other.code
    refused(app, lambda: app.move_unit(unit.id, "31", "11948", date(2025, 11, 1), OFFICER), "UNIT_CLOSED",
            ErrorKind.FAILED_PRECONDITION)
    refused(app, lambda: app.update_unit(unit.id, OFFICER, name="Thôn Mới"), "UNIT_CLOSED",
            ErrorKind.FAILED_PRECONDITION)
    refused(app, lambda: app.close_unit(other.id, "merged", D3, OFFICER, successor_code="DEMO-V"), "UNIT_CLOSED",
            ErrorKind.FAILED_PRECONDITION)
    with pytest.raises(DomainError) as err:
        app.get_unit(UUID(int=0))
    assert err.value.reason == "UNIT_NOT_FOUND"
