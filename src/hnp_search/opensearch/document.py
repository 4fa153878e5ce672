"""An article → the document the OpenSearch index holds (term streams, persons, vocabulary, the article)."""

from __future__ import annotations

from datetime import datetime

from .. import persons
from ..ingest import Article
from ..retrieve.facets import _keys as facet_keys
from ..store.schema import TEXT_FIELDS
from ..text import analyze
from ..text.normalize import fold
from .mapping import ARTICLE_FIELDS, vocabulary_terms


def article_document(article: Article) -> dict:
    """The indexed fields of one article (no id or digest: the writer adds those).

    Title, lead and body are segmented together, once, as for the embedded index; persons
    are found in the same words; the byline is analysed apart.
    """
    analysis = analyze.analyze_texts([getattr(article, name) for name in TEXT_FIELDS])
    by_field = dict(zip(TEXT_FIELDS, analysis.terms))
    doc: dict = {}
    for name, terms in by_field.items():
        doc.update({f"{name}_{v}": stream for v, stream in analyze.term_streams(terms).items()})
    author = analyze.terms(article.author or "")
    doc.update({f"author_{v}": stream for v, stream in analyze.term_streams(author, ("s", "sf")).items()})
    names = persons.extract_persons(analysis.text, analysis.words)
    keys = [persons.person_key(n) for n in names]
    doc.update(
        person_k=keys,
        person_kf=[fold(k) for k in keys],
        person_spellings=[f"{k}\t{n}" for k, n in zip(keys, names)],
        vocabulary=vocabulary_terms(by_field),
        published=article.published.isoformat() if article.published else None,
        category=article.category,
        source=article.source,
        category_keys=sorted(facet_keys("category", article.category)) if article.category else [],
        source_keys=sorted(facet_keys("source", article.source)) if article.source else [],
        article={name: getattr(article, name) for name in ARTICLE_FIELDS if name != "persons"} | {"persons": names},
    )
    return doc


def stored_article(source: dict) -> Article:
    """The ``Article`` a document's ``_source`` keeps."""
    stored = source.get("article") or {}
    published = source.get("published")
    return Article(
        id=source["id"],
        title=stored.get("title") or "",
        body=stored.get("body") or "",
        published=datetime.fromisoformat(published) if published else None,
        lead=stored.get("lead") or "",
        author=stored.get("author"),
        url=stored.get("url"),
        source=stored.get("source"),
        category=stored.get("category"),
    )
