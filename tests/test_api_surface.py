"""The public API: what other programs import must stay there."""

import hnp_search

CONTRACT = {"SearchEngine", "read_articles", "Article", "Hit", "HnpSearchError", "QuerySyntaxError", "IngestError"}


def test_public_names_are_exported_sorted_and_importable():
    assert hnp_search.__all__ == sorted(hnp_search.__all__)
    assert CONTRACT <= set(hnp_search.__all__)
    for name in hnp_search.__all__:
        assert getattr(hnp_search, name) is not None


def test_every_error_users_can_cause_is_one_family():
    for name in ("IndexNotFoundError", "IndexVersionError", "IndexBusyError", "IngestError", "QuerySyntaxError"):
        assert issubclass(getattr(hnp_search, name), hnp_search.HnpSearchError)


def test_search_engine_has_the_documented_methods():
    for method in ("index", "search", "get", "persons", "suggest", "refresh", "close", "__len__"):
        assert callable(getattr(hnp_search.SearchEngine, method))
