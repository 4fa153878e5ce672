"""The index's vocabulary: a lexicon (folded words → accented readings) and "did you mean" suggestions.

The lexicon restores diacritics to queries typed without them.
"""

from __future__ import annotations

import os
import re

from ..store import directory
from ..store.schema import TEXT_FIELDS
from ..text import analyze
from ..text.analyze import WORD_JOINER
from ..text.normalize import fold, has_diacritics, normalize_term
from .typos import Corrector


class Lexicon:
    """Accented readings of folded words and syllables, learned from the index's own
    vocabulary: ``"ha_noi"`` -> ``"hà_nội"``, the reading found in the most articles."""

    #: Longest run of syllables tried as one word.
    MAX_RUN = 4

    def __init__(self, words: dict[str, str]):
        self.words = words  # folded word -> its most frequent accented reading
        self._corrector: Corrector | None = None

    def corrector(self) -> Corrector:
        """One-edit corrections among the index's folded syllables (built on first use)."""
        if self._corrector is None:
            self._corrector = Corrector(dict.fromkeys((k for k in self.words if WORD_JOINER not in k), 1))
        return self._corrector

    @classmethod
    def from_reader(cls, reader) -> "Lexicon":
        """The lexicon of the index state ``reader`` reads (``store.directory.lexicon_words``)."""
        return cls(directory.lexicon_words(reader))

    def restore(self, syllables: list[str], shortest: int = 2) -> list[tuple[int, tuple[str, ...]]]:
        """Likely readings of runs of ``syllables`` (as typed): (start index, accented run),
        longest runs first, left to right, runs of at least ``shortest`` syllables; a
        reading must agree with any diacritics typed."""
        out = []
        i = 0
        while i < len(syllables):
            for n in range(min(self.MAX_RUN, len(syllables) - i), shortest - 1, -1):
                run = syllables[i : i + n]
                reading = self.words.get(fold(analyze.WORD_JOINER.join(run)), "").split(analyze.WORD_JOINER)
                if len(reading) == n and all(not has_diacritics(t) or t == r for t, r in zip(run, reading)):
                    out.append((i, tuple(reading)))
                    i += n
                    break
            else:
                i += 1
        return out


_QUERY_WORD = re.compile(r"(?<![\w:])\w+(?![\w:])")


def suggest(query: str, reader, lexicon: Lexicon) -> str | None:
    """A better query, or None: words the index has never seen replaced by the closest
    ones it has (one edit away, the most frequent), and a query typed without
    diacritics given its likely accented reading ("ha noi" -> "hà nội")."""
    indexed = reader.indexed_field_names()

    def closest(word: str) -> str:
        term = normalize_term(word)
        exact = has_diacritics(term)  # look among spellings with diacritics, keeping the user's
        fields = [f"{f}_{'s' if exact else 'sf'}" for f in TEXT_FIELDS if f"{f}_sf" in indexed]

        def known(t: str) -> int:
            return sum(reader.doc_frequency(f, t) for f in fields)

        if word.isdigit() or word == "OR" or known(term):
            return word
        if len(term) < 3:
            return word  # too short to tell a typo from another word
        candidates = {t for f in fields for t in reader.terms_within(f, term, 1)}
        return max(sorted(candidates), key=known) if candidates else word

    fixed = _QUERY_WORD.sub(lambda m: closest(m.group()), query)
    words = [m for m in _QUERY_WORD.finditer(fixed) if m.group() != "OR"]
    if words and not has_diacritics(fixed):
        syllables = [w.group().lower() for w in words]
        readings = {}
        for start, reading in lexicon.restore(syllables, shortest=1):
            readings.update({start + i: r for i, r in enumerate(reading)})
        pieces, last = [], 0
        for i, m in enumerate(words):
            pieces += [fixed[last : m.start()], readings.get(i, m.group())]
            last = m.end()
        fixed = "".join(pieces) + fixed[last:]
    return fixed if fixed != query else None


def load_lexicon(path: str | os.PathLike, reader) -> Lexicon:
    """The lexicon of the index at ``path``: as saved by its last indexing run, or rebuilt
    from ``reader`` (and saved) when that file is missing or older than the index."""
    return Lexicon(directory.load_lexicon(path, reader))
