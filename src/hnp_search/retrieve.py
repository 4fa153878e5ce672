"""Retrieval: runs a parsed query on the index's postings — matching on sets of document numbers, BM25F scores from cached term frequencies, proximity re-ranking of the best candidates."""

from __future__ import annotations

import math
import threading
import zlib
from array import array
from bisect import bisect_left, bisect_right
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from heapq import heapify, heappop, heappush, heappushpop, nlargest
from io import BytesIO
from itertools import accumulate, chain, islice
from operator import itemgetter
from pickle import load, loads
from typing import Callable, NamedTuple

from whoosh.codec.whoosh3 import LENGTHS_COLUMN, WHOOSH3_HEADER_MAGIC, W3TermsReader, _lenfield
from whoosh.reading import TermNotFound
from whoosh.system import unpack_int
from whoosh.util.numeric import byte_to_length

from . import analyze
from .index import LENGTH_OF_BYTE, NO_PAIR_FILTER, column_bytes, column_values, iter_positions
from .normalize import fold, has_diacritics
from .persons import person_key
from .query import TEXT_FIELDS, All, Any, DateFilter, Lexicon, Node, Not, Person, Phrase, Words

#: BM25F weights of the fields.
FIELD_WEIGHTS = {"title": 3.0, "lead": 1.5, "body": 1.0, "author": 1.0}
#: Share of a syllable's weight that needs the diacritics typed: a folded-only match
#: earns the rest, so exact spellings rank first and every syllable weighs the same.
EXACT_SHARE = 0.9
#: BM25 parameters; idf is Whoosh's log(N / (df + 1)) + 1, raised to IDF_POWER so rare
#: words count more (1.5 rather than 1: XQuAD-vi MRR@10 +0.004 / +0.001, known items -0.002).
#: B 0.9 rather than 0.75: XQuAD-vi +0.001 / +0.001.
BM25_B = 0.9
BM25_K1 = 1.2
IDF_POWER = 1.5
#: Extra weight of a segmented-word match over its syllables alone.
WORD_BOOST = 0.5
#: Weight of each syllable of a query word of several (a segmented word, or for a query typed
#: without diacritics a restored reading), and of the proximity bonus of its pairs: a rare
#: two-syllable word would otherwise weigh twice a rare one-syllable name, and its pair of
#: syllables earns the proximity bonus too (0.6 rather than 1: XQuAD-vi MRR@10 +0.003 / +0.007,
#: known items unchanged).
WORD_SYLLABLE_WEIGHT = 0.6
#: Weight of the restored accented reading of words typed without diacritics.
RESTORED_SHARE = 0.15
#: Weight of a pair of query syllables found side by side (on top of their own scores),
#: times how telling the pair is among the candidates (see ``_proximity``). 1.2 rather than
#: 0.8 since that factor came in (known items MRR@10 0.908 -> 0.913, XQuAD-vi +0.001 / -0.001).
PROXIMITY_BOOST = 1.2
#: How many of the best-scored candidates the proximity bonus may re-rank.
PROXIMITY_DEPTH = 100
#: Ranking prunes candidates (MaxScore) only when there are more than this many times the hits wanted.
PRUNE_FROM = 4
#: Phrases whose candidates are this share of the index or more are first looked up in the
#: articles' pair filters: a check costs about what filtering a hundred articles does.
FILTER_PHRASES_FROM = 0.01
#: A required phrase with this many candidates or more is checked lazily, best candidates
#: first, when at least ``LAZY_SHARE`` of a sample of them hold it; else all up front.
#: One of 32 rather than a quarter: a phrase ranks by 10 hits, so even a 3% share is
#: ~300 checks, not one per candidate (baomoi phrase p99 205 -> 144 ms; dantri unchanged).
LAZY_PHRASES_FROM = 200
PHRASE_SAMPLE = 32
LAZY_SHARE = 1 / PHRASE_SAMPLE
#: A loose hit needs at least this share of the query's syllables (queries of 3+).
MIN_SHARE = 0.34
#: Postings kept in memory (shared by an engine's threads): decoded for scoring (a map from
#: article to frequency, ~80 bytes a posting), and as read from the index (5 bytes a posting
#: and its positions, compressed until first looked at; decoded again in a third of the
#: time it takes to read them; baomoi's 900 bench queries read 12 M postings).
CACHE_POSTINGS = 1_000_000
CACHE_READ_POSTINGS = 12_000_000

_HAS_BIT = [bytes((byte >> bit) & 1 for byte in range(256)) for bit in range(8)]  # byte -> 1 if it has the bit
_MISSING_DATE = 2**63  # Whoosh's column value for "no date" is 2**64 - 1


class Postings(NamedTuple):
    """One term's postings in one field, decoded: docnum -> term frequency, what turns
    a frequency into a BM25 impact (before field weights: ``scale`` * tf / (tf + norm),
    0 for unscored fields), and docnum -> encoded positions for positional fields (else
    None). Impacts are computed only for the documents scored, not for every posting."""

    tfs: dict[int, int]
    scale: float = 0.0
    norms: list[float] | None = None
    positions: Positions | None = None
    peak: float = 1.0  # no tf / (tf + norm) of these postings exceeds it

    def impact(self, doc: int) -> float:
        tf = self.tfs[doc]
        return self.scale * tf / (tf + self.norms[doc]) if self.scale else 0.0

    def only(self, docs: set[int]) -> Postings:
        """These postings restricted to ``docs`` (positions dropped)."""
        return Postings({d: self.tfs[d] for d in docs}, self.scale, self.norms, peak=self.peak)


class Positions:
    """docnum -> encoded positions of one term's postings, found by bisection in the
    sorted docnums and read from the blocks' values, not decoded up front."""

    __slots__ = ("_ids", "_starts", "_blocks", "_mapping")

    def __init__(self, ids: array, starts: list[int], blocks: list):
        self._ids = ids  # every posting's docnum, ascending
        self._starts = starts  # index in ids of each block's first posting
        self._blocks = blocks  # each block's values (a tuple or ``index.PackedValues``)
        self._mapping = None

    def __getitem__(self, doc: int) -> bytes:
        ids = self._ids
        i = bisect_left(ids, doc)
        if i == len(ids) or ids[i] != doc:
            raise KeyError(doc)
        block = bisect_right(self._starts, i) - 1
        return self._blocks[block][i - self._starts[block]]

    def mapping(self) -> dict[int, bytes]:
        """docnum -> encoded positions of every posting: for looking up many. Kept once made
        (as long as the decoded postings are cached): common syllables recur in phrases."""
        if self._mapping is None:
            self._mapping = dict(zip(self._ids, chain.from_iterable(self._blocks)))
        return self._mapping


class PostingCache:
    """Postings and per-document columns of recent index states, shared by threads. Two
    pools of postings, each dropping its least recently used beyond its limit (in
    postings): decoded (``Postings``, keys ``(generation, "postings", ...)``) and as read
    (``_Read``, keys ``(generation, "read", ...)``). Columns (put with ``pinned``) stay
    until a newer generation's come."""

    def __init__(self, limit: int | None = None, read_limit: int | None = None):
        self.limits = {"postings": CACHE_POSTINGS if limit is None else limit,
                       "read": CACHE_READ_POSTINGS if read_limit is None else read_limit}
        self._pools = {kind: _Pool() for kind in self.limits}
        self._pinned: dict = {}
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            value = self._pinned.get(key)
            if value is None and key[1] in self._pools:
                value = self._pools[key[1]].get(key)
            return value

    def put(self, key, value, size: int, pinned: bool = False):
        with self._lock:
            if pinned:
                existing = self._pinned.get(key)
                if existing is not None:
                    return existing
                for old in [k for k in self._pinned if k[0] < key[0]]:
                    del self._pinned[old]
                self._pinned[key] = value
                return value
            return self._pools[key[1]].put(key, value, size, self.limits[key[1]])


class _Pool:
    """Least recently used entries, dropped first beyond a limit on their summed sizes."""

    def __init__(self):
        self._entries: OrderedDict = OrderedDict()
        self._sizes: dict = {}
        self._total = 0

    def get(self, key):
        value = self._entries.get(key)
        if value is not None:
            self._entries.move_to_end(key)
        return value

    def put(self, key, value, size: int, limit: int):
        existing = self._entries.get(key)
        if existing is not None:
            return existing
        self._entries[key] = value
        self._sizes[key] = size
        self._total += size
        while self._total > limit and len(self._entries) > 1:
            old, _ = self._entries.popitem(last=False)
            self._total -= self._sizes.pop(old)
        return value


class IndexView:
    """What retrieval reads from one index state: postings, field lengths, dates.
    Reads with ``reader`` (one thread's), caches in the shared ``cache``."""

    def __init__(self, reader, cache: PostingCache):
        self.reader = reader
        self.cache = cache
        generation = reader.generation()  # None for an empty index's reader
        self.generation = -1 if generation is None else generation
        self.leaves = reader.leaf_readers() if not reader.is_atomic() else [(reader, 0)]
        self.doc_count = reader.doc_count_all()
        self.schema = reader.schema

    def _cached(self, key, make, pinned: bool = False):
        key = (self.generation, *key)
        value = self.cache.get(key)
        if value is None:
            value, size = make()
            value = self.cache.put(key, value, size, pinned)
        return value

    def deleted(self) -> frozenset[int]:
        def make():
            out = frozenset(off + d for lr, off in self.leaves if lr.has_deletions() for d in lr.deleted_docs_set)
            return out, len(out) + 1

        return self._cached(("deleted",), make, pinned=True)

    def all_docs(self) -> set[int]:
        docs = set(range(self.doc_count))
        return docs - self.deleted() if self.deleted() else docs

    def _length_norm(self, fieldname: str) -> tuple[float, float]:
        """(a, b) of the BM25 length normalisation a + b * length = K1 * (1 - B + B * length / average)."""
        total = self.reader.field_length(fieldname)
        average = (total / self.doc_count) if total and self.doc_count else 1.0
        return BM25_K1 * (1 - BM25_B), BM25_K1 * BM25_B / average

    def _norms(self, fieldname: str) -> list[float]:
        """Per document: the BM25 length normalisation of its ``fieldname``."""

        def make():
            a, b = self._length_norm(fieldname)
            of_byte = [a + b * n for n in LENGTH_OF_BYTE]  # a stored length byte -> its norm
            out = []
            for lr, _ in self.leaves:
                perdoc = getattr(lr, "_perdoc", None)  # an empty index's reader has none
                column = perdoc._cached_reader(_lenfield(fieldname), LENGTHS_COLUMN) if perdoc else None
                out += map(of_byte.__getitem__, column_values(column, lr.doc_count_all()))
            return out, len(out)

        return self._cached(("norms", fieldname), make, pinned=True)

    def published(self) -> list[int]:
        """Per document: its publication time as Whoosh's sortable integer (missing: huge)."""

        def make():
            out = []
            for lr, _ in self.leaves:
                column = lr.column_reader("published", translate=False) if lr.has_column("published") else None
                out += column_values(column, lr.doc_count_all(), default=2**64 - 1)
            return out, len(out)

        return self._cached(("published",), make, pinned=True)

    def pair_filters(self) -> bytes:
        """Every document's pair filter (``analyze.pair_filter``), one after another."""

        def make():
            out = b"".join(
                column_bytes(lr.column_reader("pairs", translate=False) if lr.has_column("pairs") else None,
                             lr.doc_count_all(), NO_PAIR_FILTER)
                for lr, _ in self.leaves
            )  # fmt: skip
            return out, len(out)

        return self._cached(("pairs",), make, pinned=True)

    def may_hold(self, folded: list[str]) -> bytes | None:
        """Per document, 1 when its pair filter lets it hold a phrase of ``folded`` syllables,
        else 0; None when the phrase has no common syllables side by side (then any may)."""
        bits = analyze.phrase_pair_bits(folded)
        if not bits:
            return None
        filters, size = self.pair_filters(), analyze.PAIR_FILTER_BYTES
        passing = -1
        for bit in bits:  # each bit of every document at once: its byte, set to 1 if it has the bit
            passing &= int.from_bytes(filters[bit >> 3 :: size].translate(_HAS_BIT[bit & 7]), "little")
        return passing.to_bytes(self.doc_count, "little")

    def date_docs(self, start: datetime | None, end: datetime | None) -> set[int]:
        field_ = self.schema["published"]
        low = field_.prepare_datetime(start) if start else 0
        high = field_.prepare_datetime(end) if end else _MISSING_DATE
        return {d for d, t in enumerate(self.published()) if low <= t < high} - self.deleted()

    def postings(self, fieldname: str, term: str) -> Postings:
        return self._cached(("postings", fieldname, term), lambda: self._decode(fieldname, term))

    def docs(self, fieldname: str, term: str):
        """The documents containing ``term`` in ``fieldname`` (a set-like view)."""
        return self.postings(fieldname, term).tfs.keys()

    def _decode(self, fieldname: str, term: str) -> tuple[Postings, int]:
        read = self._cached(("read", fieldname, term), lambda: self._read(fieldname, term))
        tfs = dict(zip(read.ids, read.weights))
        deleted = self.deleted()
        if deleted:
            for d in deleted.intersection(tfs):
                del tfs[d]
        postings = Postings(tfs, positions=Positions(read.ids, read.starts, read.blocks) if read.positional else None)
        if tfs and self.schema[fieldname].scorable:
            idf = (math.log(self.doc_count / (read.frequency + 1)) + 1) ** IDF_POWER
            a, b = self._length_norm(fieldname)
            peak = max(w / (w + a + b * n) for w, n in read.peaks)
            postings = postings._replace(scale=idf * (BM25_K1 + 1), norms=self._norms(fieldname), peak=peak)
        return postings, len(read.ids) + 1

    def _read(self, fieldname: str, term: str) -> tuple[_Read, int]:
        field_ = self.schema[fieldname] if fieldname in self.schema else None
        read = _Read(field_ is not None and field_.format.supports("positions"))
        if field_ is not None:
            btext = term.encode("utf-8")
            read.frequency = sum(_read_postings(lr, fieldname, btext, offset, read) for lr, offset in self.leaves)
        try:  # term frequencies, as Whoosh's weights are
            read.weights = array("B", chain.from_iterable(read.weights))
        except (OverflowError, TypeError):
            read.weights = array("f", chain.from_iterable(read.weights))
        return read, len(read.ids) + 1


@dataclass
class _Read:
    """One term's postings as read from every segment, compact (5 bytes a posting and
    the positions' compressed bytes): docnums ascending and their weights; for
    positional fields each block's values and the index in ``ids`` where it starts;
    per block its largest weight and shortest field length (what bounds its BM25 impacts)."""

    positional: bool
    ids: array = field(default_factory=lambda: array("I"))
    weights: list | array = field(default_factory=list)  # each block's while reading, then one array
    starts: list[int] = field(default_factory=list)
    blocks: list = field(default_factory=list)
    peaks: list[tuple[float, float]] = field(default_factory=list)
    frequency: int = 0

    def add(self, ids: array, weights, values, max_weight: float, min_length: float):
        if self.positional:
            self.starts.append(len(self.ids))
            self.blocks.append(values)
        self.ids.extend(ids)
        self.weights.append(weights)
        self.peaks.append((max_weight, min_length))


def _read_postings(leaf, fieldname: str, btext: bytes, offset: int, out: _Read) -> int:
    """Add a segment's postings of one term (docnums shifted by ``offset``) to ``out`` and
    return its document frequency there. Whole blocks are decoded at once, not posting by
    posting as Whoosh's matcher does; short lists come inlined in the term's info."""
    terms = getattr(leaf, "_terms", None)
    if type(terms) is not W3TermsReader:  # another codec, or an empty index: the generic, slower way
        if (fieldname, btext) not in leaf:
            return 0
        info = leaf.term_info(fieldname, btext)
        ids, weights, values = array("I"), [], []
        matcher = leaf.postings(fieldname, btext)
        while matcher.is_active():
            ids.append(offset + matcher.id())
            weights.append(matcher.weight())
            values.append(matcher.value() if out.positional else None)
            matcher.next()
        if ids:
            out.add(ids, weights, values, info.max_weight(), info.min_length())
        return info.doc_frequency()
    try:
        info = terms.term_info(fieldname, btext)
    except TermNotFound:
        return 0
    if info.is_inlined():
        ids, weights, values = info.inlined_postings()
        out.add(array("I", [offset + d for d in ids]), weights, values, info.max_weight(), info.min_length())
        return len(ids)
    postfile = terms._postfile
    position = info.extent()[0] + len(WHOOSH3_HEADER_MAGIC)
    while True:  # a block: its signed length (negative: the last), a pickled header, the data
        length = unpack_int(postfile.get(position, 4))[0]
        block = postfile.get(position + 4, abs(length))
        header = BytesIO(block)
        count, _, max_weight, compressed, min_length = load(header)[:5]  # then max length
        data = block[header.tell() :]
        ids, weights, values = loads(zlib.decompress(data) if compressed else data)
        ids = array("I", accumulate(ids, initial=offset))
        del ids[0]  # the offset itself
        if weights is None or isinstance(weights, float):  # Whoosh's own blocks
            weights = [weights or 1.0] * count
        out.add(ids, weights, values, max_weight, byte_to_length(min_length))
        if length < 0:
            return info.doc_frequency()
        position += 4 + abs(length)


# ---------------------------------------------------------------------------
# Evaluating a query tree


@dataclass
class _Match:
    """What a query node matches and how it scores: ``docs`` (None: every article),
    ``terms`` (weight, postings) whose impacts are summed where present, ``pairs`` proximity bonuses
    (weight, field postings of two syllables that score when side by side)."""

    docs: set[int] | None
    terms: list[tuple[float, Postings]] = field(default_factory=list)
    pairs: list[tuple[float, Postings, Postings]] = field(default_factory=list)
    unverified: list[_Unverified] = field(default_factory=list)


@dataclass
class _Unverified:
    """A phrase whose candidates (``docs`` of its match: articles with all its syllables in
    some field) are checked only as ranking reaches them. Per field: the candidates there,
    the positions of each syllable, and the syllables' terms, which score only in the fields
    where the phrase is found."""

    fields: list[tuple[set[int], list[Positions], list[tuple[float, Postings]]]]
    ids: list[list[int]] = field(init=False)  # per field, the ids of its terms

    def __post_init__(self):
        self.ids = [[id(p) for _, p in terms] for _, _, terms in self.fields]

    def unscored(self, doc: int) -> list[int] | None:
        """None when ``doc`` lacks the phrase; else the ids of its terms in the fields
        without it, which must not score ``doc``."""
        found, out = False, []
        for (candidates, positions, _), ids in zip(self.fields, self.ids):
            if doc in candidates and _consecutive([p[doc] for p in positions]):
                found = True
            else:
                out += ids
        return out if found else None

    def common(self) -> bool:
        """Whether many candidates, and a good share of a sample of them, hold the phrase:
        then checking candidates best first soon finds the best; else checking them all up
        front, with positions looked up in bulk, is faster (the best-scored candidates of a
        rare phrase mostly lack it)."""
        candidates = set().union(*(found for found, _, _ in self.fields))
        if len(candidates) < LAZY_PHRASES_FROM:
            return False
        sample = list(islice(candidates, PHRASE_SAMPLE))
        return sum(self.unscored(d) is not None for d in sample) >= LAZY_SHARE * len(sample)

    def terms(self) -> list[tuple[float, Postings]]:
        return [t for _, _, terms in self.fields for t in terms]


class Retriever:
    """Runs query trees on one index state."""

    def __init__(self, view: IndexView, lexicon: Callable[[], Lexicon] | None = None):
        self.view = view
        self.lexicon = lexicon  # loaded when first needed: accented queries never need it

    # -- ranking -------------------------------------------------------------

    def search(
        self, node: Node | None, filters: list[Node], limit: int, sort: str = "relevance", *, relax: bool = True
    ) -> list[tuple[int, float]]:
        """The best ``limit`` (docnum, score) pairs for ``node`` within ``filters``: articles
        with every word (diacritics as typed) first, then, when ``relax`` and too few of
        those, articles with most of the query's syllables."""
        if node is None and not filters:
            return []
        required = list(node.nodes) if isinstance(node, All) else [node] if node is not None else []
        strict = self.match(All(tuple(required + filters)), lazy=True)
        if relax and sort == "relevance" and any(isinstance(n, Words) and analyze.is_question(n.text) for n in required):
            # A question's answer seldom repeats all its words (its "what", "who"…): by score alone.
            return self._rank(self._loose(required, filters, strict), limit, sort)
        ranked = self._rank(strict, limit, sort)
        if relax and len(ranked) < limit and any(isinstance(n, Words) for n in required):
            loose = self._loose(required, filters, strict)
            loose.docs -= {d for d, _ in ranked}
            ranked += self._rank(loose, limit - len(ranked), sort)
        return ranked

    def matching(self, node: Node | None, filters: list[Node]) -> set[int]:
        """Every docnum ``search`` could return, unordered."""
        if node is None and not filters:
            return set()
        required = list(node.nodes) if isinstance(node, All) else [node] if node is not None else []
        strict = self.match(All(tuple(required + filters)))
        docs = self.view.all_docs() if strict.docs is None else strict.docs
        if any(isinstance(n, Words) for n in required):
            docs = docs | self._loose(required, filters, strict).docs
        return docs

    def _loose(self, required: list[Node], filters: list[Node], strict: _Match) -> _Match:
        """Articles with at least ``MIN_SHARE`` of the folded syllables of the query's
        bare words (all of them for one or two), and everything else it requires."""
        covering: dict[str, set[int]] = {}
        for node in required:
            if isinstance(node, Words):
                for s in map(fold, _syllables(node.text)):
                    found = covering.setdefault(s, set())
                    found.update(*(self.view.docs(f"{f}_sf", s) for f in node.fields or TEXT_FIELDS))
        need = len(covering) if len(covering) < 3 else math.ceil(len(covering) * MIN_SHARE)
        counts = Counter(chain.from_iterable(covering.values()))
        docs = {d for d, c in counts.items() if c >= need}
        others = self.match(All(tuple([n for n in required if not isinstance(n, Words)] + filters)))
        return _Match(docs if others.docs is None else docs & others.docs, strict.terms, strict.pairs, strict.unverified)

    def _rank(self, match: _Match, limit: int, sort: str) -> list[tuple[int, float]]:
        docs = self.view.all_docs() if match.docs is None else match.docs
        if not docs or limit < 1:
            return []
        if sort != "relevance":
            published = self.view.published()
            dated = sorted(docs, key=lambda d: (published[d] >= _MISSING_DATE, published[d] if sort == "date" else -published[d], d))
            if match.unverified:
                dated = (d for d in dated if all(u.unscored(d) is not None for u in match.unverified))
            return [(d, 0.0) for d in islice(dated, limit)]
        # Terms with the largest possible impact first; whenever what the rest could add has
        # halved, drop the candidates that can no longer reach the best ``depth`` (MaxScore):
        # the best ``depth`` are exactly those without pruning.
        depth = max(PROXIMITY_DEPTH, limit) if match.pairs else limit
        terms = sorted(((w * p.scale * p.peak, w * p.scale, p) for w, p in match.terms if w * p.scale), key=itemgetter(0), reverse=True)
        remaining = sum(t[0] for t in terms)
        prune_below = remaining / 2
        scores = dict.fromkeys(docs, 0.0)
        for bound, scale, postings in terms:
            if remaining <= prune_below and len(scores) > PRUNE_FROM * depth and not match.unverified:
                threshold = nlargest(depth, scores.values())[-1]
                floor = threshold - remaining - 1e-9 * (abs(threshold) + remaining)
                scores = {d: s for d, s in scores.items() if s >= floor}
                prune_below = remaining / 2
            remaining -= bound
            tfs, norms = postings.tfs, postings.norms
            if len(tfs) < len(scores):
                for d, tf in tfs.items():
                    if d in scores:
                        scores[d] += scale * tf / (tf + norms[d])
            else:
                for d in scores.keys() & tfs.keys():
                    tf = tfs[d]
                    scores[d] += scale * tf / (tf + norms[d])
        if match.unverified:
            scores = _verified(scores, match.unverified, depth, terms)
        if match.pairs:
            top = [d for d, _ in nlargest(depth, scores.items(), key=lambda x: (x[1], -x[0]))]
            for d, bonus in _proximity(top, match.pairs).items():
                scores[d] += bonus
            return sorted(((d, scores[d]) for d in top), key=lambda x: (-x[1], x[0]))[:limit]
        return sorted(nlargest(limit, scores.items(), key=lambda x: (x[1], -x[0])), key=lambda x: (-x[1], x[0]))

    # -- matching --------------------------------------------------------------

    def match(self, node: Node, lazy: bool = False) -> _Match:
        """What ``node`` matches; with ``lazy``, phrases among its required parts are left
        for ranking to check (``_Match.unverified``), which needs only the best candidates."""
        if isinstance(node, Words):
            return self._words(node)
        if isinstance(node, Phrase):
            return self._phrase(node, lazy)
        if isinstance(node, DateFilter):
            return _Match(self.view.date_docs(node.start, node.end))
        if isinstance(node, Person):
            key = person_key(node.name)
            return _Match(set(self.view.docs("person_k" if has_diacritics(key) else "person_kf", key)))
        if isinstance(node, Not):
            return _Match(self.view.all_docs() - self.excluded(node.node))
        parts = [self.match(n, lazy and isinstance(node, All)) for n in node.nodes if not isinstance(n, Not)]
        terms = [t for p in parts for t in p.terms]
        pairs = [p_ for p in parts for p_ in p.pairs]
        unverified = [u for p in parts for u in p.unverified]
        if isinstance(node, Any):
            docs = None if any(p.docs is None for p in parts) else set().union(*(p.docs for p in parts))
            return _Match(docs, terms, pairs)
        docs = None
        for p in sorted(parts, key=lambda p: math.inf if p.docs is None else len(p.docs)):
            if p.docs is not None:
                docs = set(p.docs) if docs is None else docs & p.docs
        excluded = [self.excluded(n.node) for n in node.nodes if isinstance(n, Not)]
        if excluded:
            docs = (self.view.all_docs() if docs is None else docs).difference(*excluded)
        return _Match(docs, terms, pairs, unverified)

    def excluded(self, node: Node) -> set[int]:
        """What ``-node`` removes: words typed with diacritics exclude only those diacritics."""
        if not isinstance(node, Words):
            match = self.match(node)
            return self.view.all_docs() if match.docs is None else match.docs
        fields = node.fields or TEXT_FIELDS
        docs = None
        for s in _syllables(node.text):
            variant = "s" if has_diacritics(s) else "sf"
            found = set().union(*(self.view.docs(f"{f}_{variant}", s) for f in fields))
            docs = found if docs is None else docs & found
        return docs or set()

    def _words(self, node: Words) -> _Match:
        fields = node.fields or TEXT_FIELDS
        words = analyze.query_words(node.text)
        syllables = [s for w in words for s in w.syllables]
        if not syllables:
            return _Match(set())
        view = self.view
        # Likely readings of a query typed without diacritics: (start, accented run). One
        # with some ("việt nam") was typed with them: "nam" is how the user writes it.
        accented = any(has_diacritics(s) for s in syllables)
        readings = [] if accented or self.lexicon is None else self.lexicon().restore(syllables)
        docs = None
        terms = []
        weights = _syllable_weights(words, readings, accented)
        for s, weight in zip(syllables, weights):
            folded = fold(s)
            if has_diacritics(s):
                exact = [view.postings(f"{f}_s", s) for f in fields]
                loose = [view.postings(f"{f}_sf", folded) for f in fields]
                terms += [(weight * FIELD_WEIGHTS[f] * EXACT_SHARE, p) for f, p in zip(fields, exact)]
                terms += [(weight * FIELD_WEIGHTS[f] * (1 - EXACT_SHARE), p) for f, p in zip(fields, loose)]
            else:
                exact = [view.postings(f"{f}_sf", s) for f in fields]
                terms += [(weight * FIELD_WEIGHTS[f], p) for f, p in zip(fields, exact)]
            found = set().union(*(p.tfs.keys() for p in exact))
            docs = found if docs is None else docs & found
        fields = tuple(f for f in fields if f in TEXT_FIELDS)
        terms += self._word_terms(fields, words, syllables, accented) + self._restored(fields, readings)
        # Side by side, a pair weighs as its syllables do (a word's own pair less).
        paired: dict[tuple[str, str], float] = {}
        for a, b, wa, wb in zip(syllables, syllables[1:], weights, weights[1:]):
            key = (fold(a), fold(b))
            paired[key] = max(paired.get(key, 0.0), (wa + wb) / 2)
        pairs = [
            (FIELD_WEIGHTS[f] * PROXIMITY_BOOST * w, view.postings(f"{f}_sf", a), view.postings(f"{f}_sf", b))
            for (a, b), w in sorted(paired.items())
            for f in fields
        ]
        return _Match(docs, terms, pairs)

    def _word_terms(self, fields: tuple[str, ...], words, syllables: list[str], accented: bool) -> list:
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
                    out.append((weight * (1 - EXACT_SHARE), self.view.postings(f"{f}_wf", fold(joined))))
                    out.append((weight * EXACT_SHARE, self.view.postings(f"{f}_w", joined)))
                else:
                    out.append((weight, self.view.postings(f"{f}_wf", joined)))
        return out

    def _restored(self, fields: tuple[str, ...], readings) -> list:
        """Bonus terms for the likely accented ``readings`` of a query typed without diacritics."""
        out = []
        for _, reading in readings:
            for f in fields:
                weight = FIELD_WEIGHTS[f] * RESTORED_SHARE
                out.append((weight * WORD_BOOST, self.view.postings(f"{f}_w", analyze.WORD_JOINER.join(reading))))
                out += [(weight, self.view.postings(f"{f}_s", r)) for r in reading]
        return out

    def _phrase(self, node: Phrase, lazy: bool = False) -> _Match:
        """Consecutive syllables: with diacritics those diacritics, without them folded.
        With ``lazy``, candidates are left unchecked (see ``match``) when a sample of them
        says the phrase is common enough that ranking will find the best soon."""
        syllables = _syllables(node.text)
        if not syllables:
            return _Match(set())
        exact = any(has_diacritics(s) for s in syllables)
        variant = "s" if exact else "sf"
        tokens = syllables if exact else [fold(s) for s in syllables]
        fields = []  # (field, its postings of each syllable, the articles with all of them there)
        for f in node.fields or TEXT_FIELDS:
            postings = [self.view.postings(f"{f}_{variant}", t) for t in tokens]
            fields.append((f, postings, _common_keys([p.tfs for p in postings])))
        if sum(len(found) for _, _, found in fields) >= self.view.doc_count * FILTER_PHRASES_FROM:
            may = self.view.may_hold([fold(t) for t in tokens])
            if may is not None:
                fields = [(f, postings, {d for d in found if may[d]} if f in TEXT_FIELDS else found)
                          for f, postings, found in fields]  # fmt: skip
        if lazy and len(tokens) > 1:  # each term a copy of its own, to be dropped by id
            unverified = _Unverified(
                [(found, [p.positions for p in postings], [(FIELD_WEIGHTS[f], _within(p, found)) for p in postings])
                 for f, postings, found in fields]
            )  # fmt: skip
            if unverified.common():
                return _Match(set().union(*(found for _, _, found in fields)), unverified.terms(), unverified=[unverified])
        docs: set[int] = set()
        terms = []
        for f, postings, found in fields:
            if len(postings) > 1 and found:
                # Positions of many candidates are looked up faster in a mapping built at once.
                lookups = [p.positions.mapping() if len(found) * 8 > len(p.tfs) else p.positions for p in postings]
                found = {d for d in found if _consecutive([lookup[d] for lookup in lookups])}
            docs |= found
            terms += [(FIELD_WEIGHTS[f], p.only(found)) for p in postings]
        return _Match(docs, terms)


def _within(postings: Postings, docs: set[int]) -> Postings:
    """A copy of ``postings`` scoring only ``docs`` (where a phrase could be in its field):
    restricted when that leaves out many, else whole (an upper bound is all ranking needs)."""
    if len(docs) * 2 < len(postings.tfs):
        return postings.only(docs)
    return postings._replace()


def _common_keys(maps: list[dict]) -> set:
    """The keys all of ``maps`` have, found by looking up the smallest's in the others."""
    smallest, *others = sorted(maps, key=len)
    found = smallest.keys() & (others[0].keys() if others else smallest.keys())
    for other in others[1:]:
        found = {k for k in found if k in other}
    return found


def _syllable_weights(words, readings, accented: bool) -> list[float]:
    """Per query syllable, its weight: ``WORD_SYLLABLE_WEIGHT`` in a word of several syllables
    (segmented, or when typed without any diacritics, a restored reading), else 1."""
    if accented:
        return [WORD_SYLLABLE_WEIGHT if len(w.syllables) > 1 else 1.0 for w in words for _ in w.syllables]
    weights = [1.0] * sum(len(w.syllables) for w in words)
    for start, reading in readings:
        weights[start : start + len(reading)] = [WORD_SYLLABLE_WEIGHT] * len(reading)
    return weights


def _syllables(text: str) -> list[str]:
    return [s for w in analyze.query_words(text) for s in w.syllables]


def _verified(scores: dict[int, float], unverified: list[_Unverified], depth: int, terms: list) -> dict[int, float]:
    """The best ``depth`` of the candidates whose ``scores`` (summed over ``terms``, as
    ``_rank`` orders them) count phrases unchecked: checked best first and rescored the
    same way without the terms of fields that lack the phrase, until no unchecked
    candidate can beat them."""
    queue = [(-s, d) for d, s in scores.items()]
    heapify(queue)
    best: list[tuple[float, int]] = []  # (score, -doc), a min-heap of the best checked
    while queue and (len(best) < depth or -queue[0][0] >= best[0][0]):
        score, doc = heappop(queue)
        unscored = [u.unscored(doc) for u in unverified]
        if None in unscored:
            continue
        dropped = set(chain.from_iterable(unscored))
        if dropped:
            score = 0.0
            for _, scale, p in terms:
                if doc in p.tfs and id(p) not in dropped:
                    tf = p.tfs[doc]
                    score += scale * tf / (tf + p.norms[doc])
        else:
            score = -score
        if len(best) < depth:
            heappush(best, (score, -doc))
        else:
            heappushpop(best, (score, -doc))
    return {-d: s for s, d in best}


def _consecutive(values: list[bytes]) -> bool:
    """Whether the syllables whose positions these are occur one right after another."""
    starts = None
    for i, value in enumerate(values):
        if len(value) == 2:  # most: one early position
            start = value[1] - i
            if starts is not None and start not in starts:
                return False
            starts = {start}
            continue
        found = iter_positions(value)
        if i:
            found = map((-i).__add__, found)
        starts = set(found) if starts is None else starts.intersection(found)
        if not starts:
            return False
    return True


def _proximity(docs: list[int], pairs) -> dict[int, float]:
    """Per doc of ``docs``, the bonus for query syllables side by side: each pair found so
    scores its two syllables again, times how telling that is among ``docs`` (``_telling``)."""
    bonus = dict.fromkeys(docs, 0.0)
    for weight, a, b in pairs:
        both = [d for d in docs if d in a.tfs and d in b.tfs]
        near = [d for d in both if _side_by_side(a.positions[d], b.positions[d])]
        if near:
            telling = _telling(len(near), len(both))
            for d in near:
                bonus[d] += telling * weight * (a.impact(d) + b.impact(d))
    return bonus


def _telling(near: int, both: int) -> float:
    """How much a pair side by side in ``near`` of the ``both`` candidates holding its two
    syllables says, from 1 (in one of them) to almost 0 (in all): log((n + 1) / k) / log(n + 1).
    A name ("Doctor Who", "Los Angeles") is side by side wherever both its syllables are: it
    cannot lift one article about it above another."""
    return math.log((both + 1) / near) / math.log(both + 1)


def _side_by_side(first: bytes, second: bytes) -> bool:
    """Whether a position of ``second`` (encoded) comes right after one of ``first``."""
    return not set(iter_positions(first)).isdisjoint(map((-1).__add__, iter_positions(second)))
