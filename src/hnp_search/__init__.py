"""hnp-search: Vietnamese full-text search over news articles.

Stages, each a package or module importing only those before it: ``text`` (normalize, segment,
analyze) → ``ingest`` → ``store`` (schema, codec, columns, directory) → ``indexing`` (pipeline,
writer, job) → ``query`` (parse, vocabulary, plan) → ``retrieve`` (view, match, rank, retriever)
→ ``highlight`` → ``results`` → ``api`` → ``render`` → ``cli``. The public API is ``__all__``.
"""

from .api import Hit, SearchEngine
from .errors import (
    EngineClosedError,
    HnpSearchError,
    IndexBusyError,
    IndexCorruptError,
    IndexNotFoundError,
    IndexVersionError,
    IngestError,
    JobError,
    QueryCostError,
    QuerySyntaxError,
    SynonymsError,
)
from .highlight import Snippet
from .indexing.job import IndexSummary
from .ingest import Article, read_articles
from .results import Results

__version__ = "0.1.0"

__all__ = [
    "Article",
    "EngineClosedError",
    "Hit",
    "HnpSearchError",
    "IndexBusyError",
    "IndexCorruptError",
    "IndexNotFoundError",
    "IndexSummary",
    "IndexVersionError",
    "IngestError",
    "JobError",
    "QueryCostError",
    "QuerySyntaxError",
    "Results",
    "SearchEngine",
    "Snippet",
    "SynonymsError",
    "read_articles",
]
