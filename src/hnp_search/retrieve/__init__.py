"""Retrieval: a query tree and its plans → ranked document numbers, read from one index state."""

from .retriever import Retriever
from .view import IndexView, PostingCache

__all__ = ["IndexView", "PostingCache", "Retriever"]
