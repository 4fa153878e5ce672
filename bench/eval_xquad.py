"""Retrieval quality on XQuAD-vi: hnp-search beside SQLite FTS5, stock Whoosh and a bigram BM25.

Questions are asked with and without diacritics.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sqlite3
import statistics
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass
from pathlib import Path

from whoosh.analysis import CharsetFilter, StandardAnalyzer
from whoosh.fields import ID, TEXT, Schema
from whoosh.index import create_in
from whoosh.query import Or, Term
from whoosh.scoring import BM25F
from whoosh.support.charset import accent_map

from hnp_search import Article, SearchEngine
from hnp_search.text.normalize import fold

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bigram_bm25 import BigramBM25  # the reference shared with eval_queries.py

SHARED = Path(os.environ.get("HNP_SEARCH_SHARED") or next(  # the shared data, beside the checkout or a worktree's
    (p / "shared" for p in Path(__file__).resolve().parents if (p / "shared" / "eval").is_dir()), "/work/shared"))
PASSAGES = SHARED / "eval" / "xquad-vi-passages.jsonl"
QUESTIONS = SHARED / "eval" / "xquad-vi-queries.jsonl"
EXPECTED = Path(__file__).with_name("expected_xquad.json")

K = 10
FORMS = ("accented", "unaccented")
WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Question:
    qid: str
    text: str
    relevant: frozenset[str]


@dataclass
class Run:
    """One method over every question in one form: the top-K ids per question and timings."""

    method: str
    form: str
    ranked: list[list[str]]
    latencies_ms: list[float]
    errors: Counter  # exception type name -> how many questions raised it


# -- data -------------------------------------------------------------------


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def load_passages() -> list[Article]:
    # Titles are English Wikipedia page names ("Super_Bowl_50"): spaces make them words for every method.
    return [
        Article(id=row["id"], title=nfc(row["title"].replace("_", " ")), body=nfc(row["body"]))
        for row in read_jsonl(PASSAGES)
    ]


def load_questions(limit: int | None) -> list[Question]:
    rows = read_jsonl(QUESTIONS)[:limit]
    return [Question(row["qid"], nfc(row["query"]), frozenset(row["relevant"])) for row in rows]


def in_form(text: str, form: str) -> str:
    return text if form == "accented" else fold(text)


# -- methods: each a context manager yielding search(question) -> top-K ids ---


@contextmanager
def hnp_search(passages: list[Article], path: Path, jobs: int, reuse: bool):
    """Index the passages into ``path`` (or, with ``reuse``, open what an earlier run built there)."""
    if reuse and path.is_dir() and any(path.iterdir()):
        engine = SearchEngine(path, create=False)
        if len(engine) != len(passages):
            engine.close()
            raise SystemExit(f"hnp-search: {path} holds {len(engine)} articles, not the {len(passages)} passages; "
                             "name another --index-dir or run without --reuse")
        print(f"hnp-search: reusing {len(engine)} passages in {path}", flush=True)
    else:
        engine = SearchEngine(path)
        engine.index(passages, jobs=jobs, rebuild=True)
    with engine:
        yield lambda question: [hit.id for hit in engine.search(question, limit=K)]


@contextmanager
def sqlite_fts5(passages: list[Article], folded: bool):
    """FTS5 BM25 over title and body; queries are an OR of quoted tokens.

    unicode61 removes diacritics but keeps đ, so ``folded`` feeds it ``fold``-ed text
    on both sides, as hnp-search matches "dang" to "đảng".
    """
    prepare = fold if folded else str
    with closing(sqlite3.connect(":memory:")) as db:
        db.execute(
            "CREATE VIRTUAL TABLE passages USING fts5("
            "id UNINDEXED, title, body, tokenize='unicode61 remove_diacritics 2')"
        )
        db.executemany(
            "INSERT INTO passages VALUES (?, ?, ?)",
            [(p.id, prepare(p.title), prepare(p.body)) for p in passages],
        )

        def search(question: str) -> list[str]:
            match = " OR ".join(f'"{token}"' for token in WORD.findall(prepare(question)))
            if not match:
                return []
            sql = "SELECT id FROM passages WHERE passages MATCH ? ORDER BY rank LIMIT ?"
            return [row[0] for row in db.execute(sql, (match, K))]

        yield search


@contextmanager
def stock_whoosh(passages: list[Article], workdir: Path):
    """Whoosh without segmentation: StandardAnalyzer, accents folded, BM25F, OR of all terms."""
    analyzer = StandardAnalyzer(stoplist=None) | CharsetFilter(accent_map)
    fields = ("title", "body")
    schema = Schema(id=ID(stored=True), **{name: TEXT(analyzer=analyzer) for name in fields})
    path = workdir / "whoosh"
    path.mkdir()
    ix = create_in(str(path), schema)
    with ix.writer() as writer:
        for p in passages:
            writer.add_document(id=p.id, title=p.title, body=p.body)
    with ix.searcher(weighting=BM25F()) as searcher:

        def search(question: str) -> list[str]:
            terms = sorted({token.text for token in analyzer(question)})
            query = Or([Term(name, term) for name in fields for term in terms])
            return [hit["id"] for hit in searcher.search(query, limit=K)]

        yield search


@contextmanager
def bigram_bm25(passages: list[Article]):
    """The plain BM25 over folded syllables and adjacent pairs that eval_queries.py also runs."""
    model = BigramBM25(passages)
    yield lambda question: model.search(question, K)


# -- running and scoring ------------------------------------------------------


def run(method: str, search, questions: list[Question], form: str) -> Run:
    ranked, latencies, errors = [], [], Counter()
    for question in questions:
        text = in_form(question.text, form)
        start = time.perf_counter()
        try:
            ids = search(text)
        except Exception as error:  # noqa: BLE001 - the question as written raised: a miss, counted
            ids = []
            errors[type(error).__name__] += 1
        latencies.append((time.perf_counter() - start) * 1000)
        ranked.append(ids)
    return Run(method, form, ranked, latencies, errors)


def first_relevant(ids: list[str], relevant: frozenset[str]) -> int | None:
    """1-based rank of the first relevant id, or None."""
    return next((rank for rank, id_ in enumerate(ids, 1) if id_ in relevant), None)


def recall(ids: list[str], relevant: frozenset[str], k: int) -> float:
    return len(relevant.intersection(ids[:k])) / len(relevant)


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def summarize(r: Run, questions: list[Question]) -> dict:
    ranks = [first_relevant(ids, q.relevant) for ids, q in zip(r.ranked, questions)]
    return {
        "method": r.method,
        "form": r.form,
        "mrr@10": statistics.mean(1 / rank if rank else 0.0 for rank in ranks),
        "r@1": statistics.mean(recall(ids, q.relevant, 1) for ids, q in zip(r.ranked, questions)),
        "r@10": statistics.mean(recall(ids, q.relevant, K) for ids, q in zip(r.ranked, questions)),
        "mean_ms": statistics.mean(r.latencies_ms),
        "p50_ms": percentile(r.latencies_ms, 50),
        "p95_ms": percentile(r.latencies_ms, 95),
        "errors": sum(r.errors.values()),
        "errors_by_type": dict(r.errors),
        "per_question": [
            {"qid": q.qid, "rank": rank, "top": ids[0] if ids else None}
            for q, ids, rank in zip(questions, r.ranked, ranks)
        ],
    }


# -- reporting ------------------------------------------------------------------


def markdown_table(results: list[dict]) -> str:
    lines = [
        "| method | query | MRR@10 | R@1 | R@10 | mean ms | p50 ms | p95 ms |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for s in results:
        lines.append(
            f"| {s['method']} | {s['form']} | {s['mrr@10']:.4f} | {s['r@1']:.4f} | {s['r@10']:.4f} "
            f"| {s['mean_ms']:.1f} | {s['p50_ms']:.1f} | {s['p95_ms']:.1f} |"
        )
    return "\n".join(lines)


def check_expected(results: list[dict], expected: dict) -> bool:
    """Print OK/FAIL for each floor in expected_xquad.json; True when all pass."""
    measured = {(s["method"], s["form"]): s for s in results}
    all_ok = True
    for method, forms in expected.items():
        for form, metrics in forms.items():
            for metric, bounds in metrics.items():
                value = measured[method, form][metric]
                ok = value >= bounds["floor"]
                all_ok &= ok
                target = "met" if value >= bounds["target"] else "not yet"
                print(
                    f"{'OK  ' if ok else 'FAIL'} {method} {form} {metric} {value:.4f} "
                    f"(floor {bounds['floor']:.2f}; target {bounds['target']:.2f}: {target})"
                )
    return all_ok


def print_misses(summary: dict, questions: list[Question], passages: dict[str, Article], count: int):
    """Up to ``count`` questions, spread over the set, whose relevant passage is not first."""
    misses = [(q, row) for q, row in zip(questions, summary["per_question"]) if row["rank"] != 1]
    print(f"\n{summary['method']}, {summary['form']}: {len(misses)} questions without the passage first")
    for q, row in misses[:: max(1, len(misses) // count)][:count]:
        first = f"{row['top']}: {passages[row['top']].body[:90]}…" if row["top"] else "nothing"
        print(f"- {in_form(q.text, summary['form'])}")
        print(f"  wanted {', '.join(sorted(q.relevant))} at rank {row['rank'] or f'>{K}'}; first {first}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="hnp-search analysis processes")
    parser.add_argument("--index-dir", type=Path, metavar="DIR",
                        help="hnp-search index directory (default a temporary one)")
    parser.add_argument("--reuse", action="store_true",
                        help="open the passages' index already in --index-dir (built there first if it is empty)")
    parser.add_argument("--limit-queries", type=int, metavar="N", help="only the first N questions (quick run)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="save figures and per-question ranks")
    parser.add_argument(
        "--show-misses", type=int, default=0, metavar="N",
        help="print N hnp-search questions per form whose passage is not ranked first",
    )
    args = parser.parse_args()
    if args.reuse and args.index_dir is None:
        parser.error("--reuse needs --index-dir")
    return args


def main() -> int:
    args = parse_args()
    if not (PASSAGES.exists() and QUESTIONS.exists()):
        print(f"skipped: XQuAD-vi not found under {SHARED / 'eval'}")
        return 0
    passages = load_passages()
    questions = load_questions(args.limit_queries)
    print(f"{len(passages)} passages, {len(questions)} questions")
    results = []
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        methods = {
            "hnp-search": lambda: hnp_search(passages, args.index_dir or Path(tmp) / "hnp-search", args.jobs,
                                             args.reuse),
            "FTS5 folded": lambda: sqlite_fts5(passages, folded=True),
            "FTS5 as written": lambda: sqlite_fts5(passages, folded=False),
            "Whoosh stock": lambda: stock_whoosh(passages, Path(tmp)),
            "BM25 bigram": lambda: bigram_bm25(passages),
        }
        for method, build in methods.items():
            start = time.perf_counter()
            search = stack.enter_context(build())
            print(f"{method}: indexed in {time.perf_counter() - start:.1f} s", flush=True)
            search(questions[0].text)  # warm-up, untimed: hnp-search loads its segmenter on the first query
            for form in FORMS:
                results.append(summarize(run(method, search, questions, form), questions))
    errors = {f"{s['method']} {s['form']}": s["errors_by_type"] for s in results if s["errors"]}
    print(f"questions that raised (counted as misses): {errors or 'none'}")
    print()
    print(markdown_table(results))
    print()
    if args.limit_queries is None:
        passed = check_expected(results, json.loads(EXPECTED.read_text(encoding="utf-8")))
    else:
        print("partial run: floors not checked")
        passed = True
    if args.show_misses:
        by_id = {p.id: p for p in passages}
        for summary in results[: len(FORMS)]:
            print_misses(summary, questions, by_id, args.show_misses)
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
