"""Highlighting: a query's matches in stored text → short snippets (terminal, plain, HTML, JSON).

Matches are found in the stored text itself, without segmenting it again.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Callable, NamedTuple

from .text import analyze
from .text.normalize import fold, fold_ascii, fold_lower, has_diacritics, normalize_term
from .query.parse import All, Any, Node, Person, Phrase, Words
from .query.plan import Plan, Reading

#: Longest snippet, in characters.
SNIPPET_CHARS = 200
MAX_SNIPPETS = 3

# Syllables as the segmenter sees them, closely enough for highlighting:
# "Hà", "7/5", "2.230", but "COVID" and "19" of "COVID-19", "TP" and "HCM" of "TP.HCM".
_SYLLABLE = re.compile(r"\w+(?:(?:[/,:'’]|(?<=\d)\.(?=\d))\w+)*")
_WORD_CHAR = re.compile(r"\w")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SPACE = re.compile(r"\s+")
_UNCLEAN = re.compile(r"[^\S ]|  |[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # what _sanitize would change


@dataclass(frozen=True)
class Snippet:
    """A fragment of an article and the spans in it that matched the query."""

    text: str
    matches: tuple[tuple[int, int], ...] = ()

    def marked(self, open_: str = "[[", close: str = "]]", escape=lambda s: s) -> str:
        out, last = [], 0
        for start, end in self.matches:
            out += [escape(self.text[last:start]), open_, escape(self.text[start:end]), close]
            last = end
        out.append(escape(self.text[last:]))
        return "".join(out)

    def plain(self) -> str:
        """Matches between ``[[`` and ``]]``."""
        return self.marked()

    def html(self) -> str:
        """Matches in ``<mark>``; everything else escaped."""
        return self.marked("<mark>", "</mark>", html.escape)

    def ansi(self) -> str:
        """Matches in bold yellow for a terminal."""
        return self.marked("\x1b[1;33m", "\x1b[0m")

    def to_json(self) -> dict:
        return {"text": self.text, "matches": [list(m) for m in self.matches]}


@dataclass
class Matcher:
    """What counts as a match of one query.

    Bare words are highlighted as runs where consecutive query syllables appear
    consecutively in the text ("ha noi" marks "Hà Nội", not every "nói"); a query
    syllable found in no run is marked alone, preferring occurrences with the
    diacritics typed. Phrases are marked whole, exact or folded as they match.
    Each ``Place`` of ``words`` is a syllable's readings, the one typed first: what a plan
    read in place of a syllable the index lacks (Telex, typo, split) is marked too, and a
    spelling the plan requires as typed is marked only so.
    """

    words: list[tuple[Place, ...]] = field(default_factory=list)
    phrases: list[tuple[bool, tuple[str, ...]]] = field(default_factory=list)
    _pattern: re.Pattern | None = field(default=None, repr=False, compare=False)
    _regions: re.Pattern | None = field(default=None, repr=False, compare=False)
    _fold = staticmethod(fold_ascii)  # fold_lower when a query syllable folds to more than ASCII

    @classmethod
    def from_tree(cls, node: Node | None, plan: Callable[[Words], Plan | None] | None = None) -> "Matcher":
        """The matcher of a query tree; ``plan`` (a ``Words`` node's plan) adds the readings
        of syllables the plan corrected."""
        matcher = cls()
        matcher._add(node, plan)
        return matcher

    @classmethod
    def for_search(cls, tree: Node | None, also: tuple[Node, ...], plan: Callable[[Words], Plan | None]) -> "Matcher":
        """The matcher of a search: its query ``tree``, ``also`` (the persons its filters name)
        and the other forms of the tree's runs that the synonyms list gave the ``plan``."""
        synonyms = _synonyms_in(tree, plan)
        return cls.from_tree(All((*([tree] if tree else []), *also, *synonyms)), plan)

    def _add(self, node, plan):
        if isinstance(node, (All, Any)):
            for child in node.nodes:
                self._add(child, plan)
        elif isinstance(node, Words):
            syllables = tuple(s for w in analyze.query_words(node.text) for s in w.syllables)
            readings = plan(node) if plan else None
            places: tuple[Place, ...]
            if readings is None or len(readings.readings) != len(syllables):
                places = tuple(Place((s,)) for s in syllables)
            else:
                places = tuple(p for r in readings.readings for p in _places(r))
            if places:
                self.words.append(places)
        elif isinstance(node, (Phrase, Person)):
            text = node.text if isinstance(node, Phrase) else node.name
            syllables = tuple(s for w in analyze.query_words(text) for s in w.syllables)
            exact = any(has_diacritics(s) for s in syllables)
            if syllables:
                self.phrases.append((exact, syllables if exact else tuple(fold(s) for s in syllables)))

    def find(self, text: str) -> list[tuple[int, int]]:
        """Spans of ``text`` that match; a phrase or run of words is one span."""
        if not (self.words or self.phrases):
            return []
        chains = self._chains(text)
        spans = []
        for exact, seq in self.phrases:
            keys = _keys(Place((s,), exact) for s in seq)
            spans += [run[:2] for chain in chains for run in _runs_of(chain, keys, whole=True)]
        tokens = [t for chain in chains for t in chain]
        for query in self.words:
            keys = _keys(query)
            runs = [run for chain in chains for run in _runs_of(chain, keys, whole=False)]
            spans += [(a, b) for a, b, _ in runs]
            covered = {i for _, _, used in runs for i in used}
            for i, place in enumerate(query):
                if i not in covered:
                    spans += [(t[0], t[1]) for t in _alone(tokens, place)]
        return _merge(text, [span[:2] for span in spans])

    def _chains(self, text: str) -> list[list[tuple[int, int, str, str]]]:
        """The syllables of ``text`` that fold to a query syllable, as (start, end, term,
        folded term), in chains of syllables that stand next to each other. Found by one
        regular-expression scan of the folded text, not syllable by syllable; with phrases
        only, just where a whole phrase is, found by a first scan."""
        if self._pattern is None:
            wanted = {fold(s) for q in self.words for place in q for s in place.readings}
            wanted |= {s for _, q in self.phrases for s in map(fold, q)}
            self._pattern = _compiled(rf"(?:{_alternatives(wanted)})(?!\w)")
            if not all(map(str.isascii, wanted)):
                self._fold = fold_lower
            if not self.words:
                phrases = [r"\W+".join(map(re.escape, map(fold, q))) for _, q in self.phrases]
                self._regions = _compiled(rf"(?:{_alternatives(phrases, escape=False)})(?!\w)")
        folded = self._fold(text)
        if self._regions is None:
            found = _word_starts(self._pattern, folded)
        else:  # phrases may overlap ("a b", "b c" in "a b c"): scan their union
            starts = _word_starts(self._regions, folded, overlapping=True)
            regions = _merge(text, [m.span() for m in starts], gaps=False)
            found = (m for region in regions for m in _word_starts(self._pattern, folded, *region))
        chains: list[list[tuple[int, int, str, str]]] = []
        last_end = -1
        for m in found:
            start, end = m.span()
            before = _SYLLABLE.match(text, start - 2) if start >= 2 else None
            if before and before.end() > start:
                continue  # inside a longer syllable: "5" of "7/5"
            whole = _SYLLABLE.match(text, start)
            if whole is None or whole.end() != end:
                continue  # the start of one: "7" of "7/5"
            token = (start, end, *_term(text[start:end]))
            if chains and not _WORD_CHAR.search(text, last_end, start):
                chains[-1].append(token)
            else:
                chains.append([token])
            last_end = end
        return chains


#: Queries' patterns, compiled: two per query, beyond what ``re`` keeps (512 of every module's).
_compiled = lru_cache(maxsize=4096)(re.compile)


def _word_starts(pattern: re.Pattern, text: str, start: int = 0, end: int | None = None, overlapping: bool = False):
    """The matches of ``pattern`` in ``text[start:end]`` that begin a word. The patterns
    begin with their text, not with a look-behind for the word's start, so that the regex
    engine skips ahead to their first letters: with one, it tried every position (a person's
    name took 0.4 ms per article, 15 times longer)."""
    end = len(text) if end is None else end
    while (m := pattern.search(text, start, end)) is not None:
        begin = m.start()
        if begin and _WORD_CHAR.match(text, begin - 1):  # inside a word: look again from the next letter
            start = begin + 1
            continue
        yield m
        start = begin + 1 if overlapping or m.end() == begin else m.end()


@lru_cache(maxsize=1 << 16)
def _term(text: str) -> tuple[str, str]:
    """A matched syllable's term and its folded form."""
    term = normalize_term(text)
    return term, fold(term)


def _alternatives(texts, escape: bool = True) -> str:
    """A regular-expression alternation of ``texts``, the longest first."""
    return "|".join(map(re.escape if escape else str, sorted(set(texts), key=len, reverse=True)))


class Place(NamedTuple):
    """What a query syllable matches in the text: its ``readings`` (as typed first), any
    diacritics, or with ``exact`` only the spelling typed."""

    readings: tuple[str, ...]
    exact: bool = False

    def keys(self) -> frozenset[str]:
        """What a syllable of the text, or its folded form, must be."""
        return frozenset(self.readings if self.exact else map(fold, self.readings))


def _places(reading: Reading) -> tuple[Place, ...]:
    """The places a query syllable takes in the text: its readings as typed and corrected,
    or the two syllables it was split into."""
    split = [r.split() for kind, r in reading.corrections if kind == "split"]
    if split:
        return tuple(Place((s,)) for s in split[0])
    return (Place((reading.typed, *(r for _, r in reading.corrections)), reading.exact),)


def _alone(tokens, place: Place):
    """The tokens marked for a query syllable found in no run: those of its first reading
    the text holds, with its diacritics if it has any and the text holds them, else
    (unless the spelling is required) folded."""
    for reading in place.readings:
        same = [t for t in tokens if t[2] == reading] if has_diacritics(reading) else []
        if not (same or place.exact):
            same = [t for t in tokens if t[3] == fold(reading)]
        if same:
            return same
    return []


def _keys(places) -> list[tuple[int, frozenset[str]]]:
    """Per place, what a token must be: (2: its term, or 3: its folded term; the keys)."""
    return [(2 if p.exact else 3, p.keys()) for p in places]


def _runs_of(tokens, seq: list[tuple[int, frozenset[str]]], whole: bool):
    """Where the places of ``seq`` (``_keys``; whole) or any 2+ consecutive of them occur
    consecutively in ``tokens``; yields (start, end, indexes of places used)."""
    found = []
    n = len(seq)
    i = 0
    while i < len(tokens):
        best = None
        for j in range(n):
            k = 0
            while i + k < len(tokens) and j + k < n and tokens[i + k][seq[j + k][0]] in seq[j + k][1]:
                k += 1
            if (k == n if whole else k >= 2) and (best is None or k > best[1]):
                best = (j, k)
        if best:
            j, k = best
            found.append((tokens[i][0], tokens[i + k - 1][1], range(j, j + k)))
            i += k
        else:
            i += 1
    return found


def _merge(text: str, spans: list[tuple[int, int]], gaps: bool = True) -> list[tuple[int, int]]:
    """Sort spans and join those that overlap or (with ``gaps``) are separated only by spaces."""
    out: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        gap = text[out[-1][1] : start] if out else ""
        if out and (start <= out[-1][1] or gaps and gap.isspace() and "\n" not in gap):
            out[-1] = (out[-1][0], max(end, out[-1][1]))
        else:
            out.append((start, end))
    return out


def _sanitize(text: str) -> str:
    """One line of printable text: whitespace runs become one space, control characters go."""
    return _CONTROL.sub("", _SPACE.sub(" ", text))


def _fragment(text: str, start: int, end: int, spans: list[tuple[int, int]]) -> Snippet:
    """The snippet for text[start:end] with the spans inside it, offsets rebased."""
    sanitize = _sanitize if _UNCLEAN.search(text, start, end) else str
    out, matches, last = [], [], start
    length = 0
    for s, e in spans:
        if s < start or e > end:
            continue
        before = sanitize(text[last:s])
        inside = sanitize(text[s:e])
        out += [before, inside]
        length += len(before)
        matches.append((length, length + len(inside)))
        length += len(inside)
        last = e
    out.append(sanitize(text[last:end]).rstrip())
    return Snippet("".join(out), tuple(matches))


def _widen(text: str, start: int, end: int, budget: int) -> tuple[int, int]:
    """Grow [start, end) to about ``budget`` characters, on word boundaries, within one paragraph."""
    para_start = text.rfind("\n", 0, start) + 1
    para_end = text.find("\n", end)
    para_end = len(text) if para_end < 0 else para_end
    spare = max(0, budget - (end - start))
    left = max(para_start, start - spare // 3)
    right = min(para_end, end + spare - (start - left))
    left = max(para_start, start - (spare - (right - end)))
    if left > para_start:
        sentence = text.rfind(". ", left, start)
        space = text.find(" ", left, start)
        left = sentence + 2 if sentence >= 0 else space + 1 if space >= 0 else start
    if right < para_end:
        space = text.rfind(" ", end, right)
        right = space if space >= 0 else end
    return left, right


def snippets(
    text: str, spans: list[tuple[int, int]], limit: int = MAX_SNIPPETS, size: int = SNIPPET_CHARS
) -> list[Snippet]:
    """Up to ``limit`` fragments of ``text`` around its best matches (``spans``), in text order."""
    if not spans:
        return []
    # Group nearby matches into clusters no wider than a snippet; rank clusters
    # by how many different terms they show, then by how many matches.
    clusters: list[list[tuple[int, int]]] = []
    for span in spans:
        near = clusters and span[1] - clusters[-1][0][0] <= size * 3 // 4
        if near and "\n" not in text[clusters[-1][-1][1] : span[0]]:
            clusters[-1].append(span)
        else:
            clusters.append([span])

    def rank(cluster):
        distinct = {fold(normalize_term(text[s:e])) for s, e in cluster}
        return (len(distinct), len(cluster))

    best = sorted(sorted(clusters, key=rank, reverse=True)[:limit], key=lambda c: c[0][0])
    windows = [_widen(text, c[0][0], c[-1][1], size) for c in best]
    merged: list[tuple[int, int]] = []
    for start, end in windows:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return [_fragment(text, start, end, spans) for start, end in merged]


def highlight_article(title: str, text: str, matcher: Matcher) -> tuple[Snippet, list[Snippet]]:
    """The title with every match marked, and snippets of ``text`` (lead and body).

    Matches are found over the whole article at once, so a word found as a run
    anywhere is not also marked syllable by syllable elsewhere.
    """
    spans = matcher.find(f"{title}\n{text}")
    offset = len(title) + 1
    title_spans = [span for span in spans if span[1] <= len(title)]
    text_spans = [(a - offset, b - offset) for a, b in spans if a >= offset]
    return _fragment(title, 0, len(title), title_spans), snippets(text, text_spans)


def _synonyms_in(node: Node | None, plan: Callable[[Words], Plan | None]) -> list[Phrase]:
    """The other forms of the runs of a query tree's words (outside exclusions) found in
    the synonyms list, each as a ``Phrase`` (highlighted whole, diacritics ignored)."""
    if isinstance(node, Words):
        found = plan(node)
        return [Phrase(form, node.fields) for e in (found.expansions if found else ()) for form in e.forms]
    if isinstance(node, (All, Any)):
        return [w for child in node.nodes for w in _synonyms_in(child, plan)]
    return []
