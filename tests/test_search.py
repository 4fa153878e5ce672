"""Searching through the Python API on the ten test articles."""

import re
from datetime import date, datetime
from itertools import islice

import pytest

from hnp_search import Article, Hit, QuerySyntaxError, SearchEngine, read_articles
from hnp_search.highlight import Matcher, Snippet
from hnp_search.text.normalize import fold_ascii, fold_lower
from hnp_search.query.parse import parse


def ids(hits):
    return [hit.id for hit in hits]


def test_engine_counts_and_returns_stored_articles(engine):
    assert len(engine) == 10
    article = engine.get("van-mieu-dem")
    assert isinstance(article, Article)
    assert article.title == "Văn Miếu - Quốc Tử Giám mở cửa ban đêm"
    assert article.published == datetime(2023, 11, 2, 20, 10)
    assert article.author == "Thu Trang"
    assert engine.get("no-such-article") is None


@pytest.mark.parametrize(
    "accented, unaccented",
    [("Hà Nội", "ha noi"), ("Hồ Tây", "ho tay"), ("sông Tô Lịch", "song to lich"), ("Bộ Y tế", "bo y te")],
    ids=["ha-noi", "ho-tay", "to-lich", "bo-y-te"],
)
def test_queries_with_and_without_diacritics_find_the_same_articles(engine, accented, unaccented):
    with_marks = engine.search(accented, limit=20)
    without = engine.search(unaccented, limit=20)
    assert with_marks
    assert set(ids(with_marks)) == set(ids(without))


def test_exact_diacritics_rank_above_folded_matches(engine):
    hits = ids(engine.search("bàn", limit=10))
    assert set(hits[:2]) == {"vanh-dai-4-ban-giao", "clb-ha-noi-thang"}
    # "bán", "bạn" and "ban" fold to the same letters: still found, below.
    assert {"gia-rau-xanh", "ban-tre-tinh-nguyen", "van-mieu-dem"} <= set(hits[2:])


def test_nfd_text_and_old_tone_marks_match_every_spelling(engine):
    for query in ("hoà bình", "hòa bình", "hoa binh", "thuỷ lợi", "thủy lợi"):
        assert ids(engine.search(query, limit=3))[0] == "thuy-loi-hoa-binh", query


def test_hit_carries_title_date_score_snippets_and_article(engine):
    hit = engine.search("Hồ Tây", limit=1)[0]
    assert isinstance(hit, Hit)
    assert hit.id == "ho-tay-mua-thu"
    assert hit.published == datetime(2023, 9, 20, 17, 0)
    assert hit.score > 0
    assert hit.article.id == hit.id
    assert hit.title_snippet.plain() == "[[Hồ Tây]] những ngày đầu thu"
    assert 1 <= len(hit.snippets) <= 3
    assert all(len(s.text) <= 220 for s in hit.snippets)
    assert "[[Hồ Tây]]" in hit.snippets[0].plain()


def test_unaccented_query_highlights_the_accented_text(engine):
    hit = engine.search("song to lich", limit=1)[0]
    assert hit.id == "song-to-lich"
    assert "[[sông Tô Lịch]]" in " ".join(s.plain() for s in hit.snippets)


def test_snippet_offsets_point_at_the_matched_text(engine):
    for hit in engine.search("ha noi", limit=10):
        for snippet in hit.snippets:
            for start, end in snippet.matches:
                assert snippet.text[start:end].lower() == "hà nội"


def test_phrase_needs_the_words_together(engine):
    assert ids(engine.search('"Văn Miếu"')) == ["van-mieu-dem"]
    assert engine.search('"Hồ Tây Văn Miếu"') == []


def test_date_bounds_are_inclusive_and_day_first(engine):
    hits = engine.search("Hà Nội", date_from="07/05/2024", date_to=date(2024, 5, 7))
    assert ids(hits) == ["gia-rau-xanh"]
    hits = engine.search("Hà Nội", date_from="2024-01-01", limit=20)
    assert all(hit.published.year == 2024 for hit in hits) and len(hits) == 5


def test_sort_by_date_newest_first(engine):
    hits = engine.search("Hà Nội", sort="-date", limit=20)
    dates = [hit.published for hit in hits]
    assert dates == sorted(dates, reverse=True) and len(dates) >= 5


def test_long_query_still_returns_articles_matching_most_words(engine):
    hits = engine.search("giá bán rau xanh ở chợ Long Biên có tăng sau mưa bão không")
    assert ids(hits)[0] == "gia-rau-xanh"


def test_a_question_ranks_its_answer_above_an_article_with_all_its_words(tmp_path):
    answer = Article(id="answer", title="Mỹ Linh hát quốc ca tại sân Mỹ Đình",
                     body="Ca sĩ Mỹ Linh hát quốc ca trước trận chung kết tại sân Mỹ Đình tối qua.")
    chatter = Article(id="chatter", title="Một đêm bóng đá",
                      body="Ai đã từng đến sân Mỹ Đình đều nhớ không khí trận chung kết. Khán giả đến sớm, "
                           "đội tuyển ra sân, rồi quốc ca vang lên và cả khán đài hát theo. Tại khu vực phía "
                           "đông, các cổ động viên giương cờ và trống. Trận đấu kết thúc muộn, người hâm mộ "
                           "ở lại sân rất lâu.")
    with SearchEngine(tmp_path / "ix") as engine:
        engine.index([answer, chatter], jobs=1)
        # "chatter" has every word of the question, "ai" and "đã" too; "answer" says who.
        assert ids(engine.search("Ai đã hát quốc ca tại sân Mỹ Đình?")) == ["answer", "chatter"]
        assert ids(engine.search("ai da hat quoc ca tai san My Dinh?")) == ["answer", "chatter"]
        # Typed as keywords, articles with every word still come first.
        assert ids(engine.search("hát quốc ca sân Mỹ Đình khán giả")) == ["chatter", "answer"]


def test_only_a_query_typed_without_diacritics_loads_the_restoring_lexicon(engine, monkeypatch):
    from hnp_search.query import vocabulary

    loads = []
    load = vocabulary.load_lexicon
    monkeypatch.setattr(vocabulary, "load_lexicon", lambda *args: loads.append(1) or load(*args))
    with SearchEngine(engine.path, create=False) as fresh:
        fresh.search("giao thông Hà Nội năm nay")  # "giao", "nay" have no diacritics to type
        assert loads == []
        assert fresh.search("giao thong ha noi")
        assert loads == [1]


@pytest.mark.parametrize("query", ["date:31/02/2024", "date:2024-13", "date:2024-05-31..2024-05-01"])
def test_a_misused_date_operator_raises_one_error_type(engine, query):
    with pytest.raises(QuerySyntaxError):
        engine.search(query)


@pytest.mark.parametrize("query", ['"Hà Nội', "(Hà Nội", "Hà Nội)", "nope:Hà Nội", '“Hà Nội'])
def test_pasted_fragments_search_their_words(engine, query):
    assert [h.id for h in engine.search(query)] == [h.id for h in engine.search("Hà Nội")]


def test_reindexing_the_same_articles_adds_nothing(tmp_path, articles_path):
    with SearchEngine(tmp_path / "ix") as engine:
        first = engine.index([articles_path], jobs=1)
        second = engine.index([articles_path], jobs=1)
        assert (first.added, second.added, second.updated, second.skipped) == (10, 0, 0, 10)
        assert len(engine) == 10


def test_changed_article_is_replaced_by_id(tmp_path):
    with SearchEngine(tmp_path / "ix") as engine:
        engine.index([Article(id="a1", title="Chợ hoa Quảng An", body="Chợ hoa họp đêm.")], jobs=1)
        summary = engine.index([Article(id="a1", title="Chợ hoa Quảng Bá", body="Chợ hoa họp từ nửa đêm.")], jobs=1)
        assert (summary.added, summary.updated) == (0, 1)
        assert len(engine) == 1
        assert ids(engine.search("Quảng Bá")) == ["a1"]
        assert engine.search('"Quảng An"') == []


def test_a_part_of_a_hyphenated_token_finds_it_and_is_highlighted(tmp_path):
    with SearchEngine(tmp_path / "ix") as engine:
        engine.index([
            Article(id="c1", title="Thêm ca mắc Covid-19", body="Hà Nội ghi nhận 5 ca mắc Covid-19 tại TP.HCM về."),
            Article(id="c2", title="Tiêm vaccine", body="Người dân đi tiêm vaccine phòng Covid 19 hôm nay."),
        ], jobs=1)
        assert ids(engine.search("covid", limit=5)) == ["c1", "c2"]  # in the title too
        assert ids(engine.search('"ca mắc covid"')) == ["c1"]
        assert sorted(ids(engine.search('"covid 19"'))) == ["c1", "c2"]
        assert ids(engine.search("tp hcm")) == ["c1"]
        hit = engine.search("tp")[0]
        assert "tại [[TP]].HCM về" in hit.snippets[0].plain()
        hit = engine.search("covid")[0]  # "Covid-19" is in the synonyms list beside "covid": marked whole
        assert hit.title_snippet.plain() == "Thêm ca mắc [[Covid-19]]"
        assert engine.search('"covid-19"')[0].title_snippet.plain() == "Thêm ca mắc [[Covid-19]]"


def test_parallel_indexing_gives_the_same_index(tmp_path, engine, articles_path):
    with SearchEngine(tmp_path / "ix") as parallel:
        parallel.index([articles_path], jobs=2)
        for query in ("ha noi", "bàn", '"sông Tô Lịch"'):
            assert ids(parallel.search(query)) == ids(engine.search(query))


def test_person_filter_matches_the_name_with_its_diacritics(engine):
    hits = engine.search("", person="Nguyễn Văn Toàn")
    assert ids(hits) == ["vanh-dai-4-ban-giao"]
    assert hits[0].matched_persons == ("Nguyễn Văn Toàn",)
    assert engine.search("", person="Nguyễn Văn Toản") == []


def test_person_filter_without_diacritics_matches_every_folding_name(engine):
    assert ids(engine.search("person:\"nguyen van toan\"")) == ["vanh-dai-4-ban-giao"]
    assert ids(engine.search("giao thông", person="tran thi thu ha")) == ["metro-nhon-ga-ha-noi"]


def test_person_filter_combines_with_words_and_dates(engine):
    assert ids(engine.search('person:"Phạm Đức Thắng" ghi bàn date:2024')) == ["clb-ha-noi-thang"]
    assert engine.search('person:"Phạm Đức Thắng" date:2023') == []


def test_persons_facet_counts_articles_per_person(engine):
    facet = dict(engine.persons(top=50))
    assert facet["Nguyễn Văn Toàn"] == 1 and facet["Trần Thị Thu Hà"] == 1
    assert "Thu Trang" not in facet  # a byline, not a person the article names
    assert dict(engine.persons("bóng đá sân Hàng Đẫy")) == {"Phạm Đức Thắng": 1}


@pytest.mark.parametrize(
    ("query", "text", "marked"),
    [
        ('"a b" "b c"', "x a b c y", "x [[a b c]] y"),  # overlapping phrases
        ('"hà nội"', "Hà Nội, hà nội và Ha Noi", "[[Hà Nội]], [[hà nội]] và Ha Noi"),
        ('"ha noi"', "Hà Nội và Ha Noi, HÀ NỘI", "[[Hà Nội]] và [[Ha Noi]], [[HÀ NỘI]]"),
        ('"Hoà Bình"', "Hòa Bình và Hoà Bình; Hoa Binh", "[[Hòa Bình]] và [[Hoà Bình]]; Hoa Binh"),
        ("nguyễn", "NGUYỄN văn a, Nguyen", "[[NGUYỄN]] văn a, Nguyen"),
        ("muñoz", "Muñoz, Munoz", "[[Muñoz]], Munoz"),
        ("Путин", "Tổng thống Путин ở Hà Nội, путин", "Tổng thống [[Путин]] ở Hà Nội, [[путин]]"),  # folds to no ASCII
    ],
)
def test_matches_are_marked_however_the_text_spells_them(query, text, marked):
    assert Snippet(text, tuple(Matcher.from_tree(parse(query)).find(text))).marked() == marked


@pytest.fixture(scope="module")
def dantri_texts(shared) -> list[str]:
    path = shared / "corpora" / "dantri-unc.jsonl.gz"
    if not path.exists():
        pytest.skip(f"{path} not found")
    return [f"{a.title}\n{a.lead}\n{a.body}" for a in islice(read_articles(path), 200)]


def test_the_fast_fold_matches_the_exact_one_on_real_articles(dantri_texts):
    for text in dantri_texts:
        exact, fast = fold_lower(text), fold_ascii(text)
        assert len(fast) == len(text)
        assert all(f == e for f, e in zip(fast, exact) if e.isascii())


@pytest.mark.parametrize("query", ['"thành phố"', '"ha noi"', '"người dân"', '"bệnh viện"', '"Covid-19"',
                                   '"thành phố" "phố hà"', 'person:"Nguyễn Xuân Phúc"'])  # fmt: skip
def test_phrases_marked_from_a_first_scan_for_whole_phrases_as_by_a_full_scan(dantri_texts, query):
    regions, full = Matcher.from_tree(parse(query)), Matcher.from_tree(parse(query))
    full.find("")
    full._regions = None  # every syllable of the text, as for bare words
    found = [regions.find(text) for text in dantri_texts]
    assert found == [full.find(text) for text in dantri_texts]
    assert regions._regions is not None and sum(map(bool, found)) >= 3  # the phrases occur


@pytest.mark.parametrize("query", ["ha noi thanh pho", "nguoi dan", "19 covid", '"thành phố" "phố hà"', '"ha ha"'])
def test_matches_found_from_their_first_letters_are_those_a_look_behind_finds(dantri_texts, query):
    from hnp_search.highlight import _word_starts

    matcher = Matcher.from_tree(parse(query))
    matcher.find("")  # compiles its patterns
    for pattern, overlapping in ((matcher._pattern, False), (matcher._regions, True)):
        if pattern is None:
            continue
        behind = re.compile(rf"(?<!\w)(?=({pattern.pattern}))" if overlapping else rf"(?<!\w)({pattern.pattern})")
        for text in dantri_texts:
            folded = fold_ascii(text)
            expected = [m.span(1) for m in behind.finditer(folded)]
            assert [m.span() for m in _word_starts(pattern, folded, overlapping=overlapping)] == expected


@pytest.fixture(scope="module")
def xquad(shared, tmp_path_factory):
    """An engine over the 240 XQuAD-vi passages, and 400 of their questions (real Vietnamese questions)."""
    import json

    def rows(name):
        with (shared / "eval" / name).open(encoding="utf-8") as lines:
            return [json.loads(line) for line in lines if line.strip()]

    passages = [
        Article(id=r["id"], title=r["title"].replace("_", " "), body=r["body"]) for r in rows("xquad-vi-passages.jsonl")
    ]
    questions = [(r["query"].replace('"', " "), set(r["relevant"])) for r in rows("xquad-vi-queries.jsonl")[::3]]
    engine = SearchEngine(tmp_path_factory.mktemp("xquad") / "ix")
    engine.index(passages, jobs=1)
    yield engine, questions
    engine.close()


def mean_reciprocal_rank(engine, questions, typed=lambda q: q) -> float:
    total = 0.0
    for question, relevant in questions:
        found = [h.id for h in engine.search(typed(question), limit=10, highlight=False)]
        total += next((1 / rank for rank, i in enumerate(found, 1) if i in relevant), 0.0)
    return total / len(questions)


@pytest.mark.parametrize("form", ["accented", "unaccented"])
def test_questions_rank_their_answers_better_as_questions_and_with_telling_pairs(xquad, monkeypatch, form):
    from hnp_search.query import plan
    from hnp_search.retrieve import rank
    from hnp_search.text.normalize import fold

    engine, questions = xquad
    typed = (lambda q: q) if form == "accented" else fold
    ranked = mean_reciprocal_rank(engine, questions, typed)
    assert ranked > 0.93
    with monkeypatch.context() as m:
        # A question's title weighs a quarter, for news, whose articles of one story all name it in
        # their titles; a Wikipedia passage's title is its page's name, so here titles at full weight.
        m.setattr(plan, "QUESTION_TITLE_SHARE", 1.0)
        as_questions = mean_reciprocal_rank(engine, questions, typed)
        m.setattr(plan, "is_question", lambda text: False)  # every query ranked all-words-first
        all_words_first = mean_reciprocal_rank(engine, questions, typed)
        # Without diacritics more articles hold every word by chance ("dau" for "đầu").
        assert all_words_first < as_questions if form == "unaccented" else all_words_first <= as_questions
    with monkeypatch.context() as m:  # every pair side by side earning its full bonus
        m.setattr(rank, "_telling", lambda near, both: 1.0)
        assert mean_reciprocal_rank(engine, questions, typed) < ranked
