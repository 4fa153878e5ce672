"""An index's integrity: checksums of its files recorded at each commit, verified by ``check`` and on read errors.

A read error that damage explains becomes an ``IndexCorruptError`` naming the damaged files.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import pickle
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from whoosh.index import TOC

from ..errors import HnpSearchError, IndexCorruptError

#: The checksum manifest: {"algorithm": ALGORITHM, "files": {name: [size, hex digest]}, "sum":
#: the digest of the files' entries}, rewritten after each commit.
SUMS_FILE = "hnp-search.sums"
ALGORITHM = "sha256"
META_FILE = "hnp-search.json"
LEXICON_FILE = "lexicon.pickle"  # checks itself: see store.directory
INDEX_NAME = "MAIN"

REBUILD_HINT = "rebuild it from your source files with `hnp-search index --rebuild PATH...`"


def live_files(folder: Path) -> list[str]:
    """The files the latest commit of the index in ``folder`` reads: its TOC, the files of its
    segments and the metadata (the lexicon is a cache that checks itself). Reads the TOC:
    raises what a damaged one raises."""
    storage = _storage(folder)
    generation = TOC._latest_generation(storage, INDEX_NAME)
    if generation < 0:
        return []
    toc = TOC.read(storage, INDEX_NAME, generation)
    names = [TOC._filename(INDEX_NAME, generation)]
    ids = {segment.segment_id() for segment in toc.segments}
    pattern = TOC._segment_pattern(INDEX_NAME)
    for name in sorted(os.listdir(folder)):
        match = pattern.match(name)
        if match and match.group(1) in ids:
            names.append(name)
    return names + [META_FILE] if (folder / META_FILE).exists() else names


def _storage(folder: Path):
    from whoosh.filedb.filestore import FileStorage

    return FileStorage(str(folder), readonly=True)


def file_sum(path: Path) -> list:
    with path.open("rb") as f:
        return [os.fstat(f.fileno()).st_size, hashlib.file_digest(f, ALGORITHM).hexdigest()]


def recorded_sums(folder: Path) -> dict[str, list] | None:
    """The manifest's {name: [size, digest]}, or None when it is missing or unreadable."""
    try:
        sums = json.loads((folder / SUMS_FILE).read_text(encoding="utf-8"))
        files = sums["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(files, dict) or sums.get("algorithm") != ALGORITHM or sums.get("sum") != _entries_sum(files):
        return None
    return files


def _entries_sum(files: dict) -> str:
    return hashlib.new(ALGORITHM, json.dumps(files, sort_keys=True).encode()).hexdigest()


def record_sums(folder: Path) -> None:
    """Write the manifest for the files of the latest commit: sums of files already recorded
    under the same name and size are kept (segments never change once written), the others
    computed. Written to a temporary file, then renamed over the old manifest."""
    folder = Path(folder)
    old = recorded_sums(folder) or {}
    files = {}
    for name in live_files(folder):
        path = folder / name
        known = old.get(name)
        size = path.stat().st_size
        keep = known and name != META_FILE and known[0] == size
        files[name] = known if keep else file_sum(path)
    tmp = folder / f"{SUMS_FILE}.{os.getpid()}.tmp"
    try:
        manifest = {"algorithm": ALGORITHM, "files": files, "sum": _entries_sum(files)}
        tmp.write_text(json.dumps(manifest, indent=0) + "\n", encoding="utf-8")
        os.replace(tmp, folder / SUMS_FILE)
    finally:
        tmp.unlink(missing_ok=True)


@dataclass
class Report:
    """What ``verify`` found: damaged or missing files (with what is wrong), files it could
    not check against a recorded sum, and the files found sound."""

    folder: Path
    damaged: dict[str, str] = field(default_factory=dict)
    unrecorded: list[str] = field(default_factory=list)
    sound: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.damaged

    def error(self) -> IndexCorruptError:
        what = "; ".join(f"{name}: {why}" for name, why in self.damaged.items())
        return IndexCorruptError(
            f"the index at {self.folder} is damaged: {what}. Its articles cannot be read back "
            f"reliably: {REBUILD_HINT}",
            files=[str(self.folder / name) for name in self.damaged],
        )


def verify(folder: str | os.PathLike, *, deep: bool = True) -> Report:
    """Check every file of the index in ``folder``: the TOC reads, the metadata is there and
    names the analyzer version, each file matches the size and checksum recorded when it was
    written. Files written after the last recorded sums (a job killed right after a commit)
    are read through instead when ``deep``: every stored article and every posting. Checked
    again when a commit changed the index meanwhile."""
    return _consistent(Path(folder), lambda: _verify(Path(folder), deep))


def _verify(folder: Path, deep: bool) -> Report:
    report = Report(folder)
    storage = _storage(folder)
    generation = TOC._latest_generation(storage, INDEX_NAME)
    toc_name = TOC._filename(INDEX_NAME, generation)
    if generation < 0:
        report.damaged["_MAIN_*.toc"] = "missing: no table of contents, so no index"
        return report
    try:
        names = live_files(folder)
    except Exception as exc:  # noqa: BLE001  whatever a damaged TOC raises
        report.damaged[toc_name] = f"unreadable ({_describe(exc)})"
        return report
    meta = _check_meta(folder)
    if meta:
        report.damaged[META_FILE] = meta
    sums = recorded_sums(folder)
    if sums is None and (folder / SUMS_FILE).exists():
        report.damaged[SUMS_FILE] = "damaged: the checksums of the other files are lost, so they were read through"
    for name in names:
        if name in report.damaged:
            continue
        known = (sums or {}).get(name)
        if known is None:
            report.unrecorded.append(name)
            continue
        try:
            actual = file_sum(folder / name)
        except OSError as exc:
            report.damaged[name] = f"unreadable ({exc.strerror or exc})"
            continue
        if actual[0] != known[0]:
            report.damaged[name] = f"{actual[0]:,} bytes, {known[0]:,} when written (truncated or overwritten)"
        elif actual[1] != known[1]:
            report.damaged[name] = "its contents changed since it was written (checksum mismatch)"
        else:
            report.sound.append(name)
    for name in (n for n in (sums or {}) if n not in names and n.startswith(("MAIN_", "_MAIN_"))):
        if not (folder / name).exists():
            report.damaged[name] = "missing"
    if deep and not (set(report.damaged) - {SUMS_FILE}) and any(n != META_FILE for n in report.unrecorded):
        problem = _read_through(folder)
        if problem:  # the table of contents was read and the metadata checked: a segment is at fault
            segments = [n for n in report.unrecorded if TOC._segment_pattern(INDEX_NAME).match(n)]
            report.damaged[", ".join(segments or report.unrecorded)] = problem
    return report


#: Files up to this size are checksummed whenever an index is opened; larger ones only by ``check``.
QUICK_SUM_BYTES = 1 << 20


def quick_verify(folder: Path) -> None:
    """What can be checked whenever the index is opened, in a few milliseconds: every
    recorded file is there with its recorded size, and the small ones (the table of
    contents, small segments) match their checksums. IndexCorruptError otherwise."""
    report = _consistent(folder, lambda: _quick_report(folder))
    if not report.ok:
        raise report.error()


def _consistent(folder: Path, run) -> Report:
    """``run()``'s report, run again (up to 3 times) while a commit changed the index under
    it: a file it found missing or changed may be one a writer was replacing."""
    for _ in range(3):
        before = _state(folder)
        report = run()
        if report.ok or _state(folder) == before:
            return report
    return report


def _state(folder: Path) -> tuple:
    """The index's latest generation and the manifest's identity: what a commit changes."""
    try:
        info = (folder / SUMS_FILE).stat()
        manifest = (info.st_mtime_ns, info.st_size, info.st_ino)
    except OSError:
        manifest = None
    return TOC._latest_generation(_storage(folder), INDEX_NAME), manifest


def _quick_report(folder: Path) -> Report:
    report = Report(folder)
    sums = recorded_sums(folder)
    if not sums:
        return report
    try:
        names = set(live_files(folder)) - {META_FILE}  # the metadata is checked for its version when opened
    except Exception:  # noqa: BLE001  a damaged TOC: reported by opening it
        return report
    for name in sorted(names & sums.keys()):
        size, digest = sums[name]
        try:
            actual = (folder / name).stat().st_size
            if actual != size:
                report.damaged[name] = f"{actual:,} bytes, {size:,} when written (truncated or overwritten)"
            elif size <= QUICK_SUM_BYTES and file_sum(folder / name)[1] != digest:
                report.damaged[name] = "its contents changed since it was written (checksum mismatch)"
        except OSError as exc:
            report.damaged[name] = f"unreadable ({exc.strerror or exc})"
    return report


def _check_meta(folder: Path) -> str | None:
    try:
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return "missing: the analyzer version that built the index is unknown"
    except (OSError, ValueError) as exc:
        return f"unreadable ({_describe(exc)})"
    if not isinstance(meta, dict) or not isinstance(meta.get("analyzer_version"), int):
        return "holds no analyzer version"
    return None


def _read_through(folder: Path) -> str | None:
    """Read every stored article and every posting (positions decompressed) of the index,
    block by block as retrieval does; what went wrong, or None."""
    from whoosh import index as whoosh_index

    from .codec import read_postings

    try:
        ix = whoosh_index.open_dir(str(folder))
        with ix.reader() as reader:
            for _ in reader.all_stored_fields():
                pass
            leaves = reader.leaf_readers() if not reader.is_atomic() else [(reader, 0)]
            for leaf, offset in leaves:
                for fieldname in leaf.indexed_field_names():
                    sink = _Sink(leaf.schema[fieldname].format.supports("positions"))
                    for btext in leaf.lexicon(fieldname):
                        read_postings(leaf, fieldname, btext, offset, sink)
        ix.close()
    except Exception as exc:  # noqa: BLE001  whatever damaged data raises
        return f"unreadable ({_describe(exc)})"
    return None


class _Sink:
    """Takes the blocks ``read_postings`` decodes, and decompresses their positions."""

    def __init__(self, positional: bool):
        self.positional = positional

    def add(self, ids, weights, values, max_weight, min_length) -> None:
        if self.positional and len(values):
            values[len(values) - 1]


def _describe(exc: BaseException) -> str:
    text = str(exc)
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


#: Raised by reading damaged bytes whatever the damage: always taken for damage.
_DAMAGE = (zlib.error, pickle.UnpicklingError, EOFError, struct.error, UnicodeDecodeError, OSError, MemoryError)
#: Raised by reading garbage, but also by bugs: taken for damage only when ``verify`` finds some.
_MAYBE_DAMAGE = (ValueError, TypeError, IndexError, KeyError, AttributeError, AssertionError, OverflowError,
                 RecursionError)


#: Index states found sound after a read error, so that the next one is not checked again.
_sound: dict[tuple, Report] = {}


def corruption(folder: str | os.PathLike, exc: BaseException) -> IndexCorruptError | None:
    """The IndexCorruptError to raise for ``exc``, raised while reading the index in ``folder``,
    naming the damaged files; None when it is no sign of damage (a bug: re-raise it). The
    files are checksummed once per index state and process: an error that recurs (a bug hit
    by every request, say) does not hash the whole index each time."""
    folder = Path(folder)
    key = (str(folder.resolve()), _state(folder))
    report = _sound.get(key) or verify(folder, deep=False)
    if report.ok:
        if len(_sound) > 100:
            _sound.clear()
        _sound[key] = report
    else:
        return report.error()
    if isinstance(exc, _DAMAGE):
        return IndexCorruptError(
            f"the index at {folder} could not be read ({_describe(exc)}); `hnp-search check` tells "
            f"which file is damaged. To repair it, {REBUILD_HINT}",
            files=[str(folder)],
        )
    return None


def guard_reads(method):
    """Decorate a ``SearchEngine`` method that reads the index: an error that damage
    explains becomes an ``IndexCorruptError`` naming the damaged files."""

    @functools.wraps(method)
    def guarded(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except HnpSearchError:
            raise
        except (*_DAMAGE, *_MAYBE_DAMAGE) as exc:
            error = corruption(self.path, exc)
            if error is None:
                raise
            raise error from exc

    return guarded
