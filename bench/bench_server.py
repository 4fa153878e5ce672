"""Load on `hnp-search serve`: closed-loop HTTP clients on loopback → throughput, latency, errors, CPU and RSS.

For 1 and 2 workers, and while `hnp-search index` commits new articles:

    python bench/bench_server.py --index-dir DIR [--seconds 20] [--clients 1,4,16] [--workers 1,2] [--indexing]

Each client sends the bench queries (bench/queries/*.jsonl for the index's corpus, as people typed
them) one after another as `GET /search?q=…&limit=10` with snippets, starting at its own place in
the list. Also times the same queries in this process through `SearchEngine.search`, one thread,
as the peer that shows what the HTTP layer costs. Writes bench/results/server-load.{md,json}.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
QUERIES = ROOT / "bench" / "queries"
RESULTS = ROOT / "bench" / "results"
SHARED = Path(os.environ.get("HNP_SEARCH_SHARED") or ROOT.parent / "shared")
if not SHARED.is_dir():
    SHARED = Path("/work/shared")
CLIENT_TIMEOUT = 10.0


def bench_queries(corpus: str) -> list[str]:
    queries = []
    for name in ("typed.jsonl", "known_items.jsonl"):
        for line in (QUERIES / name).read_text(encoding="utf-8").splitlines():
            record = json.loads(line)
            if record.get("corpus", corpus) == corpus:
                queries.append(record["query"])
    return queries


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tree(pid: int) -> list[int]:
    """A process and its descendants."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        todo += children.get(p, [])
    return found


def tree_rss(pid: int) -> int:
    """Resident memory of a process and its descendants, in bytes."""
    total = 0
    for p in tree(pid):
        try:
            status = Path(f"/proc/{p}/status").read_text()
        except OSError:
            continue
        found = re.search(r"VmRSS:\s+(\d+) kB", status)
        total += int(found.group(1)) * 1024 if found else 0
    return total


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by a process and its descendants."""
    ticks = 0
    for p in tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


class Server:
    def __init__(self, index_dir: Path, workers: int, log: Path, threads: int = 4):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(log, "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hnp_search", "serve", "--index-dir", str(index_dir), "--port", str(self.port),
             "--workers", str(workers), "--threads", str(threads)], stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            raise SystemExit(f"the server did not come up; see {log}")
        if workers > 1:  # each worker opens the engine on its first request
            for _ in range(8 * workers):
                httpx.get(self.url + "/health", timeout=30)

    def rss(self) -> int:
        return tree_rss(self.process.pid)

    def cpu(self) -> float:
        return tree_cpu(self.process.pid)

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


class RssSampler(threading.Thread):
    def __init__(self, server: Server, every: float = 1.0):
        super().__init__(daemon=True)
        self.server, self.every, self.samples = server, every, []
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.wait(self.every):
            self.samples.append(self.server.rss())

    def stop(self) -> list[int]:
        self.stopped.set()
        self.join()
        return self.samples


async def load(url: str, queries: list[str], clients: int, seconds: float, limit: int = 10) -> dict:
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    timeouts = 0
    errors_seen: list[str] = []
    deadline = time.perf_counter() + seconds

    async def client(n: int, http: httpx.AsyncClient):
        nonlocal timeouts
        i = n * len(queries) // clients
        while time.perf_counter() < deadline:
            q = queries[i % len(queries)]
            i += 1
            began = time.perf_counter()
            try:
                response = await http.get("/search", params={"q": q, "limit": limit})
                code = str(response.status_code)
                if response.status_code != 200 and len(errors_seen) < 5:
                    errors_seen.append(f"{code} {q!r}: {response.text[:200]}")
            except httpx.TimeoutException:
                timeouts += 1
                code = "timeout"
            except httpx.HTTPError as exc:
                code = type(exc).__name__
                if len(errors_seen) < 5:
                    errors_seen.append(f"{code} {q!r}: {exc}")
            latencies.append(time.perf_counter() - began)
            statuses[code] = statuses.get(code, 0) + 1

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    began = time.perf_counter()
    async with httpx.AsyncClient(base_url=url, timeout=CLIENT_TIMEOUT, limits=limits) as http:
        await asyncio.gather(*(client(n, http) for n in range(clients)))
    elapsed = time.perf_counter() - began
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(int(p / 100 * len(latencies)), len(latencies) - 1)] * 1000 if latencies else 0.0

    ok = statuses.get("200", 0)
    return {
        "clients": clients, "seconds": round(elapsed, 1), "requests": len(latencies), "ok": ok,
        "errors": len(latencies) - ok - timeouts, "timeouts": timeouts, "statuses": statuses,
        "throughput": round(ok / elapsed, 1), "p50_ms": round(pct(50), 1), "p95_ms": round(pct(95), 1),
        "p99_ms": round(pct(99), 1), "max_ms": round(latencies[-1] * 1000, 1) if latencies else 0.0,
        "error_samples": errors_seen,
    }


def in_process(index_dir: Path, queries: list[str], seconds: float) -> dict:
    """The same searches through SearchEngine in this process, one thread: the HTTP layer's peer."""
    from hnp_search import SearchEngine

    with SearchEngine(index_dir) as engine:
        for q in queries[:20]:
            engine.search(q, limit=10)
        times, deadline, i = [], time.perf_counter() + seconds, 0
        while time.perf_counter() < deadline:
            began = time.perf_counter()
            engine.search(queries[i % len(queries)], limit=10)
            times.append(time.perf_counter() - began)
            i += 1
    times.sort()
    return {"searches": len(times), "throughput": round(len(times) / sum(times), 1),
            "p50_ms": round(times[len(times) // 2] * 1000, 1), "p99_ms": round(times[int(0.99 * len(times))] * 1000, 1)}


def new_articles(count: int, batches: int, folder: Path) -> list[tuple[Path, list[str]]]:
    """``batches`` JSONL files of ``count`` articles each, from the baomoi corpus (absent from dantri)."""
    out, taken = [], []
    with gzip.open(SHARED / "corpora" / "baomoi.jsonl.gz", "rt", encoding="utf-8") as lines:
        for line in lines:
            taken.append(line)
            if len(taken) == count * batches:
                break
    for b in range(batches):
        chunk = taken[b * count:(b + 1) * count]
        path = folder / f"batch-{b}.jsonl"
        path.write_text("".join(chunk), encoding="utf-8")
        out.append((path, [json.loads(line)["id"] for line in chunk]))
    return out


def latest_generation(index_dir: Path) -> int:
    return max((int(m.group(1)) for f in os.listdir(index_dir) if (m := re.match(r"_MAIN_(\d+)\.toc$", f))), default=-1)


def indexing_run(index_dir: Path, queries: list[str], clients: int, seconds: float, batches: int, per_batch: int,
                 log: Path) -> dict:
    """Load while `hnp-search index` adds ``batches`` batches of articles, one commit each; for
    each commit, how long until the server returns its articles."""
    folder = Path(tempfile.mkdtemp(prefix="hnp-bench-new-"))
    work = folder / "index"
    shutil.copytree(index_dir, work)
    sources = new_articles(per_batch, batches, folder)
    server = Server(work, 1, log)
    visible: list[dict] = []

    def indexer():
        # Times are the file system's (the commit's TOC file, the lexicon file) and the wall
        # clock when the server first returned the article: this thread shares the GIL with the
        # load clients, so its own sleeps may overrun, which only makes "visible" later.
        time.sleep(2)
        with httpx.Client(base_url=server.url, timeout=CLIENT_TIMEOUT) as http:
            for path, ids in sources:
                before = latest_generation(work)
                command = [sys.executable, "-m", "hnp_search", "index", str(path), "--index-dir", str(work),
                           "--jobs", "1"]
                job = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                while latest_generation(work) == before and job.poll() is None:
                    time.sleep(0.005)
                generation = latest_generation(work)
                committed = (work / f"_MAIN_{generation}.toc").stat().st_mtime
                probe = ids[-1]
                while http.get(f"/articles/{probe}").status_code != 200:
                    if time.time() - committed > 30:
                        break
                    time.sleep(0.01)
                seen = time.time()
                hit = http.get("/search", params={"q": json.loads(path.read_text().splitlines()[-1])["title"]}).json()
                job.wait()
                lexicon = (work / "lexicon.pickle").stat().st_mtime
                visible.append({"articles": len(ids), "generation": generation,
                                "visible_after_commit_ms": round((seen - committed) * 1000),
                                "lexicon_saved_after_commit_ms": round((lexicon - committed) * 1000),
                                "visible_after_lexicon_ms": round((seen - lexicon) * 1000), "exit": job.returncode,
                                "found_by_title": probe in [h["id"] for h in hit["hits"]]})
                time.sleep(1)

    sampler = RssSampler(server)
    sampler.start()
    thread = threading.Thread(target=indexer)
    thread.start()
    try:
        result = asyncio.run(load(server.url, queries, clients, seconds))
        thread.join()
    finally:
        samples = sampler.stop()
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
    result["rss_mb"] = [round(s / 2**20) for s in samples[:: max(len(samples) // 10, 1)]]
    result["commits"] = visible
    return result


def table(rows: list[dict]) -> str:
    head = ("| workers | threads | clients | s | requests | req/s | p50 ms | p95 ms | p99 ms | max ms | errors "
            "| timeouts | server CPU (cores) | CPU ms / request | RSS start → end MB |")
    lines = [head, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        lines.append(f"| {r['workers']} | {r['threads']} | {r['clients']} | {r['seconds']} | {r['requests']:,} | "
                     f"{r['throughput']} | {r['p50_ms']} | {r['p95_ms']} | {r['p99_ms']} | {r['max_ms']} | "
                     f"{r['errors']} | {r['timeouts']} | {r['server_cpu_cores']} | {r['cpu_ms_per_request']} | "
                     f"{r['rss_start_mb']} → {r['rss_end_mb']} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index-dir", type=Path, required=True, help="an index of --corpus, built by this version")
    parser.add_argument("--corpus", default="dantri", help="whose bench queries to send (default dantri)")
    parser.add_argument("--seconds", type=float, default=20, help="per run (default 20; the issue's figure is 60)")
    parser.add_argument("--clients", default="1,4,16")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--threads", default="4", help="search threads per worker, e.g. 1,4 (default 4)")
    parser.add_argument("--indexing", action="store_true", help="also a run while `hnp-search index` commits")
    parser.add_argument("--indexing-only", action="store_true", help="only that run")
    parser.add_argument("--indexing-batches", type=int, default=4)
    parser.add_argument("--indexing-articles", type=int, default=50, help="articles per commit")
    parser.add_argument("--out", default="server-load", help="bench/results/OUT.md and .json")
    args = parser.parse_args(argv)

    queries = bench_queries(args.corpus)
    clients = [int(c) for c in args.clients.split(",")]
    workers = [int(w) for w in args.workers.split(",")]
    threads = [int(t) for t in args.threads.split(",")]
    RESULTS.mkdir(parents=True, exist_ok=True)
    logs = Path(tempfile.mkdtemp(prefix="hnp-bench-logs-"))
    print(f"{len(queries)} {args.corpus} queries; {args.seconds:g} s per run; logs in {logs}", file=sys.stderr)

    peer = in_process(args.index_dir, queries, min(args.seconds, 15))
    print(f"in process, one thread: {peer}", file=sys.stderr)
    rows = []
    for w, t in [] if args.indexing_only else [(w, t) for w in workers for t in threads]:
        server = Server(args.index_dir, w, logs / f"server-{w}-{t}.log", threads=t)
        try:
            asyncio.run(load(server.url, queries, 4, 3))  # warm-up: caches, lexicon, every worker
            for c in clients:
                start, cpu = server.rss(), server.cpu()
                sampler = RssSampler(server)
                sampler.start()
                row = asyncio.run(load(server.url, queries, c, args.seconds))
                samples = sampler.stop()
                cpu = server.cpu() - cpu
                row.update(workers=w, threads=t, server_cpu_cores=round(cpu / row["seconds"], 2),
                           cpu_ms_per_request=round(1000 * cpu / max(row["requests"], 1), 1),
                           rss_start_mb=round(start / 2**20), rss_end_mb=round(server.rss() / 2**20),
                           rss_peak_mb=round(max(samples, default=start) / 2**20))
                rows.append(row)
                print(json.dumps(row, ensure_ascii=False), file=sys.stderr)
        finally:
            server.stop()

    indexing = None
    if args.indexing or args.indexing_only:
        indexing = indexing_run(args.index_dir, queries, 4, args.seconds, args.indexing_batches,
                                args.indexing_articles, logs / "server-indexing.log")
        print(json.dumps(indexing, ensure_ascii=False), file=sys.stderr)

    scale = {}
    for c in clients:
        by_workers = {r["workers"]: r["throughput"] for r in rows if r["clients"] == c and r["threads"] == threads[0]}
        if 1 in by_workers and 2 in by_workers and by_workers[1]:
            scale[c] = round(by_workers[2] / by_workers[1], 2)
    report = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_avg_at_end": os.getloadavg()},
        "index_dir": str(args.index_dir), "queries": len(queries), "seconds": args.seconds,
        "in_process": peer, "runs": rows, "workers_2_over_1": scale, "indexing": indexing,
    }
    (RESULTS / f"{args.out}.json").write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    load_now = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    md = [f"# `hnp-search serve` under load ({args.corpus}, {len(queries)} bench queries, limit 10, snippets)", "",
          (f"{os.cpu_count()} CPUs shared with other jobs (load average at the end: {load_now}); {args.seconds:g} s "
           "per run; closed-loop asyncio/httpx clients on loopback in one process beside the server."), "",
          *([table(rows), ""] if rows else []),
          (f"In process, one thread, no HTTP (`SearchEngine.search`): {peer['throughput']} searches/s, "
           f"p50 {peer['p50_ms']} ms, p99 {peer['p99_ms']} ms."),
          *(["", "2 workers / 1 worker throughput: " + ", ".join(f"{c} clients {s}×" for c, s in scale.items())]
            if scale else [])]
    if indexing:
        md += ["", (f"While `hnp-search index` committed {len(indexing['commits'])} batches of "
                    f"{args.indexing_articles} baomoi articles (1 worker, {indexing['clients']} clients): "
                    f"{indexing['throughput']} req/s, p50 {indexing['p50_ms']} ms, p99 {indexing['p99_ms']} ms, "
                    f"{indexing['errors']} errors, {indexing['timeouts']} timeouts; "
                    f"RSS (MB) {indexing['rss_mb']}."), "",
               ("| commit | articles | lexicon saved after commit (ms) | visible after commit (ms) | "
                "visible after lexicon saved (ms) | found by its title |"), "|---:|---:|---:|---:|---:|---|"]
        md += [f"| {i} | {c['articles']} | {c['lexicon_saved_after_commit_ms']} | {c['visible_after_commit_ms']} | "
               f"{c['visible_after_lexicon_ms']} | {c['found_by_title']} |"
               for i, c in enumerate(indexing["commits"], 1)]
    (RESULTS / f"{args.out}.md").write_text("\n".join(md) + "\n", encoding="utf-8")
    print("\n".join(md))


if __name__ == "__main__":
    main()
