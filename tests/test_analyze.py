"""Analysis: index terms in four variants with exact character offsets, the Whoosh tokenizer."""

import re
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hnp_search.query.plan import is_question
from hnp_search.text.analyze import (
    COMMON_SYLLABLES,
    Terms,
    VietnameseAnalyzer,
    pair_filter,
    phrase_pair_bits,
    query_words,
    segment,
    terms,
)
from hnp_search.text.normalize import clean_text, fold, normalize_term

SAMPLE_NAME = "so-van-hoa-the-thao-2024-05-07"


@pytest.fixture(scope="module")
def sample_text(shared) -> str:
    return clean_text((shared / "corpora" / "hnp-sample" / f"{SAMPLE_NAME}.txt").read_text(encoding="utf-8"))


def tokens(text: str, variant: str = "s") -> list[tuple[str, int, int, int]]:
    """(text, pos, startchar, endchar) of every token; Whoosh reuses one Token object."""
    analyzer = VietnameseAnalyzer(variant)
    return [(t.text, t.pos, t.startchar, t.endchar) for t in analyzer(text, positions=True, chars=True)]


def words(text: str) -> list[str]:
    return [text[word.start : word.end] for word in segment(text)]


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


def assert_offsets_point_at_the_terms(text: str) -> None:
    """Every token's [startchar:endchar] slice is the text it was made from."""
    syllables = tokens(text, "s")
    for term, _, start, end in syllables:
        assert normalize_term(text[start:end]) == term, (text[start:end], term)
    assert [pos for _, pos, _, _ in syllables] == list(range(len(syllables)))
    assert [start for _, _, start, _ in syllables] == sorted(start for _, _, start, _ in syllables)

    for term, _, start, end in tokens(text, "sf"):
        assert fold(normalize_term(text[start:end])) == term

    for variant in ("w", "wf"):
        for term, _, start, end in tokens(text, variant):
            # syllables: split at spaces, hyphens, and dots unless between digits
            syllables = re.split(r"\s+|(?<=\w)-(?=\w)|(?<=\w)\.(?=[^\W\d])|(?<=[^\W\d])\.(?=\w)", text[start:end])
            joined = "_".join(normalize_term(syllable) for syllable in syllables)
            assert (fold(joined) if variant == "wf" else joined) == term, (text[start:end], term)


# ---------------------------------------------------------------------------
# Offsets
# ---------------------------------------------------------------------------

OFFSET_TEXTS = {
    "double-spaces": "Hà  Nội   mùa thu  rất đẹp.",
    "newlines": "Hà Nội\nmùa thu\n\nrất đẹp",
    "tabs": "Sở\tVăn hóa\tvà Thể thao",
    "leading-and-trailing-whitespace": "  \n Hà Nội \n\t ",
    "comma-glued": "Hà Nội, Huế, Đà Nẵng đều mưa.",
    "parentheses": "Thủ đô (Hà Nội) đón khách quốc tế.",
    "dates": "Chiều 7/5, ngày 15/3/2024, đã tổ chức 2.230 sự kiện.",
    "percent": "Giá vàng tăng 2,4%, lên 85,5 triệu đồng/lượng.",
    "quotes-and-ellipsis": "Mô hình “Chi bộ 4 tốt”; Thủ đô…",
    "question-and-exclamation": "Hà Nội ở đâu? Ở đây! Thật sao?",
    "old-tone-placement": "Thuỷ điện Hoà Bình vẫn khoẻ.",
    "upper-case": "ĐẢNG ỦY KHỐI CÁC CƠ QUAN THÀNH PHỐ",
    "abbreviations-and-urls": "TP.HCM có 48h mưa; xem https://hanoimoi.vn/abc?x=1 v.v...",
}


@pytest.mark.parametrize("text", OFFSET_TEXTS.values(), ids=OFFSET_TEXTS.keys())
def test_token_offsets_slice_back_to_the_token(text):
    assert_offsets_point_at_the_terms(text)


def test_token_offsets_skip_double_spaces_newlines_and_punctuation():
    text = "Hà  Nội,\n(Hà Nội) ngày 15/3/2024 tăng 2,4%."
    assert tokens(text) == [
        ("hà", 0, 0, 2),
        ("nội", 1, 4, 7),
        ("hà", 2, 10, 12),
        ("nội", 3, 13, 16),
        ("ngày", 4, 18, 22),
        ("15/3/2024", 5, 23, 32),
        ("tăng", 6, 33, 37),
        ("2,4", 7, 38, 41),
    ]
    assert tokens(text, "w") == [("hà_nội", 0, 0, 7), ("hà_nội", 1, 10, 16)]


def test_token_offsets_point_into_the_sample_article(sample_text):
    assert_offsets_point_at_the_terms(sample_text)
    assert len(tokens(sample_text)) > 1000


def test_token_offsets_shift_by_start_char():
    analyzer = VietnameseAnalyzer("s")
    spans = [(t.startchar, t.endchar) for t in analyzer("Hà Nội", chars=True, start_char=100)]
    assert spans == [(100, 102), (103, 106)]


def test_segment_returns_syllable_spans_inside_each_word():
    text = "Ông  Nguyễn Văn A nói."
    [ong, name, noi, dot] = segment(text)
    assert text[name.start : name.end] == "Nguyễn Văn A"
    assert [text[a:b] for a, b in name.syllables] == ["Nguyễn", "Văn", "A"]
    assert [text[a:b] for a, b in ong.syllables] == ["Ông"]
    assert [text[noi.start : noi.end], text[dot.start : dot.end]] == ["nói", "."]


# ---------------------------------------------------------------------------
# Unicode forms and tone placement
# ---------------------------------------------------------------------------

NFD_TEXTS = [
    "Nguyễn Thị Thuỷ khoẻ mạnh.",
    "Đảng ủy Khối các cơ quan Thành phố Hà Nội.",
    "Người dân đi dạo quanh hồ Gươm.",
    "Quý I/2024, kết nạp đảng 01 quần chúng.",
]


@pytest.mark.parametrize("text", NFD_TEXTS)
def test_nfd_and_nfc_input_give_the_same_terms_after_clean_text(text):
    assert nfd(text) != text
    assert terms(clean_text(nfd(text))) == terms(clean_text(text))


def test_nfd_sample_article_gives_the_same_terms_after_clean_text(sample_text):
    assert terms(clean_text(nfd(sample_text))) == terms(sample_text)


_WORDS = [
    "Hà Nội", "Hoà Bình", "Hòa Bình", "thuỷ điện", "thủy điện", "khoẻ", "khỏe", "Nguyễn",
    "người", "quyết định", "Đảng ủy", "ĐẢNG ỦY", "ở", "ý", "và", "quý", "7/5", "15/3/2024",
    "2,4%", "2.230", "(Hà Nội)", "Hà Nội,", "tổ chức", "văn hóa",
]
_SEPARATORS = [" ", "  ", "\n", "\t", ", ", ". ", "? ", "\n\n"]
phrases = st.lists(
    st.tuples(st.sampled_from(_WORDS), st.sampled_from(_SEPARATORS)).map("".join), max_size=12
).map("".join)


@settings(max_examples=60, deadline=None)
@given(phrases)
def test_nfd_and_nfc_input_analyze_the_same(text):
    assert terms(clean_text(nfd(text))) == terms(clean_text(text))


@settings(max_examples=60, deadline=None)
@given(phrases)
def test_offsets_hold_for_any_mix_of_words_spaces_and_punctuation(text):
    assert_offsets_point_at_the_terms(clean_text(text))


@pytest.mark.parametrize(
    ("old_style", "new_style"),
    [
        ("Thuỷ điện Hoà Bình vẫn khoẻ.", "Thủy điện Hòa Bình vẫn khỏe."),
        ("Tuỳ theo Uỷ ban, thoả thuận được ký.", "Tùy theo Ủy ban, thỏa thuận được ký."),
        ("Ông lão loà mắt.", "Ông lão lòa mắt."),
    ],
    ids=["thuy-hoa-khoe", "tuy-uy-thoa", "loa"],
)
def test_old_and_new_tone_placement_give_the_same_syllable_terms(old_style, new_style):
    old, new = terms(old_style), terms(new_style)
    assert old.s == new.s
    assert old.sf == new.sf


# ---------------------------------------------------------------------------
# Which terms are kept
# ---------------------------------------------------------------------------

def test_one_letter_words_are_kept():
    assert terms("Tôi ở Hà Nội và có ý kiến.").s == ["tôi", "ở", "hà", "nội", "và", "có", "ý", "kiến"]
    assert terms("Á, nóng quá!").s == ["á", "nóng", "quá"]
    assert terms("Bà ấy đã nói: ừ, ờ, ạ.").sf == ["ba", "ay", "da", "noi", "u", "o", "a"]


def test_folded_syllables_that_look_like_english_stop_words_are_kept():
    assert terms("Thế là bé ăn tô phở to.").sf == ["the", "la", "be", "an", "to", "pho", "to"]
    assert [t for t, *_ in tokens("Thế là bé ăn tô phở to.", "sf")] == ["the", "la", "be", "an", "to", "pho", "to"]


def test_a_trailing_question_mark_is_not_a_term():
    assert terms("Hà Nội ở đâu?") == Terms(
        s=["hà", "nội", "ở", "đâu"], sf=["ha", "noi", "o", "dau"], w=["hà_nội"], wf=["ha_noi"]
    )
    assert [(w.text, w.syllables) for w in query_words("Hà Nội ở đâu?")] == [
        ("Hà Nội", ("hà", "nội")),
        ("ở", ("ở",)),
        ("đâu", ("đâu",)),
    ]


def test_numbers_and_dates_stay_whole_terms():
    assert terms("Chiều 7/5 có 2.230 sự kiện, tăng 2,4% so với 15/3/2024.").s == [
        "chiều", "7/5", "có", "2.230", "sự", "kiện", "tăng", "2,4", "so", "với", "15/3/2024",
    ]


def test_hyphens_and_dots_between_letters_split_a_token_into_syllables():
    result = terms("Ca mắc Covid-19 tại TP.HCM, biến thể SARS-CoV-2; giá 2.230 đồng.")
    assert result.s == [
        "ca", "mắc", "covid", "19", "tại", "tp", "hcm", "biến", "thể", "sars", "cov", "2", "giá", "2.230", "đồng",
    ]
    assert {"covid_19", "tp_hcm", "sars_cov_2"} <= set(result.w)


def test_multi_syllable_words_are_joined_with_underscores():
    assert terms("Thành phố Hồ Chí Minh mùa mưa.") == Terms(
        s=["thành", "phố", "hồ", "chí", "minh", "mùa", "mưa"],
        sf=["thanh", "pho", "ho", "chi", "minh", "mua", "mua"],
        w=["thành_phố", "hồ_chí_minh"],
        wf=["thanh_pho", "ho_chi_minh"],
    )


def test_single_syllable_words_are_not_word_terms():
    result = terms("Hà Nội mùa thu.")
    assert result.w == ["hà_nội"]
    assert result.wf == ["ha_noi"]
    assert "mùa" not in result.w and "thu" not in result.w


@pytest.mark.parametrize("variant", ["s", "sf", "w", "wf"])
def test_analyzer_yields_the_same_terms_as_terms(variant, sample_text):
    expected = getattr(terms(sample_text), variant)
    assert [text for text, *_ in tokens(sample_text, variant)] == expected


def test_analyzer_passes_precomputed_terms_through_with_positions():
    analyzer = VietnameseAnalyzer("w")
    assert [(t.text, t.pos) for t in analyzer(["hà_nội", "mùa_thu"], positions=True)] == [
        ("hà_nội", 0),
        ("mùa_thu", 1),
    ]


def test_unknown_analyzer_variant_is_refused():
    with pytest.raises(ValueError, match="unknown variant"):
        VietnameseAnalyzer("x")


# ---------------------------------------------------------------------------
# Nothing in, nothing out
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["", " ", "   ", "\n", "\n\n\t \n"], ids=repr)
def test_empty_and_whitespace_only_text_give_no_tokens(text):
    assert segment(text) == []
    assert terms(text) == Terms([], [], [], [])
    assert query_words(text) == ()
    for variant in ("s", "sf", "w", "wf"):
        assert tokens(text, variant) == []


def test_punctuation_only_text_gives_no_terms():
    assert terms("?! … , ( ) “ ”") == Terms([], [], [], [])
    assert query_words("?!") == ()


@pytest.mark.parametrize(
    "query, asked",
    [
        ("Ai là người hát quốc ca", True),
        ("Tesla chết năm nào", True),
        ("Hồ Tây ở đâu", True),
        ("có bao nhiêu quận", True),
        ("co bao nhieu quan", True),
        ("tai sao gia rau tang", True),
        ("hồ tây rộng bao nhiêu?", True),
        ("ha noi o dau?", True),
        ("Ai Cập", False),  # a country, not "who"
        ("Hà Nội mùa thu", False),
        ("ha noi o dau", True),  # "o dau": "ở đâu", though "dau" alone may as well be "đầu" or "dầu"
        ("gia dau tang", False),
        ("tai bien mach mau nao", False),  # "nao" may as well be "não"
    ],
)
def test_questions_are_told_by_their_question_words_or_mark(query, asked):
    assert is_question(query) is asked


COMMON = sorted(COMMON_SYLLABLES)


def filter_bits(article_filter: bytes) -> set[int]:
    value = int.from_bytes(article_filter, "little")
    return {bit for bit in range(len(article_filter) * 8) if value >> bit & 1}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.sampled_from(COMMON + ["odinga", "hoan", "kiem"]), max_size=40), min_size=1, max_size=3))
def test_every_phrase_of_an_article_passes_its_pair_filter(fields):
    bits = filter_bits(pair_filter(fields))
    for syllables in fields:
        for n in (2, 3):
            for i in range(len(syllables) - n + 1):
                assert phrase_pair_bits(syllables[i : i + n]) <= bits, syllables[i : i + n]


def test_the_pair_filter_turns_away_most_pairs_an_article_lacks(sample_text):
    folded = terms(sample_text).sf
    bits = filter_bits(pair_filter([folded]))
    present = set(zip(folded, folded[1:]))
    absent = [[a, b] for a in COMMON for b in COMMON if (a, b) not in present]
    passing = sum(phrase_pair_bits(pair) <= bits for pair in absent)
    assert len(present & {(a, b) for a in COMMON for b in COMMON}) > 20  # the article has common pairs
    assert passing < 0.2 * len(absent), (passing, len(absent))  # 12% at its 217 pairs


def test_only_pairs_of_common_syllables_side_by_side_go_into_the_pair_filter():
    assert phrase_pair_bits(["ho", "guom"]) == set()  # "guom" is not common: any article may hold it
    assert phrase_pair_bits(["co", "the"])
    assert pair_filter([["co", "odinga", "the"], ["co"], ["the"]]) == bytes(len(pair_filter([])))
