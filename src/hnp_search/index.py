"""Index: the Whoosh schema and posting format, opening and versioning an index directory, and writing articles into it (analysis in parallel worker processes, one writer)."""

from __future__ import annotations

import hashlib
import io
import json
import multiprocessing
import os
import pickle
import signal
import sys
import time
import zlib
from array import array
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from itertools import accumulate
from pathlib import Path
from typing import Callable, Iterable, Iterator

from whoosh import formats
from whoosh import index as whoosh_index
from whoosh.codec.whoosh3 import (
    LENGTHS_COLUMN,
    WHOOSH3_HEADER_MAGIC,
    W3Codec,
    W3PostingsWriter,
    W3Segment,
    W3TermInfo,
    _lenfield,
)
from whoosh.columns import FixedBytesColumn, NumericColumn
from whoosh.filedb.compound import CompoundStorage
from whoosh.filedb.structfile import BufferFile
from whoosh.fields import COLUMN, DATETIME, ID, KEYWORD, STORED, TEXT, Schema
from whoosh.index import LockError
from whoosh.reading import SegmentReader
from whoosh.system import pack_ushort
from whoosh.util.filelock import FileLock, try_for
from whoosh.util.numeric import byte_to_length, length_to_byte
from whoosh.writing import SegmentWriter

from . import analyze, persons
from .errors import HnpSearchError, IndexBusyError, IndexNotFoundError, IndexVersionError, IngestError
from .ingest import Article
from .normalize import fold
from .query import TEXT_FIELDS, Lexicon

#: Stored article fields, in ``Article`` order.
STORED_FIELDS = ("title", "lead", "body", "author", "url", "source", "category")
META_FILE = "hnp-search.json"
#: Articles per commit: a crash loses at most this many articles' work. Each commit writes
#: a segment, and every segment costs each query term a lookup: 2,500 rather than 1,000
#: leaves 14 segments on 34,824 articles, not 35 (Whoosh's posting pool stays within 128 MB).
BATCH_SIZE = 2500


_ITEM_SIZE = {ord(code): array(code).itemsize for code in "BHIf"}


class PackedPositions(formats.Positions):
    """Positions as packed 8-, 16- or 32-bit deltas after a type code (Whoosh pickles a list per posting)."""

    def encode(self, poslist):
        if len(poslist) == 1 and poslist[0] < 256:  # most postings: one early position
            return b"B" + bytes(poslist)
        deltas = [b - a for a, b in zip([0, *poslist], poslist)]
        largest = max(deltas)
        code = "B" if largest < 256 else "H" if largest < 65536 else "I"
        return code.encode() + array(code, deltas).tobytes()

    def decode_positions(self, valuestring):
        return positions_of(valuestring)

    def decode_frequency(self, valuestring):
        return (len(valuestring) - 1) // _ITEM_SIZE[valuestring[0]]

    def decode_weight(self, valuestring):
        return self.decode_frequency(valuestring) * self.field_boost


def positions_of(value: bytes) -> list[int]:
    """Decode one posting's positions (``PackedPositions``)."""
    return list(iter_positions(value))


def iter_positions(value: bytes) -> Iterator[int]:
    """One posting's positions (``PackedPositions``), decoded as they are iterated."""
    code = value[0]
    return accumulate(value[1:] if code == _BYTE else memoryview(value)[1:].cast(chr(code)))


_BYTE = ord("B")  # the type code of gaps under 256: the bytes are read as they are


class WeightOnly(formats.Frequency):
    """Term frequency kept only as the posting weight: no per-posting value at all."""

    posting_size = 0

    def word_values(self, value, analyzer, **kwargs):
        for word, freq, weight, _ in super().word_values(value, analyzer, **kwargs):
            yield word, freq, weight, b""

    def decode_frequency(self, valuestring):
        raise ValueError("WeightOnly postings keep no frequency value; use the weight")


class PackedValues:
    """A block's posting values (encoded positions) as one bytes object and their lengths,
    indexed like the tuple Whoosh keeps: two objects rather than one per posting, and the
    bytes are decompressed and the offsets worked out only when a value is asked for
    (retrieval mostly needs frequencies only, and the cache keeps the bytes compressed)."""

    __slots__ = ("_lengths", "_blob", "_zipped", "_ends")

    def __init__(self, lengths: array, blob: bytes, zipped: bool = False):
        self._lengths = lengths
        self._blob = blob
        self._zipped = zipped
        self._ends = None

    def __len__(self) -> int:
        return len(self._lengths)

    def __getitem__(self, i: int) -> bytes:
        ends = self._ends
        if ends is None:
            ends = self._ends = array("I", accumulate(self._lengths))
        end = ends[i]  # IndexError past the end, as a tuple
        return self._unzipped()[end - self._lengths[i] : end]

    def __iter__(self) -> Iterator[bytes]:
        ends = list(accumulate(self._lengths))
        return map(self._unzipped().__getitem__, map(slice, [0, *ends], ends))

    def _unzipped(self) -> bytes:
        if self._zipped:
            self._blob, self._zipped = zlib.decompress(self._blob), False
        return self._blob


def _typecode(values) -> str:
    """The smallest unsigned array type holding ``values`` (non-negative integers)."""
    largest = max(values, default=0)
    return "B" if largest < 256 else "H" if largest < 65536 else "I"


def _little_endian(items: array) -> bytes:
    if sys.byteorder == "big":
        items = array(items.typecode, items)
        items.byteswap()
    return items.tobytes()


def _from_little_endian(code: str, data, start: int, count: int) -> tuple[array, int]:
    """``count`` items of type ``code`` from ``data`` at ``start``, and where they end."""
    end = start + count * _ITEM_SIZE[ord(code)]
    items = array(code, data[start:end])
    if sys.byteorder == "big":
        items.byteswap()
    return items, end


class _PackedBlock:
    """A posting block as pickled: docnum deltas, weights and value lengths as arrays in one
    zlib stream, the values' bytes in another (left compressed until a value is read).
    Unpickling gives Whoosh's (ids, weights, values) tuple, so Whoosh's matchers read it; a
    tuple of ints pickles to 2 bytes an item and one Python object each when loaded."""

    def __init__(self, ids, weights, values, level: int):
        weights = _compact_weights(weights)
        codes = _typecode(ids) + ("f" if any(type(w) is float for w in weights) else _typecode(weights))
        parts = [array(codes[0], ids), array(codes[1], weights)]
        blob, zipped = b"", False
        if values is not None:  # variable-size values (Whoosh keeps None for none)
            lengths = list(map(len, values))
            codes += _typecode(lengths)
            parts.append(array(codes[2], lengths))
            blob, zipped = _zipped(b"".join(values), level)
        head, zipped_head = _zipped(b"".join(map(_little_endian, parts)), level)
        self.args = (len(ids), codes, head, zipped_head, blob, zipped)

    def __reduce__(self):
        return _unpacked_block, self.args


def _zipped(data: bytes, level: int) -> tuple[bytes, bool]:
    """``data`` compressed at ``level`` when that makes it smaller, and whether it was."""
    if level and len(data) > 16:
        packed = zlib.compress(data, level)
        if len(packed) < len(data):
            return packed, True
    return data, False


def _unpacked_block(count: int, codes: str, head: bytes, zipped_head: bool, blob: bytes, zipped: bool) -> tuple:
    if zipped_head:
        head = zlib.decompress(head)
    ids, end = _from_little_endian(codes[0], head, 0, count)
    weights, end = _from_little_endian(codes[1], head, end, count)
    if len(codes) < 3:
        return ids, weights, None
    lengths, _ = _from_little_endian(codes[2], head, end, count)
    return ids, weights, PackedValues(lengths, blob, zipped)


class CompactPostingsWriter(W3PostingsWriter):
    """Whoosh's posting blocks with ``_PackedBlock`` data. Whoosh pickles a tuple per block
    with protocol 2, which writes each posting's value as a call to decode a str, and
    compresses it whole: loading a common syllable's list went to unpickling and
    decompressing positions that scoring never reads."""

    def _write_block(self, last=False):
        if not self._blockcount:
            self._postfile.write(WHOOSH3_HEADER_MAGIC)
        self._terminfo.add_block(self)
        values = self._values if self._format.fixed_value_size() is None else None
        data = _pickled(_PackedBlock(self._mini_ids(), self._weights, values, self._compression))
        ids = self._ids
        # Compression is inside the block (``_PackedBlock``): Whoosh's flag stays 0.
        stats = (len(ids), ids[-1], self._maxweight, 0, length_to_byte(self._minlength), length_to_byte(self._maxlength))
        info = _pickled(stats)
        self._postfile.write_int(-(len(info) + len(data)) if last else len(info) + len(data))
        self._postfile.write(info)
        self._postfile.write(data)
        self._blockcount += 1
        self._new_block()

    def add_postings(self, ids: list[int], weights: list[float], values: list[bytes], lengths: list[int] | None):
        """``add_posting`` for a term's whole list: each block filled from slices at once, the
        last left buffered for ``finish_postings`` as Whoosh leaves it."""
        limit = self._blocklimit
        for start in range(0, len(ids), limit):
            if self._ids:
                self._write_block()
            end = start + limit
            self._ids = array("I", ids[start:end])
            self._weights = array("f", weights[start:end])
            self._maxweight = max(0, max(weights[start:end]))
            self._values = [v for v in values[start:end] if v]
            present = [n for n in lengths[start:end] if n] if lengths else None
            if present:
                self._minlength, self._maxlength = min(present), max(present)

    def finish_postings(self):
        """Inline lists of fewer than ``inlinelimit`` postings into the term's info, as
        Whoosh means to (Whoosh-Reloaded calls a ``set_inline`` that does not exist)."""
        if self.written() or len(self) >= self._inlinelimit:
            return super().finish_postings()
        terminfo, self._terminfo = self._terminfo, None
        terminfo.add_block(self)
        terminfo.__class__ = _InlinedTermInfo
        # Whoosh's list matcher gives "" for a missing value, which its merging refuses.
        values = self._values or (b"",) * len(self)
        terminfo.set_inlined(self._ids, _compact_weights(self._weights), values)
        return terminfo


def _pickled(obj) -> bytes:
    """``obj`` pickled with protocol 3 (bytes as bytes, no 9-byte frame header as in 4 and
    5) and without memo entries (nothing in postings is shared or recursive): an inlined
    posting takes 15 bytes rather than 25."""
    out = io.BytesIO()
    pickler = pickle.Pickler(out, 3)
    pickler.fast = True
    pickler.dump(obj)
    return out.getvalue()


def _compact_weights(weights) -> tuple:
    """Integral weights (term frequencies) as ints, which pickle in 2 bytes rather than 9."""
    ints = tuple(map(int, weights))
    if ints == tuple(weights):  # the usual case, checked at C speed
        return ints
    return tuple(int(w) if w == int(w) else w for w in weights)


def _inlined_term_info(ids: list[int], weights: list[float], values: list[bytes], lengths: list[int] | None) -> bytes:
    """The term info ``CompactPostingsWriter`` writes for a list short enough to inline
    (``W3TermInfo.add_block`` then ``_InlinedTermInfo.to_bytes``), made in one step: most
    terms of a segment are that short, and their objects were a third of a commit."""
    held = array("f", weights)  # as Whoosh's block holds them
    present = [n for n in map(lengths.__getitem__, ids) if n] if lengths else None
    stats = W3TermInfo._struct.pack(
        True,
        sum(held),
        len(ids),
        length_to_byte(min(present)) if present else 0,
        length_to_byte(max(present)) if present else 0,
        max(0, max(weights)),
        ids[0],
        ids[-1],
    )
    values = [v for v in values if v] or (b"",) * len(ids)
    return stats + _pickled((tuple(ids), _compact_weights(held), tuple(values)))


class _InlinedTermInfo(W3TermInfo):
    """A term's info with its postings inlined, pickled by ``_pickled`` (Whoosh uses
    protocol 2, which pickles each bytes value as a call); Whoosh's reader loads either."""

    def to_bytes(self):
        return super().to_bytes()[: self._struct.size] + _pickled(self._inlined)


class CompactCodec(W3Codec):
    """Whoosh's W3 codec writing ``CompactPostingsWriter`` blocks into ``MappedSegment``s
    (segments record their codec, the index's table of contents its segments)."""

    def postings_writer(self, dbfile, byteids=False):
        return CompactPostingsWriter(
            dbfile, blocklimit=self._blocklimit, byteids=byteids, compression=self._compression, inlinelimit=self._inlinelimit
        )

    def new_segment(self, storage, indexname):
        return MappedSegment(self, indexname)


class MappedSegment(W3Segment):
    """A W3 segment whose compound file is read in place from its memory map. Whoosh copies
    each file of a compound segment into memory when a reader opens it: on 34,824 articles
    opening a reader took 1 GB and most of a cold query's time."""

    def open_compound_file(self, storage):
        dbfile = storage.open_file(self.make_filename(self.COMPOUND_EXT))
        return _MappedCompoundStorage(dbfile, use_mmap=storage.supports_mmap)


class _MappedCompoundStorage(CompoundStorage):
    def open_file(self, name, *args, **kwargs):
        if self._source is None:  # no memory map: Whoosh reads the file piecewise
            return super().open_file(name, *args, **kwargs)
        offset, length = self.range(name)
        return _MappedFile(memoryview(self._source)[offset : offset + length], name=name)


class _MappedFile(BufferFile):
    """Whoosh's BufferFile over a memoryview, reading through ``_MemoryReader`` (not a copy)."""

    def __init__(self, buf: memoryview, name=None):
        super().__init__(b"", name=name)
        self._buf = buf
        self.file = _MemoryReader(buf)

    def subset(self, position, length, name=None):
        return _MappedFile(self._buf[position : position + length], name=name or self._name)


class _MemoryReader:
    """A read-only file over a memoryview that copies only what is read."""

    def __init__(self, buf: memoryview):
        self._buf = buf
        self._pos = 0

    def read(self, size: int = -1) -> bytes:
        end = len(self._buf) if size is None or size < 0 else min(len(self._buf), self._pos + size)
        data = self._buf[self._pos : end].tobytes()
        self._pos = max(self._pos, end)
        return data

    def readline(self, size: int = -1) -> bytes:
        limit = len(self._buf) if size is None or size < 0 else min(len(self._buf), self._pos + size)
        end = self._pos
        while end < limit:
            chunk = self._buf[end : min(end + 256, limit)].tobytes()
            newline = chunk.find(b"\n")
            if newline >= 0:
                end += newline + 1
                break
            end += len(chunk)
        return self.read(end - self._pos)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos, os.SEEK_END: len(self._buf)}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def close(self):
        self._buf.release()


#: Blocks of 512 postings rather than Whoosh's 128: a quarter of the per-block work when
#: retrieval reads a whole list (2% smaller too); Whoosh's matchers skip more coarsely.
#: Lists of up to 7 postings inlined in the term dictionary (most terms are that rare): on
#: 600 dantri articles the index takes 9.7 MB, not 11.6 (inlining up to 1: 10.2, up to 3: 9.8).
CODEC = CompactCodec(blocklimit=512, inlinelimit=8)


class Postings(list):
    """A field's postings, (term bytes, frequency, weight, value) tuples, computed in a worker."""


class AnalyzedText(TEXT):
    """A TEXT field over one term variant that also accepts precomputed ``Postings``."""

    def __init__(self, variant: str, positions: bool):
        super().__init__(analyzer=analyze.VietnameseAnalyzer(variant), phrase=positions)
        self.format = PackedPositions() if positions else WeightOnly()

    def index(self, value, **kwargs):
        if isinstance(value, Postings):
            return iter(value)
        return super().index(value, **kwargs)


#: The pair filter of an article without one (none is, but it would be the column's default): any phrase may be in it.
NO_PAIR_FILTER = b"\xff" * analyze.PAIR_FILTER_BYTES


def schema() -> Schema:
    fields = {
        "id": ID(unique=True, stored=True),
        "published": DATETIME(stored=True, sortable=True),
        "digest": ID(sortable=True),
    }
    fields.update({name: STORED() for name in STORED_FIELDS})
    # Persons named in the article: display names stored, matching keys indexed
    # (exact: lowercase, canonical tone marks; folded), comma-separated.
    fields["persons"] = STORED()
    fields["person_k"] = KEYWORD(commas=True)
    fields["person_kf"] = KEYWORD(commas=True)
    fields["pairs"] = COLUMN(FixedBytesColumn(analyze.PAIR_FILTER_BYTES, default=NO_PAIR_FILTER))
    for name in TEXT_FIELDS + ("author",):
        for variant in ("s", "sf"):
            fields[f"{name}_{variant}"] = AnalyzedText(variant, positions=True)
    for name in TEXT_FIELDS:
        for variant in ("w", "wf"):
            fields[f"{name}_{variant}"] = AnalyzedText(variant, positions=False)
    return Schema(**fields)


_SCHEMA = schema()


def _read_meta(path: Path) -> dict:
    try:
        return json.loads((path / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def open_index(path: str | os.PathLike, create: bool = True):
    """Open the Whoosh index at ``path``, creating it when ``create`` and absent.

    Raises IndexNotFoundError when there is none (and not ``create``), and
    IndexVersionError when it was built by an incompatible analyzer. An empty index
    of another version counts as none (a first run killed before recording its
    version leaves one).
    """
    path = Path(path)
    if whoosh_index.exists_in(str(path)):
        try:
            ix = whoosh_index.open_dir(str(path))
        except Exception as exc:  # whoosh raises many kinds on a damaged index
            raise IndexNotFoundError(f"cannot open the index at {path}: {exc}") from exc
        version = _read_meta(path).get("analyzer_version")
        if version == analyze.ANALYZER_VERSION:
            return ix
        if not ix.is_empty():
            raise IndexVersionError(
                f"the index at {path} was built by analyzer version {version}, this is version "
                f"{analyze.ANALYZER_VERSION}: rebuild it with `hnp-search index --rebuild PATH...`"
            )
    if not create:
        raise IndexNotFoundError(f"no index at {path}: build one with `hnp-search index PATH...`")
    return create_index(path)


def create_index(path: Path):
    """Create an empty index at ``path`` (replacing any index there, unless another process
    is writing to it: then IndexBusyError)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with _job_lock(path):
            ix = whoosh_index.create_in(str(path), schema())
            meta = {"analyzer_version": analyze.ANALYZER_VERSION, "created": datetime.now().isoformat(timespec="seconds")}
            (path / META_FILE).write_text(json.dumps(meta) + "\n", encoding="utf-8")
    except OSError as exc:
        raise IndexNotFoundError(f"cannot create an index at {path}: {exc.strerror}") from exc
    return ix


LEXICON_FILE = "lexicon.pickle"


def load_lexicon(path: str | os.PathLike, reader) -> Lexicon:
    """The index's restoring lexicon: saved by the last indexing run, or rebuilt from
    ``reader`` (and saved) when that file is missing or older than the index."""
    file = Path(path) / LEXICON_FILE
    try:
        with file.open("rb") as f:
            generation, words = pickle.load(f)
        if generation == reader.generation():
            return Lexicon(words)
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError):
        pass
    return save_lexicon(path, reader)


def save_lexicon(path: str | os.PathLike, reader) -> Lexicon:
    """Build the lexicon of ``reader``'s index state and save it beside the index."""
    lexicon = Lexicon.from_reader(reader)
    tmp = Path(path) / f"{LEXICON_FILE}.{os.getpid()}.tmp"
    try:
        with tmp.open("wb") as f:
            pickle.dump((reader.generation(), lexicon.words), f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, Path(path) / LEXICON_FILE)
    except OSError:
        tmp.unlink(missing_ok=True)  # a read-only index still works, just slower to open
    return lexicon


def index_size(path: str | os.PathLike) -> int:
    """Bytes on disk used by the index at ``path``."""
    return sum(p.stat().st_size for p in Path(path).iterdir() if p.is_file())


def digest(article: Article) -> str:
    """A fingerprint of everything indexed from ``article``: unchanged articles are skipped."""
    parts = [article.title, article.lead, article.body, article.author or "", article.url or "",
             article.category or "", article.published.isoformat() if article.published else "",
             str(analyze.ANALYZER_VERSION)]
    return hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=16).hexdigest()


def analyze_article(article: Article) -> dict[str, object]:
    """The postings, the pair filter and the persons of one article, by field name. Runs in worker processes.

    Title, lead and body are segmented together, once; persons are found in the
    same words. The byline is analyzed apart and is never a mentioned person.
    """
    text = "\n".join((article.title, article.lead, article.body))
    words = analyze.segment(text)
    out: dict[str, object] = {}
    start = 0
    folded = []
    for name in TEXT_FIELDS:
        end = start + len(getattr(article, name))
        terms = analyze.terms_of_words(text, [w for w in words if start <= w.start and w.end <= end])
        _add_postings(out, name, terms, analyze.VARIANTS)
        folded.append(terms.sf)
        start = end + 1
    out["pairs"] = analyze.pair_filter(folded)
    _add_postings(out, "author", analyze.terms(article.author or ""), ("s", "sf"))
    names = persons.extract_persons(text, words)
    keys = [persons.person_key(n) for n in names]
    out.update(persons=names, person_k=",".join(keys), person_kf=",".join(fold(k) for k in keys))
    return out


def _add_postings(out: dict, name: str, terms: analyze.Terms, variants: tuple[str, ...]):
    for variant in variants:
        fieldname = f"{name}_{variant}"
        out[fieldname] = postings(getattr(terms, variant), _SCHEMA[fieldname].format)


def postings(terms: list[str], format_: PackedPositions | WeightOnly) -> Postings:
    """What Whoosh's ``field.index`` makes of a list of terms, without its per-token
    generators: each term's frequency, weight and (positional formats) encoded positions."""
    where: dict[str, list[int]] = {}
    for pos, term in enumerate(terms):
        seen = where.get(term)
        if seen is None:
            where[term] = [pos]
        else:
            seen.append(pos)
    boost = format_.field_boost
    if isinstance(format_, PackedPositions):
        encode = format_.encode
        return Postings((t.encode(), len(p), len(p) * boost, encode(p)) for t, p in where.items())
    return Postings((t.encode(), len(p), len(p) * boost, b"") for t, p in where.items())


def _analyze_batch(batch: list[Article]) -> list[tuple[Article, dict[str, object]]]:
    return [(article, analyze_article(article)) for article in batch]


def _document(article: Article, terms: dict[str, object], fingerprint: str) -> dict:
    doc = {name: getattr(article, name) for name in STORED_FIELDS}
    doc.update(id=article.id, digest=fingerprint, **terms)
    if article.published is not None:
        doc["published"] = article.published
    return doc


@dataclass
class IndexSummary:
    """What one indexing run did."""

    added: int = 0
    updated: int = 0
    skipped: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    index_bytes: int = 0

    @property
    def indexed(self) -> int:
        return self.added + self.updated


class _Pipeline:
    """Analyze batches of articles in worker processes, in order, with bounded memory.

    Workers ignore Ctrl-C: the writing process handles it and terminates them. They live
    as long as the job (their caches are bounded) rather than being replaced: a
    replacement is forked by the pool's thread while the main thread may hold locks, and
    one killed by a Ctrl-C before its initializer ran could hold the task queue's lock,
    on which terminating the pool would block. The pool is made with SIGINT blocked, so
    its workers are born with it blocked too.
    """

    def __init__(self, jobs: int):
        self.jobs = jobs
        self.pool = None
        if jobs > 1:
            methods = multiprocessing.get_all_start_methods()
            context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
            with _sigint_blocked():
                self.pool = context.Pool(jobs, initializer=signal.signal, initargs=(signal.SIGINT, signal.SIG_IGN))

    def map(self, batches: Iterable[list[Article]]) -> Iterator[tuple[Article, dict[str, object]]]:
        if self.pool is None:
            for batch in batches:
                yield from _analyze_batch(batch)
            return
        pending: deque = deque()
        for batch in batches:
            pending.append(self.pool.apply_async(_analyze_batch, (batch,)))
            if len(pending) >= 2 * self.jobs:
                yield from pending.popleft().get()
        while pending:
            yield from pending.popleft().get()

    def close(self):
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()


#: Segments with fewer articles than this are merged together at each commit.
MERGE_DOCS = BATCH_SIZE


def _merge_small_segments(writer, segments):
    """Whoosh merge policy: merge the segments of under ``MERGE_DOCS`` articles (left by
    small runs) into the one being written and never rewrite bigger ones. Whoosh's default
    merges ever larger segments: on 34,824 articles its merges took minutes and 1.4 GB."""
    small = [s for s in segments if s.doc_count_all() < MERGE_DOCS]
    if not small:
        return segments
    for segment in small:
        with SegmentReader(writer.storage, writer.schema, segment) as reader:
            writer.add_reader(reader)
    return [s for s in segments if s not in small]


def write_articles(
    ix,
    articles: Iterable[Article],
    *,
    jobs: int = 1,
    batch_size: int | None = None,
    progress: Callable[[int], None] | None = None,
    on_error: Callable[[IngestError], None] | None = None,
) -> IndexSummary:
    """Add or replace ``articles`` in ``ix`` by id; unchanged ones are skipped.

    Analysis runs in ``jobs`` processes; this process alone writes, holding the
    index's job lock throughout (IndexBusyError when another process keeps it
    for LOCK_TIMEOUT seconds) and committing every ``batch_size`` articles
    (default ``$HNP_SEARCH_BATCH_SIZE`` or BATCH_SIZE). An exception or Ctrl-C
    rolls back the batch being written; earlier batches stay committed.
    ``progress(n)`` is called with the number of articles handled so far.
    """
    if batch_size is None:
        setting = os.environ.get("HNP_SEARCH_BATCH_SIZE") or str(BATCH_SIZE)
        if not (setting.isdigit() and int(setting) > 0):
            raise HnpSearchError(f"HNP_SEARCH_BATCH_SIZE must be a positive whole number, not {setting!r}")
        batch_size = int(setting)
    summary = IndexSummary()
    started = time.perf_counter()
    seen: dict[str, str] = {}  # id -> where it was first read in this run
    handled = 0

    def report(error: IngestError):
        summary.errors.append(str(error))
        if on_error is not None:
            on_error(error)

    def fresh() -> Iterator[tuple[Article, str]]:
        nonlocal handled
        for article in articles:
            if article.id in seen:
                report(IngestError(article.source or "<api>", f"duplicate id {article.id!r}, first read from {seen[article.id]}: skipped"))
                handled += 1
                continue
            seen[article.id] = article.source or "<api>"
            fingerprint = digest(article)
            if known(article.id) == fingerprint:
                summary.skipped += 1
                handled += 1
                if progress:
                    progress(handled)
                continue
            yield article, fingerprint

    fingerprints: dict[str, str] = {}

    def batches() -> Iterator[list[Article]]:
        batch: list[Article] = []
        for article, fingerprint in fresh():
            fingerprints[article.id] = fingerprint
            batch.append(article)
            if len(batch) >= 8:
                yield batch
                batch = []
        if batch:
            yield batch

    with _job_lock(Path(ix.storage.folder)), _ctrl_c_kept() as interrupted:
        known = _KnownDigests(ix)  # read under the lock: no other job changes the index now
        pipeline = _Pipeline(jobs)
        writer = None
        try:
            pending = 0
            for article, terms in pipeline.map(batches()):
                if interrupted():
                    raise KeyboardInterrupt
                if writer is None:
                    writer = _writer(ix)
                doc = _document(article, terms, fingerprints.pop(article.id))
                if known(article.id) is None:
                    writer.add_document(**doc)
                    summary.added += 1
                else:
                    writer.update_document(**doc)
                    summary.updated += 1
                handled += 1
                pending += 1
                if progress:
                    progress(handled)
                if pending >= batch_size:
                    writer.commit(mergetype=_merge_small_segments)
                    writer, pending = None, 0
            if writer is not None:
                writer.commit(mergetype=_merge_small_segments)
                writer = None
            if summary.indexed:
                with ix.reader() as reader:
                    save_lexicon(ix.storage.folder, reader)
        finally:
            if writer is not None and not writer.is_closed:
                writer.cancel()
            pipeline.close()
            known.close()
    summary.seconds = time.perf_counter() - started
    summary.index_bytes = index_size(ix.storage.folder)
    return summary


@contextmanager
def _sigint_blocked():
    """SIGINT blocked in this thread (and in processes and threads started meanwhile), where
    the system can block signals (not on Windows, whose workers are spawned, not forked)."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


@contextmanager
def _ctrl_c_kept():
    """Yield a function telling whether Ctrl-C was pressed. Python drops a KeyboardInterrupt
    raised inside a ``__del__`` (Whoosh's readers and locks have them, and a commit frees
    many), which would let the job go on. The handler still raises, and the writing loop
    checks the flag too, so an interrupt dropped mid-commit ends the job right after it."""
    pressed = []

    def handler(signum, frame):
        pressed.append(signum)
        raise KeyboardInterrupt

    try:
        if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
            raise ValueError("Ctrl-C handled otherwise")
        previous = signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread, or ignored / handled by the caller: leave it
        yield lambda: False
        return
    try:
        yield lambda: bool(pressed)
    finally:
        signal.signal(signal.SIGINT, previous)


def _writer(ix):
    try:
        return _SegmentWriter(ix, timeout=LOCK_TIMEOUT, codec=CODEC)
    except LockError as exc:
        raise IndexBusyError(
            f"the index at {ix.storage.folder} is busy: another process is writing to it; try again when it finishes"
        ) from exc


class _TermPool:
    """A new segment's postings, by field and term as documents come. Stands in for Whoosh's
    posting pool, which keeps one tuple per posting, spills them to disk past 128 MB
    (2,500 articles are ~2 M postings) and merge-sorts them back at commit: indexing spent
    more time there than segmenting. Here a term's postings are one flat list
    [docnum, weight, value, docnum, ...] in document order, so a commit sorts terms only."""

    def __init__(self):
        self.fields: dict[str, dict[bytes, list]] = {}

    def add(self, item: tuple) -> None:
        """Whoosh's interface, one (fieldname, term, docnum, weight, value) posting: merged segments come this way."""
        fieldname, tbytes, docnum, weight, vbytes = item
        terms = self.fields.setdefault(fieldname, {})
        if tbytes in terms:
            terms[tbytes] += (docnum, weight, vbytes)
        else:
            terms[tbytes] = [docnum, weight, vbytes]

    def add_field(self, fieldname: str, docnum: int, postings: Iterable[tuple]) -> int:
        """Add one document's (term, frequency, weight, value) postings of a field; its length."""
        terms = self.fields.setdefault(fieldname, {})
        length = 0
        for tbytes, freq, weight, vbytes in postings:
            length += freq
            entry = terms.get(tbytes)
            if entry is None:
                terms[tbytes] = [docnum, weight, vbytes]
            else:
                entry += (docnum, weight, vbytes)
        return length

    def cleanup(self) -> None:
        self.fields.clear()


class _SegmentWriter(SegmentWriter):
    """Whoosh's segment writer over a ``_TermPool``: documents' postings go straight into
    it, and a commit writes each term's list at once (``CompactPostingsWriter.add_postings``)
    instead of posting by posting through Whoosh's sorting pool."""

    def __init__(self, ix, **kwargs):
        super().__init__(ix, **kwargs)
        self.pool = _TermPool()

    def add_document(self, **fields):
        """Whoosh's ``add_document`` for our schema: no boosts, spelling or vectors."""
        self._check_state()
        names = sorted(name for name in fields if not name.startswith("_"))
        self._check_fields(self.schema, names)
        docnum, perdoc = self.docnum, self.perdocwriter
        perdoc.start_doc(docnum)
        try:
            for name in names:
                value = fields[name]
                if value is None:
                    continue
                field = self.schema[name]
                length = 0
                if field.indexed:
                    postings = value if isinstance(value, Postings) else field.index(value)
                    length = self.pool.add_field(name, docnum, postings)
                perdoc.add_field(name, field, value if field.stored else None, length if field.scorable else 0)
                if field.column_type:
                    perdoc.add_column_value(name, field.column_type, field.to_column_value(value))
        except Exception:
            perdoc.cancel_doc()
            raise
        perdoc.finish_doc()
        self._added = True
        self.docnum += 1

    def _flush_segment(self):
        self.perdocwriter.close()
        lengths_of = self.per_document_reader()
        writer = self.fieldwriter
        try:
            for fieldname, terms in sorted(self.pool.fields.items()):
                field = self.schema[fieldname]
                lengths = None
                if field.scorable:
                    column = lengths_of._cached_reader(_lenfield(fieldname), LENGTHS_COLUMN)
                    lengths = [LENGTH_OF_BYTE[b] for b in column_values(column, self.docnum)]
                writer.start_field(fieldname, field)
                compact = isinstance(writer._postwriter, CompactPostingsWriter)
                inline = writer._postwriter._inlinelimit if compact else 0
                prefix = pack_ushort(writer._fieldid)
                for tbytes in sorted(terms):
                    entry = terms[tbytes]
                    ids, weights, values = entry[::3], entry[1::3], entry[2::3]
                    if len(ids) < inline:
                        writer._tindex.add(prefix + tbytes, _inlined_term_info(ids, weights, values, lengths))
                        continue
                    writer.start_term(tbytes)
                    if compact:
                        writer._postwriter.add_postings(ids, weights, values, lengths and [lengths[d] for d in ids])
                    else:  # another codec's
                        for docnum, weight, value in zip(ids, weights, values):
                            writer.add(docnum, weight, value, lengths[docnum] if lengths else 0)
                    writer.finish_term()
                writer.finish_field()
        finally:
            writer.close()
            lengths_of.close()


LENGTH_OF_BYTE = [byte_to_length(b) for b in range(256)]  # a stored length byte -> the length it stands for


def column_values(column, doc_count: int, default: int = 0):
    """Every document's value of a numeric column (field lengths, dates), read at once:
    Whoosh reads and unpacks them one by one (0.4 s of a first query on baomoi)."""
    if column is None:
        return [default] * doc_count
    if type(column) is not NumericColumn.Reader or array(column._typecode).itemsize != column._fixedlen:
        return list(column)
    written = min(column._count, doc_count)  # trailing defaults are not written
    values = array(column._typecode, column._dbfile.get(column._basepos, written * column._fixedlen))
    if sys.byteorder == "little":  # stored big-endian
        values.byteswap()
    return values.tolist() + [column._default] * (doc_count - written)


def column_bytes(column, doc_count: int, default: bytes) -> bytes:
    """Every document's value of a fixed-size bytes column (pair filters), one after another,
    read at once (trailing defaults are not written)."""
    if column is None:
        return default * doc_count
    if type(column) is not FixedBytesColumn.Reader:
        return b"".join(column[d] for d in range(doc_count))
    written = min(column._count, doc_count)
    return column._dbfile.get(column._basepos, written * column._fixedlen) + default * (doc_count - written)


#: Held by the one process writing an index, which records its pid in it. It is an OS
#: file lock, freed by the system when its process ends, however it ends: a killed job
#: leaves the file behind but never a stale lock.
JOB_LOCK = "hnp-search.lock"
#: Seconds a writer waits for another to finish before raising IndexBusyError.
LOCK_TIMEOUT = 5.0


@contextmanager
def _job_lock(folder: Path):
    lock = FileLock(str(folder / JOB_LOCK))
    if not try_for(lock.acquire, timeout=LOCK_TIMEOUT):
        try:
            owner = f"process {int((folder / JOB_LOCK).read_text())}"
        except (OSError, ValueError):
            owner = "another process"
        raise IndexBusyError(f"the index at {folder} is busy: {owner} is writing to it; try again when it finishes")
    try:
        (folder / JOB_LOCK).write_text(f"{os.getpid()}\n")
        yield
    finally:
        lock.release()


class _KnownDigests:
    """id -> digest of the articles in the index when indexing started."""

    def __init__(self, ix):
        self.searcher = ix.searcher()
        empty = self.searcher.doc_count_all() == 0
        self.digests = None if empty else self.searcher.reader().column_reader("digest")

    def __call__(self, article_id: str) -> str | None:
        if self.digests is None:
            return None
        docnum = self.searcher.document_number(id=article_id)
        return None if docnum is None else self.digests[docnum]

    def close(self):
        self.searcher.close()
