"""Vietnamese collation (alphabet order, tone marks secondary) and diacritic-insensitive search folding."""

from __future__ import annotations

import unicodedata

# The Vietnamese alphabet; f, j, w, z (loanwords) sit where the Latin alphabet puts them.
ALPHABET = ("a", "ă", "â", "b", "c", "d", "đ", "e", "ê", "f", "g", "h", "i", "j", "k", "l", "m", "n",
            "o", "ô", "ơ", "p", "q", "r", "s", "t", "u", "ư", "v", "w", "x", "y", "z")
_RANK = {letter: i for i, letter in enumerate(ALPHABET)}
# Tone marks in dictionary order: ngang (none), huyền, hỏi, ngã, sắc, nặng.
TONES = {"\u0300": 1, "\u0309": 2, "\u0303": 3, "\u0301": 4, "\u0323": 5}
# Marks that make a different letter (ă â ê ô ơ ư), not a tone.
LETTER_MARKS = {"\u0306", "\u0302", "\u031b"}


def _letters(text: str) -> list[tuple[str, int]]:
    """(letter, tone) pairs of `text`: tone marks split off, letter marks kept on their letter."""
    out: list[tuple[str, int]] = []
    for ch in unicodedata.normalize("NFD", text.casefold()):
        if ch in TONES and out:
            out[-1] = (out[-1][0], TONES[ch])
        elif ch in LETTER_MARKS and out:
            out[-1] = (unicodedata.normalize("NFC", out[-1][0] + ch), out[-1][1])
        elif unicodedata.combining(ch) and out:
            continue  # any other mark does not matter for order
        else:
            out.append((ch, 0))
    return out


def sort_key(text: str) -> tuple[tuple[tuple[int, int], ...], tuple[int, ...], str]:
    """Key ordering strings by the Vietnamese alphabet (a ă â b c d đ e ê …), then by tones, then by case."""
    pairs = _letters(text)
    # Letters of the alphabet rank by position; digits, spaces and others before letters, by code point.
    primary = tuple((1, _RANK[c]) if c in _RANK else (0, ord(c[0])) for c, _ in pairs)
    secondary = tuple(t for _, t in pairs)
    return primary, secondary, text


def fold(text: str) -> str:
    """Lower case without any diacritic (đ → d), for diacritic-insensitive search."""
    decomposed = unicodedata.normalize("NFD", text.casefold().replace("đ", "d"))
    return " ".join("".join(ch for ch in decomposed if not unicodedata.combining(ch)).split())


def matches(query: str, *fields: str) -> bool:
    """True when every word of the query occurs (folded) in one of the fields."""
    haystack = " ".join(fold(f) for f in fields)
    return all(word in haystack for word in fold(query).split())
