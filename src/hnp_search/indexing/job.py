"""An indexing job: articles → committed segments and its ``IndexSummary``; deleting articles by id.

Articles are deduplicated by id and digest, then written in batches, one commit each.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from ..errors import HnpSearchError, IngestError, JobError
from ..ingest import Article, read_articles
from ..store import integrity
from ..store.directory import (
    create_staging,
    discard_staging,
    index_size,
    job_lock,
    publish_staging,
    restamp_lexicon,
    remove_uncommitted,
    save_lexicon,
)
from ..store.schema import STORED_FIELDS
from ..text import analyze
from .pipeline import Pipeline, Stopped, ctrl_c_kept
from .writer import BATCH_SIZE, merge_small_segments, open_writer


def write_articles(
    ix,
    articles: Iterable[Article],
    *,
    jobs: int = 1,
    batch_size: int | None = None,
    progress: Callable[[int], None] | None = None,
    on_error: Callable[[IngestError], None] | None = None,
) -> IndexSummary:
    """Add or replace ``articles`` in ``ix`` by id; unchanged ones are skipped.

    Analysis runs in ``jobs`` processes; this process alone writes, holding the
    index's job lock throughout (IndexBusyError when another process keeps it
    for LOCK_TIMEOUT seconds) and committing every ``batch_size`` articles
    (default ``$HNP_SEARCH_BATCH_SIZE`` or BATCH_SIZE). An exception or Ctrl-C
    rolls back the batch being written; earlier batches stay committed.
    ``progress(n)`` is called with the number of articles handled so far.
    """
    if batch_size is None:
        setting = os.environ.get("HNP_SEARCH_BATCH_SIZE") or str(BATCH_SIZE)
        if not (setting.isdigit() and int(setting) > 0):
            raise HnpSearchError(f"HNP_SEARCH_BATCH_SIZE must be a positive whole number, not {setting!r}")
        batch_size = int(setting)
    return _Job(ix, progress, on_error).run(articles, jobs, batch_size)


def rebuild_articles(folder: Path, articles: Iterable[Article], **options) -> IndexSummary:
    """``write_articles`` into a fresh index built beside the one in ``folder`` (in its
    ``.rebuild`` subfolder) and swapped in when complete: until then searches see the old
    index, and a job that stops (an error, Ctrl-C, a kill) leaves it untouched. Works
    whatever state the old index is in (damaged, outdated, absent)."""
    folder.mkdir(parents=True, exist_ok=True)
    with job_lock(folder):
        try:
            staging = create_staging(folder)
            summary = write_articles(staging, articles, **options)
            staging.close()
            publish_staging(folder)
        except JobError as err:
            cause = str(err).split("; ")[0]
            raise JobError(f"{cause}; the rebuild was abandoned and the index at {folder} is as it was "
                           "(a rebuild needs room for the new index beside the old one)") from None
        except OSError as err:
            if err.errno not in NO_SPACE:
                raise
            raise JobError(f"no space left on the device holding {folder}: the rebuild was abandoned and the "
                           "index is as it was (a rebuild needs room for the new index beside the old one)") from None
        finally:
            discard_staging(folder)
    summary.index_bytes = index_size(folder)
    return summary


def delete_articles(ix, ids: Iterable[str], keep: Callable[[str], bool] | None = None) -> int:
    """Delete the articles with ``ids`` (or, when ``keep`` is given, every article whose id
    it rejects) in one commit, holding the job lock as indexing does: a crash leaves the
    index as before or as after. Returns how many articles were deleted."""
    with job_lock(Path(ix.storage.folder)), ctrl_c_kept() as interrupted:
        with ix.searcher() as searcher:
            if keep is None:
                found = [i for i in dict.fromkeys(ids) if searcher.document_number(id=i) is not None]
            else:
                rejected = (t.decode("utf-8") for t in searcher.reader().lexicon("id"))
                found = [i for i in rejected if not keep(i) and searcher.document_number(id=i) is not None]
            generation = searcher.reader().generation()
        if not found:
            return 0
        writer = open_writer(ix)
        try:
            for article_id in found:
                writer.delete_by_term("id", article_id)
            if interrupted():
                raise KeyboardInterrupt
            writer.commit(mergetype=merge_small_segments)
            integrity.record_sums(Path(ix.storage.folder))
        finally:
            if not writer.is_closed:
                writer.cancel()
        with ix.reader() as reader:
            restamp_lexicon(ix.storage.folder, generation, reader.generation())
    return len(found)


class _Job:
    """One run of ``write_articles``: what it has seen and done so far."""

    def __init__(self, ix, progress: Callable[[int], None] | None, on_error: Callable[[IngestError], None] | None):
        self.ix = ix
        self.progress = progress
        self.on_error = on_error
        self.summary = IndexSummary()
        self.seen: dict[str, str] = {}  # id -> where it was first read in this run
        self.fingerprints: dict[str, str] = {}  # id -> digest, of the articles sent to analysis
        self.handled = 0
        self.known: _KnownDigests | None = None

    def run(self, articles: Iterable[Article], jobs: int, batch_size: int) -> IndexSummary:
        summary = self.summary
        started = time.perf_counter()
        folder = Path(self.ix.storage.folder)
        out_of_space = None
        with job_lock(folder), ctrl_c_kept() as interrupted:
            remove_uncommitted(folder)
            known = self.known = _KnownDigests(self.ix)  # read under the lock: no other job changes the index now
            pipeline = Pipeline(jobs)
            writer = None
            committed = pending = 0
            try:
                for article, terms in pipeline.map(self.batches(articles)):
                    if interrupted():
                        raise Stopped(interrupted())
                    if writer is None:
                        writer = open_writer(self.ix)
                    doc = _document(article, terms, self.fingerprints.pop(article.id))
                    if known(article.id) is None:
                        writer.add_document(**doc)
                        summary.added += 1
                    else:
                        writer.update_document(**doc)
                        summary.updated += 1
                    self.handled += 1
                    pending += 1
                    if self.progress:
                        self.progress(self.handled)
                    if pending >= batch_size:
                        writer.commit(mergetype=merge_small_segments)
                        writer, pending, committed = None, 0, committed + pending
                        integrity.record_sums(folder)
                if writer is not None:
                    writer.commit(mergetype=merge_small_segments)
                    writer, pending, committed = None, 0, committed + pending
                if summary.indexed:
                    with self.ix.reader() as reader:
                        save_lexicon(folder, reader)
                    integrity.record_sums(folder)
            except JobError as err:
                raise JobError(
                    f"{err}; the index keeps the batches committed before ({committed} articles of this run): "
                    "run the same command again to finish"
                ) from None
            except OSError as err:
                if err.errno not in NO_SPACE:
                    raise
                out_of_space = err
            finally:
                if writer is not None and not writer.is_closed:
                    try:
                        writer.cancel()
                    except OSError:
                        pass
                pipeline.close()
                known.close()
                if out_of_space is not None:
                    written = remove_uncommitted(folder)
            if out_of_space is not None:
                raise _no_space(folder, out_of_space, written, pending or batch_size, committed)
        summary.seconds = time.perf_counter() - started
        summary.index_bytes = index_size(self.ix.storage.folder)
        return summary

    def report(self, error: IngestError):
        self.summary.reject(str(error))
        if self.on_error is not None:
            self.on_error(error)

    def fresh(self, articles: Iterable[Article]) -> Iterator[tuple[Article, str]]:
        """The articles to analyse, with their digests: duplicates and unchanged ones skipped."""
        known = self.known
        if known is None:
            raise RuntimeError("the index's digests are read when the job starts")
        for article in articles:
            if article.id in self.seen:
                message = f"duplicate id {article.id!r}, first read from {self.seen[article.id]}: skipped"
                self.report(IngestError(article.source or "<api>", message))
                self.handled += 1
                continue
            self.seen[article.id] = article.source or "<api>"
            try:
                fingerprint = digest(article)
            except UnicodeEncodeError as err:  # an Article made in Python with a lone surrogate
                char = err.object[err.start]
                message = f"article {article.id!r} holds a lone surrogate {char!r}, which is no character: skipped"
                self.report(IngestError(article.source or "<api>", message))
                self.handled += 1
                continue
            if known(article.id) == fingerprint:
                self.summary.skipped += 1
                self.handled += 1
                if self.progress:
                    self.progress(self.handled)
                continue
            yield article, fingerprint

    def batches(self, articles: Iterable[Article]) -> Iterator[list[Article]]:
        """``fresh`` articles in batches of 8, the unit sent to a worker."""
        batch: list[Article] = []
        for article, fingerprint in self.fresh(articles):
            self.fingerprints[article.id] = fingerprint
            batch.append(article)
            if len(batch) >= 8:
                yield batch
                batch = []
        if batch:
            yield batch


#: The errors of a full disk or quota (and of a file size limit).
NO_SPACE = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def _no_space(folder: Path, err: OSError, written: int, batch: int, committed: int) -> JobError:
    """The error of a job that ran out of space: where, how much more it needs, what is kept."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        free = 0
    free += written  # once this process has closed the files just removed
    size, count = index_size(folder), _doc_count(folder)
    per_article = size / count if count else written / max(batch, 1)
    needed = max(2 * per_article * batch, 2 * written)  # a segment is assembled from its parts: twice its size
    kept = (f"its temporary files were removed ({_megabytes(written)}) and the index keeps the batches committed "
            f"before ({committed} articles of this run)")
    if err.errno == errno.EFBIG:
        return JobError(
            f"a file size limit (ulimit -f) reached writing the index at {folder}: committing a batch of "
            f"{batch:,} articles writes files of about {_megabytes(needed / 2)}; {kept}. Raise the limit or use "
            "smaller batches (HNP_SEARCH_BATCH_SIZE) and run the same command again to finish"
        )
    return JobError(
        f"no space left on the device holding {folder}: committing a batch of {batch:,} articles needs about "
        f"{_megabytes(needed)} free, {_megabytes(free)} are; {kept}. Free some space and run the same command "
        "again to finish"
    )


def _megabytes(size: float) -> str:
    return f"{size / 1e6:.1f} MB"


def _doc_count(folder: Path) -> int:
    from whoosh import index as whoosh_index

    try:
        return whoosh_index.open_dir(str(folder)).doc_count()
    except Exception:  # noqa: BLE001  only an estimate
        return 0


def digest(article: Article) -> str:
    """A fingerprint of everything indexed from ``article``: unchanged articles are skipped."""
    parts = [article.title, article.lead, article.body, article.author or "", article.url or "",
             article.category or "", article.published.isoformat() if article.published else "",
             str(analyze.ANALYZER_VERSION)]
    return hashlib.blake2b("\x1f".join(parts).encode("utf-8"), digest_size=16).hexdigest()



def _document(article: Article, terms: dict[str, object], fingerprint: str) -> dict:
    doc = {name: getattr(article, name) for name in STORED_FIELDS}
    doc.update(id=article.id, digest=fingerprint, **terms)
    if article.published is not None:
        doc["published"] = article.published
    doc.update(
        facet_category=(article.category or "").encode("utf-8"),
        facet_source=(article.source or "").encode("utf-8"),
        facet_person="\n".join(terms.get("persons") or ()).encode("utf-8"),  # type: ignore[arg-type]
    )
    return doc


#: Messages of rejected inputs an IndexSummary keeps: a job's memory stays bounded however
#: many lines it rejects (each is also passed to ``on_error`` as it is met).
MAX_ERRORS_KEPT = 10_000


@dataclass
class IndexSummary:
    """What one indexing run did."""

    added: int = 0
    updated: int = 0
    skipped: int = 0
    #: The first MAX_ERRORS_KEPT rejected inputs, as ``path:line: what is wrong``.
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    index_bytes: int = 0
    #: Articles deleted because their ids are no longer in the paths indexed (``prune``).
    pruned: int = 0
    #: Every rejected input, counted (``errors`` keeps only the first MAX_ERRORS_KEPT).
    rejected: int = 0

    def reject(self, message: str) -> None:
        """Count a rejected input; keep its message while fewer than MAX_ERRORS_KEPT are kept."""
        self.rejected += 1
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append(message)

    @property
    def indexed(self) -> int:
        return self.added + self.updated


class Sources:
    """The articles one indexing run reads, in order, from paths (files, folders) and
    ``Article`` objects: each input it rejects passed to ``on_error`` and counted in
    ``unread``, the ids it met kept in ``seen`` (what ``prune`` spares)."""

    def __init__(
        self,
        sources: Iterable[str | os.PathLike | Article] | str | os.PathLike | Article,
        on_error: Callable[[IngestError], object] | None = None,
        exclude: Iterable[str | os.PathLike] = (),
    ):
        if isinstance(sources, (str, os.PathLike, Article)):
            sources = [sources]
        self._sources = list(sources)
        self._on_error = on_error
        self._exclude = list(exclude)
        self.unread = IndexSummary()
        self.seen: set[str] = set()

    def __iter__(self) -> Iterator[Article]:
        for source in self._sources:
            found = [source] if isinstance(source, Article) else read_articles(
                source, on_error=self._report, exclude=self._exclude)
            for article in found:
                self.seen.add(article.id)
                yield article

    def _report(self, error: IngestError) -> None:
        self.unread.reject(str(error))
        if self._on_error is not None:
            self._on_error(error)

    def counted(self, summary: IndexSummary) -> IndexSummary:
        """``summary`` with the inputs reading rejected counted, and listed first."""
        summary.errors[:0] = self.unread.errors
        del summary.errors[MAX_ERRORS_KEPT:]
        summary.rejected += self.unread.rejected
        return summary


class _KnownDigests:
    """id -> digest of the articles in the index when indexing started."""

    def __init__(self, ix):
        self.searcher = ix.searcher()
        empty = self.searcher.doc_count_all() == 0
        self.digests = None if empty else self.searcher.reader().column_reader("digest")

    def __call__(self, article_id: str) -> str | None:
        if self.digests is None:
            return None
        docnum = self.searcher.document_number(id=article_id)
        return None if docnum is None else self.digests[docnum]

    def close(self):
        self.searcher.close()
