"""Persistent names: the tokenizer index files name by pickle (``hnp_search.analyze.VietnameseTokenizer``, in each field of the schema) → ``text.analyze``.

See ``hnp_search.index``: the schema Whoosh pickles names it here, as indexes written before
the package layout do; the tokenizer says so (``__module__``).
"""

from .text.analyze import VietnameseTokenizer

__all__ = ["VietnameseTokenizer"]
