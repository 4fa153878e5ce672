"""Ingest: files (HNP page text, JSON Lines, folders of them) → Article objects."""

from __future__ import annotations

import gzip
import json
import os
import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import takewhile
from pathlib import Path

from hnp_search.errors import IngestError
from hnp_search.normalize import clean_text

__all__ = ["Article", "read_articles"]


@dataclass(frozen=True, kw_only=True)
class Article:
    """One news article, its text cleaned by ``clean_text`` (case and tone marks kept)."""

    id: str
    title: str
    body: str = field(repr=False)
    published: datetime | None = None  # naive local datetime
    lead: str = field(default="", repr=False)
    author: str | None = None  # byline, None when absent
    url: str | None = None
    source: str | None = None  # path the article was read from
    category: str | None = None


_StrPath = str | os.PathLike[str]


def read_articles(
    *paths: _StrPath | list[_StrPath] | tuple[_StrPath, ...],
    on_error: Callable[[IngestError], object] | None = None,
) -> Iterator[Article]:
    """Yield articles from HNP page-text files, JSONL / JSONL.gz files, and folders of them
    (recursively, sorted order).

    Files are chosen by suffix: ``.txt`` is HNP page text (title line ending in
    ``(HH:MM DD/MM/YYYY)``, lead starting ``HNP - ``, body, byline, site footer);
    ``.jsonl``, ``.jsonl.gz`` and ``.json`` hold one JSON object per line with ``id``,
    ``title``, ``body`` and optionally ``lead``, ``published`` or ``date``, ``url``,
    ``author``, ``category``. In a folder, files are read in name order, then each
    subfolder in name order; hidden entries and files of other types are skipped.

    Reading is lazy and streams JSON Lines one line at a time. A path, file or line that
    cannot be read raises ``IngestError``; when ``on_error`` is given, the error is
    passed to it instead and reading goes on with the next line or file.

    Example::

        for article in read_articles("corpus/", "extra.jsonl.gz", on_error=print):
            print(article.published, article.title)
    """
    if len(paths) == 1 and isinstance(paths[0], (list, tuple)):
        paths = tuple(paths[0])
    for path in paths:
        for item in _read_path(Path(path)):
            if isinstance(item, Article):
                yield item
            elif on_error is None:
                raise item
            else:
                on_error(item)


def _read_path(path: Path) -> Iterator[Article | IngestError]:
    if path.is_dir():
        for file in _files_in(path):
            yield from _read_file(file)
    elif not path.exists():
        yield IngestError(path, "no such file or directory")
    elif _kind(path) is None:
        yield IngestError(path, "not a .txt, .jsonl, .jsonl.gz or .json file")
    else:
        yield from _read_file(path)


def _files_in(folder: Path) -> Iterator[Path]:
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(name for name in dirs if not name.startswith("."))
        for name in sorted(files):
            file = Path(root, name)
            if not name.startswith(".") and _kind(file) is not None:
                yield file


def _kind(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith(".txt"):
        return "page"
    if name.endswith((".jsonl", ".jsonl.gz", ".json")):
        return "jsonl"
    return None


def _read_file(path: Path) -> Iterator[Article | IngestError]:
    try:
        if _kind(path) == "page":
            yield _parse_page(_decode(path.read_bytes(), path), path)
        else:
            yield from _read_jsonl(path)
    except IngestError as err:
        yield err
    except (EOFError, zlib.error, gzip.BadGzipFile) as err:
        yield IngestError(path, f"damaged or truncated gzip file ({err})")
    except OSError as err:
        yield IngestError(path, f"cannot read ({err.strerror or err})")


def _decode(data: bytes, path: Path, line: int | None = None) -> str:
    """Bytes of a file (or of one line) as text; the one place that knows encodings."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        message = f"not UTF-8 text ({err.reason} at byte {err.start})"
        raise IngestError(path, message, line) from None


# --- HNP page text -------------------------------------------------------------------

_TITLE_DATE = re.compile(r"\s*\((\d{1,2}):(\d{2})\s+(\d{1,2})/(\d{1,2})/(\d{4})\)$")
_LEAD_MARK = re.compile(r"^HNP\s*[-–]\s*")
_FOOTER_LINES = frozenset(
    ["latest news", "other news", "view search", "write your comment",
     "full name:(*)", "phone number:", "title:(*)", "content:(*)"]
)  # fmt: skip
_LETTER = re.compile(r"[^\W\d_]")


def _parse_page(text: str, path: Path) -> Article:
    numbered = enumerate(clean_text(text).split("\n"), 1)
    lines = [(number, line.strip()) for number, line in numbered if line.strip()]
    if not lines:
        raise IngestError(path, "empty file: no title line", 1)
    title_number, title_line = lines[0]
    match = _TITLE_DATE.search(title_line)
    if match is None:
        message = "first line has no '(HH:MM DD/MM/YYYY)' date after the title"
        raise IngestError(path, message, title_number)
    hour, minute, day, month, year = map(int, match.groups())
    try:
        published = datetime(year, month, day, hour, minute)
    except ValueError:
        raise IngestError(path, f"impossible date {match.group().strip()}", title_number) from None
    title = title_line[: match.start()]
    paragraphs = list(takewhile(lambda line: not _is_footer(line), (line for _, line in lines[1:])))
    if not title or not paragraphs:
        raise IngestError(path, "expected a title, a date and then the article text", title_number)
    lead, *body = paragraphs
    author = body.pop() if body and _looks_like_byline(body[-1]) else None
    return Article(
        id=path.stem,
        title=title,
        published=published,
        lead=_LEAD_MARK.sub("", lead),
        body="\n".join(body),
        author=author,
        source=str(path),
    )


def _is_footer(line: str) -> bool:
    """The site boilerplate after an article starts at one of these lines."""
    folded = line.casefold()
    return folded in _FOOTER_LINES or folded.startswith("capcha:")


def _looks_like_byline(line: str) -> bool:
    """A name or credit alone on a line: at most five words, each with a capital first letter,
    no sentence-final punctuation.

    "Hoàng Điệp", "T.ThủyTheo DTrends", "Theo Reuters", "Ảnh: NVCC" are bylines;
    "Tổng hợp", "Theo Người lao động", "Mi Vân (tổng hợp)", "Công Bính - Ngô Linh"
    (a lowercase word, a lone dash) are not, as in the hnp-dantri ground truth.
    """
    words = line.split()
    return (
        len(words) <= 5
        and not line.endswith((".", "!", "?", ";", ":", "…"))
        and all(_starts_with_capital(word) for word in words)
    )


def _starts_with_capital(word: str) -> bool:
    letter = _LETTER.search(word)
    return letter is not None and letter.group().isupper()


# --- JSON Lines ----------------------------------------------------------------------


def _read_jsonl(path: Path) -> Iterator[Article | IngestError]:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as lines:
        for number, raw in enumerate(lines, 1):
            if not raw.strip():
                continue
            try:
                item = _parse_record(raw, path, number)
            except IngestError as err:
                item = err
            yield item


def _parse_record(raw: bytes, path: Path, line: int) -> Article:
    try:
        record = json.loads(_decode(raw, path, line))
    except json.JSONDecodeError as err:
        raise IngestError(path, f"not JSON ({err.msg} at column {err.colno})", line) from None
    if not isinstance(record, dict):
        raise IngestError(path, f"expected a JSON object, got {_json_type(record)}", line)
    if type(record.get("id")) is int:
        record["id"] = str(record["id"])

    def text(name: str, *, required: bool = False) -> str | None:
        value = record.get(name)
        if value is not None and not isinstance(value, str):
            raise IngestError(path, f"{name!r} must be a string, not {_json_type(value)}", line)
        value = clean_text(value).strip() if value else ""
        if required and not value:
            raise IngestError(path, f"missing or empty {name!r}", line)
        return value or None

    date_name = "published" if record.get("published") not in (None, "") else "date"
    date = text(date_name)
    try:
        published = datetime.fromisoformat(date).replace(tzinfo=None) if date else None
    except ValueError:
        raise IngestError(path, f"{date_name!r} is not an ISO date: {date!r}", line) from None
    return Article(
        id=text("id", required=True),
        title=text("title", required=True),
        body=text("body", required=True),
        published=published,
        lead=text("lead") or "",
        author=text("author"),
        url=text("url"),
        source=str(path),
        category=text("category"),
    )


_JSON_TYPES = {
    dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"
}  # fmt: skip


def _json_type(value: object) -> str:
    return _JSON_TYPES.get(type(value), "a number")
