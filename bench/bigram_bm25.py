"""The bigram BM25 reference: plain BM25 over folded syllables and adjacent-syllable pairs (a peer in the evals)."""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from typing import Protocol

_MARKS = re.compile(r"[\u0300-\u036f]")
_WORD = re.compile(r"[^\W_]+")


class Document(Protocol):
    id: str
    title: str
    body: str


def fold(text: str) -> str:
    """Lowercase without diacritics, đ as d (the same on documents and queries)."""
    text = unicodedata.normalize("NFD", text.lower().replace("đ", "d"))
    return unicodedata.normalize("NFC", _MARKS.sub("", text))


def words(text: str) -> list[str]:
    """The folded syllables of ``text``: the peers' own trivial analysis."""
    return _WORD.findall(fold(text))


class BigramBM25:
    """Plain BM25 over folded syllables and adjacent-syllable pairs, the title counted twice.

    A document's terms are its syllables and the pairs of neighbours within one field;
    tf is 2·tf(title) + tf(body), the length likewise; k1 = 1.2, b = 0.75, idf =
    ln(1 + (N − df + 0.5) / (df + 0.5)). A query scores its distinct syllables and pairs.
    Postings are numpy arrays sorted by a 64-bit hash of the term.
    """

    K1, B, TITLE = 1.2, 0.75, 2

    def __init__(self, docs: Iterable[Document]):
        import numpy as np

        self.np = np
        self.ids: list[str] = []
        keys, doc_numbers, tfs, lengths = [], [], [], []
        for number, d in enumerate(docs):
            self.ids.append(d.id)
            counts: Counter[str] = Counter()
            for weight, text in ((self.TITLE, d.title), (1, d.body)):
                for term in self.terms(words(text)):
                    counts[term] += weight
            lengths.append(sum(counts.values()))
            keys.extend(hash(term) for term in counts)
            tfs.extend(counts.values())
            doc_numbers.extend([number] * len(counts))
        key_array = np.array(keys, dtype=np.int64)
        doc_array = np.array(doc_numbers, dtype=np.int32)
        tf_array = np.array(tfs, dtype=np.float32)
        length_array = np.array(lengths, dtype=np.float32)
        norm = self.K1 * (1 - self.B + self.B * length_array / length_array.mean())
        weights = tf_array * (self.K1 + 1) / (tf_array + norm[doc_array])
        order = np.argsort(key_array, kind="stable")
        self.keys, self.docs, self.weights = key_array[order], doc_array[order], weights[order]
        self.count = len(self.ids)

    @staticmethod
    def terms(syllables: list[str]) -> list[str]:
        return syllables + [f"{a} {b}" for a, b in zip(syllables, syllables[1:])]

    def search(self, text: str, k: int = 10) -> list[str]:
        """The ids of the best ``k`` documents for ``text`` (those scoring above zero)."""
        np = self.np
        scores = np.zeros(self.count, dtype=np.float32)
        for term in dict.fromkeys(self.terms(words(text))):
            key = hash(term)
            start, end = np.searchsorted(self.keys, [key, key + 1])
            df = end - start
            if df:
                idf = math.log(1 + (self.count - df + 0.5) / (df + 0.5))
                np.add.at(scores, self.docs[start:end], idf * self.weights[start:end])
        top = np.argsort(-scores, kind="stable")[:k]
        return [self.ids[i] for i in top if scores[i] > 0]
