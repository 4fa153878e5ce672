"""Explanations: how a query was understood (parts, readings, weights, synonyms, filters, tiers), printable."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

from . import plan as planning
from .parse import All, DateFilter, Facet, Node, Not, Person, Phrase, Words, conjuncts


@dataclass(frozen=True)
class Part:
    """One part of a query tree: ``kind`` (words, phrase, date, person, not, all, any), its
    text, the fields it is restricted to, and for words their readings and synonyms."""

    kind: str
    text: str = ""
    fields: tuple[str, ...] | None = None
    syllables: tuple[planning.Reading, ...] = ()
    synonyms: tuple[planning.Expansion, ...] = ()
    question: bool = False
    exact: bool | None = None  # a phrase: matched with the diacritics typed (else folded)
    parts: tuple["Part", ...] = ()

    def to_dict(self) -> dict:
        out: dict = {"kind": self.kind}
        if self.text:
            out["text"] = self.text
        if self.fields:
            out["fields"] = list(self.fields)
        if self.kind == "words":
            out["question"] = self.question
            out["syllables"] = [
                {"typed": r.typed, "weight": round(r.weight, 3), "restored": r.restored, "exact": r.exact,
                 "corrections": [{"kind": k, "reading": m} for k, m in r.corrections]}
                for r in self.syllables
            ]
            out["synonyms"] = [
                {"typed": e.typed, "forms": list(e.forms), "weight": round(e.weight, 3), "kind": e.kind}
                for e in self.synonyms
            ]
        if self.exact is not None:
            out["exact"] = self.exact
        if self.parts:
            out["parts"] = [p.to_dict() for p in self.parts]
        return out

    def lines(self, depth: int = 0) -> list[str]:
        pad = "  " * depth
        where = f" (in {', '.join(self.fields)})" if self.fields else ""
        if self.kind in ("all", "any"):
            head = "all of:" if self.kind == "all" else "any of (OR):"
            return [pad + head] + [line for p in self.parts for line in p.lines(depth + 1)]
        if self.kind == "not":
            return [pad + "excluding:"] + [line for p in self.parts for line in p.lines(depth + 1)]
        if self.kind == "phrase":
            how = "with the diacritics typed" if self.exact else "diacritics ignored"
            return [f'{pad}phrase "{self.text}"{where}: consecutive syllables, {how}']
        if self.kind in ("date", "person", "category", "source"):
            return [f"{pad}{self.kind}: {self.text}"]
        out = [f"{pad}words {self.text!r}{where}" + (" — asked as a question" if self.question else "")]
        for r in self.syllables:
            accented = r.typed != _plain(r.typed)
            how = ("with these diacritics first, any tone also found" if accented else "diacritics ignored")
            if r.exact:
                how = "with these diacritics (the index holds it so beside its neighbour)"
            line = f"{pad}  {r.typed}: weight {r.weight:.2f}, {how}"
            if r.restored and r.restored != r.typed:
                line += f"; likely reading {r.restored!r} ranks higher"
            if r.corrections:
                kinds = sorted({_KINDS[k] for k, _ in r.corrections})
                readings = " or ".join(repr(m) for _, m in r.corrections)
                share = planning.CORRECTED_SHARE
                how = "also" if kinds == [_KINDS["number"]] else "not in the index:"
                line += f"; {how} read as {readings} ({', '.join(kinds)}; {share:.1f} of its weight)"
            out.append(line)
        for e in self.synonyms:
            out.append(f"{pad}  {e.typed!r} also finds {', '.join(repr(f) for f in e.forms)} "
                       f"({_KINDS[e.kind]}; {planning.SYNONYM_SHARE:.1f} of its weight)")
        return out


_KINDS = {"telex": "Telex/VNI typing", "typo": "one-edit correction", "split": "syllables written together",
          "number": "the number as Vietnamese text writes it", "synonyms": "synonyms",
          "date": "the day as news writes it"}


def _plain(text: str) -> str:
    from ..text.normalize import fold

    return fold(text)


@dataclass(frozen=True)
class Explanation:
    """How ``engine.explain(query)`` understood a query; ``str()`` prints it, ``to_dict()``
    is JSON-ready."""

    query: str
    notes: tuple[str, ...]
    tree: Part | None
    filters: tuple[str, ...]
    ranking: str
    all_words: int  # articles holding every word (or a reading or synonym of it)
    most_words: int  # further articles holding enough of them to be listed after
    suggestion: str | None = None
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "query": self.query,
            "notes": list(self.notes),
            "tree": self.tree.to_dict() if self.tree else None,
            "filters": list(self.filters),
            "ranking": self.ranking,
            "all_words": self.all_words,
            "most_words": self.most_words,
            "suggestion": self.suggestion,
        }

    def __str__(self) -> str:
        out = [f"query: {self.query!r}"]
        out += [f"reinterpreted: {n}" for n in self.notes]
        out += ["understood as:"] + (self.tree.lines(1) if self.tree else ["  nothing to search for"])
        out += [f"filter: {f}" for f in self.filters]
        out.append(f"ranking: {self.ranking}")
        out.append(f"matches: {self.all_words} with every word, {self.most_words} more with most of them")
        if self.suggestion:
            out.append(f"did you mean: {self.suggestion}")
        return "\n".join(out)


def describe(node: Node | None, plan_of: Callable[[Words], planning.Plan | None]) -> Part | None:
    """The ``Part`` tree of a query tree, with each ``Words``'s plan (``plan_of``)."""
    if node is None:
        return None
    if isinstance(node, Words):
        plan = plan_of(node)
        return Part("words", node.text, node.fields, plan.readings if plan else (), plan.expansions if plan else (),
                    planning.is_question(node.text))
    if isinstance(node, Phrase):
        variant, _ = planning.phrase_terms(node)
        return Part("phrase", node.text, node.fields, exact=variant == "s")
    if isinstance(node, DateFilter):
        return Part("date", date_range(node))
    if isinstance(node, Person):
        return Part("person", node.name)
    if isinstance(node, Facet):
        return Part(node.name, node.value)
    if isinstance(node, Not):
        return Part("not", parts=tuple(filter(None, [describe(node.node, lambda words: None)])))
    kind = "all" if isinstance(node, All) else "any"
    return Part(kind, parts=tuple(p for p in (describe(n, plan_of) for n in node.nodes) if p))


def date_range(node: DateFilter) -> str:
    """A date filter as read: ``from 2021-04-01 to 2021-04-30`` (inclusive days)."""
    start = node.start.date().isoformat() if isinstance(node.start, datetime) else None
    end = (node.end - timedelta(microseconds=1)).date().isoformat() if isinstance(node.end, datetime) else None
    if start and end:
        return start if start == end else f"from {start} to {end}"
    return f"from {start}" if start else f"until {end}" if end else "any date"


def filter_text(node: Node) -> str:
    """A filter the API's options add, as read: ``date from … to …``, ``person …``, ``category …``."""
    if isinstance(node, DateFilter):
        return f"date {date_range(node)}"
    if isinstance(node, Person):
        return f"person {node.name}"
    if isinstance(node, Facet):
        return f"{node.name} {node.value}"
    return repr(node)


def ranking_rule(node: Node | None, sort: str) -> str:
    """How the matches of a query are ordered."""
    if sort != "relevance":
        return "by date, newest first" if sort == "-date" else "by date, oldest first"
    required = conjuncts(node)
    words = [n for n in required if isinstance(n, Words)]
    if any(planning.is_question(n.text) for n in words):
        return "a question: by score among articles with most of its words (its answer seldom repeats 'what', 'who'…)"
    if words:
        return "articles with every word first (by score), then those with most of them"
    return "by score"
