"""The retriever: a query tree and filters → ranked (docnum, score) pairs: all the words first, then most of them; a question by score alone."""

from __future__ import annotations

import math
from collections import Counter
from itertools import chain
from typing import Callable

from ..query import plan as planning
from ..query.parse import All, Node, Words
from ..query.synonyms import Synonyms
from ..query.vocabulary import Lexicon
from .match import Match, NodeMatcher
from .rank import rank
from .view import IndexView

#: A loose hit needs at least this share of the query's syllables (queries of 3+).
MIN_SHARE = 0.34


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
        those, articles with most of the query's syllables."""
        if node is None and not filters:
            return []
        required = list(node.nodes) if isinstance(node, All) else [node] if node is not None else []
        strict = self.match(All(tuple(required + filters)), lazy=True)
        if relax and sort == "relevance" and any(isinstance(n, Words) and planning.is_question(n.text) for n in required):
            # A question's answer seldom repeats all its words (its "what", "who"…): by score alone.
            return self._rank(self._loose(required, filters, strict), limit, sort)
        ranked = self._rank(strict, limit, sort)
        if relax and len(ranked) < limit and any(isinstance(n, Words) for n in required):
            loose = self._loose(required, filters, strict)
            loose.docs -= {d for d, _ in ranked}
            ranked += self._rank(loose, limit - len(ranked), sort)
        return ranked

    def matching(self, node: Node | None, filters: list[Node]) -> set[int]:
        """Every docnum ``search`` could return, unordered."""
        every, most = self.tiers(node, filters)
        return every | most

    def tiers(self, node: Node | None, filters: list[Node]) -> tuple[set[int], set[int]]:
        """The docnums ``search`` could return: those with every word, and the further ones
        with most of them."""
        if node is None and not filters:
            return set(), set()
        required = list(node.nodes) if isinstance(node, All) else [node] if node is not None else []
        strict = self.match(All(tuple(required + filters)))
        docs = self.view.all_docs() if strict.docs is None else strict.docs
        if any(isinstance(n, Words) for n in required):
            return docs, self._loose(required, filters, strict).docs - docs
        return docs, set()

    def _loose(self, required: list[Node], filters: list[Node], strict: Match) -> Match:
        """Articles meeting at least ``MIN_SHARE`` of the requirements of the query's bare
        words (a syllable, a correction of it, a synonym of a run; all of them for one or
        two), and everything else it requires."""
        covering = [found for node in required if isinstance(node, Words) for found in self.matcher.required_docs(node)]
        need = len(covering) if len(covering) < 3 else math.ceil(len(covering) * MIN_SHARE)
        counts = Counter(chain.from_iterable(covering))
        docs = {d for d, c in counts.items() if c >= need}
        others = self.match(All(tuple([n for n in required if not isinstance(n, Words)] + filters)))
        return Match(docs if others.docs is None else docs & others.docs, strict.terms, strict.pairs, strict.unverified)


    def _rank(self, match: Match, limit: int, sort: str) -> list[tuple[int, float]]:
        return rank(self.view, match, limit, sort)
