"""Speed: hnp-search indexing and search latency beside SQLite FTS5 on the shared news corpora.

Written as a Markdown table and JSON.
"""

from __future__ import annotations

import argparse
import cProfile
import gzip
import hashlib
import io
import json
import multiprocessing
import os
import platform
import pstats
import random
import re
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from importlib.metadata import version
from pathlib import Path

from hnp_search import Article, QuerySyntaxError, SearchEngine, read_articles
from hnp_search.text import analyze
from hnp_search.text.normalize import fold

SHARED = Path(os.environ.get("HNP_SEARCH_SHARED") or Path(__file__).resolve().parents[2] / "shared")  # the shared data
CORPORA = {
    "dantri": SHARED / "corpora" / "dantri-unc.jsonl.gz",
    "baomoi": SHARED / "corpora" / "baomoi.jsonl.gz",
}
RESULTS = Path(__file__).with_name("results")
SOURCE = Path(analyze.__file__).parents[1]  # the package
SEED = 20240507
SEGMENT_SAMPLE = 300  # articles segmented alone, and indexed in-process to time segmentation's share
PROFILE_ARTICLES = 100
PROFILE_QUERIES = 20
PROFILE_ROWS = 15
COLD_RUNS = 5
LIMIT = 10  # hits per query
TIME = Path("/usr/bin/time")
PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")
MB = 1e6

SYLLABLE = re.compile(r"\w+")
# Two or more letter-only words separated by single spaces: nothing in between to segment away.
RUN = re.compile(r"(?<!\w)[^\W\d_]+(?: [^\W\d_]+)+(?!\w)")
FIELDS = ("title", "lead", "body")

COLD_HNP = """
import json, sys, time
started = time.perf_counter()
from hnp_search import SearchEngine
imported = time.perf_counter()
hits = SearchEngine(sys.argv[1], create=False).search(sys.argv[2], limit=10)
done = time.perf_counter()
print(json.dumps({"import_ms": (imported - started) * 1e3, "inprocess_ms": (done - started) * 1e3, "hits": len(hits)}))
"""
COLD_FTS5 = """
import json, sys, time
started = time.perf_counter()
import sqlite3
db = sqlite3.connect(sys.argv[1])
rows = db.execute(sys.argv[3], [sys.argv[2]]).fetchall()
done = time.perf_counter()
print(json.dumps({"import_ms": 0.0, "inprocess_ms": (done - started) * 1e3, "hits": len(rows)}))
"""


@dataclass(frozen=True)
class Query:
    """One query for both engines: hnp-search text and options, and the FTS5 MATCH over folded text."""

    text: str
    match: str
    date_from: str | None = None
    date_to: str | None = None
    person: str | None = None

    def options(self) -> dict:
        """Keyword arguments for ``SearchEngine.search`` beyond the text."""
        options = {"date_from": self.date_from, "date_to": self.date_to, "person": self.person}
        return {k: v for k, v in options.items() if v}


# -- measuring --------------------------------------------------------------


@contextmanager
def phase(log: dict, name: str):
    """Record a phase's wall time and the 1/5/15-minute load average at its start and end."""
    load, started = os.getloadavg(), time.perf_counter()
    yield
    log[name] = {"seconds": time.perf_counter() - started, "load_start": load, "load_end": os.getloadavg()}


def percentiles(values: list[float]) -> dict:
    cuts = statistics.quantiles(values, n=100, method="inclusive") if len(values) > 1 else values * 99
    return {"p50": cuts[49], "p95": cuts[94], "p99": cuts[98]}


def process_tree(root: int) -> dict[int, tuple[int, int, float]]:
    """``root`` and its descendants now: pid -> (parent pid, resident bytes, CPU seconds so far)."""
    processes = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # fields[0] is stat's 3rd field, state
            processes[int(stat.parent.name)] = (
                int(fields[1]),
                int(fields[21]) * PAGE,
                (int(fields[11]) + int(fields[12])) / TICKS,
            )
        except (OSError, IndexError, ValueError):
            continue
    tree, todo = {}, [root]
    while todo:
        pid = todo.pop()
        if pid in processes:
            tree[pid] = processes[pid]
            todo += [child for child, (parent, _, _) in processes.items() if parent == pid]
    return tree


def run_measured(command: list[str], workdir: Path) -> dict:
    """Run ``command``: wall time; CPU time (user + system) of its whole tree and of its main process;
    largest single-process RSS; peak of the tree's summed RSS, sampled every 0.2 s."""
    timing = workdir / "time.txt"
    if TIME.exists():
        command = [str(TIME), "-v", "-o", str(timing), *command]
    peak, seen, stop = [0], {}, threading.Event()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def sample():
        while not stop.wait(0.2):
            tree = process_tree(child.pid)
            peak[0] = max(peak[0], sum(rss for _, rss, _ in tree.values()))
            seen.update(tree)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = child.communicate()
    seconds = time.perf_counter() - started
    stop.set()
    sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    if child.returncode not in (0, 3):  # 3: some input rejected, the rest indexed
        raise SystemExit(f"{' '.join(command)} failed ({child.returncode}):\n{err}")
    main = (
        next((pid for pid, (parent, _, _) in seen.items() if parent == child.pid), None) if TIME.exists() else child.pid
    )
    if TIME.exists():
        found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", timing.read_text())
        max_rss, how = (
            int(found.group(1)) * 1024,
            "/usr/bin/time -v (ru_maxrss of the child and its waited-for descendants)",
        )
    else:
        max_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
        how = "getrusage(RUSAGE_CHILDREN).ru_maxrss (largest child of this benchmark so far)"
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "main_cpu_seconds": seen[main][2] if main in seen else None,
        "max_process_rss": max_rss,
        "tree_rss_peak": peak[0],
        "rss_how": how,
        "output": out.strip(),
    }


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# -- corpus and queries -------------------------------------------------------


def corpus_file(corpus: str, limit: int | None, workdir: Path) -> Path:
    """The corpus file, or a JSONL copy of its first ``limit`` lines."""
    source = CORPORA[corpus]
    if limit is None:
        return source
    subset = workdir / f"{corpus}-{limit}.jsonl"
    with gzip.open(source, "rt", encoding="utf-8") as lines, subset.open("w", encoding="utf-8") as out:
        for number, line in enumerate(lines):
            if number == limit:
                break
            out.write(line)
    return subset


def texts(article: Article) -> list[str]:
    return [getattr(article, name) for name in FIELDS if getattr(article, name)]


def describe(articles: list[Article]) -> dict:
    return {
        "articles": len(articles),
        "raw_bytes": sum(len(t.encode("utf-8")) for a in articles for t in texts(a)),
        "syllables": sum(len(SYLLABLE.findall(t)) for a in articles for t in texts(a)),
    }


def draw_words(articles: list[Article], rng: random.Random) -> tuple[Article, list[str]]:
    """2 or 3 consecutive words, lowercased, from a random article's text."""
    while True:
        article = rng.choice(articles)
        n = rng.choice((2, 3))
        runs = [run.split() for t in texts(article) for run in RUN.findall(t)]
        runs = [words for words in runs if len(words) >= n]
        if runs:
            words = rng.choice(runs)
            start = rng.randrange(len(words) - n + 1)
            return article, [w.lower() for w in words[start : start + n]]


def all_of(words: list[str]) -> str:
    return " AND ".join(f'"{fold(w)}"' for w in words)


def draw_queries(articles: list[Article], n: int, rng: random.Random) -> tuple[dict[str, list[Query]], list[str]]:
    """``n`` queries per class, drawn from the corpus; notes on classes left out."""
    words = [draw_words(articles, rng)[1] for _ in range(n)]
    phrases = [" ".join(draw_words(articles, rng)[1]) for _ in range(n)]
    queries = {
        "words": [Query(" ".join(w), all_of(w)) for w in words],
        "phrase": [Query(f'"{p}"', f'"{fold(p)}"') for p in phrases],
        "unaccented": [Query(fold(" ".join(w)), all_of(w)) for w in words],
    }
    notes = []
    dated = [a for a in articles if a.published]
    if dated:
        queries["date"] = []
        for _ in range(n):
            article, w = draw_words(dated, rng)
            day = article.published.date()
            around = (str(day - timedelta(days=15)), str(day + timedelta(days=15)))
            queries["date"].append(Query(" ".join(w), all_of(w), *around))
    else:
        notes.append("date: skipped, the corpus has no dates")
    return queries, notes


def draw_persons(articles: list[Article], n: int, rng: random.Random) -> list[Query]:
    """Up to ``n`` person queries: at most two names from each of random articles."""
    from hnp_search.persons import extract_persons

    names: list[str] = []
    for article in rng.sample(articles, len(articles)):
        names += extract_persons("\n".join(texts(article)))[:2]
        if len(names) >= n:
            break
    return [Query("", f'"{fold(name)}"', person=name) for name in names[:n]]


def person_queries(
    engine: SearchEngine, articles: list[Article], n: int, rng: random.Random
) -> tuple[list[Query], str | None]:
    """Person queries when ``search(person=...)`` works on this index, else a note why not."""
    try:
        probe = draw_persons(articles, 5, rng)
        found = sum(len(engine.search(q.text, limit=LIMIT, **q.options())) for q in probe)
    except ImportError:
        return [], "person: skipped, hnp_search.persons is missing"
    except (TypeError, QuerySyntaxError) as exc:
        return [], f"person: skipped, SearchEngine.search(person=...) fails: {type(exc).__name__}: {exc}"
    if not found:
        return [], f'person: skipped, search("", person=name) found nothing for {len(probe)} names from the corpus'
    return draw_persons(articles, n, rng), None


# -- indexing -----------------------------------------------------------------


def index_hnp(source: Path, index_dir: Path, jobs: int, workdir: Path) -> dict:
    """Build a fresh index with the CLI (the directory is removed first: an index built by an older
    analyzer makes ``index --rebuild`` fail)."""
    shutil.rmtree(index_dir, ignore_errors=True)
    command = [sys.executable, "-m", "hnp_search", "index", str(source), "--index-dir", str(index_dir)]
    command += ["--jobs", str(jobs), "--rebuild"]
    measured = run_measured(command, workdir)
    return {"jobs": jobs, **measured, "index_bytes": du(index_dir)}


def index_fts5(articles: list[Article], db_path: Path) -> dict:
    """FTS5 over ``fold``-ed text (unicode61 keeps đ), the date in an unindexed column."""
    db_path.unlink(missing_ok=True)
    started = time.perf_counter()
    with closing(sqlite3.connect(db_path)) as db:
        db.execute(
            "CREATE VIRTUAL TABLE docs USING fts5(title, lead, body, date UNINDEXED,"
            " tokenize = 'unicode61 remove_diacritics 2')"
        )
        db.executemany(
            "INSERT INTO docs VALUES (?, ?, ?, ?)",
            (
                (fold(a.title), fold(a.lead), fold(a.body), a.published.date().isoformat() if a.published else "")
                for a in articles
            ),
        )
        db.commit()
    return {"seconds": time.perf_counter() - started, "index_bytes": db_path.stat().st_size}


_segment = analyze.segment  # in segmentation_alone's processes, the segmenter being timed


def _load_segmenter(name: str) -> None:
    """Make ``name`` ("hnp-search" or "underthesea") the segmenter timed, its model loaded."""
    global _segment
    if name == "underthesea":
        from underthesea import word_tokenize as _segment
    else:
        _segment = analyze.segment
    _segment("Hà Nội")


def _segment_texts(fields: list[str]) -> float:
    """Segment ``fields``; the CPU seconds it took."""
    started = time.process_time()
    for text in fields:
        _segment(text)
    return time.process_time() - started


def segmentation_alone(sample: list[Article], jobs: int, segmenter: str) -> dict:
    """Segmentation of each field of ``sample`` by ``segmenter`` ("hnp-search": ``analyze.segment``;
    "underthesea": its ``word_tokenize``), model loaded before timing, in a fork Pool of ``jobs``
    (1 too): neither segmenter's model, package nor caches stay in this process, which searches later."""
    work = [texts(a) for a in sample]
    with multiprocessing.get_context("fork").Pool(jobs, initializer=_load_segmenter, initargs=(segmenter,)) as pool:
        pool.map(_segment_texts, [["Hà Nội"]] * 8 * jobs, chunksize=1)  # every worker initialized
        started = time.perf_counter()
        cpu = sum(pool.map(_segment_texts, work, chunksize=4))
        seconds = time.perf_counter() - started
    syllables = describe(sample)["syllables"]
    return {
        "segmenter": segmenter,
        "jobs": jobs,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "syllables": syllables,
        "syllables_per_s": syllables / seconds,
    }


def segmentation_share(sample: list[Article], workdir: Path) -> dict:
    """Index ``sample`` with ``jobs=1`` in a forked process (its caches stay out of this one),
    timing every call to ``analyze.segment``."""
    with multiprocessing.get_context("fork").Pool(1) as pool:
        return pool.apply(_segmentation_share, (sample, workdir))


def _segmentation_share(sample: list[Article], workdir: Path) -> dict:
    original, spent = analyze.segment, [0.0]

    def timed(text):
        started = time.perf_counter()
        try:
            return original(text)
        finally:
            spent[0] += time.perf_counter() - started

    analyze.segment = timed
    shutil.rmtree(workdir / "share", ignore_errors=True)
    with SearchEngine(workdir / "share") as engine:
        started = time.perf_counter()
        engine.index(sample, rebuild=True, jobs=1)
        seconds = time.perf_counter() - started
    return {"articles": len(sample), "seconds": seconds, "segment_seconds": spent[0], "share": spent[0] / seconds}


# -- searching ----------------------------------------------------------------


def fts5_sql(query: Query, snippets: bool) -> tuple[str, list[str]]:
    columns = "rowid, title"
    if snippets:  # hnp-search returns a title snippet and up to 3 body snippets of ≤ 200 characters
        columns += ", snippet(docs, 0, '[[', ']]', '…', 16), snippet(docs, 2, '[[', ']]', '…', 40)"
    where, params = "docs MATCH ?", [query.match]
    if query.date_from:
        where, params = where + " AND date BETWEEN ? AND ?", params + [query.date_from, query.date_to]
    return f"SELECT {columns} FROM docs WHERE {where} ORDER BY rank LIMIT {LIMIT}", params


def latencies(times: list[float], empty: int) -> dict:
    """The summary of one engine's milliseconds per query and how many found nothing."""
    return {**percentiles(times), "mean": statistics.fmean(times), "n": len(times), "no_hits": empty}


def searchers(engine: SearchEngine, db: sqlite3.Connection) -> dict:
    """engine -> variant -> search(query) -> number of hits; "snippets" first."""

    def hnp(highlight):
        return lambda q: len(engine.search(q.text, limit=LIMIT, highlight=highlight, **q.options()))

    def fts5(snippets):
        return lambda q: len(db.execute(*fts5_sql(q, snippets)).fetchall())

    return {
        "hnp-search": {"snippets": hnp(True), "plain": hnp(False)},
        "FTS5": {"snippets": fts5(True), "plain": fts5(False)},
    }


def search_all(engine: SearchEngine, db: sqlite3.Connection, queries: dict[str, list[Query]]) -> list[dict]:
    """Warm p50/p95/p99 per class, engine and variant, after one untimed pass per engine (with
    snippets). Each query is timed on every engine and variant in turn, so that all of them meet
    the same load: timed one engine after the other, minutes apart, two runs an hour apart of
    code that times the same in one process put phrases at 2.0× and 3.5× FTS5's p95."""
    engines = searchers(engine, db)
    for variants in engines.values():
        for batch in queries.values():
            for query in batch:
                variants["snippets"](query)
    rows = []
    for cls, batch in queries.items():
        times = {(name, variant): [] for name, variants in engines.items() for variant in variants}
        empty = dict.fromkeys(times, 0)
        for query in batch:
            for name, variants in engines.items():
                for variant, search in variants.items():
                    started = time.perf_counter()
                    found = search(query)
                    times[name, variant].append((time.perf_counter() - started) * 1e3)
                    empty[name, variant] += found == 0
        rows += [{"engine": n, "variant": v, "class": cls, **latencies(times[n, v], empty[n, v])} for n, v in times]
    return rows


def cold_start(script: str, args: list[str], env: dict[str, str]) -> dict:
    started = time.perf_counter()
    command = [sys.executable, "-c", script, *args]
    out = subprocess.run(command, capture_output=True, text=True, check=True, env=env).stdout
    return {"wall_ms": (time.perf_counter() - started) * 1e3, **json.loads(out)}


def cold_starts(index_dir: Path, db_path: Path, queries: list[Query], pycache: Path) -> list[dict]:
    """A fresh process opens the index and answers one query (with snippets), ``COLD_RUNS`` times
    after one untimed run; compiled bytecode is cached (in ``pycache``) as on a user's machine,
    whatever PYTHONDONTWRITEBYTECODE says here."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    rows = []
    for name, run in (
        ("hnp-search", lambda q: cold_start(COLD_HNP, [str(index_dir), q.text], env)),
        ("FTS5", lambda q: cold_start(COLD_FTS5, [str(db_path), q.match, fts5_sql(q, True)[0]], env)),
    ):
        runs = [run(q) for q in queries[: COLD_RUNS + 1]][1:]
        summary = {key: [r[key] for r in runs] for key in ("wall_ms", "import_ms", "inprocess_ms")}
        rows.append(
            {
                "engine": name,
                "runs": len(runs),
                **{
                    f"{key}_{stat}": fn(values)
                    for key, values in summary.items()
                    for stat, fn in (("median", statistics.median), ("max", max))
                },
            }
        )
    return rows


def profile(fn) -> str:
    """cProfile of ``fn()``: the ``PROFILE_ROWS`` functions with the most cumulative time, this script's left out."""
    profiler = cProfile.Profile()
    profiler.runcall(fn)
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("cumulative").print_stats(PROFILE_ROWS + 3)
    lines = [line for line in out.getvalue().splitlines() if line.strip() and "bench_speed.py" not in line]
    head = [line for line in lines if not line.strip()[:1].isdigit() or "function calls" in line]
    rows = [line for line in lines if line not in head]
    return "\n".join([head[0], *head[-1:], *rows[:PROFILE_ROWS]])


# -- report -------------------------------------------------------------------


def code_digest() -> str:
    """A fingerprint of hnp_search's source: others edit it while benchmarks run."""
    digest = hashlib.blake2b(digest_size=6)
    for path in sorted(SOURCE.rglob("*.py")):
        digest.update(str(path.relative_to(SOURCE)).encode() + path.read_bytes())
    return digest.hexdigest()


def machine() -> dict:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    meminfo = Path("/proc/meminfo").read_text()
    model = re.search(r"^model name\s*:\s*(.*)$", cpuinfo, re.MULTILINE)
    memory = re.search(r"^MemTotal:\s*(\d+) kB", meminfo, re.MULTILINE)
    return {
        "nproc": os.cpu_count(),
        "cpu": model.group(1) if model else platform.processor(),
        "ram_gb": round(int(memory.group(1)) / 2**20, 1) if memory else None,
        "python": platform.python_version(),
        "hnp_search": version("hnp-search"),
        "underthesea": version("underthesea"),
        "whoosh": version("whoosh-reloaded"),
        "sqlite": sqlite3.sqlite_version,
        "analyzer_version": analyze.ANALYZER_VERSION,
        "code": code_digest(),
        "date": datetime.now().isoformat(timespec="seconds"),
    }


def targets(result: dict) -> list[tuple[str, str, bool]]:
    """Issue 6 targets that this run can judge: (target, measured, met)."""
    out = []
    builds = {b["jobs"]: b for b in result.get("indexing", {}).get("hnp", [])}
    full = result["limit"] is None
    if 1 in builds and 2 in builds:
        speedup = builds[1]["seconds"] / builds[2]["seconds"]
        out.append(("`--jobs 2` ≥ 1.7× `--jobs 1`", f"{speedup:.2f}×", speedup >= 1.7))
    for row in result.get("segmentation", {}).get("end_to_end", []):
        percent = row.get("underthesea_percent", row["percent"])  # runs before hnp-search had its own tagger
        out.append(
            (
                f"jobs {row['jobs']}: end-to-end ≥ 80% of underthesea's segmentation alone",
                f"{percent:.0f}%",
                percent >= 80,
            )
        )
    if full and 2 in builds:
        limit_s = {"dantri": 60, "baomoi": 15 * 60}[result["corpus"]]
        out.append(
            (
                f"{result['corpus']} with 2 jobs ≤ {limit_s} s",
                f"{builds[2]['seconds']:.0f} s",
                builds[2]["seconds"] <= limit_s,
            )
        )
    for build in builds.values():
        rss = max(build["max_process_rss"], build["tree_rss_peak"])
        out.append(
            (f"jobs {build['jobs']}: peak RSS ≤ 1 GB (largest of process / tree sum)", f"{rss / MB:.0f} MB", rss <= 1e9)
        )
        ratio = build["index_bytes"] / result["corpus_stats"]["raw_bytes"]
        out.append((f"jobs {build['jobs']}: index ≤ 3× raw text", f"{ratio:.2f}×", ratio <= 3))
    rows = {(r["engine"], r["variant"], r["class"]): r for r in result.get("search", [])}
    if result["corpus"] == "dantri":
        for cls in result.get("classes", []):
            ratio = rows["hnp-search", "snippets", cls]["p95"] / rows["FTS5", "snippets", cls]["p95"]
            out.append((f"{cls}: p95 with snippets ≤ 3× FTS5", f"{ratio:.1f}×", ratio <= 3))
    if result["corpus"] == "baomoi":
        scale = "" if full else f" (on {result['corpus_stats']['articles']:,} articles, not 34,824)"
        for cls in result.get("classes", []):
            p95 = rows["hnp-search", "snippets", cls]["p95"]
            out.append((f"{cls}: p95 with snippets ≤ 100 ms{scale}", f"{p95:.0f} ms", p95 <= 100))
        if ("hnp-search", "snippets", "phrase") in rows:
            p99 = rows["hnp-search", "snippets", "phrase"]["p99"]
            out.append((f"phrase p99 ≤ 200 ms{scale}", f"{p99:.0f} ms", p99 <= 200))
    for row in result.get("cold", []):
        if row["engine"] == "hnp-search":
            out.append(
                (
                    "cold first query ≤ 1.5 s (slowest run, wall)",
                    f"{row['wall_ms_max'] / 1e3:.2f} s",
                    row["wall_ms_max"] <= 1500,
                )
            )
    return out


def fmt(value: float, digits: int = 1) -> str:
    return f"{value:,.{digits}f}"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    align = ["---" if i == 0 else "---:" for i in range(len(header))]
    return ["| " + " | ".join(r) + " |" for r in [header, align, *rows]]


def indexing_section(result: dict) -> list[str]:
    stats = result["corpus_stats"]
    indexing = result["indexing"]
    jobs1 = next((b for b in indexing["hnp"] if b["jobs"] == 1), None)
    rows = []
    for build in indexing["hnp"]:
        speedup = f"{jobs1['seconds'] / build['seconds']:.2f}×" if jobs1 else "–"
        rows.append(
            [
                "hnp-search",
                str(build["jobs"]),
                fmt(build["seconds"]),
                fmt(build["cpu_seconds"]),
                fmt(build["main_cpu_seconds"]) if build["main_cpu_seconds"] is not None else "?",
                fmt(stats["articles"] / build["seconds"]),
                fmt(stats["raw_bytes"] / MB / build["seconds"], 2),
                fmt(build["index_bytes"] / MB),
                fmt(build["index_bytes"] / stats["raw_bytes"], 2),
                fmt(build["max_process_rss"] / MB, 0),
                fmt(build["tree_rss_peak"] / MB, 0),
                speedup,
            ]
        )
    fts = indexing["fts5"]
    rows.append(
        [
            "FTS5",
            "1",
            fmt(fts["seconds"]),
            "–",
            "–",
            fmt(stats["articles"] / fts["seconds"]),
            fmt(stats["raw_bytes"] / MB / fts["seconds"], 2),
            fmt(fts["index_bytes"] / MB),
            fmt(fts["index_bytes"] / stats["raw_bytes"], 2),
            "–",
            "–",
            "–",
        ]
    )
    header = [
        "engine",
        "jobs",
        "wall s",
        "CPU s",
        "main process CPU s",
        "articles/s",
        "MB/s",
        "index MB",
        "× raw",
        "peak RSS MB (largest process)",
        "peak RSS MB (tree sum)",
        "speedup",
    ]
    notes = [
        "",
        (
            f"hnp-search: `hnp-search index FILE --jobs J --rebuild` as a subprocess; wall includes interpreter start, "
            "model load and reading the file. CPU: user + system of the whole process tree (`getrusage`); main "
            "process: "
            "the one that reads and writes (with J > 1 the analysis runs in J workers), from /proc, sampled every "
            "0.2 s. "
            f"Largest process: {indexing['hnp'][0]['rss_how']}. Tree sum: RSS of the "
            "process and all its descendants summed, sampled every 0.2 s from /proc (pages shared after fork counted "
            "once per process, so it overstates). FTS5: in this process, `fold`-ed title, lead and body inserted and "
            "committed, `unicode61 remove_diacritics 2`; its database stores the text too."
        ),
    ]
    return table(header, rows) + notes


def segmentation_section(result: dict) -> list[str]:
    seg = result["segmentation"]
    rows = [
        [
            str(r["jobs"]),
            fmt(r["underthesea_syllables_per_s"], 0) if "underthesea_syllables_per_s" in r else "–",
            fmt(r["alone_syllables_per_s"], 0),
            fmt(r["syllables_per_s"], 0),
            f"{r['underthesea_percent']:.0f}%" if "underthesea_percent" in r else "–",
            f"{r['percent']:.0f}%",
            f"{r['cpu_percent']:.0f}%",
        ]
        for r in seg["end_to_end"]
    ]
    share = seg["share"]
    header = [
        "jobs",
        "underthesea `word_tokenize` alone, syllables/s",
        "hnp-search segmentation alone, syllables/s",
        "end-to-end indexing, syllables/s",
        "end-to-end / underthesea alone",
        "end-to-end / hnp-search segmentation alone",
        "segmentation CPU / indexing CPU",
    ]
    return table(header, rows) + [
        "",
        (
            f"Segmentation alone: on each of title, lead, body of {seg['sample']} random articles "
            f"({seg['alone'][0]['syllables']:,} syllables = `\\w+` tokens), model loaded first, with J > 1 a fork "
            "Pool of J: "
            "underthesea's `word_tokenize` (its Rust featurizer and tagger), and "
            "`hnp_search.text.analyze.segment` (the same "
            "model and tags, scored by `hnp_search.text.segment.CRFTagger`). "
            f"End-to-end: the whole corpus's {result['corpus_stats']['syllables']:,} syllables / indexing wall time. "
            "Last column, less sensitive to other load: CPU seconds hnp-search's segmentation alone would need for the "
            "corpus (at the single-process rate) / CPU seconds of the whole indexing process tree."
        ),
        (
            f"Share of indexing time in segmentation: the same {share['articles']} articles indexed with `jobs=1` "
            "in a forked process, every "
            f"`analyze.segment` call timed: {fmt(share['segment_seconds'])} s of {fmt(share['seconds'])} s = "
            f"**{share['share'] * 100:.0f}%**."
        ),
    ]


def search_section(result: dict) -> list[str]:
    rows = {(r["engine"], r["variant"], r["class"]): r for r in result["search"]}
    out = []
    for variant, label in (
        ("snippets", "with snippets"),
        ("plain", "without snippets (`highlight=False`; FTS5 without `snippet()`)"),
    ):
        body = []
        for cls in result["classes"]:
            hnp, fts = rows["hnp-search", variant, cls], rows["FTS5", variant, cls]
            body.append(
                [
                    cls,
                    str(hnp["n"]),
                    *(fmt(hnp[p]) for p in ("p50", "p95", "p99")),
                    *(fmt(fts[p], 2) for p in ("p50", "p95", "p99")),
                    *(f"{hnp[p] / fts[p]:.1f}×" for p in ("p50", "p95", "p99")),
                    f"{hnp['no_hits']} / {fts['no_hits']}",
                ]
            )
        header = [
            "class",
            "n",
            "hnp p50",
            "hnp p95",
            "hnp p99",
            "FTS5 p50",
            "FTS5 p95",
            "FTS5 p99",
            "ratio p50",
            "ratio p95",
            "ratio p99",
            "no hits hnp / FTS5",
        ]
        out += [f"**Warm latency, ms, {label}**", "", *table(header, body), ""]
    cold = [
        [
            r["engine"],
            str(r["runs"]),
            fmt(r["wall_ms_median"], 0),
            fmt(r["wall_ms_max"], 0),
            fmt(r["import_ms_median"], 0),
            fmt(r["inprocess_ms_median"], 0),
            fmt(r["inprocess_ms_max"], 0),
        ]
        for r in result["cold"]
    ]
    out += [
        "**Cold: a fresh process opens the index and answers one words query with snippets, ms**",
        "",
        *table(
            ["engine", "runs", "wall median", "wall max", "import median", "import→result median", "import→result max"],
            cold,
        ),
        "",
    ]
    out += [
        (
            "Queries drawn with seed "
            f"{SEED} from the indexed articles: *words* = 2–3 consecutive words of a random article, lowercased; "
            "*phrase* = the "
            "same kind in quotes; *unaccented* = the *words* queries `fold`-ed; *date* = words with "
            "`date_from`/`date_to` "
            '= the article\'s date ± 15 days; *person* = `search("", person=name)` for names from `extract_persons`. '
            f"hnp-search: `SearchEngine(dir).search(q, limit={LIMIT})` in this process. FTS5: the same queries "
            "`fold`-ed, "
            "quoted tokens AND-ed (phrases quoted whole), `ORDER BY rank`, date by `BETWEEN` on an unindexed column, "
            "snippets = `snippet()` of title and body. Each query is timed on both engines, with and without snippets, "
            "in turn (so that they meet the same load), after one untimed pass over the same queries. "
            "Cold runs follow one untimed run, reuse the OS page cache (it is not dropped) and Python's compiled "
            "bytecode (as installed packages do, whatever PYTHONDONTWRITEBYTECODE says)."
        ),
    ]
    out += [f"- {note}" for note in result["notes"]]
    return out


def render(result: dict) -> str:
    stats, m = result["corpus_stats"], result["machine"]
    name = result["corpus"] + (f", first {result['limit']:,} articles" if result["limit"] else "")
    lines = [
        f"## {name}",
        "",
        (
            f"{stats['articles']:,} articles, {stats['raw_bytes'] / MB:.1f} MB of raw text (UTF-8 title + lead + "
            "body), "
            f"{stats['syllables']:,} syllables. Run {m['date']} on {m['nproc']} × {m['cpu']}, {m['ram_gb']} GB "
            "RAM, Python "
            f"{m['python']}, hnp-search {m['hnp_search']}, underthesea {m['underthesea']}, Whoosh-Reloaded "
            f"{m['whoosh']}, "
            f"SQLite {m['sqlite']}; analyzer version {m['analyzer_version']}, source digest {m['code']}. "
            f"Command: `{result['command']}`."
        ),
        "",
    ]
    if result.get("indexed_on"):
        lines += [
            f"Indexing figures below are from the run of {result['indexed_on']} (this one used `--skip-index`).",
            "",
        ]
    if result.get("indexing"):
        lines += ["### Indexing", "", *indexing_section(result), ""]
    if result.get("segmentation"):
        lines += ["### Segmentation", "", *segmentation_section(result), ""]
    lines += ["### Search", "", *search_section(result), ""]
    checks = [[label, value, "met" if met else "**not met**"] for label, value, met in targets(result)]
    lines += ["### Targets (issue 6)", "", *table(["target", "measured", "status"], checks), ""]
    phases = [
        [
            name,
            fmt(p["seconds"]),
            " / ".join(fmt(x, 2) for x in p["load_start"]),
            " / ".join(fmt(x, 2) for x in p["load_end"]),
        ]
        for name, p in result["phases"].items()
    ]
    lines += [
        "### Load during the run",
        "",
        *table(["phase", "seconds", "load avg 1/5/15 at start", "at end"], phases),
        "",
    ]
    for title, text in result.get("profiles", {}).items():
        lines += [f"### Profile: {title}", "", "```", text, "```", ""]
    return "\n".join(lines)


def save(result: dict) -> str:
    """Merge this run into ``speed.json`` and rewrite ``speed.md`` from every run in it; return this run's Markdown."""
    RESULTS.mkdir(exist_ok=True)
    store = RESULTS / "speed.json"
    runs = json.loads(store.read_text(encoding="utf-8")) if store.exists() else {}
    runs[result["run"]] = result
    store.write_text(json.dumps(runs, ensure_ascii=False, indent=1), encoding="utf-8")
    sections = [render(runs[key]) for key in sorted(runs, key=lambda k: (list(CORPORA).index(runs[k]["corpus"]), k))]
    header = (
        "# Speed: hnp-search beside SQLite FTS5\n\n"
        "Written by `python bench/bench_speed.py` (see bench/README.md); one section per run.\n"
    )
    (RESULTS / "speed.md").write_text("\n".join([header, *sections]), encoding="utf-8")
    return render(result)


# -- main -----------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", choices=sorted(CORPORA), default="dantri")
    parser.add_argument("--limit", type=int, metavar="N", help="only the first N articles (quick runs)")
    parser.add_argument("--jobs", default="1,2", help="comma-separated --jobs values to index with (default 1,2)")
    parser.add_argument("--queries", type=int, default=300, metavar="N", help="queries per class (default 300)")
    parser.add_argument("--workdir", type=Path, help="where indexes go (default: a folder in the temp dir, kept)")
    parser.add_argument(
        "--skip-index",
        action="store_true",
        help="reuse the indexes in --workdir; indexing figures come from its last full run",
    )
    parser.add_argument("--no-profile", action="store_true", help="skip the cProfile summaries")
    return parser.parse_args()


def index_phases(args, articles, stats, source, workdir, phases) -> tuple[dict, dict]:
    """Index with every ``--jobs`` value and FTS5; segmentation alone and its share of indexing time."""
    jobs = sorted({int(j) for j in args.jobs.split(",")})
    builds = []
    for j in jobs:
        with phase(phases, f"index hnp-search --jobs {j}"):
            builds.append(index_hnp(source, workdir / "hnp", j, workdir))
        print(f"hnp-search --jobs {j}: {builds[-1]['seconds']:.1f} s; {builds[-1]['output']}", flush=True)
    with phase(phases, "index FTS5"):
        fts = index_fts5(articles, workdir / "fts5.db")
    sample = random.Random(SEED).sample(articles, min(SEGMENT_SAMPLE, len(articles)))
    alone, theirs = {}, {}
    for j in sorted({1, *jobs}):
        with phase(phases, f"segmentation alone, jobs {j} ({len(sample)} articles)"):
            alone[j] = segmentation_alone(sample, j, "hnp-search")
            theirs[j] = segmentation_alone(sample, j, "underthesea")
    with phase(phases, f"segmentation share ({len(sample)} articles, jobs=1, forked)"):
        share = segmentation_share(sample, workdir)
    cpu_per_syllable = alone[1]["cpu_seconds"] / alone[1]["syllables"]
    end_to_end = []
    for build in builds:
        rate, seg, reference = stats["syllables"] / build["seconds"], alone[build["jobs"]], theirs[build["jobs"]]
        end_to_end.append(
            {
                "jobs": build["jobs"],
                "syllables_per_s": rate,
                "alone_syllables_per_s": seg["syllables_per_s"],
                "percent": 100 * rate / seg["syllables_per_s"],
                "underthesea_syllables_per_s": reference["syllables_per_s"],
                "underthesea_percent": 100 * rate / reference["syllables_per_s"],
                "cpu_percent": 100 * stats["syllables"] * cpu_per_syllable / build["cpu_seconds"],
            }
        )
    alone = list(alone.values()) + list(theirs.values())
    segmentation = {"sample": len(sample), "alone": alone, "share": share, "end_to_end": end_to_end}
    return {"hnp": builds, "fts5": fts}, segmentation


def earlier_indexing(run_key: str) -> dict:
    """The indexing figures of this run's last full invocation in ``speed.json``, marked as such."""
    store = RESULTS / "speed.json"
    earlier = json.loads(store.read_text(encoding="utf-8")).get(run_key, {}) if store.exists() else {}
    if not earlier.get("indexing"):
        return {}
    return {
        "indexing": earlier["indexing"],
        "segmentation": earlier["segmentation"],
        "indexed_on": earlier.get("indexed_on") or earlier["machine"]["date"],
    }


def main() -> int:
    args = parse_args()
    if not CORPORA[args.corpus].exists():
        print(f"skipped: {CORPORA[args.corpus]} not found")
        return 0
    run_key = args.corpus + (f"-{args.limit}" if args.limit else "")
    workdir = args.workdir or Path(tempfile.gettempdir()) / f"hnp-bench-speed-{run_key}"
    workdir.mkdir(parents=True, exist_ok=True)
    phases: dict = {}
    source = corpus_file(args.corpus, args.limit, workdir)
    articles = list(read_articles(source, on_error=lambda e: None))
    stats = describe(articles)
    print(
        f"{run_key}: {stats['articles']:,} articles, {stats['raw_bytes'] / MB:.1f} MB, {stats['syllables']:,} "
        "syllables",
        flush=True,
    )
    result = {
        "run": run_key,
        "corpus": args.corpus,
        "limit": args.limit,
        "machine": machine(),
        "corpus_stats": stats,
        "command": "python bench/bench_speed.py " + " ".join(sys.argv[1:]),
        "phases": phases,
    }
    if args.skip_index:
        if not (workdir / "hnp").is_dir() or not (workdir / "fts5.db").exists():
            raise SystemExit(f"--skip-index: no index in {workdir}")
        result.update(earlier_indexing(run_key))
    else:
        result["indexing"], result["segmentation"] = index_phases(args, articles, stats, source, workdir, phases)

    rng = random.Random(SEED)
    queries, notes = draw_queries(articles, args.queries, rng)
    with SearchEngine(workdir / "hnp", create=False) as engine, closing(sqlite3.connect(workdir / "fts5.db")) as db:
        with phase(phases, "draw person queries"):
            persons, note = person_queries(engine, articles, args.queries, rng)
        if persons:
            queries["person"] = persons
        notes += [note] if note else []
        with phase(phases, "warm search, both engines"):
            result["search"] = search_all(engine, db, queries)
        if not args.no_profile:
            words = queries["words"][:PROFILE_QUERIES]
            result["profiles"] = {
                f"{len(words)} words queries with snippets (warm), top {PROFILE_ROWS} by cumulative time": profile(
                    lambda: [engine.search(q.text, limit=LIMIT) for q in words]
                ),
            }
    with phase(phases, "cold starts"):
        result["cold"] = cold_starts(workdir / "hnp", workdir / "fts5.db", queries["words"], workdir / "pycache")
    if not args.no_profile and not args.skip_index:
        sample = random.Random(SEED).sample(articles, min(PROFILE_ARTICLES, len(articles)))
        shutil.rmtree(workdir / "profile", ignore_errors=True)
        with SearchEngine(workdir / "profile") as engine:
            result["profiles"][
                f"indexing {len(sample)} articles in-process, jobs=1, top {PROFILE_ROWS} by cumulative time"
            ] = profile(lambda: engine.index(sample, rebuild=True, jobs=1))
        shutil.rmtree(workdir / "profile", ignore_errors=True)
    result["classes"] = list(queries)
    result["queries"] = {cls: [asdict(q) for q in batch] for cls, batch in queries.items()}
    if code_digest() != result["machine"]["code"]:
        notes.append(
            f"hnp_search's source changed during this run (digest {result['machine']['code']} → {code_digest()})"
        )
    result["notes"] = notes
    print(save(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
