"""The retriever: a query tree and filters → ranked (docnum, score) pairs.

All the words first, then most of them; a question by score alone, its words held by most
of the best candidates weighing less.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from itertools import chain
from typing import Callable

from ..query import plan as planning
from ..query.parse import All, Node, Words, conjuncts
from ..query.synonyms import Synonyms
from ..query.vocabulary import Lexicon
from .match import Match, NodeMatcher
from .rank import rank
from .view import IndexView

#: A loose hit needs at least this share of the query's syllables (queries of 3+).
MIN_SHARE = 0.34


@dataclass
class Page:
    """One page of a query's ranked list: (docnum, score, holds every word) in order,
    every matching docnum (``docs``), and how many of them hold every word."""

    ranked: list[tuple[int, float, bool]]
    docs: set[int]
    all_words: int


class Retriever:
    """Runs query trees on one index state."""

    def __init__(self, view: IndexView, lexicon: Callable[[], Lexicon] | None = None,
                 synonyms: Synonyms | None = None):
        self.view = view
        self.matcher = NodeMatcher(view, lexicon, synonyms)
        self.match = self.matcher.match

    def search(
        self, node: Node | None, filters: list[Node], limit: int, sort: str = "relevance", *, relax: bool = True
    ) -> list[tuple[int, float]]:
        """The best ``limit`` (docnum, score) pairs for ``node`` within ``filters``: articles
        with every word (diacritics as typed) first, then, when ``relax`` and too few of
        those, articles with most of the query's syllables. QueryCostError when it would read
        too much (``view.MAX_QUERY_POSTINGS``)."""
        if node is None and not filters:
            return []
        with self.view.metered():
            return self._search(node, filters, limit, sort, relax)

    def _search(
        self, node: Node | None, filters: list[Node], limit: int, sort: str, relax: bool
    ) -> list[tuple[int, float]]:
        required = conjuncts(node)
        strict = self.match(All(tuple(required + filters)), lazy=True)
        question = any(isinstance(n, Words) and planning.is_question(n.text) for n in required)
        if relax and sort == "relevance" and question:
            # A question's answer seldom repeats all its words (its "what", "who"…): by score alone.
            return self._rank(self._loose(required, filters, strict), limit, sort, local=True)
        ranked = self._rank(strict, limit, sort)
        if relax and len(ranked) < limit and any(isinstance(n, Words) for n in required):
            loose = self._loose_docs(required, filters) - {d for d, _ in ranked}
            ranked += self._rank(Match(loose, strict.terms, strict.pairs, strict.unverified), limit - len(ranked), sort)
        return ranked

    def page(self, node: Node | None, filters: list[Node], offset: int, limit: int, sort: str = "relevance") -> Page:
        """Items ``offset`` … ``offset + limit - 1`` of one ranked list of every match:
        articles with every word (diacritics as typed) first, then those with most of the
        query's syllables; a question by score alone. The set of matches, and so each
        item's place, does not depend on ``offset`` or ``limit``. A query without scoring
        words (only filters, persons, dates, exclusions) lists newest first. QueryCostError
        when it would read too much (``view.MAX_QUERY_POSTINGS``)."""
        if node is None and not filters:
            return Page([], set(), 0)
        with self.view.metered():
            return self._page(node, filters, offset, limit, sort)

    def _page(self, node: Node | None, filters: list[Node], offset: int, limit: int, sort: str) -> Page:
        required = conjuncts(node)
        strict = self.match(All(tuple(required + filters)))
        strict_docs = self.view.all_docs() if strict.docs is None else strict.docs
        if sort == "relevance" and not strict.terms:
            sort = "-date"
        want = offset + limit
        if sort == "relevance" and any(isinstance(n, Words) and planning.is_question(n.text) for n in required):
            loose = self._loose_docs(required, filters) | strict_docs
            scored = self._rank(Match(loose, strict.terms, strict.pairs), want, sort, local=True)
            return Page([(d, s, d in strict_docs) for d, s in scored][offset:], loose, len(strict_docs))
        ranked = [(d, s, True) for d, s in self._rank(strict, want, sort)]
        docs = strict_docs
        if any(isinstance(n, Words) for n in required):
            loose = self._loose_docs(required, filters) - strict_docs
            if len(ranked) < want:
                scored = self._rank(Match(loose, strict.terms, strict.pairs), want - len(ranked), sort)
                ranked += [(d, s, False) for d, s in scored]
            docs = strict_docs | loose
        return Page(ranked[offset:], docs, len(strict_docs))

    def matching(self, node: Node | None, filters: list[Node]) -> set[int]:
        """Every docnum ``search`` could return, unordered."""
        every, most = self.tiers(node, filters)
        return every | most

    def tiers(self, node: Node | None, filters: list[Node]) -> tuple[set[int], set[int]]:
        """The docnums ``search`` could return: those with every word, and the further ones
        with most of them."""
        if node is None and not filters:
            return set(), set()
        with self.view.metered():
            return self._tiers(node, filters)

    def _tiers(self, node: Node | None, filters: list[Node]) -> tuple[set[int], set[int]]:
        required = conjuncts(node)
        strict = self.match(All(tuple(required + filters)))
        docs = self.view.all_docs() if strict.docs is None else strict.docs
        if any(isinstance(n, Words) for n in required):
            return docs, self._loose_docs(required, filters) - docs
        return docs, set()

    def _loose(self, required: list[Node], filters: list[Node], strict: Match) -> Match:
        """``strict``'s scoring terms over ``_loose_docs``."""
        return Match(self._loose_docs(required, filters), strict.terms, strict.pairs, strict.unverified)

    def _loose_docs(self, required: list[Node], filters: list[Node]) -> set[int]:
        """Articles meeting at least ``MIN_SHARE`` of the requirements of the query's bare
        words (a syllable, a correction of it, a synonym of a run; all of them for one or
        two), and everything else it requires."""
        covering = [found for node in required if isinstance(node, Words)
                    for found in self.matcher.required_docs(node)]
        need = len(covering) if len(covering) < 3 else math.ceil(len(covering) * MIN_SHARE)
        counts = Counter(chain.from_iterable(covering))
        docs = {d for d, c in counts.items() if c >= need}
        others = self.match(All(tuple([n for n in required if not isinstance(n, Words)] + filters)))
        return docs if others.docs is None else docs & others.docs


    def _rank(self, match: Match, limit: int, sort: str, local: bool = False) -> list[tuple[int, float]]:
        return rank(self.view, match, limit, sort, local)
