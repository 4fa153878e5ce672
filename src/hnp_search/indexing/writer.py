"""Writing segments: analysed documents → a Whoosh segment through a term pool, and the merge policy."""

from __future__ import annotations

from typing import Iterable

from whoosh.codec.whoosh3 import LENGTHS_COLUMN, _lenfield
from whoosh.index import LockError
from whoosh.reading import SegmentReader
from whoosh.system import pack_ushort
from whoosh.writing import SegmentWriter

from ..errors import IndexBusyError
from ..store.codec import CODEC, CompactPostingsWriter, inlined_term_info
from ..store.columns import LENGTH_OF_BYTE, column_values
from ..store import directory
from ..store.schema import FieldPostings


#: Articles per commit: a crash loses at most this many articles' work. Each commit writes
#: a segment, and every segment costs each query term a lookup.
BATCH_SIZE = 2500


#: Segments with fewer articles than this are merged together at each commit.
MERGE_DOCS = BATCH_SIZE


def merge_small_segments(writer, segments):
    """Whoosh merge policy: merge the segments of under ``MERGE_DOCS`` articles (left by
    small runs) into the one being written and never rewrite bigger ones. Whoosh's default
    merges ever larger segments: on 34,824 articles its merges took minutes and 1.4 GB."""
    small = [s for s in segments if s.doc_count_all() < MERGE_DOCS]
    if not small:
        return segments
    for segment in small:
        with _MergedReader(writer.storage, writer.schema, segment) as reader:
            writer.add_reader(reader)
    return [s for s in segments if s not in small]


class _MergedReader(SegmentReader):
    """A segment being merged. The codec keeps no per-posting values for fixed-size formats
    (``Frequency``: the weight says it all), so their postings are read without one; Whoosh's
    own ``iter_postings`` asks every posting for its value and fails on such a block."""

    def iter_postings(self):
        for fieldname, btext in self.all_terms():
            fixed = self.schema[fieldname].format.fixed_value_size() is not None
            m = self.postings(fieldname, btext)
            while m.is_active():
                yield fieldname, btext, m.id(), m.weight(), None if fixed else m.value()
                m.next()


def open_writer(ix):
    try:
        return _SegmentWriter(ix, timeout=directory.LOCK_TIMEOUT, codec=CODEC)
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
                    postings = value if isinstance(value, FieldPostings) else field.index(value)
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
                        writer._tindex.add(prefix + tbytes, inlined_term_info(ids, weights, values, lengths))
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
