"""Word segmentation: underthesea's tokenizer and model read from its files, the tagger scored here.

Its tags agree with underthesea's.
"""

import random
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hnp_search.text import segment as segmentation
from hnp_search.ingest import read_articles
from hnp_search.text.normalize import clean_text
from hnp_search.text.segment import segment

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
SAMPLE_NAME = "so-van-hoa-the-thao-2024-05-07"


@pytest.fixture(scope="module")
def sample_text(shared) -> str:
    return clean_text((shared / "corpora" / "hnp-sample" / f"{SAMPLE_NAME}.txt").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def underthesea_tagger():
    """underthesea's own featurizer and tagger (its Rust extension), loaded through its package."""
    return segmentation._load_package()[2]


def words(text: str) -> list[str]:
    return [text[word.start : word.end] for word in segment(text)]


def model_tokens(texts) -> list[list[str]]:
    """The token sentences the tagger sees for these texts, as ``segment`` makes them."""
    segmenter = segmentation._segmenter()
    sentences = []
    for text in texts:
        for m in segmentation._SENTENCE.finditer(text):
            spans = [(t.start(), t.end()) for t in segmenter._patterns.finditer(m.group())]
            if spans:
                sentences.append(segmenter._tokens(m.group(), spans))
    return sentences


# ---------------------------------------------------------------------------
# Agreement with underthesea's word_tokenize
# ---------------------------------------------------------------------------

REAL_SENTENCES = [
    (
        "HNP - Chiều 7/5, Ban Thường vụ Đảng ủy Khối các cơ quan thành phố Hà Nội làm việc với "
        "Đảng ủy cơ quan Sở Văn hóa và Thể thao Hà Nội về kết quả thực hiện công tác xây dựng "
        "Đảng năm 2023, quý I/2024; nhiệm vụ trọng tâm 9 tháng cuối năm 2024; Việc xây dựng kế "
        "hoạch khắc phục khuyết điểm, hạn chế sau kiểm điểm năm 2023."
    ),
    (
        "Tổ chức hiệu quả, sáng tạo 2.230 sự kiện với quy mô khác nhau; nhiều sự kiện mang tính "
        "quốc tế có quy mô lớn thu hút sự quan tâm của đông đảo khán giả trong, ngoài nước."
    ),
    "Sáng 1/6, phố đi bộ Hoàn Kiếm mở rộng thêm 3 tuyến phố.",
    "Người dân đi dạo quanh hồ Gươm.",
    "Bác sĩ bây giờ có thể thản nhiên báo tin bệnh nhân bị ung thư",
    "Giá vàng tăng 2,4%, lên 85,5 triệu đồng/lượng vào ngày 15/3/2024!",
]


@pytest.mark.parametrize("sentence", REAL_SENTENCES, ids=lambda s: s[:30])
def test_segmentation_agrees_with_word_tokenize(sentence):
    from underthesea import word_tokenize

    assert words(sentence) == word_tokenize(sentence)


def test_segmentation_agrees_with_word_tokenize_on_every_sentence_of_the_sample(sample_text):
    from underthesea import sent_tokenize, word_tokenize

    sentences = [s for line in sample_text.splitlines() if line.strip() for s in sent_tokenize(line)]
    assert len(sentences) > 20
    for sentence in sentences:
        assert words(sentence) == word_tokenize(sentence), sentence


def test_segmentation_keeps_the_original_text_where_word_tokenize_rewrites_it():
    from underthesea import word_tokenize

    sentence = "Thuỷ điện Hoà Bình vẫn khoẻ."
    assert word_tokenize(sentence) == ["Thủy", "điện", "Hòa Bình", "vẫn", "khỏe", "."]
    assert words(sentence) == ["Thuỷ", "điện", "Hoà Bình", "vẫn", "khoẻ", "."]


# ---------------------------------------------------------------------------
# The tagger scored here against underthesea's
# ---------------------------------------------------------------------------


def assert_same_tags(sentences, theirs) -> None:
    ours = segmentation._segmenter()._tagger
    assert isinstance(ours, segmentation.CRFTagger)
    for sentence, mine, expected in zip(sentences, ours.tag(sentences), theirs.tag(sentences), strict=True):
        assert mine == expected, sentence


def test_tags_are_underthesea_s_on_every_sentence_of_the_shipped_corpus(underthesea_tagger):
    articles = list(read_articles(CORPUS))
    sentences = model_tokens(text for a in articles for text in (a.title, a.lead, a.body))
    assert sum(map(len, sentences)) > 10_000
    assert_same_tags(sentences, underthesea_tagger)


def test_tags_are_underthesea_s_on_real_articles(shared, underthesea_tagger):
    """150 dantri articles, ~130k tokens (the whole corpus, 2.0 M tokens, agreed when measured)."""
    import gzip
    import json

    with gzip.open(shared / "corpora" / "dantri-unc.jsonl.gz", "rt", encoding="utf-8") as lines:
        records = [json.loads(line) for _, line in zip(range(150), lines)]
    sentences = model_tokens(clean_text(r["title"] + "\n" + r["body"]) for r in records)
    assert_same_tags(sentences, underthesea_tagger)


# Tokens where the featurizer's functions are easy to get wrong: numbers that do and do
# not parse as 32-bit integers, case-changing letters, the edge markers as real text.
EDGE_TOKENS = [
    "BOS", "EOS", "bos", "True", "False", "+5", "-0", "007", "2147483647", "2147483648", "-2147483648",
    "2.230", "1/6", "ß", "İstanbul", "ΣΟΦΙΑ", "ǅ", "Ǆ", "ǆ", "ﬁ", "'", "Hà", "Nội", "hà", "nội", "HÀ", "NỘI",
    "Thành", "phố", "sinh", "viên", "đi", "học", "UBND", "TP", "HCM", ".", ",", "…", "Covid-19", "x",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.sampled_from(EDGE_TOKENS), min_size=1, max_size=7), min_size=1, max_size=4))
def test_tags_are_underthesea_s_for_any_sentence_of_tricky_tokens(underthesea_tagger, sentences):
    assert_same_tags(sentences, underthesea_tagger)


def test_sentences_of_one_and_two_tokens_read_the_edges_as_underthesea_does(underthesea_tagger):
    rng = random.Random(7)
    sentences = [[rng.choice(EDGE_TOKENS) for _ in range(n)] for n in (1, 1, 2, 2, 3) for _ in range(40)]
    assert_same_tags(sentences, underthesea_tagger)


# ---------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------


def test_segmentation_loads_without_running_underthesea_s_package():
    script = "import sys; from hnp_search.text.analyze import segment; segment('Hà Nội'); "
    script += "print('underthesea' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert run.stdout == "False\n"


def test_the_tokenizer_read_from_files_is_underthesea_s_own():
    patterns, token_normalize, _ = segmentation._load_files()
    their_patterns, their_normalize, _ = segmentation._load_package()
    assert patterns.pattern == their_patterns.pattern and patterns.flags == their_patterns.flags
    tokens = ["Hoà", "thuỷ", "òa", "hòa", "Ðà", "ko", "k", "đc", "Hà", "Nội", "Covid-19", "2.230", "Đảng", "ủy"]
    assert [token_normalize(t) for t in tokens] == [their_normalize(t) for t in tokens]


def test_a_file_that_is_not_a_two_label_crfsuite_model_is_refused():
    templates, dictionary = ["T[0]"], set()
    for data in (b"", b"not a model at all" * 10, b"lCRF" + bytes(60)):
        with pytest.raises(ValueError):
            segmentation.CRFTagger(templates, dictionary, data)


def test_a_feature_template_it_cannot_score_is_refused():
    model = segmentation._model_dir() / "models.bin"
    for template in ("T[0].upper", "T[-1,2]", "T[-3]", "T[3,4]", "T[0,1].isdigit", "W[0]"):
        with pytest.raises(ValueError, match="unsupported feature template"):
            segmentation.CRFTagger([template], set(), model.read_bytes())


def test_segmentation_falls_back_to_underthesea_s_own_loading_when_its_files_move(monkeypatch):
    from underthesea.pipeline import word_tokenize as module

    text = "Thành phố Hà Nội mở rộng phố đi bộ quanh hồ Gươm. Hoà bình, thuỷ lợi."
    monkeypatch.setattr(segmentation, "_MODEL", "no-such-model")
    fallback = segmentation._Segmenter()
    assert isinstance(fallback._tagger, segmentation.PackageTagger)
    assert fallback._tagger.model is module.word_tokenize_model
    assert fallback.segment(text) == segment(text)
