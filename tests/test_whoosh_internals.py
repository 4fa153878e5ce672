"""The Whoosh internals ``store.codec``'s docstring lists, present in the Whoosh installed: a
Whoosh release that renames one fails here, by name, rather than somewhere in retrieval."""

import importlib.metadata

from whoosh import index as whoosh_index
from whoosh.codec import whoosh3
from whoosh.columns import NumericColumn, VarBytesColumn
from whoosh.filedb.compound import CompoundStorage
from whoosh.writing import SegmentWriter

from hnp_search import SearchEngine
from hnp_search.store.codec import CODEC
from hnp_search.store.schema import schema


def test_the_whoosh_release_is_the_one_the_internals_were_read_from():
    assert importlib.metadata.version("whoosh-reloaded").startswith("2.7.")


def test_every_internal_class_attribute_used_is_there():
    used = {
        whoosh3.W3PostingsWriter: ["_write_block", "_mini_ids", "_new_block", "finish_postings", "written"],
        whoosh3.W3TermInfo: ["_struct", "add_block", "set_inlined", "inlined_postings", "is_inlined", "extent"],
        whoosh3.W3PerDocReader: ["_cached_reader"],
        CompoundStorage: ["range"],
        SegmentWriter: ["_check_state", "_check_fields", "_flush_segment"],
    }
    missing = [f"{cls.__name__}.{name}" for cls, names in used.items() for name in names if not hasattr(cls, name)]
    assert missing == []
    assert isinstance(whoosh3.WHOOSH3_HEADER_MAGIC, bytes) and callable(whoosh3._lenfield)
    assert whoosh3.LENGTHS_COLUMN is not None


def test_every_internal_instance_attribute_used_is_there(tmp_path, articles_path):
    assert [name for name in ("_blocklimit", "_compression", "_inlinelimit") if not hasattr(CODEC, name)] == []
    with SearchEngine(tmp_path / "ix") as engine:
        engine.index([articles_path], jobs=1)
        (leaf,) = [lr for lr, _ in engine.reader().leaves]
        assert type(leaf._terms) is whoosh3.W3TermsReader and hasattr(leaf._terms, "_postfile")
        assert type(leaf._perdoc) is whoosh3.W3PerDocReader
        numbers = leaf.column_reader("published", translate=False)
        assert type(numbers) is NumericColumn.Reader
        fixed = ["_dbfile", "_basepos", "_count", "_fixedlen", "_typecode", "_default"]
        assert [name for name in fixed if not hasattr(numbers, name)] == []
        strings = leaf.column_reader("facet_source", translate=False)
        assert type(strings) is VarBytesColumn.Reader
        assert [name for name in ("_dbfile", "_basepos", "_lengths", "_offsets") if not hasattr(strings, name)] == []

    (tmp_path / "empty").mkdir()
    writer = whoosh_index.create_in(str(tmp_path / "empty"), schema()).writer()
    try:
        assert [name for name in ("perdocwriter", "_added", "fieldwriter") if not hasattr(writer, name)] == []
        fields = writer.fieldwriter
        assert [name for name in ("_postwriter", "_fieldid", "_tindex") if not hasattr(fields, name)] == []
    finally:
        writer.cancel()
