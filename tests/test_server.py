"""`hnp-search serve` over real HTTP (a uvicorn subprocess): endpoints, bad parameters, auth, refresh, hostile text."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

httpx = pytest.importorskip("httpx")

from conftest import ARTICLES  # noqa: E402
from serving import HOSTILE, TOKEN, LiveServer, write_jsonl  # noqa: E402

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
ARTICLE_COUNT = 10 + 26 + 1  # tests/data, corpus/, the hostile one



@pytest.fixture(scope="module")
def served_index(tmp_path_factory) -> Path:
    """The test articles, the sample corpus and one hostile article, indexed once."""
    from hnp_search import SearchEngine

    folder = tmp_path_factory.mktemp("served")
    hostile = write_jsonl(folder / "hostile.jsonl", [HOSTILE])
    with SearchEngine(folder / "index") as engine:
        summary = engine.index([ARTICLES, CORPUS, hostile], jobs=1)
    assert summary.added == ARTICLE_COUNT and not summary.errors
    return folder / "index"


@pytest.fixture(scope="module")
def server(served_index, tmp_path_factory):
    """A read-only server (no --allow-writes)."""
    live = LiveServer(served_index, tmp_path_factory.mktemp("logs") / "server.log")
    yield live
    live.stop()


@pytest.fixture(scope="module")
def writable(served_index, tmp_path_factory):
    """A server with --allow-writes and a token, on its own copy of the index."""
    folder = tmp_path_factory.mktemp("writable")
    shutil.copytree(served_index, folder / "index")
    live = LiveServer(folder / "index", folder / "server.log", "--allow-writes", env={"HNP_SEARCH_TOKEN": TOKEN})
    live.index_dir = folder / "index"
    yield live
    live.stop()


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


@pytest.fixture(scope="module")
def engine(served_index):
    from hnp_search import SearchEngine

    with SearchEngine(served_index, create=False) as e:
        yield e


def assert_json_error(response, status: int, *words: str):
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["status"] == status and body["error"]
    assert "Traceback" not in response.text
    for word in words:
        assert word in body["error"]
    return body


# -- reading ------------------------------------------------------------------------


def test_health_and_stats_count_the_articles(client, served_index):
    assert client.get("/health").json() == {"status": "ok", "articles": ARTICLE_COUNT}
    stats = client.get("/stats").json()
    assert stats["articles"] == ARTICLE_COUNT
    assert stats["index_bytes"] > 100_000 and stats["analyzer_version"] >= 1
    assert stats["writes"] is False and stats["index_dir"] == str(served_index.resolve())


def test_search_serves_results_to_dict(client, engine):
    response = client.get("/search", params={"q": "ha noi", "limit": 5, "facets": "category,year"})
    assert response.status_code == 200
    body = response.json()
    expected = engine.search("ha noi", limit=5, facets=("category", "year")).to_dict()
    assert body == json.loads(json.dumps(expected, ensure_ascii=False))
    assert body["total"] > 10 and len(body["hits"]) == 5
    first = body["hits"][0]
    snippet = first["snippets"][0]
    start, end = snippet["matches"][0]
    assert snippet["text"][start:end].lower() in {"hà nội", "hà", "nội"}


def test_search_pages_and_filters(client, engine):
    page_1 = client.get("/search", params={"q": "ha noi", "limit": 3}).json()
    page_2 = client.get("/search", params={"q": "ha noi", "limit": 3, "offset": 3}).json()
    both = client.get("/search", params={"q": "ha noi", "limit": 6}).json()
    assert [h["id"] for h in page_1["hits"] + page_2["hits"]] == [h["id"] for h in both["hits"]]
    dated = client.get("/search", params={"q": "ha noi", "from": "01/01/2024", "to": "2024-06", "sort": "-date",
                                          "limit": 50}).json()
    days = [h["published"][:10] for h in dated["hits"]]
    assert days and days == sorted(days, reverse=True)
    assert all("2024-01-01" <= d <= "2024-06-30" for d in days)
    assert dated["total"] == engine.search("ha noi", date_from="01/01/2024", date_to="2024-06").total


def test_article_and_missing_article(client):
    article = client.get("/articles/metro-nhon-ga-ha-noi").json()
    assert article["title"] == "Tuyến metro Nhổn - ga Hà Nội chạy thương mại đoạn trên cao"
    assert article["published"].startswith("2024-08-09")
    assert_json_error(client.get("/articles/khong-co-bai-nay"), 404, "khong-co-bai-nay")
    assert_json_error(client.get("/articles/khong-co-bai-nay/similar"), 404)


def test_similar_articles(client, engine):
    response = client.get("/articles/metro-nhon-ga-ha-noi/similar", params={"limit": 3})
    assert response.status_code == 200
    ids = [h["id"] for h in response.json()["hits"]]
    assert ids == [h.id for h in engine.similar("metro-nhon-ga-ha-noi", limit=3)]
    assert ids and "metro-nhon-ga-ha-noi" not in ids


def test_persons_and_suggest(client, engine):
    persons = client.get("/persons", params={"top": 3}).json()["persons"]
    assert persons == [{"name": n, "articles": c} for n, c in engine.persons(top=3)]
    assert persons[0] == {"name": "Nguyễn Quốc Toàn", "articles": 7}
    assert client.get("/persons", params={"q": "metro", "top": 2}).json()["persons"][0]["articles"] >= 1
    suggestion = client.get("/suggest", params={"q": "marathom ho tay"}).json()
    assert suggestion == {"query": "marathom ho tay", "suggestion": "marathon Hồ Tây"}
    assert client.get("/suggest", params={"q": "Hà Nội"}).json()["suggestion"] is None


def test_openapi_schema_lists_the_endpoints(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/search", "/articles/{article_id}", "/articles/{article_id}/similar", "/persons", "/suggest",
            "/stats", "/health", "/articles"} <= set(paths)


@pytest.mark.parametrize(
    "params, words",
    [
        ({"q": "ha noi", "limit": 0}, ["limit"]),
        ({"q": "ha noi", "limit": 101}, ["limit", "100"]),
        ({"q": "ha noi", "limit": "mười"}, ["limit"]),
        ({"q": "ha noi", "offset": -1}, ["offset"]),
        ({"q": "ha noi", "offset": 9995, "limit": 10}, ["10,000"]),
        ({"q": "ha noi", "sort": "popular"}, ["sort"]),
        ({"q": "ha noi", "facets": "category,colour"}, ["colour"]),
        ({"q": "ha noi", "from": "31/02/2024"}, ["31/02/2024"]),
        ({"q": "date:2024-13"}, ["date:2024-13"]),
        ({"q": "ha noi " * 200}, ["too long"]),
        ({"q": "ha noi", "person": "x" * 201}, ["person"]),
    ],
    ids=["limit-0", "limit-over-100", "limit-not-a-number", "negative-offset", "too-deep", "unknown-sort",
         "unknown-facet", "no-such-day", "bad-date-operator", "query-too-long", "person-too-long"],
)
def test_bad_parameters_are_400_json(client, params, words):
    assert_json_error(client.get("/search", params=params), 400, *words)


def test_free_text_is_never_an_error(client):
    for q in ['Bộ Y tế cho biết: "số ca mắc', "đá(Chelsea", "http://dantri.com.vn covid", "price:rau", "))((", "-"]:
        assert client.get("/search", params={"q": q}).status_code == 200, q


def test_unknown_routes_and_methods_are_json(client):
    assert_json_error(client.get("/khong-co"), 404, "/khong-co")
    assert_json_error(client.put("/search"), 405)
    assert_json_error(client.get("/persons", params={"top": 0}), 400, "top")
    assert_json_error(client.get("/suggest"), 400, "q")


# -- writes -------------------------------------------------------------------------


NEW = {"id": "xe-buyt-dien-2025", "title": "Hà Nội mở thêm tuyến xe buýt điện", "date": "2025-01-05",
       "body": "Tuyến xe buýt điện mới nối Long Biên với Gia Lâm, chạy 15 phút một chuyến.", "category": "society"}


def test_writes_are_forbidden_without_allow_writes(client):
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert_json_error(client.post("/articles", json=NEW, headers=auth), 403, "--allow-writes")
    assert_json_error(client.delete("/articles/metro-nhon-ga-ha-noi", headers=auth), 403)
    assert client.get("/articles/metro-nhon-ga-ha-noi").status_code == 200
    assert client.get(f"/articles/{NEW['id']}").status_code == 404


def test_writes_need_the_right_token(writable):
    with httpx.Client(base_url=writable.url, timeout=60) as c:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
            response = c.post("/articles", json=NEW, headers=headers)
            assert_json_error(response, 401, "token")
            assert response.headers["www-authenticate"] == "Bearer"
            assert_json_error(c.delete("/articles/metro-nhon-ga-ha-noi", headers=headers), 401)
        assert c.get(f"/articles/{NEW['id']}").status_code == 404
        assert c.get("/articles/metro-nhon-ga-ha-noi").status_code == 200


def test_bad_articles_are_422_with_line_numbers_and_nothing_is_written(writable):
    auth = {"Authorization": f"Bearer {TOKEN}"}
    lines = "\n".join([json.dumps(NEW, ensure_ascii=False), '{"id": "a", "title": "t"}', "{not json", ""])
    with httpx.Client(base_url=writable.url, timeout=60) as c:
        before = c.get("/stats").json()["articles"]
        body = assert_json_error(c.post("/articles", content=lines.encode(), headers=auth), 422, "nothing was written")
        assert body["errors"] == [
            "body:2: missing or empty 'body'",
            "body:3: not JSON (Expecting property name enclosed in double quotes at column 2)",
        ]
        array = c.post("/articles", json=[NEW, {"id": "b", "title": "t", "body": "x", "date": "hôm qua"}], headers=auth)
        assert assert_json_error(array, 422)["errors"] == ["body[1]: 'date' is not an ISO date: 'hôm qua'"]
        assert_json_error(c.post("/articles", content=b"", headers=auth), 422)
        assert c.get("/stats").json()["articles"] == before
        assert c.get(f"/articles/{NEW['id']}").status_code == 404


def test_post_then_search_then_delete(writable):
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=writable.url, timeout=120) as c:
        before = c.get("/stats").json()["articles"]
        added = c.post("/articles", json=NEW, headers=auth)
        assert added.status_code == 200, added.text
        assert added.json() | {"articles": None} == {"added": 1, "updated": 0, "unchanged": 0, "errors": [],
                                                      "articles": None}
        assert added.json()["articles"] == before + 1
        hits = c.get("/search", params={"q": "xe buyt dien long bien"}).json()["hits"]
        assert hits[0]["id"] == NEW["id"]
        again = c.post("/articles", content=(json.dumps(NEW) + "\n").encode(), headers=auth).json()
        assert (again["added"], again["unchanged"]) == (0, 1)
        assert c.delete(f"/articles/{NEW['id']}", headers=auth).json() == {"deleted": 1, "id": NEW["id"]}
        assert_json_error(c.get(f"/articles/{NEW['id']}"), 404)
        assert_json_error(c.delete(f"/articles/{NEW['id']}", headers=auth), 404)
        assert c.get("/stats").json()["articles"] == before
        assert NEW["id"] not in [h["id"] for h in c.get("/search", params={"q": "xe buyt dien"}).json()["hits"]]


def test_a_commit_by_another_process_is_seen_without_restart(writable, tmp_path):
    article = {**NEW, "id": "cau-tu-lien-2025", "title": "Khởi công cầu Tứ Liên",
               "body": "Cầu Tứ Liên bắc qua sông Hồng."}
    source = write_jsonl(tmp_path / "new.jsonl", [article])
    with httpx.Client(base_url=writable.url, timeout=30) as c:
        assert c.get(f"/articles/{article['id']}").status_code == 404
        command = [sys.executable, "-m", "hnp_search", "index", str(source), "--index-dir", str(writable.index_dir),
                   "--jobs", "1"]
        subprocess.run(command, check=True, capture_output=True)
        committed = time.monotonic()
        while c.get(f"/articles/{article['id']}").status_code != 200:
            assert time.monotonic() - committed < 5, "the new article did not show up"
            time.sleep(0.05)
        assert c.get("/search", params={"q": "cau tu lien"}).json()["hits"][0]["id"] == article["id"]


def test_503_until_an_index_exists(tmp_path):
    from hnp_search import SearchEngine

    live = LiveServer(tmp_path / "index", tmp_path / "server.log")
    try:
        with httpx.Client(base_url=live.url, timeout=30) as c:
            for path in ("/health", "/search?q=ha+noi", "/articles/x", "/stats"):
                response = c.get(path)
                assert_json_error(response, 503, "no index")
                assert response.headers["retry-after"] == "1"
            assert c.get("/", headers={"Accept": "text/html"}).status_code == 503
            with SearchEngine(tmp_path / "index") as engine:
                engine.index([ARTICLES], jobs=1)
            deadline = time.monotonic() + 5
            while c.get("/health").status_code != 200:
                assert time.monotonic() < deadline
                time.sleep(0.05)
            assert c.get("/health").json()["articles"] == 10
    finally:
        live.stop()


def test_an_index_of_another_analyzer_version_is_503(served_index, tmp_path):
    shutil.copytree(served_index, tmp_path / "index")
    meta = tmp_path / "index" / "hnp-search.json"
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "analyzer_version": 1}))
    live = LiveServer(tmp_path / "index", tmp_path / "server.log")
    try:
        with httpx.Client(base_url=live.url, timeout=30) as c:
            assert_json_error(c.get("/search", params={"q": "ha noi"}), 503, "rebuild")
            assert_json_error(c.get("/health"), 503, "rebuild")
    finally:
        live.stop()


def test_a_damaged_index_is_503_naming_the_file(served_index, tmp_path):
    shutil.copytree(served_index, tmp_path / "index")
    (segment,) = sorted((tmp_path / "index").glob("*.seg"), key=lambda p: p.stat().st_size)[:1]
    with segment.open("r+b") as f:
        f.truncate(segment.stat().st_size // 2)
    live = LiveServer(tmp_path / "index", tmp_path / "server.log")
    try:
        with httpx.Client(base_url=live.url, timeout=30) as c:
            assert_json_error(c.get("/search", params={"q": "ha noi"}), 503, "damaged", segment.name)
    finally:
        live.stop()


# -- hostile text ----------------------------------------------------------------------


def test_hostile_article_is_inert_in_json(client):
    response = client.get(f"/articles/{HOSTILE['id']}")
    raw = response.content
    for bad in (b"<script", b"<img", b"<iframe", b"\x1b", b"\x07", "\x9b".encode()):
        assert bad not in raw
    assert response.headers["x-content-type-options"] == "nosniff"
    article = response.json()
    assert article["title"] == HOSTILE["title"]  # the text itself is kept, only encoded
    assert "\x1b[31m" in article["lead"]
    search = client.get("/search", params={"q": "pho co mua thu"})
    assert b"<script" not in search.content and b"\x1b" not in search.content
    assert HOSTILE["id"] in [h["id"] for h in search.json()["hits"]]


def _inert_html(text: str):
    for bad in ("<script", "<img", "<iframe", "javascript:", "\x1b", "\x07", "\x9b"):
        assert bad not in text, bad
    assert not re.search(r"<[a-z][^>]*\son[a-z]+=", text)


def test_hostile_article_is_inert_in_html(client):
    page = client.get(f"/bai/{HOSTILE['id']}")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src" not in page.headers["content-security-policy"]
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    _inert_html(page.text)
    assert ("<h1>&lt;script&gt;alert(&#39;tiêu đề&#39;)&lt;/script&gt; Phố cổ mùa thu "
            "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;</h1>") in page.text
    results = client.get("/", params={"q": "pho co mua thu"})
    _inert_html(results.text)
    assert f'href="/bai/{HOSTILE["id"]}?q=pho+co+mua+thu"' in results.text
    echoed = client.get("/", params={"q": '"><script>alert(1)</script>'})
    _inert_html(echoed.text)
    assert "&#34;&gt;&lt;script&gt;" in echoed.text


# -- the reader's pages ------------------------------------------------------------------


def test_home_page(client):
    page = client.get("/")
    assert page.status_code == 200
    assert '<html lang="vi">' in page.text and "Kho lưu trữ có 37 bài" in page.text
    assert '<form action="/" method="get"' in page.text


def test_results_page(client, engine):
    results = engine.search("ha noi", limit=10, facets=("category", "person", "year", "month"))
    page = client.get("/", params={"q": "ha noi"}).text
    assert f"Tìm thấy {results.total} bài cho «ha noi»" in page
    assert page.count('<li class="hit">') == 10
    assert "<mark>Hà Nội</mark>" in page
    assert 'href="/?q=ha+noi&amp;page=2"' in page and 'rel="next"' in page
    person, count = results.facets["person"][0]
    assert f"{person}</a> <span class=\"count\">{count}</span>" in page.split('id="facet-person"')[1]
    page_2 = client.get("/", params={"q": "ha noi", "page": 2}).text
    assert '<span class="current" aria-current="page">2</span>' in page_2
    assert '<ol class="hits" start="11">' in page_2


def test_category_by_its_vietnamese_label(tmp_path):
    from hnp_search import SearchEngine
    from hnp_search.server.pages import SearchForm

    sport = {"category": "sport"}
    assert SearchForm(category="Thể thao").filters() == SearchForm(category="the thao").filters() == sport
    assert SearchForm(category="sport").filters() == {"category": "sport"}
    football = {**NEW, "id": "bong-da", "category": "sport", "title": "Hà Nội thắng trận bóng đá", "body": "Bóng đá."}
    source = write_jsonl(tmp_path / "a.jsonl", [NEW, football])
    with SearchEngine(tmp_path / "index") as engine:
        engine.index([source], jobs=1)
    live = LiveServer(tmp_path / "index", tmp_path / "server.log")
    try:
        with httpx.Client(base_url=live.url, timeout=30) as c:
            everything = c.get("/", params={"q": "ha noi"}).text
            assert "Tìm thấy 2 bài" in everything and ">Thể thao</a> <span class=\"count\">1</span>" in everything
            sport = c.get("/", params={"q": "ha noi", "category": "Thể thao"}).text
            assert "Tìm thấy 1 bài" in sport and 'href="/bai/bong-da?q=ha+noi"' in sport
    finally:
        live.stop()


def test_a_request_past_the_timeout_is_504(served_index, tmp_path):
    live = LiveServer(served_index, tmp_path / "server.log", "--timeout", "0.001")
    try:
        with httpx.Client(base_url=live.url, timeout=30) as c:
            slow = c.get("/search", params={"q": "ha noi mua thu", "facets": "category,person,month", "limit": 50})
            assert_json_error(slow, 504, "longer than 0.001 s")
    finally:
        live.stop()


def test_thousands_use_a_dot():
    from hnp_search.server.pages import number

    assert [number(n) for n in (0, 999, 1234, 1234567)] == ["0", "999", "1.234", "1.234.567"]


def test_results_page_filters_and_suggestion(client, engine):
    dated = client.get("/", params={"q": "ha noi", "from": "01/01/2024", "to": "31/03/2024"}).text
    total = engine.search("ha noi", date_from="01/01/2024", date_to="31/03/2024").total
    assert f"Tìm thấy {total} bài" in dated
    assert re.findall(r'<div class="meta">(\d\d/\d\d/\d{4})', dated)
    assert all(d.endswith("2024") and d[3:5] in ("01", "02", "03")
               for d in re.findall(r'<div class="meta">(\d\d/\d\d/\d{4})', dated))
    suggested = client.get("/", params={"q": "sot xuat huyett"}).text
    link = '<a href="/?q=s%E1%BB%91t+xu%E1%BA%A5t+huy%E1%BA%BFt" id="suggestion">sốt xuất huyết</a>'
    assert f"Bạn có muốn tìm: {link}?" in suggested
    bad = client.get("/", params={"q": "date:2024-13"})
    assert bad.status_code == 400 and "Không hiểu câu tìm kiếm" in bad.text
    none = client.get("/", params={"q": "zzzkhongco"}).text
    assert "Không tìm thấy bài nào cho «zzzkhongco»" in none


def test_article_page_with_related(client):
    page = client.get("/bai/metro-nhon-ga-ha-noi", params={"q": "metro"}).text
    assert "<h1>Tuyến metro Nhổn - ga Hà Nội chạy thương mại đoạn trên cao</h1>" in page
    assert '<a href="/?q=metro" id="back">' in page
    related = page.split('id="related"')[1]
    assert related.count('<li><a href="/bai/') >= 1
    missing = client.get("/bai/khong-co")
    assert missing.status_code == 404 and "Không tìm thấy trang" in missing.text
