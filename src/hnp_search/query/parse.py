"""Parsing: query text → a tree of nodes (words, phrases, fields, dates, persons); reads no index.

Syntax (see README "Query language"):

    hà nội mùa thu          bare words: all of them first, then most of them
    "văn hóa thể thao"      phrase: with diacritics exact, without folded
    -word  -"phrase"        exclude (a minus before a digit is a sign: -20 độ C)
    a OR b, ( ... )         alternatives and grouping
    title:x  author:"..."   restrict to a field
    person:"Doãn Trung Tuấn"   articles naming that person (not a street named after them)
    date:2024-05  date:07/05/2024  date:2024-05-01..2024-05-31  date:>=2024-05-01
    category:business  source:dantri   articles of that category or source (case and diacritics aside)
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
class Facet:
    """Articles whose ``name`` (category or source) is ``value``, case and diacritics aside."""

    name: str
    value: str


@dataclass(frozen=True)
class Not:
    node: "Node"


@dataclass(frozen=True)
class All:
    nodes: tuple["Node", ...]


@dataclass(frozen=True)
class Any:
    nodes: tuple["Node", ...]


Node = Union[Words, Phrase, DateFilter, Person, Facet, Not, All, Any]

FIELDS = {"title": ("title",), "lead": ("lead",), "body": ("body",), "author": ("author",)}

# ---------------------------------------------------------------------------
# Parsing

#: Field names a query may use as ``name:value``; any other ``word:`` is plain text.
FIELD_NAMES = ("title", "lead", "body", "author", "date", "person", "category", "source")
#: Fields that filter by a stored value rather than by words.
FACET_FIELDS = ("category", "source")
#: Parentheses nested deeper than this are read as plain text.
MAX_DEPTH = 16
#: Longest query accepted, in characters.
MAX_QUERY_CHARS = 1000

#: Typographic quotes that make phrases as ``"`` does.
_QUOTES = dict.fromkeys(map(ord, "\u201c\u201d\u201e\u201f\u00ab\u00bb\u2033\u301d\u301e\uff02"), '"')

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<field>(?P<fname>(?i:%s)):(?=[^\s)]))
  | (?P<phrase>"[^"]*")
  | (?P<quote>")
  | (?P<minus>-(?=["(]|[^\W\d]))
  | (?P<word>[^\s()"]+)
    """
    % "|".join(FIELD_NAMES),
    re.VERBOSE,
)

_LETTER_OR_DIGIT = re.compile(r"\w")


@dataclass
class _Tok:
    kind: str
    text: str
    pos: int


@dataclass
class Parsed:
    """A query as understood: its tree (None when it holds no terms) and what was read
    otherwise than typed (an unbalanced quote, a stray parenthesis…), for ``explain``."""

    tree: "Node | None"
    notes: list[str]


def _lex(query: str, notes: list[str]) -> list[_Tok]:
    tokens: list[_Tok] = []
    for m in _TOKEN.finditer(query):
        kind = "field" if m.group("field") else m.lastgroup or "word"
        if kind == "space":
            continue
        if kind == "quote":
            notes.append(f"the quote at {m.start() + 1} has no closing quote: read as a space")
            continue
        text = m.group("fname").lower() if kind == "field" else m.group()
        if kind == "word" and not _LETTER_OR_DIGIT.search(text):  # punctuation alone holds no term
            if "?" in text and tokens and tokens[-1].kind == "word":
                tokens[-1].text += " " + text  # but a question mark still says the words ask
            continue
        if kind == "word" and text == "OR":
            kind = "or"
        tokens.append(_Tok(kind, text, m.start()))
    return _balanced(tokens, notes)


def _balanced(tokens: list[_Tok], notes: list[str]) -> list[_Tok]:
    """``tokens`` without parentheses that have no partner, nest deeper than ``MAX_DEPTH``
    or enclose nothing, and without an OR that has no term on a side."""
    drop: set[int] = set()
    stack: list[int] = []
    for i, tok in enumerate(tokens):
        if tok.kind == "lparen":
            stack.append(i)
        elif tok.kind == "rparen":
            if stack:
                opened = stack.pop()
                if len(stack) >= MAX_DEPTH or opened == i - 1:
                    drop.update((opened, i))
            else:
                drop.add(i)
                notes.append(f"the ) at {tok.pos + 1} has no ( before it: ignored")
    for i in stack:
        drop.add(i)
        notes.append(f"the ( at {tokens[i].pos + 1} has no ) after it: ignored")
    kept = [t for i, t in enumerate(tokens) if i not in drop]
    out: list[_Tok] = []
    for i, tok in enumerate(kept):
        if tok.kind == "or":
            before = out[-1].kind if out else None
            after = kept[i + 1].kind if i + 1 < len(kept) else None
            if before in (None, "or", "lparen", "minus", "field") or after in (None, "or", "rparen"):
                notes.append(f"OR at {tok.pos + 1} has no term on one side: ignored")
                continue
        if tok.kind == "minus" and (i + 1 == len(kept) or kept[i + 1].kind in ("or", "rparen", "minus")):
            continue
        out.append(tok)
    return out


class _Parser:
    def __init__(self, query: str, notes: list[str]):
        self.query = query
        self.notes = notes
        self.tokens = _lex(query, notes)
        self.i = 0

    def peek(self) -> _Tok | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> _Tok:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def parse(self) -> "Node | None":
        nodes = []
        while self.peek() is not None:  # only a ")" (balanced away) could stop alternatives()
            node = self.alternatives()
            if node is not None:
                nodes.append(node)
            if self.peek() is not None:
                self.take()
        return None if not nodes else nodes[0] if len(nodes) == 1 else All(tuple(nodes))

    def alternatives(self) -> "Node | None":
        parts = [self.sequence()]
        while (tok := self.peek()) is not None and tok.kind == "or":
            self.take()
            parts.append(self.sequence())
        nodes = [n for n in parts if n is not None]
        return None if not nodes else nodes[0] if len(nodes) == 1 else Any(tuple(nodes))

    def sequence(self) -> "Node | None":
        nodes: list[Node] = []
        words: list[str] = []
        while (tok := self.peek()) is not None and tok.kind not in ("or", "rparen"):
            if tok.kind == "word":
                words.append(self.take().text)
                continue
            if words:
                nodes.append(Words(" ".join(words)))
                words = []
            node = self.unary()
            if isinstance(node, Words) and node.fields is None:
                words.append(node.text)
            elif node is not None:
                nodes.append(node)
        if words:
            nodes.append(Words(" ".join(words)))
        return None if not nodes else nodes[0] if len(nodes) == 1 else All(tuple(nodes))

    def unary(self) -> "Node | None":
        tok = self.take()
        if tok.kind == "minus":
            nxt = self.peek()
            if nxt is None:
                return None
            if nxt.kind == "word":
                return Not(Words(self.take().text))
            node = self.unary()
            return None if node is None else Not(node)
        if tok.kind == "phrase":
            return Phrase(tok.text[1:-1]) if _LETTER_OR_DIGIT.search(tok.text) else None
        if tok.kind == "lparen":
            node = self.alternatives()
            self.take()  # its ")": parentheses are balanced by now
            return node
        return self.field(tok)

    def field(self, tok: _Tok) -> "Node | None":
        value = self.peek()
        if value is None or value.kind not in ("word", "phrase", "or"):  # "date:(", "date:>=" and the like: plain text
            return Words(tok.text)
        self.take()
        text = value.text
        if tok.text == "date":
            if not _DATE_SHAPED.match(text):
                self.notes.append(f"date:{text} is no date: read as the words {tok.text} {text}")
                return Words(f"{tok.text} {text}")
            return parse_date_filter(text, self.query, value.pos)
        if value.kind == "phrase":
            text = text[1:-1]
            if not _LETTER_OR_DIGIT.search(text):
                return None
        if tok.text == "person":
            return person_filter(text, self.query, value.pos) if any(c.isalpha() for c in text) else Words(text)
        if tok.text in FACET_FIELDS:
            return facet_filter(tok.text, text)
        fields = FIELDS[tok.text]
        return Phrase(text, fields) if value.kind == "phrase" else Words(text, fields)


#: What a ``date:`` value must look like to be read as one (else it is plain text).
_DATE_SHAPED = re.compile(r"^(>=|<=|>|<)?[\d/.-]*\d[\d/.-]*$")


def understand(query: str) -> Parsed:
    """Parse ``query`` forgivingly: any text is a query. Raise QuerySyntaxError only for an
    operator used wrongly (``date:31/02/2024``) or a query over ``MAX_QUERY_CHARS``."""
    query = clean_text(query).translate(_QUOTES)
    if len(query) > MAX_QUERY_CHARS:
        message = f"query too long: {len(query):,} characters (at most {MAX_QUERY_CHARS:,})"
        raise QuerySyntaxError(query[:40] + "…", message)
    notes: list[str] = []
    return Parsed(_Parser(query, notes).parse(), notes)


def parse(query: str) -> "Node | None":
    """The tree of ``query`` (None when it holds no terms); see ``understand``."""
    return understand(query).tree


def person_filter(name: str, query: str = "", pos: int = 0) -> Person:
    """``person:"Doãn Trung Tuấn"`` (or the API's ``person=``) as a tree node."""
    name = " ".join(clean_text(name).split())
    if not any(c.isalpha() for c in name):
        raise QuerySyntaxError(query or name, "person: needs a name", pos)
    return Person(name)


def facet_filter(name: str, value: str) -> Facet:
    """``category:business`` (or the API's ``category=``) as a tree node."""
    return Facet(name, " ".join(clean_text(value).split()))


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
        start = datetime(year, month or 1, day or 1)
        days = 1 if day else calendar.monthrange(year, month)[1] if month else 365 + calendar.isleap(year)
    except ValueError:
        raise QuerySyntaxError(query, f"{text!r} is not a real date", pos) from None
    try:
        return start, start + timedelta(days=days)
    except OverflowError:  # the last day of year 9999
        return start, datetime.max


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
        low = _day_span(left, query, pos)[0] if left else None
        high = _day_span(right, query, pos + len(left) + 2)[1] if right else None
        if low and high and low >= high:
            raise QuerySyntaxError(query, f"date range {text!r} ends before it starts", pos)
        return DateFilter(low, high)
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


#: Orders a search can be sorted in.
SORTS = ("relevance", "date", "-date")
DateLike = Union[date, datetime, str, None]


def check_sort(query: str, sort: str) -> None:
    """Raise ``QuerySyntaxError`` for a sort that is none of ``SORTS``."""
    if sort not in SORTS:
        raise QuerySyntaxError(query, f"unknown sort {sort!r} (use one of {', '.join(SORTS)})")


def parse_with_filters(
    query: str,
    date_from: DateLike = None,
    date_to: DateLike = None,
    person: str | None = None,
    category: str | None = None,
    source: str | None = None,
) -> tuple[Node | None, list[Node], list[Person]]:
    """A search's query and options → the parsed tree, the filters the options add, and every
    person it asks for (in ``person:`` or ``person=``), as both backends need them."""
    tree = parse(query)
    filters: list[Node] = []
    start, end = date_bound(date_from, upper=False), date_bound(date_to, upper=True)
    if start or end:
        filters.append(DateFilter(start, end))
    wanted = _persons_in(tree)
    if person:
        wanted.append(person_filter(person))
        filters.append(wanted[-1])
    filters += [facet_filter(name, value) for name, value in (("category", category), ("source", source)) if value]
    return tree, filters, wanted


def conjuncts(node: Node | None) -> list[Node]:
    """The nodes a tree requires every one of (none for an empty query)."""
    return list(node.nodes) if isinstance(node, All) else [node] if node is not None else []


def _persons_in(node: Node | None) -> list[Person]:
    """The ``person:`` filters of a query tree (outside exclusions)."""
    if isinstance(node, Person):
        return [node]
    if isinstance(node, All):
        return [p for child in node.nodes for p in _persons_in(child)]
    return []
