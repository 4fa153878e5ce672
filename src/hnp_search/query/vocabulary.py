"""The index's vocabulary: a lexicon (folded words → accented readings) and "did you mean" suggestions from context.

The lexicon restores diacritics to queries typed without them.
"""

from __future__ import annotations

import math
import os
import re
import unicodedata
from itertools import islice

from ..store import directory
from ..store.columns import iter_positions
from ..store.schema import TEXT_FIELDS
from ..text import analyze
from ..text.analyze import WORD_JOINER
from ..text.normalize import canonical_syllable, fold, has_diacritics, normalize_term
from . import telex
from .typos import Corrector


class Lexicon:
    """Accented readings of folded words and syllables, learned from the index's own
    vocabulary: ``"ha_noi"`` -> ``"hà_nội"``, the reading found in the most articles."""

    #: Longest run of syllables tried as one word.
    MAX_RUN = 4

    def __init__(self, words: dict[str, str]):
        self.words = words  # folded word -> its most frequent accented reading
        self._corrector: Corrector | None = None
        self._readings: dict[str, list[tuple[str, int]]] = {}  # see syllable_readings

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
#: Readings of a query syllable weighed when restoring a query from context.
CONTEXT_READINGS = 5
#: Candidates checked for each pair of readings side by side (counts scaled up beyond).
PAIR_CHECKS = 50
#: Cost, in the log pair counts readings earn, of reading a syllable otherwise than typed:
#: a correction, or other diacritics than those typed.
CORRECTION_COST = 1.0
#: A spelling typed with diacritics that the index holds is read as typed unless another reading
#: of the same letters is in this many times as many articles.
RARE_TYPED = 20
#: Readings in fewer than 1/this of the articles of the commonest reading are not weighed.
RARE_READING = 30
#: Partial readings of a query kept while searching for the best.
BEAM = 24
#: Weight of how common a reading is on its own (breaks ties where context says nothing).
PRIOR = 0.1
_BREAK = re.compile(r"[.,;:!?()\"“”]")
_SENTENCE_START = re.compile(r"(?:^|[.!?:;\n\"“(]\s*)$")


_LETTERS = {"a": "aăâ", "e": "eê", "o": "oôơ", "u": "uư", "d": "dđ"}
_TONE_MARKS = ("", "\u0301", "\u0300", "\u0309", "\u0303", "\u0323")


def accented_forms(folded: str) -> set[str]:
    """Every spelling with diacritics that folds to ``folded`` (a syllable), tone marks
    placed by the traditional rule: "to" -> "to", "tô", "tơ", "tó", "tố"…"""
    if not folded.isalpha() or not folded.isascii() or len(folded) > 8:
        return {folded}
    forms = {""}
    for c in folded:
        forms = {f + o for f in forms for o in _LETTERS.get(c, c)}
    out = set()
    for form in forms:
        vowel = next((i for i, c in enumerate(form) if fold(c) in "aeiouy"), -1)
        if vowel < 0:
            out.add(form)
            continue
        for mark in _TONE_MARKS:
            marked = unicodedata.normalize("NFC", form[: vowel + 1] + mark + form[vowel + 1 :])
            out.add(canonical_syllable(marked))
    return out


def syllable_readings(lexicon: Lexicon, reader, folded: str) -> list[tuple[str, int]]:
    """The accented readings of the folded syllable ``folded`` the index holds, with in how
    many articles' syllable fields each is (summed over fields), most first; cached per lexicon."""
    cache = lexicon._readings
    if folded not in cache:
        fields = [f"{f}_s" for f in TEXT_FIELDS if f"{f}_s" in reader.indexed_field_names()]
        found = [(r, sum(reader.doc_frequency(f, r) for f in fields)) for r in sorted(accented_forms(folded))]
        cache[folded] = sorted(((r, n) for r, n in found if n), key=lambda x: (-x[1], x[0]))
    return cache[folded]


def suggest(query: str, view, lexicon: Lexicon, side_by_side=None) -> str | None:
    """A better query, or None: each word read as what the index most likely holds in
    its place, weighing how often the readings of neighbouring words stand side by side in
    the index ("song to lich" -> "sông Tô Lịch", not the commoner "sống"): diacritics
    restored, Telex and VNI typing decoded, one-edit typos and wrong tones corrected (also
    when typed with diacritics: "Hà Nộj", "khẩu trag"), and names given their capitals.
    ``side_by_side(view, a, b)`` counts the articles holding ``a`` right before ``b`` (default:
    from ``view``'s positions; another backend passes its own)."""
    readings = _Readings(lexicon, view.reader)
    words = [m for m in _QUERY_WORD.finditer(query) if m.group() != "OR"]
    if not words:
        return None
    options = [_options(m.group(), readings, lexicon) for m in words]
    if all(len(o) == 1 and o[0][0] in (m.group(), normalize_term(m.group())) for o, m in zip(options, words)):
        return None  # every word is read as typed: nothing to offer
    adjacent = [not _BREAK.search(query, m.end(), n.start()) for m, n in zip(words, words[1:])]
    if hasattr(view, "prefetch_pairs"):  # a backend that counts many pairs faster at once
        view.prefetch_pairs([(a[0], b[0]) for k, near in enumerate(adjacent) if near
                             for a in options[k] for b in options[k + 1]])  # fmt: skip
    chosen, pairs = _best_path(options, view, adjacent, side_by_side or _side_by_side)
    chosen = _capitals(view, words, chosen, pairs)
    pieces, last = [], 0
    for m, text in zip(words, chosen):
        pieces += [query[last : m.start()], text]
        last = m.end()
    fixed = "".join(pieces) + query[last:]
    return fixed if fixed != query else None


class _Readings:
    """``syllable_readings`` as a mapping: folded syllable -> its readings (empty: none)."""

    def __init__(self, lexicon: Lexicon, reader):
        self.lexicon, self.reader = lexicon, reader

    def get(self, folded: str, default=None):
        return syllable_readings(self.lexicon, self.reader, folded) or default

    def __contains__(self, folded: str) -> bool:
        return bool(self.get(folded))

    def __getitem__(self, folded: str) -> list[tuple[str, int]]:
        return self.get(folded, [])


def _options(word: str, readings: _Readings, lexicon: Lexicon) -> list[tuple[str, float, int]]:
    """What a query word may be meant as: (reading, cost, articles holding it)."""
    term = normalize_term(word)
    folded = fold(term)
    if word.isdigit() or not term.isalpha():
        return [(word, 0.0, 0)]
    found = readings.get(folded)
    if found:
        typed = dict(found).get(term)
        if has_diacritics(term):
            # Typed with diacritics the index holds: those, unless rare beside another reading.
            if typed and typed * RARE_TYPED >= found[0][1]:
                return [(term, 0.0, typed)]
            out = [(term, 0.0, typed)] if typed else []
            return out + [(r, CORRECTION_COST, n) for r, n in found[:CONTEXT_READINGS] if r != term]
        return [(r, 0.0, n) for r, n in found[:CONTEXT_READINGS] if n * RARE_READING >= found[0][1]]
    if len(folded) < 3:
        return [(word, 0.0, 0)]
    out = []
    decoded = [d for d in telex.decodings(folded) if fold(d) in readings]
    if decoded:
        exact = [(r, n) for r, n in readings[fold(decoded[0])] if r == decoded[0]]
        out += [(r, CORRECTION_COST, n) for r, n in (exact or readings[fold(decoded[0])][:1])]
    for meant, _ in lexicon.corrector().corrections(folded, limit=200):
        for r, n in readings.get(meant, [])[:CONTEXT_READINGS]:
            # A reading keeping the diacritics typed costs less than one changing them.
            same = has_diacritics(term) and any(c in r for c in term if fold(c) != c)
            out.append((r, CORRECTION_COST * (1.0 if same or not has_diacritics(term) else 1.5), n))
    return sorted(out, key=lambda x: (x[1], -x[2]))[: 3 * CONTEXT_READINGS] or [(word, 0.0, 0)]


def _best_path(options, view, adjacent: list[bool], side_by_side):
    """The readings, one per word, maximizing their own commonness, the log count of
    articles where neighbours stand side by side and of those where three do, less their
    costs (a beam search); and the articles found holding each chosen pair."""
    counts: dict[tuple[str, str], tuple[int, list[int]]] = {}

    def pair(a: str, b: str) -> tuple[int, list[int]]:
        if (a, b) not in counts:
            counts[a, b] = side_by_side(view, a, b)
        return counts[a, b]

    def own(option) -> float:
        return PRIOR * math.log1p(option[2]) - option[1]

    beam = [(own(o), [o[0]]) for o in options[0]]
    for k in range(1, len(options)):
        grown = []
        for score, path in beam:
            for o in options[k]:
                gain = own(o)
                if adjacent[k - 1]:
                    count, docs = pair(path[-1], o[0])
                    gain += math.log1p(count)
                    if k > 1 and adjacent[k - 2] and count:
                        before = set(pair(path[-2], path[-1])[1])
                        gain += math.log1p(len(before.intersection(docs)))
                grown.append((score + gain, path + [o[0]]))
        beam = sorted(grown, key=lambda x: -x[0])[:BEAM]
    chosen = max(beam, key=lambda x: x[0])[1]
    held = [pair(a, b)[1] if adjacent[k] else [] for k, (a, b) in enumerate(zip(chosen, chosen[1:]))]
    return chosen, held


def _side_by_side(view, a: str, b: str) -> tuple[int, list[int]]:
    """About how many articles hold syllable ``a`` right before ``b`` (checking at most
    ``PAIR_CHECKS`` of those holding both), and those found."""
    if not (a.isalnum() and b.isalnum()):
        return 0, []
    found: set[int] = set()
    checked = total = 0
    for f in TEXT_FIELDS:
        first, second = view.postings(f"{f}_s", a), view.postings(f"{f}_s", b)
        if first.positions is None or second.positions is None:
            continue
        both = sorted(first.tfs.keys() & second.tfs.keys())
        total += len(both)
        for d in both[:PAIR_CHECKS]:
            checked += 1
            after = {p - 1 for p in iter_positions(second.positions[d])}
            if not after.isdisjoint(iter_positions(first.positions[d])):
                found.add(d)
    scaled = round(len(found) * total / checked) if checked else 0
    return scaled, sorted(found)


def _capitals(view, words, chosen: list[str], held: list[list[int]]) -> list[str]:
    """``chosen`` readings with capitals: as the user typed them where they typed any, else
    as the index's articles mostly write them side by side (names: "Tô Lịch")."""
    out = list(chosen)
    votes = [[0, 0] for _ in chosen]  # per word: [capitalized, not]
    for k, docs in enumerate(held):
        if not docs:
            continue
        pattern = re.compile(rf"(?<!\w)({re.escape(chosen[k])})\s+({re.escape(chosen[k + 1])})(?!\w)", re.IGNORECASE)
        for d in docs[:3]:
            stored = view.reader.stored_fields(d)
            text = " ".join(str(stored.get(f) or "") for f in ("title", "lead", "body"))
            for m in islice(pattern.finditer(text), 20):
                for i, group in ((k, 1), (k + 1, 2)):
                    if i == k and _SENTENCE_START.search(text, 0, m.start()):
                        continue
                    votes[i][0 if m.group(group)[0].isupper() else 1] += 1
    for i, (m, reading) in enumerate(zip(words, chosen)):
        typed = m.group()
        if any(c.isupper() for c in typed):
            out[i] = typed if typed.isupper() and len(typed) > 1 and typed.lower() == reading else (
                reading[:1].upper() + reading[1:] if typed[0].isupper() else reading)
        elif votes[i][0] > votes[i][1]:
            out[i] = reading[:1].upper() + reading[1:]
    return out


def load_lexicon(path: str | os.PathLike, reader) -> Lexicon:
    """The lexicon of the index at ``path``: as saved by its last indexing run, or rebuilt
    from ``reader`` (and saved) when that file is missing or older than the index."""
    return Lexicon(directory.load_lexicon(path, reader))


def saved_lexicon(path: str | os.PathLike, generation: int) -> Lexicon | None:
    """The lexicon saved beside the index at ``path`` if it is that of ``generation``, else None."""
    words = directory.saved_lexicon(path, generation)
    return Lexicon(words) if words is not None else None
