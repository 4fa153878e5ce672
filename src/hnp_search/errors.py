"""Errors a user can cause: one family, printed by the CLI as one line.

    HnpSearchError
     ├── IndexNotFoundError   no index at the given directory (or not readable)
     ├── IndexVersionError    index built by an incompatible analyzer version
     ├── IndexBusyError       another process holds the index's write lock
     ├── EngineClosedError    a SearchEngine used after close()
     ├── IngestError          a file or line that cannot be read as an article
     ├── QuerySyntaxError     a malformed query
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
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")


class QuerySyntaxError(HnpSearchError):
    """A query that cannot be parsed; ``position`` is the 0-based offset of the fault."""

    def __init__(self, query: str, message: str, position: int | None = None):
        self.query = query
        self.message = message
        self.position = position
        where = f" at position {position + 1}" if position is not None else ""
        super().__init__(f"bad query {query!r}{where}: {message}")


class SynonymsError(HnpSearchError):
    """A synonyms list, or one line of it, that cannot be read; ``str(error)`` reads
    ``path:line: what is wrong``."""

    def __init__(self, path: str, message: str, line: int | None = None):
        self.path = str(path)
        self.line = line
        self.message = message
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")
