"""Errors a user can cause: one family, printed by the CLI as one line.

    HnpSearchError
     ├── IndexNotFoundError   no index at the given directory (or not readable)
     ├── IndexVersionError    index built by an incompatible analyzer version
     ├── IndexCorruptError    an index file is damaged or missing (named in the message)
     ├── IndexBusyError       another process holds the index's write lock
     ├── EngineClosedError    a SearchEngine used after close()
     ├── IngestError          a file or line that cannot be read as an article
     ├── JobError             an indexing job stopped: a worker died, the disk is full
     ├── QuerySyntaxError     a malformed query
     │    └── QueryCostError  a query that would read too much of the index
     └── SynonymsError        a synonyms list that cannot be read (file and line named)
"""

from __future__ import annotations

import os


class HnpSearchError(Exception):
    """Base class of every error hnp-search reports to users."""


class IndexNotFoundError(HnpSearchError):
    """There is no readable index at the given directory."""


class IndexVersionError(HnpSearchError):
    """The index was built by an incompatible version of the analyzer."""


class IndexCorruptError(HnpSearchError):
    """A file of the index is damaged or missing; ``files`` names them (the index folder
    when the damaged file is not known). ``hnp-search check`` tells which, and
    ``hnp-search index --rebuild`` repairs any damage."""

    def __init__(self, message: str, files: list[str] | None = None):
        self.files = list(files or [])
        super().__init__(message)


class IndexBusyError(HnpSearchError):
    """Another writer holds the index lock."""


class EngineClosedError(HnpSearchError):
    """A ``SearchEngine`` used after ``close()``."""


class IngestError(HnpSearchError):
    """A file, or one line of a file, that cannot be read as an article.

    ``str(error)`` reads ``path:line: what is wrong`` (``path: what is wrong``
    when the whole file is at fault).
    """

    def __init__(self, path: str | os.PathLike[str], message: str, line: int | None = None):
        self.path = str(path)
        self.line = line
        self.message = message
        shown = display_path(self.path)
        where = f"{shown}:{line}" if line is not None else shown
        super().__init__(f"{where}: {message}")


def display_path(path: str) -> str:
    """``path`` as text that can always be printed or written: bytes of a file name that
    are not UTF-8 (held by Python as lone surrogates) shown as ``\\xNN`` escapes."""
    try:
        path.encode("utf-8")
        return path
    except UnicodeEncodeError:
        pass
    try:
        return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:
        return path.encode("utf-8", "backslashreplace").decode("utf-8")


class JobError(HnpSearchError):
    """An indexing job that had to stop (an analysis worker died, no space left); the
    batches it committed before stay in the index."""


class QuerySyntaxError(HnpSearchError):
    """A query that cannot be parsed; ``position`` is the 0-based offset of the fault."""

    def __init__(self, query: str, message: str, position: int | None = None):
        self.query = query
        self.message = message
        self.position = position
        where = f" at position {position + 1}" if position is not None else ""
        super().__init__(f"bad query {query!r}{where}: {message}")


class QueryCostError(QuerySyntaxError):
    """A query that would look up too many terms or postings (a pasted page of text): its
    cost is bounded so that one query cannot take a server's time and memory."""

    def __init__(self, reason: str, query: str = ""):
        self.reason = reason
        QuerySyntaxError.__init__(self, query, f"too costly to run: {reason}; search with fewer or rarer words")
        if not query:
            self.args = (f"the query is too costly to run: {reason}; search with fewer or rarer words",)


class SynonymsError(HnpSearchError):
    """A synonyms list, or one line of it, that cannot be read; ``str(error)`` reads
    ``path:line: what is wrong``."""

    def __init__(self, path: str, message: str, line: int | None = None):
        self.path = str(path)
        self.line = line
        self.message = message
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")
