"""Typed and known-item queries, as written, through hnp-search beside FTS5, tantivy and a bigram BM25."""

from __future__ import annotations

import argparse
import gzip
import json
import sqlite3
import statistics
import sys
import tempfile
import time
import unicodedata
from collections import Counter
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from hnp_search import SearchEngine

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bigram_bm25 import BigramBM25, fold, words  # the reference shared with eval_xquad.py

HERE = Path(__file__).resolve().parent
SHARED = next((p / "shared" for p in HERE.parents if (p / "shared" / "corpora").is_dir()), Path("/work/shared"))
CORPORA = {"dantri": SHARED / "corpora" / "dantri-unc.jsonl.gz", "baomoi": SHARED / "corpora" / "baomoi.jsonl.gz"}
#: The typed queries: the first 160 (stop 25) all dev now, as their test half was read after tuning,
#: and 320 more dev ones; typed_fresh.jsonl (stop 26, written before that stop tuned anything) is the test split.
TYPED = tuple(HERE / "queries" / name
              for name in ("typed.jsonl", "typed_dev2.jsonl", "typed_dev3.jsonl", "typed_fresh.jsonl"))
KNOWN = HERE / "queries" / "known_items.jsonl"

K = 10
METHODS = ("hnp-search", "FTS5", "tantivy", "BM25 bigram")
TYPED_FORMS = ("mixed", "tone", "telex", "typo", "abbrev", "pasted", "case", "question")
KNOWN_FORMS = ("words", "unaccented", "phrase", "date")
SPLITS = ("dev", "test", "all")


@dataclass(frozen=True)
class Query:
    qid: str
    set: str  # "typed", "known-dantri", "known-baomoi"
    form: str
    text: str  # as typed
    meant: str | None  # the same query correctly spelled; None for known items
    relevant: frozenset[str]
    split: str


@dataclass(frozen=True)
class Doc:
    id: str
    title: str
    body: str  # lead and body


@dataclass
class Ranking:
    """One method's top-K ids per (qid, variant), and the errors it raised."""

    ids: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    errors: dict[tuple[str, str], str] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)


# -- data ---------------------------------------------------------------------


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def load_docs(corpus: str) -> list[Doc]:
    with gzip.open(CORPORA[corpus], "rt", encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines if line.strip()]
    return [Doc(r["id"], nfc(r.get("title") or ""), nfc(" ".join(filter(None, (r.get("lead"), r.get("body"))))))
            for r in rows]


def read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def load_queries(corpus: str) -> list[Query]:
    queries = []
    if corpus == "dantri":
        queries += [Query(r["qid"], "typed", r["form"], nfc(r["query"]), nfc(r["meant"]), frozenset(r["relevant"]),
                          r["split"]) for path in TYPED for r in read_jsonl(path)]
    queries += [Query(r["qid"], f"known-{corpus}", r["form"], nfc(r["query"]), None, frozenset(r["relevant"]),
                      r["split"]) for r in read_jsonl(KNOWN) if r["corpus"] == corpus]
    return queries


def variants(q: Query) -> list[tuple[str, str]]:
    """(variant, text) pairs to run: as typed, and as meant when the set has a clean form."""
    return [("typed", q.text)] + ([("meant", q.meant)] if q.meant is not None else [])


# -- methods: each a context manager yielding search(text) -> top-K ids --------


@contextmanager
def hnp_search(corpus: str, index_dir: Path, reuse: bool, jobs: int):
    """The public API only: index the corpus file (or open an index there) and search as typed."""
    engine = None
    if reuse and index_dir.is_dir() and any(index_dir.iterdir()):
        # Never rebuild over something asked to be reused: it may be someone else's index.
        try:
            engine = SearchEngine(index_dir, create=False)
            count = len(engine)  # an index by another analyzer version raises here
        except Exception as error:  # noqa: BLE001 - said plainly, and nothing is written there
            raise SystemExit(f"hnp-search: cannot reuse {index_dir} ({type(error).__name__}: {error}); "
                             "run without --reuse to rebuild it, or name another --index-dir") from None
        print(f"hnp-search: reusing {count} articles in {index_dir}", flush=True)
    if engine is None:
        engine = SearchEngine(index_dir)
        start = time.perf_counter()
        summary = engine.index([CORPORA[corpus]], jobs=jobs, rebuild=True)
        print(f"hnp-search: indexed {len(engine)} articles in {time.perf_counter() - start:.0f} s "
              f"({len(summary.errors)} errors) into {index_dir}", flush=True)
    try:
        yield lambda text: [hit.id for hit in engine.search(text, limit=K)]
    finally:
        engine.close()


@contextmanager
def sqlite_fts5(docs: list[Doc]):
    """FTS5 BM25 (ORDER BY rank) over folded title and body; the query an OR of its folded tokens."""
    with closing(sqlite3.connect(":memory:")) as db:
        db.execute("CREATE VIRTUAL TABLE docs USING fts5(id UNINDEXED, title, body, "
                   "tokenize='unicode61 remove_diacritics 2')")
        db.executemany("INSERT INTO docs VALUES (?, ?, ?)", ((d.id, fold(d.title), fold(d.body)) for d in docs))

        def search(text: str) -> list[str]:
            tokens = dict.fromkeys(words(text))
            if not tokens:
                return []
            match = " OR ".join(f'"{token}"' for token in tokens)
            sql = "SELECT id FROM docs WHERE docs MATCH ? ORDER BY rank LIMIT ?"
            return [row[0] for row in db.execute(sql, (match, K))]

        yield search


@contextmanager
def tantivy_or(docs: list[Doc], workdir: Path):
    """tantivy's BM25 over folded title and body (default tokenizer); the query an OR of term queries."""
    import tantivy

    builder = tantivy.SchemaBuilder()
    builder.add_text_field("id", stored=True, tokenizer_name="raw")
    builder.add_text_field("title")
    builder.add_text_field("body")
    schema = builder.build()
    path = workdir / "tantivy"
    path.mkdir()
    index = tantivy.Index(schema, path=str(path))
    writer = index.writer(heap_size=200_000_000, num_threads=1)
    for d in docs:
        writer.add_document(tantivy.Document(id=d.id, title=fold(d.title), body=fold(d.body)))
    writer.commit()
    writer.wait_merging_threads()
    index.reload()
    searcher = index.searcher()

    def search(text: str) -> list[str]:
        terms = dict.fromkeys(words(text))
        clauses = [(tantivy.Occur.Should, tantivy.Query.term_query(schema, name, term))
                   for term in terms for name in ("title", "body")]
        if not clauses:
            return []
        hits = searcher.search(tantivy.Query.boolean_query(clauses), K).hits
        return [searcher.doc(address)["id"][0] for _score, address in hits]

    yield search


@contextmanager
def bigram_bm25(docs: list[Doc]):
    model = BigramBM25(docs)
    yield lambda text: model.search(text, K)


# -- running and scoring ----------------------------------------------------------


def run(search, queries: list[Query]) -> Ranking:
    """Every query in every variant, exactly as written; any exception is a miss, recorded."""
    result = Ranking()
    for q in queries:
        for variant, text in variants(q):
            start = time.perf_counter()
            try:
                ids = list(search(text))[:K]
            except Exception as error:  # noqa: BLE001 - a query that raises is a miss, counted per form
                ids = []
                result.errors[q.qid, variant] = f"{type(error).__name__}: {error}"
            result.latencies_ms.append((time.perf_counter() - start) * 1000)
            result.ids[q.qid, variant] = ids
    return result


def first_relevant(ids: list[str], relevant: frozenset[str]) -> int | None:
    """1-based rank of the first relevant id in the top K, or None."""
    return next((rank for rank, id_ in enumerate(ids[:K], 1) if id_ in relevant), None)


def scores(ranking: Ranking, queries: list[Query], variant: str) -> dict:
    ranks = [first_relevant(ranking.ids[q.qid, variant], q.relevant) for q in queries]
    return {
        "n": len(queries),
        "mrr@10": statistics.mean(1 / r if r else 0.0 for r in ranks),
        "s@1": statistics.mean(r == 1 for r in ranks),
        "s@10": statistics.mean(r is not None for r in ranks),
        "errors": sum((q.qid, variant) in ranking.errors for q in queries),
    }


def summarize(rankings: dict[str, Ranking], queries: list[Query]) -> dict:
    """Scores per set, split, form (and "all") , method and variant."""
    table: dict = {}
    for set_name in dict.fromkeys(q.set for q in queries):
        in_set = [q for q in queries if q.set == set_name]
        forms = TYPED_FORMS if set_name == "typed" else KNOWN_FORMS
        for split in SPLITS:
            in_split = [q for q in in_set if split == "all" or q.split == split]
            for form in ("all", *forms):
                group = [q for q in in_split if form == "all" or q.form == form]
                if not group:
                    continue
                for method, ranking in rankings.items():
                    for variant in dict.fromkeys(v for q in group for v, _ in variants(q)):
                        table.setdefault(set_name, {}).setdefault(split, {}).setdefault(form, {}) \
                            .setdefault(method, {})[variant] = scores(ranking, group, variant)
    return table


# -- reporting ----------------------------------------------------------------------


def cell(s: dict) -> str:
    return f"{s['mrr@10']:.3f} / {s['s@1']:.2f} / {s['s@10']:.2f}"


def markdown(table: dict, methods: list[str]) -> str:
    """One table per set and split: a row per form, "MRR@10 / S@1 / S@10" per method and variant."""
    out = []
    for set_name, by_split in table.items():
        for split, by_form in by_split.items():
            variants_here = list(next(iter(next(iter(by_form.values())).values())))
            head = ["form", "n"] + [f"{m} {v}" if len(variants_here) > 1 else m for m in methods for v in variants_here]
            out.append(f"\n### {set_name}, {split} (MRR@10 / success@1 / success@10)\n")
            out.append("| " + " | ".join(head) + " |")
            out.append("|---|---:|" + "---|" * (len(head) - 2))
            for form, by_method in by_form.items():
                n = next(iter(next(iter(by_method.values())).values()))["n"]
                out.append("| " + " | ".join([form, str(n)] + [cell(by_method[m][v]) for m in methods
                                                               for v in variants_here]) + " |")
    return "\n".join(out)


def print_errors(rankings: dict[str, Ranking], queries: list[Query]):
    by_qid = {q.qid: q for q in queries}
    for method, ranking in rankings.items():
        if not ranking.errors:
            print(f"{method}: no query raised")
            continue
        per_form = Counter(f"{by_qid[qid].set}/{by_qid[qid].form} {variant}" for qid, variant in ranking.errors)
        print(f"{method}: {len(ranking.errors)} queries raised (counted as misses): "
              + ", ".join(f"{key} {n}" for key, n in sorted(per_form.items())))
        for (qid, variant), message in sorted(ranking.errors.items()):
            text = dict(variants(by_qid[qid]))[variant]
            print(f"  {qid} {variant} {text!r}: {message[:120]}")


def per_query(rankings: dict[str, Ranking], queries: list[Query]) -> list[dict]:
    rows = []
    for q in queries:
        row = {"qid": q.qid, "set": q.set, "form": q.form, "split": q.split, "query": q.text, "meant": q.meant,
               "relevant": sorted(q.relevant)}
        for method, ranking in rankings.items():
            row[method] = {}
            for variant, _ in variants(q):
                ids = ranking.ids[q.qid, variant]
                entry = {"rank": first_relevant(ids, q.relevant), "top": ids}
                if (q.qid, variant) in ranking.errors:
                    entry["error"] = ranking.errors[q.qid, variant]
                row[method][variant] = entry
        rows.append(row)
    return rows


def print_misses(rows: list[dict], method: str, count: int):
    misses = [r for r in rows if r[method]["typed"]["rank"] != 1]
    print(f"\n{method}: {len(misses)} of {len(rows)} queries (as typed) without a relevant article first"
          + (f"; the first {count}:" if len(misses) > count else ":"))
    for r in misses[:count]:
        ranks = ", ".join(f"{m} {r[m]['typed']['rank'] or '-'}" for m in r if m in METHODS)
        meant = f" (meant: {r[method]['meant']['rank'] or '-'})" if "meant" in r[method] else ""
        print(f"- {r['qid']} [{r['set']}/{r['form']}] {r['query']!r}: {ranks}{meant}")


# -- main ---------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", choices=("dantri", "baomoi", "all"), default="dantri",
                        help="dantri: typed and known-item sets; baomoi: its known items (default dantri)")
    parser.add_argument("--index-dir", type=Path, metavar="DIR",
                        help="hnp-search index directory (with --corpus all: DIR/dantri and DIR/baomoi); "
                             "default a temporary one")
    parser.add_argument("--reuse", action="store_true",
                        help="open the index already in --index-dir (built there first if the directory is empty)")
    parser.add_argument("--jobs", type=int, default=2, help="hnp-search analysis processes (default 2)")
    parser.add_argument("--methods", default=",".join(METHODS),
                        help=f"comma-separated subset of: {', '.join(METHODS)}")
    parser.add_argument("--json", type=Path, metavar="OUT", help="save the tables and every query's ranks")
    parser.add_argument("--show-misses", type=int, default=0, metavar="N",
                        help="list N queries per corpus that hnp-search does not rank first")
    args = parser.parse_args()
    args.methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = set(args.methods) - set(METHODS)
    if unknown:
        parser.error(f"unknown method(s): {', '.join(sorted(unknown))}")
    if args.reuse and args.index_dir is None:
        parser.error("--reuse needs --index-dir")
    return args


def evaluate(corpus: str, args: argparse.Namespace, tmp: Path) -> tuple[dict, list[dict]]:
    docs = load_docs(corpus)
    queries = load_queries(corpus)
    print(f"\n## {corpus}: {len(docs)} articles, {len(queries)} queries "
          f"({sum(len(variants(q)) for q in queries)} runs per method)", flush=True)
    index_dir = args.index_dir if args.index_dir is not None else tmp / f"hnp-{corpus}"
    if args.index_dir is not None and args.corpus == "all":
        index_dir = args.index_dir / corpus
    builders = {
        "hnp-search": lambda: hnp_search(corpus, index_dir, args.reuse, args.jobs),
        "FTS5": lambda: sqlite_fts5(docs),
        "tantivy": lambda: tantivy_or(docs, tmp / corpus),
        "BM25 bigram": lambda: bigram_bm25(docs),
    }
    (tmp / corpus).mkdir(exist_ok=True)
    rankings = {}
    for method in args.methods:
        start = time.perf_counter()
        with builders[method]() as search:
            built = time.perf_counter() - start
            try:
                search(queries[0].text)  # warm-up, untimed (hnp-search loads its segmenter)
            except Exception:  # noqa: BLE001 - counted when the query runs for real
                pass
            rankings[method] = run(search, queries)
        r = rankings[method]
        print(f"{method}: ready in {built:.0f} s; {len(r.latencies_ms)} queries, "
              f"median {statistics.median(r.latencies_ms):.1f} ms", flush=True)
    table = summarize(rankings, queries)
    print()
    print_errors(rankings, queries)
    print(markdown(table, list(rankings)))
    rows = per_query(rankings, queries)
    if args.show_misses and "hnp-search" in rankings:
        print_misses(rows, "hnp-search", args.show_misses)
    return table, rows


def main() -> int:
    args = parse_args()
    corpora = ("dantri", "baomoi") if args.corpus == "all" else (args.corpus,)
    missing = [str(CORPORA[c]) for c in corpora if not CORPORA[c].exists()]
    if missing:
        print(f"skipped: {', '.join(missing)} not found")
        return 0
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for corpus in corpora:
            table, rows = evaluate(corpus, args, Path(tmp))
            results[corpus] = {"table": table, "queries": rows}
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
        print(f"\nsaved {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
