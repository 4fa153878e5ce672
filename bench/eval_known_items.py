"""Known-item retrieval on dantri-unc: hnp-search beside SQLite FTS5 on queries written from reading articles."""

from __future__ import annotations

import os
import argparse
import gzip
import json
import re
import sqlite3
import statistics
import sys
import tempfile
import time
import unicodedata
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from hnp_search import IndexNotFoundError, IndexVersionError, QuerySyntaxError, SearchEngine
from hnp_search.text.normalize import fold, has_diacritics

SHARED = Path(os.environ.get("HNP_SEARCH_SHARED") or Path(__file__).resolve().parents[2] / "shared")  # the shared data
CORPUS = SHARED / "corpora" / "dantri-unc.jsonl.gz"
QUERIES = Path(__file__).with_name("known_items.jsonl")

K = 10
KINDS = ("words", "unaccented", "phrase", "date", "mixed")
METHODS = ("hnp-search", "FTS5")
WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Query:
    qid: str
    text: str
    relevant: frozenset[str]
    kind: str
    note: str


@dataclass(frozen=True)
class Doc:
    id: str
    date: str  # YYYY-MM-DD, "" when unknown
    title: str
    body: str


@dataclass
class Run:
    """One method over every query: the top-K ids per query, timings and query errors."""

    method: str
    ranked: list[list[str]]
    latencies_ms: list[float]
    errors: dict[str, str]


# -- data -------------------------------------------------------------------


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def load_docs() -> list[Doc]:
    with gzip.open(CORPUS, "rt", encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines if line.strip()]
    return [Doc(r["id"], r.get("date") or "", nfc(r["title"]), nfc(r["body"])) for r in rows]


def load_queries() -> list[Query]:
    with QUERIES.open(encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines if line.strip()]
    return [Query(r["qid"], nfc(r["query"]), frozenset(r["relevant"]), r["kind"], r.get("note", "")) for r in rows]


# -- hnp-search -------------------------------------------------------------


@contextmanager
def hnp_search(index_dir: Path, reuse: bool, jobs: int):
    """Index the corpus file through the public API (or reuse an index), yield search(query)."""
    engine = None
    if reuse:
        try:
            engine = SearchEngine(index_dir, create=False)
            if len(engine) == 0:  # raises IndexVersionError for another analyzer's index
                engine.close()
                engine = None
        except (IndexNotFoundError, IndexVersionError):  # nothing usable there: build it
            engine = None
        if engine is not None:
            print(f"hnp-search: reusing {len(engine)} articles in {index_dir}", flush=True)
    if engine is None:
        engine = SearchEngine(index_dir)
        start = time.perf_counter()
        summary = engine.index([CORPUS], jobs=jobs, rebuild=True)
        print(f"hnp-search: indexed {len(engine)} articles in {time.perf_counter() - start:.1f} s "
              f"({len(summary.errors)} errors)", flush=True)
    with engine:
        yield lambda query: [hit.id for hit in engine.search(query, limit=K, highlight=False)]


# -- SQLite FTS5 ------------------------------------------------------------

_ISO = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?$")
_DMY = re.compile(r"^(?:(\d{1,2})/)?(\d{1,2})/(\d{4})$")
_TOKEN = re.compile(r'"([^"]*)"|(\S+)')


def day_span(text: str) -> tuple[date, date]:
    """[start, end) of the year, month or day ``text`` names: 2021, 2021-04, 2021-04-07, 07/04/2021, 04/2021."""
    if m := _ISO.match(text):
        year, month, day = int(m[1]), m[2] and int(m[2]), m[3] and int(m[3])
    elif m := _DMY.match(text):
        day, month, year = m[1] and int(m[1]), int(m[2]), int(m[3])
    else:
        raise ValueError(f"not a date: {text!r}")
    if not month:
        return date(year, 1, 1), date(year + 1, 1, 1)
    if not day:
        return date(year, month, 1), date(year + month // 12, month % 12 + 1, 1)
    start = date(year, month, day)
    return start, start + timedelta(days=1)


def date_range(value: str) -> tuple[str | None, str | None]:
    """A ``date:`` value as ISO bounds [start, end): the forms known_items.jsonl uses."""
    for op in (">=", "<=", ">", "<"):
        if value.startswith(op):
            start, end = day_span(value[len(op):])
            return {">=": (start, None), ">": (end, None), "<=": (None, end), "<": (None, start)}[op]
    if ".." in value:
        left, right = value.split("..", 1)
        return (day_span(left)[0] if left else None), (day_span(right)[1] if right else None)
    return day_span(value)


def fts5_parts(query: str) -> tuple[list[str], list[str], list[tuple]]:
    """Split our query syntax into FTS5 terms: quoted phrases, bare words, and date bounds.

    Phrases stay phrases, ``date:`` becomes a condition on the date column, every other
    token contributes its words; all folded, as the documents are.
    """
    phrases, words, dates = [], [], []
    for m in _TOKEN.finditer(query):
        if m[1] is not None:
            tokens = WORD.findall(fold(m[1]))
            if tokens:
                phrases.append('"' + " ".join(tokens) + '"')
        elif m[2].startswith("date:"):
            start, end = date_range(m[2][len("date:"):])
            dates.append((start.isoformat() if start else None, end.isoformat() if end else None))
        else:
            words.extend(f'"{token}"' for token in WORD.findall(fold(m[2])))
    return phrases, words, dates


@contextmanager
def sqlite_fts5(docs: list[Doc]):
    """FTS5 BM25 over folded title and body (unicode61 keeps đ, so both sides are ``fold``-ed).

    Terms are AND-ed; when that finds fewer than K rows, the OR of the same terms fills
    the rest of the list (after the AND rows), so a long query still returns something.
    """
    with closing(sqlite3.connect(":memory:")) as db:
        db.execute(
            "CREATE VIRTUAL TABLE docs USING fts5("
            "id UNINDEXED, date UNINDEXED, title, body, tokenize='unicode61 remove_diacritics 2')"
        )
        db.executemany(
            "INSERT INTO docs VALUES (?, ?, ?, ?)", [(d.id, d.date, fold(d.title), fold(d.body)) for d in docs]
        )

        def select(match: str, where: str, params: list) -> list[str]:
            sql = f"SELECT id FROM docs WHERE docs MATCH ? {where} ORDER BY rank LIMIT ?"
            return [row[0] for row in db.execute(sql, (match, *params, K))]

        def search(query: str) -> list[str]:
            phrases, words, dates = fts5_parts(query)
            where, params = "", []
            for start, end in dates:
                if start:
                    where, params = where + " AND date >= ?", [*params, start]
                if end:
                    where, params = where + " AND date < ?", [*params, end]
            terms = phrases + words
            if not terms:  # a date filter alone: newest first
                sql = f"SELECT id FROM docs WHERE 1 {where} ORDER BY date DESC LIMIT ?"
                return [row[0] for row in db.execute(sql, (*params, K))]
            ids = select(" AND ".join(terms), where, params)
            if len(ids) < K and len(terms) > 1:
                ids += [i for i in select(" OR ".join(terms), where, params) if i not in ids]
            return ids[:K]

        yield search


# -- running and scoring ----------------------------------------------------


def run(method: str, search, queries: list[Query]) -> Run:
    ranked, latencies, errors = [], [], {}
    for q in queries:
        start = time.perf_counter()
        try:
            ids = search(q.text)
        except QuerySyntaxError as error:
            ids, errors[q.qid] = [], str(error)
        latencies.append((time.perf_counter() - start) * 1000)
        ranked.append(ids)
    return Run(method, ranked, latencies, errors)


def first_relevant(ids: list[str], relevant: frozenset[str]) -> int | None:
    """1-based rank of the first relevant id, or None."""
    return next((rank for rank, id_ in enumerate(ids, 1) if id_ in relevant), None)


def recall(ids: list[str], relevant: frozenset[str], k: int) -> float:
    """Relevant ids in the top k over the most that fit there, min(k, |relevant|).

    Most queries have one relevant article; for those with near-duplicates, R@1 is 1
    when any of them is first.
    """
    return len(relevant.intersection(ids[:k])) / min(k, len(relevant))


def scores(r: Run, queries: list[Query], keep) -> dict:
    pairs = [(ids, q) for ids, q in zip(r.ranked, queries) if keep(q)]
    ranks = [first_relevant(ids, q.relevant) for ids, q in pairs]
    return {
        "n": len(pairs),
        "mrr@10": statistics.mean(1 / rank if rank else 0.0 for rank in ranks),
        "r@1": statistics.mean(recall(ids, q.relevant, 1) for ids, q in pairs),
        "r@10": statistics.mean(recall(ids, q.relevant, K) for ids, q in pairs),
    }


def groups() -> dict[str, object]:
    """Rows of the table: all queries, each kind, and by whether the query has diacritics."""
    rows = {"all": lambda q: True}
    rows.update({f"kind={kind}": (lambda q, kind=kind: q.kind == kind) for kind in KINDS})
    rows["typed without diacritics"] = lambda q: not has_diacritics(q.text)
    rows["typed with diacritics"] = lambda q: has_diacritics(q.text)
    return rows


def summarize(runs: list[Run], queries: list[Query]) -> dict:
    table = {
        name: {r.method: scores(r, queries, keep) for r in runs}
        for name, keep in groups().items()
        if any(keep(q) for q in queries)
    }
    per_query = []
    for i, q in enumerate(queries):
        row = {"qid": q.qid, "kind": q.kind, "query": q.text, "relevant": sorted(q.relevant)}
        for r in runs:
            row[r.method] = {"rank": first_relevant(r.ranked[i], q.relevant), "top": r.ranked[i][:K]}
            if q.qid in r.errors:
                row[r.method]["error"] = r.errors[q.qid]
        per_query.append(row)
    timing = {
        r.method: {"mean_ms": statistics.mean(r.latencies_ms), "median_ms": statistics.median(r.latencies_ms)}
        for r in runs
    }
    return {"table": table, "timing": timing, "errors": {r.method: r.errors for r in runs}, "queries": per_query}


# -- reporting --------------------------------------------------------------


def markdown_table(summary: dict) -> str:
    head = ["queries", "n"] + [f"{m} {metric}" for m in METHODS for metric in ("MRR@10", "R@1", "R@10")]
    lines = ["| " + " | ".join(head) + " |", "|---|---:|" + "---:|" * (len(head) - 2)]
    for name, by_method in summary["table"].items():
        cells = [name, str(next(iter(by_method.values()))["n"])]
        for m in METHODS:
            s = by_method[m]
            cells += [f"{s['mrr@10']:.3f}", f"{s['r@1']:.3f}", f"{s['r@10']:.3f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def print_misses(summary: dict, titles: dict[str, str]):
    misses = [row for row in summary["queries"] if row["hnp-search"]["rank"] != 1]
    print(f"\nhnp-search: {len(misses)} of {len(summary['queries'])} queries without a relevant article first")
    for row in misses:
        hnp, fts = row["hnp-search"], row["FTS5"]
        rank = hnp["rank"] or f">{K}"
        first = hnp["top"][0] if hnp["top"] else None
        shown = f"{first}: {titles[first][:80]}" if first else "nothing"
        error = f" (query error: {hnp['error']})" if "error" in hnp else ""
        print(f"- {row['qid']} [{row['kind']}] {row['query']}{error}")
        print(f"  wanted {', '.join(row['relevant'])} at rank {rank} (FTS5: {fts['rank'] or f'>{K}'}); first {shown}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--index-dir", type=Path, metavar="DIR",
                        help="build the hnp-search index here (default: a temporary directory)")
    parser.add_argument("--reuse", action="store_true",
                        help="use the index already in --index-dir instead of rebuilding it")
    parser.add_argument("--jobs", type=int, default=2, help="hnp-search analysis processes (default 2)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="save figures and per-query ranks")
    parser.add_argument("--no-misses", action="store_true", help="do not list the queries hnp-search misses")
    args = parser.parse_args()
    if args.reuse and args.index_dir is None:
        parser.error("--reuse needs --index-dir")
    return args


def main() -> int:
    args = parse_args()
    if not CORPUS.exists():
        print(f"skipped: {CORPUS} not found (../shared is absent)")
        return 0
    docs = load_docs()
    queries = load_queries()
    plain = sum(not has_diacritics(q.text) for q in queries)
    print(f"{len(docs)} articles, {len(queries)} queries ({plain} typed without diacritics)")
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        index_dir = args.index_dir or Path(tmp) / "hnp-search"
        with hnp_search(index_dir, args.reuse, args.jobs) as search:
            search(queries[0].text)  # warm-up, untimed: loads the segmenter
            runs.append(run("hnp-search", search, queries))
        start = time.perf_counter()
        with sqlite_fts5(docs) as search:
            print(f"FTS5: indexed in {time.perf_counter() - start:.1f} s", flush=True)
            runs.append(run("FTS5", search, queries))
    summary = summarize(runs, queries)
    errors = {method: sorted(e) for method, e in summary["errors"].items() if e}
    print(f"query errors (counted as misses): {errors or 'none'}")
    print(", ".join(f"{m}: mean {t['mean_ms']:.1f} ms, median {t['median_ms']:.1f} ms per query"
                    for m, t in summary["timing"].items()))
    print()
    print(markdown_table(summary))
    if not args.no_misses:
        print_misses(summary, {d.id: d.title for d in docs})
    if args.json:
        args.json.write_text(json.dumps(summary, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
