"""Registry area commands and queries: errors carry reason codes and write nothing.

Codes starting with "TEST-" are synthetic: no pre-2025 commune or district codes are shipped.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest

from antt.errors import DomainError, ErrorKind
from services.registry.application import Registry
from services.registry.domain.area_history import AreaLevel

from .conftest import JULY_2025, JUNE_2025, MERGER, OFFICER

pytestmark = pytest.mark.unit

BASIS = "test basis (synthetic)"


def stored(app: Registry) -> int:
    return sum(1 for _ in app.iter_notifications())


def refused(app: Registry, command: Callable[[], object], reason: str, kind: ErrorKind) -> DomainError:
    """Run a command that must fail with this reason and kind, and check it stored nothing."""
    before = stored(app)
    with pytest.raises(DomainError) as err:
        command()
    assert (err.value.reason, err.value.kind) == (reason, kind)
    assert err.value.message_vi and err.value.message_en
    assert stored(app) == before
    return err.value


def test_create_rename_reparent_and_query_an_area(tree_app: Registry) -> None:
    tree_app.create_area("district", "TEST-D1", "Huyện Thử", "huyen", "30", None, BASIS, OFFICER)
    tree_app.create_area("commune", "TEST-C1", "Xã Thử", "xa", "TEST-D1", None, BASIS, OFFICER,
                         parent_level="district")
    tree_app.rename_area("commune", "TEST-C1", "Xã Thử Mới", date(2025, 1, 1), BASIS, OFFICER)
    tree_app.reparent_area("commune", "TEST-C1", "30", date(2025, 3, 1), BASIS, OFFICER)
    area = tree_app.get_area("commune", "TEST-C1")
    assert [s.name for s in area.states] == ["Xã Thử", "Xã Thử Mới", "Xã Thử Mới"]
    nodes = {n.key.code: n for n in tree_app.tree_as_of(date(2025, 2, 1), level="commune")}
    assert nodes["TEST-C1"].parent.code == "TEST-D1"  # type: ignore[union-attr]
    last = tree_app.tree_as_of(date(2025, 4, 1), level=AreaLevel.COMMUNE)[-1]
    assert last.key.code == "TEST-C1" and last.parent is not None and last.parent.code == "30"


def test_merge_creating_a_new_target_and_split_are_atomic(tree_app: Registry) -> None:
    for code in ("TEST-A", "TEST-B"):
        tree_app.create_area("commune", code, f"Xã {code}", "xa", "30", None, BASIS, OFFICER)
    tree_app.merge_areas("commune", ["TEST-A", "TEST-B"], "TEST-AB", date(2024, 5, 1), BASIS, OFFICER,
                         new_name="Xã Hợp Nhất", new_kind="xa", parent_code="30")
    assert tree_app.resolve_old_code("commune", "TEST-A", date(2024, 5, 1)).codes == ("TEST-AB",)
    tree_app.split_area("commune", "TEST-AB", [("TEST-X", "Xã X", "xa"), ("TEST-Y", "Xã Y", "xa")],
                        date(2024, 9, 1), BASIS, OFFICER)
    res = tree_app.resolve_old_code("commune", "TEST-A", date(2024, 9, 1))
    assert res.codes == ("TEST-X", "TEST-Y") and not res.exact


def test_resolve_an_old_province_code(tree_app: Registry) -> None:
    assert tree_app.resolve_old_code("province", "30", JUNE_2025).codes == ("30",)
    assert tree_app.resolve_old_code("province", "30", JULY_2025).codes == ("31",)


def test_area_errors_have_reason_codes_and_write_nothing(tree_app: Registry) -> None:
    app = tree_app
    refused(app, lambda: app.create_area("commune", "TEST-C", "Xã C", "xa", "99", None, BASIS, OFFICER),
            "AREA_NOT_FOUND", ErrorKind.NOT_FOUND)
    refused(app, lambda: app.create_area("commune", "11948", "Đặc khu Bạch Long Vĩ", "dac_khu", "31", MERGER, BASIS,
                                         OFFICER), "AREA_ALREADY_EXISTS", ErrorKind.ALREADY_EXISTS)
    refused(app, lambda: app.rename_area("commune", "11948", "Đặc khu Mới", JUNE_2025, BASIS, OFFICER),
            "EFFECTIVE_DATE_BEFORE_AREA_EXISTED", ErrorKind.FAILED_PRECONDITION)
    refused(app, lambda: app.merge_areas("province", ["31"], "31", JULY_2025, BASIS, OFFICER),
            "AREA_MERGED_INTO_ITSELF", ErrorKind.FAILED_PRECONDITION)
    refused(app, lambda: app.rename_area("province", "30", "Tỉnh Hải Dương Mới", JULY_2025, BASIS, OFFICER),
            "AREA_ABOLISHED", ErrorKind.FAILED_PRECONDITION)
    refused(app, lambda: app.merge_areas("province", ["30", "01"], "31", date(2025, 8, 1), BASIS, OFFICER),
            "AREA_ABOLISHED", ErrorKind.FAILED_PRECONDITION)
    refused(app, lambda: app.create_area("district", "TEST-D", "Huyện D", "huyen", "31", date(2025, 8, 1), BASIS,
                                         OFFICER), "HISTORY_ONLY_BEFORE_2025_07_01", ErrorKind.FAILED_PRECONDITION)
    err = refused(app, lambda: app.create_area("commune", "TEST-C", " ", "xa", "31", JULY_2025, BASIS, OFFICER),
                  "INVALID_AREA_FIELD", ErrorKind.INVALID_ARGUMENT)
    assert err.field == "name"
    err = refused(app, lambda: app.create_area("commune", "TEST-C", "Xã C", "thon", "31", JULY_2025, BASIS, OFFICER),
                  "INVALID_AREA_FIELD", ErrorKind.INVALID_ARGUMENT)
    assert err.field == "kind"
    err = refused(app, lambda: app.create_area("canton", "TEST-C", "Xã C", "xa", "31", JULY_2025, BASIS, OFFICER),
                  "INVALID_AREA_FIELD", ErrorKind.INVALID_ARGUMENT)
    assert err.field == "level"
    refused(app, lambda: app.resolve_old_code("commune", "TEST-NONE", JULY_2025), "AREA_NOT_FOUND",
            ErrorKind.NOT_FOUND)
    refused(app, lambda: app.split_area("commune", "11948", [("TEST-X", "Xã X", "xa")], JULY_2025, BASIS, OFFICER),
            "INVALID_AREA_FIELD", ErrorKind.INVALID_ARGUMENT)
