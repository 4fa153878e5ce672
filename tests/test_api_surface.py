"""The public API: exactly these names, classes and signatures (what other programs import must
stay there, and anything new is added here on purpose)."""

import dataclasses
import inspect

import hnp_search

#: ``hnp_search.__all__``, sorted.
EXPORTED = [
    "Article",
    "EngineClosedError",
    "Hit",
    "HnpSearchError",
    "IndexBusyError",
    "IndexCorruptError",
    "IndexNotFoundError",
    "IndexSummary",
    "IndexVersionError",
    "IngestError",
    "JobError",
    "QueryCostError",
    "QuerySyntaxError",
    "Results",
    "SearchEngine",
    "Snippet",
    "SynonymsError",
    "read_articles",
]


def test_the_package_exports_exactly_the_public_api():
    assert hnp_search.__all__ == EXPORTED


def test_every_public_name_in_the_package_namespace_is_exported():
    members = vars(hnp_search).items()
    public = {name for name, value in members if not name.startswith("_") and not inspect.ismodule(value)}
    assert public == set(EXPORTED)
    namespace: dict = {}
    exec("from hnp_search import *", namespace)
    assert set(namespace) - {"__builtins__"} == set(EXPORTED)


def test_exported_members_are_defined_in_the_package():
    for name in EXPORTED:
        member = getattr(hnp_search, name)
        assert (member.__name__, member.__module__.split(".")[0]) == (name, "hnp_search")


def test_every_error_users_can_cause_is_one_family():
    errors = {name: getattr(hnp_search, name) for name in EXPORTED if name.endswith("Error")}
    assert {name: [base.__name__ for base in error.__bases__] for name, error in errors.items()} == {
        "EngineClosedError": ["HnpSearchError"],
        "HnpSearchError": ["Exception"],
        "IndexBusyError": ["HnpSearchError"],
        "IndexCorruptError": ["HnpSearchError"],
        "IndexNotFoundError": ["HnpSearchError"],
        "IndexVersionError": ["HnpSearchError"],
        "IngestError": ["HnpSearchError"],
        "JobError": ["HnpSearchError"],
        "QueryCostError": ["QuerySyntaxError"],
        "QuerySyntaxError": ["HnpSearchError"],
        "SynonymsError": ["HnpSearchError"],
    }


def _parameters(function) -> list[tuple[str, str, object]]:
    """(name, kind, default) of each parameter but ``self``."""
    parameters = inspect.signature(function).parameters.values()
    return [(p.name, p.kind.name, p.default) for p in parameters if p.name != "self"]


EMPTY = inspect.Parameter.empty


def test_search_engine_has_exactly_the_documented_methods():
    methods = sorted(name for name, _ in inspect.getmembers(hnp_search.SearchEngine, inspect.isfunction))
    assert [m for m in methods if not m.startswith("_")] == [
        "check", "close", "delete", "explain", "get", "index", "persons", "persons_of", "reader", "refresh", "search",
        "similar", "stats", "suggest", "synonyms",
    ]  # fmt: skip
    assert {"__enter__", "__exit__", "__init__", "__len__"} <= set(methods)


def test_the_documented_methods_take_the_documented_arguments():
    engine = hnp_search.SearchEngine
    assert _parameters(engine.__init__) == [
        ("index_dir", "POSITIONAL_OR_KEYWORD", None),
        ("create", "KEYWORD_ONLY", True),
        ("synonyms", "KEYWORD_ONLY", None),
    ]
    assert _parameters(engine.search) == [
        ("query", "POSITIONAL_OR_KEYWORD", EMPTY),
        ("offset", "KEYWORD_ONLY", 0),
        ("limit", "KEYWORD_ONLY", 10),
        ("date_from", "KEYWORD_ONLY", None),
        ("date_to", "KEYWORD_ONLY", None),
        ("person", "KEYWORD_ONLY", None),
        ("category", "KEYWORD_ONLY", None),
        ("source", "KEYWORD_ONLY", None),
        ("sort", "KEYWORD_ONLY", "relevance"),
        ("facets", "KEYWORD_ONLY", ()),
        ("highlight", "KEYWORD_ONLY", True),
    ]
    assert _parameters(engine.index) == [
        ("sources", "POSITIONAL_OR_KEYWORD", EMPTY),
        ("rebuild", "KEYWORD_ONLY", False),
        ("jobs", "KEYWORD_ONLY", None),
        ("progress", "KEYWORD_ONLY", None),
        ("on_error", "KEYWORD_ONLY", None),
        ("prune", "KEYWORD_ONLY", False),
        ("exclude", "KEYWORD_ONLY", ()),
    ]
    assert _parameters(engine.delete) == [("ids", "POSITIONAL_OR_KEYWORD", EMPTY)]
    assert _parameters(engine.similar) == [
        ("article_id", "POSITIONAL_OR_KEYWORD", EMPTY),
        ("limit", "POSITIONAL_OR_KEYWORD", 10),
    ]
    assert _parameters(engine.explain) == [
        ("query", "POSITIONAL_OR_KEYWORD", EMPTY),
        ("date_from", "KEYWORD_ONLY", None),
        ("date_to", "KEYWORD_ONLY", None),
        ("person", "KEYWORD_ONLY", None),
        ("category", "KEYWORD_ONLY", None),
        ("source", "KEYWORD_ONLY", None),
        ("sort", "KEYWORD_ONLY", "relevance"),
    ]
    assert _parameters(engine.get) == [("article_id", "POSITIONAL_OR_KEYWORD", EMPTY)]
    assert _parameters(engine.suggest) == [("query", "POSITIONAL_OR_KEYWORD", EMPTY)]
    assert _parameters(engine.persons) == [
        ("query", "POSITIONAL_OR_KEYWORD", None),
        ("top", "POSITIONAL_OR_KEYWORD", 20),
        ("filters", "VAR_KEYWORD", EMPTY),
    ]
    assert _parameters(hnp_search.read_articles) == [
        ("paths", "VAR_POSITIONAL", EMPTY),
        ("on_error", "KEYWORD_ONLY", None),
        ("exclude", "KEYWORD_ONLY", ()),
    ]


def test_values_have_the_documented_fields_and_results_are_frozen():
    def fields(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    assert fields(hnp_search.Article) == [
        "id", "title", "body", "published", "lead", "author", "url", "source", "category",
    ]  # fmt: skip
    assert fields(hnp_search.Hit) == [
        "id", "title", "published", "score", "snippets", "article", "title_snippet", "persons", "matched_persons",
        "all_words",
    ]  # fmt: skip
    assert fields(hnp_search.Results) == [
        "hits", "total", "total_all_words", "offset", "limit", "facets", "suggestion",
    ]  # fmt: skip
    assert fields(hnp_search.Snippet) == ["text", "matches"]
    assert fields(hnp_search.IndexSummary) == [
        "added", "updated", "skipped", "errors", "seconds", "index_bytes", "pruned", "rejected",
    ]  # fmt: skip
    frozen = [cls.__name__ for cls in (hnp_search.Article, hnp_search.Hit, hnp_search.Results, hnp_search.Snippet)]
    assert [name for name in frozen if getattr(hnp_search, name).__dataclass_params__.frozen] == frozen
