"""Ranking: matched documents and their scoring terms → the best (docnum, score) pairs.

BM25F sums pruned by MaxScore, phrases checked lazily, proximity bonuses.
"""

from __future__ import annotations

import math
from heapq import heapify, heappop, heappush, heappushpop, nlargest
from collections.abc import Iterable
from itertools import chain, islice
from operator import itemgetter

from ..store.columns import iter_positions
from .match import Match, Unverified
from .view import _MISSING_DATE, IndexView, bm25_impact


#: How many of the best-scored candidates the proximity bonus may re-rank.
PROXIMITY_DEPTH = 100
#: Ranking prunes candidates (MaxScore) only when there are more than this many times the hits wanted.
PRUNE_FROM = 4


#: With ``local`` (a question), the share of each term's impact on the best ``PROXIMITY_DEPTH``
#: candidates that depends on how few of them hold it.
LOCAL_SHARE = 0.3


def rank(view: IndexView, match: Match, limit: int, sort: str, local: bool = False) -> list[tuple[int, float]]:
    """The best ``limit`` (docnum, score) of what ``match`` matches, by relevance or by date;
    with ``local``, terms most of the best candidates hold weigh less (``_local``)."""
    docs = view.all_docs() if match.docs is None else match.docs
    if not docs or limit < 1:
        return []
    if sort != "relevance":
        published = view.published()
        dated: Iterable[int] = sorted(
            docs, key=lambda d: (published[d] >= _MISSING_DATE, published[d] if sort == "date" else -published[d], d)
        )
        if match.unverified:
            dated = (d for d in dated if all(u.unscored(d) is not None for u in match.unverified))
        return [(d, 0.0) for d in islice(dated, limit)]
    # Terms with the largest possible impact first; whenever what the rest could add has
    # halved, drop the candidates that can no longer reach the best ``depth`` (MaxScore):
    # the best ``depth`` are exactly those without pruning.
    local = local and not match.unverified
    depth = max(PROXIMITY_DEPTH, limit) if match.pairs or local else limit
    terms = sorted(
        ((w * p.scale * p.peak, w * p.scale, p) for w, p in match.terms if w * p.scale), key=itemgetter(0), reverse=True
    )
    remaining = sum(t[0] for t in terms)
    prune_below = remaining / 2
    scores = dict.fromkeys(docs, 0.0)
    for bound, scale, postings in terms:
        if remaining <= prune_below and len(scores) > PRUNE_FROM * depth and not match.unverified:
            threshold = nlargest(depth, scores.values())[-1]
            floor = threshold - remaining - 1e-9 * (abs(threshold) + remaining)
            scores = {d: s for d, s in scores.items() if s >= floor}
            prune_below = remaining / 2
        remaining -= bound
        tfs, norms = postings.tfs, postings.norms
        for d in [d for d in tfs if d in scores] if len(tfs) < len(scores) else scores.keys() & tfs.keys():
            tf = tfs[d]
            scores[d] += scale * tf / (tf + norms[d])  # bm25_impact, inlined: a call per posting costs a third more
    if match.unverified:
        scores = _verified(scores, match.unverified, depth, terms)
    if match.pairs or local:
        # Bonuses go to the best PROXIMITY_DEPTH by score whatever the limit, so that
        # a page's order does not depend on its size: bonuses only add, so they stay first.
        top = [d for d, _ in nlargest(depth, scores.items(), key=lambda x: (x[1], -x[0]))]
        near = top[:PROXIMITY_DEPTH]
        if local:  # the rest keep their order below: each of the best scores at least that share
            scores.update(_local(near, terms))
            scores.update((d, scores[d] * (1 - LOCAL_SHARE)) for d in top[PROXIMITY_DEPTH:])
        for d, bonus in _proximity(near, match.pairs).items() if match.pairs else ():
            scores[d] += bonus
        return (sorted(((d, scores[d]) for d in near), key=lambda x: (-x[1], x[0]))
                + [(d, scores[d]) for d in top[PROXIMITY_DEPTH:]])[:limit]
    return sorted(nlargest(limit, scores.items(), key=lambda x: (x[1], -x[0])), key=lambda x: (-x[1], x[0]))


def _verified(scores: dict[int, float], unverified: list[Unverified], depth: int, terms: list) -> dict[int, float]:
    """The best ``depth`` of the candidates whose ``scores`` (summed over ``terms``, as
    ``rank`` orders them) count phrases unchecked: checked best first and rescored the
    same way without the terms of fields that lack the phrase, until no unchecked
    candidate can beat them."""
    queue = [(-s, d) for d, s in scores.items()]
    heapify(queue)
    best: list[tuple[float, int]] = []  # (score, -doc), a min-heap of the best checked
    while queue and (len(best) < depth or -queue[0][0] >= best[0][0]):
        score, doc = heappop(queue)
        unscored = [u.unscored(doc) for u in unverified]
        if None in unscored:
            continue
        dropped = set(chain.from_iterable(filter(None, unscored)))
        if dropped:
            score = 0.0
            for _, scale, p in terms:
                if doc in p.tfs and id(p) not in dropped:
                    score += bm25_impact(scale, p.tfs[doc], p.norms[doc])
        else:
            score = -score
        if len(best) < depth:
            heappush(best, (score, -doc))
        else:
            heappushpop(best, (score, -doc))
    return {-d: s for s, d in best}


def _local(docs: list[int], terms: list) -> dict[int, float]:
    """Per doc of ``docs``, its score with each term's impact times 1 - ``LOCAL_SHARE`` +
    ``LOCAL_SHARE`` times how telling the term is among them (``_telling``): the words of a
    story that all its articles hold say less than those only some of them do."""
    scores = dict.fromkeys(docs, 0.0)
    for _, scale, p in terms:
        held = [d for d in docs if d in p.tfs]
        if held:
            factor = local_factor(len(held), len(docs))
            for d in held:
                scores[d] += factor * bm25_impact(scale, p.tfs[d], p.norms[d])
    return scores


def _proximity(docs: list[int], pairs) -> dict[int, float]:
    """Per doc of ``docs``, the bonus for query syllables side by side: each pair found so
    scores its two syllables again, times how telling that is among ``docs`` (``_telling``)."""
    bonus = dict.fromkeys(docs, 0.0)
    for weight, a, b in pairs:
        both = [d for d in docs if d in a.tfs and d in b.tfs]
        near = [d for d in both if _side_by_side(a.positions[d], b.positions[d])]
        if near:
            telling = _telling(len(near), len(both))
            for d in near:
                bonus[d] += telling * weight * (a.impact(d) + b.impact(d))
    return bonus


def local_factor(held: int, candidates: int) -> float:
    """What a question's term impact counts among its best ``candidates``, ``held`` of which hold it."""
    return 1 - LOCAL_SHARE + LOCAL_SHARE * _telling(held, candidates)


def _telling(near: int, both: int) -> float:
    """How much a pair side by side in ``near`` of the ``both`` candidates holding its two
    syllables says, from 1 (in one of them) to almost 0 (in all): log((n + 1) / k) / log(n + 1).
    A name ("Doctor Who", "Los Angeles") is side by side wherever both its syllables are: it
    cannot lift one article about it above another."""
    return math.log((both + 1) / near) / math.log(both + 1)


def _side_by_side(first: bytes, second: bytes) -> bool:
    """Whether a position of ``second`` (encoded) comes right after one of ``first``."""
    return not set(iter_positions(first)).isdisjoint(map((-1).__add__, iter_positions(second)))
