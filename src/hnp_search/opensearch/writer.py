"""Writing to the OpenSearch index: articles → bulk requests, idempotent by id and digest, created on first use."""

from __future__ import annotations

import time
from typing import Callable, Iterable, Iterator

from opensearchpy import OpenSearch, helpers

from ..errors import HnpSearchError, IndexNotFoundError, IndexVersionError, IngestError
from ..indexing.job import IndexSummary, digest
from ..indexing.pipeline import Pipeline, ctrl_c_kept
from ..ingest import Article
from .document import article_document
from .mapping import index_body, meta
from .vocabulary import drop_lexicon

#: Articles whose digests are looked up in one request (unchanged ones are skipped before analysis).
LOOKUP_ARTICLES = 500
#: Documents sent in one bulk request (a dantri article is ~25 KB as a document).
BULK_ARTICLES = 200
#: Articles sent to an analysis worker at once.
WORKER_BATCH = 8


def open_index(client: OpenSearch, index: str, *, create: bool, shards: int = 1, replicas: int = 0) -> bool:
    """Check that ``index`` exists and was built by this analyzer (IndexVersionError if not),
    creating it with ``shards`` and ``replicas`` when absent and ``create`` (else
    IndexNotFoundError). Whether it was created."""
    if not client.indices.exists(index=index):
        if not create:
            raise IndexNotFoundError(
                f"no index {index!r} on the OpenSearch cluster: "
                "build one with `hnp-search index --opensearch URL PATH...`"
            )
        client.indices.create(index=index, body=index_body(shards, replicas), params={"wait_for_active_shards": "1"})
        return True
    mapping = client.indices.get_mapping(index=index)
    recorded = next(iter(mapping.values()))["mappings"].get("_meta") or {}
    expected = meta()
    if any(recorded.get(k) != v for k, v in expected.items()):
        raise IndexVersionError(
            f"the OpenSearch index {index!r} was built by analyzer version {recorded.get('analyzer_version')} "
            f"(mapping {recorded.get('mapping_version')}), this is version {expected['analyzer_version']} "
            f"(mapping {expected['mapping_version']}): rebuild it with "
            "`hnp-search index --rebuild --opensearch URL PATH...`"
        )
    return False


def write_articles(
    client: OpenSearch,
    index: str,
    articles: Iterable[Article],
    *,
    jobs: int = 1,
    progress: Callable[[int], None] | None = None,
    on_error: Callable[[IngestError], None] | None = None,
) -> IndexSummary:
    """Add or replace ``articles`` in ``index`` (which exists) by id; unchanged ones (same
    digest) are skipped. Analysis runs in ``jobs`` processes. Each bulk request is durable
    once answered: after a crash or Ctrl-C, running the same job again sends only what is
    missing or changed. The index is refreshed at the end, whatever happens."""
    return _Job(client, index, progress, on_error).run(articles, jobs)


class _Job:
    """One run of ``write_articles``: what it has seen and sent so far."""

    def __init__(self, client: OpenSearch, index: str, progress, on_error):
        self.client = client
        self.index = index
        self.progress = progress
        self.on_error = on_error
        self.summary = IndexSummary()
        self.seen: dict[str, str] = {}  # id -> where it was first read in this run
        self.pending: dict[str, tuple[str, bool]] = {}  # id -> (digest, already indexed), sent to analysis
        self.handled = 0
        self.sent = False

    def run(self, articles: Iterable[Article], jobs: int) -> IndexSummary:
        started = time.perf_counter()
        actions: list[dict] = []
        with ctrl_c_kept() as interrupted:
            pipeline = Pipeline(jobs, article_document)
            try:
                for article, doc in pipeline.map(self.batches(articles)):
                    if interrupted():
                        raise KeyboardInterrupt
                    fingerprint, known = self.pending.pop(article.id)
                    doc.update(id=article.id, digest=fingerprint)
                    actions.append({"_index": self.index, "_id": article.id, "_source": doc})
                    if known:
                        self.summary.updated += 1
                    else:
                        self.summary.added += 1
                    if len(actions) >= BULK_ARTICLES:
                        self.send(actions)
                        actions = []
                    self.handled += 1
                    if self.progress:
                        self.progress(self.handled)
                self.send(actions)
            finally:
                pipeline.close()
                self.client.indices.refresh(index=self.index)
        self.summary.seconds = time.perf_counter() - started
        stats = self.client.indices.stats(index=self.index, metric="store")
        self.summary.index_bytes = stats["_all"]["primaries"]["store"]["size_in_bytes"]
        return self.summary

    def send(self, actions: list[dict]) -> None:
        if not actions:
            return
        if not self.sent:  # the saved lexicon no longer describes the index (saved again after the job)
            drop_lexicon(self.client, self.index)
            self.sent = True
        _, failed = helpers.bulk(self.client, actions, raise_on_error=False, max_retries=3, request_timeout=120)
        if failed:
            item = next(iter(failed[0].values()))
            raise HnpSearchError(f"OpenSearch refused article {item.get('_id')!r}: {item.get('error')}")

    def report(self, error: IngestError):
        self.summary.reject(str(error))
        if self.on_error is not None:
            self.on_error(error)

    def fresh(self, articles: Iterable[Article]) -> Iterator[Article]:
        """The articles to analyse: duplicates in this run and unchanged ones skipped, digests
        looked up ``LOOKUP_ARTICLES`` at a time."""
        chunk: list[Article] = []
        for article in articles:
            if article.id in self.seen:
                self.report(
                    IngestError(
                        article.source or "<api>",
                        f"duplicate id {article.id!r}, first read from {self.seen[article.id]}: skipped",
                    )
                )
                self.handled += 1
                continue
            self.seen[article.id] = article.source or "<api>"
            chunk.append(article)
            if len(chunk) >= LOOKUP_ARTICLES:
                yield from self._changed(chunk)
                chunk = []
        yield from self._changed(chunk)

    def _changed(self, chunk: list[Article]) -> Iterator[Article]:
        if not chunk:
            return
        found = self.client.mget(index=self.index, body={"ids": [a.id for a in chunk]}, params={"_source": "digest"})
        known = {d["_id"]: d["_source"].get("digest") for d in found["docs"] if d.get("found")}
        for article in chunk:
            fingerprint = digest(article)
            if known.get(article.id) == fingerprint:
                self.summary.skipped += 1
                self.handled += 1
                if self.progress:
                    self.progress(self.handled)
                continue
            self.pending[article.id] = (fingerprint, article.id in known)
            yield article

    def batches(self, articles: Iterable[Article]) -> Iterator[list[Article]]:
        """``fresh`` articles in batches, the unit sent to a worker."""
        batch: list[Article] = []
        for article in self.fresh(articles):
            batch.append(article)
            if len(batch) >= WORKER_BATCH:
                yield batch
                batch = []
        if batch:
            yield batch
