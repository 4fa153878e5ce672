"""Results an app or a researcher can use (issue 20), on real dantri articles.

Totals, pages, facets, filters, deletes and related articles.
"""

import json
from collections import Counter
from dataclasses import replace

import pytest

from hnp_search import (
    EngineClosedError,
    Hit,
    HnpSearchError,
    IndexNotFoundError,
    QuerySyntaxError,
    Results,
    SearchEngine,
    api,
)
from hnp_search.ingest import read_articles
from hnp_search.persons import person_key

#: Two dantri categories (~500 articles of April 2021): enough for pages, months and persons.
CATEGORIES = ("business", "travel")
QUERIES = ["giá xăng", "gia xang", "xuất khẩu gạo", "du lịch Phú Quốc", "giá vàng hôm nay tăng mạnh",
           '"ngân hàng"', "ngân hàng -vàng", "Hòa Phát OR Vingroup", "date:2021-04 cổ phiếu",
           "vì sao giá vàng tăng?", 'person:"Trần Đình Long"', "category:travel biển"]  # fmt: skip


@pytest.fixture(scope="module")
def dantri_articles(shared):
    return [a for a in read_articles(shared / "corpora" / "dantri-unc.jsonl.gz") if a.category in CATEGORIES]


@pytest.fixture(scope="module")
def dantri_index(dantri_articles, tmp_path_factory):
    path = tmp_path_factory.mktemp("dantri-results") / "ix"
    with SearchEngine(path) as engine:
        assert engine.index(dantri_articles, jobs=2).added == len(dantri_articles)
    return path


@pytest.fixture()
def engine(dantri_index):
    with SearchEngine(dantri_index, create=False) as engine:
        yield engine


def every_hit(engine, query, **options) -> list[Hit]:
    first = engine.search(query, limit=1, highlight=False, **options)
    return list(engine.search(query, limit=max(first.total, 1), highlight=False, **options))


@pytest.mark.parametrize("query", QUERIES)
def test_pages_of_any_size_are_slices_of_one_list_of_total_articles(engine, query):
    whole = every_hit(engine, query)
    assert len(whole) == engine.search(query, limit=1).total
    for size in (1, 3, 10):
        pages = [engine.search(query, offset=o, limit=size, highlight=False) for o in range(0, len(whole) + size, size)]
        assert [h.id for page in pages for h in page] == [h.id for h in whole]
        assert {page.total for page in pages} == {len(whole)} and len(pages[-1]) == 0  # past the end: empty


def test_the_number_of_hits_no_longer_depends_on_the_limit(engine):
    ids = [h.id for h in engine.search("gia xang", limit=50)]
    assert 2 < len(ids) < 50
    for limit in (2, 5):
        results = engine.search("gia xang", limit=limit)
        assert [h.id for h in results] == ids[:limit] and results.total == len(ids)


def test_articles_with_every_word_come_first_and_are_counted(engine):
    results = engine.search("giá vàng hôm nay tăng mạnh", limit=200)
    flags = [h.all_words for h in results]
    assert results.total_all_words == flags.count(True) >= 1
    assert flags == sorted(flags, reverse=True) and not flags[-1]  # all-word hits, then partial ones
    assert results.total > results.total_all_words


def test_facets_count_every_match_exactly(engine):
    names = ("category", "source", "year", "month", "person")
    for query in ("giá xăng", "ngân hàng", "du lịch"):
        results = engine.search(query, limit=3, facets=names)
        hits = every_hit(engine, query)
        assert len(results) == 3 and results.total == len(hits)
        months = Counter(h.published.strftime("%Y-%m") for h in hits)
        assert results.facets["month"] == sorted(months.items())  # a histogram, in date order
        assert results.facets["year"] == sorted(Counter(h.published.strftime("%Y") for h in hits).items())
        categories = Counter(h.article.category for h in hits)
        assert dict(results.facets["category"]) == dict(categories)
        assert [c for _, c in results.facets["category"]] == sorted(categories.values(), reverse=True)
        assert results.facets["source"] == [(hits[0].article.source, len(hits))]
        persons = Counter(person_key(p) for h in hits for p in dict.fromkeys(person_key(n) for n in h.persons))
        counted = {person_key(name): n for name, n in results.facets["person"]}
        assert all(persons[key] == n for key, n in counted.items())
        assert sorted(counted.values(), reverse=True) == sorted(persons.values(), reverse=True)[: len(counted)]


def test_an_unknown_facet_is_a_query_error(engine):
    with pytest.raises(QuerySyntaxError, match="unknown facet 'tags'"):
        engine.search("giá xăng", facets=["tags"])


def test_category_and_source_filter_in_the_query_and_as_options(engine):
    travel = engine.search("category:travel", limit=1000)
    assert travel.total == 251 and {h.article.category for h in travel} == {"travel"}
    assert engine.search("category:Travel").total == 251  # case aside
    assert engine.search("", category="travel").total == 251
    assert engine.search("biển", category="travel").total == engine.search("biển category:travel").total
    assert engine.search("", source="dantri-unc").total == 504  # a source by its file name
    assert engine.search("", source="dantri-unc.jsonl.gz", category="business").total == 253
    assert engine.search("giá xăng", category="sport").total == 0


def test_a_query_with_no_words_lists_newest_first(engine):
    for query in ('person:"Trần Đình Long"', "date:2021-04", "category:business"):
        hits = every_hit(engine, query)
        dates = [h.published for h in hits]
        assert len(hits) > 3 and dates == sorted(dates, reverse=True), query
    ascending = [h.published for h in engine.search("date:2021-04", sort="date", limit=20)]
    assert ascending == sorted(ascending)


def test_results_read_as_a_list_and_as_json(engine):
    results = engine.search("giá xăng", limit=3, facets=["category"])
    assert isinstance(results, Results) and len(results) == 3 and results
    assert results == list(results) and results[:2] == [results[0], results[1]] and results[-1] is results[2]
    assert [h.id for h in results] == [h.id for h in results.hits]
    out = json.loads(json.dumps(results.to_dict(), ensure_ascii=False))
    assert out["total"] == results.total and out["offset"] == 0 and out["limit"] == 3
    assert out["facets"]["category"][0] == {"value": "business", "count": results.facets["category"][0][1]}
    hit = out["hits"][0]
    assert hit["id"] == "news_business_250" and hit["published"] == "2021-04-27T00:00:00"
    assert hit["category"] == "business" and hit["url"].startswith("https://dantri.com.vn/")
    assert hit["all_words"] is True and hit["title"][slice(*hit["title_matches"][0])] == "Giá xăng"
    snippet = hit["snippets"][0]
    assert snippet["text"][slice(*snippet["matches"][0])].lower() == "giá xăng"
    assert not engine.search("xyzzy quux") and engine.search("xyzzy quux").to_dict()["hits"] == []


def test_hit_is_still_importable_from_the_api_module():
    assert api.Hit is Hit


def test_a_suggestion_comes_with_results_that_find_little(engine, tiny_index):
    assert engine.search("giá xăng").suggestion is None  # 17 articles: nothing to suggest
    with SearchEngine(tiny_index, create=False) as tiny:
        results = tiny.search("ho tay")
        assert results.total < 3 and results.suggestion == "Hồ Tây" == tiny.suggest("ho tay")


def test_related_articles_share_the_story(engine):
    related = [h.id for h in engine.similar("news_business_250", limit=5)]
    assert related[0] == "news_business_197"  # the same day's fuel price story
    assert "news_business_250" not in related and len(related) == 5
    with pytest.raises(HnpSearchError, match="no article with id 'nope'"):
        engine.similar("nope")


def test_related_articles_leave_out_exact_duplicates(dantri_articles, tmp_path):
    fuel = [a for a in dantri_articles if a.id in ("news_business_250", "news_business_197", "news_business_037")]
    copy = replace(fuel[0], id="copy-of-" + fuel[0].id, url="https://example.vn/copy")
    with SearchEngine(tmp_path / "ix") as engine:
        engine.index([*fuel, copy, *dantri_articles[:40]], jobs=1)
        for article in (fuel[0], copy):
            related = [h.id for h in engine.similar(article.id, limit=3)]
            assert {fuel[0].id, copy.id}.isdisjoint(related) and related[0] in {a.id for a in fuel}


def test_deleted_articles_vanish_everywhere_and_can_come_back(dantri_articles, tmp_path):
    articles = [a for a in dantri_articles if a.category == "business"][:60]
    gone = ["news_business_250", "news_business_037"]
    articles += [a for a in dantri_articles if a.id in gone and a not in articles]
    with SearchEngine(tmp_path / "ix") as engine:
        engine.index(articles, jobs=1)
        before = engine.search("xăng", facets=["category", "month", "person"])
        persons_before = dict(engine.persons(top=1000))
        assert set(gone) <= {h.id for h in before}
        assert engine.delete([*gone, "no-such-id"]) == 2
        assert engine.delete(gone) == 0  # already gone
        after = engine.search("xăng", facets=["category", "month", "person"])
        assert after.total == before.total - 2 and set(gone).isdisjoint(h.id for h in after)
        assert dict(after.facets["category"])["business"] == dict(before.facets["category"])["business"] - 2
        assert len(engine) == len(articles) - 2 and engine.get(gone[0]) is None
        persons_after = dict(engine.persons(top=1000))
        assert "Mai Tấn Toàn" in persons_before and "Mai Tấn Toàn" not in persons_after  # named only in one deleted
        kept = next(a.id for a in articles if a.id not in gone)
        assert set(gone).isdisjoint(h.id for h in engine.similar(kept, limit=100))
        with pytest.raises(HnpSearchError, match="no article with id"):
            engine.similar(gone[0])
    with SearchEngine(tmp_path / "ix") as engine:  # committed: another engine sees it
        assert len(engine) == len(articles) - 2 and engine.search("xăng").total == after.total
        assert engine.index(articles, jobs=1).added == 2  # indexed again: added anew
        assert engine.search("xăng").total == before.total and engine.get(gone[0]) is not None


def test_prune_deletes_the_articles_the_sources_no_longer_hold(dantri_articles, tmp_path):
    first, second = dantri_articles[:30], dantri_articles[10:40]
    with SearchEngine(tmp_path / "ix") as engine:
        engine.index(first, jobs=1)
        summary = engine.index(second, jobs=1, prune=True)
        assert (summary.added, summary.skipped, summary.pruned) == (10, 20, 10)
        assert len(engine) == 30 and engine.get(first[0].id) is None and engine.get(second[-1].id) is not None


def test_reading_a_path_without_an_index_fails_but_indexing_creates_it(tmp_path, dantri_articles):
    engine = SearchEngine(tmp_path / "typo")
    for call in (lambda: engine.search("giá xăng"), lambda: len(engine), lambda: engine.get("x")):
        with pytest.raises(IndexNotFoundError, match="no index at"):
            call()
    assert not (tmp_path / "typo").exists()
    with pytest.raises(IndexNotFoundError):
        SearchEngine(tmp_path / "typo", create=False)
    assert engine.index(dantri_articles[:3], jobs=1).added == 3 and len(engine) == 3
    engine.close()
    with pytest.raises(EngineClosedError, match="closed"):
        engine.search("giá xăng")
    with pytest.raises(EngineClosedError):
        len(engine)


def test_stats_describe_the_index(engine):
    stats = engine.stats()
    assert stats["articles"] == 504 and stats["analyzer_version"] >= 6
    assert stats["first_published"][:7] <= "2021-04" <= stats["last_published"][:7]
    assert dict(stats["categories"]) == {"business": 253, "travel": 251}
    assert stats["index_bytes"] > 1_000_000 and stats["persons"] > 100


def test_segments_naming_persons_merge_after_a_delete(shared, tmp_path, monkeypatch):
    monkeypatch.setenv("HNP_SEARCH_BATCH_SIZE", "100")  # commits of 100: each merges the small segments before it
    world = [a for a in read_articles(shared / "corpora" / "dantri-unc.jsonl.gz") if a.category == "world"]
    with SearchEngine(tmp_path / "ix") as engine:
        assert engine.index(world[:150], jobs=1).added == 150
        biden = engine.search('person:"Joe Biden"').total
        assert biden >= 8  # enough for a posting block of its own, not a list inlined in the term
        assert engine.delete([world[0].id, world[1].id]) == 2  # the commit merges the small segments
        assert engine.index(world, jobs=1).added == len(world) - 148  # merged again
        assert len(engine) == len(world) and engine.search('person:"Joe Biden"').total >= biden
