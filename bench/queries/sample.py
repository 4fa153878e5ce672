"""Print the articles each query set was written from: fixed-seed samples of the shared corpora.

"typed-2" (seed 21) leaves out every target of the earlier typed and known-item sets and
bodies under 400 characters. typed_fresh.jsonl, 160 queries (20 per form) written at stop 26
from the "typed-2" sample (seed 21), before any tuning of that stop, is kept as the reported
test split. typed_dev2.jsonl, 160 dev queries (20 per form) written at stop 26 from the
"typed-3" sample (seed 22), leaving out the typed_fresh.jsonl targets too. typed_dev3.jsonl,
160 dev queries (20 per form) written at stop 26 from the "typed-4" sample (seed 23), leaving
out the typed_dev2.jsonl targets as well.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import sys
from pathlib import Path

from hnp_search.text.normalize import fold

SHARED = next(
    (p / "shared" / "corpora" for p in Path(__file__).resolve().parents if (p / "shared" / "corpora").is_dir()),
    Path("/work/shared/corpora"),
)
KNOWN_ITEMS = Path(__file__).resolve().parents[1] / "known_items.jsonl"
HERE = Path(__file__).resolve().parent

# set name -> (corpus file, seed, how many articles)
SETS = {
    "typed": ("dantri-unc.jsonl.gz", 18, 160),
    "known-dantri": ("dantri-unc.jsonl.gz", 19, 100),
    "known-baomoi": ("baomoi.jsonl.gz", 20, 60),
    "typed-2": ("dantri-unc.jsonl.gz", 21, 160),
    "typed-3": ("dantri-unc.jsonl.gz", 22, 160),
    "typed-4": ("dantri-unc.jsonl.gz", 23, 160),
}


def read(name: str) -> list[dict]:
    with gzip.open(SHARED / name, "rt", encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def targets(*paths: Path) -> set[str]:
    """Every article id some line of these query files lists as relevant."""
    return {id_ for path in paths for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
            for id_ in json.loads(line)["relevant"]}


def sample(set_name: str, extra: int = 0) -> list[dict]:
    """The articles of one set, in the order they were drawn (``extra`` more drawn after them).

    Known-item articles on dantri leave out the targets of bench/known_items.jsonl and of
    the typed set, so that every set asks about different articles; "typed-2" leaves out the
    targets of typed.jsonl and of both known-item files, and bodies under 400 characters;
    "typed-3" also those of typed_fresh.jsonl, and "typed-4" those of typed_dev2.jsonl too.
    """
    corpus, seed, count = SETS[set_name]
    rows = read(corpus)
    if set_name in ("typed-2", "typed-3", "typed-4"):
        taken = targets(KNOWN_ITEMS, HERE / "known_items.jsonl", HERE / "typed.jsonl")
        if set_name in ("typed-3", "typed-4"):
            taken |= targets(HERE / "typed_fresh.jsonl")
        if set_name == "typed-4":
            taken |= targets(HERE / "typed_dev2.jsonl")
        rows = [row for row in rows if row["id"] not in taken and len(row.get("body") or "") >= 400]
    if set_name == "known-dantri":
        taken = targets(KNOWN_ITEMS) | {row["id"] for row in sample("typed")}
        rows = [row for row in rows if row["id"] not in taken]
    if set_name == "known-baomoi":  # skip stubs a reader could not remember anything from
        rows = [row for row in rows if len(row.get("body") or "") >= 400]
    return random.Random(seed).sample(rows, count + extra)


def similar(target: dict, rows: list[dict], count: int) -> list[tuple[float, dict]]:
    """The articles whose title and lead share most adjacent word pairs with ``target``'s.

    Candidates for the same story told twice (baomoi carries many such copies); each was
    then read before being listed as relevant.
    """
    def pairs(row: dict) -> set[tuple[str, str]]:
        words = re.findall(r"\w+", fold(f"{row['title']} {row.get('lead') or ''}").lower())
        return set(zip(words, words[1:]))

    mine = pairs(target)
    scored = []
    for row in rows:
        if row["id"] != target["id"] and mine:
            theirs = pairs(row)
            overlap = len(mine & theirs) / (len(mine | theirs) or 1)
            if overlap > 0.08:
                scored.append((overlap, row))
    return sorted(scored, key=lambda pair: -pair[0])[:count]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("set", choices=sorted(SETS))
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--count", type=int, default=None,
                        help="how many to print (default: to the end of the set; more draws further)")
    parser.add_argument("--chars", type=int, default=400, help="characters of lead and body to show")
    parser.add_argument("--similar", type=int, default=0, metavar="N",
                        help="also list the N articles most like each one (title and lead word pairs)")
    args = parser.parse_args()
    rows = read(SETS[args.set][0]) if args.similar else []
    count = max(0, SETS[args.set][2] - args.start) if args.count is None else args.count
    drawn = sample(args.set, extra=max(0, args.start + count - SETS[args.set][2]))
    for i, row in enumerate(drawn[args.start:args.start + count], args.start):
        text = ((row.get("lead") or "") + " | " + row["body"]).replace("\n", " ")[: args.chars]
        print(f"[{i}] {row['id']} {row.get('date', '')} {row['title']}\n    {text}")
        for overlap, other in similar(row, rows, args.similar):
            print(f"      ~{overlap:.2f} {other['id']} {other['title']} | {(other.get('lead') or '')[:120]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
