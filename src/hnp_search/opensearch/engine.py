"""``OpenSearchEngine``: ``SearchEngine``'s methods over an index on an OpenSearch cluster."""

from __future__ import annotations

import functools
from dataclasses import replace
import math
import os
from collections import Counter
from typing import Callable, Iterable, Union, cast

from opensearchpy import OpenSearch, helpers
from opensearchpy.exceptions import ConnectionError as Unreachable
from opensearchpy.exceptions import NotFoundError, TransportError

from ..api import SUGGEST_BELOW, _person_matches
from ..errors import (
    EngineClosedError,
    HnpSearchError,
    IndexNotFoundError,
    IndexVersionError,
    IngestError,
    QuerySyntaxError,
)
from ..highlight import Matcher, Snippet, highlight_article
from ..indexing.job import IndexSummary, Sources
from ..ingest import Article
from ..persons import person_key
from ..query import plan as planning
from ..query import explain as explaining
from ..query.explain import Explanation
from ..query.parse import All, DateLike, Node, Words, check_sort, conjuncts, parse, parse_with_filters, understand
from ..query.synonyms import Synonyms
from ..query.synonyms import load as load_synonyms
from ..query.vocabulary import Lexicon
from ..query.vocabulary import suggest as suggest_query
from ..results import Hit, Results
from ..retrieve.facets import FACET_TOP, check_facets
from ..retrieve.rank import LOCAL_SHARE, PROXIMITY_DEPTH, local_factor
from ..retrieve.similar import telling_terms
from ..retrieve.view import IndexView
from ..query.plan import FIELD_WEIGHTS
from ..store.schema import TEXT_FIELDS
from ..text import analyze
from ..text.analyze import ANALYZER_VERSION
from ..text.normalize import clean_text, fold
from . import vocabulary
from .document import stored_article
from .query import Compiled, Compiler, pair_counts, proximity_bonus, scored, term
from .writer import open_index, write_articles

DEFAULT_INDEX = "hnp-search"
DEFAULT_URL = "http://127.0.0.1:9200"
#: The environment variable naming the cluster the CLI uses.
URL_VARIABLE = "HNP_SEARCH_OPENSEARCH"
#: Hits read by from/size in one request (the index's max_result_window); deeper pages are
#: read with search_after, a page of this many at a time.
WINDOW = 10_000
#: The stored fields a hit reads (the term streams stay on the cluster).
HIT_SOURCE = ["id", "published", "article", "digest"]


def default_url() -> str | None:
    """``$HNP_SEARCH_OPENSEARCH``, or None."""
    return os.environ.get(URL_VARIABLE) or None


def _reported(method):
    """Cluster failures as one-line ``HnpSearchError``s."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        if self._closed:
            raise EngineClosedError(f"the search engine of {self.path} is closed: open a new OpenSearchEngine")
        try:
            return method(self, *args, **kwargs)
        except Unreachable as exc:
            raise HnpSearchError(f"no OpenSearch node answers at {self.url}: {exc.error}") from None
        except TransportError as exc:
            raise HnpSearchError(
                f"OpenSearch at {self.url} refused a request ({exc.status_code}): {exc.error}"
            ) from None

    return wrapper


class OpenSearchEngine:
    """A Vietnamese full-text index on an OpenSearch cluster, with ``SearchEngine``'s methods:
    ``OpenSearchEngine("http://127.0.0.1:9200", index="hnp-search").index(["corpus/"])``, then
    ``search``, ``get``, ``persons``, ``similar``, ``delete``, ``stats``, ``explain``, ``len``.
    """

    def __init__(
        self,
        url: str | None = None,
        index: str = DEFAULT_INDEX,
        *,
        create: bool = True,
        timeout: float = 60,
        synonyms: str | os.PathLike | None = None,
    ):
        """``synonyms``: a file of the user's own synonyms, as for ``SearchEngine``."""
        self._synonyms_path = synonyms
        self.url = url or default_url() or DEFAULT_URL
        self.index_name = index
        self.create = create
        self._closed = False
        self.client = OpenSearch(hosts=[self.url], timeout=timeout)
        self._open()

    @property
    def path(self) -> str:
        """Where the index lives: the cluster's URL and the index name."""
        return f"{self.url.rstrip('/')}/{self.index_name}"

    @_reported
    def _open(self) -> None:
        self.client.info()
        self.refresh()
        if not self.create and not self._exists:
            open_index(self.client, self.index_name, create=False)  # raises IndexNotFoundError

    @_reported
    def refresh(self) -> None:
        """See what other processes changed since (the index made since, the lexicon and the
        shard layout are re-read)."""
        self._lexicon: Lexicon | None = None
        self._params: dict = {}
        self._outdated: IndexVersionError | None = None
        self._exists = self.client.indices.exists(index=self.index_name)
        if self._exists:
            try:
                open_index(self.client, self.index_name, create=False)
            except IndexVersionError as exc:  # usable only to rebuild: index(..., rebuild=True)
                self._outdated = exc
        if self._exists:
            settings = self.client.indices.get_settings(index=self.index_name, name="index.number_of_shards")
            shards = int(next(iter(settings.values()))["settings"]["index"]["number_of_shards"])
            # Several shards score with the whole index's term statistics, as one index does.
            self._params = {"search_type": "dfs_query_then_fetch"} if shards > 1 else {}

    # -- writing -----------------------------------------------------------

    @_reported
    def index(
        self,
        sources: Iterable[Union[str, os.PathLike, Article]] | str | os.PathLike,
        *,
        rebuild: bool = False,
        jobs: int | None = None,
        progress: Callable[[int], None] | None = None,
        on_error: Callable[[IngestError], None] | None = None,
        prune: bool = False,
        shards: int = 1,
        replicas: int = 0,
        exclude: Iterable[Union[str, os.PathLike]] = (),
    ) -> IndexSummary:
        """Add or replace articles by id, as ``SearchEngine.index`` does (``prune`` then deletes
        the articles whose ids none of ``sources`` holds, unless some input was rejected); the
        index is created on first use with ``shards`` and ``replicas`` (``rebuild`` deletes it first)."""
        articles = Sources(sources, on_error, exclude=exclude)
        if rebuild:
            self.client.indices.delete(
                index=[self.index_name, vocabulary.lexicon_index(self.index_name)], ignore_unavailable=True
            )
        open_index(self.client, self.index_name, create=True, shards=shards, replicas=replicas)
        self._exists = True
        try:
            summary = write_articles(
                self.client,
                self.index_name,
                articles,
                jobs=jobs or os.cpu_count() or 1,
                progress=progress,
                on_error=on_error,
            )
        finally:
            self.refresh()
        articles.counted(summary)
        if prune and not summary.rejected:
            summary.pruned = self.delete([i for i, _ in self._composite({"match_all": {}}, "id")
                                          if i not in articles.seen])
        if summary.indexed:
            self._lexicon = vocabulary.save_lexicon(self.client, self.index_name)
        return summary

    @_reported
    def delete(self, ids: Iterable[str] | str) -> int:
        """Delete the articles with these ids; returns how many were in the index. They leave
        search, ``get``, facets, persons and ``len`` at once."""
        if isinstance(ids, str):
            ids = [ids]
        self._check_exists()
        actions = [{"_op_type": "delete", "_index": self.index_name, "_id": i} for i in dict.fromkeys(ids)]
        if not actions:
            return 0
        _, failed = helpers.bulk(self.client, actions, raise_on_error=False, refresh="true")
        deleted = len(actions) - sum(1 for item in failed if next(iter(item.values())).get("status") == 404)
        if deleted:
            vocabulary.drop_lexicon(self.client, self.index_name)
            self._lexicon = None
        return deleted

    # -- reading -----------------------------------------------------------

    @_reported
    def __len__(self) -> int:
        self._check_exists()
        return self.client.count(index=self.index_name)["count"]

    def _source(self, article_id: str) -> dict | None:
        self._check_exists()
        try:
            return self.client.get(
                index=self.index_name, id=article_id, params={"_source_includes": ",".join(HIT_SOURCE)}
            )["_source"]
        except NotFoundError:
            return None

    @_reported
    def get(self, article_id: str) -> Article | None:
        """The stored article with this id, or None."""
        source = self._source(article_id)
        return stored_article(source) if source else None

    @_reported
    def persons_of(self, article_id: str) -> list[str]:
        """The persons an indexed article names (empty if none, or no such article)."""
        source = self._source(article_id)
        return list((source.get("article") or {}).get("persons") or ()) if source else []

    def _lexicon_now(self) -> Lexicon:
        if self._lexicon is None:
            self._lexicon = vocabulary.load_lexicon(self.client, self.index_name)
        return self._lexicon

    def _compiler(self) -> tuple[Compiler, vocabulary.TermStatistics]:
        stats = vocabulary.TermStatistics(self.client, self.index_name, self._params)
        return Compiler(self._lexicon_now, stats.known, self.synonyms(), stats.held, stats.adjacent), stats

    def synonyms(self) -> Synonyms:
        """The synonyms queries are expanded with: the built-in list and the user's."""
        return load_synonyms(self._synonyms_path)

    @_reported
    def explain(
        self,
        query: str,
        *,
        date_from: DateLike = None,
        date_to: DateLike = None,
        person: str | None = None,
        category: str | None = None,
        source: str | None = None,
        sort: str = "relevance",
    ) -> Explanation:
        """How ``query`` is understood and how many articles it matches, as ``SearchEngine.explain``."""
        check_sort(query, sort)
        notes = understand(query).notes
        tree, filters, _ = parse_with_filters(query, date_from, date_to, person, category, source)
        self._check_exists()
        compiler, stats = self._compiler()
        stats.prefetch(_syllable_lookups(tree))
        all_words = most_words = 0
        if tree is not None or filters:
            required = conjuncts(tree)
            strict = compiler.compile(All(tuple(required + filters))).filter or {"match_all": {}}
            aggs: dict = {"every": {"filter": strict}}
            if any(isinstance(n, Words) for n in required):
                most = {"bool": {"filter": [compiler.loose(required, filters)], "must_not": [strict]}}
                aggs["most"] = {"filter": most}
            found = self._search({"size": 0, "aggs": aggs})["aggregations"]
            all_words = found["every"]["doc_count"]
            most_words = found.get("most", {}).get("doc_count", 0)
        return Explanation(
            query=query,
            notes=tuple(notes),
            tree=explaining.describe(tree, compiler.plan),
            filters=tuple(explaining.filter_text(f) for f in filters),
            ranking=explaining.ranking_rule(tree, sort),
            all_words=all_words,
            most_words=most_words,
            suggestion=self._suggest(query) if all_words < 3 else None,
        )

    @_reported
    def suggest(self, query: str) -> str | None:
        """A better query to offer when ``query`` finds little ("Did you mean …?"), or None."""
        parse(query)
        return self._suggest(query)

    def _suggest(self, query: str) -> str | None:
        self._check_exists()
        _, stats = self._compiler()
        view = vocabulary.ClusterView(self.client, self.index_name, stats)
        better = suggest_query(clean_text(query), view, self._lexicon_now(), view.side_by_side)
        if better is None:
            return None
        try:  # offered only if it finds articles with all its words
            return better if self._page(better, 0, 1, relax=False, highlight=False).hits else None
        except QuerySyntaxError:
            return None

    @_reported
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
        """Articles matching ``query``: items ``offset`` … ``offset + limit - 1`` of one ranked
        list of all ``Results.total`` matches, as ``SearchEngine.search`` ranks them."""
        try:
            facets = check_facets(facets)
        except ValueError as exc:
            raise QuerySyntaxError(query, str(exc)) from None
        offset, limit = max(int(offset), 0), max(int(limit), 0)
        results = self._page(
            query,
            offset,
            limit,
            date_from=date_from,
            date_to=date_to,
            person=person,
            category=category,
            source=source,
            sort=sort,
            facets=facets,
            highlight=highlight,
        )
        if results.total < SUGGEST_BELOW and query.strip():
            results = replace(results, suggestion=self._suggest(query))
        return results

    def _page(
        self,
        query: str,
        offset: int,
        limit: int,
        *,
        date_from: DateLike = None,
        date_to: DateLike = None,
        person: str | None = None,
        category: str | None = None,
        source: str | None = None,
        sort: str = "relevance",
        facets: tuple[str, ...] = (),
        highlight: bool = True,
        relax: bool = True,
    ) -> Results:
        check_sort(query, sort)
        tree, filters, wanted = parse_with_filters(query, date_from, date_to, person, category, source)
        self._check_exists()
        if tree is None and not filters:
            return Results(offset=offset, limit=limit, facets={name: [] for name in facets})
        compiler, stats = self._compiler()
        stats.prefetch(_syllable_lookups(tree))
        required = conjuncts(tree)
        strict = compiler.compile(All(tuple(required + filters)))
        if sort == "relevance" and not strict.scoring:
            sort = "-date"  # nothing to score: newest first
        everything: dict = {"match_all": {}}
        worded = relax and any(isinstance(n, Words) for n in required)
        loose = compiler.loose(required, filters) if worded else None
        matching = (
            strict.filter
            if loose is None
            else {"bool": {"should": [strict.filter or everything, loose], "minimum_should_match": 1}}
        )
        question = (
            worded
            and sort == "relevance"
            and any(isinstance(n, Words) and planning.is_question(n.text) for n in required)
        )
        summary = {
            "size": 0,
            "track_total_hits": True,
            "query": {"constant_score": {"filter": matching or everything}},  # counted, not scored
            "aggs": {"all_words": {"filter": strict.filter or everything}, **_facet_aggs(facets)},
        }
        found = self._search(summary)
        total = found["hits"]["total"]["value"]
        all_words = found["aggregations"]["all_words"]["doc_count"]
        if question:  # by score alone, over every match
            tiers = [(matching, total)]
        else:
            tiers = [(strict.filter, all_words)]
            if loose is not None:
                tiers.append(
                    ({"bool": {"filter": [loose], "must_not": [strict.filter or everything]}}, total - all_words)
                )
        stop = offset + limit
        ranked: list[tuple[str, float]] = []
        done = 0  # articles of earlier tiers
        for matched, size in tiers:
            if done < stop and done + size > offset:
                ranked += self._tier(
                    matched, strict, max(0, offset - done), min(stop, done + size) - done, sort, local=question
                )
            done += size
        flags = self._ids_within(strict.filter, [d for d, _ in ranked]) if question else None
        matcher = Matcher.for_search(tree, tuple(wanted), compiler.plan) if highlight and ranked else None
        keys = {person_key(p.name) for p in wanted}
        sources = self._sources([d for d, _ in ranked])
        hits = tuple(
            _hit(sources[d], s, matcher, keys, d in flags if flags is not None else i + offset < all_words)
            for i, (d, s) in enumerate(ranked)
            if d in sources
        )
        counted = _facets(found.get("aggregations", {}), facets)
        if "person" in facets:
            counted["person"] = self._person_counts(matching or everything, FACET_TOP)
        return Results(
            hits=hits,
            total=total,
            total_all_words=all_words,
            offset=offset,
            limit=limit,
            facets={name: counted[name] for name in facets},
        )

    def _search(self, body: dict, **params) -> dict:
        return self.client.search(index=self.index_name, body=body, params={**self._params, **params})

    def _tier(
        self, matched: dict | None, compiled: Compiled, start: int, stop: int, sort: str, local: bool = False
    ) -> list[tuple[str, float]]:
        """Hits ``start``..``stop`` of one tier (articles matching ``matched``, scored by
        ``compiled``'s clauses, the proximity bonus among the best ``PROXIMITY_DEPTH``) as
        (id, score); with ``local`` (a question), as ``retrieve.rank`` ranks it: terms most of
        the best candidates hold weigh less."""
        if sort != "relevance":
            order = "asc" if sort == "date" else "desc"
            dated: dict = {
                "query": {"constant_score": {"filter": matched or {"match_all": {}}}},
                "sort": [{"published": {"order": order, "missing": "_last"}}, {"id": "asc"}],
            }
            return [(d, 0.0) for d, _ in self._read(dated, start, stop)]
        body: dict = {
            "query": scored(matched, compiled.scoring),
            "sort": [{"_score": "desc"}, {"id": "asc"}],
            "track_scores": True,
        }
        rest_share = 1 - LOCAL_SHARE if local else 1.0  # of the score of each article past the best
        if not (compiled.pairs or local) or start >= PROXIMITY_DEPTH:
            return [(d, s * rest_share) for d, s in self._read(body, start, stop)]
        hits = self._read(body, 0, max(stop, PROXIMITY_DEPTH))
        top = hits[:PROXIMITY_DEPTH]
        ids = [d for d, _ in top]
        if local:
            rescored = self._local(ids, compiled.scoring)
            top = [(d, rescored.get(d, 0.0)) for d in ids]
        bonus = self._proximity(ids, compiled.pairs) if compiled.pairs else {}
        top = sorted(((d, s + bonus.get(d, 0.0)) for d, s in top), key=lambda x: (-x[1], x[0]))
        return (top + [(d, s * rest_share) for d, s in hits[PROXIMITY_DEPTH:]])[start:stop]

    def _local(self, ids: list[str], scoring: list[dict]) -> dict[str, float]:
        """Per article of ``ids``, its score with each clause's impact times
        ``retrieve.rank.local_factor`` of how many of ``ids`` hold it."""
        among = {"ids": {"values": ids}}
        filters = {str(i): clause for i, clause in enumerate(scoring)}
        body = {"size": 0, "query": among, "aggs": {"held": {"filters": {"filters": filters}}}}
        counts = self._search(body)["aggregations"]["held"]["buckets"]
        weighed = [
            {"bool": {"should": [clause], "boost": local_factor(counts[str(i)]["doc_count"], len(ids))}}
            for i, clause in enumerate(scoring)
            if counts[str(i)]["doc_count"]
        ]
        if not weighed:
            return {}
        found = self._search({"query": scored(among, weighed), "size": len(ids), "_source": False})
        return {h["_id"]: h["_score"] for h in found["hits"]["hits"]}

    def _read(self, body: dict, start: int, stop: int) -> list[tuple[str, float]]:
        """(id, score) of hits ``start``..``stop`` in ``body``'s sort order: from/size within
        the first ``WINDOW``, search_after beyond it."""
        body = {**body, "_source": False, "track_total_hits": False}
        if stop <= WINDOW:
            found = self._search({**body, "from": start, "size": stop - start})
            return [(h["_id"], h["_score"] or 0.0) for h in found["hits"]["hits"]]
        out: list[tuple[str, float]] = []
        after, seen = None, 0
        while seen < stop:
            page = {**body, "size": WINDOW}
            if after is not None:
                page["search_after"] = after
            hits = self._search(page)["hits"]["hits"]
            out += [(h["_id"], h["_score"] or 0.0) for h in hits[max(0, start - seen) : stop - seen]]
            seen += len(hits)
            if len(hits) < WINDOW:
                break
            after = hits[-1]["sort"]
        return out

    def _proximity(self, ids: list[str], pairs) -> dict[str, float]:
        """Per article of ``ids``, ``retrieve.rank``'s bonus for query syllables side by side:
        each pair found so scores its two syllables again, times how telling that is among
        ``ids`` (``retrieve.rank._telling``)."""
        if not ids:
            return {}
        among = {"ids": {"values": ids}}
        counts = self._search({"size": 0, "query": among, "aggs": {"pairs": pair_counts(pairs)}})["aggregations"][
            "pairs"
        ]["buckets"]
        telling = {}
        for i in range(len(pairs)):
            both, near = counts[f"both{i}"]["doc_count"], counts[f"near{i}"]["doc_count"]
            if near:
                telling[i] = math.log((both + 1) / near) / math.log(both + 1)
        clauses = proximity_bonus(list(pairs), telling)
        if not clauses:
            return {}
        body = {
            "query": {"bool": {"filter": [among], "should": clauses, "minimum_should_match": 1}},
            "size": len(ids),
            "_source": False,
        }
        return {h["_id"]: h["_score"] for h in self._search(body)["hits"]["hits"]}

    def _ids_within(self, matched: dict | None, ids: list[str]) -> set[str]:
        body = {
            "query": {"bool": {"filter": [{"ids": {"values": ids}}, matched or {"match_all": {}}]}},
            "size": len(ids),
            "_source": False,
        }
        return {h["_id"] for h in self._search(body)["hits"]["hits"]}

    def _sources(self, ids: list[str]) -> dict[str, dict]:
        if not ids:
            return {}
        found = self.client.mget(
            index=self.index_name, body={"ids": ids}, params={"_source_includes": ",".join(HIT_SOURCE)}
        )
        return {d["_id"]: d["_source"] for d in found["docs"] if d.get("found")}

    @_reported
    def persons(self, query: str | None = None, top: int = 20, **filters) -> list[tuple[str, int]]:
        """The persons named in the most articles, overall or among the matches of ``query``
        (``filters`` as for ``search``), as (name, number of articles), most first."""
        self._check_exists()
        matched = {"match_all": {}} if query is None and not filters else self._matching(query or "", **filters)
        return [] if matched is None else self._person_counts(matched, top)

    def _person_counts(self, matched: dict, top: int) -> list[tuple[str, int]]:
        """The persons named in the most articles ``matched``, as ``retrieve.facets`` counts
        them: one per person key, shown as the spelling most articles of the index use."""
        counts = dict(self._composite(matched, "person_k"))
        if not counts:
            return []
        least = sorted(counts.values(), reverse=True)[:top][-1]
        keys = [k for k, n in counts.items() if n >= least]  # the top, and whoever ties the last
        spellings: dict[str, Counter[str]] = {}
        for value, n in self._composite({"terms": {"person_k": keys}}, "person_spellings"):
            key, _, name = value.partition("\t")
            if key in counts:
                spellings.setdefault(key, Counter())[name] += n
        names = {k: max(spellings[k].items(), key=lambda x: (x[1], x[0]))[0] for k in keys}
        return sorted(((names[k], counts[k]) for k in keys), key=lambda x: (-x[1], x[0]))[:top]

    def _matching(
        self,
        query: str,
        date_from: DateLike = None,
        date_to: DateLike = None,
        person: str | None = None,
        category: str | None = None,
        source: str | None = None,
    ) -> dict | None:
        """The filter of every article ``search`` could return for these (None: none)."""
        tree, filters, _ = parse_with_filters(query, date_from, date_to, person, category, source)
        if tree is None and not filters:
            return None
        compiler, stats = self._compiler()
        stats.prefetch(_syllable_lookups(tree))
        required = conjuncts(tree)
        strict = compiler.compile(All(tuple(required + filters))).filter or {"match_all": {}}
        if not any(isinstance(n, Words) for n in required):
            return strict
        return {"bool": {"should": [strict, compiler.loose(required, filters)], "minimum_should_match": 1}}

    def _composite(self, matched: dict, fieldname: str) -> Iterable[tuple[str, int]]:
        """Every value of a keyword field among the articles ``matched``, with its count."""
        after = None
        while True:
            composite: dict = {"size": WINDOW, "sources": [{"v": {"terms": {"field": fieldname}}}]}
            if after is not None:
                composite["after"] = after
            agg = self._search(
                {"size": 0, "query": {"constant_score": {"filter": matched}}, "aggs": {"c": {"composite": composite}}}
            )["aggregations"]["c"]
            for bucket in agg["buckets"]:
                yield bucket["key"]["v"], bucket["doc_count"]
            after = agg.get("after_key")
            if not agg["buckets"] or after is None:
                return

    @_reported
    def similar(self, article_id: str, limit: int = 10) -> list[Hit]:
        """Articles related to the one with this id, best first, as ``SearchEngine.similar``
        finds them (``retrieve.similar``: its most telling folded words and syllables, scored
        as search scores), without itself or exact duplicates of it. Raises HnpSearchError
        when there is no such article."""
        source = self._source(article_id)
        if source is None:
            raise HnpSearchError(f"no article with id {article_id!r}")
        article = stored_article(source)
        fields = {name: getattr(article, name) for name in TEXT_FIELDS}
        stats = vocabulary.TermStatistics(self.client, self.index_name, self._params)
        candidates = set()
        for name in TEXT_FIELDS:
            terms = analyze.terms(fields[name])
            candidates |= {(v, t) for v in ("wf", "sf") for t in getattr(terms, v)}
        stats.prefetch([(f"{f}_{v}", t) for v, t in candidates for f in ("body", "title")])
        telling = telling_terms(cast(IndexView, _Statistics(len(self), stats)), fields)  # what it reads of a view
        if not telling:
            return []
        clauses = [
            term(f"{name}_{variant}", t, weight * FIELD_WEIGHTS[name])
            for weight, variant, t in telling
            for name in TEXT_FIELDS
        ]
        body = {"query": {"bool": {"should": clauses, "minimum_should_match": 1,
                                   "must_not": [{"ids": {"values": [article_id]}}]}},
                "size": limit + 5, "_source": HIT_SOURCE}  # fmt: skip
        found = self._search(body)["hits"]["hits"]
        hits = [
            _hit(h["_source"], h["_score"], None, set())
            for h in found
            if h["_source"].get("digest") != source.get("digest")
        ]
        return [h for h in hits if (h.title, h.article.body) != (article.title, article.body)][:limit]

    @_reported
    def stats(self) -> dict:
        """What the index holds, JSON-ready, as ``SearchEngine.stats`` says it (path: the
        index's URL; segments: of the primary shards)."""
        self._check_exists()
        aggs = {
            "first": {"min": {"field": "published"}},
            "last": {"max": {"field": "published"}},
            "undated": {"missing": {"field": "published"}},
        }
        found = self._search({"size": 0, "track_total_hits": True, "aggs": aggs})
        everything: dict = {"match_all": {}}
        counted = {
            name: sorted(self._composite(everything, name), key=lambda x: (-x[1], x[0]))
            for name in ("category", "source")
        }
        segments = self.client.indices.segments(index=self.index_name)["indices"][self.index_name]["shards"]
        found_aggs = found["aggregations"]
        return {
            "path": self.path,
            "articles": found["hits"]["total"]["value"],
            "first_published": found_aggs["first"].get("value_as_string", "").rstrip("Z")[:19] or None,
            "last_published": found_aggs["last"].get("value_as_string", "").rstrip("Z")[:19] or None,
            "undated": found_aggs["undated"]["doc_count"],
            "categories": counted["category"],
            "sources": counted["source"],
            "persons": sum(1 for _ in self._composite(everything, "person_k")),
            "index_bytes": self.client.indices.stats(index=self.index_name, metric="store")["_all"]["primaries"][
                "store"
            ]["size_in_bytes"],
            "segments": sum(
                len(copy["segments"]) for copies in segments.values() for copy in copies if copy["routing"]["primary"]
            ),
            "analyzer_version": ANALYZER_VERSION,
        }

    # -- lifecycle ---------------------------------------------------------

    def close(self) -> None:
        """Release the connections; any later call raises ``EngineClosedError``."""
        self.client.close()
        self._closed = True

    def _check_exists(self) -> None:
        """Reading an index that is not there (an engine made with ``create``, before indexing)."""
        if self._outdated is not None:
            raise self._outdated
        if not self._exists:
            raise IndexNotFoundError(
                f"no index {self.index_name!r} on the OpenSearch cluster at {self.url}: "
                "build one with `hnp-search index --opensearch URL PATH...`"
            )

    def __enter__(self) -> "OpenSearchEngine":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _facet_aggs(facets: tuple[str, ...]) -> dict:
    """Aggregations counting the facets other than ``person`` (counted apart, by key)."""
    aggs = {}
    for name in facets:
        if name in ("category", "source"):
            aggs[name] = {"terms": {"field": name, "size": FACET_TOP, "order": [{"_count": "desc"}, {"_key": "asc"}]}}
        elif name in ("year", "month"):
            aggs[name] = {
                "date_histogram": {
                    "field": "published",
                    "calendar_interval": name,
                    "format": "yyyy" if name == "year" else "yyyy-MM",
                    "min_doc_count": 1,
                }
            }
    return aggs


def _facets(aggs: dict, facets: tuple[str, ...]) -> dict[str, list[tuple[str, int]]]:
    out = {}
    for name in facets:
        buckets = aggs.get(name, {}).get("buckets", [])
        key = "key_as_string" if name in ("year", "month") else "key"
        out[name] = [(b[key], b["doc_count"]) for b in buckets]
    return out


def _all(matched: dict | None, more: list[dict]) -> dict | None:
    clauses = ([matched] if matched is not None else []) + more
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"bool": {"filter": clauses}}


def _syllable_lookups(tree: Node | None) -> list[tuple[str, str]]:
    """The (field, folded syllable) counts a plan of ``tree``'s words asks for first."""
    out = []
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, Words):
            out += [(f"{f}_sf", fold(s)) for s in planning.syllables(node.text) for f in ("title", "lead", "body")]
        elif node is not None and hasattr(node, "nodes"):
            stack += list(node.nodes)
        elif node is not None and hasattr(node, "node"):
            stack.append(node.node)
    return out


def _hit(source: dict, score: float, matcher: Matcher | None, person_keys: set[str], all_words: bool = True) -> Hit:
    article = stored_article(source)
    names = tuple((source.get("article") or {}).get("persons") or ())
    snippets: list[Snippet] = []
    if matcher is None:
        title_snippet = Snippet(article.title)
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


class _Statistics:
    """What ``retrieve.similar.telling_terms`` reads of an index view: its article count and
    ``doc_frequency``, here the cluster's term statistics."""

    def __init__(self, doc_count: int, stats: vocabulary.TermStatistics):
        self.doc_count = doc_count
        self.doc_frequency = stats.doc_frequency
