"""Ingest: files (HNP page text, JSON Lines, folders of them) → Article objects."""

from __future__ import annotations

import gzip
import json
import os
import re
import stat
import unicodedata
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import cast
from datetime import datetime
from itertools import takewhile
from pathlib import Path

from .errors import IngestError, display_path
from .text.normalize import clean_text, is_utf8

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
    exclude: Iterable[_StrPath] = (),
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
    passed to it instead and reading goes on with the next line or file. Page text
    that is not UTF-8 is decoded as Windows-1258, else Latin-1, when the result reads
    as Vietnamese; a file or line over MAX_ARTICLE_BYTES is rejected without reading it.
    Files and folders in ``exclude`` (an index folder, a report being written) are skipped
    when met inside a folder.

    Example::

        for article in read_articles("corpus/", "extra.jsonl.gz", on_error=print):
            print(article.published, article.title)
    """
    if len(paths) == 1 and isinstance(paths[0], (list, tuple)):
        paths = tuple(paths[0])
    skip = _identities(exclude)
    for path in cast(tuple[_StrPath, ...], paths):
        for item in _read_path(Path(path), skip):
            if isinstance(item, Article):
                yield item
            elif on_error is None:
                raise item
            else:
                on_error(item)


def _identities(paths: Iterable[_StrPath]) -> frozenset[tuple[int, int]]:
    """(device, inode) of each of ``paths`` that exists: the same file however it is named."""
    found = set()
    for path in paths:
        try:
            info = os.stat(path)
        except (OSError, ValueError):
            continue
        found.add((info.st_dev, info.st_ino))
    return frozenset(found)


def _read_path(path: Path, skip: frozenset[tuple[int, int]] = frozenset()) -> Iterator[Article | IngestError]:
    try:
        is_folder = stat.S_ISDIR(path.stat().st_mode)
    except (FileNotFoundError, NotADirectoryError):
        yield IngestError(path, "no such file or directory")
        return
    except OSError as err:
        yield IngestError(path, f"cannot read ({err.strerror})")
        return
    if is_folder:
        for file in _files_in(path, skip):
            if isinstance(file, IngestError):
                yield file
            else:
                yield from _read_file(file)
    elif _kind(path) is None:
        yield IngestError(path, "not a .txt, .jsonl, .jsonl.gz or .json file")
    else:
        yield from _read_file(path)


def _files_in(folder: Path, skip: frozenset[tuple[int, int]] = frozenset()) -> Iterator[Path | IngestError]:
    """The files to read in ``folder`` in name order, then those of each subfolder (not
    followed through symbolic links), less those in ``skip``; an error for a folder that
    cannot be listed."""
    try:
        with os.scandir(folder) as listing:
            entries = sorted((entry for entry in listing if not entry.name.startswith(".")), key=lambda e: e.name)
    except OSError as err:
        yield IngestError(folder, f"cannot read ({err.strerror})")
        return
    if skip:
        entries = [entry for entry in entries if not _skipped(entry, skip)]
    yield from (Path(entry) for entry in entries if not entry.is_dir() and _kind(Path(entry)) is not None)
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            yield from _files_in(Path(entry), skip)


def _skipped(entry: os.DirEntry, skip: frozenset[tuple[int, int]]) -> bool:
    if not any(inode == entry.inode() for _, inode in skip):
        return False
    try:
        info = entry.stat()
    except OSError:
        return False
    return (info.st_dev, info.st_ino) in skip


def _kind(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith(".txt"):
        return "page"
    if name.endswith((".jsonl", ".jsonl.gz", ".json")):
        return "jsonl"
    return None


def _read_file(path: Path) -> Iterator[Article | IngestError]:
    if display_path(str(path)) != str(path):
        yield IngestError(path, "the file name is not UTF-8: rename it (an article's id and source must be text)")
        return
    try:
        if _kind(path) == "page":
            yield _read_page(path)
        else:
            yield from _read_jsonl(path)
    except IngestError as err:
        yield err
    except (EOFError, zlib.error, gzip.BadGzipFile) as err:
        yield IngestError(path, f"damaged or truncated gzip file ({err})")
    except OSError as err:
        yield IngestError(path, f"cannot read ({err.strerror or err})")


#: A page-text file or JSON line larger than this cannot be one news article: it is
#: rejected unread, so memory stays bounded.
MAX_ARTICLE_BYTES = 10_000_000
#: Tried in turn on page text that is not UTF-8; the first that reads as Vietnamese wins.
_LEGACY_ENCODINGS = ("cp1258", "latin-1")


def _decode(data: bytes, path: Path, line: int | None = None, *, legacy: bool = False) -> str:
    """Bytes of a file (or of one line) as text; the one place that knows encodings.

    Text is UTF-8 (a BOM is dropped); with ``legacy``, bytes that are not are decoded
    with the first of _LEGACY_ENCODINGS whose result reads as Vietnamese. A NUL byte
    means binary data.
    """
    _refuse_binary(data, path, line)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        for encoding in _LEGACY_ENCODINGS if legacy else ():
            try:
                text = data.decode(encoding)
            except UnicodeDecodeError:
                continue
            if _reads_as_vietnamese(text):
                return text
        message = f"not UTF-8 text ({err.reason} at byte {err.start})"
        raise IngestError(path, message, line) from None


def _refuse_binary(data: bytes, path: Path, line: int | None = None) -> None:
    if (nul := data.find(b"\0")) >= 0:
        raise IngestError(path, f"binary data, not text (NUL byte at byte {nul})", line)


# Letters Vietnamese uses beyond ASCII: vowels with their marks and tones, and đ.
_VIETNAMESE_LETTERS = frozenset(
    unicodedata.normalize("NFC", vowel + tone)
    for vowel in "aăâeêioôơuưy"
    for tone in ("", "\u0300", "\u0301", "\u0303", "\u0309", "\u0323")
) | {"đ"}
# A "?" inside a word: a letter the file's writer could not encode, lost for good.
_LOST_LETTER = re.compile(r"[^\W\d_]\?[^\W\d_]")


def _reads_as_vietnamese(text: str) -> bool:
    """No control characters, no letters or combining marks outside ASCII and the
    Vietnamese alphabet (text in another encoding decodes to such), no lost letters."""
    for char in set(unicodedata.normalize("NFC", text)):
        kind = unicodedata.category(char)
        if kind == "Cc" and char not in "\t\n\r\f":
            return False
        if kind[0] in "LM" and not char.isascii() and char.lower() not in _VIETNAMESE_LETTERS:
            return False
    return not _LOST_LETTER.search(text)


# --- HNP page text -------------------------------------------------------------------

_TITLE_DATE = re.compile(r"\s*\((\d{1,2}):(\d{2})\s+(\d{1,2})/(\d{1,2})/(\d{4})\)$")
_LEAD_MARK = re.compile(r"^HNP\s*[-–]\s*")
_FOOTER_LINES = frozenset(
    ["latest news", "other news", "view search", "write your comment",
     "full name:(*)", "phone number:", "title:(*)", "content:(*)"]
)  # fmt: skip
_LETTER = re.compile(r"[^\W\d_]")


def _read_page(path: Path) -> Article:
    size = path.stat().st_size
    if size > MAX_ARTICLE_BYTES:
        raise IngestError(path, f"too large for a news article ({_over_limit(size)})")
    return _parse_page(_decode(path.read_bytes(), path, legacy=True), path)


def _over_limit(size: int) -> str:
    """``size`` beside the limit, in MB, or in bytes where MB would round them alike."""
    shown, limit = f"{size / 1e6:.1f} MB", f"{MAX_ARTICLE_BYTES / 1e6:.1f} MB"
    if shown == limit:
        shown, limit = f"{size:,} bytes", f"{MAX_ARTICLE_BYTES:,} bytes"
    return f"{shown}; the limit is {limit}"


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
    if paragraphs:  # the lead without its "HNP - " mark; a bare mark leads nothing
        paragraphs[0] = _LEAD_MARK.sub("", paragraphs[0])
        paragraphs = paragraphs if paragraphs[0] else paragraphs[1:]
    if not title or not paragraphs:
        raise IngestError(path, "expected a title, a date and then the article text", title_number)
    lead, *body = paragraphs
    author = body.pop() if body and _looks_like_byline(body[-1]) else None
    return Article(
        id=path.stem,
        title=title,
        published=published,
        lead=lead,
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
        _refuse_binary(lines.peek(8192)[:8192], path)
        number, empty = 0, True
        item: Article | IngestError
        while raw := lines.readline(MAX_ARTICLE_BYTES + 1):
            number += 1
            if len(raw) > MAX_ARTICLE_BYTES and not raw.endswith(b"\n"):
                size = len(raw) + _skip_line(lines)
                item = IngestError(path, f"line too long for a news article ({_over_limit(size)})", number)
            elif raw.strip():
                try:
                    item = _parse_record(raw, path, number)
                except IngestError as err:
                    item = err
            else:
                continue
            empty = False
            yield item
    if empty:
        yield IngestError(path, "empty file: no articles")


def _skip_line(lines) -> int:
    """Read past the rest of an overlong line, a megabyte at a time; return its length."""
    skipped = 0
    while chunk := lines.readline(2**20):
        skipped += len(chunk)
        if chunk.endswith(b"\n"):
            break
    return skipped


def _parse_record(raw: bytes, path: Path, line: int) -> Article:
    try:
        record = json.loads(_decode(raw, path, line))
    except json.JSONDecodeError as err:
        message = err.msg.removesuffix(" at")  # "Unterminated string starting at"
        raise IngestError(path, f"not JSON ({message} at column {err.colno})", line) from None
    except (ValueError, RecursionError) as err:  # a number of over 4300 digits, nesting too deep
        raise IngestError(path, f"unreadable JSON ({err})", line) from None
    if not isinstance(record, dict):
        raise IngestError(path, f"expected a JSON object, got {_json_type(record)}", line)
    if type(record.get("id")) is int:
        record["id"] = str(record["id"])

    def text(name: str) -> str | None:
        value = record.get(name)
        if value is not None and not isinstance(value, str):
            raise IngestError(path, f"{name!r} must be a string, not {_json_type(value)}", line)
        if value and not is_utf8(value):
            message = f"{name!r} holds a lone surrogate escape (\\ud800-\\udfff), which is no character"
            raise IngestError(path, f"{message}: line rejected", line)
        return (clean_text(value).strip() or None) if value else None

    def required(name: str) -> str:
        value = text(name)
        if not value:
            raise IngestError(path, f"missing or empty {name!r}", line)
        return value

    date_name = "published" if record.get("published") not in (None, "") else "date"
    date = text(date_name)
    try:
        published = datetime.fromisoformat(date).replace(tzinfo=None) if date else None
    except ValueError:
        raise IngestError(path, f"{date_name!r} is not an ISO date: {date!r}", line) from None
    return Article(
        id=required("id"),
        title=required("title"),
        body=required("body"),
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


def estimate_articles(*paths: _StrPath) -> int:
    """About how many articles ``paths`` hold, counted quickly (for a progress line's ETA):
    a page-text file is one, a JSON Lines file its non-empty lines (a compressed one
    decompressed, not parsed). Paths and files that cannot be read count none."""
    total = 0
    for path in paths:
        path = Path(path)
        files = (f for f in _files_in(path) if isinstance(f, Path)) if path.is_dir() else [path] if _kind(path) else []
        for file in files:
            if _kind(file) == "page":
                total += 1
                continue
            try:
                opener = gzip.open if file.name.lower().endswith(".gz") else open
                with opener(file, "rb") as f:
                    last = b"\n"
                    while chunk := f.read(1 << 20):
                        total += chunk.count(b"\n")
                        last = chunk[-1:]
                    total += last != b"\n"
            except (OSError, EOFError, zlib.error):
                continue
    return total
