"""Text normalization: clean raw text for storage, canonicalize terms (NFC, lowercase, tone placement), fold diacritics."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from unidecode import unidecode

# Combining tone marks: grave, acute, tilde, hook above, dot below.
_TONES = frozenset("\u0300\u0301\u0303\u0309\u0323")
_VOWELS = frozenset("aăâeêioôơuưy")
_MARKED_VOWELS = frozenset("ăâêôơư")

_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
_SPACES = dict.fromkeys(map(ord, "\u00a0\u2007\u202f\u2009\u200a\u3000"), " ")
_CLEAN = {**_ZERO_WIDTH, **_SPACES}


def clean_text(text: str) -> str:
    """Return ``text`` as stored and shown: NFC, LF line ends, no BOM or zero-width
    characters, non-breaking spaces as plain spaces. Case and tone marks are kept."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").translate(_CLEAN)
    return unicodedata.normalize("NFC", text)


@lru_cache(maxsize=200_000)
def canonical_syllable(syllable: str) -> str:
    """Put the tone mark of one lowercase NFC syllable where the traditional rule puts it.

    "hoà" and "hòa", "thuỷ" and "thủy", "khoẻ" and "khỏe" all become the second form;
    "quý", "giữ", "người" are left as they are. Anything that is not a Vietnamese
    syllable is returned unchanged.
    """
    decomposed = unicodedata.normalize("NFD", syllable)
    tones = [c for c in decomposed if c in _TONES]
    if len(tones) != 1:
        return syllable
    base = unicodedata.normalize("NFC", "".join(c for c in decomposed if c not in _TONES))
    n = len(base)
    i = 0
    while i < n and base[i] not in _VOWELS:
        i += 1
    onset = base[:i]
    if onset == "q" and base[i : i + 1] == "u":
        i += 1  # "qu": the u belongs to the consonant
    elif onset == "g" and base[i : i + 1] == "i" and i + 1 < n and base[i + 1] in _VOWELS:
        i += 1  # "gi" before a vowel: the i belongs to the consonant
    j = i
    while j < n and base[j] in _VOWELS:
        j += 1
    coda = base[j:]
    if i == j or coda and (not coda.isalpha() or any(c in _VOWELS for c in coda)):
        return syllable
    marked = [k for k in range(i, j) if base[k] in _MARKED_VOWELS]
    if marked:
        pos = marked[-1]
    elif j < n:  # closed syllable: the last vowel ("hoàng", "huỳnh")
        pos = j - 1
    elif j - i <= 2:  # open, one or two vowels: the first ("hòa", "mùa", "thủy")
        pos = i
    elif j - i == 3:  # open, three vowels: the middle ("ngoài", "khuỷu")
        pos = i + 1
    else:
        return syllable
    return unicodedata.normalize("NFC", base[: pos + 1] + tones[0] + base[pos + 1 :])


_SYLLABLE = re.compile(r"\w+")


def normalize_term(token: str) -> str:
    """Lowercase an NFC token and canonicalize the tone placement of each syllable in it."""
    token = token.lower()
    if token.isascii():
        return token
    return _SYLLABLE.sub(lambda m: canonical_syllable(m.group()), token)


class _FoldTable(dict):
    """str.translate table computed per character on first use."""

    def __missing__(self, code: int) -> str:
        char = chr(code)
        if char in "đĐ":
            folded = "d" if char == "đ" else "D"
        else:
            stripped = "".join(
                c for c in unicodedata.normalize("NFD", char) if not unicodedata.combining(c)
            )
            folded = stripped
            if not stripped.isascii() and unicodedata.category(char).startswith("L"):
                latin = unidecode(char)
                if latin.isalpha() and latin.isascii():
                    folded = latin
        self[code] = folded
        return folded


_FOLD = _FoldTable()


def fold(text: str) -> str:
    """Remove every diacritic and map đ/Đ to d/D ("Đảng ủy" -> "Dang uy"). Input must be NFC."""
    if text.isascii():
        return text
    return text.translate(_FOLD)


#: Where the characters that fold to one Latin letter or digit live: Latin-1, Latin
#: Extended-A and -B, Latin Extended Additional (Vietnamese), fullwidth forms.
_FOLDABLE = [*range(0x250), *range(0x1E00, 0x1F00), *range(0xFF01, 0xFF5F)]


@lru_cache(maxsize=1)
def _spellings() -> dict[str, str]:
    """Folded lowercase character -> the characters of ``_FOLDABLE`` that lowercase and fold to it."""
    out: dict[str, str] = {}
    for char in map(chr, _FOLDABLE):
        folded = fold(char.lower())
        if len(folded) == 1:
            out[folded] = out.get(folded, "") + char
    return out


def fold_pattern(term: str) -> str:
    """A regular expression for the folded lowercase ``term`` however NFC text spells it:
    each letter in either case, with or without diacritics ("ha" finds "Hà", "HẠ", "ha")."""
    spellings = _spellings()
    return "".join(f"[{re.escape(spellings[c])}]" if len(spellings.get(c, "")) > 1 else re.escape(c) for c in term)


def has_diacritics(text: str) -> bool:
    """True when folding would change ``text``."""
    return fold(text) != text
