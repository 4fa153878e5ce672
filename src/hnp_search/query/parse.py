"""Parsing: query text → a tree of nodes (words, phrases, fields, dates, persons); reads no index.

Syntax (see README "Query language"):

    hà nội mùa thu          bare words: all of them first, then most of them
    "văn hóa thể thao"      phrase: with diacritics exact, without folded
    -word  -"phrase"        exclude
    a OR b, ( ... )         alternatives and grouping
    title:x  author:"..."   restrict to a field
    person:"Doãn Trung Tuấn"   articles naming that person (not a street named after them)
    date:2024-05  date:07/05/2024  date:2024-05-01..2024-05-31  date:>=2024-05-01
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Union

from ..errors import QuerySyntaxError
from ..text.normalize import clean_text


# ---------------------------------------------------------------------------
# The tree


@dataclass(frozen=True)
class Words:
    """Bare words, segmented together. ``fields`` restricts where they may match."""

    text: str
    fields: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Phrase:
    text: str
    fields: tuple[str, ...] | None = None


@dataclass(frozen=True)
class DateFilter:
    start: datetime | None  # inclusive
    end: datetime | None  # exclusive


@dataclass(frozen=True)
class Person:
    """Articles naming this person: with diacritics exactly that name, without any
    name that folds to it."""

    name: str


@dataclass(frozen=True)
class Not:
    node: "Node"


@dataclass(frozen=True)
class All:
    nodes: tuple["Node", ...]


@dataclass(frozen=True)
class Any:
    nodes: tuple["Node", ...]


Node = Union[Words, Phrase, DateFilter, Person, Not, All, Any]

FIELDS = {"title": ("title",), "lead": ("lead",), "body": ("body",), "author": ("author",)}

# ---------------------------------------------------------------------------
# Parsing

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<field>(?P<fname>[A-Za-z]+):(?=\S))
  | (?P<phrase>"[^"]*")
  | (?P<quote>")
  | (?P<minus>-(?=["(\w]))
  | (?P<word>[^\s()"]+)
    """,
    re.VERBOSE,
)


_LETTER_OR_DIGIT = re.compile(r"\w")


@dataclass
class _Tok:
    kind: str
    text: str
    pos: int


def _lex(query: str) -> list[_Tok]:
    tokens = []
    for m in _TOKEN.finditer(query):
        kind = "field" if m.group("field") else m.lastgroup
        if kind == "space":
            continue
        if kind == "quote":
            raise QuerySyntaxError(query, "unbalanced quote: add the closing \"", m.start())
        text = m.group("fname").lower() if kind == "field" else m.group()
        if kind == "word" and not _LETTER_OR_DIGIT.search(text):  # punctuation alone holds no term
            if "?" in text and tokens and tokens[-1].kind == "word":
                tokens[-1].text += " " + text  # but a question mark still says the words ask
            continue
        if kind == "word" and text == "OR":
            kind = "or"
        tokens.append(_Tok(kind, text, m.start()))
    return tokens


class _Parser:
    def __init__(self, query: str):
        self.query = query
        self.tokens = _lex(query)
        self.i = 0

    def error(self, message: str, pos: int | None):
        raise QuerySyntaxError(self.query, message, pos)

    def peek(self) -> _Tok | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> _Tok:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def parse(self) -> Node | None:
        if not self.tokens:
            return None
        node = self.alternatives()
        tok = self.peek()
        if tok is not None:  # only a stray ")" stops alternatives() early
            self.error("unbalanced parenthesis: no ( before this )", tok.pos)
        return node

    def alternatives(self) -> Node:
        nodes = [self.sequence()]
        while (tok := self.peek()) is not None and tok.kind == "or":
            self.take()
            if self.peek() is None or self.peek().kind in ("or", "rparen"):
                self.error("OR needs a term on both sides", tok.pos)
            nodes.append(self.sequence())
        return nodes[0] if len(nodes) == 1 else Any(tuple(nodes))

    def sequence(self) -> Node:
        nodes: list[Node] = []
        words: list[str] = []
        start = self.peek()
        while (tok := self.peek()) is not None and tok.kind not in ("or", "rparen"):
            if tok.kind == "word":
                words.append(self.take().text)
                continue
            if words:
                nodes.append(Words(" ".join(words)))
                words = []
            nodes.append(self.unary())
        if words:
            nodes.append(Words(" ".join(words)))
        if not nodes:
            self.error("OR needs a term on both sides" if start and start.kind == "or" else "empty group", start.pos if start else len(self.query))
        return nodes[0] if len(nodes) == 1 else All(tuple(nodes))

    def unary(self) -> Node:
        tok = self.take()
        if tok.kind == "minus":
            nxt = self.peek()
            if nxt is None or nxt.kind in ("or", "rparen", "minus"):
                self.error("nothing to exclude after -", tok.pos)
            if nxt.kind == "word":
                return Not(Words(self.take().text))
            return Not(self.unary())
        if tok.kind == "phrase":
            return Phrase(tok.text[1:-1])
        if tok.kind == "lparen":
            if self.peek() is None:
                self.error("unbalanced parenthesis: no ) after this (", tok.pos)
            if self.peek().kind == "rparen":
                self.error("empty parentheses", tok.pos)
            node = self.alternatives()
            if self.peek() is None or self.peek().kind != "rparen":
                self.error("unbalanced parenthesis: no ) after this (", tok.pos)
            self.take()
            return node
        if tok.kind == "field":
            return self.field(tok)
        self.error(f"unexpected {tok.text!r}", tok.pos)

    def field(self, tok: _Tok) -> Node:
        value = self.peek()
        if value is None or value.kind not in ("word", "phrase", "or"):
            self.error(f"{tok.text}: needs a value", tok.pos)
        self.take()
        if tok.text == "date":
            return parse_date_filter(value.text, self.query, value.pos)
        if tok.text == "person":
            return person_filter(value.text.strip('"'), self.query, value.pos)
        if tok.text not in FIELDS:
            known = ", ".join(sorted([*FIELDS, "date", "person"]))
            self.error(f"unknown field {tok.text!r} (known: {known})", tok.pos)
        fields = FIELDS[tok.text]
        if value.kind == "phrase":
            return Phrase(value.text[1:-1], fields)
        return Words(value.text, fields)


#: Longest query accepted, in characters.
MAX_QUERY_CHARS = 1000


def parse(query: str) -> Node | None:
    """Parse ``query`` into a tree (None when it holds no terms); raise QuerySyntaxError when malformed."""
    query = clean_text(query)
    if len(query) > MAX_QUERY_CHARS:
        raise QuerySyntaxError(query[:40] + "…", f"query too long: {len(query):,} characters (at most {MAX_QUERY_CHARS:,})")
    return _Parser(query).parse()


def person_filter(name: str, query: str = "", pos: int = 0) -> Person:
    """``person:"Doãn Trung Tuấn"`` (or the API's ``person=``) as a tree node."""
    name = " ".join(clean_text(name).split())
    if not any(c.isalpha() for c in name):
        raise QuerySyntaxError(query or name, "person: needs a name", pos)
    return Person(name)


# ---------------------------------------------------------------------------
# Dates

_ISO = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?$")
_DMY = re.compile(r"^(?:(\d{1,2})/)?(\d{1,2})/(\d{4})$")


def _day_span(text: str, query: str, pos: int) -> tuple[datetime, datetime]:
    """The [start, end) of the year, month or day ``text`` names."""
    m = _ISO.match(text)
    if m:
        year, month, day = int(m[1]), m[2] and int(m[2]), m[3] and int(m[3])
    elif (m := _DMY.match(text)):
        day, month, year = m[1] and int(m[1]), int(m[2]), int(m[3])
    else:
        raise QuerySyntaxError(query, f"{text!r} is not a date (use 2024-05-07, 2024-05, 2024 or 07/05/2024)", pos)
    try:
        if not month:
            return datetime(year, 1, 1), datetime(year + 1, 1, 1)
        if not day:
            start = datetime(year, month, 1)
            return start, start + timedelta(days=calendar.monthrange(year, month)[1])
        start = datetime(year, month, day)
        return start, start + timedelta(days=1)
    except ValueError:
        raise QuerySyntaxError(query, f"{text!r} is not a real date", pos) from None


def parse_date_filter(text: str, query: str = "", pos: int = 0) -> DateFilter:
    """``2024``, ``2024-05``, ``07/05/2024``, ``a..b``, ``>=a``, ``>a``, ``<=a``, ``<a``."""
    query = query or text
    for op in (">=", "<=", ">", "<"):
        if text.startswith(op):
            start, end = _day_span(text[len(op):], query, pos + len(op))
            return {
                ">=": DateFilter(start, None),
                ">": DateFilter(end, None),
                "<=": DateFilter(None, end),
                "<": DateFilter(None, start),
            }[op]
    if ".." in text:
        left, right = text.split("..", 1)
        start = _day_span(left, query, pos)[0] if left else None
        end = _day_span(right, query, pos + len(left) + 2)[1] if right else None
        if start and end and start >= end:
            raise QuerySyntaxError(query, f"date range {text!r} ends before it starts", pos)
        return DateFilter(start, end)
    return DateFilter(*_day_span(text, query, pos))


def date_bound(value, *, upper: bool) -> datetime | None:
    """An API ``date_from`` / ``date_to`` value as an inclusive start or exclusive end."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value + timedelta(microseconds=1) if upper else value
    if isinstance(value, date):
        start = datetime(value.year, value.month, value.day)
        return start + timedelta(days=1) if upper else start
    if isinstance(value, str):
        start, end = _day_span(value.strip(), value, 0)
        return end if upper else start
    raise QuerySyntaxError(str(value), "a date bound must be a date, a datetime or a string like 2024-05-07")
