"""Search results as backend-neutral values, JSON-ready: ``Hit`` and ``Results`` (a page of hits, total, facets).

``Results`` holds one page of hits with the total, the facets and the suggestion; any backend builds them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Iterator, Mapping, overload

if TYPE_CHECKING:  # only types: this module is shared by every backend and imports none
    from .highlight import Snippet
    from .ingest import Article

#: The facets a search can count, in the order they are shown.
FACETS = ("category", "source", "year", "month", "person")

#: (value, number of matching articles), most first.
FacetCounts = list[tuple[str, int]]


@dataclass(frozen=True, kw_only=True)
class Hit:
    """One search result; stays valid after the engine is closed."""

    id: str
    title: str
    published: datetime | None
    score: float
    snippets: tuple[Snippet, ...]
    article: Article
    title_snippet: Snippet
    #: Persons the article names (canonical full names, in order of first mention).
    persons: tuple[str, ...] = ()
    #: Those of them a ``person:`` filter matched.
    matched_persons: tuple[str, ...] = ()
    #: Whether the article holds every word of the query (diacritics as typed), rather than only most of them.
    all_words: bool = True

    def to_dict(self) -> dict:
        """JSON-ready: ids, title, date as ISO, score, snippets with the [start, end) offsets of
        their matches, url, category, source, persons."""
        return {
            "id": self.id,
            "title": self.title,
            "title_matches": [list(m) for m in self.title_snippet.matches],
            "published": self.published.isoformat() if self.published else None,
            "score": self.score,
            "all_words": self.all_words,
            "url": self.article.url,
            "category": self.article.category,
            "source": self.article.source,
            "author": self.article.author,
            "snippets": [s.to_json() for s in self.snippets],
            "persons": list(self.persons),
            "matched_persons": list(self.matched_persons),
        }


@dataclass(frozen=True, kw_only=True, eq=False)
class Results(Sequence):
    """One page of a search: a sequence of ``Hit`` (``results[0]``, ``len(results)``,
    ``for hit in results``; equal to a list of the same hits), and what holds for every
    match of the query, not just this page.

    Page ``k`` of size ``n`` (``offset=k*n, limit=n``) is exactly items ``k*n … k*n+n-1`` of
    one ranked list of ``total`` articles; an ``offset`` past the end gives an empty page.
    """

    hits: tuple[Hit, ...] = ()
    #: How many articles match: every article some page of this query shows.
    total: int = 0
    #: How many of them hold every word (they come first, in relevance order).
    total_all_words: int = 0
    offset: int = 0
    limit: int = 10
    #: facet name (``FACETS``) -> [(value, articles)], most first, over all matches.
    facets: Mapping[str, FacetCounts] = field(default_factory=dict)
    #: A better query to offer ("Did you mean …?"), when one was looked for and found.
    suggestion: str | None = None

    @overload
    def __getitem__(self, index: int) -> Hit: ...

    @overload
    def __getitem__(self, index: slice) -> list[Hit]: ...

    def __getitem__(self, index):
        if isinstance(index, slice):
            return list(self.hits[index])
        return self.hits[index]

    def __len__(self) -> int:
        return len(self.hits)

    def __iter__(self) -> Iterator[Hit]:
        return iter(self.hits)

    def __eq__(self, other) -> bool:
        if isinstance(other, Results):
            return self.to_tuple() == other.to_tuple()
        if isinstance(other, (list, tuple)):
            return list(self.hits) == list(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.to_tuple())

    def to_tuple(self) -> tuple:
        return (self.hits, self.total, self.total_all_words, self.offset, self.limit,
                tuple((k, tuple(v)) for k, v in self.facets.items()), self.suggestion)

    def __repr__(self) -> str:
        ids = ", ".join(h.id for h in self.hits[:3]) + (", …" if len(self.hits) > 3 else "")
        return f"Results(total={self.total}, offset={self.offset}, limit={self.limit}, hits=[{ids}])"

    @property
    def has_more(self) -> bool:
        """Whether a later page has hits."""
        return self.offset + len(self.hits) < self.total

    def to_dict(self) -> dict:
        """JSON-ready: totals, paging, hits (``Hit.to_dict``), facets as [{value, count}], suggestion."""
        return {
            "total": self.total,
            "total_all_words": self.total_all_words,
            "offset": self.offset,
            "limit": self.limit,
            "hits": [hit.to_dict() for hit in self.hits],
            "facets": {name: [{"value": v, "count": c} for v, c in counts] for name, counts in self.facets.items()},
            "suggestion": self.suggestion,
        }
