"""The README's examples, run: its Python lines print what it shows, and each of its commands
prints what the Python call it stands for returns, on an index of the shipped corpus/."""

import doctest
import json
import re
import shlex
import shutil
from pathlib import Path

import pytest

from hnp_search import SearchEngine, read_articles
from hnp_search.cli import main

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def fenced_blocks(language: str) -> list[tuple[int, str]]:
    """(line number of the fence, text) of each of the README's ```language blocks."""
    lines = README.read_text(encoding="utf-8").splitlines()
    blocks, start = [], None
    for number, line in enumerate(lines, 1):
        if start is None and line.strip() == f"```{language}":
            start = number
        elif start is not None and line.strip() == "```":
            blocks.append((start, "\n".join(lines[start:number - 1]) + "\n"))
            start = None
    return blocks


def commands() -> list[list[str]]:
    """The ``hnp-search`` command lines of the README's quickstart (the shell block that indexes
    ``corpus/``), comments dropped."""
    (block,) = [block for _, block in fenced_blocks("sh") if "hnp-search index corpus/" in block]
    return [shlex.split(line, comments=True)[1:] for line in block.splitlines() if line.startswith("hnp-search ")]


@pytest.fixture()
def corpus_dir(tmp_path, monkeypatch):
    """A folder holding a copy of corpus/ and no index, as the working directory."""
    shutil.copytree(ROOT / "corpus", tmp_path / "corpus")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HNP_SEARCH_INDEX", raising=False)
    return tmp_path


def test_the_readme_shows_a_python_session_and_the_commands():
    assert len([b for _, b in fenced_blocks("python") if ">>>" in b]) == 1
    assert [args[0] for args in commands()] == ["index", *["search"] * 5, "persons", "show"]


def test_the_python_session_prints_what_the_readme_shows(corpus_dir):
    (line, block), = [(n, b) for n, b in fenced_blocks("python") if ">>>" in b]
    test = doctest.DocTestParser().get_doctest(block, {}, "README.md", str(README), line)
    output: list[str] = []
    result = doctest.DocTestRunner().run(test, out=output.append)
    assert result.failed == 0, "".join(output)
    assert result.attempted == block.count("\n>>> ") + block.startswith(">>> ")


def _search_call(args: list[str]) -> tuple[str, dict, str]:
    """``search`` arguments → (query, keyword arguments of ``SearchEngine.search``, output format)."""
    options = {"--limit": "limit", "-n": "limit", "--from": "date_from", "--to": "date_to", "--person": "person",
               "--sort": "sort"}  # fmt: skip
    words, kwargs, form = [], {}, "text"
    rest = iter(args)
    for arg in rest:
        if arg in options:
            value = next(rest)
            kwargs[options[arg]] = int(value) if options[arg] == "limit" else value
        elif arg in ("--json", "--html"):
            form = arg[2:]
        else:
            words.append(arg)
    return " ".join(words), kwargs, form


def test_each_command_prints_what_the_python_call_returns(corpus_dir, runner):
    lines = commands()
    result = runner.invoke(main, lines[0])
    assert (lines[0], result.exit_code) == (["index", "corpus/"], 0)
    total = len(list(read_articles("corpus/")))
    assert result.output.startswith(f"{total} added, 0 updated, 0 unchanged, 0 errors in ")

    with SearchEngine("index", create=False) as engine:
        for args in lines[1:]:
            result = runner.invoke(main, args)
            assert result.exit_code == 0, (args, result.output)
            if args[0] == "search":
                query, kwargs, form = _search_call(args[1:])
                hits = engine.search(query, **kwargs)
                assert hits, f"the README's example {args} finds nothing"
                if form == "json":
                    shown = json.loads(result.output)["hits"]
                    assert [(h["id"], h["title"]) for h in shown] == [(h.id, h.title) for h in hits]
                elif form == "html":
                    assert re.findall(r'<li id="([^"]+)">', result.output) == [h.id for h in hits]
                else:
                    titles = re.findall(r"^\s*\d+\. (.*)$", result.output, re.MULTILINE)
                    assert titles == [h.title_snippet.plain() for h in hits], args
            elif args[0] == "persons":
                top = int(args[args.index("--top") + 1])
                assert result.output.splitlines() == [f"{count:6d}  {name}" for name, count in engine.persons(top=top)]
            else:
                article = engine.get(args[1])
                assert article is not None and article.published is not None
                assert result.output.startswith(f"{article.title} ({article.published:%H:%M %d/%m/%Y})\n")
                assert result.output.endswith(article.body + "\n")


def test_the_html_form_of_the_json_example_lists_the_same_hits(corpus_dir, runner):
    (args,) = [a for a in commands() if "--json" in a]
    assert runner.invoke(main, ["index", "corpus/", "--jobs", "1"]).exit_code == 0
    as_json = [hit["id"] for hit in json.loads(runner.invoke(main, args).output)["hits"]]
    html = runner.invoke(main, [a if a != "--json" else "--html" for a in args]).output
    assert re.findall(r'<li id="([^"]+)">', html) == as_json != []
