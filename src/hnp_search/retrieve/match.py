"""Matching: a query tree → the documents it matches and the terms that score them.

Plans are looked up in an ``IndexView``; set algebra, phrases checked by position.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import islice
from typing import Callable

from ..persons import person_key
from ..query import plan as planning
from ..query.parse import Any, DateFilter, Facet, Node, Not, Person, Phrase, Words
from ..query.plan import FIELD_WEIGHTS
from ..query.synonyms import Synonyms
from ..query.vocabulary import Lexicon
from ..store.schema import TEXT_FIELDS
from ..store.columns import iter_positions
from ..text.normalize import fold, has_diacritics
from .facets import value_docs
from .view import IndexView, Positions, Postings


#: Phrases whose candidates are this share of the index or more are first looked up in the
#: articles' pair filters: a check costs about what filtering a hundred articles does.
FILTER_PHRASES_FROM = 0.01
#: A required phrase with this many candidates or more is checked lazily, best candidates
#: first, when at least ``LAZY_SHARE`` of a sample of them hold it; else all up front.
#: A phrase ranks by 10 hits, so even a 3% share is ~300 checks, not one per candidate.
LAZY_PHRASES_FROM = 200
PHRASE_SAMPLE = 32
LAZY_SHARE = 1 / PHRASE_SAMPLE


@dataclass
class Match:
    """What a query node matches and how it scores: ``docs`` (None: every article),
    ``terms`` (weight, postings) whose impacts are summed where present, ``pairs`` proximity bonuses
    (weight, field postings of two syllables that score when side by side)."""

    docs: set[int] | None
    terms: list[tuple[float, Postings]] = field(default_factory=list)
    pairs: list[tuple[float, Postings, Postings]] = field(default_factory=list)
    unverified: list[Unverified] = field(default_factory=list)


@dataclass
class Unverified:
    """A phrase whose candidates (``docs`` of its match: articles with all its syllables in
    some field) are checked only as ranking reaches them. Per field: the candidates there,
    the positions of each syllable, and the syllables' terms, which score only in the fields
    where the phrase is found."""

    fields: list[tuple[set[int], list[Positions], list[tuple[float, Postings]]]]
    ids: list[list[int]] = field(init=False)  # per field, the ids of its terms

    def __post_init__(self):
        self.ids = [[id(p) for _, p in terms] for _, _, terms in self.fields]

    def unscored(self, doc: int) -> list[int] | None:
        """None when ``doc`` lacks the phrase; else the ids of its terms in the fields
        without it, which must not score ``doc``."""
        found, out = False, []
        for (candidates, positions, _), ids in zip(self.fields, self.ids):
            if doc in candidates and _consecutive([p[doc] for p in positions]):
                found = True
            else:
                out += ids
        return out if found else None

    def common(self) -> bool:
        """Whether many candidates, and a good share of a sample of them, hold the phrase:
        then checking candidates best first soon finds the best; else checking them all up
        front, with positions looked up in bulk, is faster (the best-scored candidates of a
        rare phrase mostly lack it)."""
        candidates = set().union(*(found for found, _, _ in self.fields))
        if len(candidates) < LAZY_PHRASES_FROM:
            return False
        sample = list(islice(candidates, PHRASE_SAMPLE))
        return sum(self.unscored(d) is not None for d in sample) >= LAZY_SHARE * len(sample)

    def terms(self) -> list[tuple[float, Postings]]:
        return [t for _, _, terms in self.fields for t in terms]


class NodeMatcher:
    """Matches query nodes on one index state: what the plans of their words list, looked up."""

    def __init__(self, view: IndexView, lexicon: Callable[[], Lexicon] | None = None,
                 synonyms: Synonyms | None = None):
        self.view = view
        self.lexicon = lexicon  # loaded when first needed: accented queries never need it
        self.synonyms = synonyms
        self._plans: dict[Words, planning.Plan | None] = {}

    def match(self, node: Node, lazy: bool = False) -> Match:
        """What ``node`` matches; with ``lazy``, phrases among its required parts are left
        for ranking to check (``Match.unverified``), which needs only the best candidates."""
        if isinstance(node, Words):
            return self._words(node)
        if isinstance(node, Phrase):
            return self._phrase(node, lazy)
        if isinstance(node, DateFilter):
            return Match(self.view.date_docs(node.start, node.end))
        if isinstance(node, Facet):
            return Match(value_docs(self.view, node.name, node.value))
        if isinstance(node, Person):
            key = person_key(node.name)
            return Match(set(self.view.docs("person_k" if has_diacritics(key) else "person_kf", key)))
        if isinstance(node, Not):
            return Match(self.view.all_docs() - self.excluded(node.node))
        if isinstance(node, Any):  # an alternative "-x" is every article without x
            parts = [self.match(n) for n in node.nodes]
            alternatives = [p.docs for p in parts if p.docs is not None]
            docs = set().union(*alternatives) if len(alternatives) == len(parts) else None
            return Match(docs, [t for p in parts for t in p.terms], [p_ for p in parts for p_ in p.pairs])
        parts = [self.match(n, lazy) for n in node.nodes if not isinstance(n, Not)]
        terms = [t for p in parts for t in p.terms]
        pairs = [p_ for p in parts for p_ in p.pairs]
        unverified = [u for p in parts for u in p.unverified]
        docs = None
        for p in sorted(parts, key=lambda p: math.inf if p.docs is None else len(p.docs)):
            if p.docs is not None:
                docs = set(p.docs) if docs is None else docs & p.docs
        excluded = [self.excluded(n.node) for n in node.nodes if isinstance(n, Not)]
        if excluded:
            docs = (self.view.all_docs() if docs is None else docs).difference(*excluded)
        return Match(docs, terms, pairs, unverified)

    def excluded(self, node: Node) -> set[int]:
        """What ``-node`` removes: words typed with diacritics exclude only those diacritics."""
        if not isinstance(node, Words):
            match = self.match(node)
            return self.view.all_docs() if match.docs is None else match.docs
        docs = None
        for lookups in planning.excluded_terms(node):
            found = set().union(*(self.view.docs(f, t) for f, t in lookups))
            docs = found if docs is None else docs & found
        return docs or set()

    def _known(self, folded: str) -> int:
        """In how many articles' text fields the folded syllable ``folded`` is (at most)."""
        return sum(len(self.view.docs(f"{f}_sf", folded)) for f in TEXT_FIELDS)

    def _held(self, syllable: str) -> int:
        """In how many articles' text fields the accented syllable ``syllable`` is (at most)."""
        return sum(self.view.doc_frequency(f"{f}_s", syllable) for f in TEXT_FIELDS)

    def _side_by_side(self, first: str, second: str, enough: int = 1) -> int:
        """In how many articles the syllable ``first`` stands right before ``second``, counted
        up to ``enough`` (the articles holding both are checked until that many do)."""
        found: set[int] = set()
        for f in TEXT_FIELDS:
            a, b = self.view.postings(f"{f}_s", first), self.view.postings(f"{f}_s", second)
            if a.positions is None or b.positions is None:
                continue
            small, large = sorted((a.tfs, b.tfs), key=len)
            for d in (d for d in small if d in large and d not in found):
                after = {p - 1 for p in iter_positions(b.positions[d])}
                if not after.isdisjoint(iter_positions(a.positions[d])):
                    found.add(d)
                    if len(found) >= enough:
                        return enough
        return len(found)

    def plan(self, node: Words) -> planning.Plan | None:
        """The plan of ``node`` (made once per node)."""
        if node not in self._plans:
            self._plans[node] = planning.plan_words(node, self.lexicon, self._known, self.synonyms, self._held,
                                                    self._side_by_side)
        return self._plans[node]

    def required_docs(self, node: Words) -> list[set[int]]:
        """Per requirement of ``node``'s plan, the articles meeting it."""
        plan = self.plan(node)
        if plan is None:
            return []
        docs = self.view.docs
        out = []
        seen: dict[planning.Requirement, set[int]] = {}
        for requirement in plan.required:
            if requirement in seen:  # a run of synonyms stands for each syllable it covers
                out.append(seen[requirement])
                continue
            met = seen[requirement] = set()
            for alternative in requirement:
                found = None
                for lookups in sorted(alternative, key=len):
                    held = set().union(*(docs(f, t) for f, t in lookups))
                    found = held if found is None else found & held
                    if not found:
                        break
                met |= found or set()
            out.append(met)
        return out

    def _words(self, node: Words) -> Match:
        plan = self.plan(node)
        if plan is None:
            return Match(set())
        view = self.view
        docs = None
        for found in sorted(self.required_docs(node), key=len):
            docs = found if docs is None else docs & found
        terms = [(weight, view.postings(f, t)) for f, t, weight in plan.terms]
        pairs = [(weight, view.postings(f, a), view.postings(f, b)) for f, a, b, weight in plan.pairs]
        return Match(docs, terms, pairs)

    def _phrase(self, node: Phrase, lazy: bool = False) -> Match:
        """Consecutive syllables: with diacritics those diacritics, without them folded.
        With ``lazy``, candidates are left unchecked (see ``match``) when a sample of them
        says the phrase is common enough that ranking will find the best soon."""
        variant, tokens = planning.phrase_terms(node)
        if not tokens:
            return Match(set())
        fields = []  # (field, its postings of each syllable, the articles with all of them there)
        for f in node.fields or TEXT_FIELDS:
            postings = [self.view.postings(f"{f}_{variant}", t) for t in tokens]
            fields.append((f, postings, _common_keys([p.tfs for p in postings])))
        if sum(len(found) for _, _, found in fields) >= self.view.doc_count * FILTER_PHRASES_FROM:
            may = self.view.may_hold([fold(t) for t in tokens])
            if may is not None:
                fields = [(f, postings, {d for d in found if may[d]} if f in TEXT_FIELDS else found)
                          for f, postings, found in fields]  # fmt: skip
        if lazy and len(tokens) > 1:  # each term a copy of its own, to be dropped by id
            unverified = Unverified(
                [(found, [_positions(p) for p in postings], [(FIELD_WEIGHTS[f], _within(p, found)) for p in postings])
                 for f, postings, found in fields]
            )  # fmt: skip
            if unverified.common():
                candidates = set().union(*(found for _, _, found in fields))
                return Match(candidates, unverified.terms(), unverified=[unverified])
        docs: set[int] = set()
        terms = []
        for f, postings, found in fields:
            if len(postings) > 1 and found:
                # Positions of many candidates are looked up faster in a mapping built at once.
                lookups = [_positions(p).mapping() if len(found) * 8 > len(p.tfs) else _positions(p) for p in postings]
                found = {d for d in found if _consecutive([lookup[d] for lookup in lookups])}
            docs |= found
            terms += [(FIELD_WEIGHTS[f], p.only(found)) for p in postings]
        return Match(docs, terms)


def _positions(postings: Postings) -> Positions:
    """The positions of a syllable field's postings (every field a phrase is looked for in has them)."""
    if postings.positions is None:
        raise ValueError("a phrase looked for in a field without positions")
    return postings.positions


def _within(postings: Postings, docs: set[int]) -> Postings:
    """A copy of ``postings`` scoring only ``docs`` (where a phrase could be in its field):
    restricted when that leaves out many, else whole (an upper bound is all ranking needs)."""
    if len(docs) * 2 < len(postings.tfs):
        return postings.only(docs)
    return postings._replace()


def _common_keys(maps: list[dict]) -> set:
    """The keys all of ``maps`` have, found by looking up the smallest's in the others."""
    smallest, *others = sorted(maps, key=len)
    found = smallest.keys() & (others[0].keys() if others else smallest.keys())
    for other in others[1:]:
        found = {k for k in found if k in other}
    return found


def _consecutive(values: list[bytes]) -> bool:
    """Whether the syllables whose positions these are occur one right after another."""
    starts = None
    for i, value in enumerate(values):
        if len(value) == 2:  # most: one early position
            start = value[1] - i
            if starts is not None and start not in starts:
                return False
            starts = {start}
            continue
        found = iter_positions(value)
        if i:
            found = map((-i).__add__, found)
        starts = set(found) if starts is None else starts.intersection(found)
        if not starts:
            return False
    return True
