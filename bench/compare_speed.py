"""Two or more versions of hnp_search timed on the same bench queries, query by query in turn, in one process.

On a shared machine whose speed drifts by 20–30% over minutes, separate runs cannot tell a 10%
change from noise; timing each query on every version back to back can. Each version is a
source tree (``src`` of a git worktree) and an index it built (versions may need their own):

    git worktree add /tmp/before HEAD~1
    python bench/compare_speed.py --corpus dantri /tmp/before/src@/tmp/ix-before src@/tmp/ix-after

Reports per query class, per version: p50 / p95 / p99 and the sum over the queries of each query's
fastest time (ms, with snippets unless --no-snippets), and how many queries got different hits:
different ids, or different scores, compared unrounded (the same index gives the same docnums).
``--known-items`` adds the queries of bench/known_items.jsonl as a class of their own.
"""

from __future__ import annotations

import argparse
import importlib
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import bench_speed  # the corpora, the seed and the query drawing

from hnp_search import read_articles


def load_version(number: int, src: Path, packages: Path):
    """``src``/hnp_search imported as the package ``hnp_v<number>``."""
    name = f"hnp_v{number}"
    target = packages / name
    shutil.copytree(src / "hnp_search", target)
    for module in target.rglob("*.py"):
        text = module.read_text(encoding="utf-8")
        # Absolute imports would load the installed package; the codec error handler is global.
        text = text.replace("from hnp_search.", "from .").replace('"hnp_search.fold_ascii"', f'"{name}.fold_ascii"')
        module.write_text(text, encoding="utf-8")
    return importlib.import_module(name)


def exact_hits(engine, q) -> list[tuple[int, float]]:
    """The (docnum, unrounded score) pairs a search ranks: what ``Hit.score`` rounds."""
    parse = getattr(engine, "_filters", None)  # versions before query.parse.parse_with_filters
    if parse is None:
        parse = sys.modules[type(engine).__module__.rsplit(".", 1)[0] + ".query.parse"].parse_with_filters
    tree, filters, _ = parse(q.text, **q.options())
    page = engine._retriever(engine._search_with()).page(tree, filters, 0, 10)
    return [(docnum, score) for docnum, score, _ in page.ranked]


def percentile(values: list[float], share: float) -> float:
    return sorted(values)[min(len(values) - 1, int(len(values) * share))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "versions", nargs="+", metavar="SRC@INDEX", help="a source tree and the index to search with it"
    )
    parser.add_argument("--corpus", choices=sorted(bench_speed.CORPORA), default="dantri")
    parser.add_argument(
        "--classes", default="words,phrase", help="comma-separated query classes (default words,phrase)"
    )
    parser.add_argument("--queries", type=int, default=300, metavar="N", help="queries per class (default 300)")
    parser.add_argument("--reps", type=int, default=3, help="timed passes; each query's fastest counts (default 3)")
    parser.add_argument("--no-snippets", action="store_true", help="search with highlight=False")
    parser.add_argument("--known-items", action="store_true", help="also compare bench/known_items.jsonl's queries")
    args = parser.parse_args()
    if not bench_speed.CORPORA[args.corpus].exists():
        print(f"skipped: {bench_speed.CORPORA[args.corpus]} not found")
        return 0
    articles = list(read_articles(bench_speed.CORPORA[args.corpus], on_error=lambda e: None))
    queries, _ = bench_speed.draw_queries(articles, args.queries, random.Random(bench_speed.SEED))
    classes = args.classes.split(",")
    if args.known_items:
        import eval_known_items

        queries["known-items"] = [bench_speed.Query(q.text, "known-items") for q in eval_known_items.load_queries()]
        classes.append("known-items")
    highlight = not args.no_snippets
    with tempfile.TemporaryDirectory() as packages:
        sys.path.insert(0, packages)
        engines = []
        for number, version in enumerate(args.versions):
            src, _, index = version.partition("@")
            module = load_version(number, Path(src), Path(packages))
            try:
                engines.append(module.SearchEngine(index, create=False))
            except module.HnpSearchError as exc:
                print(f"{version}: {exc}", file=sys.stderr)
                return 2
        for cls in classes:
            batch = queries.get(cls, [])
            if not batch:
                print(f"{cls}: no queries")
                continue
            differ = 0
            for q in batch:  # the untimed pass
                hits = [[h.id for h in e.search(q.text, limit=10, highlight=highlight, **q.options())] for e in engines]
                exact = [exact_hits(e, q) for e in engines]
                differ += any(h != hits[0] for h in hits) or any(x != exact[0] for x in exact)
            fastest = [[float("inf")] * len(batch) for _ in engines]
            for _ in range(args.reps):
                for k, q in enumerate(batch):
                    for v, engine in enumerate(engines):
                        started = time.perf_counter()
                        engine.search(q.text, limit=10, highlight=highlight, **q.options())
                        fastest[v][k] = min(fastest[v][k], (time.perf_counter() - started) * 1e3)
            print(f"{cls}: {len(batch)} queries, {differ} with different hits")
            for version, times in zip(args.versions, fastest):
                print(
                    f"  {version}: p50 {percentile(times, 0.5):.2f}  p95 {percentile(times, 0.95):.2f}  "
                    f"p99 {percentile(times, 0.99):.2f}  sum {sum(times):.0f} ms"
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
