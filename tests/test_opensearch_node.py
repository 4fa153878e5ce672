"""A real OpenSearch node does what the OpenSearch backend will ask of it (start one: make opensearch)."""

import os
import uuid

import pytest

NODE_URL = os.environ.get("HNP_SEARCH_OPENSEARCH", "http://127.0.0.1:9200")
IN_CI = bool(os.environ.get("CI"))


def _unavailable(reason: str):
    """Skip on a developer's machine, but fail in CI: CI must run these tests."""
    if IN_CI:
        pytest.fail(f"CI must run the OpenSearch tests, but {reason}", pytrace=False)
    pytest.skip(f"{reason} (start a node with `make opensearch`, or set HNP_SEARCH_OPENSEARCH)")


try:
    from opensearchpy import OpenSearch, helpers
    from opensearchpy.exceptions import ConnectionError as NodeUnreachable
except ImportError:  # pragma: no cover - only where the test extras are not installed
    OpenSearch = None

# Pre-analyzed term streams, as our Python analysis hands them over: the node only splits on
# spaces. "syllables" keep the diacritics as written (lowercased by us), "folded" drops them,
# "words" join a segmented word's syllables with "_".
DOCS = {
    "doc-1": {
        "title": "Hà_Nội mưa lớn",
        "words": "hà_nội mưa lớn",
        "syllables": "hà nội mưa lớn",
        "folded": "ha noi mua lon",
        "published": "2024-01-05T08:00:00+07:00",
        "category": "thoi-su",
    },
    "doc-2": {
        "title": "Nội_dung Hà_Giang",
        "words": "nội_dung hà_giang",
        "syllables": "nội dung hà giang",
        "folded": "noi dung ha giang",
        "published": "2024-02-10T09:30:00+07:00",
        "category": "xa-hoi",
    },
    "doc-3": {
        "title": "Hồ_Tây Hà_Nội",
        "words": "hồ_tây hà_nội",
        "syllables": "hồ tây hà nội",
        "folded": "ho tay ha noi",
        "published": "2024-02-20T23:59:59+07:00",
        "category": "thoi-su",
    },
    "doc-4": {
        "title": "Anh hả nói",
        "words": "anh hả nói",
        "syllables": "anh hả nói",
        "folded": "anh ha noi",
        "published": "2024-03-01T00:00:00+07:00",
        "category": "giai-tri",
    },
}


def _index_body(shards: int, replicas: int) -> dict:
    text = {"type": "text", "analyzer": "spaces"}
    return {
        "settings": {
            "number_of_shards": shards,
            "number_of_replicas": replicas,
            # Only a whitespace tokenizer: no lowercasing, folding or Unicode normalisation.
            "analysis": {"analyzer": {"spaces": {"type": "custom", "tokenizer": "whitespace"}}},
        },
        "mappings": {
            "dynamic": "strict",
            "properties": {
                "title": text,
                "words": text,
                "syllables": text,
                "folded": text,
                "published": {"type": "date"},
                "category": {"type": "keyword"},
            },
        },
    }


@pytest.fixture(scope="module")
def client():
    """A client of the node at HNP_SEARCH_OPENSEARCH."""
    if OpenSearch is None:
        _unavailable("opensearch-py is not installed (pip install -e '.[test]')")
    node = OpenSearch(hosts=[NODE_URL], timeout=30)
    try:
        node.info()
    except NodeUnreachable:
        _unavailable(f"no OpenSearch node answers at {NODE_URL}")
    yield node
    node.close()


def _make_index(client, shards: int, replicas: int) -> str:
    """A new index (a fresh name per run: other runs may share the node) holding DOCS."""
    name = f"hnp-test-{uuid.uuid4().hex[:12]}"
    client.indices.create(index=name, body=_index_body(shards, replicas))
    actions = [{"_index": name, "_id": doc_id, "_source": doc} for doc_id, doc in DOCS.items()]
    indexed, errors = helpers.bulk(client, actions, refresh="wait_for")
    assert (indexed, errors) == (len(DOCS), [])
    return name


@pytest.fixture(scope="module")
def index(client):
    """One shard, no replica: green on one node."""
    name = _make_index(client, shards=1, replicas=0)
    yield name
    client.indices.delete(index=name)


def _ids(client, index, query, **params) -> set[str]:
    found = client.search(index=index, body={"query": query, "size": 100}, **params)
    return {hit["_id"] for hit in found["hits"]["hits"]}


def test_the_node_is_an_opensearch_2_node(client):
    info = client.info()
    assert info["version"]["distribution"] == "opensearch"
    assert info["version"]["number"].startswith("2.")


def test_the_analyzer_only_splits_on_whitespace(client, index):
    tokens = client.indices.analyze(index=index, body={"analyzer": "spaces", "text": "Hà_Nội hà nội, NỘI"})
    assert [t["token"] for t in tokens["tokens"]] == ["Hà_Nội", "hà", "nội,", "NỘI"]


def test_term_query_matches_a_word_exactly_as_written(client, index):
    assert _ids(client, index, {"term": {"words": "hà_nội"}}) == {"doc-1", "doc-3"}
    # Not lowercased by the node: the title keeps its capitals, so only the capitalised term finds it.
    assert _ids(client, index, {"term": {"title": "hà_nội"}}) == set()
    assert _ids(client, index, {"term": {"title": "Hà_Nội"}}) == {"doc-1", "doc-3"}


def test_terms_must_be_nfc_as_indexed(client, index):
    decomposed = "ha\u0300_no\u0323i"  # hà_nội with combining marks (NFD)
    assert _ids(client, index, {"term": {"words": decomposed}}) == set()


def test_match_phrase_on_syllables_and_on_folded_syllables(client, index):
    assert _ids(client, index, {"match_phrase": {"syllables": "hà nội"}}) == {"doc-1", "doc-3"}
    # doc-2 has both syllables, apart and in the other order.
    both = {"match": {"syllables": {"query": "hà nội", "operator": "and"}}}
    assert _ids(client, index, both) == {"doc-1", "doc-2", "doc-3"}
    # Without diacritics "hả nói" reads as "ha noi" too.
    assert _ids(client, index, {"match_phrase": {"folded": "ha noi"}}) == {"doc-1", "doc-3", "doc-4"}
    assert _ids(client, index, {"match_phrase": {"syllables": "nội hà"}}) == set()


def test_date_range_keeps_the_time_zone(client, index):
    february = {"range": {"published": {"gte": "2024-02-01", "lt": "2024-03-01", "time_zone": "+07:00"}}}
    assert _ids(client, index, february) == {"doc-2", "doc-3"}
    # doc-4 is 2024-03-01 00:00 in Vietnam, still February in UTC.
    utc_february = {"range": {"published": {"gte": "2024-02-01", "lt": "2024-03-01"}}}
    assert _ids(client, index, utc_february) == {"doc-2", "doc-3", "doc-4"}


def test_terms_aggregation_and_date_histogram(client, index):
    body = {
        "size": 0,
        "aggs": {
            "categories": {"terms": {"field": "category"}},
            "months": {
                "date_histogram": {
                    "field": "published",
                    "calendar_interval": "month",
                    "time_zone": "+07:00",
                    "format": "yyyy-MM",
                }
            },
        },
    }
    aggs = client.search(index=index, body=body)["aggregations"]
    assert {b["key"]: b["doc_count"] for b in aggs["categories"]["buckets"]} == {
        "thoi-su": 2,
        "xa-hoi": 1,
        "giai-tri": 1,
    }
    assert [(b["key_as_string"], b["doc_count"]) for b in aggs["months"]["buckets"]] == [
        ("2024-01", 1),
        ("2024-02", 2),
        ("2024-03", 1),
    ]


def test_track_total_hits_exact_or_bounded(client, index):
    everything = {"size": 0, "query": {"match_all": {}}}
    exact = client.search(index=index, body={**everything, "track_total_hits": True})["hits"]["total"]
    assert exact == {"value": 4, "relation": "eq"}
    bounded = client.search(index=index, body={**everything, "track_total_hits": 2})["hits"]["total"]
    assert bounded == {"value": 2, "relation": "gte"}


def test_two_shards_answer_as_one_index(client):
    """Two shards; with two or more nodes each shard also has a replica on another node."""
    health = client.cluster.health()
    nodes = health["number_of_nodes"]
    if nodes < 2 and IN_CI:
        pytest.fail(f"CI starts two nodes (make opensearch OS_NODES=2), but {NODE_URL} has {nodes}", pytrace=False)
    replicas = 1 if nodes >= 2 else 0
    name = _make_index(client, shards=2, replicas=replicas)
    try:
        health = client.cluster.health(
            index=name, wait_for_status="green", params={"timeout": "60s"}, request_timeout=90
        )
        assert health["status"] == "green"
        assert health["active_primary_shards"] == 2
        assert health["active_shards"] == 2 * (1 + replicas)
        shards = client.cat.shards(index=name, format="json")
        assert len(shards) == 2 * (1 + replicas) and all(s["state"] == "STARTED" for s in shards)
        if replicas:
            for shard in ("0", "1"):
                assert len({s["node"] for s in shards if s["shard"] == shard}) == 2  # copies on two nodes
        # The ids route doc-1 to shard 0 and the rest to shard 1, so each "hà nội" is on its own shard.
        assert {s["shard"]: int(s["docs"]) for s in shards if s["prirep"] == "p"} == {"0": 1, "1": 3}
        phrase = {"query": {"match_phrase": {"syllables": "hà nội"}}, "track_total_hits": True}
        found = client.search(index=name, body=phrase)
        assert found["_shards"] == {"total": 2, "successful": 2, "skipped": 0, "failed": 0}
        assert found["hits"]["total"] == {"value": 2, "relation": "eq"}
        assert {hit["_id"] for hit in found["hits"]["hits"]} == {"doc-1", "doc-3"}
    finally:
        client.indices.delete(index=name)
