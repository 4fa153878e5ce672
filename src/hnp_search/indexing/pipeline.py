"""Analysis in worker processes: articles → their fields' postings, pair filter and persons, in order.

Worker deaths, Ctrl-C and SIGTERM are handled here too.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import queue
import signal
import sys
from contextlib import contextmanager
from multiprocessing.connection import wait
from typing import Any, Callable, Iterable, Iterator, cast

from .. import persons
from ..errors import JobError
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


#: Batches sent ahead to each worker: one being analysed, one waiting.
_AHEAD = 2


class Pipeline:
    """Analyze batches of articles in worker processes, in order, with bounded memory; ``analyzer``
    makes each article's result (by default, the embedded index's postings).

    Batch i goes to worker i mod N, which answers its batches in the order sent, so
    results are read in order. While waiting, the writing process also watches every
    worker's exit: a worker that dies (the OOM killer's SIGKILL, say) stops the job
    within a moment with a ``JobError`` naming it and its signal, instead of waiting for
    an answer that never comes. Workers die with the writing process (a parent-death
    signal on Linux; elsewhere they check their parent between batches), so none outlives
    a killed job holding its inherited lock. Workers ignore Ctrl-C: the writing process
    handles it and terminates them; they are forked with SIGINT blocked, so a Ctrl-C
    pressed while they start never reaches them.
    """

    def __init__(self, jobs: int, analyzer: Callable[[Article], Any] = analyze_article):
        self.jobs = jobs
        self.analyzer = analyzer  # a module-level function: workers are given it by name
        #: (process, its task queue, the connection its answers come on)
        self.workers: list[tuple[Any, Any, Any]] = []
        if jobs > 1:
            methods = multiprocessing.get_all_start_methods()
            context: Any = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
            with sigint_blocked():
                for _ in range(jobs):
                    tasks = context.Queue()
                    results, answer = context.Pipe(duplex=False)
                    process = context.Process(target=_work, args=(tasks, answer, os.getpid(), analyzer), daemon=True)
                    process.start()
                    answer.close()
                    self.workers.append((process, tasks, results))

    def map(self, batches: Iterable[list[Article]]) -> Iterator[tuple[Article, Any]]:
        if not self.workers:
            for batch in batches:
                yield from _analyze_batch(self.analyzer, batch)
            return
        sent = 0
        received = 0
        for batch in batches:
            self.workers[sent % self.jobs][1].put(batch)
            sent += 1
            if sent - received >= _AHEAD * self.jobs:
                yield from self._receive(received % self.jobs)
                received += 1
        while received < sent:
            yield from self._receive(received % self.jobs)
            received += 1

    def _receive(self, n: int) -> list[tuple[Article, Any]]:
        """The next answer of worker ``n``; JobError as soon as any worker has died."""
        results = self.workers[n][2]
        sentinels = [process.sentinel for process, _, _ in self.workers]
        while True:
            ready = wait([results, *sentinels], timeout=1.0)
            if results in ready:
                try:
                    ok, value = results.recv()
                except (EOFError, OSError):  # the worker died, maybe halfway through its answer
                    self.workers[n][0].join(timeout=5)
                    ok, value = None, None
                if ok:
                    return cast(list[tuple[Article, Any]], value)
                if ok is False:
                    raise cast(Exception, value)
            for number, (process, _, _) in enumerate(self.workers, 1):
                if process.exitcode is not None:
                    raise JobError(f"analysis worker {number} (process {process.pid}) {_death(process.exitcode)}")

    def close(self):
        for process, _, _ in self.workers:
            if process.is_alive():
                process.kill()
        for process, tasks, results in self.workers:
            process.join()
            tasks.cancel_join_thread()  # a dead worker never drains its queue
            tasks.close()
            results.close()
        self.workers = []


def _death(exitcode: int) -> str:
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        hint = " (the system's out-of-memory killer sends it when memory runs out)" if name == "SIGKILL" else ""
        return f"was killed by {name}{hint}"
    return f"exited with status {exitcode}"


def _work(tasks, answer, parent: int, analyzer: Callable[[Article], Any]) -> None:
    """A worker's life: analyse each batch it is sent, answer (True, result) or (False, error)."""
    for signum in STOP_SIGNALS:  # the writing process stops the job, then its workers
        signal.signal(signum, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, set(STOP_SIGNALS))
    _die_with_parent()
    while os.getppid() == parent:
        try:
            batch = tasks.get(timeout=1.0)
        except queue.Empty:
            continue
        reply: tuple[bool, object]
        try:
            reply = (True, _analyze_batch(analyzer, batch))
        except Exception as error:  # noqa: BLE001  reported by the writing process, which stops the job
            reply = (False, error)
        try:
            answer.send(reply)
        except (BrokenPipeError, OSError):
            return
        except Exception as error:  # noqa: BLE001  an unpicklable error
            answer.send((False, JobError(f"analysis failed: {error!r}")))


def _die_with_parent() -> None:
    """Have the system kill this process when its parent dies (Linux's PR_SET_PDEATHSIG);
    elsewhere ``_work`` notices between batches that its parent is gone."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass


_PR_SET_PDEATHSIG = 1


@contextmanager
def sigint_blocked():
    """SIGINT and SIGTERM blocked in this thread (and in processes and threads started meanwhile), where
    the system can block signals (not on Windows, whose workers are spawned, not forked)."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, set(STOP_SIGNALS))
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


class Stopped(KeyboardInterrupt):
    """Ctrl-C (SIGINT) or SIGTERM during a job; ``signum`` says which."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


#: Signals that stop a job the way Ctrl-C does: the batch being written rolled back.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def ctrl_c_kept():
    """Yield a function telling whether Ctrl-C was pressed (or SIGTERM received). Python
    drops a KeyboardInterrupt raised inside a ``__del__`` (Whoosh's readers and locks have
    them, and a commit frees many), which would let the job go on. The handler still raises
    (``Stopped``), and the writing loop checks the flag too, so an interrupt dropped
    mid-commit ends the job right after it."""
    pressed: list[int] = []

    def handler(signum, frame):
        pressed.append(signum)
        raise Stopped(signum)

    try:
        if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
            raise ValueError("Ctrl-C handled otherwise")
        previous = {signum: signal.signal(signum, handler) for signum in STOP_SIGNALS
                    if signal.getsignal(signum) in (signal.default_int_handler, signal.SIG_DFL)}
    except ValueError:  # not the main thread, or ignored / handled by the caller: leave it
        yield lambda: None
        return
    try:
        yield lambda: pressed[0] if pressed else None
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
