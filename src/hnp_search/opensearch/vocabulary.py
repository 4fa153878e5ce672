"""The OpenSearch index's vocabulary: the restoring lexicon (kept beside the index) and term statistics."""

from __future__ import annotations

import json

from opensearchpy import OpenSearch
from opensearchpy.exceptions import NotFoundError

from ..query.vocabulary import Lexicon, accented_forms
from ..store.directory import LEXICON_FIELDS, best_readings
from ..store.schema import TEXT_FIELDS
from ..text.normalize import fold

#: Buckets per page of the composite aggregation that reads the vocabulary.
PAGE = 10_000
#: Terms "did you mean" considers one edit from a word the index lacks, per field.
NEIGHBOURS = 50


def lexicon_index(index: str) -> str:
    """The index beside ``index`` holding its lexicon (one document)."""
    return f"{index}-lexicon"


def read_counts(client: OpenSearch, index: str, fields: tuple[str, ...] = LEXICON_FIELDS) -> dict[str, dict[str, int]]:
    """Field name (``title_s``…) → term → the number of articles holding it there."""
    counts: dict[str, dict[str, int]] = {f: {} for f in fields}
    after = None
    while True:
        composite: dict = {"size": PAGE, "sources": [{"v": {"terms": {"field": "vocabulary"}}}]}
        if after is not None:
            composite["after"] = after
        body = {"size": 0, "aggs": {"v": {"composite": composite}}}
        found = client.search(index=index, body=body, request_timeout=600)
        agg = found["aggregations"]["v"]
        for bucket in agg["buckets"]:
            fieldname, _, term = bucket["key"]["v"].partition(":")
            if fieldname in counts:
                counts[fieldname][term] = bucket["doc_count"]
        after = agg.get("after_key")
        if not agg["buckets"] or after is None:
            return counts


def save_lexicon(client: OpenSearch, index: str) -> Lexicon:
    """Build the lexicon of ``index``'s articles (as ``store.directory.lexicon_words`` does
    from a Whoosh index) and keep it beside the index."""
    counts = read_counts(client, index)
    words = best_readings(counts[f] for f in LEXICON_FIELDS)
    target = lexicon_index(index)
    if not client.indices.exists(index=target):
        client.indices.create(
            index=target,
            body={
                "settings": {"number_of_shards": 1, "number_of_replicas": 0, "auto_expand_replicas": "0-1"},
                "mappings": {"dynamic": False, "properties": {}},
            },
        )
    client.index(index=target, id="lexicon", body={"words": json.dumps(words, ensure_ascii=False)}, refresh="true")
    return Lexicon(words)


def drop_lexicon(client: OpenSearch, index: str) -> None:
    """Forget the saved lexicon (the articles changed): the next reader rebuilds it."""
    try:
        client.delete(index=lexicon_index(index), id="lexicon", refresh="true")
    except NotFoundError:
        pass


def load_lexicon(client: OpenSearch, index: str) -> Lexicon:
    """The lexicon kept beside ``index``, built (and kept) when missing."""
    try:
        found = client.get(index=lexicon_index(index), id="lexicon")
    except NotFoundError:
        return save_lexicon(client, index)
    return Lexicon(json.loads(found["_source"]["words"]))


class TermStatistics:
    """Article counts of terms, asked of the cluster and remembered: what the plan's
    ``known`` and ``query.vocabulary.suggest`` read from a Whoosh reader."""

    def __init__(self, client: OpenSearch, index: str, search_params: dict | None = None):
        self.client = client
        self.index = index
        self.params = search_params or {}
        self._frequencies: dict[tuple[str, str], int] = {}
        self._adjacent: dict[tuple[str, str], tuple[int, int]] = {}  # (first, second) -> (count, counted up to)

    def prefetch(self, pairs: list[tuple[str, str]]) -> None:
        """Count the articles of each (field, term) not yet known, in one request."""
        missing = sorted({p for p in pairs if p not in self._frequencies})
        if not missing:
            return
        filters = {str(i): {"term": {f: t}} for i, (f, t) in enumerate(missing)}
        body = {"size": 0, "track_total_hits": False, "aggs": {"df": {"filters": {"filters": filters}}}}
        buckets = self.client.search(index=self.index, body=body, params=self.params)["aggregations"]["df"]["buckets"]
        for i, pair in enumerate(missing):
            self._frequencies[pair] = buckets[str(i)]["doc_count"]

    def counted(self, fieldname: str, term: str) -> bool:
        """Whether the articles holding ``term`` in ``fieldname`` were counted already."""
        return (fieldname, term) in self._frequencies

    def doc_frequency(self, fieldname: str, term: str) -> int:
        self.prefetch([(fieldname, term)])
        return self._frequencies[(fieldname, term)]

    def known(self, folded: str) -> int:
        """In how many articles' text fields the folded syllable is (summed over fields)."""
        pairs = [(f"{f}_sf", folded) for f in TEXT_FIELDS]
        self.prefetch(pairs)
        return sum(self._frequencies[p] for p in pairs)

    def held(self, syllable: str) -> int:
        """In how many articles' text fields the accented syllable is (summed over fields)."""
        pairs = [(f"{f}_s", syllable) for f in TEXT_FIELDS]
        self.prefetch(pairs)
        return sum(self._frequencies[p] for p in pairs)

    def adjacent(self, first: str, second: str, enough: int = 1) -> int:
        """In how many articles the syllable ``first`` stands right before ``second`` in a text
        field, counted up to ``enough``."""
        cached = self._adjacent.get((first, second))
        if cached is None or cached[0] >= cached[1] < enough:  # none yet, or capped below what is asked
            phrases = [{"match_phrase": {f"{f}_s": f"{first} {second}"}} for f in TEXT_FIELDS]
            body = {"size": 0, "track_total_hits": enough,
                    "query": {"bool": {"should": phrases, "minimum_should_match": 1}}}
            found = self.client.search(index=self.index, body=body, params=self.params)
            self._adjacent[first, second] = (min(found["hits"]["total"]["value"], enough), enough)
        return min(self._adjacent[first, second][0], enough)

    def indexed_field_names(self) -> set[str]:
        return {f"{f}_{v}" for f in TEXT_FIELDS for v in ("s", "sf", "w", "wf")}

    def terms_within(self, fieldname: str, term: str, maxdist: int) -> list[str]:
        """The field's terms ``maxdist`` (1 or 2) edits from ``term``: the cluster's term suggester."""
        body = {
            "size": 0,
            "suggest": {
                "near": {
                    "text": term,
                    "term": {
                        "field": fieldname,
                        "max_edits": maxdist,
                        "prefix_length": 0,
                        "min_word_length": 1,
                        "suggest_mode": "always",
                        "size": NEIGHBOURS,
                        "sort": "frequency",
                    },
                }
            },
        }
        found = self.client.search(index=self.index, body=body)["suggest"]["near"]
        return [o["text"] for entry in found for o in entry["options"]]


class ClusterView:
    """What ``query.vocabulary.suggest`` reads of an index, from the cluster: term counts
    (``reader.doc_frequency``), stored articles by id (``reader.stored_fields``) and, through
    ``side_by_side``, the articles holding one syllable right before another."""

    def __init__(self, client: OpenSearch, index: str, stats: TermStatistics):
        self.client = client
        self.index = index
        self.reader = _Reader(client, index, stats)
        self._pairs: dict[tuple[str, str], tuple[int, list[str]]] = {}

    def side_by_side(self, view, a: str, b: str) -> tuple[int, list[str]]:
        """How many articles hold syllable ``a`` right before ``b`` in a text field, and a few of them."""
        if not (a.isalnum() and b.isalnum()):
            return 0, []
        if (a, b) not in self._pairs:
            self.prefetch_pairs([(a, b)])
        return self._pairs[a, b]

    def prefetch_pairs(self, pairs: list[tuple[str, str]]) -> None:
        """Count the articles of each pair not yet counted (and keep three of each), in one request."""
        missing = sorted({(a, b) for a, b in pairs if a.isalnum() and b.isalnum() and (a, b) not in self._pairs})
        if not missing:
            return
        filters = {
            str(i): {"bool": {"should": [{"match_phrase": {f"{f}_s": f"{a} {b}"}} for f in TEXT_FIELDS],
                              "minimum_should_match": 1}}
            for i, (a, b) in enumerate(missing)
        }  # fmt: skip
        some = {"top_hits": {"size": 3, "_source": False, "sort": [{"id": "asc"}]}}
        body = {"size": 0, "aggs": {"pairs": {"filters": {"filters": filters}, "aggs": {"some": some}}}}
        buckets = self.client.search(index=self.index, body=body)["aggregations"]["pairs"]["buckets"]
        for i, pair in enumerate(missing):
            bucket = buckets[str(i)]
            self._pairs[pair] = (bucket["doc_count"], [h["_id"] for h in bucket["some"]["hits"]["hits"]])


class _Reader:
    """The reader calls of ``query.vocabulary.suggest``: term counts and stored articles."""

    def __init__(self, client: OpenSearch, index: str, stats: TermStatistics):
        self.client, self.index, self.stats = client, index, stats
        self.indexed_field_names = stats.indexed_field_names

    def doc_frequency(self, fieldname: str, term: str) -> int:
        """As ``TermStatistics.doc_frequency``; asked for one accented syllable, every accented
        form of it in every text field is counted in the same request (suggest asks for them all)."""
        if fieldname.endswith("_s") and not self.stats.counted(fieldname, term):
            forms = accented_forms(fold(term)) | {term}
            self.stats.prefetch([(f"{f}_s", form) for f in TEXT_FIELDS for form in forms])
        return self.stats.doc_frequency(fieldname, term)

    def stored_fields(self, article_id: str) -> dict:
        found = self.client.get(index=self.index, id=article_id, params={"_source_includes": "article"})
        return found["_source"].get("article") or {}
