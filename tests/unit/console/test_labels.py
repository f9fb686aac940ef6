"""Labels of the services' codes: one table, Vietnamese from the services' own tables, English for all."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from antt.contracts.vocabulary import UnitType
from services.assessment.domain.classification import ClassificationState
from services.assessment.domain.states import CaseState, Outcome
from services.console import i18n
from services.console.i18n import EN, label, labels
from services.reporting.rollup.figures import LEVEL_LABELS_VI

pytestmark = pytest.mark.unit
CONSOLE = Path(i18n.__file__).parent


def test_the_codes_users_saw_raw_have_labels_in_both_languages() -> None:
    assert label("outcome", "dat", "vi") == "Đạt" and label("outcome", "dat", "en") == "Met"
    assert label("outcome", "chua_dat", "vi") == "Chưa đạt"
    assert label("unit_status", "hoat_dong", "vi") == "Đang hoạt động"
    assert label("unit_status", "hoat_dong", "en") == "Open"
    assert label("unit_status", "cham_dut", "vi") == "Đã chấm dứt"
    assert label("case_state", "cong_nhan", "en") == "Recognised as meeting the standard"
    assert label("event", "CaseDecided", "vi") == "Ra quyết định"
    assert label("role", "commune_operator", "vi") == "Cán bộ cấp xã"


def test_an_unknown_code_is_shown_as_it_is() -> None:
    assert label("outcome", "something_new", "vi") == "something_new"
    assert label("no_such_kind", "x", "en") == "x"


def test_vietnamese_comes_from_the_kernel_and_services_tables() -> None:
    for kind, enum_type in (("unit_type", UnitType), ("case_state", CaseState), ("outcome", Outcome),
                            ("classification_state", ClassificationState)):
        for member in enum_type:
            assert label(kind, member.value, "vi") == member.label_vi
    assert {code: label("level", code, "vi") for code in LEVEL_LABELS_VI} == LEVEL_LABELS_VI


def test_every_label_has_english_without_vietnamese_letters() -> None:
    vietnamese = re.compile(r"[ăâđêôơưàáạảãằắặẳẵầấậẩẫèéẹẻẽềếệểễìíịỉĩòóọỏõồốộổỗờớợởỡùúụủũừứựửữỳýỵỷỹ]", re.I)
    for kind, table in labels().items():
        for code, (vi, en) in table.items():
            assert vi and en and not vietnamese.search(en), (kind, code, en)


def test_every_text_of_the_pages_has_an_english_translation() -> None:
    texts = set()
    for path in [*(CONSOLE / "templates").glob("*.html"), CONSOLE / "app.py"]:
        texts |= set(re.findall(r"""(?:\b_|translate)\(\s*["']([^"']+)["']""", path.read_text()))
    assert len(texts) > 100
    assert sorted(t for t in texts if t not in EN) == []
