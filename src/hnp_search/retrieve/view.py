"""What retrieval reads from one index state, cached across threads.

(field, term) → decoded ``Postings`` and ``Positions``; columns (lengths, dates, pair filters).
"""

from __future__ import annotations

import math
import threading
from array import array
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain
from contextlib import contextmanager
from typing import NamedTuple

from whoosh.codec.whoosh3 import LENGTHS_COLUMN, _lenfield

from ..errors import QueryCostError
from ..store.codec import read_postings
from ..store.columns import LENGTH_OF_BYTE, column_bytes, column_strings, column_values
from ..store.schema import NO_PAIR_FILTER
from ..text import analyze


#: BM25 parameters; idf is Whoosh's log(N / (df + 1)) + 1, raised to IDF_POWER so that rare
#: words count more.
BM25_B = 0.9
BM25_K1 = 1.2
IDF_POWER = 1.5


#: Postings kept in memory (shared by an engine's threads): decoded for scoring (a map from
#: article to frequency, ~80 bytes a posting), and as read from the index (5 bytes a posting
#: and its positions, compressed until first looked at; decoded again in a third of the
#: time it takes to read them).
CACHE_POSTINGS = 1_000_000
CACHE_READ_POSTINGS = 12_000_000

#: What one query may look up: distinct (field, term) posting lists, and postings in them.
#: The longest bench queries look up 165 lists and 15 postings an article (41 k on dantri);
#: a pasted 985-character query 1,750 lists and 143 an article, which on 100 k articles
#: took 6.3 s and 650 MB. A query over either is refused with QueryCostError.
MAX_QUERY_LISTS = 1_000
MAX_QUERY_POSTINGS = 2_500_000

_HAS_BIT = [bytes((byte >> bit) & 1 for byte in range(256)) for bit in range(8)]  # byte -> 1 if it has the bit
_MISSING_DATE = 2**63  # Whoosh's column value for "no date" is 2**64 - 1


def bm25_impact(scale: float, tf: int, norm: float) -> float:
    """BM25's impact of a term frequency (before field weights, ``scale`` = weight * idf * (K1 + 1)):
    the formula, written once (``rank`` inlines it in its scoring loop, where a call per posting
    would cost a third of the time)."""
    return scale * tf / (tf + norm)


class Postings(NamedTuple):
    """One term's postings in one field, decoded: docnum -> term frequency, what turns
    a frequency into a BM25 impact (before field weights: ``scale`` * tf / (tf + norm),
    0 for unscored fields), and docnum -> encoded positions for positional fields (else
    None). Impacts are computed only for the documents scored, not for every posting."""

    tfs: dict[int, int]
    scale: float = 0.0
    norms: Sequence[float] = ()
    positions: Positions | None = None
    peak: float = 1.0  # no tf / (tf + norm) of these postings exceeds it

    def impact(self, doc: int) -> float:
        tf = self.tfs[doc]
        return bm25_impact(self.scale, tf, self.norms[doc]) if self.scale else 0.0

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
        self._blocks = blocks  # each block's values (a tuple or ``store.codec.PackedValues``)
        self._mapping: dict[int, bytes] | None = None

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
        self._meter: dict[tuple[str, str], int] | None = None  # lists looked up by the query being run
        self._spent = 0  # postings in them
        self._frequencies: dict[tuple[str, str], int] = {}

    @contextmanager
    def metered(self):
        """Count what the query run inside looks up; QueryCostError past MAX_QUERY_LISTS or
        MAX_QUERY_POSTINGS. Nested calls share the outer count."""
        if self._meter is not None:
            yield
            return
        self._meter, self._spent = {}, 0
        try:
            yield
        finally:
            self._meter = None

    def _charge(self, fieldname: str, term: str, size: int) -> None:
        meter = self._meter
        if meter is None or (fieldname, term) in meter:
            return
        meter[fieldname, term] = size
        self._spent += size
        if len(meter) > MAX_QUERY_LISTS:
            raise QueryCostError(f"it looks up more than {MAX_QUERY_LISTS:,} term lists")
        if self._spent > MAX_QUERY_POSTINGS:
            raise QueryCostError(f"it reads more than {MAX_QUERY_POSTINGS:,} postings")

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
            out: list[float] = []
            for lr, _ in self.leaves:
                perdoc = getattr(lr, "_perdoc", None)  # an empty index's reader has none
                column = perdoc._cached_reader(_lenfield(fieldname), LENGTHS_COLUMN) if perdoc else None
                out += map(of_byte.__getitem__, column_values(column, lr.doc_count_all()))
            return out, len(out)

        return self._cached(("norms", fieldname), make, pinned=True)

    def published(self) -> list[int]:
        """Per document: its publication time as Whoosh's sortable integer (missing: huge)."""

        def make():
            out: list[int] = []
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

    def strings(self, column: str) -> list[bytes]:
        """Per document: its value of a bytes column (``facet_category``…)."""

        def make():
            out = []
            for lr, _ in self.leaves:
                reader = lr.column_reader(column, translate=False) if lr.has_column(column) else None
                out += column_strings(reader, lr.doc_count_all())
            return out, len(out)

        return self._cached(("strings", column), make, pinned=True)

    def coded(self, key: str, make):
        """A per-document code column derived once per index state by ``make()`` (-> value, size)."""
        return self._cached(("coded", key), make, pinned=True)

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

    def doc_frequency(self, fieldname: str, term: str) -> int:
        """In how many documents ``term`` is in ``fieldname`` (deleted ones included), remembered
        for this index state."""
        key = (fieldname, term)
        found = self._frequencies.get(key)
        if found is None:
            if len(self._frequencies) > 1_000_000:
                self._frequencies.clear()
            found = self._frequencies[key] = self.reader.doc_frequency(fieldname, term)
        return found

    def postings(self, fieldname: str, term: str) -> Postings:
        postings = self._cached(("postings", fieldname, term), lambda: self._decode(fieldname, term))
        if self._meter is not None:
            self._charge(fieldname, term, len(postings.tfs))
        return postings

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
            peak = max(bm25_impact(1.0, w, a + b * n) for w, n in read.peaks)
            postings = postings._replace(scale=idf * (BM25_K1 + 1), norms=self._norms(fieldname), peak=peak)
        return postings, len(read.ids) + 1

    def _read(self, fieldname: str, term: str) -> tuple[_Read, int]:
        field_ = self.schema[fieldname] if fieldname in self.schema else None
        read = _Read(field_ is not None and field_.format.supports("positions"))
        if field_ is not None:
            btext = term.encode("utf-8")
            read.frequency = sum(read_postings(lr, fieldname, btext, offset, read) for lr, offset in self.leaves)
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
