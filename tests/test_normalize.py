"""Normalization: folding every Vietnamese letter, canonical tone placement, cleaning raw text."""

import re
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hnp_search.text.normalize import (
    canonical_syllable,
    clean_text,
    fold,
    fold_ascii,
    fold_lower,
    has_diacritics,
    normalize_term,
)


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


# ---------------------------------------------------------------------------
# fold: every letter with a diacritic, lower and upper case
# ---------------------------------------------------------------------------

# Each of the 12 vowels a ă â e ê i o ô ơ u ư y with its 5 tones (huyền, sắc, hỏi, ngã,
# nặng) and, for ă â ê ô ơ ư, without a tone; then đ. Keyed by the ASCII letter it folds to.
# 66 + 1 = 67 lowercase letters, 134 with their capitals.
LETTERS_FOLDING_TO = {
    "a": "àáảãạ ăằắẳẵặ âầấẩẫậ",
    "e": "èéẻẽẹ êềếểễệ",
    "i": "ìíỉĩị",
    "o": "òóỏõọ ôồốổỗộ ơờớởỡợ",
    "u": "ùúủũụ ưừứửữự",
    "y": "ỳýỷỹỵ",
    "d": "đ",
}
LOWER_CASE_TABLE = [
    (letter, base) for base, letters in LETTERS_FOLDING_TO.items() for letter in letters.replace(" ", "")
]
FOLD_TABLE = LOWER_CASE_TABLE + [(letter.upper(), base.upper()) for letter, base in LOWER_CASE_TABLE]

BASE_VOWELS = "aăâeêioôơuưy"
TONE_MARKS = ("", "\u0300", "\u0301", "\u0309", "\u0303", "\u0323")  # none, huyền, sắc, hỏi, ngã, nặng


def test_fold_table_holds_every_vowel_with_every_tone_and_d_bar():
    built = {nfc(vowel + tone) for vowel in BASE_VOWELS for tone in TONE_MARKS} | {"đ"}
    built -= set("aeiouy")  # the six plain ASCII vowels carry no diacritic
    built |= {letter.upper() for letter in built}
    table = [letter for letter, _ in FOLD_TABLE]
    assert len(table) == 134
    assert len(set(table)) == 134
    assert set(table) == built
    assert all(len(letter) == 1 for letter in table)  # precomposed (NFC) letters


@pytest.mark.parametrize(("letter", "base"), FOLD_TABLE, ids=[letter for letter, _ in FOLD_TABLE])
def test_every_vietnamese_letter_folds_to_its_ascii_base(letter, base):
    assert fold(letter) == base
    assert has_diacritics(letter)


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Đảng ủy", "Dang uy"),
        ("Nguyễn", "Nguyen"),
        ("Thủ đô Hà Nội", "Thu do Ha Noi"),
        ("ĐƯỜNG PHỐ", "DUONG PHO"),
        ("Sở Văn hóa và Thể thao", "So Van hoa va The thao"),
        ("quyết định", "quyet dinh"),
        ("khuỷu tay", "khuyu tay"),
        ("người Việt", "nguoi Viet"),
    ],
    ids=lambda value: value,
)
def test_fold_removes_diacritics_from_whole_words(text, folded):
    assert fold(text) == folded


@pytest.mark.parametrize("text", ["Ha Noi", "GDP tang 2,4% (15/3/2024)", "", "  \n"])
def test_fold_leaves_ascii_text_alone(text):
    assert fold(text) == text
    assert not has_diacritics(text)


def test_fold_keeps_digits_punctuation_and_spacing():
    assert fold("Ngày 15/3/2024,  giá tăng 2,4%!\n") == "Ngay 15/3/2024,  gia tang 2,4%!\n"


# ---------------------------------------------------------------------------
# normalize_term: lowercase and canonical tone placement
# ---------------------------------------------------------------------------

TONE_PLACEMENT_PAIRS = [
    ("hoà", "hòa"),
    ("thuỷ", "thủy"),
    ("khoẻ", "khỏe"),
    ("Hoà Bình", "hòa bình"),
    ("loà", "lòa"),
    ("thoả", "thỏa"),
    ("uỷ", "ủy"),
    ("tuỳ", "tùy"),
]


@pytest.mark.parametrize(("old_style", "new_style"), TONE_PLACEMENT_PAIRS, ids=lambda value: value)
def test_old_and_new_tone_placement_normalize_to_the_same_term(old_style, new_style):
    assert normalize_term(old_style) == normalize_term(new_style) == new_style.lower()


@pytest.mark.parametrize(
    "word", ["quý", "giữ", "người", "hoàng", "huỳnh", "ngoài", "khuỷu", "gì", "quyết"]
)
def test_correctly_placed_tone_marks_stay_where_they_are(word):
    assert normalize_term(word) == word
    assert canonical_syllable(word) == word


def test_normalize_term_lowercases_capitals_and_fixes_tone_placement():
    assert normalize_term("HOÀ BÌNH") == "hòa bình"
    assert normalize_term("Quý I/2024") == "quý i/2024"
    assert normalize_term("ĐẢNG ỦY") == "đảng ủy"


@pytest.mark.parametrize(
    "text",
    ["Nguyễn", "hoà", "Hòa Bình", "thuỷ điện", "Đảng ủy", "người", "khuỷu", "quyết", "Ưu tiên"],
)
def test_nfd_and_nfc_input_normalize_the_same_after_clean_text(text):
    assert nfd(text) != text  # the test really feeds decomposed text
    assert normalize_term(clean_text(nfd(text))) == normalize_term(clean_text(text))
    assert normalize_term(clean_text(nfd(text))) == normalize_term(text)


# ---------------------------------------------------------------------------
# clean_text: the text we store and show
# ---------------------------------------------------------------------------

def test_clean_text_drops_a_leading_byte_order_mark():
    assert clean_text("\ufeffHà Nội") == "Hà Nội"


def test_clean_text_turns_crlf_into_lf():
    assert clean_text("Dòng một\r\nDòng hai\r\n") == "Dòng một\nDòng hai\n"


def test_clean_text_turns_a_lone_cr_into_lf():
    assert clean_text("Dòng một\rDòng hai") == "Dòng một\nDòng hai"
    assert clean_text("a\r\r\nb") == "a\n\nb"


@pytest.mark.parametrize(
    "zero_width",
    ["\u200b", "\u200c", "\u200d", "\ufeff"],
    ids=["zero-width-space", "zero-width-non-joiner", "zero-width-joiner", "bom-inside-text"],
)
def test_clean_text_removes_zero_width_characters_inside_text(zero_width):
    assert clean_text(f"Ng{zero_width}uyễn Văn{zero_width} A") == "Nguyễn Văn A"


def test_clean_text_turns_non_breaking_spaces_into_spaces():
    assert clean_text("Hà\u00a0Nội,\u00a07/5") == "Hà Nội, 7/5"


def test_clean_text_composes_decomposed_text():
    cleaned = clean_text(nfd("Nguyễn Thị Thuỷ, Đảng ủy"))
    assert cleaned == "Nguyễn Thị Thuỷ, Đảng ủy"
    assert unicodedata.is_normalized("NFC", cleaned)


def test_clean_text_keeps_case_tone_placement_and_spacing():
    text = "Thuỷ điện  Hoà Bình\n\tKHOẺ"
    assert clean_text(text) == text


@pytest.mark.parametrize(
    "zero_width", ["\u200b", "\u200d", "\ufeff", "\u00ad"], ids=["zwsp", "zwj", "bom", "soft-hyphen"]
)
def test_clean_text_output_is_nfc_even_when_a_zero_width_char_splits_a_letter(zero_width):
    # NFD "Nguyễn" with the zero-width character between the circumflex and the tilde.
    cleaned = clean_text(f"Nguye\u0302{zero_width}\u0303n")
    assert cleaned == "Nguy\u1ec5n"  # "Nguyễn", precomposed


# ---------------------------------------------------------------------------
# Properties
# ---------------------------------------------------------------------------

_LOWER_LETTERS = [letter for letter, _ in LOWER_CASE_TABLE] + list("aeiouybcdghklmnpqrstvx")
_LETTERS = _LOWER_LETTERS + [letter.upper() for letter in _LOWER_LETTERS]
# Text as it arrives: precomposed or decomposed letters, digits, ASCII punctuation, every kind
# of line end and space, zero-width characters. Each piece is a whole character (a base letter
# with its marks), so zero-width characters fall between letters, never inside one.
_PIECE = st.one_of(
    st.sampled_from(_LETTERS),
    st.sampled_from(_LETTERS).map(nfd),
    st.sampled_from(list("0123456789.,;:?!()/%-\"'")),
    st.sampled_from([" ", "  ", "\t", "\n", "\r", "\r\n", "\u00a0", "\u200b", "\u200c", "\u200d", "\ufeff"]),
)
vietnamese_text = st.lists(_PIECE, max_size=40).map("".join)


@given(vietnamese_text)
def test_clean_text_is_idempotent(text):
    assert clean_text(clean_text(text)) == clean_text(text)


@given(vietnamese_text)
def test_clean_text_output_is_nfc_without_cr_nbsp_or_zero_width_chars(text):
    cleaned = clean_text(text)
    assert unicodedata.is_normalized("NFC", cleaned)
    assert not any(char in cleaned for char in "\r\u00a0\u200b\u200c\u200d\ufeff")


@given(vietnamese_text)
def test_normalize_term_is_idempotent_on_vietnamese_text(text):
    term = normalize_term(clean_text(text))
    assert normalize_term(term) == term


@given(st.text())
def test_normalize_term_is_idempotent_on_any_text(text):
    term = normalize_term(clean_text(text))
    assert normalize_term(term) == term


@given(st.text())
def test_fold_is_idempotent(text):
    folded = fold(clean_text(text))
    assert fold(folded) == folded


@given(vietnamese_text)
def test_fold_of_vietnamese_text_is_ascii(text):
    folded = fold(clean_text(text))
    assert folded.isascii()
    assert not has_diacritics(folded)


@given(vietnamese_text)
def test_nfd_and_nfc_input_give_the_same_terms_after_clean_text(text):
    assert normalize_term(clean_text(nfd(text))) == normalize_term(clean_text(nfc(text)))
    assert fold(clean_text(nfd(text))) == fold(clean_text(nfc(text)))


@settings(max_examples=200)
@given(st.lists(st.sampled_from(TONE_PLACEMENT_PAIRS), min_size=1, max_size=8))
def test_old_tone_placement_anywhere_in_a_phrase_normalizes_like_the_new(pairs):
    old = " ".join(old_style for old_style, _ in pairs)
    new = " ".join(new_style for _, new_style in pairs)
    assert normalize_term(old) == normalize_term(new)


@given(st.one_of(vietnamese_text, st.text()))
def test_fold_ascii_is_fold_lower_where_that_is_ascii_else_a_placeholder_of_the_same_kind(text):
    text = clean_text(text)
    exact, fast = fold_lower(text), fold_ascii(text)
    assert len(fast) == len(text) and fast.isascii()
    for char, folded, quick in zip(text, exact, fast):
        assert quick == (folded if folded.isascii() else "_" if re.match(r"\w", char) else " ")


def test_fold_ascii_folds_vietnamese_and_its_punctuation():
    assert fold_ascii("“Đảng ủy” – HOÀ BÌNH… İzmir, Muñoz, 中文") == " dang uy    hoa binh  izmir, munoz, __"
