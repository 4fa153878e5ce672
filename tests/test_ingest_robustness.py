"""Bad input (issue 7): a folder of good articles plus one kind of broken file is indexed,
the broken file reported once as `path:line: what is wrong`, without a traceback."""

import gzip
import json
import os
import struct
import tracemalloc
import unicodedata
import zlib
from pathlib import Path
from typing import NamedTuple

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hnp_search import SearchEngine
from hnp_search.render import plural
from hnp_search.cli import EXIT_REJECTED, main
from hnp_search.errors import IngestError
from hnp_search.ingest import MAX_ARTICLE_BYTES, read_articles


def page(title="Hà Nội mở rộng phố đi bộ", date="08:30 01/06/2024") -> str:
    return (
        f"{title} ({date})\n\n"
        "HNP - Sáng 1/6, phố đi bộ Hoàn Kiếm mở rộng thêm 3 tuyến phố.\n\n"
        "Người dân đi dạo quanh hồ Gươm.\n\nMinh Anh\n\nLatest news\n"
    )


def windows_1258(text: str) -> bytes:
    """``text`` as Windows-1258 stores it: vowels with their hats and horns precomposed,
    tone marks as separate combining characters."""
    tones = "\u0300\u0301\u0303\u0309\u0323"

    def letter(char: str) -> str:
        parts = unicodedata.normalize("NFD", char)
        base = unicodedata.normalize("NFC", "".join(c for c in parts if c not in tones))
        return base + "".join(c for c in parts if c in tones)

    return "".join(map(letter, text)).encode("cp1258")


def png() -> bytes:
    """A 1×1 PNG image."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\0\xff\0\0")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def single_line(path: Path, size: int, start: bytes = b"", end: bytes = b"") -> Path:
    """Write a file of ``size`` bytes: ``start``, letters, ``end``, without holding it in memory."""
    with path.open("wb") as out:
        out.write(start)
        left = size - len(start) - len(end)
        while left > 0:
            out.write(b"a" * min(left, 2**20))
            left -= 2**20
        out.write(end)
    return path


def record(**fields) -> str:
    return json.dumps({"id": "x", "title": "Tiêu đề", "body": "Nội dung."} | fields, ensure_ascii=False)


class Expect(NamedTuple):
    errors: list[str]  # exactly what is reported, in order
    titles: dict[str, str] = {}  # articles indexed besides the ten good ones: id -> title
    paths: tuple[Path, ...] = ()  # more paths to index besides the folder


# Each case writes one kind of bad input into folder d (which also holds good.jsonl).


def empty_page(d, monkeypatch):
    (d / "rong.txt").write_bytes(b"")
    return Expect([f"{d}/rong.txt:1: empty file: no title line"])


def empty_jsonl(d, monkeypatch):
    (d / "rong.jsonl").write_bytes(b"")
    return Expect([f"{d}/rong.jsonl: empty file: no articles"])


def image_renamed_txt(d, monkeypatch):
    (d / "anh.txt").write_bytes(png())
    (d / "anh.jsonl").write_bytes(png())
    return Expect([f"{d}/anh.jsonl: binary data, not text (NUL byte at byte 8)",
                   f"{d}/anh.txt: binary data, not text (NUL byte at byte 8)"])  # fmt: skip


def windows_1258_page(d, monkeypatch):
    title = "Hà Nội: người dân khoẻ, “vui” – đường phố sạch"
    (d / "cu.txt").write_bytes(windows_1258(page(title)))
    return Expect([], {"cu": title})


def latin_1_page(d, monkeypatch):
    title = "Vì sao Hà Tây có trò này"  # every letter is in Latin-1; "ì" is a tone mark in Windows-1258
    text = f"{title} (08:30 01/06/2024)\n\nHNP - Tin Hà Tây: trò này là trò hay.\n\nÔng Tý bán cá.\n"
    (d / "latin.txt").write_bytes(text.encode("latin-1"))
    return Expect([], {"latin": title})


def vni_font_encoding(d, monkeypatch):
    # "Hà Nội mở rộng phố" in the VNI font encoding: no codec turns it back into Vietnamese.
    (d / "vni.txt").write_bytes("Haø Noäi môû roäng phoá (08:30 01/06/2024)\n\nHNP - Tin.\n".encode("latin-1"))
    return Expect([f"{d}/vni.txt: not UTF-8 text (invalid start byte at byte 2)"])


def no_title_date_line(d, monkeypatch):
    (d / "khong-ngay.txt").write_text(page().replace(" (08:30 01/06/2024)", ""), encoding="utf-8")
    return Expect([f"{d}/khong-ngay.txt:1: first line has no '(HH:MM DD/MM/YYYY)' date after the title"])


def impossible_date(d, monkeypatch):
    (d / "ngay-sai.txt").write_text(page(date="08:30 31/02/2024"), encoding="utf-8")
    return Expect([f"{d}/ngay-sai.txt:1: impossible date (08:30 31/02/2024)"])


def bad_jsonl_lines(d, monkeypatch):
    lines = ["không phải JSON", record(id="tot", title="Bài tốt"), '{"title": "Thiếu id", "body": "x"}',
             '{"id": "thieu-body", "title": "x"}', record(id=["a"]), record(title=5), "[1, 2]",
             record(date="31/02/2024"), '{"id": "cut", "title": "Cụt']  # fmt: skip
    (d / "dong.jsonl").write_text("\n".join(lines), encoding="utf-8")
    where = f"{d}/dong.jsonl"
    return Expect(
        [
            f"{where}:1: not JSON (Expecting value at column 1)",
            f"{where}:3: missing or empty 'id'",
            f"{where}:4: missing or empty 'body'",
            f"{where}:5: 'id' must be a string, not an array",
            f"{where}:6: 'title' must be a string, not a number",
            f"{where}:7: expected a JSON object, got an array",
            f"{where}:8: 'date' is not an ISO date: '31/02/2024'",
            f"{where}:9: not JSON (Unterminated string starting at column 24)",
        ],
        {"tot": "Bài tốt"},
    )


def duplicate_ids(d, monkeypatch):
    lines = [record(id="gia-rau-xanh", title="Trùng với good.jsonl"), record(id="moi", title="Mới"),
             record(id="moi", title="Mới lần hai")]  # fmt: skip
    (d / "trung.jsonl").write_text("\n".join(lines), encoding="utf-8")
    return Expect(
        [
            f"{d}/trung.jsonl: duplicate id 'gia-rau-xanh', first read from {d}/good.jsonl: skipped",
            f"{d}/trung.jsonl: duplicate id 'moi', first read from {d}/trung.jsonl: skipped",
        ],
        {"moi": "Mới"},
    )


def huge_single_line_page(d, monkeypatch):
    single_line(d / "to.txt", 50_000_000)
    return Expect([f"{d}/to.txt: too large for a news article (50.0 MB; the limit is 10.0 MB)"])


def huge_single_line_jsonl(d, monkeypatch):
    path = single_line(d / "to.jsonl", 50_000_000, b'{"id": "to", "title": "To", "body": "', b'"}\n')
    with path.open("a", encoding="utf-8") as out:
        out.write(record(id="sau", title="Sau dòng dài") + "\n")
    error = f"{path}:1: line too long for a news article (50.0 MB; the limit is 10.0 MB)"
    return Expect([error], {"sau": "Sau dòng dài"})


def missing_path(d, monkeypatch):
    return Expect([f"{d.parent}/khong-co: no such file or directory"], paths=(d.parent / "khong-co",))


def unreadable_folder(d, monkeypatch):
    locked = d / "khoa"
    locked.mkdir()
    (locked / "bi-khoa.txt").write_text(page(), encoding="utf-8")
    locked.chmod(0)
    if os.geteuid() == 0:  # root reads anything: make listing the folder fail as it would for others
        scandir = os.scandir

        def refuse(path="."):
            if Path(path) == locked:
                raise PermissionError(13, "Permission denied", str(path))
            return scandir(path)

        monkeypatch.setattr(os, "scandir", refuse)
    return Expect([f"{locked}: cannot read (Permission denied)"])


CASES = [empty_page, empty_jsonl, image_renamed_txt, windows_1258_page, latin_1_page, vni_font_encoding,
         no_title_date_line, impossible_date, bad_jsonl_lines, duplicate_ids, huge_single_line_page,
         huge_single_line_jsonl, missing_path, unreadable_folder]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[case.__name__.replace("_", "-") for case in CASES])
def test_bad_input_is_reported_once_and_the_rest_indexed(tmp_path, monkeypatch, case, articles_path, articles):
    good_ids = [article.id for article in articles]
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "good.jsonl").write_bytes(articles_path.read_bytes())
    expect = case(folder, monkeypatch)
    index_dir, errors_json = tmp_path / "ix", tmp_path / "errors.json"

    try:
        result = CliRunner().invoke(main, ["index", str(folder), *map(str, expect.paths), "--index-dir", str(index_dir),
                                           "--jobs", "1", "--errors-json", str(errors_json)])  # fmt: skip
    finally:
        if (folder / "khoa").exists():
            (folder / "khoa").chmod(0o755)

    assert result.exit_code == (EXIT_REJECTED if expect.errors else 0), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    indexed = len(good_ids) + len(expect.titles)
    errors = plural(len(expect.errors), "error")
    assert result.stdout.startswith(f"{indexed} added, 0 updated, 0 unchanged, {errors} in ")
    summary = ["Rejected input:", *(f"  {error}" for error in expect.errors)] if expect.errors else []
    assert result.stderr.splitlines() == [f"warning: {error}" for error in expect.errors] + summary
    assert json.loads(errors_json.read_text(encoding="utf-8")) == expect.errors
    with SearchEngine(index_dir, create=False) as engine:
        assert len(engine) == indexed
        assert all(engine.get(id) for id in good_ids)
        assert {id: engine.get(id).title for id in expect.titles} == expect.titles


def test_truncated_jsonl_gz_indexes_the_articles_before_the_damage(tmp_path, articles_path, articles):
    lines = [record(id=f"z{n:03d}", title=f"Bài {n}", body=f"Nội dung số {n}. " * 40) for n in range(200)]
    data = gzip.compress("\n".join(lines).encode())
    path = tmp_path / "cut.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])

    args = ["index", str(articles_path), str(path), "--index-dir", str(tmp_path / "ix"), "--jobs", "1"]
    result = CliRunner().invoke(main, args)

    cause = "Compressed file ended before the end-of-stream marker was reached"
    error = f"{path}: damaged or truncated gzip file ({cause})"
    assert result.exit_code == EXIT_REJECTED
    assert result.stderr.splitlines() == [f"warning: {error}", "Rejected input:", f"  {error}"]
    with SearchEngine(tmp_path / "ix", create=False) as engine:
        saved = len(engine) - len(articles)
        assert 0 < saved < 200
        assert all(engine.get(f"z{n:03d}") for n in range(saved))


@pytest.mark.parametrize("name, start, end", [("to.txt", b"", b""), ("to.jsonl", b'{"id": "to", "body": "', b'"}')])
def test_a_50_mb_single_line_file_is_rejected_in_bounded_memory(tmp_path, name, start, end):
    path = single_line(tmp_path / name, 50_000_000, start, end)

    tracemalloc.start()
    try:
        articles, errors = [], []
        articles = list(read_articles(path, on_error=errors.append))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert articles == [] and len(errors) == 1 and "50.0 MB; the limit is 10.0 MB" in str(errors[0])
    assert peak < 3 * MAX_ARTICLE_BYTES  # the start of the line up to the limit, copied once; not 50 MB


def test_a_subfolder_that_cannot_be_listed_does_not_stop_the_rest(tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "mot.txt").write_text(page(), encoding="utf-8")
    (tmp_path / "b" / "c").mkdir(parents=True)
    (tmp_path / "b" / "c" / "hai.txt").write_text(page(), encoding="utf-8")
    scandir = os.scandir

    def refuse(path="."):
        if Path(path).name == "b":
            raise PermissionError(13, "Permission denied", str(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", refuse)
    errors = []

    assert [article.id for article in read_articles(tmp_path, on_error=errors.append)] == ["mot"]
    assert [str(error) for error in errors] == [f"{tmp_path}/b: cannot read (Permission denied)"]


def test_jsonl_that_json_cannot_read_is_an_ingest_error(tmp_path):
    path = tmp_path / "la.jsonl"
    path.write_text("[" * 100_000 + "\n" + '{"id": ' + "7" * 5000 + "}\n", encoding="utf-8")
    errors = []

    assert list(read_articles(path, on_error=errors.append)) == []
    reasons = [str(error)[: str(error).index(" (")] for error in errors]
    assert reasons == [f"{path}:{n}: unreadable JSON" for n in (1, 2)]


# --- fuzz: mutated real articles never raise anything but IngestError ------------------------

MUTATIONS = st.lists(
    st.tuples(st.sampled_from(["delete", "insert", "replace", "truncate", "repeat"]),
              st.floats(0, 1), st.integers(0, 200), st.binary(max_size=8)),
    min_size=1, max_size=6,
)  # fmt: skip


def mutate(data: bytes, mutations) -> bytes:
    for kind, where, length, noise in mutations:
        at = int(where * len(data))
        if kind == "delete":
            data = data[:at] + data[at + length :]
        elif kind == "insert":
            data = data[:at] + noise + data[at:]
        elif kind == "replace":
            data = data[:at] + noise + data[at + len(noise) :]
        elif kind == "truncate":
            data = data[:at]
        else:
            data = data[:at] + data[at : at + length] * 3 + data[at:]
    return data


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def sample_page(shared) -> bytes:
    path = shared / "corpora" / "hnp-sample" / "so-van-hoa-the-thao-2024-05-07.txt"
    if not path.exists():
        pytest.skip(f"{path} not found")
    return path.read_bytes()


@FUZZ
@given(mutations=MUTATIONS)
def test_mutated_sample_page_parses_or_raises_ingest_error(tmp_path, sample_page, mutations):
    path = tmp_path / "bai.txt"
    path.write_bytes(mutate(sample_page, mutations))
    try:
        [article] = read_articles(path)
    except IngestError as error:
        assert str(error).startswith(f"{path}")
        return
    assert article.title and article.published and article.lead


@FUZZ
@given(
    mutations=MUTATIONS, title=st.sampled_from(["Hà Nội mở rộng phố đi bộ", "Giá rau xanh tăng"]), legacy=st.booleans()
)
def test_mutated_test_page_parses_or_raises_ingest_error(tmp_path, mutations, title, legacy):
    text = page(title)
    path = tmp_path / "bai.txt"
    path.write_bytes(mutate(windows_1258(text) if legacy else text.encode(), mutations))
    try:
        [article] = read_articles(path)
    except IngestError:
        return
    assert article.title and article.published


@FUZZ
@given(mutations=MUTATIONS, gz=st.booleans())
def test_mutated_jsonl_gives_articles_and_ingest_errors_only(tmp_path, mutations, gz, articles_path):
    data = articles_path.read_bytes()
    path = tmp_path / ("bai.jsonl.gz" if gz else "bai.jsonl")
    path.write_bytes(mutate(gzip.compress(data) if gz else data, mutations))
    errors = []
    articles = list(read_articles(path, on_error=errors.append))
    assert all(article.id and article.title and article.body for article in articles)
    assert all(isinstance(error, IngestError) for error in errors)
