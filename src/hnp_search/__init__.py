"""hnp-search: Vietnamese full-text search over news articles.

Pipeline, one module per stage: normalize → analyze → ingest → index → query →
highlight → api → cli.
"""

from .api import Hit, SearchEngine
from .errors import (
    HnpSearchError,
    IndexBusyError,
    IndexNotFoundError,
    IndexVersionError,
    IngestError,
    QuerySyntaxError,
)
from .highlight import Snippet
from .indexing.job import IndexSummary
from .ingest import Article, read_articles

__version__ = "0.1.0"

__all__ = [
    "Article",
    "Hit",
    "HnpSearchError",
    "IndexBusyError",
    "IndexNotFoundError",
    "IndexSummary",
    "IndexVersionError",
    "IngestError",
    "QuerySyntaxError",
    "SearchEngine",
    "Snippet",
    "read_articles",
]
