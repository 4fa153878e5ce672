"""Query layer: parse the query language into a tree, and compile the tree into Whoosh queries over the analyzed fields.

Syntax (see README "Query language"):

    hà nội mùa thu          bare words: all of them first, then most of them
    "văn hóa thể thao"      phrase: with diacritics exact, without folded
    -word  -"phrase"        exclude
    a OR b, ( ... )         alternatives and grouping
    title:x  author:"..."   restrict to a field
    person:"Doãn Trung Tuấn"   articles naming a person
    date:2024-05  date:07/05/2024  date:2024-05-01..2024-05-31  date:>=2024-05-01
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Union

from whoosh import query as wq

from . import analyze
from .errors import QuerySyntaxError
from .normalize import clean_text, fold, has_diacritics

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
class Not:
    node: "Node"


@dataclass(frozen=True)
class All:
    nodes: tuple["Node", ...]


@dataclass(frozen=True)
class Any:
    nodes: tuple["Node", ...]


Node = Union[Words, Phrase, DateFilter, Not, All, Any]

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


@dataclass
class _Tok:
    kind: str
    text: str
    pos: int


def _lex(query: str) -> list[_Tok]:
    tokens = []
    for m in _TOKEN.finditer(query):
        kind = m.lastgroup if m.lastgroup != "fname" else "field"
        if m.group("field"):
            kind = "field"
        if kind == "space":
            continue
        if kind == "quote":
            raise QuerySyntaxError(query, "unbalanced quote: add the closing \"", m.start())
        text = m.group("fname").lower() if kind == "field" else m.group()
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
        if tok.text not in FIELDS:
            known = ", ".join(sorted([*FIELDS, "date"]))
            self.error(f"unknown field {tok.text!r} (known: {known})", tok.pos)
        fields = FIELDS[tok.text]
        if value.kind == "phrase":
            return Phrase(value.text[1:-1], fields)
        return Words(value.text, fields)


def parse(query: str) -> Node | None:
    """Parse ``query`` into a tree (None when it holds no terms); raise QuerySyntaxError when malformed."""
    return _Parser(clean_text(query)).parse()


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


# ---------------------------------------------------------------------------
# Compiling

#: BM25F-style field weights (applied as query boosts).
FIELD_WEIGHTS = {"title": 3.0, "lead": 1.5, "body": 1.0, "author": 1.0}
#: Extra weight of a match with the query's own diacritics over a folded-only match.
EXACT_BOOST = 2.0
#: Extra weight of a segmented-word match over its syllables alone.
WORD_BOOST = 1.0
TEXT_FIELDS = ("title", "lead", "body")


@dataclass
class Compiled:
    """A tree compiled twice: ``strict`` needs every word; ``loose`` needs any, and
    a loose hit counts only when it has at least ``min_match`` of the query's
    (folded) ``syllables`` — most of them, so long questions still find answers."""

    strict: wq.Query
    loose: wq.Query
    syllables: frozenset[str] = frozenset()
    min_match: int = 0

    def enough(self, matched_terms) -> bool:
        """Whether a loose hit's matched (field, term) pairs cover enough of the query."""
        covered = set()
        for fieldname, text in matched_terms:
            if fieldname.endswith("_sf"):
                text = text.decode("utf-8") if isinstance(text, bytes) else text
                if text in self.syllables:
                    covered.add(text)
        return len(covered) >= self.min_match


def compile_tree(node: Node | None) -> Compiled:
    if node is None:
        return Compiled(wq.NullQuery, wq.NullQuery)
    required = node.nodes if isinstance(node, All) else (node,)
    syllables = frozenset(
        fold(s) for n in required if isinstance(n, Words) for w in analyze.query_words(n.text) for s in w.syllables
    )
    min_match = len(syllables) if len(syllables) < 3 else (len(syllables) + 1) // 2
    return Compiled(_compile(node, strict=True), _compile(node, strict=False), syllables, min_match)


def _compile(node: Node, strict: bool) -> wq.Query:
    if isinstance(node, Words):
        return _words(node.text, node.fields or TEXT_FIELDS, strict)
    if isinstance(node, Phrase):
        return _phrase(node.text, node.fields or TEXT_FIELDS)
    if isinstance(node, DateFilter):
        return date_query(node)
    if isinstance(node, Not):
        return wq.Not(_excluded(node.node))
    if isinstance(node, Any):
        return wq.Or([_compile(n, strict) for n in node.nodes])
    positives = [_compile(n, strict) for n in node.nodes if not isinstance(n, Not)]
    negatives = [_excluded(n.node) for n in node.nodes if isinstance(n, Not)]
    positive = wq.And(positives) if positives else wq.Every()
    if len(positives) == 1:
        positive = positives[0]
    return wq.AndNot(positive, wq.Or(negatives)) if negatives else positive


def _excluded(node: Node) -> wq.Query:
    """What ``-node`` removes: words typed with diacritics exclude only those diacritics."""
    if isinstance(node, Words):
        fields = node.fields or TEXT_FIELDS
        syllables = [s for w in analyze.query_words(node.text) for s in w.syllables]
        if not syllables:
            return wq.NullQuery
        return wq.And([
            wq.Or([wq.Term(f"{f}_s" if has_diacritics(s) else f"{f}_sf", s) for f in fields])
            for s in syllables
        ])
    return _compile(node, strict=True)


def date_query(node: DateFilter) -> wq.Query:
    return wq.DateRange("published", node.start, node.end, endexcl=True)


def _syllable(fields: tuple[str, ...], syllable: str) -> wq.Query:
    """One query syllable: folded everywhere, exact (with its diacritics) weighted higher."""
    alternatives = [wq.Term(f"{f}_sf", fold(syllable), boost=FIELD_WEIGHTS[f]) for f in fields]
    if has_diacritics(syllable):
        alternatives += [wq.Term(f"{f}_s", syllable, boost=FIELD_WEIGHTS[f] * EXACT_BOOST) for f in fields]
    return wq.Or(alternatives)


def _word_terms(fields: tuple[str, ...], words: list[analyze.QueryWord]) -> list[wq.Query]:
    """Bonus terms for whole words: segmented words, plus, where syllables were typed
    without diacritics (so segmentation is unreliable), every 2- and 3-syllable run."""
    out = []
    fields = tuple(f for f in fields if f in TEXT_FIELDS)
    segmented = {w.syllables for w in words if len(w.syllables) > 1}
    syllables = [s for w in words for s in w.syllables]
    runs = set(segmented)
    for n in (2, 3):
        for i in range(len(syllables) - n + 1):
            run = tuple(syllables[i : i + n])
            if not all(has_diacritics(s) for s in run):
                runs.add(run)
    for run in sorted(runs):
        joined = analyze.WORD_JOINER.join(run)
        for f in fields:
            out.append(wq.Term(f"{f}_wf", fold(joined), boost=FIELD_WEIGHTS[f] * WORD_BOOST))
            if has_diacritics(joined) and run in segmented:
                out.append(wq.Term(f"{f}_w", joined, boost=FIELD_WEIGHTS[f] * WORD_BOOST * EXACT_BOOST))
    return out


def _words(text: str, fields: tuple[str, ...], strict: bool) -> wq.Query:
    words = analyze.query_words(text)
    syllables = [_syllable(fields, s) for w in words for s in w.syllables]
    if not syllables:
        return wq.NullQuery
    bonus = _word_terms(fields, words)
    core = (wq.And if strict else wq.Or)(syllables)
    return wq.AndMaybe(core, wq.Or(bonus)) if bonus else core


def _phrase(text: str, fields: tuple[str, ...]) -> wq.Query:
    syllables = [s for w in analyze.query_words(text) for s in w.syllables]
    if not syllables:
        return wq.NullQuery
    exact = any(has_diacritics(s) for s in syllables)
    suffix = "s" if exact else "sf"
    terms = syllables if exact else [fold(s) for s in syllables]
    if len(terms) == 1:
        return wq.Or([wq.Term(f"{f}_{suffix}", terms[0], boost=FIELD_WEIGHTS[f]) for f in fields])
    return wq.Or([wq.Phrase(f"{f}_{suffix}", terms, slop=1, boost=FIELD_WEIGHTS[f]) for f in fields])
