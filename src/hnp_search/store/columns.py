"""Per-document columns and encoded positions: Whoosh column readers and posting values → Python lists, bytes and ints.

Reads Whoosh column internals (see ``codec``'s docstring): ``Reader._dbfile``, ``_basepos``,
``_count``, ``_fixedlen``, ``_typecode``, ``_default``, ``_offsets`` and ``_lengths``, to read a whole
column in one call.
"""

from __future__ import annotations

import sys
from array import array
from itertools import accumulate
from typing import Iterator

from whoosh.columns import FixedBytesColumn, NumericColumn, VarBytesColumn
from whoosh.util.numeric import byte_to_length


_ITEM_SIZE = {ord(code): array(code).itemsize for code in "BHIf"}


def positions_of(value: bytes) -> list[int]:
    """Decode one posting's positions (``PackedPositions``)."""
    return list(iter_positions(value))


def iter_positions(value: bytes) -> Iterator[int]:
    """One posting's positions (``PackedPositions``), decoded as they are iterated."""
    code = value[0]
    return accumulate(value[1:] if code == _BYTE else memoryview(value)[1:].cast(chr(code)))  # type: ignore[call-overload]  # typeshed wants a literal format


_BYTE = ord("B")  # the type code of gaps under 256: the bytes are read as they are


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


def column_strings(column, doc_count: int) -> list[bytes]:
    """Every document's value of a variable-size bytes column (facet values), read in one
    call and sliced (missing: ``b""``)."""
    if column is None:
        return [b""] * doc_count
    if type(column) is not VarBytesColumn.Reader:
        return [column[d] for d in range(doc_count)]
    lengths, offsets = column._lengths, column._offsets
    written = min(len(lengths), doc_count)
    end = (offsets[written - 1] + lengths[written - 1]) if written else 0
    data = column._dbfile.get(column._basepos, end)
    return [data[o : o + n] for o, n in zip(offsets[:written], lengths[:written])] + [b""] * (doc_count - written)
