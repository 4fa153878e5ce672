"""Query understanding: a tree's bare words and phrases → the index terms they mean, weighted (a ``Plan``).

Also whether a query asks a question.

This is where what a query means is decided: diacritics typed or not, restored readings,
2- and 3-syllable runs tried as words, syllable weights. ``retrieve`` only looks up, matches
and scores what a plan lists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, NamedTuple

from ..store.schema import TEXT_FIELDS
from ..text import analyze
from ..text.normalize import fold, has_diacritics
from .parse import Phrase, Words
from . import telex
from .synonyms import Synonyms
from .typos import misspelled, one_edit
from .vocabulary import Lexicon, accented_forms

#: BM25F weights of the fields.
FIELD_WEIGHTS = {"title": 2.0, "lead": 1.5, "body": 1.0, "author": 1.0}
#: Share of a syllable's weight that needs the diacritics typed: a folded-only match
#: earns the rest, so exact spellings rank first and every syllable weighs the same.
EXACT_SHARE = 0.9
#: Extra weight of a segmented-word match over its syllables alone.
WORD_BOOST = 0.5
#: Weight of each syllable of a query word of several (a segmented word, or for a query typed
#: without diacritics a restored reading), and of the proximity bonus of its pairs: a rare
#: two-syllable word would otherwise weigh twice a rare one-syllable name, and its pair of
#: syllables earns the proximity bonus too.
WORD_SYLLABLE_WEIGHT = 0.6
#: Weight of the restored accented reading of words typed without diacritics.
RESTORED_SHARE = 0.15
#: Weight of a pair of query syllables found side by side (on top of their own scores),
#: times how telling the pair is among the candidates (see ``retrieve.rank._proximity``).
PROXIMITY_BOOST = 1.2

#: Weight of the title in a question, relative to ``FIELD_WEIGHTS``: a question asks a detail
#: its answer's text holds, while a title names the story every article of it shares.
QUESTION_TITLE_SHARE = 0.25

#: Words that ask rather than tell: "what", "which", "who", "where", "how many", "why"…
QUESTION_WORDS = frozenset(
    {"gì", "nào", "ai", "đâu", "mấy", "bao nhiêu", "bao lâu", "bao giờ", "tại sao", "vì sao", "thế nào", "làm sao"}
)
#: Those still telling when typed without diacritics ("nao" may be "não", "dau" "đầu"), and
#: runs that are: "khi nao", "o dau", "ra sao", "la ai", "may" (mấy) before a unit ("may tuoi").
_FOLDED_QUESTION_WORDS = frozenset(
    {"gi", "bao nhieu", "bao lau", "bao gio", "tai sao", "vi sao", "the nao", "lam sao", "khi nao", "o dau",
     "ra sao", "la ai"}
    | {f"may {unit}" for unit in ("tuoi", "gio", "ngay", "tuan", "thang", "nam", "lan", "nguoi", "loai", "cach")}
)


def is_question(text: str) -> bool:
    """Whether a query is asked as a question: a question mark, a question word (with
    diacritics, one syllable must be a segmented word of its own: "Ai Cập" asks nothing;
    two, as "vì sao", may be segmented apart), or "có … không" ending it (also typed
    without diacritics: "co … khong")."""
    if "?" in text:
        return True
    words = analyze.query_words(text)
    syllables = [s for w in words for s in w.syllables]
    if any(has_diacritics(s) for s in syllables):
        if any(" ".join(w.syllables) in QUESTION_WORDS for w in words):
            return True
        if _asks_yes_or_no(syllables, "có", "không"):
            return True
        return any(" ".join(syllables[i : i + 2]) in QUESTION_WORDS for i in range(len(syllables) - 1))
    if _asks_yes_or_no([fold(s) for s in syllables], "co", "khong"):
        return True
    return any(" ".join(syllables[i : i + n]) in _FOLDED_QUESTION_WORDS for n in (1, 2) for i in range(len(syllables)))


def _asks_yes_or_no(syllables: list[str], has: str, not_: str) -> bool:
    """Whether ``syllables`` end in "không" with a "có" before it ("có … không")."""
    return len(syllables) > 2 and syllables[-1] == not_ and has in syllables[:-1]


#: In how many articles one syllable stands right before another, counted up to a number
#: (default 1: whether any does).
SideBySide = Callable[..., int]


class Term(NamedTuple):
    """One index term a query means, and its weight (before BM25)."""

    field: str  # an index field name, e.g. "title_sf"
    term: str
    weight: float


class Pair(NamedTuple):
    """Two syllables of a query that earn ``weight`` when side by side in ``field``."""

    field: str
    first: str
    second: str
    weight: float


Lookups = tuple[tuple[str, str], ...]  # (field, term)s an article must hold one of
#: What an article must hold for one query syllable (or run of them): any one alternative,
#: an alternative being lookups of which it must hold all.
Requirement = tuple[tuple[Lookups, ...], ...]


class Reading(NamedTuple):
    """How one query syllable was read: as typed, and what the index holds in its place."""

    typed: str
    weight: float
    corrections: tuple[tuple[str, str], ...]  # (kind: "telex", "typo", "split" or "number", reading)
    restored: str | None  # the accented reading of a run typed without diacritics
    exact: bool = False  # typed with diacritics an article must hold (see ``plan_words``)


class Expansion(NamedTuple):
    """A run of the query found in the synonyms list (or a day typed "30-4"), and the other
    forms it also finds."""

    typed: str
    forms: tuple[str, ...]
    weight: float
    kind: str = "synonyms"  # or "date": the day as news writes it


@dataclass(frozen=True)
class Plan:
    """What a run of bare words asks for: the ``required`` of which an article must meet
    every one to hold all the words (one per syllable, or per run found in the synonyms
    list); the weighted terms scored wherever present, in scoring order; the pairs whose
    proximity earns a bonus; and, for ``explain``, how each syllable was read."""

    required: tuple[Requirement, ...]
    terms: tuple[Term, ...]
    pairs: tuple[Pair, ...]
    readings: tuple[Reading, ...] = ()
    expansions: tuple[Expansion, ...] = ()


#: Weight of a reading the index holds in place of a syllable it does not (a Telex or VNI
#: decoding, a one-edit correction, a split), relative to the syllable typed.
CORRECTED_SHARE = 0.8
#: Corrections tried for a syllable the index does not hold.
CORRECTIONS = 2
#: Weight of another form of a run found in the synonyms list, relative to the run typed
#: (spread over the form's syllables).
SYNONYM_SHARE = 0.6


def corrections_of(
    typed: str, known: Callable[[str], int], lexicon: Callable[[], Lexicon] | None,
    held: Callable[[str], int] | None = None, beside: Callable[[str], bool] | None = None,
) -> list[tuple[str, tuple[str, ...]]]:
    """What a query syllable the index lacks (``known``: in how many articles a folded
    syllable is) may have been meant as, as (kind, syllables): typed without diacritics,
    its Telex or VNI decoding where the index holds that; else two syllables written
    together where the index holds them as a word or as letters then digits ("hanoi" ->
    "ha noi", "covid19" -> "covid 19"); else the most frequent syllables one edit away,
    folded, or typed with diacritics, the spellings one edit from the typed one that the
    index holds (``held``: in how many articles an accented syllable is), most frequent
    first ("nộj" -> "nội", not the Telex reading "nọ" of keys the diacritics say were
    not Telex). For a syllable of known letters, only when typed with diacritics the index
    never holds so and that break Vietnamese spelling (``misspelled``): the held spellings
    one edit away. Spellings standing ``beside`` a neighbour as typed are taken alone when
    some do ("trái phéo" -> "phép", not "pháo"). Else empty."""
    folded = fold(typed)
    accented = has_diacritics(typed)
    if lexicon is None:
        return []
    if known(folded):  # only its letters are, not so spelled ("mặy"), or known as typed
        if held is None or not accented or not misspelled(typed) or held(typed):
            return []
        found = [folded] + [t for t, _ in lexicon().corrector().corrections(folded, limit=200)]
        return [("typo", (r,)) for r in _spellings(typed, found, held, beside)]
    decoded = [] if accented else [fold(d) for d in telex.decodings(folded) if known(fold(d))]
    if decoded:
        return [("telex", (decoded[0],))]
    split = _split(folded, known, lexicon)
    if split:
        return [("split", split)]
    found = [t for t, _ in lexicon().corrector().corrections(folded, limit=200)]
    if accented and held is not None:
        spelled = _spellings(typed, found, held, beside)
        if spelled:
            return [("typo", (r,)) for r in spelled]
    return [("typo", (t,)) for t in sorted(found, key=known, reverse=True)[:CORRECTIONS]]


def number_forms(typed: str, known: Callable[[str], int]) -> list[tuple[str, tuple[str, ...]]]:
    """The same number as Vietnamese text writes it, where the index holds that: thousands
    grouped by dots ("5560" or "5,560" -> "5.560"; not a year such as "2021"), a decimal
    comma ("6.67" -> "6,67", "1219,75" -> "1.219,75")."""
    found = _NUMBER.fullmatch(typed)
    if found is None:
        return []
    whole, fraction = found.group(1).replace(",", ""), found.group(3)
    if fraction is not None and len(fraction) == 3 and found.group(2) == ".":
        return []  # "5.560": already grouped the Vietnamese way
    if len(whole) > 4 or len(whole) == 4 and (fraction is not None or not "1900" <= whole < "2100"):
        if whole.startswith("0"):
            return []
        whole = f"{int(whole):,}".replace(",", ".")
    form = whole if fraction is None else f"{whole},{fraction}"
    return [("number", (form,))] if form != typed and known(form) else []


_NUMBER = re.compile(r"(\d+(?:,\d{3})*)(?:([.,])(\d+))?", re.ASCII)


def _spellings(typed: str, folded: list[str], held: Callable[[str], int],
               beside: Callable[[str], bool] | None) -> list[str]:
    """The ``CORRECTIONS`` most frequent spellings the index holds one edit from ``typed``
    (diacritics included) and folding to one of ``folded``; only those found ``beside`` a
    neighbour as typed, when some are ("trái phéo" -> "phép", not the commoner "pháo")."""
    near = {r: held(r) for t in folded for r in accented_forms(t) if one_edit(typed, r)}
    spelled = sorted((r for r, n in near.items() if n), key=lambda r: (-near[r], r))
    confirmed = [r for r in spelled if beside is not None and beside(r)]
    return (confirmed or spelled)[:CORRECTIONS]


def _split(folded: str, known: Callable[[str], int], lexicon: Callable[[], Lexicon]) -> tuple[str, str] | None:
    """Two indexed syllables ``folded`` joins, confirmed by the index: a word of the lexicon
    (the most frequent such split), or letters followed by digits."""
    best, best_count = None, 0
    words = lexicon().words
    for i in range(1, len(folded)):
        a, b = folded[:i], folded[i:]
        letters_digits = a.isalpha() and b.isdigit()
        if not (letters_digits or analyze.WORD_JOINER.join((a, b)) in words):
            continue
        count = min(known(a), known(b))
        if count > best_count:
            best, best_count = (a, b), count
    return best


def plan_words(node: Words, lexicon: Callable[[], Lexicon] | None = None,
               known: Callable[[str], int] | None = None, synonyms: Synonyms | None = None,
               held: Callable[[str], int] | None = None,
               side_by_side: SideBySide | None = None) -> Plan | None:
    """The plan of a ``Words`` node (None when it holds no syllables); ``lexicon`` is called
    only for a query typed without diacritics, to restore their likely readings, or holding
    a syllable the index lacks (``known``: in how many articles a folded syllable is), to
    correct it (``held``: in how many articles an accented syllable is, to correct one typed
    with diacritics); runs found in ``synonyms`` also find the group's other forms. Diacritics
    typed rank exact spellings first but are not required: a wrong tone still finds the word;
    unless the index holds the syllable as typed beside its neighbour as typed
    (``side_by_side``): then "giãn cách" is meant, and an article holding "gian" lacks a word.
    In a question (``is_question``) the title weighs ``QUESTION_TITLE_SHARE`` of its weight."""
    fields = node.fields or TEXT_FIELDS
    words = analyze.query_words(node.text)
    syllables = [s for w in words for s in w.syllables]
    if not syllables:
        return None
    # Likely readings of a query typed without diacritics: (start, accented run). One
    # with some ("việt nam") was typed with them: "nam" is how the user writes it.
    accented = any(has_diacritics(s) for s in syllables)
    readings = [] if accented or lexicon is None else lexicon().restore(syllables)
    restored = {start + i: r for start, run in readings for i, r in enumerate(run)}
    requirements: list[Requirement] = []
    terms = []
    understood = []
    weights = _syllable_weights(words, readings, accented)
    exact = _confirmed(syllables, known, held, side_by_side) if accented and known else set()
    for i, (s, weight) in enumerate(zip(syllables, weights)):
        folded = fold(s)
        if has_diacritics(s):
            terms += [Term(f"{f}_s", s, weight * FIELD_WEIGHTS[f] * EXACT_SHARE) for f in fields]
            terms += [Term(f"{f}_sf", folded, weight * FIELD_WEIGHTS[f] * (1 - EXACT_SHARE)) for f in fields]
        else:
            terms += [Term(f"{f}_sf", s, weight * FIELD_WEIGHTS[f]) for f in fields]
        lookups = [(f"{f}_s" if i in exact else f"{f}_sf", s if i in exact else folded) for f in fields]
        alternatives = []
        corrections = (number_forms(s, known) or corrections_of(s, known, lexicon, held,
                                                                 _beside(syllables, i, side_by_side))) if known else []
        for _, meant in corrections:
            share = weight * CORRECTED_SHARE / len(meant)
            for m in meant:
                if has_diacritics(m):  # its diacritics first, as a syllable typed with them
                    terms += [Term(f"{f}_s", m, share * FIELD_WEIGHTS[f] * EXACT_SHARE) for f in fields]
                    terms += [Term(f"{f}_sf", fold(m), share * FIELD_WEIGHTS[f] * (1 - EXACT_SHARE)) for f in fields]
                else:
                    terms += [Term(f"{f}_sf", m, share * FIELD_WEIGHTS[f]) for f in fields]
            if len(meant) == 1:
                lookups += [(f"{f}_sf", fold(meant[0])) for f in fields]
            else:
                alternatives.append(tuple(tuple((f"{f}_sf", m) for f in fields) for m in meant))
        requirements.append(((tuple(lookups),), *alternatives))
        understood.append(Reading(s, weight, tuple((k, " ".join(m)) for k, m in corrections), restored.get(i),
                                  i in exact))
    fields = tuple(f for f in fields if f in TEXT_FIELDS)
    terms += _word_terms(fields, words, syllables, accented) + _restored(fields, readings)
    # Side by side, a pair weighs as its syllables do (a word's own pair less).
    paired: dict[tuple[str, str], float] = {}
    for a, b, wa, wb in zip(syllables, syllables[1:], weights, weights[1:]):
        key = (fold(a), fold(b))
        paired[key] = max(paired.get(key, 0.0), (wa + wb) / 2)
    expansions = []
    runs = [(*run, "synonyms") for run in synonyms.find(syllables)] if synonyms is not None else []
    if known is not None:
        taken = {i for start, end, _, _ in runs for i in range(start, end)}
        runs += [(*r, "date") for r in _day_months(node.text, syllables, known) if taken.isdisjoint(range(*r[:2]))]
    if runs:
        for start, end, forms, kind in runs:
            run_weight = sum(weights[start:end])
            typed = tuple(lookup for r in requirements[start:end] for lookup in r[0])
            others = tuple(tuple(tuple((f"{f}_sf", s) for f in fields) for s in form) for form in forms)
            requirements[start:end] = [(typed, *others)] * (end - start)  # one per syllable it covers
            for form in forms:
                share = run_weight * SYNONYM_SHARE / len(form)
                terms += [Term(f"{f}_sf", s, share * FIELD_WEIGHTS[f]) for s in form for f in fields]
                for a, b in zip(form, form[1:]):
                    paired[(a, b)] = max(paired.get((a, b), 0.0), share)
            expansions.append(Expansion(" ".join(syllables[start:end]), tuple(" ".join(f) for f in forms),
                                        run_weight * SYNONYM_SHARE, kind))
    pairs = [
        Pair(f"{f}_sf", a, b, FIELD_WEIGHTS[f] * PROXIMITY_BOOST * w)
        for (a, b), w in sorted(paired.items())
        for f in fields
    ]
    if is_question(node.text):
        terms = [t._replace(weight=t.weight * QUESTION_TITLE_SHARE) if _in_title(t.field) else t for t in terms]
        pairs = [p._replace(weight=p.weight * QUESTION_TITLE_SHARE) if _in_title(p.field) else p for p in pairs]
    required = tuple(requirements)
    return Plan(required, tuple(terms), tuple(pairs), tuple(understood), tuple(expansions))


def _day_months(text: str, syllables: list[str],
                known: Callable[[str], int]) -> list[tuple[int, int, tuple[tuple[str, ...], ...]]]:
    """Days typed "30-4", as runs of syllables also found as news writes them ("30/4"),
    where the index holds that: (start, end, forms) as ``Synonyms.find`` gives them."""
    out: list[tuple[int, int, tuple[tuple[str, ...], ...]]] = []
    i = 0
    for found in _DAY_MONTH.finditer(text):
        day, month = found.groups()
        at = next((k for k in range(i, len(syllables) - 1) if syllables[k : k + 2] == [day, month]), None)
        if at is None:
            continue
        i = at + 2
        form = f"{int(day)}/{int(month)}"
        if 1 <= int(day) <= 31 and 1 <= int(month) <= 12 and known(form):
            out.append((at, at + 2, ((form,),)))
    return out


_DAY_MONTH = re.compile(r"(?<![\w/.,-])(\d{1,2})-(\d{1,2})(?![\w/.,-])", re.ASCII)


def _beside(syllables: list[str], i: int,
            side_by_side: SideBySide | None) -> Callable[[str], bool] | None:
    """Whether a reading of syllable ``i`` stands in the index beside a neighbour as typed."""
    if side_by_side is None:
        return None
    before = syllables[i - 1] if i and syllables[i - 1].isalpha() else None
    after = syllables[i + 1] if i + 1 < len(syllables) and syllables[i + 1].isalpha() else None
    return lambda r: bool(before and side_by_side(before, r) or after and side_by_side(r, after))


def _in_title(field: str) -> bool:
    """Whether an index field name (``title_s``, ``title_wf``…) is one of the title's."""
    return field.split("_", 1)[0] == "title"


#: A syllable typed with diacritics must be held as typed (when its neighbour confirms the
#: spelling) only where other readings are this many times as common: else requiring it
#: changes little.
LOOSE_SPELLING = 2


#: ... unless the pair typed is rare (in fewer than ``RARE_PAIR`` articles) and another
#: spelling stands beside that neighbour more than ``OTHER_SPELLING`` times as often: then
#: the spelling typed is more likely a slip ("chuyển đôi số": "gấp đôi số" exists, but
#: "đổi số" is the common pair). The ``OTHER_SPELLINGS`` most frequent others are tried.
RARE_PAIR = 3
OTHER_SPELLING = 2
OTHER_SPELLINGS = 3


def _confirmed(syllables: list[str], known: Callable[[str], int], held: Callable[[str], int] | None,
               side_by_side: SideBySide | None) -> set[int]:
    """The indexes of syllables typed with diacritics that an article must hold as typed:
    those whose other readings are common, typed beside a neighbour the index holds them
    beside, as typed ("giãn cách": not "gian", in "thời gian"), unless that looks a slip."""
    if held is None or side_by_side is None:
        return set()
    loose = [has_diacritics(s) and held(s) * LOOSE_SPELLING < known(fold(s)) for s in syllables]
    out = set()
    for i, (a, b) in enumerate(zip(syllables, syllables[1:])):
        if (loose[i] or loose[i + 1]) and a.isalpha() and b.isalpha() and side_by_side(a, b):
            pair = side_by_side(a, b, RARE_PAIR)
            for j in (i, i + 1):
                slip = loose[j] and pair < RARE_PAIR and _slip(syllables, i, j, pair, held, side_by_side)
                if has_diacritics(syllables[j]) and not slip:
                    out.add(j)
    return out


def _slip(syllables: list[str], i: int, j: int, pair: int, held: Callable[[str], int],
          side_by_side: SideBySide) -> bool:
    """Whether another spelling of syllable ``j`` of the pair at ``i`` (found in ``pair``
    articles) stands beside the pair's other syllable ``OTHER_SPELLING`` times as often."""
    typed = syllables[j]
    others = sorted((r for r in accented_forms(fold(typed)) if r != typed), key=held, reverse=True)
    enough = OTHER_SPELLING * pair + 1
    for other in others[:OTHER_SPELLINGS]:
        a, b = (other, syllables[i + 1]) if j == i else (syllables[i], other)
        if side_by_side(a, b, enough) >= enough:
            return True
    return False


def _word_terms(fields: tuple[str, ...], words, syllables: list[str], accented: bool) -> list[Term]:
    """Bonus terms for whole words: the segmented words of the query, or, for a query
    typed without diacritics (which segmentation cannot read), every 2- and 3-syllable run."""
    if accented:
        runs = {w.syllables for w in words if len(w.syllables) > 1}
    else:
        runs = {tuple(syllables[i : i + n]) for n in (2, 3) for i in range(len(syllables) - n + 1)}
    out = []
    for run in sorted(runs):
        joined = analyze.WORD_JOINER.join(run)
        for f in fields:
            weight = FIELD_WEIGHTS[f] * WORD_BOOST
            if has_diacritics(joined):
                out.append(Term(f"{f}_wf", fold(joined), weight * (1 - EXACT_SHARE)))
                out.append(Term(f"{f}_w", joined, weight * EXACT_SHARE))
            else:
                out.append(Term(f"{f}_wf", joined, weight))
    return out


def _restored(fields: tuple[str, ...], readings) -> list[Term]:
    """Bonus terms for the likely accented ``readings`` of a query typed without diacritics."""
    out = []
    for _, reading in readings:
        for f in fields:
            weight = FIELD_WEIGHTS[f] * RESTORED_SHARE
            out.append(Term(f"{f}_w", analyze.WORD_JOINER.join(reading), weight * WORD_BOOST))
            out += [Term(f"{f}_s", r, weight) for r in reading]
    return out


def _syllable_weights(words, readings, accented: bool) -> list[float]:
    """Per query syllable, its weight: ``WORD_SYLLABLE_WEIGHT`` in a word of several syllables
    (segmented, or when typed without any diacritics, a restored reading), else 1."""
    if accented:
        return [WORD_SYLLABLE_WEIGHT if len(w.syllables) > 1 else 1.0 for w in words for _ in w.syllables]
    weights = [1.0] * sum(len(w.syllables) for w in words)
    for start, reading in readings:
        weights[start : start + len(reading)] = [WORD_SYLLABLE_WEIGHT] * len(reading)
    return weights



def syllables(text: str) -> list[str]:
    """The query syllables of ``text``, as typed (normalized)."""
    return [s for w in analyze.query_words(text) for s in w.syllables]


def excluded_terms(node: Words) -> list[tuple[tuple[str, str], ...]]:
    """What ``-words`` removes, per syllable the (field, term)s any of which excludes an
    article: words typed with diacritics exclude only those diacritics."""
    fields = node.fields or TEXT_FIELDS
    return [tuple((f"{f}_{'s' if has_diacritics(s) else 'sf'}", s) for f in fields) for s in syllables(node.text)]


def phrase_terms(node: Phrase) -> tuple[str, list[str]]:
    """A phrase's term variant and its terms, one a syllable: with diacritics those
    diacritics ("s", as typed), without them folded ("sf")."""
    found = syllables(node.text)
    exact = any(has_diacritics(s) for s in found)
    return ("s", found) if exact else ("sf", [fold(s) for s in found])
