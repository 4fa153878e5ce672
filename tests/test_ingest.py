"""Reading articles: HNP page text, JSON Lines (plain and gzipped), folders, errors."""

import gzip
import json
import types
import unicodedata
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hnp_search.errors import IngestError
from hnp_search.ingest import Article, read_articles
from hnp_search.text.normalize import clean_text

SAMPLE_NAME = "so-van-hoa-the-thao-2024-05-07"
SAMPLE_TITLE = (
    "Ban Thường vụ Đảng ủy Khối các cơ quan Thành phố làm việc với "
    "Đảng ủy cơ quan Sở Văn hóa và Thể thao Hà Nội"
)


@pytest.fixture(scope="module")
def sample_text(shared) -> str:
    return (shared / "corpora" / "hnp-sample" / f"{SAMPLE_NAME}.txt").read_text(encoding="utf-8")


def read_one(path) -> Article:
    [article] = read_articles(path)
    return article


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def page(title="Hà Nội mở rộng phố đi bộ", date="08:30 01/06/2024", byline="Minh Anh") -> str:
    return (
        f"{title} ({date})\n\n"
        "HNP - Sáng 1/6, phố đi bộ Hoàn Kiếm mở rộng thêm 3 tuyến phố.\n\n"
        "Người dân đi dạo quanh hồ Gươm.\n\n"
        f"{byline}\n\nLatest news\n"
    )


def record(**fields) -> str:
    fields = {"id": "a1", "title": "Tiêu đề", "body": "Nội dung bài báo."} | fields
    return json.dumps(fields, ensure_ascii=False)


def collect(*paths):
    errors = []
    articles = list(read_articles(*paths, on_error=errors.append))
    return articles, [str(error) for error in errors]


# --- the HNP sample article ------------------------------------------------------------


def test_sample_article_parses_exactly(tmp_path, sample_text):
    article = read_one(write(tmp_path / f"{SAMPLE_NAME}.txt", sample_text))

    assert article.id == SAMPLE_NAME
    assert article.title == SAMPLE_TITLE
    assert article.published == datetime(2024, 5, 7, 22, 4)
    assert article.lead.startswith("Chiều 7/5, Ban Thường vụ Đảng ủy Khối")
    assert article.author == "Hoàng Điệp"
    assert article.url is None
    assert article.source == str(tmp_path / f"{SAMPLE_NAME}.txt")
    for boilerplate in ("Latest news", "Other news", "Capcha", "Write your comment", "Full name"):
        assert boilerplate not in article.body
    assert article.body.startswith("Đồng chí Doãn Trung Tuấn, Bí thư Đảng ủy Khối")
    assert article.body.endswith("Bí thư Đảng ủy Khối các cơ quan Thành phố nhấn mạnh.")
    assert "Hoàng Điệp" not in article.body
    assert article.lead not in article.body
    assert "\n\n" not in article.body and "\xa0" not in article.body
    subheading = "Xây dựng cơ chế đặc thù nhằm thu hút nguồn nhân lực chất lượng cao"
    assert subheading in article.body.split("\n")


def _without_footer(text: str) -> str:
    return text[: text.index("Latest news")]


def _with_extra_blank_lines(text: str) -> str:
    return "\n \n\xa0\n".join(text.split("\n")).replace("HNP - ", "\n\n\nHNP - ")


OLD_TONE_MARKS = {"hóa": "hoá", "Hóa": "Hoá", "khỏe": "khoẻ", "thủy": "thuỷ", "Thủy": "Thuỷ"}


def _old_tone_marks(text: str) -> str:
    for new, old in OLD_TONE_MARKS.items():
        text = text.replace(new, old)
    return text


VARIANTS = {
    "nfd": lambda text: unicodedata.normalize("NFD", text),
    "crlf": lambda text: text.replace("\n", "\r\n"),
    "bom": lambda text: "\ufeff" + text,
    "without-footer": _without_footer,
    "extra-blank-lines": _with_extra_blank_lines,
    "old-tone-marks": _old_tone_marks,
    "all-at-once": lambda text: "\ufeff" + unicodedata.normalize(
        "NFD", _with_extra_blank_lines(_without_footer(text))
    ).replace("\n", "\r\n"),
}


@pytest.mark.parametrize("rewrite", VARIANTS.values(), ids=VARIANTS.keys())
def test_rewritten_sample_parses_the_same(tmp_path, sample_text, rewrite):
    expected = read_one(write(tmp_path / "original" / f"{SAMPLE_NAME}.txt", sample_text))
    article = read_one(write(tmp_path / f"{SAMPLE_NAME}.txt", rewrite(sample_text)))

    same_text = _old_tone_marks if rewrite is _old_tone_marks else clean_text
    for name in ("id", "title", "lead", "author", "body"):
        assert getattr(article, name) == same_text(getattr(expected, name)), name
    assert article.published == expected.published


def test_sample_without_byline_has_no_author_and_same_body(tmp_path, sample_text):
    expected = read_one(write(tmp_path / "original" / f"{SAMPLE_NAME}.txt", sample_text))
    without_byline = sample_text.replace("\nHoàng Điệp\n", "\n")

    article = read_one(write(tmp_path / f"{SAMPLE_NAME}.txt", without_byline))

    assert article.author is None
    assert article.body == expected.body
    assert article.lead == expected.lead


# --- hnp-dantri: 2,653 real articles against the ground truth -------------------------------


@pytest.fixture(scope="module")
def dantri_pages(shared) -> dict[str, Article]:
    return {article.id: article for article in read_articles(shared / "corpora" / "hnp-dantri")}


def test_hnp_dantri_fields_match_ground_truth(shared, dantri_pages):
    with open(shared / "corpora" / "hnp-dantri-truth.jsonl", encoding="utf-8") as lines:
        truth = [json.loads(line) for line in lines]
    assert len(dantri_pages) == len(truth) == 2653

    def found(row, name):
        value = getattr(dantri_pages[row["id"]], name)
        return value.isoformat(timespec="minutes") if name == "published" else value

    def expected(row, name):
        value = row[name]
        return value if name == "published" or value is None else clean_text(value)

    accuracy = {}
    for name in ("title", "published", "lead", "author"):
        misses = [row["id"] for row in truth if found(row, name) != expected(row, name)]
        accuracy[name] = 1 - len(misses) / len(truth)
        print(f"{name:>9}: {accuracy[name]:.2%}  misses: {misses[:10]}")
    assert min(accuracy.values()) >= 0.99, accuracy


def test_hnp_dantri_body_is_the_jsonl_body_without_lead_and_byline(shared, dantri_pages):
    """dantri-unc.jsonl.gz holds the same articles: body = lead, paragraphs, byline."""
    compared = 0
    for article in read_articles(shared / "corpora" / "dantri-unc.jsonl.gz"):
        page_article = dantri_pages[article.id]
        paragraphs = [line.strip() for line in article.body.split("\n") if line.strip()]
        expected = paragraphs[1:-1] if page_article.author else paragraphs[1:]
        assert page_article.body == "\n".join(expected), article.id
        compared += 1
    assert compared == 2653


def test_dantri_jsonl_gz_gives_dates_urls_and_categories(shared):
    articles = read_articles(shared / "corpora" / "dantri-unc.jsonl.gz")
    first = next(articles)

    assert first.id == "news_business_001"
    assert first.title == "Vinamilk lọt Top 1.000 thương hiệu hàng đầu châu Á"
    assert first.published == datetime(2020, 10, 1)
    assert first.url.startswith("https://dantri.com.vn/kinh-doanh/vinamilk-lot-top-1000")
    assert first.category == "business"
    assert first.author is None and first.lead == ""
    assert first.body.startswith("Năm 2020, Vinamilk đã vượt qua")
    articles.close()


# --- page text errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "x.txt:1: empty file: no title line"),
        ("\n\n\xa0\n", "x.txt:1: empty file: no title line"),
        ("Hà Nội mở rộng phố đi bộ\n\nHNP - Sáng 1/6...\n",
         "x.txt:1: first line has no '(HH:MM DD/MM/YYYY)' date after the title"),
        ("\n\n" + page(date="08:30 31/02/2024"), "x.txt:3: impossible date (08:30 31/02/2024)"),
        ("Tin ngắn (08:30 01/06/2024)\n\nLatest news\n",
         "x.txt:1: expected a title, a date and then the article text"),
        ("Tin ngắn (08:30 01/06/2024)\n\nHNP -", "x.txt:1: expected a title, a date and then the article text"),
    ],
    ids=["empty", "blank-lines-only", "no-date", "31-february", "no-text", "cut-after-mark"],
)  # fmt: skip
def test_bad_page_text_is_reported_with_its_line(tmp_path, text, message):
    path = write(tmp_path / "x.txt", text)

    with pytest.raises(IngestError) as caught:
        list(read_articles(path))

    assert str(caught.value) == f"{tmp_path}/{message}"


def test_a_bare_hnp_mark_leads_the_paragraph_after_it(tmp_path):
    path = write(tmp_path / "tin.txt", page().replace("HNP - ", "HNP -\n\n"))

    assert read_one(path).lead == "Sáng 1/6, phố đi bộ Hoàn Kiếm mở rộng thêm 3 tuyến phố."


def test_page_without_hnp_mark_takes_first_paragraph_as_lead(tmp_path):
    path = write(tmp_path / "tin.txt", page().replace("HNP - ", ""))

    article = read_one(path)

    assert article.lead == "Sáng 1/6, phố đi bộ Hoàn Kiếm mở rộng thêm 3 tuyến phố."
    assert article.body == "Người dân đi dạo quanh hồ Gươm."
    assert article.author == "Minh Anh"


@pytest.mark.parametrize(
    ("last_line", "author"),
    [
        ("Hoàng Điệp", "Hoàng Điệp"),
        ("T.ThủyTheo DTrends", "T.ThủyTheo DTrends"),
        ("Theo Reuters", "Theo Reuters"),
        ("Theo Người lao động", None),
        ("Tổng hợp", None),
        ("Mi Vân (tổng hợp)", None),
        ("Công Bính - Ngô Linh", None),
        ("Hà Nội Đẹp Lắm.", None),
    ],
)
def test_byline_is_a_short_capitalized_last_line(tmp_path, last_line, author):
    article = read_one(write(tmp_path / "tin.txt", page(byline=last_line)))

    assert article.author == author
    assert article.body.endswith("hồ Gươm." if author else last_line)


def test_file_that_is_not_utf8_is_reported(tmp_path):
    path = tmp_path / "cu.txt"
    path.write_bytes(page().encode("cp1258", errors="replace"))

    articles, errors = collect(path)

    assert articles == []
    assert errors == [f"{path}: not UTF-8 text (invalid continuation byte at byte 1)"]


@settings(max_examples=200, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(st.characters(codec="utf-8"), max_size=300))
def test_any_page_text_parses_or_raises_ingest_error(tmp_path, text):
    path = write(tmp_path / "random.txt", text)
    try:
        [article] = read_articles(path)
    except IngestError:
        return
    assert article.title and article.published


# --- JSON Lines --------------------------------------------------------------------------

JSONL_LINES = [
    record(id="a1", date="2024-05-07", author="Hoàng Điệp", url="https://hanoi.org.vn/a1"),
    "",
    "{not json",
    '["a list"]',
    record(id="a4", body=["đoạn 1", "đoạn 2"]),
    record(id=""),
    record(id=5, published="2024-05-07T22:04", lead="Chiều 7/5", category="chinh-tri"),
    record(id="a7", title=""),
    record(id="a8", date="07/05/2024"),
    record(id="a9", title="Ho\u0300a Bi\u0300nh\r\nmo\u0309i", date=None, author=""),
]
JSONL_ERRORS = [
    "3: not JSON (Expecting property name enclosed in double quotes at column 2)",
    "4: expected a JSON object, got an array",
    "5: 'body' must be a string, not an array",
    "6: missing or empty 'id'",
    "8: missing or empty 'title'",
    "9: 'date' is not an ISO date: '07/05/2024'",
]


def _check_jsonl_result(path, articles, errors):
    assert [article.id for article in articles] == ["a1", "5", "a9"]
    first, second, third = articles
    assert first == Article(
        id="a1", title="Tiêu đề", body="Nội dung bài báo.", published=datetime(2024, 5, 7),
        author="Hoàng Điệp", url="https://hanoi.org.vn/a1", source=str(path),
    )  # fmt: skip
    assert second.published == datetime(2024, 5, 7, 22, 4)
    assert (second.lead, second.category, second.author) == ("Chiều 7/5", "chinh-tri", None)
    assert third.title == "Hòa Bình\nmỏi"
    assert third.published is None and third.author is None
    assert errors == [f"{path}:{error}" for error in JSONL_ERRORS]


def test_jsonl_reports_bad_lines_and_keeps_the_good_ones(tmp_path):
    path = write(tmp_path / "bai.jsonl", "\n".join(JSONL_LINES) + "\n")

    _check_jsonl_result(path, *collect(path))


def test_jsonl_gz_reads_like_jsonl(tmp_path):
    path = tmp_path / "bai.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as out:
        out.write("\n".join(JSONL_LINES))

    _check_jsonl_result(path, *collect(path))


def test_jsonl_without_on_error_stops_at_first_bad_line(tmp_path):
    path = write(tmp_path / "bai.jsonl", "\n".join(JSONL_LINES))
    articles = read_articles(path)

    assert next(articles).id == "a1"
    with pytest.raises(IngestError, match=r"bai\.jsonl:3: not JSON") as caught:
        next(articles)
    assert (caught.value.path, caught.value.line) == (str(path), 3)


def test_truncated_jsonl_gz_yields_articles_before_the_damage(tmp_path):
    path = tmp_path / "bai.jsonl.gz"
    lines = [record(id=f"a{n}", body=f"Nội dung số {n}. " * 50) for n in range(200)]
    data = gzip.compress("\n".join(lines).encode())
    path.write_bytes(data[: len(data) // 2])

    articles, errors = collect(path)

    assert 0 < len(articles) < 200
    assert [article.id for article in articles] == [f"a{n}" for n in range(len(articles))]
    assert len(errors) == 1
    assert errors[0].startswith(f"{path}: damaged or truncated gzip file (")


def test_jsonl_line_that_is_not_utf8_is_reported_with_its_line(tmp_path):
    path = tmp_path / "bai.jsonl"
    lines = [record(id="a1").encode(), b'{"id": "\xff"}', record(id="a3").encode()]
    path.write_bytes(b"\n".join(lines))

    articles, errors = collect(path)

    assert [article.id for article in articles] == ["a1", "a3"]
    assert errors == [f"{path}:2: not UTF-8 text (invalid start byte at byte 8)"]


# --- paths and folders -----------------------------------------------------------------------


def test_folder_is_read_recursively_in_sorted_order(tmp_path):
    write(tmp_path / "b.txt", page(title="Bài B"))
    write(tmp_path / "a.jsonl", record(id="a"))
    write(tmp_path / "c" / "c1.txt", page(title="Bài C1"))
    write(tmp_path / "c" / "d" / "d1.json", record(id="d1"))
    write(tmp_path / "notes.md", "không phải bài báo")
    write(tmp_path / ".hidden.txt", "không đọc")
    write(tmp_path / ".git" / "x.txt", "không đọc")

    articles, errors = collect(tmp_path)

    assert [article.id for article in articles] == ["a", "b", "c1", "d1"]
    assert errors == []


def test_several_paths_or_one_list_of_paths(tmp_path):
    first = write(tmp_path / "mot.txt", page(title="Bài một"))
    second = write(tmp_path / "hai.jsonl", record(id="hai"))

    assert [a.id for a in read_articles(first, str(second))] == ["mot", "hai"]
    assert [a.id for a in read_articles([first, second])] == ["mot", "hai"]
    assert [a.id for a in read_articles((str(first), second))] == ["mot", "hai"]


def test_missing_path_is_an_error(tmp_path):
    with pytest.raises(IngestError) as caught:
        list(read_articles(tmp_path / "khong-co.txt"))

    assert str(caught.value) == f"{tmp_path}/khong-co.txt: no such file or directory"


def test_with_on_error_reading_goes_on_after_a_missing_path(tmp_path):
    good = write(tmp_path / "co.txt", page())

    articles, errors = collect(tmp_path / "khong-co", good)

    assert [article.id for article in articles] == ["co"]
    assert errors == [f"{tmp_path}/khong-co: no such file or directory"]


def test_a_file_of_another_type_given_by_name_is_an_error(tmp_path):
    path = write(tmp_path / "bai.csv", "id,title\n")

    articles, errors = collect(path)

    assert articles == []
    assert errors == [f"{path}: not a .txt, .jsonl, .jsonl.gz or .json file"]


def test_reading_is_lazy(tmp_path):
    articles = read_articles(tmp_path / "khong-co.txt")

    assert isinstance(articles, types.GeneratorType)
    with pytest.raises(IngestError):
        next(articles)
