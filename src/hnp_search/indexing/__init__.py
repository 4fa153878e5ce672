"""Indexing: articles → analysed documents (``pipeline``) → segments (``writer``), in batches (``job``)."""
