"""Queries typed as people type: Telex or VNI left in, wrong tones, one-letter typos."""

import pytest

from hnp_search.query.telex import decode_telex, decode_vni, decodings
from hnp_search.query.typos import Corrector, misspelled, one_edit
from hnp_search.text.normalize import fold


@pytest.mark.parametrize(
    "typed, meant",
    [("hoaf", "hòa"), ("binhf", "bình"), ("dduwowngf", "đường"), ("vieetj", "việt"), ("nguwowif", "người"),
     ("khoong", "không"), ("thw", "thư"), ("quys", "quý"), ("giuwx", "giữ"), ("nawngx", "nẵng")],
)
def test_telex_keystrokes_decode_to_the_syllable(typed, meant):
    assert decode_telex(typed) == meant


@pytest.mark.parametrize("typed, meant", [("vie65t", "việt"), ("d9uo7ng2", "đường"), ("hoa2", "hòa"), ("no65i", "nội")])
def test_vni_keystrokes_decode_to_the_syllable(typed, meant):
    assert decode_vni(typed) == meant


@pytest.mark.parametrize("word", ["linh", "minh", "covid", "2020", "covid19", "hà"])
def test_words_that_are_no_keystrokes_have_no_decoding(word):
    assert decodings(word) == []


def test_one_edit_means_one_insertion_deletion_substitution_or_swap():
    assert one_edit("trang", "trag") and one_edit("sat", "saet") and one_edit("oscar", "oscra")
    assert not one_edit("trang", "trang") and not one_edit("trang", "tnarg") and not one_edit("abc", "cab")


def test_corrections_are_the_most_frequent_known_terms_one_edit_away():
    corrector = Corrector({"trang": 1313, "trai": 953, "tra": 904, "tong": 5})
    assert corrector.corrections("trag") == [("trang", 1313), ("trai", 953), ("tra", 904)]
    assert corrector.corrections("xy") == []  # too short to tell


@pytest.mark.parametrize(
    "typed, meant",
    [("hoof taay", "Hồ Tây"), ("Hồ Tay", "Hồ Tây"), ("Hố Tây", "Hồ Tây"), ("sông Tô Lịhc", "sông Tô Lịch"),
     ("soong Too Lichj", "sông Tô Lịch")],
)
def test_a_mistyped_query_finds_what_the_meant_one_finds_first(engine, typed, meant):
    assert engine.search(typed)[0].id == engine.search(meant)[0].id


@pytest.mark.parametrize(
    "typed, article, marked",
    [("hoaf binhf", "thuy-loi-hoa-binh", "[[Hoà Bình]] và"),  # Telex
     ("soong Too Lichj", "song-to-lich", "[[sông Tô Lịch]]"),  # Telex, with capitals
     ("sông Tô Lịhc", "song-to-lich", "[[sông Tô Lịch]]"),  # a typo typed with diacritics
     ("hotay mua thu", "ho-tay-mua-thu", "[[Hồ Tây]]")],  # two syllables written together
)
def test_syllables_read_otherwise_than_typed_are_highlighted_in_title_and_snippets(engine, typed, article, marked):
    hit = next(h for h in engine.search(typed) if h.id == article)
    assert marked in hit.title_snippet.plain()
    meant = fold(marked[2 : marked.index("]]")]).lower()
    if meant in fold(hit.article.body).lower():
        assert meant in {fold(s.text[a:b]).lower() for s in hit.snippets for a, b in s.matches}


@pytest.mark.parametrize("typed, meant", [("Hồ Tâj", "tây"), ("Hà Nộk", "nội"), ("sông Tô Lịhc", "lịch")])
def test_a_typo_typed_with_diacritics_is_read_as_the_spelling_one_edit_away(engine, typed, meant):
    results = engine.search(typed)
    assert results.total_all_words and results[0].all_words
    assert results[0].id == engine.search(typed.replace(typed.split()[-1], meant))[0].id
    assert f"read as '{meant}'" in str(engine.explain(typed))


@pytest.mark.parametrize("typed, article", [("chợ đầu mối", "gia-rau-xanh"), ("bạn trẻ", "ban-tre-tinh-nguyen")])
def test_a_spelling_typed_as_the_index_holds_it_beside_its_neighbour_is_required(engine, typed, article):
    # "chợ" beside "đầu" is in the index: an article with "cho" (or "chỗ") and "đầu" lacks a word.
    results = engine.search(typed)
    assert [h.id for h in results if h.all_words] == [article]
    assert "the index holds it so beside its neighbour" in str(engine.explain(typed))


def test_a_wrong_tone_the_index_does_not_hold_beside_its_neighbour_still_finds_every_word(engine):
    results = engine.search("Hố Tây đầu thu")  # "Hồ Tây"
    assert results[0].id == "ho-tay-mua-thu" and results[0].all_words


def test_a_spelling_required_as_typed_is_highlighted_only_as_typed():
    from hnp_search.highlight import Matcher, Snippet
    from hnp_search.query.parse import parse
    from hnp_search.query.plan import plan_words

    articles = {"gian": 1200, "cach": 900}  # folded syllables, and the spellings typed below
    spelled = {"giãn": 100, "cách": 800}

    def plan(node):
        return plan_words(node, known=lambda s: articles.get(s, 0), held=lambda s: spelled.get(s, 0),
                          side_by_side=lambda a, b, enough=1: int((a, b) == ("giãn", "cách")))

    text = "Thời gian cách ly là 28 ngày. Cần giãn cách triệt để, thay đổi cách làm."
    found = Matcher.from_tree(parse("giãn cách"), plan).find(text)
    marked = "Thời gian cách ly là 28 ngày. Cần [[giãn cách]] triệt để, thay đổi cách làm."
    assert Snippet(text, tuple(found)).marked() == marked


@pytest.mark.parametrize(
    "syllable, wrong",
    [("mặy", True), ("bắy", True), ("độg", True), ("bạk", True), ("mảt", True), ("ăy", True), ("bấ", True),
     ("mặt", False), ("trụ", False), ("phéo", False), ("người", False), ("nghiêng", False), ("quấy", False),
     ("khuỷu", False), ("giữa", False), ("ỡ", False), ("zoé", False)],
)
def test_misspelled_syllables_break_vietnamese_spelling(syllable, wrong):
    assert misspelled(syllable) is wrong


def test_a_misspelling_of_known_letters_is_read_as_the_spelling_beside_its_neighbour():
    from hnp_search.query.parse import parse
    from hnp_search.query.plan import plan_words
    from hnp_search.query.vocabulary import Lexicon

    folded = {"lat": 50, "mat": 900, "may": 700, "tau": 80, "vu": 60, "tru": 40}
    spelled = {"lật": 50, "mặt": 300, "máy": 600, "tàu": 80, "vũ": 60}  # "trụ": a word this index lacks
    lexicon = Lexicon({s: s for s in folded})

    def readings(text):
        plan = plan_words(parse(text), lambda: lexicon, known=lambda s: folded.get(s, 0),
                          held=lambda s: spelled.get(s, 0),
                          side_by_side=lambda a, b, enough=1: int((a, b) == ("lật", "mặt")))
        return {r.typed: [m for _, m in r.corrections] for r in plan.readings}

    assert readings("lật mặy")["mặy"] == ["mặt"]  # not the commoner "máy": "lật mặt" is in the index
    assert readings("mặy")["mặy"] == ["máy", "mặt"]  # no neighbour to tell: the commonest first
    assert readings("tàu vũ trụ")["trụ"] == []  # spelled as Vietnamese is: not a typo


@pytest.mark.parametrize(
    "typed, form",
    [("5560", "5.560"), ("5,560", "5.560"), ("1234567", "1.234.567"), ("6.67", "6,67"), ("3000", "3.000"),
     ("1219,75", "1.219,75"), ("1219.75", "1.219,75"),
     ("2021", None), ("0123", None), ("5.560", None), ("12,5", None), ("²³⁴⁵⁶", None)],
)
def test_numbers_are_also_read_as_vietnamese_text_writes_them(typed, form):
    from hnp_search.query.plan import number_forms

    assert number_forms(typed, known=lambda s: 1) == ([("number", (form,))] if form else [])
    assert number_forms(typed, known=lambda s: 0) == []  # only where the index holds that form


def test_a_day_typed_with_a_hyphen_also_finds_it_as_news_writes_it():
    from hnp_search.query.parse import parse
    from hnp_search.query.plan import plan_words

    held = {"30/4": 250, "1/5": 170}  # "2/1" is in no article: the score "2-1" finds only itself

    def expansions(text):
        plan = plan_words(parse(text), known=lambda s: held.get(s, 0))
        return [(e.typed, e.forms, e.kind) for e in plan.expansions]

    assert expansions("Nội Bài đón khách dịp 30-4 1-5") == [("30 4", ("30/4",), "date"), ("1 5", ("1/5",), "date")]
    assert expansions("MU thắng 2-1") == expansions("ngày 30/4") == expansions("mã 130-45") == []


def test_a_spelling_beside_its_neighbour_is_required_unless_another_stands_there_far_more_often():
    from hnp_search.query.parse import parse
    from hnp_search.query.plan import plan_words

    folded = {"gian": 1200, "cach": 900, "doi": 1500, "so": 1400, "chuyen": 900}
    spelled = {"giãn": 100, "gian": 1100, "cách": 800, "đôi": 400, "đổi": 800, "đội": 900, "số": 1300, "chuyển": 900}
    pairs = {("giãn", "cách"): 20, ("gian", "cách"): 19, ("đôi", "số"): 1, ("đổi", "số"): 20, ("chuyển", "đổi"): 20}

    def exact(text):
        plan = plan_words(parse(text), known=lambda s: folded.get(s, 0), held=lambda s: spelled.get(s, 0),
                          side_by_side=lambda a, b, enough=1: min(pairs.get((a, b), 0), enough))
        return [r.typed for r in plan.readings if r.exact]

    assert exact("giãn cách") == ["giãn", "cách"]  # "thời gian cách ly" is common, but not more so
    assert exact("chuyển đôi số") == ["số"]  # "gấp đôi số" exists, "chuyển đổi số" is what is meant
