"""Storage: the Whoosh schema, posting codec, column readers and index directory (files → readers and writers)."""
