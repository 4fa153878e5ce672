"""Results (issue 20): totals, facets and pages against brute force; their cost; related articles' speed and quality.

    python bench/bench_results.py                                  # dantri, indexed into a temporary folder
    python bench/bench_results.py --dantri-index DIR --baomoi-index DIR --out bench/results/results

Correctness (dantri, 200 bench queries as typed): ``Results.total`` equals the number of hits one
page of every match holds and the number ``Retriever.matching`` finds; ``total_all_words`` the hits
flagged ``all_words``; every facet count equals a count over the stored articles of every hit, read
one by one; pages of 10 concatenated equal one page of 200.

Speed (same process, each query's variants timed in turn after one untimed pass): a page of 10
as ``engine.search`` built it before totals (the best 10, phrases checked lazily, no total) beside
``engine.search`` with its exact total, and with the total and three facets (category, month,
person). ``similar`` on 100 articles drawn with a fixed seed.

Related-article quality (dantri): 50 articles drawn with a fixed seed among those with a same-story
partner, partners found by near-duplicate text (sharing 20 or more 8-syllable runs that at most 3
articles hold); a hit when ``similar`` ranks a partner (sharing 10 or more) in its top 5.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import re
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

from hnp_search import SearchEngine
from hnp_search.highlight import Matcher
from hnp_search.persons import person_key
from hnp_search.query.parse import All, parse_with_filters
from hnp_search.results import FACETS
from hnp_search.text.normalize import fold

HERE = Path(__file__).resolve().parent
_NEAREST = next((p / "shared" for p in HERE.parents if (p / "shared" / "corpora").is_dir()), HERE.parents[1] / "shared")
SHARED = Path(os.environ.get("HNP_SEARCH_SHARED") or _NEAREST)
CORPORA = {"dantri": SHARED / "corpora" / "dantri-unc.jsonl.gz", "baomoi": SHARED / "corpora" / "baomoi.jsonl.gz"}
SPEED_FACETS = ("category", "month", "person")
SEED = 20


def bench_queries(corpus: str, n: int | None = None) -> list[str]:
    """The bench's queries for ``corpus``, as typed: its known-item queries, then typed ones (dantri stories)."""
    known = [json.loads(line) for line in (HERE / "queries" / "known_items.jsonl").open(encoding="utf-8")]
    typed = [json.loads(line) for line in (HERE / "queries" / "typed.jsonl").open(encoding="utf-8")]
    out = [q["query"] for q in known if q["corpus"] == corpus] + [q["query"] for q in typed]
    return out[:n] if n else out


# -- correctness ----------------------------------------------------------------


def brute_facets(hits) -> dict[str, Counter]:
    """Facet counts over every hit, from the stored articles one by one."""
    counts: dict[str, Counter] = {name: Counter() for name in FACETS}
    for hit in hits:
        article = hit.article
        if article.category:
            counts["category"][article.category] += 1
        if article.source:
            counts["source"][article.source] += 1
        if article.published:
            counts["year"][article.published.strftime("%Y")] += 1
            counts["month"][article.published.strftime("%Y-%m")] += 1
        for key in dict.fromkeys(person_key(p) for p in hit.persons):
            counts["person"][key] += 1
    return counts


def facets_agree(name: str, listed: list[tuple[str, int]], brute: Counter) -> bool:
    """Whether the engine's counts for one facet are the brute-force ones: every value listed has
    its exact count, and the values listed are the most frequent (all of them for dates)."""
    if name == "person":
        listed = [(person_key(v), c) for v, c in listed]
    if any(brute[v] != c for v, c in listed):
        return False
    if name in ("year", "month"):
        return listed == sorted(brute.items())
    return sorted((c for _, c in listed), reverse=True) == sorted(brute.values(), reverse=True)[: len(listed)]


def correctness(engine: SearchEngine, queries: list[str]) -> dict:
    failures: dict[str, list[str]] = defaultdict(list)
    totals = []
    for query in queries:
        results = engine.search(query, limit=10, facets=FACETS, highlight=False)
        every = engine.search(query, limit=max(results.total, 1), highlight=False)
        totals.append(results.total)
        searcher = engine._search_with()
        tree, filters, _ = parse_with_filters(query)
        matching = engine._retriever(searcher).matching(tree, filters)
        if not (len(every) == results.total == len(matching) == every.total):
            failures["total"].append(query)
        if sum(h.all_words for h in every) != results.total_all_words:
            failures["total_all_words"].append(query)
        brute = brute_facets(every)
        for name in FACETS:
            if not facets_agree(name, results.facets[name], brute[name]):
                failures[f"facet {name}"].append(query)
        pages = [h.id for offset in range(0, 200, 10)
                 for h in engine.search(query, offset=offset, limit=10, highlight=False)]  # fmt: skip
        if pages != [h.id for h in engine.search(query, limit=200, highlight=False)]:
            failures["pages"].append(query)
    return {
        "queries": len(queries),
        "checks": ["total", "total_all_words", *(f"facet {n}" for n in FACETS), "pages"],
        "failures": dict(failures),
        "exact": not failures,
        "total_median": statistics.median(totals),
        "total_max": max(totals),
    }


# -- speed ------------------------------------------------------------------------


def page_before_totals(engine: SearchEngine, query: str):
    """A page of 10 as ``engine.search`` made it before totals: the best 10 (phrases checked
    lazily, partial matches only to fill the page), highlighted; no total, no facets."""
    from hnp_search.persons import person_key as key_of

    searcher = engine._search_with()
    tree, filters, wanted = parse_with_filters(query)
    ranked = engine._retriever(searcher).search(tree, filters, 10)
    matcher = Matcher.from_tree(All((*([tree] if tree else []), *wanted)))
    keys = {key_of(p.name) for p in wanted}
    return [engine._hit(searcher, d, s, matcher, keys) for d, s in ranked]


def percentiles(times: list[float]) -> dict:
    ordered = sorted(times)
    at = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    out = {f"p{round(q * 100)}_ms": round(at(q) * 1000, 2) for q in (0.5, 0.95, 0.99)}
    return {**out, "mean_ms": round(statistics.fmean(ordered) * 1000, 2)}


def speed(engine: SearchEngine, queries: list[str], rounds: int = 2) -> dict:
    variants = {
        "page of 10, no total (before)": lambda q: page_before_totals(engine, q),
        "search with total": lambda q: engine.search(q, limit=10),
        "search with total + 3 facets": lambda q: engine.search(q, limit=10, facets=SPEED_FACETS),
    }
    for query in queries:  # untimed: caches warm for every variant alike
        for run in variants.values():
            run(query)
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for query in queries:
            for name, run in variants.items():
                start = time.perf_counter()
                run(query)
                times[name].append(time.perf_counter() - start)
    out = {name: percentiles(t) for name, t in times.items()}
    base = out["page of 10, no total (before)"]["p95_ms"]
    for name in out:
        out[name]["p95_vs_before"] = round(out[name]["p95_ms"] / base, 2)
    return {"queries": len(queries), "rounds": rounds, "variants": out}


def similar_speed(engine: SearchEngine, n: int = 100) -> dict:
    ids = sorted(t.decode("utf-8") for t in engine.reader().reader.lexicon("id"))
    sample = random.Random(SEED).sample(ids, min(n, len(ids)))
    for article_id in sample[:5]:
        engine.similar(article_id)
    times = []
    for article_id in sample:
        start = time.perf_counter()
        engine.similar(article_id, limit=10)
        times.append(time.perf_counter() - start)
    return {"articles": len(sample), **percentiles(times)}


# -- related-article quality ------------------------------------------------------------


_WORD = re.compile(r"\w+")


def same_story_partners(path: Path, run: int = 8, rare: int = 3) -> dict[str, Counter]:
    """Per article, the articles sharing runs of ``run`` folded syllables with it that at
    most ``rare`` articles hold, and how many."""
    runs = {}
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            article = json.loads(line)
            tokens = [fold(t.lower()) for t in _WORD.findall(f"{article['title']} {article['body']}")]
            runs[article["id"]] = {" ".join(tokens[i : i + run]) for i in range(len(tokens) - run + 1)}
    holders: dict[str, list[str]] = defaultdict(list)
    for article_id, found in runs.items():
        for r in found:
            holders[r].append(article_id)
    shared: dict[str, Counter] = defaultdict(Counter)
    for ids in holders.values():
        if 2 <= len(ids) <= rare:
            for a in ids:
                for b in ids:
                    if a != b:
                        shared[a][b] += 1
    return shared


def related_quality(engine: SearchEngine, path: Path, n: int = 50, strong: int = 20, partner: int = 10) -> dict:
    shared = same_story_partners(path)
    candidates = sorted(a for a, counts in shared.items() if counts and max(counts.values()) >= strong)
    chosen = random.Random(SEED).sample(candidates, min(n, len(candidates)))
    found, misses = 0, []
    for article_id in chosen:
        partners = {b for b, c in shared[article_id].items() if c >= partner}
        top = [h.id for h in engine.similar(article_id, limit=5)]
        if partners & set(top):
            found += 1
        else:
            misses.append({"id": article_id, "partners": sorted(partners), "top5": top})
    return {"articles": len(chosen), "with_partner_in_top5": found, "share": round(found / max(len(chosen), 1), 3),
            "candidates": len(candidates), "misses": misses}  # fmt: skip


# -- report -------------------------------------------------------------------------------


def report(result: dict) -> str:
    lines = ["# Results benchmark (issue 20)", "", f"Run {result['when']} on {result['machine']}.", ""]
    c = result["correctness"]
    failures = json.dumps(c["failures"], ensure_ascii=False) if c["failures"] else "none"
    lines += ["## Correctness against brute force (dantri)", "",
              f"{c['queries']} bench queries as typed; checks: {', '.join(c['checks'])}.",
              (f"Exact: **{'yes' if c['exact'] else 'no'}** (failures: {failures}); "
               f"totals per query: median {c['total_median']:,}, max {c['total_max']:,}."), ""]  # fmt: skip
    for corpus, s in result["speed"].items():
        lines += [f"## Search speed, {corpus} ({s['queries']} queries × {s['rounds']} rounds, same process)", "",
                  "| variant | p50 ms | p95 ms | p99 ms | mean ms | p95 / before |",
                  "|---|---:|---:|---:|---:|---:|"]  # fmt: skip
        for name, v in s["variants"].items():
            cells = [v[k] for k in ("p50_ms", "p95_ms", "p99_ms", "mean_ms", "p95_vs_before")]
            lines.append(f"| {name} | " + " | ".join(map(str, cells)) + " |")
        lines.append("")
    lines += ["## similar()", "", "| corpus | articles | p50 ms | p95 ms | p99 ms |", "|---|---:|---:|---:|---:|"]
    for corpus, s in result["similar"].items():
        lines.append(f"| {corpus} | {s['articles']} | {s['p50_ms']} | {s['p95_ms']} | {s['p99_ms']} |")
    q = result["quality"]
    lines += ["", "## Related-article quality (dantri)", "",
              (f"{q['articles']} articles (of {q['candidates']} with a same-story partner by near-duplicate text): "
               f"a partner in `similar`'s top 5 for {q['with_partner_in_top5']} ({q['share']:.0%})."), ""]  # fmt: skip
    lines += ["## Targets", ""]
    for name, ok in result["targets"].items():
        lines.append(f"- {'OK  ' if ok else 'MISS'} {name}")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dantri-index", type=Path, help="a dantri index of this version (default: build one)")
    parser.add_argument("--baomoi-index", type=Path, help="a baomoi index of this version (default: skip baomoi)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, help="write OUT.json and OUT.md")
    args = parser.parse_args()
    if not CORPORA["dantri"].exists():
        print(f"skipped: ../shared not found ({SHARED})")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        dantri_dir = args.dantri_index
        if dantri_dir is None:
            dantri_dir = Path(tmp) / "dantri"
            SearchEngine(dantri_dir).index([CORPORA["dantri"]], jobs=args.jobs)
        import platform

        result: dict = {"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
                        "speed": {}, "similar": {}}  # fmt: skip
        with SearchEngine(dantri_dir, create=False) as engine:
            queries = bench_queries("dantri", 200)
            print(f"correctness: {len(queries)} queries …", file=sys.stderr)
            result["correctness"] = correctness(engine, queries)
            print("speed: dantri …", file=sys.stderr)
            result["speed"]["dantri"] = speed(engine, queries)
            result["similar"]["dantri"] = similar_speed(engine)
            print("related-article quality …", file=sys.stderr)
            result["quality"] = related_quality(engine, CORPORA["dantri"])
        if args.baomoi_index:
            with SearchEngine(args.baomoi_index, create=False) as engine:
                print("speed: baomoi …", file=sys.stderr)
                result["speed"]["baomoi"] = speed(engine, bench_queries("baomoi"))
                result["similar"]["baomoi"] = similar_speed(engine)
    targets = {"totals, all-word totals, facet counts and pages exact on 200 queries": result["correctness"]["exact"]}
    for corpus, s in result["speed"].items():
        ratio = s["variants"]["search with total + 3 facets"]["p95_vs_before"]
        targets[f"{corpus}: search with total + 3 facets p95 ≤ 1.3× before ({ratio}×)"] = ratio <= 1.3
    if "baomoi" in result["similar"]:
        p95 = result["similar"]["baomoi"]["p95_ms"]
        targets[f"baomoi: similar p95 ≤ 100 ms ({p95} ms)"] = p95 <= 100
    share = result["quality"]["share"]
    targets[f"dantri: a same-story partner in similar's top 5 for ≥ 80% ({share:.0%})"] = share >= 0.8
    result["targets"] = targets
    text = report(result)
    print(text)
    if args.out:
        out = json.dumps(result, ensure_ascii=False, indent=1) + "\n"
        args.out.with_suffix(".json").write_text(out, encoding="utf-8")
        args.out.with_suffix(".md").write_text(text, encoding="utf-8")
    return 0 if all(targets.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
