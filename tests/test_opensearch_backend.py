"""The OpenSearch backend against a real node: the embedded index's answers, paging, writing, crashes, shards."""

import json
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from conftest import ARTICLES
from hnp_search import IndexVersionError, SearchEngine
from hnp_search.errors import HnpSearchError, IndexNotFoundError
from hnp_search.results import FACETS, Results
from test_opensearch_node import IN_CI, NODE_URL, _unavailable

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
SOURCES = [CORPUS, ARTICLES]

#: Queries as typed: words with and without diacritics, phrases, exclusions, fields, OR, dates,
#: persons, a question, Telex and a typo.
QUERIES = [
    "Hà Nội",
    "ha noi",
    "hồ tây",
    "ho tay song to lich",
    '"sông Tô Lịch"',
    '"song to lich"',
    'giao thông -"xe buýt"',
    "metro",
    "metro nhổn",
    "Ai là bí thư?",
    "date:2024",
    "date:2023-09",
    'person:"Nguyễn Quốc Toàn"',
    "person:nguyen quoc toan",
    "hoof taay",
    "xe buyt dien",
    "Hồ Tây OR metro",
    "title:hà nội",
    "bảo tồn di sản văn hóa",
    "giá rau xanh tăng",
    "tieu thuong cho dau moi",
    "vành đai 4",
]


@pytest.fixture(scope="module")
def node():
    """A client of the node at HNP_SEARCH_OPENSEARCH (skipped, or failed in CI, when none answers)."""
    try:
        from opensearchpy import OpenSearch
        from opensearchpy.exceptions import ConnectionError as Unreachable
    except ImportError:  # pragma: no cover
        _unavailable("opensearch-py is not installed")
    client = OpenSearch(hosts=[NODE_URL], timeout=60)
    try:
        client.info()
    except Unreachable:
        _unavailable(f"no OpenSearch node answers at {NODE_URL}")
    yield client
    client.close()


def _name() -> str:
    return f"hnp-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture()
def fresh(node):
    """Index names made by a test, deleted after it (with their lexicons)."""
    names = []

    def make() -> str:
        names.append(_name())
        return names[-1]

    yield make
    for name in names:
        node.indices.delete(index=[name, f"{name}-lexicon"], ignore_unavailable=True)


@pytest.fixture(scope="module")
def remote(node):
    """The shipped corpus and the test articles on one shard."""
    from hnp_search.opensearch import OpenSearchEngine

    name = _name()
    engine = OpenSearchEngine(NODE_URL, index=name)
    summary = engine.index(SOURCES, jobs=1)
    assert (summary.added, summary.updated, summary.errors) == (36, 0, [])
    yield engine
    node.indices.delete(index=[name, f"{name}-lexicon"], ignore_unavailable=True)
    engine.close()


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    """The same articles in an embedded index."""
    engine = SearchEngine(tmp_path_factory.mktemp("local"))
    engine.index(SOURCES, jobs=1)
    yield engine
    engine.close()


def _ids(results) -> list[str]:
    return [hit.id for hit in results]


def test_same_totals_and_top_ten_as_the_embedded_index(remote, local):
    overlaps = []
    for query in QUERIES:
        mine, theirs = remote.search(query, limit=10), local.search(query, limit=10)
        assert isinstance(mine, Results)
        assert (mine.total, mine.total_all_words) == (theirs.total, theirs.total_all_words), query
        assert [h.all_words for h in mine] == [h.all_words for h in theirs], query
        if theirs:
            overlaps.append(len(set(_ids(mine)) & set(_ids(theirs))) / len(theirs))
        # Scores are the same BM25, but for field lengths past 39 terms, which Lucene keeps to 4
        # significant bits before the similarity rounds them to Whoosh's steps.
        for a, b in zip(sorted(h.score for h in mine), sorted(h.score for h in theirs)):
            assert a == pytest.approx(b, rel=0.03), query
    assert sum(overlaps) / len(overlaps) >= 0.95


@pytest.mark.parametrize("query", ['"sông Tô Lịch"', "hoof taay", "HN giao thông"])  # a phrase, Telex, synonyms
def test_hits_carry_the_article_snippets_and_persons(remote, local, query):
    mine = remote.search(query, limit=3)
    theirs = local.search(query, limit=3)
    assert _ids(mine) == _ids(theirs)
    for a, b in zip(mine, theirs):
        assert (a.article, a.snippets, a.title_snippet, a.persons) == (
            b.article,
            b.snippets,
            b.title_snippet,
            b.persons,
        )
        assert a.to_dict().keys() == b.to_dict().keys()
    assert any(m for s in mine[0].snippets for m in s.matches)


def test_phrases_need_their_syllables_side_by_side(remote):
    exact = {h.id for h in remote.search('"sông Tô Lịch"', limit=50)}
    folded = {h.id for h in remote.search('"song to lich"', limit=50)}
    assert exact and exact <= folded
    assert all(
        "Tô Lịch" in h.article.title + h.article.lead + h.article.body
        for h in remote.search('"sông Tô Lịch"', limit=50)
    )
    assert not remote.search('"lịch tô sông"', limit=5)


def test_dates_and_date_sorts(remote, local):
    may = remote.search("Hà Nội", date_from="2024-05-01", date_to="2024-05-31", limit=50)
    assert may.total and all(h.published.strftime("%Y-%m") == "2024-05" for h in may)
    newest = remote.search("date:2024", limit=50)  # nothing to score: newest first
    dates = [h.published for h in newest]
    assert dates == sorted(dates, reverse=True) and newest.total == local.search("date:2024").total
    oldest = remote.search("Hà Nội", sort="date", limit=5)
    assert [h.published for h in oldest] == sorted(h.published for h in oldest)
    assert _ids(oldest) == _ids(local.search("Hà Nội", sort="date", limit=5))


def test_persons_and_person_filters(remote, local):
    assert remote.persons(top=8) == local.persons(top=8)
    assert remote.persons("giao thông", top=5) == local.persons("giao thông", top=5)
    found = remote.search("metro", person="nguyen quoc toan")
    assert found and all("Nguyễn Quốc Toàn" in h.matched_persons for h in found)
    assert remote.persons_of("metro-nhon-ga-ha-noi-2024-08-09") == local.persons_of("metro-nhon-ga-ha-noi-2024-08-09")


def test_facets_count_every_match(remote, local):
    for query in ("Hà Nội", "giao thông", "date:2024"):
        mine = remote.search(query, limit=1, facets=FACETS)
        assert mine.facets == local.search(query, limit=1, facets=FACETS).facets, query
    months = remote.search("Hà Nội", facets=["month"]).facets["month"]
    assert sum(n for _, n in months) == remote.search("Hà Nội").total
    with pytest.raises(HnpSearchError, match="unknown facet 'colour'"):
        remote.search("Hà Nội", facets=["colour"])


def test_pages_beyond_the_from_size_window_are_read_with_search_after(remote, monkeypatch):
    from hnp_search.opensearch import engine as module

    whole = remote.search("song to lich", limit=40)
    assert whole.total >= 10 and 0 < whole.total_all_words < whole.total  # both tiers
    monkeypatch.setattr(module, "WINDOW", 4)  # every read past the 4th hit pages with search_after
    paged = [
        h.id
        for offset in range(0, whole.total, 3)
        for h in remote.search("song to lich", offset=offset, limit=3, highlight=False)
    ]
    assert paged == _ids(whole)
    beyond = remote.search("song to lich", offset=whole.total, limit=3)
    assert not beyond and beyond.total == whole.total


def test_similar_articles(remote, local):
    for article_id in ("ho-tay-mua-thu", "metro-nhon-ga-ha-noi-2024-08-09", "gia-rau-xanh"):
        similar = remote.similar(article_id, limit=5)
        assert similar and article_id not in _ids(similar)
        theirs = _ids(local.similar(article_id, limit=5))
        # The same terms and scores but for the rounding of long fields' lengths: near-ties may swap.
        assert similar[0].id == theirs[0] and len(set(_ids(similar)) & set(theirs)) >= 4, article_id
    with pytest.raises(HnpSearchError, match="no article with id 'no-such-article'"):
        remote.similar("no-such-article")


def test_stats_say_what_the_index_holds(remote, local):
    mine, theirs = remote.stats(), local.stats()
    for key in (
        "articles",
        "first_published",
        "last_published",
        "undated",
        "categories",
        "persons",
        "analyzer_version",
    ):
        assert mine[key] == theirs[key], key
    assert mine["path"].endswith(remote.index_name) and mine["index_bytes"] > 0 and mine["segments"] >= 1


def test_delete_reindex_prune_and_unchanged_articles(node, fresh, tmp_path):
    from hnp_search.opensearch import OpenSearchEngine

    engine = OpenSearchEngine(NODE_URL, index=fresh())
    first = engine.index([ARTICLES], jobs=1)
    assert (first.added, first.skipped, len(engine)) == (10, 0, 10)
    again = engine.index([ARTICLES], jobs=1)
    assert (again.added, again.updated, again.skipped, len(engine)) == (0, 0, 10, 10)
    assert engine.delete("gia-rau-xanh") == 1 and engine.delete(["gia-rau-xanh", "no-such-id"]) == 0
    assert engine.get("gia-rau-xanh") is None and len(engine) == 9
    assert "gia-rau-xanh" not in _ids(engine.search("giá rau xanh", limit=10))
    back = engine.index([ARTICLES], jobs=2)
    assert (back.added, back.updated, back.skipped, len(engine)) == (1, 0, 9, 10)
    assert engine.search("giá rau xanh", limit=1)[0].id == "gia-rau-xanh"
    some = tmp_path / "some.jsonl"
    some.write_text("".join(ARTICLES.read_text(encoding="utf-8").splitlines(keepends=True)[:4]), encoding="utf-8")
    pruned = engine.index([some], jobs=1, prune=True)
    assert (pruned.skipped, pruned.pruned, len(engine)) == (4, 6, 4)


def test_changed_articles_replace_theirs_and_bad_lines_are_reported(fresh, tmp_path):
    from hnp_search.opensearch import OpenSearchEngine

    source = tmp_path / "bai.jsonl"
    lines = [
        json.dumps({"id": "a1", "title": "Phố đi bộ hồ Gươm", "body": "Hà Nội mở rộng phố đi bộ."}, ensure_ascii=False),
        "{not json",
        json.dumps({"id": "a2", "title": "Chợ hoa", "body": "Chợ hoa Quảng An."}, ensure_ascii=False),
    ]
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    engine = OpenSearchEngine(NODE_URL, index=fresh())
    summary = engine.index([source], jobs=1)
    assert (summary.added, len(summary.errors)) == (2, 1) and summary.errors[0].startswith(f"{source}:2: ")
    lines[0] = lines[0].replace("Phố đi bộ hồ Gươm", "Phố đi bộ Trịnh Công Sơn")
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    summary = engine.index([source], jobs=1)
    assert (summary.added, summary.updated, summary.skipped) == (0, 1, 1)
    assert engine.get("a1").title == "Phố đi bộ Trịnh Công Sơn" and len(engine) == 2
    assert engine.search("trinh cong son")[0].id == "a1" and not engine.search('"hồ Gươm"')


def test_analyzer_version_is_checked(node, fresh):
    from hnp_search.opensearch import OpenSearchEngine

    name = fresh()
    engine = OpenSearchEngine(NODE_URL, index=name)
    engine.index([ARTICLES], jobs=1)
    node.indices.put_mapping(index=name, body={"_meta": {"analyzer_version": 1, "mapping_version": 1}})
    with pytest.raises(IndexVersionError, match="rebuild it"):
        OpenSearchEngine(NODE_URL, index=name, create=False).search("Hà Nội")
    with pytest.raises(IndexVersionError):
        engine.index([ARTICLES], jobs=1)
    rebuilt = engine.index([ARTICLES], jobs=1, rebuild=True)
    assert rebuilt.added == 10 and OpenSearchEngine(NODE_URL, index=name, create=False).search("Hà Nội")
    with pytest.raises(IndexNotFoundError, match="no index"):
        OpenSearchEngine(NODE_URL, index=fresh(), create=False)
    empty = OpenSearchEngine(NODE_URL, index=fresh())  # usable to index; reading says there is nothing
    with pytest.raises(IndexNotFoundError, match="no index"):
        empty.search("Hà Nội")
    empty.close()
    with pytest.raises(HnpSearchError, match="closed"):
        empty.search("Hà Nội")


def test_an_unreachable_cluster_is_one_clear_error():
    from hnp_search.opensearch import OpenSearchEngine

    with pytest.raises(HnpSearchError, match="no OpenSearch node answers at http://127.0.0.1:1"):
        OpenSearchEngine("http://127.0.0.1:1", index="x", timeout=2)


def _short_articles(path: Path, count: int) -> list[str]:
    words = "Hà Nội mở rộng phố đi bộ quanh hồ Gươm cho người dân và du khách dịp cuối tuần".split()
    with path.open("w", encoding="utf-8") as out:
        for n in range(count):
            body = " ".join(words[n % 9 : n % 9 + 8]) + "."
            out.write(json.dumps({"id": f"a{n:05d}", "title": f"Tin số {n}", "body": body}, ensure_ascii=False) + "\n")
    return [f"a{n:05d}" for n in range(count)]


def _cli_index(source: Path, name: str) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "hnp_search",
        "index",
        str(source),
        "--opensearch",
        NODE_URL,
        "--os-index",
        name,
        "--jobs",
        "1",
    ]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _count(node, name: str) -> int:
    """Articles searchable in ``name`` (0 before it exists or while its shard starts)."""
    from opensearchpy.exceptions import TransportError

    try:
        node.indices.refresh(index=name)  # what the job has sent, searchable now
        return node.count(index=name)["count"]
    except TransportError:
        return 0


def _stored_ids(node, name: str) -> list[str]:
    node.indices.refresh(index=name)
    found = node.search(index=name, body={"size": 10_000, "_source": ["id"], "query": {"match_all": {}}})
    return [h["_source"]["id"] for h in found["hits"]["hits"]]


def test_a_killed_indexing_job_rerun_ends_with_exactly_the_articles(node, fresh, tmp_path):
    total = 3000
    expected = _short_articles(tmp_path / "bai.jsonl", total)
    for _ in range(3):  # until the kill lands while the job still has articles to send
        name = fresh()
        job = _cli_index(tmp_path / "bai.jsonl", name)
        deadline = time.monotonic() + 120
        while not _count(node, name):  # the first bulk request answered
            assert job.poll() is None, job.communicate()
            assert time.monotonic() < deadline, "timed out"
            time.sleep(0.02)
        job.send_signal(signal.SIGKILL)
        job.communicate()
        kept = _stored_ids(node, name)
        if job.returncode == -signal.SIGKILL and len(kept) < total:
            break
    else:
        pytest.fail("three jobs each sent every article before they were killed")
    assert 0 < len(kept) < total and len(set(kept)) == len(kept) and set(kept) <= set(expected)

    rerun = _cli_index(tmp_path / "bai.jsonl", name)
    stdout, stderr = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, stderr
    added, unchanged = int(stdout.split(" added")[0]), int(stdout.split(" updated, ")[1].split(" unchanged")[0])
    assert added + unchanged == total and unchanged >= len(kept)
    assert sorted(_stored_ids(node, name)) == expected


def test_explain_says_what_the_embedded_index_says(remote, local):
    for query in ("hoof taay", "ha noi song to lich", "Ai là bí thư?", "covid19 date:2024"):
        mine, theirs = remote.explain(query), local.explain(query)
        assert mine.to_dict() == theirs.to_dict(), query


def test_suggestions_read_the_cluster(remote, local):
    for query in ("song to lich", "Hà Nộj", "xe buyyt"):
        assert remote.suggest(query) == local.suggest(query), query
    assert remote.suggest("song to lich") == "sông Tô Lịch"


def test_cli_searches_the_cluster(remote, local):
    from click.testing import CliRunner

    from hnp_search.cli import main

    runner = CliRunner()
    mine = runner.invoke(
        main, ["search", "--opensearch", NODE_URL, "--os-index", remote.index_name, "--json", "hồ", "tây"]
    )
    theirs = runner.invoke(main, ["search", "--index-dir", str(local.path), "--json", "hồ", "tây"])
    assert mine.exit_code == 0, mine.output
    mine, theirs = json.loads(mine.output), json.loads(theirs.output)
    assert [h["id"] for h in mine["hits"]] == [h["id"] for h in theirs["hits"]] and mine["total"] == theirs["total"]
    stats = runner.invoke(main, ["stats", "--opensearch", NODE_URL, "--os-index", remote.index_name])
    assert stats.exit_code == 0 and "articles: 36" in stats.output
    shown = runner.invoke(
        main, ["show", "ho-tay-mua-thu"], env={"HNP_SEARCH_OPENSEARCH": NODE_URL}, catch_exceptions=False
    )
    assert shown.exit_code == 1 and "no index 'hnp-search'" in shown.output or "Hồ Tây" in shown.output
    persons = runner.invoke(main, ["persons", "--opensearch", NODE_URL, "--os-index", remote.index_name, "--top", "3"])
    assert persons.exit_code == 0 and "Nguyễn Quốc Toàn" in persons.output


def test_two_shards_with_replicas_answer_as_one_index(node, fresh, remote):
    from hnp_search.opensearch import OpenSearchEngine

    nodes = node.cluster.health()["number_of_nodes"]
    if nodes < 2 and IN_CI:
        pytest.fail(f"CI starts two nodes, but {NODE_URL} has {nodes}", pytrace=False)
    replicas = 1 if nodes >= 2 else 0
    name = fresh()
    engine = OpenSearchEngine(NODE_URL, index=name)
    engine.index(SOURCES, jobs=1, shards=2, replicas=replicas)
    health = node.cluster.health(index=name, wait_for_status="green", params={"timeout": "60s"}, request_timeout=90)
    assert (health["status"], health["active_primary_shards"], health["active_shards"]) == (
        "green",
        2,
        2 * (1 + replicas),
    )
    shards = node.cat.shards(index=name, format="json")
    assert all(int(s["docs"]) for s in shards if s["prirep"] == "p")  # both shards hold articles
    for query in QUERIES[:12]:
        mine, one = engine.search(query, limit=10), remote.search(query, limit=10)
        assert (mine.total, mine.total_all_words) == (one.total, one.total_all_words), query
        assert _ids(mine) == _ids(one), query  # term statistics of the whole index (dfs), not per shard
