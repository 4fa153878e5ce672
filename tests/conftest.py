"""Shared test fixtures and paths."""

import os
from pathlib import Path

import pytest

#: The seed of tests' random choices: $HNP_SEARCH_TEST_SEED, else this one (every run the same).
SEED = int(os.environ.get("HNP_SEARCH_TEST_SEED") or 20240507)


@pytest.fixture()
def seed() -> int:
    """The seed for a test's random choices; a failing test's report names it."""
    return SEED


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    parametrized = getattr(getattr(item, "callspec", None), "params", {})
    if report.failed and "seed" in getattr(item, "fixturenames", ()) and "seed" not in parametrized:
        report.sections.append(("seed", f"rerun with HNP_SEARCH_TEST_SEED={SEED}"))
    return report

# ../shared beside the project root (or $HNP_SEARCH_SHARED): corpora and eval data, read in place (see its README.md).
SHARED = Path(os.environ.get("HNP_SEARCH_SHARED") or Path(__file__).resolve().parents[2] / "shared")


@pytest.fixture(scope="session")
def shared() -> Path:
    """The ../shared folder; tests that use it are skipped when it is absent."""
    if not SHARED.is_dir():
        pytest.skip(f"../shared not found: {SHARED}")
    return SHARED


ARTICLES = Path(__file__).resolve().parent / "data" / "articles.jsonl"


@pytest.fixture(scope="session")
def articles_path() -> Path:
    """tests/data/articles.jsonl: ten short Vietnamese news articles (ids in ``tiny_index``)."""
    return ARTICLES


@pytest.fixture(scope="session")
def articles(articles_path) -> tuple:
    """The ten test articles, read (``Article`` values are frozen, so they are shared)."""
    from hnp_search import read_articles

    return tuple(read_articles(articles_path))


@pytest.fixture(scope="session")
def tiny_index(tmp_path_factory) -> Path:
    """An index of the ten test articles in tests/data/articles.jsonl, built once."""
    from hnp_search import SearchEngine

    path = tmp_path_factory.mktemp("tiny-index")
    with SearchEngine(path) as engine:
        summary = engine.index([ARTICLES], jobs=1)
    assert summary.added == 10 and not summary.errors
    return path


@pytest.fixture()
def runner():
    """click's CliRunner, stdout and stderr apart (``result.output`` / ``result.stderr``)."""
    from click.testing import CliRunner

    return CliRunner()


@pytest.fixture()
def engine(tiny_index):
    from hnp_search import SearchEngine

    with SearchEngine(tiny_index, create=False) as engine:
        yield engine
