"""Crashes and concurrent use (issue 7): a killed or interrupted `hnp-search index` loses at
most the batch it was writing and a rerun finishes it without duplicates; a second writer
is told the index is busy; searches in other processes and threads keep working.

The moments processes are killed at are events seen in the index folder (its files appearing),
chosen from the ``seed`` fixture ($HNP_SEARCH_TEST_SEED), not timed sleeps."""

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import pytest
from click.testing import CliRunner
from whoosh import index as whoosh_index
from whoosh.util.filelock import FileLock

from hnp_search import IndexBusyError, IndexCorruptError, IndexNotFoundError, SearchEngine, read_articles
from hnp_search.indexing.pipeline import Pipeline
from hnp_search.store import directory
from hnp_search.cli import EXIT_INTERRUPTED, main

BATCH = 100  # HNP_SEARCH_BATCH_SIZE for the indexing subprocesses


def short_articles(path: Path, count: int) -> Path:
    """``count`` short Vietnamese articles a00000, a00001, … as JSON Lines (quick to analyze)."""
    words = "Hà Nội mở rộng phố đi bộ quanh hồ Gươm cho người dân và du khách dịp cuối tuần".split()
    with path.open("w", encoding="utf-8") as out:
        for n in range(count):
            body = " ".join(words[n % 9 : n % 9 + 8]) + "."
            out.write(json.dumps({"id": f"a{n:05d}", "title": f"Tin số {n}", "body": body}, ensure_ascii=False) + "\n")
    return path


def start_indexing(source: Path, index_dir: Path, jobs: int = 1, *options: str, **popen) -> subprocess.Popen:
    command = [sys.executable, "-m", "hnp_search", "index", str(source)]
    command += ["--index-dir", str(index_dir), "--jobs", str(jobs), *options]
    env = {**os.environ, "HNP_SEARCH_BATCH_SIZE": str(BATCH)}
    # Ctrl-C as at a terminal even when the tests run as a background job, which starts
    # with SIGINT ignored and would pass that on.
    default_sigint = lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)  # noqa: E731
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=default_sigint, **popen
    )


def committed_ids(index_dir: Path) -> list[str]:
    """The ids stored in the index, duplicates included; [] before the index exists."""
    if not whoosh_index.exists_in(str(index_dir)):
        return []
    with whoosh_index.open_dir(str(index_dir)).reader() as reader:
        return [fields["id"] for fields in reader.all_stored_fields()]


def wait_until(condition, timeout: float = 60.0, every: float = 0.05):
    """Poll ``condition`` until it is true (``every`` seconds apart)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(every)


def commit_written(index_dir: Path, commits: int) -> bool:
    """Whether the index's ``commits``-th commit is done: its table of contents exists."""
    return (index_dir / f"_MAIN_{commits}.toc").exists()


def commit_under_way(index_dir: Path) -> bool:
    """Whether a segment is being written: a column file of a segment not yet compounded."""
    names = [p.name for p in index_dir.iterdir()] if index_dir.is_dir() else []
    done = {name.split(".")[0] for name in names if name.endswith(".seg")}
    return any(name.endswith(".col") and name.split(".")[0] not in done for name in names)


def assert_locks_free(index_dir: Path):
    for name in (directory.JOB_LOCK, "MAIN_WRITELOCK"):
        if (index_dir / name).exists():
            lock = FileLock(str(index_dir / name))
            assert lock.acquire(), f"{name} is still locked"
            lock.release()


def test_sigkill_at_any_moment_loses_at_most_one_batch_and_a_rerun_completes(tmp_path, seed):
    total = 1550
    source = short_articles(tmp_path / "bai.jsonl", total)
    expected = [f"a{n:05d}" for n in range(total)]
    rng = random.Random(seed)
    kept_after_kills = []

    # Each run is killed at one of these moments: once the index exists; once batch n is
    # committed; while the batch after n is being committed (its files half written).
    moments = [("created", 0), *[(kind, rng.randrange(1, 12)) for kind in ("committed", "writing") * 2]]
    for attempt, (moment, commits) in enumerate(moments):
        index_dir = tmp_path / f"ix{attempt}"
        process = start_indexing(source, index_dir)
        if moment == "created":
            wait_until((index_dir / directory.META_FILE).exists, every=0.005)
        else:
            wait_until(partial(commit_written, index_dir, commits), every=0.005)
        if moment == "writing":
            wait_until(partial(commit_under_way, index_dir), every=0.001)
        process.kill()
        process.communicate()
        assert process.returncode == -signal.SIGKILL, f"the job ended before it was killed {moment} {commits}"
        ids = committed_ids(index_dir)
        kept_after_kills.append((moment, commits, len(ids)))
        assert sorted(ids) == expected[: len(ids)], "lost or duplicated articles"
        assert len(ids) % BATCH == 0, "a batch was committed in part"
        assert len(ids) >= commits * BATCH, "a commit was lost"
        assert_locks_free(index_dir)  # the lock files stay behind, but nothing holds them

        rerun = start_indexing(source, index_dir)
        stdout, stderr = rerun.communicate(timeout=120)
        assert rerun.returncode == 0, stderr
        assert stdout.startswith(f"{total - len(ids)} added, 0 updated, {len(ids)} unchanged, 0 errors in ")
        assert sorted(committed_ids(index_dir)) == expected
        with SearchEngine(index_dir, create=False) as engine:
            assert len(engine) == total and engine.search("hồ Gươm", limit=1)

    print(f"seed {seed}: (moment, batches, articles kept) of each run killed: {kept_after_kills}")


def test_a_first_run_killed_before_recording_the_version_leaves_no_dead_end(tmp_path, articles_path):
    directory.create_index(tmp_path / "empty")
    with SearchEngine(tmp_path / "full") as full:
        full.index([articles_path], jobs=1)
    for name in ("empty", "full"):
        (tmp_path / name / directory.META_FILE).unlink()  # as if killed just before writing it

    with pytest.raises(IndexNotFoundError, match="no index at"):
        SearchEngine(tmp_path / "empty", create=False)
    with SearchEngine(tmp_path / "empty") as engine:
        assert engine.index([articles_path], jobs=1).added == 10
    with SearchEngine(tmp_path / "full") as engine:  # articles of an unknown analyzer version
        with pytest.raises(IndexCorruptError, match="hnp-search.json: missing: the analyzer version .* rebuild it"):
            engine.search("hà nội")
        with pytest.raises(IndexCorruptError):
            engine.index([articles_path], jobs=1)  # adding to it could mix two analyzers
        assert engine.index([articles_path], jobs=1, rebuild=True).added == 10
        assert len(engine) == 10 and engine.search("hà nội")


def test_ctrl_c_rolls_back_the_batch_being_written_and_frees_the_lock(tmp_path):
    total = 30_000  # far more than get indexed before the signal lands, on any machine
    source = short_articles(tmp_path / "bai.jsonl", total)
    index_dir = tmp_path / "ix"
    # Its own session, so that Ctrl-C can go to the whole group as from a terminal: workers too.
    process = start_indexing(source, index_dir, jobs=2, start_new_session=True)
    wait_until(partial(commit_written, index_dir, 1))

    os.killpg(process.pid, signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)

    ids = committed_ids(index_dir)
    assert process.returncode == EXIT_INTERRUPTED
    assert stdout == ""
    assert stderr == (
        f"Interrupted: rolled back the batch being written; the index keeps the {len(ids)} articles "
        "committed before it. Run the same command again to finish.\n"
    )
    assert len(ids) % BATCH == 0 and len(ids) < total
    assert sorted(ids) == [f"a{n:05d}" for n in range(len(ids))]
    assert_locks_free(index_dir)


def _signal_mask(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1], 16)
    raise AssertionError(field)


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_analysis_workers_are_deaf_to_ctrl_c_and_sigterm_and_live_as_long_as_the_job(articles_path):
    """Workers leave Ctrl-C and SIGTERM to the writing process, and are not replaced mid-run."""
    pipeline = Pipeline(2)
    try:
        pids = [process.pid for process, _, _ in pipeline.workers]
        articles = list(read_articles(articles_path))
        analysed = pipeline.map([articles[i : i + 2] for i in range(0, 10, 2)])
        assert [a.id for a, _ in analysed] == [a.id for a in articles]
        ignored = [_signal_mask(pid, "SigIgn") for pid in pids]
        assert [process.pid for process, _, _ in pipeline.workers] == pids
        assert all(process.is_alive() for process, _, _ in pipeline.workers)
    finally:
        pipeline.close()
    for signum in (signal.SIGINT, signal.SIGTERM):
        assert all(mask & (1 << (signum - 1)) for mask in ignored)
    assert signal.SIGINT not in signal.pthread_sigmask(signal.SIG_BLOCK, set())  # this process still hears it


def _children(pid: int) -> list[int]:
    return [int(n) for n in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads /proc")
def test_a_killed_worker_stops_the_job_with_an_error_naming_it_and_a_rerun_finishes(tmp_path):
    total = 30_000  # far more than get indexed before the worker is killed
    source = short_articles(tmp_path / "bai.jsonl", total)
    index_dir = tmp_path / "ix"
    process = start_indexing(source, index_dir, jobs=2)
    wait_until(lambda: len(committed_ids(index_dir)) >= BATCH)
    victim = _children(process.pid)[-1]
    os.kill(victim, signal.SIGKILL)
    killed_at = time.monotonic()
    stdout, stderr = process.communicate(timeout=60)
    stopped_after = time.monotonic() - killed_at

    ids = committed_ids(index_dir)
    assert process.returncode == 1 and stdout == ""
    assert stderr.startswith("Error: analysis worker ") and f"(process {victim}) was killed by SIGKILL" in stderr
    assert f"the index keeps the batches committed before ({len(ids)} articles of this run)" in stderr
    assert "Traceback" not in stderr
    assert stopped_after < 10
    assert sorted(ids) == [f"a{n:05d}" for n in range(len(ids))] and len(ids) % BATCH == 0
    assert_locks_free(index_dir)

    rerun = CliRunner().invoke(main, ["index", str(source), "--index-dir", str(index_dir), "--jobs", "2"])
    assert rerun.exit_code == 0, rerun.output
    assert sorted(committed_ids(index_dir)) == [f"a{n:05d}" for n in range(total)]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a parent-death signal is Linux's")
def test_workers_die_with_a_killed_job_and_free_its_lock(tmp_path):
    source = short_articles(tmp_path / "bai.jsonl", 30_000)
    index_dir = tmp_path / "ix"
    process = start_indexing(source, index_dir, jobs=2)
    wait_until(lambda: len(committed_ids(index_dir)) >= BATCH)
    workers = _children(process.pid)
    process.kill()
    process.communicate(timeout=60)
    wait_until(lambda: not any(Path(f"/proc/{pid}").exists() and "Z" not in _state(pid) for pid in workers), timeout=5)
    assert_locks_free(index_dir)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return "Z"


def test_sigterm_rolls_back_the_batch_being_written_and_says_so(tmp_path):
    total = 30_000
    source = short_articles(tmp_path / "bai.jsonl", total)
    index_dir = tmp_path / "ix"
    process = start_indexing(source, index_dir, 2, start_new_session=True)
    wait_until(lambda: len(committed_ids(index_dir)) >= BATCH)

    os.killpg(process.pid, signal.SIGTERM)  # as a service manager stops a job: the whole group
    stdout, stderr = process.communicate(timeout=60)

    ids = committed_ids(index_dir)
    assert process.returncode == 128 + signal.SIGTERM
    assert stderr == (
        f"Stopped by SIGTERM: rolled back the batch being written; the index keeps the {len(ids)} articles "
        "committed before it. Run the same command again to finish.\n"
    )
    assert len(ids) % BATCH == 0 and sorted(ids) == [f"a{n:05d}" for n in range(len(ids))]
    assert_locks_free(index_dir)


def test_a_second_writer_waits_a_little_then_is_told_the_index_is_busy(tmp_path, monkeypatch, articles_path):
    source = short_articles(tmp_path / "bai.jsonl", 3000)
    index_dir = tmp_path / "ix"
    first = start_indexing(source, index_dir)
    wait_until(partial(commit_written, index_dir, 1))  # well inside its job
    monkeypatch.setattr(directory, "LOCK_TIMEOUT", 0.5)

    second = CliRunner().invoke(main, ["index", str(articles_path), "--index-dir", str(index_dir), "--jobs", "1"])

    busy = f"the index at {index_dir} is busy: process {first.pid} is writing to it; try again when it finishes"
    assert (second.exit_code, second.output) == (1, f"Error: {busy}\n")
    with SearchEngine(index_dir) as engine:
        with pytest.raises(IndexBusyError, match="busy"):
            engine.index([articles_path], rebuild=True, jobs=1)  # does not empty an index being written
        monkeypatch.setattr(directory, "LOCK_TIMEOUT", 60.0)
        assert engine.index([articles_path], jobs=1).added == 10  # waits for the first job to finish
        assert first.wait(timeout=30) == 0
        assert len(engine) == 3010
    assert len(set(committed_ids(index_dir))) == 3010


def test_searchers_see_the_old_index_until_a_rebuild_is_complete(tmp_path, articles_path):
    index_dir = tmp_path / "ix"
    with SearchEngine(index_dir) as engine:
        engine.index([articles_path], jobs=1)
    source = short_articles(tmp_path / "bai.jsonl", 1000)
    process = start_indexing(source, index_dir, 1, "--rebuild")
    seen = []
    while process.poll() is None:
        with SearchEngine(index_dir, create=False) as engine:
            seen.append((len(engine), len(engine.search("hà nội", limit=3, highlight=False))))
    stdout, stderr = process.communicate()
    assert process.returncode == 0, stderr
    with SearchEngine(index_dir, create=False) as engine:
        seen.append((len(engine), len(engine.search("hà nội", limit=3, highlight=False))))
    assert len(seen) > 10
    assert set(seen) == {(10, 3), (1000, 3)}, sorted(set(seen))
    assert seen.index((1000, 3)) > 0 and (10, 3) not in seen[seen.index((1000, 3)):]
    assert not (index_dir / ".rebuild").exists()


def test_a_long_lived_engine_sees_commits_of_another_process_after_refresh(tmp_path):
    total = 1000
    source = short_articles(tmp_path / "bai.jsonl", total)
    index_dir = tmp_path / "ix"
    directory.create_index(index_dir)
    with SearchEngine(index_dir) as engine:
        assert len(engine) == 0
        writer = start_indexing(source, index_dir)
        wait_until(partial(commit_written, index_dir, 1))
        assert len(engine) == 0 and engine.search("hồ Gươm") == []  # the state it opened, until refresh()
        counts = []
        while writer.poll() is None:
            engine.refresh()
            counts.append(len(engine))
            assert len(engine.search("hồ Gươm", limit=3)) == 3
            time.sleep(0.02)

        assert writer.returncode == 0
        engine.refresh()
        assert len(engine) == total
    assert counts == sorted(counts) and len(set(counts)) > 3  # saw states in between
    assert all(count % BATCH == 0 for count in counts)  # committed states only


QUERIES = ["Hà Nội", "ha noi", '"Hồ Tây"', "giá rau xanh", "bàn giao mặt bằng", "date:2024-05 chợ",
           "Hà Nội -metro", "mùa thu OR mưa lớn", "title:hồ", "nguyen van toan"]  # fmt: skip


def test_search_from_8_threads_returns_what_serial_calls_return(tiny_index):
    with SearchEngine(tiny_index, create=False) as engine:
        serial = {query: engine.search(query, limit=5) for query in QUERIES}
    assert all(serial.values())
    start = threading.Barrier(8)

    with SearchEngine(tiny_index, create=False) as engine:  # a fresh engine: its first searcher is raced for too

        def search_all(offset: int) -> list:
            start.wait()
            return [(query, engine.search(query, limit=5)) for query in (QUERIES[offset:] + QUERIES[:offset]) * 5]

        with ThreadPoolExecutor(8) as pool:
            results = [pair for batch in pool.map(search_all, range(8)) for pair in batch]

    assert len(results) == 8 * 5 * len(QUERIES)
    assert all(hits == serial[query] for query, hits in results)


def _expected_files(index_dir: Path) -> set[str]:
    from hnp_search.store.integrity import live_files

    return set(live_files(index_dir)) | {"hnp-search.lock", "MAIN_WRITELOCK", "hnp-search.sums", "lexicon.pickle"}


def _assert_stopped_for_space(process, index_dir: Path, total: int, message: str):
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 1, stderr
    assert stderr.startswith(message) and stderr.count("\n") == 1, stderr
    assert "its temporary files were removed" in stderr
    assert "needs about" in stderr or "writes files of about" in stderr
    ids = committed_ids(index_dir)
    assert len(ids) % BATCH_FOR_SPACE == 0 and len(ids) < total
    assert f"({len(ids)} articles of this run)" in stderr
    assert set(os.listdir(index_dir)) <= _expected_files(index_dir)  # nothing left behind
    check = CliRunner().invoke(main, ["check", "--index-dir", str(index_dir)])
    assert check.exit_code == 0, check.output
    assert_locks_free(index_dir)


BATCH_FOR_SPACE = 1000


@pytest.mark.skipif(os.geteuid() != 0 or not sys.platform.startswith("linux"), reason="mounts a tmpfs: root on Linux")
def test_a_full_disk_stops_the_job_with_how_much_is_needed_and_no_temporary_files(tmp_path):
    total = 20_000
    source = short_articles(tmp_path / "bai.jsonl", total)
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        index_dir = disk / "ix"
        command = [sys.executable, "-m", "hnp_search", "index", str(source), "--index-dir", str(index_dir), "-j1"]
        process = subprocess.Popen(command, env={**os.environ, "HNP_SEARCH_BATCH_SIZE": str(BATCH_FOR_SPACE)},
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _assert_stopped_for_space(process, index_dir, total, f"Error: no space left on the device holding {index_dir}")
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_FSIZE and SIGXFSZ as on Linux")
def test_a_file_size_limit_stops_the_job_as_a_full_disk_does(tmp_path):
    import resource

    total = 20_000
    source = short_articles(tmp_path / "bai.jsonl", total)
    index_dir = tmp_path / "ix"

    def limited():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit then fail with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (1_000_000, 1_000_000))

    command = [sys.executable, "-m", "hnp_search", "index", str(source), "--index-dir", str(index_dir), "--jobs", "1"]
    process = subprocess.Popen(command, env={**os.environ, "HNP_SEARCH_BATCH_SIZE": str(BATCH_FOR_SPACE)},
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=limited)
    message = f"Error: a file size limit (ulimit -f) reached writing the index at {index_dir}"
    _assert_stopped_for_space(process, index_dir, total, message)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_FSIZE and SIGXFSZ as on Linux")
def test_a_rebuild_that_runs_out_of_space_leaves_the_old_index_as_it_was(tmp_path, articles_path):
    import resource

    index_dir = tmp_path / "ix"
    with SearchEngine(index_dir) as engine:
        engine.index([articles_path], jobs=1)
    source = short_articles(tmp_path / "bai.jsonl", 20_000)

    def limited():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1_000_000, 1_000_000))

    command = [sys.executable, "-m", "hnp_search", "index", str(source), "--index-dir", str(index_dir), "-j1",
               "--rebuild"]
    process = subprocess.run(command, env={**os.environ, "HNP_SEARCH_BATCH_SIZE": str(BATCH_FOR_SPACE)},
                             capture_output=True, text=True, preexec_fn=limited)
    assert process.returncode == 1, process.stderr
    assert process.stderr.startswith("Error: a file size limit (ulimit -f) reached writing the index at ")
    assert f"the rebuild was abandoned and the index at {index_dir} is as it was" in process.stderr
    assert sorted(committed_ids(index_dir)) == sorted(a.id for a in read_articles(articles_path))
    assert not (index_dir / ".rebuild").exists()
    assert CliRunner().invoke(main, ["check", "--index-dir", str(index_dir)]).exit_code == 0
