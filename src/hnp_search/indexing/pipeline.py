"""Analysis in worker processes: articles → their fields' postings, pair filter and persons, in order.

Ctrl-C and SIGINT are handled here too.
"""

from __future__ import annotations

import multiprocessing
import signal
from collections import deque
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator

from .. import persons
from ..ingest import Article
from ..store.codec import PackedPositions, WeightOnly
from ..store.schema import SCHEMA, TEXT_FIELDS, FieldPostings
from ..text import analyze
from ..text.normalize import fold


def analyze_article(article: Article) -> dict[str, object]:
    """The postings, the pair filter and the persons of one article, by field name. Runs in worker processes.

    Title, lead and body are segmented together, once; persons are found in the
    same words. The byline is analyzed apart and is never a mentioned person.
    """
    analysis = analyze.analyze_texts([getattr(article, name) for name in TEXT_FIELDS])
    text, words = analysis.text, analysis.words
    out: dict[str, object] = {}
    for name, terms in zip(TEXT_FIELDS, analysis.terms):
        _add_postings(out, name, terms, analyze.VARIANTS)
    folded = [terms.sf for terms in analysis.terms]
    out["pairs"] = analyze.pair_filter(folded)
    _add_postings(out, "author", analyze.terms(article.author or ""), ("s", "sf"))
    names = persons.extract_persons(text, words)
    keys = [persons.person_key(n) for n in names]
    out.update(persons=names, person_k=",".join(keys), person_kf=",".join(fold(k) for k in keys))
    return out


def _add_postings(out: dict, name: str, terms: analyze.Terms, variants: tuple[str, ...]):
    for variant in variants:
        fieldname = f"{name}_{variant}"
        out[fieldname] = postings(getattr(terms, variant), SCHEMA[fieldname].format)


def postings(terms: list[str], format_: PackedPositions | WeightOnly) -> FieldPostings:
    """What Whoosh's ``field.index`` makes of a list of terms, without its per-token
    generators: each term's frequency, weight and (positional formats) encoded positions."""
    where: dict[str, list[int]] = {}
    for pos, term in enumerate(terms):
        seen = where.get(term)
        if seen is None:
            where[term] = [pos]
        else:
            seen.append(pos)
    boost = format_.field_boost
    if isinstance(format_, PackedPositions):
        encode = format_.encode
        return FieldPostings((t.encode(), len(p), len(p) * boost, encode(p)) for t, p in where.items())
    return FieldPostings((t.encode(), len(p), len(p) * boost, b"") for t, p in where.items())


def _analyze_batch(analyzer: Callable[[Article], Any], batch: list[Article]) -> list[tuple[Article, Any]]:
    return [(article, analyzer(article)) for article in batch]


class Pipeline:
    """Analyze batches of articles in worker processes, in order, with bounded memory; ``analyzer``
    makes each article's result (by default, the embedded index's postings).

    Workers ignore Ctrl-C: the writing process handles it and terminates them. They live
    as long as the job (their caches are bounded) rather than being replaced: a
    replacement is forked by the pool's thread while the main thread may hold locks, and
    one killed by a Ctrl-C before its initializer ran could hold the task queue's lock,
    on which terminating the pool would block. The pool is made with SIGINT blocked, so
    its workers are born with it blocked too.
    """

    def __init__(self, jobs: int, analyzer: Callable[[Article], Any] = analyze_article):
        self.jobs = jobs
        self.analyzer = analyzer  # a module-level function: workers are given it by name
        self.pool = None
        if jobs > 1:
            methods = multiprocessing.get_all_start_methods()
            context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
            with sigint_blocked():
                self.pool = context.Pool(jobs, initializer=signal.signal, initargs=(signal.SIGINT, signal.SIG_IGN))

    def map(self, batches: Iterable[list[Article]]) -> Iterator[tuple[Article, Any]]:
        if self.pool is None:
            for batch in batches:
                yield from _analyze_batch(self.analyzer, batch)
            return
        pending: deque = deque()
        for batch in batches:
            pending.append(self.pool.apply_async(_analyze_batch, (self.analyzer, batch)))
            if len(pending) >= 2 * self.jobs:
                yield from pending.popleft().get()
        while pending:
            yield from pending.popleft().get()

    def close(self):
        if self.pool is not None:
            self.pool.terminate()
            self.pool.join()


@contextmanager
def sigint_blocked():
    """SIGINT blocked in this thread (and in processes and threads started meanwhile), where
    the system can block signals (not on Windows, whose workers are spawned, not forked)."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


@contextmanager
def ctrl_c_kept():
    """Yield a function telling whether Ctrl-C was pressed. Python drops a KeyboardInterrupt
    raised inside a ``__del__`` (Whoosh's readers and locks have them, and a commit frees
    many), which would let the job go on. The handler still raises, and the writing loop
    checks the flag too, so an interrupt dropped mid-commit ends the job right after it."""
    pressed = []

    def handler(signum, frame):
        pressed.append(signum)
        raise KeyboardInterrupt

    try:
        if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
            raise ValueError("Ctrl-C handled otherwise")
        previous = signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread, or ignored / handled by the caller: leave it
        yield lambda: False
        return
    try:
        yield lambda: bool(pressed)
    finally:
        signal.signal(signal.SIGINT, previous)
