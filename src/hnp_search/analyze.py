"""Analysis: segment clean Vietnamese text into words and syllables with character offsets, and turn them into index terms.

Every text field is indexed four ways, so that a query matches whether or not it
carries diacritics and whether it names a whole word or one syllable of it:

    <field>_s   syllables, canonical form ("hòa", "nội")      positions kept
    <field>_sf  syllables, folded ("hoa", "noi")               positions kept
    <field>_w   segmented multi-syllable words ("hà_nội")      frequencies only
    <field>_wf  folded words ("ha_noi")                        frequencies only

Only this module reads underthesea, lazily: its tokenizer and model load in ~0.3 s.
"""

from __future__ import annotations

import builtins
import importlib.util
import pickle
import re
from functools import lru_cache
from pathlib import Path
from types import ModuleType, SimpleNamespace
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
        try:
            self._patterns, self._token_normalize, self._model = _load_files()
        except Exception:  # noqa: BLE001 - files laid out otherwise: underthesea's own import
            self._patterns, self._token_normalize, self._model = _load_package()

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


class _CRF(NamedTuple):
    featurizer: object
    estimator: object


def _load_files():
    """(token pattern, token normalizer, CRF model) from underthesea 9.5's files, without
    importing the ``underthesea`` package: its ``__init__`` imports every pipeline it has
    (NER, classification, translation …), half a second of every first query. The few
    source files tokenizing needs run in namespaces of their own; the model files are read
    with the C unpickler (joblib's pure-Python one took 0.2 s more)."""
    from underthesea_core import CRFFeaturizer, CRFTagger

    spec = importlib.util.find_spec("underthesea")  # locates, does not run, the package
    root = Path(spec.origin).parent / "pipeline"
    joblib = SimpleNamespace(load=lambda path: pickle.loads(Path(path).read_bytes()))
    rules = _run_alone(root / "text_normalize" / "text_normalizer.py", {"joblib": joblib})
    characters = _run_alone(root / "text_normalize" / "character_normalize.py", {"text_normalizer": rules})
    tokens = _run_alone(
        root / "text_normalize" / "token_normalize.py", {"text_normalizer": rules, "character_normalize": characters}
    )
    regex = _run_alone(
        root / "word_tokenize" / "regex_tokenize.py",
        {
            "underthesea.pipeline.text_normalize": tokens,
            "underthesea.pipeline.text_normalize.character_normalize": characters,
        },
    )
    model = root / "word_tokenize" / "models" / _MODEL
    estimator = CRFTagger()
    estimator.load(str(model / "models.bin"))
    featurizer = CRFFeaturizer(*(pickle.loads((model / name).read_bytes()) for name in ("features.bin", "dictionary.bin")))
    return regex.patterns, tokens.token_normalize, _CRF(featurizer, estimator)


def _run_alone(path: Path, imports: dict[str, object]) -> ModuleType:
    """Run one source file as a module of its own; the imports named in ``imports`` (by the
    name after ``from``/``import``, leading dots dropped) come from there, any other of
    underthesea's fails, the standard library's are imported as usual."""

    def import_(name, globals=None, locals=None, fromlist=(), level=0):
        if name in imports:
            return imports[name]
        if level or name.startswith("underthesea"):
            raise ImportError(f"{path} imports {name}, not provided")
        return __import__(name, globals, locals, fromlist, level)

    module = ModuleType(f"_hnp_search_{path.stem}")
    module.__file__ = str(path)
    module.__builtins__ = {**vars(builtins), "__import__": import_}
    exec(compile(path.read_bytes(), str(path), "exec"), vars(module))
    return module


def _load_package():
    """The same three, loaded through underthesea's own package."""
    from underthesea.pipeline import word_tokenize as module
    from underthesea.pipeline.text_normalize import token_normalize
    from underthesea.pipeline.word_tokenize import regex_tokenize

    module.word_tokenize("Hà Nội")  # loads the model
    return regex_tokenize.patterns, token_normalize, module.word_tokenize_model


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
