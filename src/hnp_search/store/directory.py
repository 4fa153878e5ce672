"""An index directory: path → an open Whoosh index, its lexicon file, its size and its job lock.

The index is created or version-checked when opened; a rebuild is staged beside it and swapped in.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
from contextlib import contextmanager
from datetime import datetime
from collections import Counter
from pathlib import Path
from typing import Iterable

from whoosh import index as whoosh_index
from whoosh.util.filelock import FileLock, try_for

from whoosh.filedb.filestore import FileStorage
from whoosh.index import TOC

from ..errors import IndexBusyError, IndexCorruptError, IndexNotFoundError, IndexVersionError
from ..text import analyze
from ..text.normalize import fold
from . import integrity
from .integrity import INDEX_NAME, LEXICON_FILE, META_FILE, REBUILD_HINT
from .schema import TEXT_FIELDS, schema


def has_index(path: Path) -> bool:
    """Whether ``path`` holds an index's table of contents (readable or not: Whoosh's
    ``exists_in`` raises on a damaged one)."""
    try:
        return TOC._latest_generation(FileStorage(str(path), readonly=True), INDEX_NAME) >= 0
    except OSError:
        return False


def _analyzer_version(path: Path):
    """The analyzer version the metadata records; IndexCorruptError when it is missing
    or damaged."""
    problem = integrity._check_meta(path)
    if problem:
        raise IndexCorruptError(f"the index at {path} is damaged: {META_FILE}: {problem}; {REBUILD_HINT}",
                                files=[str(path / META_FILE)])
    return json.loads((path / META_FILE).read_text(encoding="utf-8"))["analyzer_version"]


def index_exists(path: str | os.PathLike) -> bool:
    """Whether ``path`` holds an index's files (readable or not)."""
    return has_index(Path(path))


def open_index(path: str | os.PathLike, create: bool = True):
    """Open the Whoosh index at ``path``, creating it when ``create`` and absent.

    Raises IndexNotFoundError when there is none (and not ``create``), and
    IndexVersionError when it was built by an incompatible analyzer. An empty index
    of another version counts as none (a first run killed before recording its
    version leaves one).
    """
    path = Path(path)
    if has_index(path):
        try:
            ix = whoosh_index.open_dir(str(path))
        except PermissionError as exc:
            raise IndexNotFoundError(f"cannot open the index at {path}: {exc.strerror}") from exc
        except Exception as exc:  # whoosh raises many kinds on a damaged index
            toc = TOC._filename(INDEX_NAME, TOC._latest_generation(FileStorage(str(path), readonly=True), INDEX_NAME))
            raise integrity.corruption(path, exc) or integrity.Report(
                path, {toc: f"unreadable ({integrity._describe(exc)})"}).error() from exc
        if ix.is_empty() and integrity._check_meta(path):  # a first run killed before recording its version
            version = None
        else:
            version = _analyzer_version(path)
        if version == analyze.ANALYZER_VERSION:
            integrity.quick_verify(path)
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
            ix = _create(path)
    except OSError as exc:
        raise IndexNotFoundError(f"cannot create an index at {path}: {exc.strerror}") from exc
    return ix


def _create(path: Path):
    ix = whoosh_index.create_in(str(path), schema())
    meta = {"analyzer_version": analyze.ANALYZER_VERSION, "created": datetime.now().isoformat(timespec="seconds")}
    (path / META_FILE).write_text(json.dumps(meta) + "\n", encoding="utf-8")
    integrity.record_sums(path)
    return ix


#: The folder inside an index folder where ``--rebuild`` builds the new index.
STAGING = ".rebuild"


def create_staging(path: Path):
    """A fresh empty index in ``path``/.rebuild (any left by a killed rebuild removed first),
    where a rebuild is written while searches keep reading the index in ``path``. The caller
    holds ``path``'s job lock."""
    staging = path / STAGING
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    return _create(staging)


def discard_staging(path: Path) -> None:
    shutil.rmtree(path / STAGING, ignore_errors=True)


def publish_staging(path: Path) -> None:
    """Swap the index built in ``path``/.rebuild in for the one in ``path``: its segment files
    are moved in (their names are unique), then one table of contents of the next generation
    naming only them is written, atomically, so a searcher opening the index sees the old
    articles or the new, never a mix or none. The old segments, tables of contents and the
    staging folder are removed after. The caller holds ``path``'s job lock."""
    staging = path / STAGING
    storage = FileStorage(str(path))
    built = TOC.read(FileStorage(str(staging), readonly=True), INDEX_NAME)
    ids = {segment.segment_id() for segment in built.segments}
    pattern = TOC._segment_pattern(INDEX_NAME)
    moved = []
    for name in os.listdir(staging):
        match = pattern.match(name)
        if match and match.group(1) in ids:
            os.replace(staging / name, path / name)
            moved.append(name)
    generation = TOC._latest_generation(storage, INDEX_NAME) + 1
    TOC(built.schema, built.segments, generation).write(storage, INDEX_NAME)
    os.replace(staging / META_FILE, path / META_FILE)
    try:
        _, words = _read_lexicon(staging / LEXICON_FILE)
        _write_lexicon(path, generation, words)
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError):
        pass  # rebuilt on first use
    keep = {TOC._filename(INDEX_NAME, generation), *moved}
    for name in os.listdir(path):
        old = TOC._pattern(INDEX_NAME).match(name) or pattern.match(name) or name.startswith(f"_{INDEX_NAME}_")
        if name not in keep and old:
            try:
                os.remove(path / name)
            except OSError:
                pass  # Whoosh removes what it can on Windows later
    integrity.record_sums(path)
    discard_staging(path)



def load_lexicon(path: str | os.PathLike, reader) -> dict[str, str]:
    """The index's restoring lexicon (folded word -> accented reading): saved by the last
    indexing run, or rebuilt from ``reader`` (and saved) when that file is missing or older
    than the index."""
    words = saved_lexicon(path, reader.generation())
    return words if words is not None else save_lexicon(path, reader)


def saved_lexicon(path: str | os.PathLike, generation: int) -> dict[str, str] | None:
    """The lexicon saved beside the index if it is that of ``generation``, else None."""
    try:
        saved, words = _read_lexicon(Path(path) / LEXICON_FILE)
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
    _write_lexicon(Path(path), reader.generation(), words)
    return words


def _read_lexicon(file: Path) -> tuple[int, dict[str, str]]:
    """(generation, words) from a lexicon file; ValueError when its checksum does not match."""
    data = file.read_bytes()
    digest, payload = data[:32], data[32:]
    if hashlib.blake2b(payload, digest_size=32).digest() != digest:
        raise ValueError(f"{file}: damaged (checksum mismatch)")
    generation, words = pickle.loads(payload)
    return generation, words


def _write_lexicon(path: Path, generation: int, words: dict[str, str]) -> None:
    """Save the lexicon as its checksum then its pickle, so a damaged file is rebuilt, never used."""
    tmp = path / f"{LEXICON_FILE}.{os.getpid()}.tmp"
    payload = pickle.dumps((generation, words), protocol=pickle.HIGHEST_PROTOCOL)
    try:
        with tmp.open("wb") as f:
            f.write(hashlib.blake2b(payload, digest_size=32).digest() + payload)
        os.replace(tmp, path / LEXICON_FILE)
    except OSError:
        pass  # a read-only index still works, just slower to open
    finally:
        tmp.unlink(missing_ok=True)


def restamp_lexicon(path: str | os.PathLike, old_generation: int, new_generation: int) -> None:
    """Carry the saved lexicon of ``old_generation`` over to ``new_generation`` (after a delete:
    the words of deleted articles may stay in it, as they stay in the index's vocabulary)."""
    try:
        generation, words = _read_lexicon(Path(path) / LEXICON_FILE)
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError):
        return
    if generation == old_generation:
        _write_lexicon(Path(path), new_generation, words)


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


def remove_uncommitted(path: Path) -> int:
    """Remove what no commit of the index in ``path`` reads: segment files not named by its
    latest table of contents, temporary files (a table of contents, the lexicon or the
    checksums being written) and a rebuild left behind, all left by a job that died or ran
    out of space. Returns the bytes freed. The caller holds ``path``'s job lock."""
    storage = FileStorage(str(path))
    try:
        generation = TOC._latest_generation(storage, INDEX_NAME)
        segments = TOC.read(storage, INDEX_NAME, generation).segments if generation >= 0 else []
        live = {s.segment_id() for s in segments}
    except Exception:  # noqa: BLE001  a damaged TOC: leave everything for check and --rebuild
        return 0
    segment = TOC._segment_pattern(INDEX_NAME)
    toc = TOC._filename(INDEX_NAME, generation)
    freed = 0
    for name in os.listdir(path):
        match = segment.match(name)
        stale = (match is not None and match.group(1) not in live) or name.endswith(".tmp") or (
            name.startswith(f"_{INDEX_NAME}_") and name != toc)
        if stale and (path / name).is_file():
            try:
                freed += (path / name).stat().st_size
                (path / name).unlink()
            except OSError:
                pass
    if (path / STAGING).is_dir():
        discard_staging(path)
    return freed


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
