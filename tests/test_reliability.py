"""No input, crash or damaged file takes the engine down (issue 19): bad strings, dead workers,
rejected-line memory, damaged index files, terminal-safe output."""

from __future__ import annotations

import json
import os
import sys

import pytest

from hnp_search import Article, SearchEngine
from hnp_search.cli import main

from conftest import ARTICLES


def _lines() -> list[str]:
    return ARTICLES.read_text(encoding="utf-8").splitlines(keepends=True)


# -- 1. bad strings -------------------------------------------------------------------


def test_a_lone_surrogate_in_a_json_line_rejects_that_line_and_the_job_goes_on(tmp_path, runner):
    corpus = tmp_path / "bad.jsonl"
    lines = _lines()
    bad = '{"id":"s","title":"x \\ud800","body":"b"}\n'
    corpus.write_text("".join(lines[:5]) + bad + "".join(lines[5:]), encoding="utf-8")
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


# -- 3. bounded memory ------------------------------------------------------------------

_PEAK_RSS = """
import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss is in kB on Linux")
def test_a_million_rejected_lines_keep_memory_bounded(tmp_path):
    import gzip

    source = tmp_path / "empty.jsonl.gz"
    with gzip.open(source, "wb") as f:
        f.write(b"{}\n" * 1_000_000)
    errors_json = tmp_path / "errors.json"
    command = [sys.executable, "-m", "hnp_search", "index", str(source), "--index-dir", str(tmp_path / "ix"),
               "--jobs", "1", "--errors-json", str(errors_json)]
    import subprocess

    # A fresh process whose only descendant is the job (run with --jobs 1: one process).
    peak_kb = int(subprocess.run([sys.executable, "-c", _PEAK_RSS, *command], capture_output=True, text=True,
                                 check=True).stdout)
    assert peak_kb < 300_000, f"peak RSS {peak_kb / 1000:.0f} MB"
    errors = json.loads(errors_json.read_text(encoding="utf-8"))
    assert len(errors) == 1_000_000 and errors[-1] == f"{source}:1000000: missing or empty 'id'"


def test_what_reading_rejects_is_counted_first_and_kept_bounded_for_both_engines(tmp_path, monkeypatch):
    # SearchEngine and OpenSearchEngine both read their inputs through indexing.job.Sources.
    from hnp_search.indexing import job

    monkeypatch.setattr(job, "MAX_ERRORS_KEPT", 3)
    source = tmp_path / "bai.jsonl"
    source.write_text('{"id": "a", "title": "Hà Nội", "body": "Phố cổ"}\n{}\n{}\n{}\n{}\n', encoding="utf-8")
    met = []
    sources = job.Sources([source, Article(id="b", title="Hồ Tây", body="Mùa thu")], met.append)
    assert [a.id for a in sources] == ["a", "b"] and sources.seen == {"a", "b"}
    summary = job.IndexSummary(errors=["the job's own"], rejected=1)
    sources.counted(summary)
    assert summary.rejected == 5 and len(met) == 4
    assert summary.errors == [f"{source}:2: missing or empty 'id'", f"{source}:3: missing or empty 'id'",
                              f"{source}:4: missing or empty 'id'"]


# -- 11. small items ---------------------------------------------------------------------


def test_the_default_index_and_an_errors_report_inside_the_input_folder_are_not_read(tmp_path, runner, monkeypatch):
    (tmp_path / "bai.jsonl").write_text("".join(_lines()), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HNP_SEARCH_INDEX", raising=False)
    for _ in range(2):
        result = runner.invoke(main, ["index", ".", "--jobs", "1", "--errors-json", "errors.json"])
        assert result.exit_code == 0, result.output
        assert result.stdout.startswith("0 added" if _ else "10 added")
    assert json.loads((tmp_path / "errors.json").read_text(encoding="utf-8")) == []


# -- 4. damaged indexes -------------------------------------------------------------------

_QUERIES = [["search", "Hà Nội"], ["search", "ha noi", "-n", "3"], ["search", '"ga Hà Nội"'],
            ["search", "metro OR Tây"],
            ["show", "metro-nhon-ga-ha-noi"], ["persons"]]


def _kind_of(name: str) -> str:
    return "toc" if name.endswith(".toc") else "segment" if name.endswith(".seg") else name


def _damage(path, how: str) -> None:
    data = bytearray(path.read_bytes())
    if how == "truncate":
        data = data[: len(data) // 2]
    elif how == "zero":
        at = int(len(data) * 0.9)
        data[at : at + 4096] = bytes(len(data[at : at + 4096]))
    else:  # flip a bit every 97 bytes
        for at in range(len(data) // 3, len(data), 97):
            data[at] ^= 0x10
    path.write_bytes(bytes(data))


def _run(runner, args, index_dir):
    result = runner.invoke(main, [*args, "--index-dir", str(index_dir)])
    assert result.exception is None or isinstance(result.exception, SystemExit), (args, result.exception)
    assert "Traceback" not in result.output
    assert result.exit_code == 0 or result.output.splitlines()[-1].startswith("Error: "), (args, result.output)
    return result


@pytest.mark.parametrize("how", ["truncate", "zero", "flip"])
@pytest.mark.parametrize("kind", ["toc", "segment", "hnp-search.json", "lexicon.pickle", "hnp-search.sums"])
def test_a_damaged_index_file_gives_a_clear_error_or_check_finds_it_and_rebuild_repairs_it(
    tiny_index, tmp_path, runner, kind, how
):
    import shutil

    index_dir = tmp_path / "ix"
    shutil.copytree(tiny_index, index_dir)
    before = {tuple(args): _run(runner, args, index_dir).output for args in _QUERIES}
    (victim,) = [p for p in index_dir.iterdir() if _kind_of(p.name) == kind]
    _damage(victim, how)

    for args in _QUERIES:
        result = _run(runner, args, index_dir)
        if result.exit_code:
            assert "is damaged" in result.output or "could not be read" in result.output, result.output
            assert "hnp-search index --rebuild" in result.output or "hnp-search check" in result.output
        else:
            assert result.output == before[tuple(args)], (args, "results changed silently")
    check = _run(runner, ["check"], index_dir)
    if kind == "lexicon.pickle":  # a cache holding its own checksum: rebuilt, never used damaged
        assert check.exit_code == 0, check.output
    else:
        assert check.exit_code == 1 and f"damaged  {victim.name}" in check.output, check.output

    rebuilt = runner.invoke(main, ["index", str(ARTICLES), "--rebuild", "--jobs", "1", "--index-dir", str(index_dir)])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert _run(runner, ["check"], index_dir).exit_code == 0
    assert {tuple(args): _run(runner, args, index_dir).output for args in _QUERIES} == before


def test_missing_metadata_is_reported_as_missing(tiny_index, tmp_path, runner):
    import shutil

    index_dir = tmp_path / "ix"
    shutil.copytree(tiny_index, index_dir)
    (index_dir / "hnp-search.json").unlink()
    result = _run(runner, ["search", "Hà Nội"], index_dir)
    assert result.exit_code == 1
    assert "hnp-search.json: missing: the analyzer version that built the index is unknown" in result.output
    assert "None" not in result.output


# -- 5. negation inside OR and groups, as set algebra says ---------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


def _syllables_by_article() -> dict[str, set[str]]:
    """Each test article's folded syllables in title, lead and body: the brute force's truth."""
    import re

    from hnp_search.text.normalize import fold

    return {a.id: set(re.findall(r"[a-z]+", fold(f"{a.title}\n{a.lead}\n{a.body}").lower()))
            for a in read_articles_list()}


def read_articles_list():
    from hnp_search import read_articles

    return list(read_articles(ARTICLES))


_TRUTH = _syllables_by_article()
_ATOMS = sorted(w for w in set().union(*_TRUTH.values())
                if len(w) > 2 and w not in ("and", "not") and 2 <= sum(w in s for s in _TRUTH.values()) <= 8)[:40]

_TREES = st.recursive(
    st.sampled_from(_ATOMS).map(lambda w: ("word", w)),
    lambda inner: st.one_of(
        inner.map(lambda t: ("not", t)),
        st.lists(inner, min_size=2, max_size=3).map(lambda ts: ("and", ts)),
        st.lists(inner, min_size=2, max_size=3).map(lambda ts: ("or", ts)),
    ),
    max_leaves=6,
)


def _query(tree) -> str:
    kind, arg = tree
    if kind == "word":
        return arg
    if kind == "not":
        return f"-({_query(arg)})" if arg[0] != "word" else f"-{arg[1]}"
    return "(" + (" " if kind == "and" else " OR ").join(_query(t) for t in arg) + ")"


def _brute(tree) -> set[str]:
    kind, arg = tree
    everything = set(_TRUTH)
    if kind == "word":
        return {doc for doc, words in _TRUTH.items() if arg in words}
    if kind == "not":
        return everything - _brute(arg)
    sets = [_brute(t) for t in arg]
    return set.intersection(*sets) if kind == "and" else set.union(*sets)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tree=_TREES)
def test_negation_inside_or_and_groups_matches_set_algebra(engine, tree):
    from hnp_search.query.parse import parse
    from hnp_search.retrieve.match import NodeMatcher

    reader = engine.reader()
    found = NodeMatcher(reader).match(parse(_query(tree))).docs  # articles with all words: no loose matches
    found = reader.all_docs() if found is None else found
    ids = {reader.reader.stored_fields(d)["id"] for d in found}
    assert ids == _brute(tree), _query(tree)


@pytest.mark.parametrize("query, expected", [
    ('-"hà nội" OR -xyzzyq', 10), ("date:2024 OR -date:2024", 10), ("metro OR -metro", 10),
])
def test_an_exclusion_as_an_alternative_keeps_what_it_does_not_exclude(engine, query, expected):
    assert len(engine.search(query, limit=100)) == expected


# -- 6. terminal-safe output ---------------------------------------------------------------

_EVIL = "\x1b[2J\x1b]0;pwned\x07x\u009b31m\u202edcba\u2066"


@pytest.fixture(scope="module")
def evil_index(tmp_path_factory):
    path = tmp_path_factory.mktemp("evil")
    source = path / "evil.jsonl"
    record = {"id": f"id{_EVIL}", "title": f"Hà Nội {_EVIL}", "body": f"Hà Nội mùa thu {_EVIL} phố cổ",
              "lead": f"Hà Nội {_EVIL}", "author": f"Tác giả {_EVIL}", "url": f"http://x/{_EVIL}", "category": _EVIL}
    source.write_text(json.dumps(record) + "\n", encoding="utf-8")
    with SearchEngine(path / "ix") as engine:
        assert engine.index([source], jobs=1).added == 1
    return path / "ix"


def _assert_inert(text: str):
    for char in "\x1b\x07\u009b\u202e\u2066":
        assert char not in text, (char, text)


@pytest.mark.parametrize("args", [
    ["search", "Hà Nội"], ["search", "Hà Nội", "--color"], ["search", "Hà Nội", "--html"],
    ["search", "Hà Nội", "--json"], ["show", f"id{_EVIL}"], ["show", f"id{_EVIL}", "--json"], ["persons"],
    ["search", f"xyz{_EVIL}"],
], ids=["search", "color", "html", "json", "show", "show-json", "persons", "query"])
def test_control_characters_in_any_field_never_reach_the_terminal(evil_index, runner, args):
    result = runner.invoke(main, [*args, "--index-dir", str(evil_index)], color="--color" in args)
    assert result.exit_code == 0, result.output
    shown = result.output.replace("\x1b[1;33m", "").replace("\x1b[0m", "")  # our own highlighting
    _assert_inert(shown)
    if "--json" in args:
        value = json.loads(result.output)
        assert (value if "show" in args else value["hits"][0])["id"] == f"id{_EVIL}"  # the same strings, escaped
    elif "show" in args or args == ["search", "Hà Nội"]:
        assert "id\\x1b[2J\\x1b]0;pwned\\x07x\\x9b31m\\u202edcba\\u2066" in shown


def test_a_file_name_with_control_characters_is_shown_escaped_in_warnings(tmp_path, runner):
    bad = tmp_path / "x\x1b[2Jy.jsonl"
    bad.write_text("not json\n", encoding="utf-8")
    result = runner.invoke(main, ["index", str(tmp_path), "--index-dir", str(tmp_path / "ix"), "--jobs", "1"])
    assert result.exit_code == 3
    _assert_inert(result.output)
    assert "x\\x1b[2Jy.jsonl:1: not JSON" in result.output


# -- 7. queries: nesting, dates up to 9999, cost ------------------------------------------

@pytest.mark.parametrize("query", [
    "(" * 400 + "hà nội" + ")" * 400, "date:9999-12-31", "date:>=9999-12-31", "date:>9999", "date:<=9999-12-31",
    "date:9999-12-31..9999-12-31", "date:>=", "date:>", "(date:>=)", "-date:>", "date:31/12/9999",
])
def test_queries_at_the_edges_answer_or_say_why(tiny_index, runner, query):
    result = runner.invoke(main, ["search", "--index-dir", str(tiny_index), "--", query])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("option", [
    ["--to", "9999-12-31"], ["--from", "9999-12-31"], ["--to", "9999"], ["--from", "0001-01-01"],
])
def test_date_options_up_to_9999(tiny_index, runner, option):
    result = runner.invoke(main, ["search", "hà nội", *option, "--index-dir", str(tiny_index)])
    assert result.exit_code == 0, result.output


def test_a_pasted_page_of_text_is_refused_as_too_costly_with_a_clear_message(tiny_index, runner):
    text = " ".join(a.body for a in read_articles_list())[:985]
    result = runner.invoke(main, ["search", text, "--index-dir", str(tiny_index)])
    assert result.exit_code == 1
    assert result.output == ("Error: the query is too costly to run: it looks up more than 1,000 term lists; "
                             "search with fewer or rarer words\n")


def test_the_postings_a_query_reads_are_bounded(engine, monkeypatch):
    from hnp_search import QueryCostError
    from hnp_search.retrieve import view

    assert engine.search("hà nội")
    monkeypatch.setattr(view, "MAX_QUERY_POSTINGS", 5)
    with pytest.raises(QueryCostError, match="it reads more than 5 postings"):
        engine.search("hà nội")


def test_files_left_by_killed_jobs_are_removed_by_the_next_job(tiny_index, tmp_path, runner):
    import shutil

    index_dir = tmp_path / "ix"
    shutil.copytree(tiny_index, index_dir)
    leftovers = ["lexicon.pickle.4242.tmp", "_MAIN_7.toc.1733600000.5", "MAIN_deadbeef00000000.seg",
                 "MAIN_deadbeef00000000._stored.col", "hnp-search.sums.4242.tmp"]
    for name in leftovers:
        (index_dir / name).write_bytes(b"x" * 100)
    (index_dir / ".rebuild").mkdir()
    result = runner.invoke(main, ["index", str(ARTICLES), "--index-dir", str(index_dir), "--jobs", "1"])
    assert result.exit_code == 0 and result.stdout.startswith("0 added, 0 updated, 10 unchanged"), result.output
    assert not [name for name in leftovers if (index_dir / name).exists()]
    assert not (index_dir / ".rebuild").exists()
    assert runner.invoke(main, ["check", "--index-dir", str(index_dir)]).exit_code == 0


def test_a_file_just_over_the_size_limit_says_so_in_bytes(tmp_path):
    from hnp_search import IngestError, read_articles
    from hnp_search.ingest import MAX_ARTICLE_BYTES

    page = tmp_path / "big.txt"
    page.write_bytes(b"x" * (MAX_ARTICLE_BYTES + 31))
    with pytest.raises(IngestError) as caught:
        list(read_articles(page))
    limit = "10,000,031 bytes; the limit is 10,000,000 bytes"
    assert str(caught.value) == f"{page}: too large for a news article ({limit})"


def test_an_index_without_recorded_checksums_is_read_through_by_check(tiny_index, tmp_path, runner):
    import shutil

    index_dir = tmp_path / "ix"
    shutil.copytree(tiny_index, index_dir)
    (index_dir / "hnp-search.sums").unlink()  # as an index built before checksums were recorded
    sound = _run(runner, ["check"], index_dir)
    assert sound.exit_code == 0 and "(no checksum recorded for it: read through instead)" in sound.output
    (segment,) = index_dir.glob("*.seg")
    _damage(segment, "truncate")
    damaged = _run(runner, ["check"], index_dir)
    assert damaged.exit_code == 1 and f"{segment.name}: unreadable" in damaged.output
