"""Python API: ``SearchEngine`` ties ingest, index, query and highlight together into ``Results`` of ``Hit``s."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Callable, Iterable, Union

from whoosh.searching import Searcher

from .errors import (
    EngineClosedError,
    HnpSearchError,
    IndexCorruptError,
    IndexNotFoundError,
    IndexVersionError,
    IngestError,
    QuerySyntaxError,
)
from .highlight import Matcher, Snippet, highlight_article
from .indexing.job import IndexSummary, Sources, delete_articles, rebuild_articles, write_articles
from .ingest import Article
from .persons import person_key
from .query import vocabulary
from .query import explain as explaining
from .query.explain import Explanation
from .query.parse import DateLike, check_sort, parse, parse_with_filters, understand
from .query.synonyms import Synonyms
from .query.synonyms import load as load_synonyms
from .query.vocabulary import Lexicon
from .query.vocabulary import suggest as suggest_query
from .results import Hit, Results
from .retrieve import IndexView, PostingCache, Retriever
from .retrieve.facets import check_facets, date_range, facet_counts
from .retrieve.similar import related
from .store.directory import create_index, index_exists, index_size, lexicon_stamp, open_index
from .store.integrity import Report, guard_reads, verify
from .text.analyze import ANALYZER_VERSION
from .text.normalize import clean_text, fold, is_utf8

DEFAULT_INDEX_DIR = "index"
#: Longest a search reads queries with the previous commit's lexicon while another process
#: saves the lexicon of its commit (``hnp-search index`` does so right after committing).
LEXICON_WAIT = 5.0
#: ``Results.suggestion`` is looked for when a search finds fewer articles than this.
SUGGEST_BELOW = 3



def default_index_dir() -> Path:
    """``$HNP_SEARCH_INDEX`` or ``index/`` in the current directory."""
    return Path(os.environ.get("HNP_SEARCH_INDEX") or DEFAULT_INDEX_DIR)


class SearchEngine:
    """A Vietnamese full-text index in one directory.

    >>> engine = SearchEngine("index")           # opens; indexing creates it if absent
    >>> engine.index(["corpus/"]).added
    26
    >>> [h.id for h in engine.search("ha noi", limit=2)]
    ['dem-nhac-van-mieu-giai-phong-thu-do-2024-10-10', 'dien-kinh-tre-ha-noi-nhat-toan-doan-2024-07-21']

    Reading a path that holds no index raises ``IndexNotFoundError`` (at once with
    ``create=False``, else at the first read, so that ``SearchEngine(new_path).index(...)``
    creates it); a closed engine raises ``EngineClosedError``.
    """

    def __init__(self, index_dir: str | os.PathLike | None = None, *, create: bool = True,
                 synonyms: str | os.PathLike | None = None):
        """``synonyms``: a file of the user's own synonyms, one group a line, forms separated by
        ``|`` (default: the file ``$HNP_SEARCH_SYNONYMS`` names), used beside the built-in list."""
        self._synonyms_path = synonyms
        self.path = Path(index_dir) if index_dir is not None else default_index_dir()
        self._ix = None
        self._outdated: IndexVersionError | IndexNotFoundError | IndexCorruptError | None = None
        self._closed = False
        try:
            self._ix = open_index(self.path, create=False)
        except (IndexVersionError, IndexCorruptError) as exc:  # usable only to rebuild: index(..., rebuild=True)
            self._outdated = exc
        except IndexNotFoundError as exc:  # usable only to index: that creates it
            if not create or index_exists(self.path) and str(exc).startswith("cannot open"):
                raise  # an index that cannot be read (permission denied) is an error at once
            self._outdated = exc
        self._lock = threading.Lock()
        # Whoosh readers share file positions, so each thread gets its own searcher.
        self._local = threading.local()
        self._searchers: list[Searcher] = []
        self._generation = 0  # bumped by refresh(); older thread searchers refresh
        self._lexicons: dict[int, Lexicon] = {}
        self._lexicon_waits: dict[int, tuple[float, int | None]] = {}  # generation -> (since, file stamp then)
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
        prune: bool = False,
        exclude: Iterable[Union[str, os.PathLike]] = (),
    ) -> IndexSummary:
        """Add or replace articles (from paths, or ``Article`` objects) by id.

        Bad files and lines are reported to ``on_error`` (and counted in the summary's
        ``rejected``, the first of them listed in its ``errors``); the rest is indexed.
        ``jobs`` analysis processes (default: all cores). ``rebuild`` builds a new index
        beside the old one and swaps it in when complete. ``prune`` then deletes the
        articles whose ids none of ``sources`` holds (not done when some input could not
        be read: its articles' ids are unknown). Files and folders in ``exclude``, and the
        index's own folder, are never read.
        """
        articles = Sources(sources, on_error, exclude=[self.path, *exclude])
        self._check_open()
        jobs = jobs or os.cpu_count() or 1
        if rebuild:
            summary = rebuild_articles(self.path, articles, jobs=jobs, progress=progress, on_error=on_error)
            self._close_searcher()
            if self._ix is not None:
                self._ix.close()
            self._ix, self._outdated = open_index(self.path), None
        else:
            if isinstance(self._outdated, IndexNotFoundError):
                self._close_searcher()
                self._ix, self._outdated = create_index(self.path), None
            self._check_version()
            summary = write_articles(self._ix, articles, jobs=jobs, progress=progress, on_error=on_error)
        articles.counted(summary)
        if prune and not summary.rejected:
            summary.pruned = delete_articles(self._ix, (), keep=articles.seen.__contains__)
        self.refresh()
        return summary

    def delete(self, ids: Iterable[str] | str) -> int:
        """Delete the articles with these ids, in one commit (crash-safe, under the job lock
        as indexing is); returns how many were in the index. They leave search, ``get``,
        facets, persons and ``len`` at once (for this engine; other engines after
        ``refresh()``); indexing the same id again adds it anew.

        >>> engine.delete(["gia-xang-giam-2020-03-31"])  # doctest: +SKIP
        1
        """
        if isinstance(ids, str):
            ids = [ids]
        self._check_version()
        deleted = delete_articles(self._ix, ids)
        self.refresh()
        return deleted

    # -- reading -----------------------------------------------------------

    def refresh(self) -> None:
        """See the articles committed since this engine opened or last refreshed, by this
        or any other process (done after ``index``). Until then searches keep seeing
        that one state, so a long-lived engine calls this to see new articles."""
        with self._lock:
            self._generation += 1

    def _check_open(self) -> None:
        if self._closed:
            raise EngineClosedError(f"the search engine of {self.path} is closed: open a new SearchEngine")

    def _check_version(self) -> None:
        self._check_open()
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
            assert self._ix is not None  # else _check_version raised
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

        >>> engine.reader().doc_count
        26
        """
        self._search_with()
        return self._local.view

    def _retriever(self, searcher: Searcher) -> Retriever:
        """Retrieval on the index state ``searcher`` (this thread's) reads."""
        return Retriever(self._local.view, lambda: self._lexicon(searcher), self.synonyms())

    def synonyms(self) -> Synonyms:
        """The synonyms queries are expanded with: the built-in list and the user's."""
        return load_synonyms(self._synonyms_path)

    def _lexicon(self, searcher: Searcher) -> Lexicon:
        """The diacritic-restoring lexicon of the index state ``searcher`` reads.

        Another process that commits saves the lexicon of its commit right after; until it
        has (at most ``LEXICON_WAIT`` s), queries are read with the lexicon of the state read
        before, rather than holding every thread while this one builds it (a second on dantri).
        """
        generation = searcher.reader().generation()
        with self._lock:
            lexicon = self._lexicons.get(generation)
            if lexicon is None:
                lexicon = self._new_lexicon(generation, searcher)
                if lexicon is None:
                    return self._lexicons[max(self._lexicons)]
                self._lexicons[generation] = lexicon
                for old in sorted(self._lexicons)[:-2]:  # a long-lived engine sees many commits
                    del self._lexicons[old]
                for old in [g for g in self._lexicon_waits if g <= generation]:
                    del self._lexicon_waits[old]
            return lexicon

    def _new_lexicon(self, generation: int, searcher: Searcher) -> Lexicon | None:
        """The lexicon of ``generation`` (saved, or else built), or None while the writer of
        that commit may still be saving it and an older lexicon is at hand. Under ``_lock``."""
        stamp = lexicon_stamp(self.path)
        waiting = self._lexicon_waits.get(generation)
        if waiting is None:
            if not self._lexicons:  # nothing to read queries with meanwhile
                return vocabulary.load_lexicon(self.path, searcher.reader())
            saved = vocabulary.saved_lexicon(self.path, generation)
            if saved is not None:
                return saved
            self._lexicon_waits[generation] = (time.monotonic(), stamp)
            return None
        since, seen = waiting
        if stamp == seen and time.monotonic() - since < LEXICON_WAIT:
            return None
        del self._lexicon_waits[generation]
        return vocabulary.load_lexicon(self.path, searcher.reader())

    @guard_reads
    def __len__(self) -> int:
        return self._search_with().doc_count()

    @guard_reads
    def get(self, article_id: str) -> Article | None:
        """The stored article with this id, or None."""
        if not is_utf8(article_id):  # no indexed id holds a lone surrogate
            return None
        fields = self._search_with().document(id=article_id)
        return _article(fields) if fields else None

    @guard_reads
    def suggest(self, query: str) -> str | None:
        """A better query to offer when ``query`` finds little ("Did you mean …?"), or None."""
        parse(query)  # malformed queries raise here, as in search
        return self._suggest(self._search_with(), query)

    @guard_reads
    def explain(self, query: str, *, date_from: DateLike = None, date_to: DateLike = None,
                person: str | None = None, category: str | None = None, source: str | None = None,
                sort: str = "relevance") -> Explanation:
        """How ``query`` is understood, as Elasticsearch's validate/explain and _analyze
        show it: what was reinterpreted, its parts, each syllable's weight and the readings
        (Telex, typo, split, restored diacritics) and synonyms it also finds, the filters,
        how matches are ranked and how many there are. ``print()`` it, or ``.to_dict()``.

        >>> print(engine.explain("dduwowngf sắt Cát Linh TPHCM"))  # doctest: +SKIP
        """
        check_sort(query, sort)
        notes = understand(query).notes
        tree, filters, _ = parse_with_filters(query, date_from, date_to, person, category, source)
        searcher = self._search_with()
        retriever = self._retriever(searcher)
        every, most = retriever.tiers(tree, filters)
        described = [explaining.filter_text(f) for f in filters]
        return Explanation(
            query=query,
            notes=tuple(notes),
            tree=explaining.describe(tree, retriever.matcher.plan),
            filters=tuple(described),
            ranking=explaining.ranking_rule(tree, sort),
            all_words=len(every),
            most_words=len(most),
            suggestion=self.suggest(query) if len(every) < 3 else None,
        )

    @guard_reads
    def persons_of(self, article_id: str) -> list[str]:
        """The persons an indexed article names (empty if none, or no such article)."""
        if not is_utf8(article_id):
            return []
        fields = self._search_with().document(id=article_id)
        return list(fields.get("persons") or ()) if fields else []

    @guard_reads
    def search(
        self,
        query: str,
        *,
        offset: int = 0,
        limit: int = 10,
        date_from: DateLike = None,
        date_to: DateLike = None,
        person: str | None = None,
        category: str | None = None,
        source: str | None = None,
        sort: str = "relevance",
        facets: Iterable[str] = (),
        highlight: bool = True,
    ) -> Results:
        """Articles matching ``query`` (see the README's query language): items ``offset``
        … ``offset + limit - 1`` of one ranked list of all ``Results.total`` matches.

        Articles with every word rank before those with only most of them (``Hit.all_words``).
        ``date_from`` / ``date_to`` are inclusive (dates, datetimes or strings like
        ``2024-05-07`` or ``07/05/2024``); ``person``, ``category`` and ``source`` are
        ``person:``, ``category:`` and ``source:``. ``sort`` is relevance, date or -date
        (sorted by date, hits have score 0); a query with no words to score (only
        filters) lists newest first. ``facets`` names any of ``category``, ``source``,
        ``year``, ``month``, ``person``, counted over every match. ``highlight=False``
        skips snippets.

        >>> results = engine.search("giao thông", limit=5, facets=["month"])
        >>> results.total, len(results), results.facets["month"][:2]
        (10, 5, [('2023-03', 1), ('2023-06', 2)])
        """
        check_sort(query, sort)
        try:
            facets = check_facets(facets)
        except ValueError as exc:
            raise QuerySyntaxError(query, str(exc)) from None
        offset, limit = max(int(offset), 0), max(int(limit), 0)
        searcher = self._search_with()
        tree, filters, wanted = parse_with_filters(query, date_from, date_to, person, category, source)
        retriever = self._retriever(searcher)
        page = retriever.page(tree, filters, offset, limit, sort)
        matcher = None
        if highlight and page.ranked:
            matcher = Matcher.for_search(tree, tuple(wanted), retriever.matcher.plan)
        keys = {person_key(p.name) for p in wanted}
        hits = tuple(self._hit(searcher, docnum, score, matcher, keys, all_words)
                     for docnum, score, all_words in page.ranked)  # fmt: skip
        counted = facet_counts(retriever.view, page.docs, facets) if facets else {}
        suggestion = self._suggest(searcher, query) if len(page.docs) < SUGGEST_BELOW and query.strip() else None
        return Results(hits=hits, total=len(page.docs), total_all_words=page.all_words, offset=offset, limit=limit,
                       facets=counted, suggestion=suggestion)  # fmt: skip

    @guard_reads
    def similar(self, article_id: str, limit: int = 10) -> list[Hit]:
        """Articles related to the one with this id (a "more like this"), best first: those
        scoring best on its most telling terms (folded words and syllables of its title,
        lead and body, by tf·idf), without itself or exact duplicates of it (the same
        indexed content, or the same title and text under another id). Raises
        HnpSearchError when there is no such article.

        >>> [h.id for h in engine.similar("metro-nhon-ga-ha-noi-2024-08-09", limit=2)]
        ['khai-hoi-chua-huong-2024-02-15', 'thuy-loi-tieu-ung-sau-mua-lon-2024-09-12']
        """
        searcher = self._search_with()
        docnum = searcher.document_number(id=article_id)
        if docnum is None:
            raise HnpSearchError(f"no article with id {article_id!r}")
        fields = searcher.stored_fields(docnum)
        same = (fields.get("title") or "", fields.get("body") or "")
        hits = []
        for candidate, score in related(self._local.view, docnum, fields, limit + 5):
            hit = self._hit(searcher, candidate, score, None, set())
            if (hit.title, hit.article.body) != same:
                hits.append(hit)
        return hits[:limit]

    @guard_reads
    def stats(self) -> dict:
        """What the index holds, JSON-ready: path, articles, first and last publication
        dates (ISO) and how many are undated, articles per category and per source, how
        many persons are named, size on disk and segments, analyzer version."""
        self._search_with()
        view = self._local.view
        docs = view.all_docs()
        first, last, undated = date_range(view, docs)
        counted = facet_counts(view, docs, ["category", "source", "person"], top=len(docs) + 1)
        return {
            "path": str(self.path),
            "articles": len(docs),
            "first_published": first.isoformat() if first else None,
            "last_published": last.isoformat() if last else None,
            "undated": undated,
            "categories": counted["category"],
            "sources": counted["source"],
            "persons": len(counted["person"]),
            "index_bytes": index_size(self.path),
            "segments": len(view.leaves),
            "analyzer_version": ANALYZER_VERSION,
        }

    @guard_reads
    def persons(self, query: str | None = None, top: int = 20, **filters) -> list[tuple[str, int]]:
        """The persons named in the most articles, overall or among the matches of
        ``query`` (with ``filters`` as for ``search``: date_from, date_to, person,
        category, source), as (name, number of articles), most first.

        >>> engine.persons("metro", top=3)
        [('Phan Thế Bảo', 3), ('Bạch Ngọc Diệp', 1), ('Lê Thu Trang', 1)]
        """
        searcher = self._search_with()
        view = self._local.view
        if query is None and not filters:
            docs = view.all_docs()
        else:
            tree, filters_, _ = parse_with_filters(query or "", **filters)
            docs = self._retriever(searcher).page(tree, filters_, 0, 0).docs
        return facet_counts(view, docs, ["person"], top=top)["person"]

    def _suggest(self, searcher: Searcher, query: str) -> str | None:
        lexicon = self._lexicon(searcher)
        better = suggest_query(clean_text(query), self._local.view, lexicon)
        if better is None:
            return None
        try:  # offered only if it finds articles with all its words
            return better if self._retriever(searcher).search(parse(better), [], 1, relax=False) else None
        except QuerySyntaxError:  # it breaks an operator ("date:2023-11" → "date:2023-"), or costs too much
            return None

    @staticmethod
    def _hit(searcher, docnum: int, score: float, matcher: Matcher | None, person_keys: set[str],
             all_words: bool = True) -> Hit:  # fmt: skip
        fields = searcher.stored_fields(docnum)
        article = _article(fields)
        names = tuple(fields.get("persons") or ())
        snippets: list[Snippet]
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
            all_words=all_words,
        )

    def check(self) -> Report:
        """Verify every file of the index (``hnp-search check``): what is damaged or missing,
        found by the checksums recorded at each commit, or by reading files written since."""
        self._check_open()
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
        """Release the index; any later call raises ``EngineClosedError``."""
        self._close_searcher()
        if self._ix is not None:
            self._ix.close()
        self._closed = True

    def __enter__(self) -> "SearchEngine":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


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
