"""The OpenSearch backend: the same analysis and query plans, the index on a cluster (``OpenSearchEngine``)."""

from .engine import DEFAULT_INDEX, OpenSearchEngine, default_url

__all__ = ["DEFAULT_INDEX", "OpenSearchEngine", "default_url"]
