"""Python API: ``SearchEngine`` ties ingest, index, query and highlight together; ``Hit`` is one search result."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Callable, Iterable, Union

from whoosh import query as wq
from whoosh import scoring
from whoosh.searching import Searcher

from . import index as idx
from . import query
from .errors import IngestError, QuerySyntaxError
from .highlight import Matcher, Snippet, highlight_article
from .ingest import Article, read_articles
from .query import Compiled, DateFilter, Lexicon, compile_tree, date_bound, date_query, parse

DEFAULT_INDEX_DIR = "index"
SORTS = ("relevance", "date", "-date")

DateLike = Union[date, datetime, str, None]


def default_index_dir() -> Path:
    """``$HNP_SEARCH_INDEX`` or ``index/`` in the current directory."""
    return Path(os.environ.get("HNP_SEARCH_INDEX") or DEFAULT_INDEX_DIR)


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


class SearchEngine:
    """A Vietnamese full-text index in one directory.

    >>> engine = SearchEngine("index")           # opens, or creates an empty index
    >>> engine.index(["corpus/"]).added          # doctest: +SKIP
    24
    >>> [h.id for h in engine.search("ha noi", limit=3)]  # doctest: +SKIP
    """

    def __init__(self, index_dir: str | os.PathLike | None = None, *, create: bool = True):
        self.path = Path(index_dir) if index_dir is not None else default_index_dir()
        self._ix = idx.open_index(self.path, create=create)
        self._lock = threading.Lock()
        # Whoosh readers share file positions, so each thread gets its own searcher.
        self._local = threading.local()
        self._searchers: list[Searcher] = []
        self._generation = 0  # bumped by refresh(); older thread searchers refresh
        self._lexicons: dict[int, Lexicon] = {}

    # -- writing -----------------------------------------------------------

    def index(
        self,
        sources: Iterable[Union[str, os.PathLike, Article]] | str | os.PathLike,
        *,
        rebuild: bool = False,
        jobs: int | None = None,
        progress: Callable[[int], None] | None = None,
        on_error: Callable[[IngestError], None] | None = None,
    ) -> idx.IndexSummary:
        """Add or replace articles (from paths, or ``Article`` objects) by id.

        Bad files and lines are reported to ``on_error`` (and listed in the
        summary's ``errors``); the rest is indexed. ``jobs`` analysis processes
        (default: all cores). ``rebuild`` empties the index first.
        """
        if isinstance(sources, (str, os.PathLike, Article)):
            sources = [sources]
        sources = list(sources)
        summary_errors: list[IngestError] = []

        def report(error: IngestError):
            summary_errors.append(error)
            if on_error is not None:
                on_error(error)

        def articles():
            for source in sources:
                if isinstance(source, Article):
                    yield source
                else:
                    yield from read_articles(source, on_error=report)

        if rebuild:
            self._close_searcher()
            self._ix.close()
            self._ix = idx.create_index(self.path)
        summary = idx.write_articles(
            self._ix, articles(), jobs=jobs or os.cpu_count() or 1, progress=progress, on_error=on_error
        )
        summary.errors[:0] = [str(e) for e in summary_errors]
        self.refresh()
        return summary

    # -- reading -----------------------------------------------------------

    def refresh(self) -> None:
        """See the articles committed since this engine opened or last refreshed, by this
        or any other process (done after ``index``). Until then searches keep seeing
        that one state, so a long-lived engine calls this to see new articles."""
        with self._lock:
            self._generation += 1

    def _search_with(self) -> Searcher:
        """This thread's searcher, reopened when ``refresh()`` was called and the index changed."""
        local = self._local
        searcher = getattr(local, "searcher", None)
        if searcher is not None and local.generation != self._generation and not searcher.up_to_date():
            with self._lock:
                self._searchers.remove(searcher)
            searcher.close()  # only this thread used it
            searcher = None
        if searcher is None:
            searcher = self._ix.searcher(weighting=scoring.BM25F(B=query.BM25_B, K1=query.BM25_K1))
            with self._lock:
                self._searchers.append(searcher)
        local.searcher, local.generation = searcher, self._generation
        return searcher

    def _lexicon(self, searcher: Searcher) -> Lexicon:
        """The diacritic-restoring lexicon of the index state ``searcher`` reads."""
        generation = searcher.reader().generation()
        with self._lock:
            lexicon = self._lexicons.get(generation)
            if lexicon is None:
                lexicon = self._lexicons[generation] = idx.load_lexicon(self.path, searcher.reader())
            return lexicon

    def __len__(self) -> int:
        return self._search_with().doc_count()

    def get(self, article_id: str) -> Article | None:
        """The stored article with this id, or None."""
        fields = self._search_with().document(id=article_id)
        return _article(fields) if fields else None

    def search(
        self,
        query: str,
        *,
        limit: int = 10,
        date_from: DateLike = None,
        date_to: DateLike = None,
        person: str | None = None,
        sort: str = "relevance",
        highlight: bool = True,
    ) -> list[Hit]:
        """Articles matching ``query`` (see the README's query language), best first.

        Articles with every word rank before those with only most of them.
        ``date_from`` / ``date_to`` are inclusive (dates, datetimes or strings like
        ``2024-05-07`` or ``07/05/2024``); ``sort`` is relevance, date or -date
        (sorted by date, hits have score 0). ``highlight=False`` skips snippets.
        """
        if sort not in SORTS:
            raise QuerySyntaxError(query, f"unknown sort {sort!r} (use one of {', '.join(SORTS)})")
        if limit < 1:
            return []
        tree = parse(query)
        searcher = self._search_with()
        compiled = compile_tree(tree, self._lexicon(searcher))
        filters = []
        start, end = date_bound(date_from, upper=False), date_bound(date_to, upper=True)
        if start or end:
            filters.append(date_query(DateFilter(start, end)))
        ranked = self._run(searcher, compiled.strict, filters, limit, sort)
        if len(ranked) < limit and compiled.loose != compiled.strict:
            seen = {docnum for docnum, _ in ranked}
            more = self._run(searcher, compiled.loose, filters, 3 * limit + len(ranked), sort, compiled)
            ranked += [(d, s) for d, s in more if d not in seen][: limit - len(ranked)]
        matcher = Matcher.from_tree(tree) if highlight else None
        return [self._hit(searcher, docnum, score, matcher) for docnum, score in ranked]

    @staticmethod
    def _run(searcher, q, filters, limit, sort, coverage: Compiled | None = None):
        if q is wq.NullQuery and not filters:
            return []
        if q is wq.NullQuery:
            q = wq.Every()
        if filters:
            q = wq.And([q, *filters])
        kwargs = {} if sort == "relevance" else {"sortedby": "published", "reverse": sort == "-date"}
        results = searcher.search(q, limit=limit, terms=coverage is not None, **kwargs)
        return [
            (hit.docnum, hit.score if sort == "relevance" else 0.0)
            for hit in results
            if coverage is None or coverage.enough(hit.matched_terms())
        ]

    @staticmethod
    def _hit(searcher, docnum: int, score: float, matcher: Matcher | None) -> Hit:
        article = _article(searcher.stored_fields(docnum))
        if matcher is None:
            title_snippet, snippets = Snippet(article.title), []
        else:
            text = f"{article.lead}\n{article.body}" if article.lead else article.body
            title_snippet, snippets = highlight_article(article.title, text, matcher)
        return Hit(
            id=article.id,
            title=article.title,
            published=article.published,
            score=round(float(score), 4),
            snippets=tuple(snippets),
            article=article,
            title_snippet=title_snippet,
        )

    # -- lifecycle ---------------------------------------------------------

    def _close_searcher(self):
        with self._lock:
            for searcher in self._searchers:
                searcher.close()
            self._searchers.clear()
            self._generation += 1
            self._local = threading.local()

    def close(self) -> None:
        self._close_searcher()
        self._ix.close()

    def __enter__(self) -> "SearchEngine":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _article(fields: dict) -> Article:
    return Article(
        id=fields["id"],
        title=fields.get("title") or "",
        body=fields.get("body") or "",
        published=fields.get("published"),
        lead=fields.get("lead") or "",
        author=fields.get("author"),
        url=fields.get("url"),
        source=fields.get("source"),
        category=fields.get("category"),
    )
