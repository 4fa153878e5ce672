"""Typos: the index's terms one edit away from a mistyped one, found by their deletions (SymSpell's idea).

An edit is a letter missing, extra or wrong, or two letters swapped.

A term and a mistyped form of it are one edit apart exactly when deleting at most
one letter from each makes them equal, or when they are two swapped letters; so each
known term is filed under itself and its one-letter deletions, and a lookup files the
query term's deletions against that table, then checks the true distance.
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict

#: Terms shorter than this are not corrected: a two-letter typo could be any of dozens of words.
MIN_LENGTH = 3
#: Nor longer ones (URLs, long numbers): nobody mistypes those expecting a correction.
MAX_LENGTH = 24


def _deletions(term: str) -> set[str]:
    return {term[:i] + term[i + 1 :] for i in range(len(term))}


def one_edit(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` differ by exactly one insertion, deletion, substitution or
    swap of adjacent letters."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    if len(a) < len(b):
        return a[i:] == b[i + 1 :]
    if a[i + 1 :] == b[i + 1 :]:
        return True
    return a[i + 2 :] == b[i + 2 :] and a[i] == b[i + 1] and a[i + 1] == b[i]


class Corrector:
    """One-edit corrections among ``frequencies`` (term -> number of articles holding it)."""

    def __init__(self, frequencies: dict[str, int]):
        self.frequencies = frequencies
        table: defaultdict[str, list[str]] = defaultdict(list)
        for term in frequencies:
            if MIN_LENGTH <= len(term) <= MAX_LENGTH and term.isalpha():
                table[term].append(term)
                for deleted in _deletions(term):
                    table[deleted].append(term)
        self._table = dict(table)

    def corrections(self, term: str, limit: int = 3) -> list[tuple[str, int]]:
        """Up to ``limit`` known terms one edit from ``term``, most frequent first, as
        (term, frequency)."""
        if not MIN_LENGTH <= len(term) <= MAX_LENGTH or not term.isalpha():
            return []
        found: set[str] = set()
        for key in (term, *_deletions(term)):
            found.update(self._table.get(key, ()))
        found = {t for t in found if one_edit(term, t)}
        ranked = sorted(found, key=lambda t: (-self.frequencies[t], t))[:limit]
        return [(t, self.frequencies[t]) for t in ranked]


_TONES = frozenset("\u0301\u0300\u0309\u0303\u0323")  # sắc, huyền, hỏi, ngã, nặng (combining)
_ONSETS = sorted("b c ch d đ g gh gi h k kh l m n ng ngh nh p ph qu r s t th tr v x".split(), key=len, reverse=True)
_VOWELS = frozenset("aăâeêioôơuưy")
_CODAS = frozenset({"", "c", "ch", "m", "n", "ng", "nh", "p", "t"})
_STOPPED = frozenset({"c", "ch", "p", "t"})  # codas that take only the sắc or nặng tone
_STOPPED_TONES = frozenset("\u0301\u0323")


def misspelled(syllable: str) -> bool:
    """Whether a lower-case syllable written with Vietnamese letters breaks Vietnamese
    spelling: no vowel after its onset, a final consonant no syllable ends in ("độg",
    "bạk"), ă or â ending it or followed by a vowel ("mặy", "bắy"), or a stopped final
    (c, ch, p, t) with a tone other than sắc or nặng ("mảt"). A plausible syllable is not
    ("phéo"), nor one with letters Vietnamese lacks ("zoé"); a foreign word may be ("café")."""
    letters, tones = [], []
    for c in unicodedata.normalize("NFD", syllable):
        if c in _TONES:
            tones.append(c)
        else:
            letters.append(c)
    bare = unicodedata.normalize("NFC", "".join(letters))
    if len(tones) > 1 or not all(c in _VOWELS or c in "bcdđghklmnpqrstvx" for c in bare):
        return False
    onset = next((o for o in _ONSETS if bare.startswith(o) and len(bare) > len(o)), "")
    rest = bare[len(onset) :]
    vowels = len(rest) - len(rest.lstrip("".join(_VOWELS)))
    nucleus, coda = rest[:vowels], rest[vowels:]
    if not nucleus or coda not in _CODAS:
        return True
    for i, c in enumerate(nucleus):
        if c in "ăâ" and (i + 1 < len(nucleus) or not coda) and not (c == "â" and nucleus[i + 1 :] in ("u", "y")):
            return True
    return coda in _STOPPED and bool(tones) and tones[0] not in _STOPPED_TONES
