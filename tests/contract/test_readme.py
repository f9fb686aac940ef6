"""The README's configuration table lists exactly the variables the code reads."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from antt.settings import all_vars

pytestmark = pytest.mark.contract

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_documents_every_setting_and_no_other() -> None:
    text = README.read_text(encoding="utf-8")
    table = re.findall(r"^\| `(ANTT_[A-Z_]+)` \|", text, flags=re.MULTILINE)
    assert sorted(table) == sorted(v.name for v in all_vars())
    assert "make run" in text and "make test" in text
