"""Analysis: segment clean Vietnamese text into words and syllables with character offsets, and turn them into index terms.

Every text field is indexed four ways, so that a query matches whether or not it
carries diacritics and whether it names a whole word or one syllable of it:

    <field>_s   syllables, canonical form ("hòa", "nội")      positions kept
    <field>_sf  syllables, folded ("hoa", "noi")               positions kept
    <field>_w   segmented multi-syllable words ("hà_nội")      frequencies only
    <field>_wf  folded words ("ha_noi")                        frequencies only

Only this module imports underthesea, lazily: importing it and loading the model take ~1 s.
"""

from __future__ import annotations

import pickle
import re
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Iterator, NamedTuple

from whoosh.analysis import Token, Tokenizer

from .normalize import fold, normalize_term

#: Bump when the terms produced for a given text change; indexes record it.
ANALYZER_VERSION = 3

VARIANTS = ("s", "sf", "w", "wf")
WORD_JOINER = "_"

# A sentence ends at . ! ? … followed by space; lines always end one. Segmenting
# sentence by sentence keeps punctuation from gluing words together.
_SENTENCE = re.compile(r"[^\n]*?(?:[.!?…]+(?=\s)|$)", re.MULTILINE)
_ALNUM = re.compile(r"\w")


class Word(NamedTuple):
    """One segmented word: its span in the text and the spans of its syllables."""

    start: int
    end: int
    syllables: tuple[tuple[int, int], ...]


class _Segmenter:
    """underthesea's regex tokenizer and CRF word segmenter, loaded on first use.

    Calls the two stages of ``underthesea.word_tokenize`` directly so that every
    token keeps its exact span in the input (``word_tokenize`` may rewrite text).
    """

    def __init__(self):
        from underthesea.pipeline import word_tokenize as module
        from underthesea.pipeline.text_normalize import token_normalize
        from underthesea.pipeline.word_tokenize import regex_tokenize

        self._patterns = regex_tokenize.patterns
        self._token_normalize = token_normalize
        self._model = _crf_model(module)

    def segment(self, text: str) -> list[Word]:
        # Token spans, sentence by sentence; the CRF featurizer is called on
        # batches of sentences (about a quarter faster than one by one).
        sentences: list[list[tuple[int, int]]] = []
        for m in _SENTENCE.finditer(text):
            spans = [(t.start() + m.start(), t.end() + m.start()) for t in self._patterns.finditer(m.group())]
            if spans:
                sentences.append(spans)
        words: list[Word] = []
        for first in range(0, len(sentences), _BATCH):
            batch = sentences[first : first + _BATCH]
            features = self._model.featurizer.process(
                [[[self._token_normalize(text[a:b])] for a, b in spans] for spans in batch]
            )
            for spans, x in zip(batch, features):
                words += _join(text, spans, self._model.estimator.tag(x))
        return words


_BATCH = 16
#: The word segmentation model underthesea ships (``models/`` beside ``word_tokenize``).
_MODEL = "ws_crf_vlsp2013_20230727"


def _crf_model(module):
    """underthesea's CRF word segmentation model, its files read as underthesea reads them
    but with the C unpickler (joblib's pure-Python one took 0.2 s of every first query);
    loaded by underthesea itself if its files are not where this version keeps them."""
    from underthesea.models.fast_crf_sequence_tagger import FastCRFSequenceTagger
    from underthesea_core import CRFFeaturizer, CRFTagger

    model = FastCRFSequenceTagger()
    path = Path(module.__file__).parent / "models" / _MODEL
    try:
        features, dictionary = (pickle.loads((path / name).read_bytes()) for name in (model.path_features, model.path_dictionary))
        model.estimator = CRFTagger()
        model.estimator.load(str(path / model.path_model))
    except (OSError, ValueError, pickle.UnpicklingError):
        module.word_tokenize("Hà Nội")  # loads the model underthesea's way
        return module.word_tokenize_model
    model.featurizer = CRFFeaturizer(features, dictionary)
    return model


def _join(text: str, spans: list[tuple[int, int]], tags: list[str]) -> list[Word]:
    """Group token spans into words by the CRF's B-W / I-W tags; tokens joined by
    hyphens or dots count as their parts ("Covid-19" -> "Covid", "19")."""
    words: list[Word] = []
    current: list[tuple[int, int]] = []
    for tag, span in zip(tags, spans):
        if not (tag == "I-W" and current):
            if current:
                words.append(Word(current[0][0], current[-1][1], tuple(current)))
            current = []
        current += _parts(text, *span)
    words.append(Word(current[0][0], current[-1][1], tuple(current)))
    return words


# Where a token splits into syllables: a hyphen between letters or digits
# ("Covid-19", "SARS-CoV-2"), a dot unless between digits ("TP.HCM", not "2.230").
_SPLIT = re.compile(r"(?<=\w)(?:-|\.(?!\d)|(?<!\d)\.)(?=\w)")


def _parts(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The syllable spans of the token text[start:end]."""
    token = text[start:end]
    if "-" not in token and "." not in token:
        return [(start, end)]
    out, last = [], start
    for m in _SPLIT.finditer(token):
        out.append((last, start + m.start()))
        last = start + m.end()
    out.append((last, end))
    return out


@lru_cache(maxsize=1)
def _segmenter() -> _Segmenter:
    return _Segmenter()


def segment(text: str) -> list[Word]:
    """Split NFC ``text`` into words, each with its syllables' character spans in ``text``.

    >>> [text[w.start:w.end] for text in ["Thành phố Hà Nội."] for w in segment(text)]
    ['Thành phố', 'Hà Nội', '.']
    """
    return _segmenter().segment(text)


class Terms(NamedTuple):
    """The index terms of one text, one list per variant (see the module docstring)."""

    s: list[str]
    sf: list[str]
    w: list[str]
    wf: list[str]


def terms(text: str) -> Terms:
    """Segment ``text`` once and return its terms in all four variants."""
    return terms_of_words(text, segment(text))


def terms_of_words(text: str, words: Iterable[Word]) -> Terms:
    s: list[str] = []
    w: list[str] = []
    for word in words:
        syllables = [normalize_term(text[a:b]) for a, b in word.syllables if _ALNUM.search(text, a, b)]
        s.extend(syllables)
        if len(syllables) > 1:
            w.append(WORD_JOINER.join(syllables))
    return Terms(s, [fold(t) for t in s], w, [fold(t) for t in w])


class QueryWord(NamedTuple):
    """One word of a query: its syllables as typed (normalized) and whether it had diacritics."""

    text: str
    syllables: tuple[str, ...]


@lru_cache(maxsize=4096)
def query_words(text: str) -> tuple[QueryWord, ...]:
    """Segment a query the way documents are segmented; drop punctuation. Cached: one
    search asks for the same words while compiling, filtering and highlighting."""
    out = []
    for word in segment(text):
        syllables = tuple(
            normalize_term(text[a:b]) for a, b in word.syllables if _ALNUM.search(text, a, b)
        )
        if syllables:
            out.append(QueryWord(text[word.start : word.end], syllables))
    return tuple(out)


class VietnameseTokenizer(Tokenizer):
    """Whoosh tokenizer producing one variant of the terms (``"s"``, ``"sf"``, ``"w"``, ``"wf"``).

    Given a string it segments it, yielding tokens with positions and character
    offsets into that string. Given a list of terms (precomputed by ``terms`` in
    a worker process) it yields them with consecutive positions.
    """

    def __init__(self, variant: str = "s"):
        if variant not in VARIANTS:
            raise ValueError(f"unknown variant {variant!r}")
        self.variant = variant

    def __eq__(self, other):
        return type(other) is type(self) and other.variant == self.variant

    def __call__(self, value, positions=False, chars=False, keeporiginal=False,
                 removestops=True, start_pos=0, start_char=0, tokenize=True, mode="",
                 **kwargs) -> Iterator[Token]:
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        if isinstance(value, (list, tuple)):
            for pos, text in enumerate(value, start_pos):
                token.text = text
                token.boost = 1.0
                token.stopped = False
                if positions:
                    token.pos = pos
                yield token
            return
        pos = start_pos
        for text, start, end in _spans(value, self.variant):
            token.text = text
            token.boost = 1.0
            token.stopped = False
            if keeporiginal:
                token.original = value[start:end]
            if positions:
                token.pos = pos
            if chars:
                token.startchar = start_char + start
                token.endchar = start_char + end
            pos += 1
            yield token


def _spans(text: str, variant: str) -> Iterator[tuple[str, int, int]]:
    """Terms of one variant with their character spans in ``text``."""
    folded = variant.endswith("f")
    for word in segment(text):
        parts = [(normalize_term(text[a:b]), a, b) for a, b in word.syllables if _ALNUM.search(text, a, b)]
        if variant.startswith("s"):
            for term, a, b in parts:
                yield (fold(term) if folded else term), a, b
        elif len(parts) > 1:
            term = WORD_JOINER.join(p[0] for p in parts)
            yield (fold(term) if folded else term), parts[0][1], parts[-1][2]


def VietnameseAnalyzer(variant: str = "s") -> VietnameseTokenizer:
    """The analyzer for one variant; a function so it reads like Whoosh's own analyzers."""
    return VietnameseTokenizer(variant)
