"""Persistent names: the classes index files name by pickle → their code in ``store``.

They are the codec, format and field classes, and the block loader.

Whoosh pickles the schema and each segment's codec into the table of contents, and every
posting block is a pickle calling ``_unpacked_block``: they name ``hnp_search.index.<name>``,
as indexes written before the package layout do. Those objects say so (``__module__``), so
index files stay byte for byte what they were; moving them means keeping this module.
"""

from .store.codec import CompactCodec, MappedSegment, PackedPositions, WeightOnly, _unpacked_block
from .store.schema import AnalyzedText

__all__ = ["AnalyzedText", "CompactCodec", "MappedSegment", "PackedPositions", "WeightOnly", "_unpacked_block"]
