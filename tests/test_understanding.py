"""Query understanding: synonyms, syllables written together, questions, suggestions from context, explain, -word."""

import json

import pytest
from click.testing import CliRunner

from hnp_search import Article, SearchEngine, SynonymsError
from hnp_search.cli import main
from hnp_search.query import synonyms
from hnp_search.query.plan import is_question

ARTICLES = [
    Article(id="tphcm", title="TP.HCM giãn cách xã hội quận Gò Vấp",
            body=("UBND TP.HCM quyết định giãn cách xã hội quận Gò Vấp từ 0h ngày 31/5 để phòng chống dịch.")),
    Article(id="thanh-pho", title="Thành phố Hồ Chí Minh giãn cách toàn thành phố",
            body=("Thành phố Hồ Chí Minh giãn cách xã hội toàn thành phố theo Chỉ thị 16 trong 15 ngày.")),
    Article(id="ha-noi", title="Hà Nội giãn cách xã hội",
            body=("Người dân Hà Nội đeo khẩu trang nơi công cộng, hạn chế ra đường. "
                  "Hà Nội tăng cường xét nghiệm.")),
    Article(id="da-nang", title="Đà Nẵng đón khách du lịch trở lại",
            body=("Thành phố Đà Nẵng mở cửa các bãi biển, du lịch Đà Nẵng sôi động trở lại sau dịch.")),
    Article(id="mu", title="Manchester United thắng đậm Aston Villa",
            body=("Manchester United thắng 3-1 trên sân khách, Bruno Fernandes ghi bàn.")),
    Article(id="ubnd", title="Ủy ban nhân dân tỉnh Bắc Ninh họp báo",
            body=("Ủy ban nhân dân tỉnh Bắc Ninh công bố kế hoạch xét nghiệm cho công nhân khu công nghiệp.")),
    Article(id="covid", title="Việt Nam ghi nhận thêm ca mắc Covid-19",
            body=("Bộ Y tế ghi nhận thêm ca mắc Covid-19 trong cộng đồng tại Bắc Giang và Bắc Ninh.")),
    Article(id="ho-guom", title="Phố đi bộ quanh Hồ Hoàn Kiếm mở cửa lại",
            body=("Phố đi bộ quanh Hồ Hoàn Kiếm đón người dân cuối tuần sau thời gian tạm dừng.")),
]


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("understanding")
    with SearchEngine(path) as engine:
        engine.index(ARTICLES, jobs=1)
    return path


@pytest.fixture()
def engine(index_dir):
    with SearchEngine(index_dir, create=False) as engine:
        yield engine


def ids(results) -> list[str]:
    return [h.id for h in results]


# -- synonyms and abbreviations ---------------------------------------------------


@pytest.mark.parametrize("query", ["TP.HCM giãn cách", "TPHCM giãn cách", "TP HCM giãn cách",
                                   "Thành phố Hồ Chí Minh giãn cách", "tp ho chi minh gian cach"])
def test_every_name_of_the_city_finds_the_articles_of_every_other(engine, query):
    assert set(ids(engine.search(query))) >= {"tphcm", "thanh-pho"}


def test_the_form_typed_ranks_above_its_synonyms(engine):
    assert ids(engine.search("TP.HCM giãn cách"))[0] == "tphcm"
    assert ids(engine.search("Thành phố Hồ Chí Minh giãn cách"))[0] == "thanh-pho"


@pytest.mark.parametrize("query, found", [("MU thắng", "mu"), ("UBND Bắc Ninh", "ubnd"), ("covid19 Bắc Giang", "covid"),
                                          ("sars-cov-2 cộng đồng", "covid"), ("HN giãn cách", "ha-noi")])
def test_abbreviations_find_the_names_they_stand_for(engine, query, found):
    assert ids(engine.search(query))[0] == found


def test_synonyms_are_highlighted(engine):
    hit = engine.search("TPHCM Chỉ thị 16")[0]
    assert hit.id == "thanh-pho"
    assert "[[Thành phố Hồ Chí Minh]]" in hit.title_snippet.plain()


def test_a_synonyms_list_is_read_with_folded_syllables_and_forms_written_together():
    found = synonyms.load().find(["bộ", "gdđt", "và", "tp", "hcm"])
    assert [(start, end) for start, end, _ in found] == [(0, 2), (3, 5)]
    assert ("bo", "giao", "duc", "va", "dao", "tao") in found[0][2]
    assert ("tphcm",) in found[1][2] and ("sai", "gon") in found[1][2]


def test_a_users_synonyms_list_adds_to_the_built_in_one(index_dir, tmp_path, monkeypatch):
    mine = tmp_path / "mine.txt"
    mine.write_text("# my own\nHồ Gươm | Hồ Hoàn Kiếm\n", encoding="utf-8")
    with SearchEngine(index_dir, create=False) as plain:
        assert plain.explain("Hồ Gươm").all_words == 0
    with SearchEngine(index_dir, create=False, synonyms=mine) as engine:
        assert engine.explain("Hồ Gươm").all_words == 1
        assert ids(engine.search("phố đi bộ Hồ Gươm"))[0] == "ho-guom"
        assert ids(engine.search("TPHCM giãn cách"))[0] == "tphcm"  # the built-in list still applies
    monkeypatch.setenv(synonyms.ENVIRONMENT, str(mine))
    with SearchEngine(index_dir, create=False) as engine:
        assert ids(engine.search("Hồ Gươm mở cửa"))[0] == "ho-guom"


def test_a_bad_synonyms_list_is_an_error_naming_its_file_and_line(index_dir, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("Hồ Gươm | Hồ Hoàn Kiếm\nchỉ một dạng\n", encoding="utf-8")
    with SearchEngine(index_dir, create=False, synonyms=bad) as engine:
        with pytest.raises(SynonymsError, match=r"bad\.txt:2: a line needs at least two"):
            engine.search("Hồ Gươm")
    with pytest.raises(SynonymsError, match="cannot read"):
        synonyms.Synonyms.read(tmp_path / "missing.txt")


# -- syllables written together, questions ---------------------------------------------


def test_syllables_written_together_are_split_where_the_index_holds_the_word(engine):
    assert ids(engine.search("danang du lich"))[0] == "da-nang"
    explained = engine.explain("danang du lich").to_dict()
    assert explained["tree"]["syllables"][0]["corrections"] == [{"kind": "split", "reading": "da nang"}]
    assert engine.explain("du lich").to_dict()["tree"]["syllables"][0]["corrections"] == []  # held: read as typed


@pytest.mark.parametrize("text, asks", [
    ("vì sao trẻ dễ bị xâm hại", True), ("tàu ngầm có còn ai sống sót không", True), ("ai là người thắng", True),
    ("Ai Cập mở cửa du lịch", False), ("không khí lạnh tràn về", False), ("vi sao tre de bi xam hai", True),
    ("tau ngam co con ai song sot khong", True), ("khong co ai", False),
    ("phu nu may tuoi nen tiem vac xin", True), ("gia may giat", False), ("ha noi mua khi nao ket thuc", True),
    ("ban nha o dau", True), ("dau tu o Da Nang", False), ("ra sao", True),
])
def test_questions_are_told_from_statements(text, asks):
    assert is_question(text) is asks


# -- suggestions from context -------------------------------------------------------------------


@pytest.mark.parametrize("typed, meant", [
    ("khau trag", "khẩu trang"), ("khẩu trag", "khẩu trang"), ("Hà Nộj giãn cách", "Hà Nội giãn cách"),
    ("da nang du lich", "Đà Nẵng du lịch"), ("ddaf nawngx", "Đà Nẵng"),
])
def test_suggestions_restore_what_was_meant_from_neighbouring_words(engine, typed, meant):
    assert engine.suggest(typed) == meant


# -- explain, and the command line ----------------------------------------------------------------


def test_explain_shows_readings_corrections_synonyms_filters_and_tiers(engine):
    explained = engine.explain('khẩu trag "Hà Nội" TPHCM -covid', date_from="2021-05-01", date_to="2021-05-31")
    tree = explained.to_dict()["tree"]
    words, phrase, city, excluded = tree["parts"]
    assert [s["typed"] for s in words["syllables"]] == ["khẩu", "trag"]
    assert words["syllables"][1]["corrections"][0] == {"kind": "typo", "reading": "trang"}
    assert city["synonyms"][0]["typed"] == "tphcm" and "sai gon" in city["synonyms"][0]["forms"]
    assert phrase == {"kind": "phrase", "text": "Hà Nội", "exact": True}
    assert excluded["kind"] == "not"
    assert explained.filters == ("date from 2021-05-01 to 2021-05-31",)
    text = str(explained)
    assert "read as 'trang'" in text and "also finds" in text and "every word first" in text
    assert json.loads(json.dumps(explained.to_dict()))["query"] == 'khẩu trag "Hà Nội" TPHCM -covid'


def test_explain_says_what_was_reinterpreted_and_how_a_question_ranks(engine):
    explained = engine.explain('vì sao Hà Nội "giãn cách')
    assert explained.notes and "quote" in explained.notes[0]
    assert explained.ranking.startswith("a question")


def test_the_command_line_reads_a_leading_minus_word_as_an_exclusion(index_dir):
    runner = CliRunner()
    result = runner.invoke(main, ["search", "-covid", "Bắc", "Ninh", "--index-dir", str(index_dir), "--json"])
    assert result.exit_code == 0, result.output
    found = [h["id"] for h in json.loads(result.output)["hits"]]
    assert "ubnd" in found and "covid" not in found
    args = ["search", "-n", "1", "-covid", "Bắc", "Ninh", "--index-dir", str(index_dir), "--json"]
    result = runner.invoke(main, args)
    assert [h["id"] for h in json.loads(result.output)["hits"]] == ["ubnd"]


def test_the_command_line_explains_a_query(index_dir):
    runner = CliRunner()
    result = runner.invoke(main, ["search", "--explain", "ddaf nawngx", "TPHCM", "--index-dir", str(index_dir)])
    assert result.exit_code == 0, result.output
    assert "ddaf: weight 1.00" in result.output and "read as 'da' (Telex" in result.output
    assert "'sai gon'" in result.output
    result = runner.invoke(main, ["search", "--explain", "--json", "danang", "--index-dir", str(index_dir)])
    assert json.loads(result.output)["tree"]["syllables"][0]["typed"] == "danang"


# -- questions --------------------------------------------------------------------

STORY = [
    Article(id="tim-kiem", title="Indonesia mở rộng tìm kiếm tàu ngầm mất tích",
            body=("Tàu ngầm KRI Nanggala 402 của hải quân Indonesia mất tích ngoài khơi Bali khi đang tập trận. "
                  "Hải quân Indonesia có huy động tàu chiến tìm kiếm tàu ngầm mất tích, "
                  "không ai biết tàu còn ở đâu.")),
    Article(id="manh-vo", title="Indonesia tìm thấy mảnh vỡ của tàu ngầm mất tích",
            body=("Hải quân Indonesia tìm thấy mảnh vỡ được cho là của tàu ngầm mất tích. "
                  "Tàu ngầm Indonesia mất tích từ ngày 21/4, ai cũng lo cho 53 thủy thủ còn trên tàu, "
                  "không có tin mới.")),
    Article(id="oxy", title="Tàu ngầm Indonesia mất tích còn đủ oxy bao lâu",
            body=("Tàu ngầm mất tích của Indonesia có thể chỉ còn đủ oxy trong ba ngày, không ai dám chắc. "
                  "Hải quân Indonesia chạy đua với thời gian.")),
    Article(id="song-sot", title="Nanggala: lời tiễn biệt 53 thủy thủ",
            body=("Quân đội xác nhận 53 thủy thủ trên tàu ngầm mất tích đã thiệt mạng, không còn ai sống sót. "
                  "Tàu ngầm vỡ làm ba mảnh.")),
]


def test_a_question_weighs_the_words_every_article_of_a_story_holds_less(tmp_path):
    # The story's other articles all hold "tàu ngầm", "Indonesia", "mất tích", "còn", "ai"…:
    # what tells the answer apart is "sống sót", which only it holds.
    with SearchEngine(tmp_path) as engine:
        engine.index(STORY, jobs=1)
        found = ids(engine.search("tàu ngầm Indonesia mất tích có còn ai sống sót không"))
    assert found.index("song-sot") < found.index("tim-kiem")


TOWN = [
    Article(id="phao-hoa", title="Cửa Lò bắn pháo hoa khai trương mùa du lịch năm 2021",
            body=("Thị xã Cửa Lò tổ chức bắn pháo hoa tối 30/4 để khai trương mùa du lịch biển. "
                  "Nhiều khách sạn đã kín phòng dịp lễ.")),
    Article(id="le-hoi", title="Du lịch Cửa Lò năm 2021 có gì mới",
            body="Lễ hội du lịch biển diễn ra với nhiều hoạt động văn hóa, thể thao trên bãi biển."),
    Article(id="don-khach", title="Đón hơn 3,1 triệu lượt",
            body=("Năm 2021, du lịch Cửa Lò đón hơn 3,1 triệu lượt khách, tăng 20% so với năm trước, "
                  "doanh thu du lịch đạt hơn 4.000 tỷ đồng.")),
]


def test_a_question_looks_for_its_answer_in_the_text_more_than_in_titles(tmp_path):
    # Every title names the story ("Cửa Lò", "du lịch", "năm 2021"); only one text says how many came.
    with SearchEngine(tmp_path) as engine:
        engine.index(TOWN, jobs=1)
        assert ids(engine.search("du lịch Cửa Lò năm 2021 đón bao nhiêu khách"))[0] == "don-khach"
        assert ids(engine.search("du lich Cua Lo nam 2021 don bao nhieu khach"))[0] == "don-khach"
        assert ids(engine.search("du lịch Cửa Lò năm 2021"))[0] != "don-khach"  # not a question: titles count
