"""Text normalization: clean raw text for storage, canonicalize terms, fold diacritics.

Terms are NFC, lowercase, with one tone-mark placement.
"""

from __future__ import annotations

import codecs
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


class _SameLengthTable(dict):
    """str.translate table: each character lowercased and folded when that gives one character."""

    def __missing__(self, code: int) -> str:
        char = chr(code)
        folded = fold(char.lower())
        self[code] = folded if len(folded) == 1 else char
        return self[code]


_SAME_LENGTH = _SameLengthTable()


def fold_lower(text: str) -> str:
    """Lowercase and fold ``text`` character by character, keeping every offset
    ("Hà Nội" -> "ha noi"); characters that would change length stay as they are."""
    return text.translate(_SAME_LENGTH)


# fold_ascii runs over whole articles for every hit shown, so it works in C: lowercase, encode
# the letters and punctuation of Vietnamese text as bytes of a private 8-bit code, translate the
# bytes to ASCII; anything else goes through _fold_ascii_rest.
_WORD = re.compile(r"\w")
_VIETNAMESE = "àáảãạăằắẳẵặâầấẩẫậđèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵ"
_PUNCTUATION = "“”‘’–—…•«»·°€£§†‰′″‹›„‚−×"
_LETTERS = (_VIETNAMESE + "".join(
    c for c in map(chr, range(0xC0, 0x250))
    if c not in _VIETNAMESE and c == c.lower() and len(fold(c)) == 1 and fold(c).isascii() and fold(c) != c
))[: 128 - len(_PUNCTUATION)]  # fmt: skip
_CODE = codecs.charmap_build("".join(map(chr, range(128))) + _LETTERS + _PUNCTUATION)
_CODE_TO_ASCII = bytes(range(128)) + "".join(map(fold, _LETTERS)).encode("ascii") + b" " * len(_PUNCTUATION)


def _fold_ascii_rest(error: UnicodeError) -> tuple[str, int]:
    """Characters outside the code: folded alone, or "_" (letters, digits) or " " (the rest)."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    out = []
    for char in error.object[error.start : error.end]:
        folded = fold_lower(char)
        out.append(folded if folded.isascii() else "_" if _WORD.match(char) else " ")
    return "".join(out), error.end


codecs.register_error("hnp_search.fold_ascii", _fold_ascii_rest)


def fold_ascii(text: str) -> str:
    """``fold_lower`` for finding ASCII terms, about five times faster: every offset kept,
    characters that fold to no ASCII letter become "_" (letters, digits) or " " (the rest)."""
    lowered = text.lower()
    if len(lowered) != len(text):  # a letter whose lowercase is two ("İ")
        lowered = fold_lower(text)
    return codecs.charmap_encode(lowered, "hnp_search.fold_ascii", _CODE)[0].translate(_CODE_TO_ASCII).decode("ascii")


def has_diacritics(text: str) -> bool:
    """True when folding would change ``text``."""
    return fold(text) != text


def is_utf8(text: str) -> bool:
    """Whether ``text`` can be written as UTF-8: a file name or command-line argument that was
    not UTF-8 reaches Python as lone surrogates, and so does a JSON escape such as ``\\ud800``."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
