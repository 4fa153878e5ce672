"""Persistent names: the tokenizer index files name by pickle → ``text.analyze``.

``hnp_search.analyze.VietnameseTokenizer`` is named in each field of the schema.

See ``hnp_search.index``: the schema Whoosh pickles names it here, as indexes written before
the package layout do; the tokenizer says so (``__module__``).
"""

from .text.analyze import VietnameseTokenizer

__all__ = ["VietnameseTokenizer"]
