"""Analysis: segmented Vietnamese text → index terms (syllables and words, exact and folded) with offsets.

Every text field is indexed four ways, so that a query matches whether or not it
carries diacritics and whether it names a whole word or one syllable of it:

    <field>_s   syllables, canonical form ("hòa", "nội")      positions kept
    <field>_sf  syllables, folded ("hoa", "noi")               positions kept
    <field>_w   segmented multi-syllable words ("hà_nội")      frequencies only
    <field>_wf  folded words ("ha_noi")                        frequencies only

Words come from ``segment`` (underthesea's model, loaded on first use).

Each article also gets a pair filter: a Bloom filter of the pairs of common syllables
that stand side by side in it (``pair_filter``), so that a phrase of common syllables
("có thể", "trong khi") is looked for only in the articles that may hold it.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Iterable, Iterator, NamedTuple, Sequence

from whoosh.analysis import Token, Tokenizer

from .normalize import fold, normalize_term
from .segment import Word, segment

#: Bump when the terms produced for a given text, or the fields an index holds, change; indexes record it.
ANALYZER_VERSION = 6

VARIANTS = ("s", "sf", "w", "wf")
WORD_JOINER = "_"

_ALNUM = re.compile(r"\w")


class Terms(NamedTuple):
    """The index terms of one text, one list per variant (see the module docstring)."""

    s: list[str]
    sf: list[str]
    w: list[str]
    wf: list[str]


def terms(text: str) -> Terms:
    """Segment ``text`` once and return its terms in all four variants."""
    return terms_of_words(text, segment(text))


def terms_of_words(text: str, words: Iterable[Word]) -> Terms:
    s: list[str] = []
    sf: list[str] = []
    w: list[str] = []
    wf: list[str] = []
    terms = _syllable_terms
    if len(terms) > 200_000:
        terms.clear()
    for word in words:
        exact, folded = [], []
        for a, b in word.syllables:
            syllable = text[a:b]
            try:
                found = terms[syllable]
            except KeyError:
                found = terms[syllable] = _syllable_term(syllable)
            if found is not None:
                exact.append(found[0])
                folded.append(found[1])
        s += exact
        sf += folded
        if len(exact) > 1:  # fold works letter by letter: the folded word is its folded syllables
            w.append(WORD_JOINER.join(exact))
            wf.append(WORD_JOINER.join(folded))
    return Terms(s, sf, w, wf)


class Analysis(NamedTuple):
    """Texts segmented together, once: the text they make joined by newlines, its words,
    and each text's terms."""

    text: str
    words: list[Word]
    terms: list[Terms]


def analyze_texts(texts: Sequence[str]) -> Analysis:
    """Segment ``texts`` (an article's title, lead and body) joined by newlines, once, and
    give each its own terms: the words of one never run into the next."""
    text = "\n".join(texts)
    words = segment(text)
    out = []
    start = 0
    for part in texts:
        end = start + len(part)
        out.append(terms_of_words(text, [w for w in words if start <= w.start and w.end <= end]))
        start = end + 1
    return Analysis(text, words, out)


def term_streams(terms: Terms, variants: Sequence[str] = VARIANTS) -> dict[str, str]:
    """Per variant, its terms as one space-separated stream: what an engine that only
    splits on whitespace indexes as this analysis does (no term holds a space)."""
    return {variant: " ".join(getattr(terms, variant)) for variant in variants}


#: The 128 commonest folded syllables of Vietnamese news (counted over the 20.7 M syllables of
#: the baomoi corpus; 54% of them): phrases of these have the longest lists of candidates.
COMMON_SYLLABLES = {
    s: i
    for i, s in enumerate(
        """co va cua trong la da do cac cho dong khong tu voi duoc nguoi nhung nam de mot tai cong cung
        ban nay quan the doi anh khi dau toi nhan bo ve gia so thu chi thi dung con an o su van noi dinh
        thanh tinh den bi dang ra moi ngay bao qua thong truong se du hien dan lam vi vao ong tien nha
        tren viec nhieu hoi lai theo sau chinh nhu thuc dien day minh biet ca ho hai vu quoc nhat thuong
        phai nuoc hang can hoa to san chu cao hon di dieu vien trung chung viet mat duong hop dai nang
        thoi phan phat thang cau xe tuong chuyen 2 luc nguyen phong ma hanh truoc tin ky""".split()
    )
}
#: Bytes of each article's pair filter and bits set per pair (long articles, with many pairs,
#: pass it most often).
PAIR_FILTER_BYTES = 128
_PAIR_BITS = 3


def pair_filter(fields: Iterable[list[str]]) -> bytes:
    """The pair filter of an article: a Bloom filter of the adjacent common syllables in each
    of its ``fields`` (lists of folded syllable terms, as ``Terms.sf``)."""
    bits = 0
    for terms in fields:
        for pair in _common_pairs(terms):
            for bit in _pair_bits(*pair):
                bits |= 1 << bit
    return bits.to_bytes(PAIR_FILTER_BYTES, "little")


def phrase_pair_bits(folded: list[str]) -> set[int]:
    """The bits of the pair filter set in every article holding a phrase of ``folded``
    syllables (none when it has no two common syllables side by side)."""
    return {bit for pair in _common_pairs(folded) for bit in _pair_bits(*pair)}


def _common_pairs(terms: list[str]) -> set[tuple[int, int]]:
    """The ranks of the common syllables side by side in ``terms``, pair by pair."""
    common = COMMON_SYLLABLES
    return {(common[a], common[b]) for a, b in zip(terms, terms[1:]) if a in common and b in common}


@lru_cache(maxsize=len(COMMON_SYLLABLES) ** 2)
def _pair_bits(first: int, second: int) -> tuple[int, ...]:
    """Where a pair of common syllables (by rank) sets its bits: the top bits of a Fibonacci hash."""
    mixed = ((first * len(COMMON_SYLLABLES) + second + 1) * 0x9E3779B97F4A7C15) % 2**64
    width = (PAIR_FILTER_BYTES * 8).bit_length() - 1  # bits of a bit's index in the filter
    return tuple((mixed >> (64 - width * (k + 1))) % 2**width for k in range(_PAIR_BITS))


def _syllable_term(syllable: str) -> tuple[str, str] | None:
    """A syllable's term and folded term; None for punctuation."""
    if not _ALNUM.search(syllable):
        return None
    term = normalize_term(syllable)
    return term, fold(term)


_syllable_terms: dict[str, tuple[str, str] | None] = {}  # syllables seen lately, cached (they repeat)


class QueryWord(NamedTuple):
    """One word of a query: its syllables as typed (normalized) and whether it had diacritics."""

    text: str
    syllables: tuple[str, ...]


@lru_cache(maxsize=4096)
def query_words(text: str) -> tuple[QueryWord, ...]:
    """Segment a query the way documents are segmented; drop punctuation. Cached: one
    search asks for the same words while compiling, filtering and highlighting."""
    out = []
    for word in segment(text):
        syllables = tuple(
            normalize_term(text[a:b]) for a, b in word.syllables if _ALNUM.search(text, a, b)
        )
        if syllables:
            out.append(QueryWord(text[word.start : word.end], syllables))
    return tuple(out)


class VietnameseTokenizer(Tokenizer):
    """Whoosh tokenizer producing one variant of the terms (``"s"``, ``"sf"``, ``"w"``, ``"wf"``).

    Given a string it segments it, yielding tokens with positions and character
    offsets into that string. Given a list of terms (precomputed by ``terms`` in
    a worker process) it yields them with consecutive positions.
    """

    def __init__(self, variant: str = "s"):
        if variant not in VARIANTS:
            raise ValueError(f"unknown variant {variant!r}")
        self.variant = variant

    def __eq__(self, other):
        return type(other) is type(self) and other.variant == self.variant

    def __call__(self, value, positions=False, chars=False, keeporiginal=False,
                 removestops=True, start_pos=0, start_char=0, tokenize=True, mode="",
                 **kwargs) -> Iterator[Token]:
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        if isinstance(value, (list, tuple)):
            for pos, text in enumerate(value, start_pos):
                token.text = text
                token.boost = 1.0
                token.stopped = False
                if positions:
                    token.pos = pos
                yield token
            return
        pos = start_pos
        for text, start, end in _spans(value, self.variant):
            token.text = text
            token.boost = 1.0
            token.stopped = False
            if keeporiginal:
                token.original = value[start:end]
            if positions:
                token.pos = pos
            if chars:
                token.startchar = start_char + start
                token.endchar = start_char + end
            pos += 1
            yield token


def _spans(text: str, variant: str) -> Iterator[tuple[str, int, int]]:
    """Terms of one variant with their character spans in ``text``."""
    folded = variant.endswith("f")
    for word in segment(text):
        parts = [(normalize_term(text[a:b]), a, b) for a, b in word.syllables if _ALNUM.search(text, a, b)]
        if variant.startswith("s"):
            for term, a, b in parts:
                yield (fold(term) if folded else term), a, b
        elif len(parts) > 1:
            term = WORD_JOINER.join(p[0] for p in parts)
            yield (fold(term) if folded else term), parts[0][1], parts[-1][2]


VietnameseTokenizer.__module__ = "hnp_search.analyze"  # as index files name it (see ``hnp_search.analyze``)


def VietnameseAnalyzer(variant: str = "s") -> VietnameseTokenizer:
    """The analyzer for one variant; a function so it reads like Whoosh's own analyzers."""
    return VietnameseTokenizer(variant)
