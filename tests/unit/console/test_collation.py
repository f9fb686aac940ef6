"""Vietnamese collation and diacritic-insensitive search of the console."""

from __future__ import annotations

import pytest

from services.console.collation import fold, matches, sort_key

pytestmark = pytest.mark.unit


def test_letters_follow_the_vietnamese_alphabet() -> None:
    words = ["đá", "dê", "ăn", "an", "ân", "bò", "ê", "em", "ơi", "ông", "ở", "ốc", "ưa", "uống", "cá", "xoài", "y"]
    assert sorted(words, key=sort_key) == ["an", "ăn", "ân", "bò", "cá", "dê", "đá", "em", "ê", "ốc", "ông",
                                           "ở", "ơi", "uống", "ưa", "xoài", "y"]


def test_tone_marks_are_secondary_in_dictionary_order() -> None:
    # ngang, huyền, hỏi, ngã, sắc, nặng; and a tone never outranks the next letter.
    assert sorted(["má", "mạ", "mà", "ma", "mã", "mả"], key=sort_key) == ["ma", "mà", "mả", "mã", "má", "mạ"]
    assert sorted(["mạb", "maa"], key=sort_key) == ["maa", "mạb"]


def test_d_stroke_comes_after_d_and_before_e() -> None:
    assert sorted(["Đông Anh", "Duy Tiên", "Đà Nẵng", "Ea Kar", "Diên Khánh"], key=sort_key) == [
        "Diên Khánh", "Duy Tiên", "Đà Nẵng", "Đông Anh", "Ea Kar"]


def test_decomposed_and_composed_text_sort_the_same() -> None:
    import unicodedata

    assert sort_key(unicodedata.normalize("NFD", "Phường Ba Đình"))[:2] == sort_key("Phường Ba Đình")[:2]


def test_search_ignores_diacritics_and_case() -> None:
    assert fold("Tổ dân phố Đồng Tâm") == "to dan pho dong tam"
    assert matches("dong tam", "Tổ dân phố Đồng Tâm")
    assert matches("ĐỒNG", "Tổ dân phố Đồng Tâm")
    assert matches("truong thcs", "Trường THCS Bạch Long Vĩ", "DEMO-11948-06")
    assert matches("11948-06", "Trường THCS", "DEMO-11948-06")
    assert not matches("dong ha", "Tổ dân phố Đồng Tâm")
