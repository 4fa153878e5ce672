"""Person-name extraction on the labelled set: precision and recall of person search per article.

Also the extraction cost per article.
"""

from __future__ import annotations

import os
import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hnp_search import read_articles
from hnp_search.text.analyze import segment
from hnp_search.text.normalize import fold
from hnp_search.persons import extract_persons, person_key

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("HNP_SEARCH_SHARED") or Path(__file__).resolve().parents[2] / "shared")  # the shared data
DANTRI = SHARED / "corpora" / "dantri-unc.jsonl.gz"
SAMPLE = SHARED / "corpora" / "hnp-sample"
CORPUS = ROOT / "corpus"
LABELS = ROOT / "tests" / "data" / "persons_labels.jsonl"

TARGETS = {"precision": 0.95, "recall": 0.90}  # accented queries, from issue 5

EPILOG = """\
The labelled set (tests/data/persons_labels.jsonl) gives, for each name, the articles
where it names a person (person_in) and those where the same letters name a street, a
school, a place, a byline, or only a different person folding to them (not_person_in);
labels come from reading every capitalized occurrence of the name (diacritics folded) in
dantri-unc, corpus/ and the HNP sample. Every labelled name is scored against every
labelled article, as a person search would be. Exit 1 when an accented target is missed;
exit 0 with a message when ../shared is absent. Example:

    python bench/eval_persons.py --show 20
    python bench/eval_persons.py --ner      # also underthesea NER, ~0.5 s per article
"""


@dataclass(frozen=True)
class Label:
    name: str
    person_in: frozenset[str]
    not_person_in: frozenset[str]


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def load_labels(path: Path = LABELS) -> list[Label]:
    with open(path, encoding="utf-8") as lines:
        return [
            Label(r["name"], frozenset(r["person_in"]), frozenset(r["not_person_in"]))
            for r in map(json.loads, lines)
        ]


def article_text(article) -> str:
    """What the indexer passes: title, lead and body (the byline author is not included
    for page files; dantri-unc keeps its byline as the body's last line)."""
    return f"{article.title}\n{article.lead}\n{article.body}"


def score(
    labels: list[Label], extracted: dict[str, list[str]], key: Callable[[str], str]
) -> tuple[Score, list[tuple[str, str]], list[tuple[str, str]]]:
    """Per (name, article) over the labelled articles: predicted when some extracted name
    has the same ``key`` as the labelled name; relevant when the article is in the
    ``person_in`` of a labelled name with that key. Returns the score, misses and false
    positives as (name, article id)."""
    relevant: dict[str, set[str]] = {}
    for label in labels:
        relevant.setdefault(key(label.name), set()).update(label.person_in)
    universe = set().union(*(lb.person_in | lb.not_person_in for lb in labels))
    found = {aid: {key(name) for name in extracted[aid]} for aid in universe}
    total, misses, false_pos = Score(), [], []
    for label in labels:
        k = key(label.name)
        for aid in sorted(universe):
            predicted, gold = k in found[aid], aid in relevant[k]
            if predicted and gold:
                total.tp += 1
            elif predicted:
                total.fp += 1
                false_pos.append((label.name, aid))
            elif gold:
                total.fn += 1
                misses.append((label.name, aid))
    return total, misses, false_pos


def accented(name: str) -> str:
    return person_key(name)


def unaccented(name: str) -> str:
    return fold(person_key(name))


def ner_persons(text: str) -> list[str]:
    """Names underthesea's NER tags PER (two or more syllables), for comparison."""
    from underthesea import ner, sent_tokenize

    names = []
    for line in text.split("\n"):
        for sentence in sent_tokenize(line) if line.strip() else []:
            current: list[str] = []
            for word, _pos, _chunk, tag in ner(sentence) + [("", "", "", "O")]:
                if tag == "I-PER" and current:
                    current.append(word)
                    continue
                if current and len(" ".join(current).split()) >= 2:
                    names.append(" ".join(current))
                current = [word] if tag == "B-PER" else []
    return list(dict.fromkeys(names))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--show", type=int, default=40, help="misses and false positives to print")
    parser.add_argument("--ner", action="store_true", help="also score underthesea NER (slow: ~0.4 s/article)")
    args = parser.parse_args(argv)
    if not SHARED.is_dir():
        print(f"skipped: ../shared not found ({SHARED})")
        return 0

    labels = load_labels()
    wanted = set().union(*(lb.person_in | lb.not_person_in for lb in labels))
    articles = {a.id: a for a in read_articles(DANTRI, CORPUS, SAMPLE)}
    missing = sorted(wanted - set(articles))
    if missing:
        print(f"labelled articles not found: {missing}")
        return 1

    segment("Hà Nội")  # load the model before timing
    texts = {aid: article_text(a) for aid, a in articles.items()}
    extracted, seg_s, ext_s = {}, [], []
    for aid, text in texts.items():
        t0 = time.perf_counter()
        words = segment(text)
        t1 = time.perf_counter()
        extracted[aid] = extract_persons(text, words)
        t2 = time.perf_counter()
        if aid.startswith("news_"):
            seg_s.append(t1 - t0)
            ext_s.append(t2 - t1)

    n_names = len({person_key(lb.name) for lb in labels})
    pairs = sum(len(lb.person_in) + len(lb.not_person_in) for lb in labels)
    print(f"# Person search on {LABELS.relative_to(ROOT)}")
    print(f"{len(labels)} labelled names ({n_names} distinct keys), {len(wanted)} labelled articles, "
          f"{pairs} labelled (name, article) pairs; scored over every (name, labelled article) pair\n")

    failed = False
    print("| method | query | precision | recall | TP | FP | FN |")
    print("|---|---|---:|---:|---:|---:|---:|")
    results = {}
    for form, key in (("accented", accented), ("unaccented", unaccented)):
        total, misses, false_pos = score(labels, extracted, key)
        results[form] = (total, misses, false_pos)
        print(f"| rules | {form} | {total.precision:.3f} | {total.recall:.3f} | "
              f"{total.tp} | {total.fp} | {total.fn} |")
    if args.ner:
        ner_found, ner_s = {}, []
        for aid in sorted(wanted):
            t0 = time.perf_counter()
            ner_found[aid] = ner_persons(texts[aid])
            ner_s.append(time.perf_counter() - t0)
        both = {aid: extracted[aid] + ner_found.get(aid, []) for aid in extracted}
        for method, found in (("underthesea ner", ner_found), ("rules + ner", both)):
            for form, key in (("accented", accented), ("unaccented", unaccented)):
                total, _, _ = score(labels, found, key)
                print(f"| {method} | {form} | {total.precision:.3f} | {total.recall:.3f} | "
                      f"{total.tp} | {total.fp} | {total.fn} |")

    print("\nUnaccented: a query without diacritics matches every name that folds to it, so "
          "for 'nguyen quoc toan' the articles naming Nguyễn Quốc Toản are relevant as well as "
          "those naming Nguyễn Quốc Toàn (likewise Nguyễn Văn Toàn/Toản, Bùi Tiến Dũng/Dụng, "
          "Nguyễn Văn Cừ/Cử, Trấn Thành/Trần Thanh).\n")

    total = results["accented"][0]
    for metric, target in TARGETS.items():
        value = getattr(total, metric)
        ok = value >= target
        failed |= not ok
        print(f"{'OK  ' if ok else 'FAIL'} accented {metric} {value:.3f} (target ≥ {target})")

    print(f"\n## Cost on {len(ext_s):,} dantri articles")
    print(f"extract_persons (words given): {1000 * statistics.mean(ext_s):.2f} ms/article "
          f"(p95 {1000 * sorted(ext_s)[int(0.95 * len(ext_s))]:.2f} ms)")
    print(f"analyze.segment, for reference: {1000 * statistics.mean(seg_s):.1f} ms/article")
    if args.ner:
        print(f"underthesea ner (on the {len(ner_s)} labelled articles): "
              f"{1000 * statistics.mean(ner_s):.0f} ms/article")

    for form in ("accented", "unaccented"):
        _, misses, false_pos = results[form]
        for title, rows in (("misses", misses), ("false positives", false_pos)):
            print(f"\n## {form}: {len(rows)} {title}")
            for name, aid in rows[: args.show]:
                print(f"- {name} @ {aid}: extracted {extracted[aid]}")

    # Label completeness: a labelled name extracted from an article not labelled for it.
    labelled = {}
    for lb in labels:
        labelled.setdefault(person_key(lb.name), set()).update(lb.person_in | lb.not_person_in)
    outside = [
        (name, aid)
        for aid, names in extracted.items()
        for name in names
        if person_key(name) in labelled and aid not in labelled[person_key(name)]
    ]
    print(f"\n## labelled names extracted from articles not labelled for them: {len(outside)}")
    for name, aid in outside[: args.show]:
        print(f"- {name} @ {aid}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
