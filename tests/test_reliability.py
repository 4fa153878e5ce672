"""No input, crash or damaged file takes the engine down (issue 19): bad strings, dead workers,
rejected-line memory, damaged index files, terminal-safe output."""

from __future__ import annotations

import json
import os
import sys

import pytest
from click.testing import CliRunner

from hnp_search import Article, SearchEngine
from hnp_search.cli import main

from conftest import ARTICLES


@pytest.fixture()
def runner():
    return CliRunner()


def _lines() -> list[str]:
    return ARTICLES.read_text(encoding="utf-8").splitlines(keepends=True)


# -- 1. bad strings -------------------------------------------------------------------


def test_a_lone_surrogate_in_a_json_line_rejects_that_line_and_the_job_goes_on(tmp_path, runner):
    corpus = tmp_path / "bad.jsonl"
    lines = _lines()
    corpus.write_text("".join(lines[:5]) + '{"id":"s","title":"x \\ud800","body":"b"}\n' + "".join(lines[5:]), encoding="utf-8")
    result = runner.invoke(main, ["index", str(corpus), "--index-dir", str(tmp_path / "ix"), "--jobs", "1"])
    assert result.exit_code == 3, result.output
    assert f"{corpus}:6: 'title' holds a lone surrogate" in result.output
    assert "Traceback" not in result.output
    with SearchEngine(tmp_path / "ix", create=False) as engine:
        assert len(engine) == 10


def test_an_article_object_with_a_lone_surrogate_is_skipped_with_a_message(tmp_path):
    bad = Article(id="bad", title="x \ud800", body="b")
    good = Article(id="good", title="Hà Nội", body="mùa thu")
    errors = []
    with SearchEngine(tmp_path / "ix") as engine:
        summary = engine.index([bad, good], jobs=1, on_error=errors.append)
        assert summary.added == 1 and len(engine) == 1
    assert "article 'bad' holds a lone surrogate '\\ud800'" in str(errors[0])


@pytest.mark.skipif(sys.platform != "linux", reason="file names are bytes on Linux")
def test_a_file_name_that_is_not_utf8_is_rejected_by_name_and_printable(tmp_path, runner):
    folder = tmp_path / "pages"
    folder.mkdir()
    page = "Tiêu đề (10:00 07/05/2024)\nHNP - dẫn\nthân bài\n".encode()
    with open(os.path.join(os.fsencode(folder), b"p\xfd.txt"), "wb") as f:
        f.write(page)
    (folder / "ok.txt").write_bytes(page)
    errors_json = tmp_path / "errors.json"
    result = runner.invoke(main, ["index", str(folder), "--index-dir", str(tmp_path / "ix"), "--jobs", "1",
                                  "--errors-json", str(errors_json)])
    assert result.exit_code == 3, result.output
    assert f"{folder}/p\\xfd.txt: the file name is not UTF-8" in result.output
    assert json.loads(errors_json.read_text(encoding="utf-8"))[0].startswith(f"{folder}/p\\xfd.txt:")
    with SearchEngine(tmp_path / "ix", create=False) as engine:
        assert engine.get("ok") is not None


def test_show_and_search_with_an_argument_that_is_not_utf8(tiny_index, runner):
    shown = runner.invoke(main, ["show", "\udcff", "--index-dir", str(tiny_index)])
    assert shown.exit_code == 1 and shown.output == "Error: no article with id '\\udcff'\n"
    found = runner.invoke(main, ["search", "\udcff", "--index-dir", str(tiny_index)])
    assert found.exit_code == 0 and "Traceback" not in found.output
