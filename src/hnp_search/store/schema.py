"""The index's fields: names and Whoosh field types (article → the fields Whoosh stores and indexes)."""

from __future__ import annotations

from whoosh.columns import FixedBytesColumn, VarBytesColumn
from whoosh import formats
from whoosh.fields import COLUMN, DATETIME, ID, KEYWORD, STORED, TEXT, Schema

from ..text import analyze
from .codec import PICKLED_AS, PackedPositions, WeightOnly


#: Stored article fields, in ``Article`` order.
STORED_FIELDS = ("title", "lead", "body", "author", "url", "source", "category")


#: Facets read from a column of their own (``facet_<name>``, UTF-8; persons one a line).
COLUMN_FACETS = ("category", "source", "person")

#: Fields searched by bare words.
TEXT_FIELDS = ("title", "lead", "body")


class FieldPostings(list):
    """A field's postings, (term bytes, frequency, weight, value) tuples, computed in a worker."""


class AnalyzedText(TEXT):
    """A TEXT field over one term variant that also accepts precomputed ``FieldPostings``."""

    def __init__(self, variant: str, positions: bool):
        super().__init__(analyzer=analyze.VietnameseAnalyzer(variant), phrase=positions)
        self.format = PackedPositions() if positions else WeightOnly()

    def index(self, value, **kwargs):
        if isinstance(value, FieldPostings):
            return iter(value)
        return super().index(value, **kwargs)


AnalyzedText.__module__ = PICKLED_AS  # named so by index files (see ``hnp_search.index``)

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
    # Presence only: a frequency would be a fixed-size value per posting, which the compact
    # posting blocks do not keep, so merging a segment (after a delete) could not read it.
    for name in ("person_k", "person_kf"):
        fields[name] = KEYWORD(commas=True)
        fields[name].format = formats.Existence(field_boost=1.0)
    for name in COLUMN_FACETS:
        fields[f"facet_{name}"] = COLUMN(VarBytesColumn())
    fields["pairs"] = COLUMN(FixedBytesColumn(analyze.PAIR_FILTER_BYTES, default=NO_PAIR_FILTER))
    for name in TEXT_FIELDS + ("author",):
        for variant in ("s", "sf"):
            fields[f"{name}_{variant}"] = AnalyzedText(variant, positions=True)
    for name in TEXT_FIELDS:
        for variant in ("w", "wf"):
            fields[f"{name}_{variant}"] = AnalyzedText(variant, positions=False)
    return Schema(**fields)


SCHEMA = schema()

