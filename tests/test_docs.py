"""The examples in docstrings, run as doctests (the engine's on an index of the shipped corpus/)."""

import doctest
import importlib
import shutil
from pathlib import Path

import pytest

from hnp_search import SearchEngine

ROOT = Path(__file__).resolve().parents[1]

#: Every module with examples in its docstrings.
MODULES = ["hnp_search.api", "hnp_search.persons", "hnp_search.query.telex", "hnp_search.text.segment"]


def _runs_examples(text: str) -> bool:
    """Whether a module has an example doctest runs (one not marked ``+SKIP``)."""
    return any(">>> " in line and "+SKIP" not in line for line in text.splitlines())


def test_every_module_with_examples_is_listed():
    source = ROOT / "src"
    found = sorted(
        ".".join(path.relative_to(source).with_suffix("").parts)
        for path in source.rglob("*.py")
        if _runs_examples(path.read_text(encoding="utf-8"))
    )
    assert found == MODULES


def run_examples(name: str, **globs) -> None:
    output: list[str] = []
    finder, runner = doctest.DocTestFinder(), doctest.DocTestRunner()
    for test in finder.find(importlib.import_module(name), extraglobs=globs):
        runner.run(test, out=output.append)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, "".join(output)
    assert result.attempted > 0


@pytest.mark.parametrize("name", [m for m in MODULES if m != "hnp_search.api"])
def test_docstring_examples_print_what_they_show(name):
    run_examples(name)


def test_the_engine_s_examples_print_what_they_show_on_the_shipped_corpus(tmp_path, monkeypatch):
    shutil.copytree(ROOT / "corpus", tmp_path / "corpus")
    monkeypatch.chdir(tmp_path)  # the class's example makes index/ here
    with SearchEngine(tmp_path / "built") as engine:  # the ``engine`` of the methods' examples
        engine.index(["corpus/"], jobs=1)
        run_examples("hnp_search.api", engine=engine)
