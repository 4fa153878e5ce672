"""The OpenSearch index: settings, whitespace-only fields scored by this project's BM25, recorded versions."""

from __future__ import annotations

from ..query.plan import FIELD_WEIGHTS
from ..retrieve.view import BM25_B, BM25_K1, IDF_POWER
from ..store.schema import TEXT_FIELDS
from ..text import analyze

#: Bump when the mapping changes in a way an existing index cannot serve; indexes record it
#: beside the analyzer version.
MAPPING_VERSION = 4

#: The embedded index's BM25 (``retrieve.view``): idf log(N / (df + 1)) + 1 raised to
#: IDF_POWER, times (K1 + 1) tf / (tf + K1 (1 - B + B length / average length)), the query
#: clause's boost carrying the plan's weight; what does not depend on the article is the
#: weight script's, computed once per term. N is the field's document count (every article
#: has a title and a body; an empty lead counts for less). The length is rounded up as Whoosh
#: stores it (its byte b stands for round(27 (1.033^b - 1))), from Lucene's, which is exact up to
#: 39 terms and beyond that the lowest of a run of 2^k lengths (4 significant bits of length - 24):
#: read as the middle of its run.
WEIGHT_SCRIPT = f"""
double idf = Math.pow(Math.log(field.docCount / (term.docFreq + 1.0)) + 1.0, {IDF_POWER});
return query.boost * idf * {BM25_K1 + 1};
"""
SIMILARITY_SCRIPT = f"""
double average = field.sumTotalTermFreq / (double) field.docCount;
double length = doc.length;
if (length >= 40.0) {{
  double step = Math.pow(2.0, Math.floor(Math.log(length - 24.0) / Math.log(2.0)) - 3.0);
  length += (step - 1.0) / 2.0;
}}
double b = Math.ceil(Math.log(length / 27.0 + 1.0) / Math.log(1.033)) - 1.0;
if (b < 0.0) {{
  b = 0.0;
}}
double rounded = Math.floor(27.0 * (Math.pow(1.033, b) - 1.0) + 0.5);
while (rounded < length) {{
  b += 1.0;
  rounded = Math.floor(27.0 * (Math.pow(1.033, b) - 1.0) + 0.5);
}}
double norm = {BM25_K1} * ({round(1 - BM25_B, 6)} + {BM25_B} * rounded / average);
return weight * doc.freq / (doc.freq + norm);
"""

#: Positional fields (syllables) and frequency-only fields (segmented words), as ``store.schema``.
SYLLABLE_FIELDS = tuple(f"{f}_{v}" for f in TEXT_FIELDS + ("author",) for v in ("s", "sf"))
WORD_FIELDS = tuple(f"{f}_{v}" for f in TEXT_FIELDS for v in ("w", "wf"))
#: The stored article, kept in ``_source`` only.
ARTICLE_FIELDS = ("title", "lead", "body", "author", "url", "source", "category", "persons")

assert set(FIELD_WEIGHTS) >= set(TEXT_FIELDS)


def index_body(shards: int = 1, replicas: int = 0) -> dict:
    """Settings and mappings of a new index."""
    syllables = {"type": "text", "analyzer": "spaces", "similarity": "hnp_bm25", "index_phrases": True}
    words = {"type": "text", "analyzer": "spaces", "similarity": "hnp_bm25", "index_options": "freqs"}
    keyword = {"type": "keyword"}
    properties: dict[str, dict] = {
        "id": keyword,
        "digest": {"type": "keyword", "index": False, "doc_values": False},
        "published": {"type": "date"},
        "category": keyword,
        "source": keyword,
        # What ``category:`` and ``source:`` may name a value by (``retrieve.facets``: case
        # and diacritics aside; a source also by its file name).
        "category_keys": keyword,
        "source_keys": keyword,
        "person_k": keyword,
        "person_kf": keyword,
        # "key<TAB>name as written": the spellings of each person, counted by ``persons``.
        "person_spellings": {"type": "keyword", "index": False},
        # Per article, its distinct terms by field and variant (``vocabulary_terms``): the
        # vocabulary the lexicon and "did you mean" read, as aggregations over every article.
        "vocabulary": {"type": "keyword", "index": False},
        "article": {"type": "object", "enabled": False},
    }
    properties.update(dict.fromkeys(SYLLABLE_FIELDS, syllables))
    properties.update(dict.fromkeys(WORD_FIELDS, words))
    return {
        "settings": {
            "number_of_shards": shards,
            "number_of_replicas": replicas,
            "analysis": {"analyzer": {"spaces": {"type": "custom", "tokenizer": "whitespace"}}},
            "similarity": {
                "hnp_bm25": {
                    "type": "scripted",
                    "weight_script": {"source": WEIGHT_SCRIPT},
                    "script": {"source": SIMILARITY_SCRIPT},
                }
            },
        },
        "mappings": {
            "dynamic": "strict",
            "_meta": meta(),
            # The term streams and vocabulary are indexed, not stored: _source keeps the article.
            "_source": {"excludes": [*SYLLABLE_FIELDS, *WORD_FIELDS, "vocabulary"]},
            "properties": properties,
        },
    }


def meta() -> dict:
    """What an index records of the code that built it."""
    return {"analyzer_version": analyze.ANALYZER_VERSION, "mapping_version": MAPPING_VERSION}


#: The variants whose terms are an article's vocabulary values.
VOCABULARY_VARIANTS = ("s", "w")


def vocabulary_terms(terms_by_field: dict[str, analyze.Terms]) -> list[str]:
    """An article's distinct ``field_variant:term`` values (syllables and words of each text
    field, as the lexicon reads them): counted over articles, each term's document frequency
    per field."""
    out: set[str] = set()
    for name, terms in terms_by_field.items():
        for variant in VOCABULARY_VARIANTS:
            out.update(f"{name}_{variant}:{t}" for t in getattr(terms, variant))
    return sorted(out)
