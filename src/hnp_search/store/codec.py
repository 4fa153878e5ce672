"""The posting format: postings → Whoosh W3 segment files (``CompactCodec``) and back (``read_postings``).

Segments are read through their memory map.

Every Whoosh private internal the package uses (pinned by ``whoosh-reloaded<2.8``; each is
checked to be there by ``tests/test_whoosh_internals.py``), and what for:

- ``W3PostingsWriter``: ``_write_block`` (overridden to write ``_PackedBlock`` data) and the
  state it reads: ``_postfile``, ``_blockcount``, ``_terminfo``, ``_ids``, ``_weights``,
  ``_values``, ``_format``, ``_compression``, ``_maxweight``, ``_minlength``, ``_maxlength``,
  ``_mini_ids()``, ``_new_block()``, ``_blocklimit``, ``_inlinelimit``: filled from whole
  lists at once (``add_postings``) and inlined short lists (``finish_postings``).
- ``W3TermInfo._struct`` and ``_inlined``, and ``terminfo.__class__ = _InlinedTermInfo``:
  an inlined term info written with compact pickles (``inlined_term_info`` packs it at once).
- ``W3Codec._blocklimit``, ``_compression``, ``_inlinelimit``: the codec's own settings.
- ``CompoundStorage._source`` and ``range()``, ``BufferFile.file``: compound segment files
  read in place from the memory map (``MappedSegment``).
- The W3 block layout (``WHOOSH3_HEADER_MAGIC``, a signed int length, a pickled header,
  the data), ``W3TermsReader`` via ``leaf._terms`` and ``terms._postfile``:
  ``read_postings`` decodes whole blocks without Whoosh's matchers.
- ``_lenfield`` / ``LENGTHS_COLUMN`` and ``PerDocumentReader._cached_reader``: the field
  length column (``indexing.writer``, ``retrieve.view``).
- ``SegmentWriter``: ``_check_state``, ``_check_fields``, ``perdocwriter``, ``_added``,
  ``_flush_segment`` (overridden), ``fieldwriter._postwriter``, ``_fieldid``, ``_tindex``:
  ``indexing.writer`` writes each term's list at once from its term pool.
- Column readers' ``_dbfile``, ``_basepos``, ``_count``, ``_fixedlen``, ``_typecode``,
  ``_default`` (fixed size) and ``_lengths``, ``_offsets`` (variable size, the facets):
  whole columns read at once (``store.columns``).
- ``SegmentReader._perdoc`` (``retrieve.view``): the lengths column of each segment.
"""

from __future__ import annotations

import io
import os
import pickle
import sys
import zlib
from array import array
from io import BytesIO
from itertools import accumulate
from pickle import load, loads
from typing import Any, Iterator

from whoosh import formats
from whoosh.codec.whoosh3 import WHOOSH3_HEADER_MAGIC, W3Codec, W3PostingsWriter, W3Segment, W3TermInfo, W3TermsReader
from whoosh.filedb.compound import CompoundStorage
from whoosh.filedb.structfile import BufferFile
from whoosh.reading import TermNotFound
from whoosh.system import unpack_int
from whoosh.util.numeric import byte_to_length, length_to_byte

from .columns import _BYTE, _ITEM_SIZE, iter_positions, positions_of  # noqa: F401  (positions_of: PackedPositions)


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
        self._ends: array | None = None

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

    _ids: array  # the block being filled, as Whoosh's writer keeps it
    _terminfo: Any  # the term's info being made, None between terms

    def _write_block(self, last=False):
        if not self._blockcount:
            self._postfile.write(WHOOSH3_HEADER_MAGIC)
        self._terminfo.add_block(self)
        values = self._values if self._format.fixed_value_size() is None else None
        data = _pickled(_PackedBlock(self._mini_ids(), self._weights, values, self._compression))
        ids = self._ids
        # Compression is inside the block (``_PackedBlock``): Whoosh's flag stays 0.
        lengths = length_to_byte(self._minlength), length_to_byte(self._maxlength)
        stats = (len(ids), ids[-1], self._maxweight, 0, *lengths)
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


def inlined_term_info(ids: list[int], weights: list[float], values: list[bytes], lengths: list[int] | None) -> bytes:
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
    values = [v for v in values if v] or [b""] * len(ids)
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
            dbfile,
            blocklimit=self._blocklimit,
            byteids=byteids,
            compression=self._compression,
            inlinelimit=self._inlinelimit,
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
#: retrieval reads a whole list; Whoosh's matchers skip more coarsely. Lists of up to 7
#: postings are inlined in the term dictionary (most terms are that rare).
CODEC = CompactCodec(blocklimit=512, inlinelimit=8)


def read_postings(leaf, fieldname: str, btext: bytes, offset: int, out) -> int:
    """Add a segment's postings of one term (docnums shifted by ``offset``) to ``out`` and
    return its document frequency there (``out``: ``positional``, and
    ``add(ids, weights, values, max_weight, min_length)`` per block). Whole blocks are decoded at once, not posting by
    posting as Whoosh's matcher does; short lists come inlined in the term's info."""
    terms: Any = getattr(leaf, "_terms", None)
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


#: Where index files name the objects they pickle (see ``hnp_search.index``).
PICKLED_AS = "hnp_search.index"
for _pickled_object in (CompactCodec, MappedSegment, PackedPositions, WeightOnly, _unpacked_block):
    _pickled_object.__module__ = PICKLED_AS
