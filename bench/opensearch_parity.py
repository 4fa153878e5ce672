"""OpenSearch backend vs the embedded index: top-10 overlap, MRR@10 and all-words totals on the bench query sets."""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_speed  # noqa: E402  (the drawn query classes and their seed)
import eval_xquad  # noqa: E402  (XQuAD-vi passages and questions)

from hnp_search import IndexVersionError, SearchEngine, read_articles  # noqa: E402
from hnp_search.opensearch import OpenSearchEngine  # noqa: E402
from hnp_search.text.normalize import fold  # noqa: E402

K = 10
RESULTS = HERE / "results"
TARGETS = {"overlap": 0.9, "mrr_gap": 0.01}


def queries_of(path: Path, corpus: str) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in rows if r.get("corpus", corpus) == corpus]


def reciprocal_rank(ids: list[str], relevant: set[str]) -> float:
    return next((1 / rank for rank, d in enumerate(ids, 1) if d in relevant), 0.0)


def compare(name: str, local: SearchEngine, remote: OpenSearchEngine, queries: list[dict]) -> dict:
    """Each query (text, options, relevant ids or None) on both backends in turn."""
    overlaps, rr_local, rr_remote, ms_local, ms_remote = [], [], [], [], []
    totals_equal = all_words_equal = 0
    differing = []
    for q in queries:
        started = time.perf_counter()
        mine = local.search(q["text"], limit=K, **q.get("options", {}))
        ms_local.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        theirs = remote.search(q["text"], limit=K, **q.get("options", {}))
        ms_remote.append((time.perf_counter() - started) * 1000)
        a, b = [h.id for h in mine], [h.id for h in theirs]
        overlaps.append(len(set(a) & set(b)) / len(a) if a else float(not b))
        totals_equal += mine.total == theirs.total
        all_words_equal += mine.total_all_words == theirs.total_all_words
        if mine.total_all_words != theirs.total_all_words or overlaps[-1] < 0.7:
            differing.append(
                {
                    "query": q["text"],
                    "whoosh": [mine.total, mine.total_all_words, a[:5]],
                    "opensearch": [theirs.total, theirs.total_all_words, b[:5]],
                }
            )
        if q.get("relevant"):
            rr_local.append(reciprocal_rank(a, set(q["relevant"])))
            rr_remote.append(reciprocal_rank(b, set(q["relevant"])))
    n = len(queries)
    row = {
        "set": name,
        "queries": n,
        "overlap": statistics.fmean(overlaps),
        "identical_top10": sum(o == 1.0 for o in overlaps),
        "all_words_totals_equal": all_words_equal,
        "totals_equal": totals_equal,
        "ms_whoosh_p50": statistics.median(ms_local),
        "ms_opensearch_p50": statistics.median(ms_remote),
        "differing": differing[:10],
    }
    if rr_local:
        row.update(mrr_whoosh=statistics.fmean(rr_local), mrr_opensearch=statistics.fmean(rr_remote))
    print(
        f"{name}: {n} queries, overlap {row['overlap']:.3f}, all-words totals equal {all_words_equal}/{n}"
        + (f", MRR {row['mrr_whoosh']:.3f} / {row['mrr_opensearch']:.3f}" if rr_local else ""),
        flush=True,
    )
    return row


def fill(remote: OpenSearchEngine, sources: list, jobs: int) -> None:
    """Index ``sources`` (unchanged articles are skipped), rebuilding an index of an older mapping."""
    try:
        remote.index(sources, jobs=jobs)
    except IndexVersionError:
        remote.index(sources, jobs=jobs, rebuild=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:9200")
    parser.add_argument(
        "--work", type=Path, default=Path("/tmp/hnp-os-bench"), help="embedded indexes (reused when there)"
    )
    parser.add_argument(
        "--whoosh-dir", type=Path, default=None, help="the embedded dantri index (default WORK/whoosh-dantri)"
    )
    parser.add_argument("--os-index", default="bench-dantri-1", help="the OpenSearch dantri index")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--drawn", type=int, default=75, help="drawn queries per class (4 classes)")
    parser.add_argument("--xquad", type=int, default=None, help="XQuAD-vi questions (default all)")
    args = parser.parse_args()

    corpus = bench_speed.CORPORA["dantri"] if hasattr(bench_speed, "CORPORA") else None
    corpus = corpus or (eval_xquad.SHARED / "corpora" / "dantri-unc.jsonl.gz")
    rows = []
    started = time.perf_counter()
    local = SearchEngine(args.whoosh_dir or args.work / "whoosh-dantri")
    local.index([corpus], jobs=args.jobs)
    remote = OpenSearchEngine(args.url, index=args.os_index)
    fill(remote, [corpus], args.jobs)
    print(f"dantri on both: {len(local)} / {len(remote)} articles ({time.perf_counter() - started:.0f} s)", flush=True)

    articles = list(read_articles(corpus))
    drawn, _ = bench_speed.draw_queries(articles, args.drawn, random.Random(bench_speed.SEED))
    for cls, qs in drawn.items():
        rows.append(compare(f"drawn {cls}", local, remote, [{"text": q.text, "options": q.options()} for q in qs]))
    typed = queries_of(HERE / "queries" / "typed.jsonl", "dantri")
    rows.append(
        compare("typed (as typed)", local, remote, [{"text": q["query"], "relevant": q["relevant"]} for q in typed])
    )
    known = queries_of(HERE / "queries" / "known_items.jsonl", "dantri")
    rows.append(
        compare("known items dantri", local, remote, [{"text": q["query"], "relevant": q["relevant"]} for q in known])
    )

    passages = eval_xquad.load_passages()
    xlocal = SearchEngine(args.work / "whoosh-xquad")
    xlocal.index(passages, jobs=args.jobs)
    xremote = OpenSearchEngine(args.url, index="bench-xquad")
    fill(xremote, passages, args.jobs)
    questions = eval_xquad.load_questions(args.xquad)
    for form in ("accented", "unaccented"):
        qs = [
            {"text": q.text if form == "accented" else fold(q.text), "relevant": sorted(q.relevant)} for q in questions
        ]
        rows.append(compare(f"XQuAD-vi {form}", xlocal, xremote, qs))

    n = sum(r["queries"] for r in rows)
    overall = {
        "queries": n,
        "overlap": sum(r["overlap"] * r["queries"] for r in rows) / n,
        "all_words_totals_equal": sum(r["all_words_totals_equal"] for r in rows),
        "mrr_gaps": {r["set"]: r["mrr_opensearch"] - r["mrr_whoosh"] for r in rows if "mrr_whoosh" in r},
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "opensearch_parity.json").write_text(
        json.dumps({"rows": rows, "overall": overall}, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    lines = [
        "# OpenSearch backend vs the embedded index: parity",
        "",
        (
            f"Every query as typed, `search(q, limit={K})` on both backends in turn (one process; OpenSearch 2.19.6 "
            "dev node(s) on this machine, 1 shard). Overlap = share of the embedded index's top 10 also in "
            "OpenSearch's; all-words totals = `Results.total_all_words` equal. Targets: overlap >= "
            f"{TARGETS['overlap']}, MRR@10 within {TARGETS['mrr_gap']}, all-words totals equal. Drawn classes: "
            "`bench_speed.draw_queries` with its seed. Latencies are of a shared machine, see the scale bench."
        ),
        "",
        (
            "| set | queries | top-10 overlap | identical top 10 | all-words totals equal | totals equal "
            "| MRR@10 Whoosh | MRR@10 OpenSearch | p50 ms Whoosh | p50 ms OpenSearch |"
        ),
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        mrr = f"{r['mrr_whoosh']:.3f} | {r['mrr_opensearch']:.3f}" if "mrr_whoosh" in r else "– | –"
        lines.append(
            f"| {r['set']} | {r['queries']} | {r['overlap']:.3f} | {r['identical_top10']} | "
            f"{r['all_words_totals_equal']} | {r['totals_equal']} | {mrr} | {r['ms_whoosh_p50']:.1f} | "
            f"{r['ms_opensearch_p50']:.1f} |"
        )
    lines += [
        "",
        f"Overall: {n} queries, mean top-10 overlap {overall['overlap']:.3f}, all-words totals equal on "
        f"{overall['all_words_totals_equal']}/{n}; MRR@10 gaps (OpenSearch - Whoosh): "
        + ", ".join(f"{k} {v:+.3f}" for k, v in overall["mrr_gaps"].items())
        + ".",
    ]
    (RESULTS / "opensearch_parity.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
