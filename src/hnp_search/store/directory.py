"""An index directory: path → an open Whoosh index, its lexicon file, its size and its job lock.

The index is created or version-checked when opened.
"""

from __future__ import annotations

import json
import os
import pickle
from contextlib import contextmanager
from datetime import datetime
from collections import Counter
from pathlib import Path
from typing import Iterable

from whoosh import index as whoosh_index
from whoosh.util.filelock import FileLock, try_for

from ..errors import IndexBusyError, IndexNotFoundError, IndexVersionError
from ..text import analyze
from ..text.normalize import fold
from .schema import TEXT_FIELDS, schema


META_FILE = "hnp-search.json"


def _read_meta(path: Path) -> dict:
    try:
        return json.loads((path / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def index_exists(path: str | os.PathLike) -> bool:
    """Whether ``path`` holds an index's files (readable or not)."""
    return whoosh_index.exists_in(str(path))


def open_index(path: str | os.PathLike, create: bool = True):
    """Open the Whoosh index at ``path``, creating it when ``create`` and absent.

    Raises IndexNotFoundError when there is none (and not ``create``), and
    IndexVersionError when it was built by an incompatible analyzer. An empty index
    of another version counts as none (a first run killed before recording its
    version leaves one).
    """
    path = Path(path)
    if whoosh_index.exists_in(str(path)):
        try:
            ix = whoosh_index.open_dir(str(path))
        except Exception as exc:  # whoosh raises many kinds on a damaged index
            raise IndexNotFoundError(f"cannot open the index at {path}: {exc}") from exc
        version = _read_meta(path).get("analyzer_version")
        if version == analyze.ANALYZER_VERSION:
            return ix
        if not ix.is_empty():
            raise IndexVersionError(
                f"the index at {path} was built by analyzer version {version}, this is version "
                f"{analyze.ANALYZER_VERSION}: rebuild it with `hnp-search index --rebuild PATH...`"
            )
    if not create:
        raise IndexNotFoundError(f"no index at {path}: build one with `hnp-search index PATH...`")
    return create_index(path)


def create_index(path: Path):
    """Create an empty index at ``path`` (replacing any index there, unless another process
    is writing to it: then IndexBusyError)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with job_lock(path):
            ix = whoosh_index.create_in(str(path), schema())
            created = datetime.now().isoformat(timespec="seconds")
            meta = {"analyzer_version": analyze.ANALYZER_VERSION, "created": created}
            (path / META_FILE).write_text(json.dumps(meta) + "\n", encoding="utf-8")
    except OSError as exc:
        raise IndexNotFoundError(f"cannot create an index at {path}: {exc.strerror}") from exc
    return ix


LEXICON_FILE = "lexicon.pickle"


def load_lexicon(path: str | os.PathLike, reader) -> dict[str, str]:
    """The index's restoring lexicon (folded word -> accented reading): saved by the last
    indexing run, or rebuilt from ``reader`` (and saved) when that file is missing or older
    than the index."""
    words = saved_lexicon(path, reader.generation())
    return words if words is not None else save_lexicon(path, reader)


def saved_lexicon(path: str | os.PathLike, generation: int) -> dict[str, str] | None:
    """The lexicon saved beside the index if it is that of ``generation``, else None."""
    try:
        with (Path(path) / LEXICON_FILE).open("rb") as f:
            saved, words = pickle.load(f)
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError):
        return None
    return words if saved == generation else None


def lexicon_stamp(path: str | os.PathLike) -> int | None:
    """When the lexicon file was last written (ns), None if there is none: a cheap way to
    notice that a writer has saved a new one."""
    try:
        return (Path(path) / LEXICON_FILE).stat().st_mtime_ns
    except OSError:
        return None


def save_lexicon(path: str | os.PathLike, reader) -> dict[str, str]:
    """Build the lexicon of ``reader``'s index state and save it beside the index."""
    words = lexicon_words(reader)
    tmp = Path(path) / f"{LEXICON_FILE}.{os.getpid()}.tmp"
    try:
        with tmp.open("wb") as f:
            pickle.dump((reader.generation(), words), f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, Path(path) / LEXICON_FILE)
    except OSError:
        tmp.unlink(missing_ok=True)  # a read-only index still works, just slower to open
    return words


def restamp_lexicon(path: str | os.PathLike, old_generation: int, new_generation: int) -> None:
    """Carry the saved lexicon of ``old_generation`` over to ``new_generation`` (after a delete:
    the words of deleted articles may stay in it, as they stay in the index's vocabulary)."""
    file = Path(path) / LEXICON_FILE
    try:
        with file.open("rb") as f:
            generation, words = pickle.load(f)
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError):
        return
    if generation != old_generation:
        return
    tmp = Path(path) / f"{LEXICON_FILE}.{os.getpid()}.tmp"
    try:
        with tmp.open("wb") as f:
            pickle.dump((new_generation, words), f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, file)
    except OSError:
        tmp.unlink(missing_ok=True)


def lexicon_words(reader) -> dict[str, str]:
    """Folded word or syllable -> its accented reading found in the most articles, read
    from the index's vocabulary segment by segment: through Whoosh's merged view of the
    segments it took 115 s on 34,824 articles, this 7 s."""
    leaves = [lr for lr, _ in reader.leaf_readers()] if not reader.is_atomic() else [reader]

    def fields():
        for fieldname in LEXICON_FIELDS:
            articles: Counter[str] = Counter()
            for leaf in leaves:
                if fieldname in leaf.indexed_field_names():
                    for term, info in leaf.iter_field(fieldname):
                        articles[term.decode("utf-8")] += info.doc_frequency()
            yield articles

    return best_readings(fields())


#: The fields whose terms the lexicon reads, in the order it reads them.
LEXICON_FIELDS = tuple(f"{f}_{v}" for f in TEXT_FIELDS for v in ("w", "s"))


def best_readings(fields: Iterable[dict[str, int]]) -> dict[str, str]:
    """Folded word -> the reading found in the most articles of one field, given each of
    ``LEXICON_FIELDS``'s terms and their article counts (ties: the field read first, then
    the term first in UTF-8 order)."""
    best: dict[str, tuple[int, str]] = {}
    for articles in fields:
        for word in sorted(articles, key=lambda t: t.encode("utf-8")):
            key = fold(word)
            if articles[word] > best.get(key, (0, ""))[0]:
                best[key] = (articles[word], word)
    return {key: word for key, (_, word) in best.items()}


def index_size(path: str | os.PathLike) -> int:
    """Bytes on disk used by the index at ``path``."""
    return sum(p.stat().st_size for p in Path(path).iterdir() if p.is_file())


#: Held by the one process writing an index, which records its pid in it. It is an OS
#: file lock, freed by the system when its process ends, however it ends: a killed job
#: leaves the file behind but never a stale lock.
JOB_LOCK = "hnp-search.lock"
#: Seconds a writer waits for another to finish before raising IndexBusyError.
LOCK_TIMEOUT = 5.0


@contextmanager
def job_lock(folder: Path):
    lock = FileLock(str(folder / JOB_LOCK))
    if not try_for(lock.acquire, timeout=LOCK_TIMEOUT):
        try:
            owner = f"process {int((folder / JOB_LOCK).read_text())}"
        except (OSError, ValueError):
            owner = "another process"
        raise IndexBusyError(f"the index at {folder} is busy: {owner} is writing to it; try again when it finishes")
    try:
        (folder / JOB_LOCK).write_text(f"{os.getpid()}\n")
        yield
    finally:
        lock.release()
