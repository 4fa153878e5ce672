"""Query trees and plans → OpenSearch query DSL: filters matching as the embedded retriever does, weighted scoring.

Matching and scoring are kept apart as ``retrieve.match`` keeps them: a node becomes a
filter (which articles) and a list of ``should`` clauses (term queries whose boosts are the
plan's weights, scored by the index's BM25 wherever present), plus the proximity pairs that
``engine`` rescores among the top candidates.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from ..persons import person_key
from ..query import plan as planning
from ..query.parse import All, Any, DateFilter, Facet, Node, Not, Person, Phrase, Words
from ..query.plan import FIELD_WEIGHTS, Pair
from ..query.synonyms import Synonyms
from ..query.vocabulary import Lexicon
from ..retrieve.retriever import MIN_SHARE
from ..store.schema import TEXT_FIELDS
from ..text.normalize import fold, has_diacritics

MATCH_NONE: dict = {"match_none": {}}


@dataclass
class Compiled:
    """A node as DSL: ``filter`` (None: every article), scoring clauses, proximity pairs."""

    filter: dict | None
    scoring: list[dict] = field(default_factory=list)
    pairs: list[Pair] = field(default_factory=list)


def term(fieldname: str, value: str, boost: float | None = None) -> dict:
    body: dict = {"value": value}
    if boost is not None:
        body["boost"] = boost
    return {"term": {fieldname: body}}


def any_of(clauses: list[dict]) -> dict:
    return clauses[0] if len(clauses) == 1 else {"bool": {"should": clauses, "minimum_should_match": 1}}


def all_of(clauses: list[dict]) -> dict | None:
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"bool": {"filter": clauses}}


def phrase(fieldname: str, tokens: list[str]) -> dict:
    """Consecutive ``tokens`` in ``fieldname`` (a term query for one)."""
    return term(fieldname, tokens[0]) if len(tokens) == 1 else {"match_phrase": {fieldname: " ".join(tokens)}}


def date_range(start: datetime | None, end: datetime | None) -> dict:
    bounds = {}
    if start:
        bounds["gte"] = start.isoformat()
    if end:
        bounds["lt"] = end.isoformat()
    return {"range": {"published": bounds}}


class Compiler:
    """Compiles query nodes the way ``retrieve.match.NodeMatcher`` matches them; ``lexicon``,
    ``known``, ``synonyms``, ``held`` and ``side_by_side`` are the plan's (restoring diacritics,
    correcting unknown syllables, expanding runs, requiring a spelling the index holds)."""

    def __init__(
        self,
        lexicon: Callable[[], Lexicon] | None,
        known: Callable[[str], int] | None,
        synonyms: Synonyms | None = None,
        held: Callable[[str], int] | None = None,
        side_by_side: planning.SideBySide | None = None,
    ):
        self.lexicon = lexicon
        self.known = known
        self.synonyms = synonyms
        self.held = held
        self.side_by_side = side_by_side
        self._plans: dict[Words, planning.Plan | None] = {}

    def compile(self, node: Node) -> Compiled:
        if isinstance(node, Words):
            return self._words(node)
        if isinstance(node, Phrase):
            return self._phrase(node)
        if isinstance(node, DateFilter):
            return Compiled(date_range(node.start, node.end))
        if isinstance(node, Facet):
            return Compiled(term(f"{node.name}_keys", fold(node.value.strip().lower())))
        if isinstance(node, Person):
            key = person_key(node.name)
            return Compiled(term("person_k" if has_diacritics(key) else "person_kf", key))
        if isinstance(node, Not):
            return Compiled({"bool": {"must_not": [self.excluded(node.node)]}})
        parts = [self.compile(n) for n in node.nodes if not isinstance(n, Not)]
        scoring = [c for p in parts for c in p.scoring]
        pairs = [pair for p in parts for pair in p.pairs]
        if isinstance(node, Any):
            filters = [p.filter for p in parts if p.filter is not None]
            matched = any_of(filters) if len(filters) == len(parts) else None
            return Compiled(matched, scoring, pairs)
        required = [p.filter for p in parts if p.filter is not None]
        excluded = [self.excluded(n.node) for n in node.nodes if isinstance(n, Not)]
        if excluded:
            return Compiled({"bool": {"filter": required, "must_not": excluded}}, scoring, pairs)
        return Compiled(all_of(required), scoring, pairs)

    def excluded(self, node: Node) -> dict:
        """What ``-node`` removes: words typed with diacritics exclude only those diacritics."""
        if not isinstance(node, Words):
            matched = self.compile(node).filter
            return {"match_all": {}} if matched is None else matched
        syllables = planning.excluded_terms(node)
        if not syllables:
            return MATCH_NONE
        return all_of([any_of([term(f, t) for f, t in lookups]) for lookups in syllables]) or MATCH_NONE

    def plan(self, node: Words) -> planning.Plan | None:
        """The plan of ``node`` (made once per node), as ``retrieve.match.NodeMatcher.plan``."""
        if node not in self._plans:
            self._plans[node] = planning.plan_words(node, self.lexicon, self.known, self.synonyms, self.held,
                                                    self.side_by_side)
        return self._plans[node]

    def requirements(self, node: Words) -> list[dict]:
        """Per requirement of ``node``'s plan (repeated as the plan repeats it), the filter of
        the articles meeting it: any alternative, each holding all of its lookups."""
        plan = self.plan(node)
        if plan is None:
            return []
        return [
            any_of([all_of([any_of([term(f, t) for f, t in lookups]) for lookups in alternative]) or MATCH_NONE
                    for alternative in requirement])
            for requirement in plan.required
        ]  # fmt: skip

    def _words(self, node: Words) -> Compiled:
        plan = self.plan(node)
        if plan is None:
            return Compiled(MATCH_NONE)
        required = all_of(list({json.dumps(r, sort_keys=True): r for r in self.requirements(node)}.values()))
        return Compiled(required, [term(f, t, w) for f, t, w in plan.terms], list(plan.pairs))

    def _phrase(self, node: Phrase) -> Compiled:
        """Consecutive syllables; their terms score only in the fields holding the phrase."""
        variant, tokens = planning.phrase_terms(node)
        if not tokens:
            return Compiled(MATCH_NONE)
        found, scoring = [], []
        for f in node.fields or TEXT_FIELDS:
            name = f"{f}_{variant}"
            here = phrase(name, tokens)
            found.append(here)
            scoring.append({"bool": {"filter": [here], "should": [term(name, t, FIELD_WEIGHTS[f]) for t in tokens]}})
        return Compiled(any_of(found), scoring)

    def loose(self, required: list[Node], filters: list[Node]) -> dict:
        """The filter of ``retrieve.Retriever``'s loose match: at least ``MIN_SHARE`` of the
        requirements of the bare words (all of them for one or two), and everything else
        required."""
        covering = [r for node in required if isinstance(node, Words) for r in self.requirements(node)]
        if not covering:
            return MATCH_NONE
        need = len(covering) if len(covering) < 3 else math.ceil(len(covering) * MIN_SHARE)
        share = {"bool": {"should": covering, "minimum_should_match": need}}
        others = self.compile(All(tuple([n for n in required if not isinstance(n, Words)] + filters))).filter
        return share if others is None else {"bool": {"filter": [share, others]}}


def scored(filter_: dict | None, scoring: list[dict]) -> dict:
    """A query matching ``filter_`` (None: everything), scored by the sum of ``scoring``."""
    body: dict = {"filter": [filter_ if filter_ is not None else {"match_all": {}}]}
    if scoring:
        body["should"] = scoring
    return {"bool": body}


def pair_counts(pairs: list[Pair]) -> dict:
    """Per pair, two filters whose counts among the candidates ``retrieve.rank._telling``
    reads: ``both{i}`` (its two syllables in the field) and ``near{i}`` (side by side)."""
    filters = {}
    for i, (f, a, b, _) in enumerate(pairs):
        filters[f"both{i}"] = {"bool": {"filter": [term(f, a), term(f, b)]}}
        filters[f"near{i}"] = phrase(f, [a, b])
    return {"filters": {"filters": filters}}


def proximity_bonus(pairs: list[Pair], telling: dict[int, float]) -> list[dict]:
    """Clauses scoring ``retrieve.rank``'s proximity bonus: where pair ``i`` stands side by
    side, its two syllables' BM25 impacts times its weight and how telling it is."""
    return [
        {"bool": {"filter": [phrase(f, [a, b])], "should": [term(f, a), term(f, b)], "boost": weight * telling[i]}}
        for i, (f, a, b, weight) in enumerate(pairs)
        if telling.get(i)
    ]
