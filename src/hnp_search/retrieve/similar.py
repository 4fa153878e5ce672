"""Related articles: one article's text → its most telling terms → the articles that score best on them.

Terms are folded words and syllables ranked by tf·idf; the article itself and its exact duplicates are left out.
"""

from __future__ import annotations

import math

from ..query.plan import FIELD_WEIGHTS
from ..store.schema import TEXT_FIELDS
from ..text import analyze
from .match import Match
from .rank import rank
from .view import IndexView

#: Telling terms a related-articles search uses.
SIMILAR_TERMS = 20
#: A term in more than this share of the articles tells nothing about a story.
MAX_DOC_SHARE = 0.2
#: Fields whose postings score related articles.
SCORED_FIELDS = ("title", "lead", "body")
#: Characters of the body read for its terms: a news story says what it is about first.
BODY_CHARS = 3000


def telling_terms(view: IndexView, fields: dict[str, str], top: int | None = None) -> list[tuple[float, str, str]]:
    """The ``top`` terms of an article's ``fields`` (title, lead, body text) that best tell it
    apart: (weight, variant, term) with variant ``wf`` (folded words) or ``sf`` (folded
    syllables), ranked by tf·idf, tf counted with the fields' weights (a title word counts
    3 times); the weight is the damped tf the search scores them by."""
    counts: dict[tuple[str, str], float] = {}
    for name in TEXT_FIELDS:
        text = fields.get(name) or ""
        if name == "body" and len(text) > BODY_CHARS:
            text = text[: text.rfind(" ", 0, BODY_CHARS) + 1 or BODY_CHARS]
        terms = analyze.terms(text)
        weight = FIELD_WEIGHTS[name]
        for variant in ("wf", "sf"):
            for term in getattr(terms, variant):
                # Numbers and dates rarely tell one story from another; the commonest syllables never do.
                if term not in analyze.COMMON_SYLLABLES and any(c.isalpha() for c in term):
                    counts[variant, term] = counts.get((variant, term), 0.0) + weight
    n = max(view.doc_count, 1)
    scored = []
    for (variant, term), tf in counts.items():
        df = view.doc_frequency(f"body_{variant}", term)
        if df < 2 or df > MAX_DOC_SHARE * n:  # in no other article, or in too many
            continue
        damped = 1 + math.log(tf)
        scored.append((damped * math.log(n / df), damped, variant, term))
    scored.sort(reverse=True)
    return [(damped, variant, term) for _, damped, variant, term in scored[: top or SIMILAR_TERMS]]


def related(view: IndexView, doc: int, fields: dict[str, str], limit: int) -> list[tuple[int, float]]:
    """The ``limit`` best (docnum, score) articles related to document ``doc`` (whose text is
    ``fields``), scored by BM25F on its telling terms; itself and articles with the same
    digest (the same indexed content) excluded."""
    terms = []
    docs: set[int] = set()
    for weight, variant, term in telling_terms(view, fields):
        for name in SCORED_FIELDS:
            postings = view.postings(f"{name}_{variant}", term)
            if postings.tfs:
                terms.append((weight * FIELD_WEIGHTS[name], postings))
                docs.update(postings.tfs)
    digests = view.strings("digest")
    docs = {d for d in docs if digests[d] != digests[doc]} - {doc}
    return rank(view, Match(docs, terms), limit, "relevance")
