"""Facets: matching docnums → (value, articles) per facet, from per-document codes made once per index state.

The codes come from columns: category, source, persons, dates.
"""

from __future__ import annotations

from collections import Counter
from heapq import nsmallest
from datetime import date, datetime, timedelta
from itertools import chain
from typing import Iterable

from ..persons import person_key
from ..results import FACETS, FacetCounts
from ..text.normalize import fold
from .view import _MISSING_DATE, IndexView

#: Values listed per facet (most articles first); ``year`` and ``month`` list every value, in order.
FACET_TOP = 20
_DAY_MICROSECONDS = 86_400_000_000


def facet_counts(
    view: IndexView, docs: Iterable[int], names: Iterable[str], top: int = FACET_TOP
) -> dict[str, FacetCounts]:
    """Per facet of ``names``: [(value, articles among ``docs``)], most first (``year``
    and ``month``: a histogram in date order, oldest first). Articles without a value
    (no category, no date) are not counted."""
    docs = list(docs)
    out: dict[str, FacetCounts] = {}
    for name in names:
        if name == "person":
            codes, values = person_codes(view)
            counts = Counter(chain.from_iterable(map(codes.__getitem__, docs)))
        else:
            code, values = value_codes(view, name)
            counts = Counter(map(code.__getitem__, docs))
        counts.pop(0, None)  # no value
        order = _name_order(view, name, values)
        if name in ("year", "month"):
            out[name] = [(values[c], n) for c, n in sorted(counts.items(), key=lambda x: order[x[0]])]
        else:
            out[name] = [(values[c], n) for c, n in _most(counts, top, order)]
    return out


def _most(counts: Counter, top: int, order: list[int]) -> list[tuple[int, int]]:
    """The ``top`` (code, count) of ``counts`` with the highest counts, ties by name (``order``
    ranks the codes by name): only those that can be among them are sorted."""
    if len(counts) > top:
        threshold = sorted(counts.values(), reverse=True)[top - 1]
        above = [(c, n) for c, n in counts.items() if n > threshold]
        ties = nsmallest(top - len(above), (c for c, n in counts.items() if n == threshold), key=order.__getitem__)
        chosen = above + [(c, threshold) for c in ties]
    else:
        chosen = list(counts.items())
    return sorted(chosen, key=lambda x: (-x[1], order[x[0]]))


def _name_order(view: IndexView, name: str, values: list[str]) -> list[int]:
    """Per code of facet ``name``, the rank of its value in name order (made once per index state)."""

    def make():
        order = [0] * len(values)
        for rank, code in enumerate(sorted(range(len(values)), key=values.__getitem__)):
            order[code] = rank
        return order, len(order) + 1

    return view.coded(f"{name} order", make)


def check_facets(names: Iterable[str]) -> tuple[str, ...]:
    """``names`` as a tuple, each a known facet (else ValueError naming it)."""
    names = tuple(names)
    for name in names:
        if name not in FACETS:
            raise ValueError(f"unknown facet {name!r} (use any of {', '.join(FACETS)})")
    return names


def value_codes(view: IndexView, name: str) -> tuple[list[int], list[str]]:
    """Per document the code of its ``category``, ``source``, ``year`` or ``month`` (0: none),
    and each code's value."""

    def make():
        if name in ("year", "month"):
            width = 4 if name == "year" else 7
            labels = [None if t >= _MISSING_DATE else date.fromordinal(t // _DAY_MICROSECONDS + 1).isoformat()[:width]
                      for t in view.published()]  # fmt: skip
        else:
            labels = [v.decode("utf-8") or None for v in view.strings(f"facet_{name}")]
        index: dict[str | None, int] = {None: 0}
        codes = [index.setdefault(label, len(index)) for label in labels]
        values = [""] * len(index)
        for label, c in index.items():
            values[c] = label or ""
        return (codes, values), len(codes) + 1

    return view.coded(name, make)


def person_codes(view: IndexView) -> tuple[list[tuple[int, ...]], list[str]]:
    """Per document the codes of the persons it names, one code per person key (spellings
    differing in case or tone-mark placement are one person, shown as the spelling most
    articles use), and each code's name."""

    def make():
        index: dict[str, int] = {"": 0}
        spellings: dict[str, Counter] = {}
        codes = []
        for value in view.strings("facet_person"):
            names = value.decode("utf-8").split("\n") if value else ()
            doc = []
            for n in names:
                key = person_key(n)
                doc.append(index.setdefault(key, len(index)))
                spellings.setdefault(key, Counter())[n] += 1
            codes.append(tuple(dict.fromkeys(doc)))
        values = [""] * len(index)
        for key, c in index.items():
            if key:
                values[c] = max(spellings[key].items(), key=lambda x: (x[1], x[0]))[0]
        return (codes, values), len(codes) + 1

    return view.coded("person", make)


def value_docs(view: IndexView, name: str, value: str) -> set[int]:
    """The documents whose ``category`` or ``source`` is ``value`` (case and diacritics aside)."""
    codes, values = value_codes(view, name)
    key = fold(value.strip().lower())
    wanted = {c for c, v in enumerate(values) if c and key in _keys(name, v)}
    return {d for d, c in enumerate(codes) if c in wanted} - view.deleted() if wanted else set()


def _keys(name: str, value: str) -> set[str]:
    """What a filter may name a value by: itself; for a source (a path), also its file name
    with and without extensions."""
    folded = fold(value.lower())
    if name != "source":
        return {folded}
    base = folded.replace("\\", "/").rsplit("/", 1)[-1]
    return {folded, base, base.split(".", 1)[0]}


def date_range(view: IndexView, docs: Iterable[int]) -> tuple[datetime | None, datetime | None, int]:
    """The first and last publication times among ``docs``, and how many of them have none."""
    published = view.published()
    times = [published[d] for d in docs]
    dated = [t for t in times if t < _MISSING_DATE]
    if not dated:
        return None, None, len(times)
    first, last = (datetime.min + timedelta(microseconds=t) for t in (min(dated), max(dated)))
    return first, last, len(times) - len(dated)
