"""Python API: ``SearchEngine`` ties ingest, index, query and highlight together; ``Hit`` is one search result."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Callable, Iterable, Union

from whoosh.searching import Searcher

from .errors import IndexCorruptError, IndexVersionError, IngestError, QueryCostError, QuerySyntaxError
from .highlight import Matcher, Snippet, highlight_article
from .indexing.job import MAX_ERRORS_KEPT, IndexSummary, rebuild_articles, write_articles
from .ingest import Article, read_articles
from .persons import person_key
from .query import vocabulary
from .query.parse import All, DateFilter, Node, Person, date_bound, parse, person_filter
from .query.vocabulary import Lexicon
from .query.vocabulary import suggest as suggest_query
from .retrieve import IndexView, PostingCache, Retriever
from .store.directory import open_index
from .store.integrity import Report, guard_reads, verify
from .text.normalize import clean_text, fold

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
    #: Persons the article names (canonical full names, in order of first mention).
    persons: tuple[str, ...] = ()
    #: Those of them a ``person:`` filter matched.
    matched_persons: tuple[str, ...] = ()


class SearchEngine:
    """A Vietnamese full-text index in one directory.

    >>> engine = SearchEngine("index")           # opens, or creates an empty index
    >>> engine.index(["corpus/"]).added          # doctest: +SKIP
    24
    >>> [h.id for h in engine.search("ha noi", limit=3)]  # doctest: +SKIP
    """

    def __init__(self, index_dir: str | os.PathLike | None = None, *, create: bool = True):
        self.path = Path(index_dir) if index_dir is not None else default_index_dir()
        try:
            self._ix = open_index(self.path, create=create)
            self._outdated: IndexVersionError | IndexCorruptError | None = None
        except (IndexVersionError, IndexCorruptError) as exc:  # usable only to rebuild: index(..., rebuild=True)
            self._ix, self._outdated = None, exc
        self._lock = threading.Lock()
        # Whoosh readers share file positions, so each thread gets its own searcher.
        self._local = threading.local()
        self._searchers: list[Searcher] = []
        self._generation = 0  # bumped by refresh(); older thread searchers refresh
        self._lexicons: dict[int, Lexicon] = {}
        self._cache = PostingCache()  # decoded postings, shared by the threads' searchers

    # -- writing -----------------------------------------------------------

    def index(
        self,
        sources: Iterable[Union[str, os.PathLike, Article]] | str | os.PathLike,
        *,
        rebuild: bool = False,
        jobs: int | None = None,
        progress: Callable[[int], None] | None = None,
        on_error: Callable[[IngestError], None] | None = None,
        exclude: Iterable[Union[str, os.PathLike]] = (),
    ) -> IndexSummary:
        """Add or replace articles (from paths, or ``Article`` objects) by id.

        Bad files and lines are reported to ``on_error`` (and counted in the summary's
        ``rejected``, the first of them listed in its ``errors``); the rest is indexed.
        Files and folders in ``exclude``, and the index's own folder, are never read.
        ``jobs`` analysis processes
        (default: all cores). ``rebuild`` empties the index first.
        """
        if isinstance(sources, (str, os.PathLike, Article)):
            sources = [sources]
        sources = list(sources)
        unread = IndexSummary()  # what reading rejected, before the job's own rejections

        def report(error: IngestError):
            unread.reject(str(error))
            if on_error is not None:
                on_error(error)

        skip = [self.path, *(exclude or ())]

        def articles():
            for source in sources:
                if isinstance(source, Article):
                    yield source
                else:
                    yield from read_articles(source, on_error=report, exclude=skip)

        options = dict(jobs=jobs or os.cpu_count() or 1, progress=progress, on_error=on_error)
        if rebuild:
            summary = rebuild_articles(self.path, articles(), **options)
            self._close_searcher()
            if self._ix is not None:
                self._ix.close()
            self._ix, self._outdated = open_index(self.path), None
        else:
            self._check_version()
            summary = write_articles(self._ix, articles(), **options)
        summary.errors[:0] = unread.errors
        del summary.errors[MAX_ERRORS_KEPT:]
        summary.rejected += unread.rejected
        self.refresh()
        return summary

    # -- reading -----------------------------------------------------------

    def refresh(self) -> None:
        """See the articles committed since this engine opened or last refreshed, by this
        or any other process (done after ``index``). Until then searches keep seeing
        that one state, so a long-lived engine calls this to see new articles."""
        with self._lock:
            self._generation += 1

    def _check_version(self) -> None:
        if self._outdated is not None:
            raise self._outdated

    def _search_with(self) -> Searcher:
        """This thread's searcher, reopened when ``refresh()`` was called and the index changed."""
        self._check_version()
        local = self._local
        searcher = getattr(local, "searcher", None)
        if searcher is not None and local.generation != self._generation and not searcher.up_to_date():
            with self._lock:
                self._searchers.remove(searcher)
            searcher.close()  # only this thread used it
            searcher = None
        if searcher is None:
            searcher = self._ix.searcher()
            with self._lock:
                self._searchers.append(searcher)
            local.view = IndexView(searcher.reader(), self._cache)
        local.searcher, local.generation = searcher, self._generation
        return searcher

    @guard_reads
    def reader(self) -> IndexView:
        """This thread's view of the index state searches read (postings, columns, the
        Whoosh reader as ``.reader``): the one public way to inspect an index. It stays
        this thread's until ``refresh()`` is called and the index has changed; don't keep
        it across a refresh or ``close()``.

        >>> engine.reader().doc_count  # doctest: +SKIP
        2653
        """
        self._search_with()
        return self._local.view

    def _retriever(self, searcher: Searcher) -> Retriever:
        """Retrieval on the index state ``searcher`` (this thread's) reads."""
        return Retriever(self._local.view, lambda: self._lexicon(searcher))

    def _lexicon(self, searcher: Searcher) -> Lexicon:
        """The diacritic-restoring lexicon of the index state ``searcher`` reads."""
        generation = searcher.reader().generation()
        with self._lock:
            lexicon = self._lexicons.get(generation)
            if lexicon is None:
                lexicon = self._lexicons[generation] = vocabulary.load_lexicon(self.path, searcher.reader())
            return lexicon

    @guard_reads
    def __len__(self) -> int:
        return self._search_with().doc_count()

    @guard_reads
    def get(self, article_id: str) -> Article | None:
        """The stored article with this id, or None."""
        if not _is_text(article_id):  # no indexed id holds a lone surrogate
            return None
        fields = self._search_with().document(id=article_id)
        return _article(fields) if fields else None

    @guard_reads
    def suggest(self, query: str) -> str | None:
        """A better query to offer when ``query`` finds little ("Did you mean …?"), or None."""
        parse(query)  # malformed queries raise here, as in search
        searcher = self._search_with()
        lexicon = self._lexicon(searcher)
        better = suggest_query(clean_text(query), searcher.reader(), lexicon)
        try:
            parsed = None if better is None else parse(better)
        except QuerySyntaxError:  # a rewrite that broke an operator's value: no suggestion
            return None
        if parsed is None:
            return None
        # Offer it only if it finds articles with all its words.
        try:
            return better if self._retriever(searcher).search(parsed, [], 1, relax=False) else None
        except QueryCostError:
            return None

    @guard_reads
    def persons_of(self, article_id: str) -> list[str]:
        """The persons an indexed article names (empty if none, or no such article)."""
        if not _is_text(article_id):
            return []
        fields = self._search_with().document(id=article_id)
        return list(fields.get("persons") or ()) if fields else []

    @guard_reads
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
        if limit < 1:
            return []
        searcher = self._search_with()
        tree, wanted, ranked = self._ranked(searcher, query, limit, date_from, date_to, person, sort)
        matcher = Matcher.from_tree(All((*([tree] if tree else []), *wanted))) if highlight else None
        keys = {person_key(p.name) for p in wanted}
        return [self._hit(searcher, docnum, score, matcher, keys) for docnum, score in ranked]

    @guard_reads
    def persons(self, query: str | None = None, top: int = 20, **filters) -> list[tuple[str, int]]:
        """The persons named in the most articles, overall or among the matches of
        ``query`` (with ``filters`` as for ``search``: date_from, date_to, person),
        as (name, number of articles), most first.

        >>> engine.persons("metro", top=3)  # doctest: +SKIP
        [('Phan Thế Bảo', 2), ('Nguyễn Quốc Toàn', 1), ...]
        """
        searcher = self._search_with()
        if query is None and not filters:
            deleted = searcher.reader().is_deleted
            docnums = [d for d in range(searcher.doc_count_all()) if not deleted(d)]
        else:
            tree, filters_, _ = self._filters(query or "", **filters)
            docnums = sorted(self._retriever(searcher).matching(tree, filters_))
        counts: dict[str, int] = {}
        spellings: dict[str, dict[str, int]] = {}
        for docnum in docnums:
            for name in searcher.stored_fields(docnum).get("persons") or ():
                key = person_key(name)
                counts[key] = counts.get(key, 0) + 1
                seen = spellings.setdefault(key, {})
                seen[name] = seen.get(name, 0) + 1
        ranked = sorted(counts, key=lambda k: (-counts[k], k))[:top]
        return [(max(spellings[k], key=spellings[k].get), counts[k]) for k in ranked]

    def _ranked(self, searcher, query: str, limit: int, date_from: DateLike = None, date_to: DateLike = None,
                person: str | None = None, sort: str = "relevance"):
        """Parse and run a query: (tree, person filters, [(docnum, score)])."""
        if sort not in SORTS:
            raise QuerySyntaxError(query, f"unknown sort {sort!r} (use one of {', '.join(SORTS)})")
        tree, filters, wanted = self._filters(query, date_from, date_to, person)
        return tree, wanted, self._retriever(searcher).search(tree, filters, limit, sort)

    @staticmethod
    def _filters(query: str, date_from: DateLike = None, date_to: DateLike = None, person: str | None = None):
        """The parsed query, the filters the options add, and every person filter."""
        tree = parse(query)
        filters: list[Node] = []
        start, end = date_bound(date_from, upper=False), date_bound(date_to, upper=True)
        if start or end:
            filters.append(DateFilter(start, end))
        wanted = _persons_in(tree)
        if person:
            wanted.append(person_filter(person))
            filters.append(wanted[-1])
        return tree, filters, wanted

    @staticmethod
    def _hit(searcher, docnum: int, score: float, matcher: Matcher | None, person_keys: set[str]) -> Hit:
        fields = searcher.stored_fields(docnum)
        article = _article(fields)
        names = tuple(fields.get("persons") or ())
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
            persons=names,
            matched_persons=tuple(n for n in names if _person_matches(n, person_keys)),
        )

    def check(self) -> Report:
        """Verify every file of the index (``hnp-search check``): what is damaged or missing,
        found by the checksums recorded at each commit, or by reading files written since."""
        return verify(self.path)

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
        if self._ix is not None:
            self._ix.close()

    def __enter__(self) -> "SearchEngine":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _is_text(value: str) -> bool:
    """Whether ``value`` is UTF-8-encodable (a command-line argument that was not UTF-8 arrives as lone surrogates)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _persons_in(node: Node | None) -> list[Person]:
    """The ``person:`` filters of a query tree (outside exclusions)."""
    if isinstance(node, Person):
        return [node]
    if isinstance(node, All):
        return [p for child in node.nodes for p in _persons_in(child)]
    return []


def _person_matches(name: str, keys: set[str]) -> bool:
    key = person_key(name)
    return key in keys or fold(key) in keys


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
