"""The server's one ``SearchEngine``: opened once the index exists, refreshed on commits, called under a deadline."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, TypeVar

from ..api import SearchEngine
from ..errors import HnpSearchError, IndexNotFoundError
from ..store.directory import open_index

log = logging.getLogger("hnp_search.server")

T = TypeVar("T")


class Unavailable(HnpSearchError):
    """No index to search yet (503)."""


class Overloaded(HnpSearchError):
    """More requests waiting than the server takes on (503)."""


class TimedOut(HnpSearchError):
    """A request ran past its deadline (504)."""


class Backend:
    """Calls into one shared engine.

    Searches run in a pool of ``threads`` threads (each keeps its own searcher inside the
    engine); at most ``max_pending`` calls wait or run at once, the rest are refused at
    once, and a caller stops waiting after ``timeout`` seconds. Writes run one at a time
    in a thread of their own, without a deadline. Every ``check_every`` seconds the
    index's latest generation is read (one directory listing); when another process has
    committed, the engine is refreshed, so its articles are searchable without a restart.
    """

    def __init__(self, index_dir: str | os.PathLike, *, threads: int = 4, timeout: float = 10.0,
                 max_pending: int = 64, check_every: float = 0.2):
        self.index_dir = Path(index_dir)
        self.timeout = timeout
        self.max_pending = max_pending
        self.check_every = check_every
        self.started = time.time()
        self._engine: SearchEngine | None = None
        self._handle: Any = None  # the Whoosh index, read only for its latest generation
        self.generation: int | None = None
        self._pending = 0
        self._open_lock = threading.Lock()
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="hnp-search")
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="hnp-search-write")
        self._watcher: asyncio.Task | None = None

    # -- the engine ----------------------------------------------------------

    @property
    def engine(self) -> SearchEngine:
        """The shared engine; ``Unavailable`` while there is no index."""
        if self._engine is None:
            self.check()
        if self._engine is None:
            raise Unavailable(f"no index at {self.index_dir} yet: build one with `hnp-search index PATH...`")
        return self._engine

    def check(self) -> None:
        """Open the engine if the index has appeared; refresh it if the index has changed."""
        with self._open_lock:
            if self._engine is None:
                try:
                    handle = open_index(self.index_dir, create=False)
                    engine = SearchEngine(self.index_dir, create=False)
                except IndexNotFoundError:
                    return
                self._handle, self._engine = handle, engine
                self.generation = handle.latest_generation()
                log.info("opened the index at %s (generation %s)", self.index_dir, self.generation)
                return
            generation = self._handle.latest_generation()
            if generation != self.generation:
                self.generation = generation
                self._engine.refresh()

    async def watch(self) -> None:
        """Check the index every ``check_every`` seconds, for as long as the server runs."""
        last_problem = None
        while True:
            try:
                await asyncio.to_thread(self.check)
                last_problem = None
            except Exception as exc:  # noqa: BLE001 - a damaged or half-replaced index: serve what is open
                if str(exc) != last_problem:  # once, not five times a second
                    log.warning("checking the index at %s failed: %s", self.index_dir, exc)
                last_problem = str(exc)
            await asyncio.sleep(self.check_every)

    def start(self) -> None:
        self._watcher = asyncio.get_running_loop().create_task(self.watch())

    def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._writer.shutdown(wait=True)
        if self._engine is not None:
            self._engine.close()

    # -- calls -----------------------------------------------------------------

    async def read(self, call: Callable[[SearchEngine], T]) -> T:
        """``call(engine)`` in the search pool, within the deadline."""
        engine = self.engine
        if self._pending >= self.max_pending:
            raise Overloaded(f"too many requests at once (more than {self.max_pending}); try again shortly")
        self._pending += 1
        try:
            future = asyncio.wrap_future(self._pool.submit(call, engine))
            try:
                return await asyncio.wait_for(future, self.timeout)
            except TimeoutError:
                raise TimedOut(f"the request took longer than {self.timeout:g} s") from None
        finally:
            self._pending -= 1

    async def write(self, call: Callable[[SearchEngine], T]) -> T:
        """``call(engine)`` in the writer thread, one write at a time, then refresh."""
        engine = self.engine
        result = await asyncio.wrap_future(self._writer.submit(call, engine))
        await asyncio.to_thread(self.check)
        return result
