"""The command line's totals, pages, facets, JSON and HTML pages, delete, similar, stats and pipes (issue 20)."""

import json
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner

from conftest import ARTICLES
from hnp_search.cli import main


@pytest.fixture()
def runner():
    return CliRunner()


@pytest.fixture()
def own_index(tiny_index, tmp_path):
    """A copy of the ten-article index that a test may change."""
    path = tmp_path / "ix"
    shutil.copytree(tiny_index, path)
    return str(path)


def search(runner, index, *args):
    return runner.invoke(main, ["search", *args, "--index-dir", str(index)])


def test_pages_number_their_hits_from_the_offset(runner, tiny_index):
    second = search(runner, tiny_index, "hà nội", "--limit", "2", "--page", "2")
    assert second.exit_code == 0, second.output
    lines = second.output.splitlines()
    assert lines[0] == "Found 8 articles for 'hà nội'; showing 3–4."
    assert [line.split(".")[0] for line in lines if line[:1].isdigit()] == ["3", "4"]
    assert search(runner, tiny_index, "hà nội", "--limit", "2", "--offset", "2").output == second.output
    past = search(runner, tiny_index, "hà nội", "--page", "5")
    assert past.exit_code == 0
    assert past.output == "Found 8 articles for 'hà nội'; none from #41 on (the last page is 1).\n"


def test_offset_with_page_and_json_with_html_are_usage_errors(runner, tiny_index):
    for args, message in ((["--offset", "2", "--page", "2"], "--offset and --page"),
                          (["--json", "--html"], "--json and --html")):  # fmt: skip
        result = search(runner, tiny_index, "hà nội", *args)
        assert result.exit_code == 2 and f"Error: {message} cannot be used together" in result.output


def test_facets_are_listed_after_the_hits(runner, tiny_index):
    result = search(runner, tiny_index, "hà nội", "--limit", "1", "--facets", "year,month,person")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-3:] == [
        "year: 2023 3 · 2024 5",
        "month: 2023-06 1 · 2023-07 1 · 2023-09 1 · 2024-01 1 · 2024-03 1 · 2024-04 1 · 2024-05 1 · 2024-08 1",
        "person: Nguyễn Văn Toàn 1 · Phạm Đức Thắng 1 · Trần Thị Thu Hà 1",
    ]
    bad = search(runner, tiny_index, "hà nội", "--facets", "year,tags")
    assert bad.exit_code == 2 and "unknown facet 'tags'" in bad.output


def test_json_without_hits_is_a_valid_empty_page_and_suggestions_go_to_stderr(runner, tiny_index):
    empty = search(runner, tiny_index, "tàu vũ trụ", "--json")
    assert empty.exit_code == 0
    assert json.loads(empty.stdout) == {"query": "tàu vũ trụ", "total": 0, "total_all_words": 0, "offset": 0,
                                        "limit": 10, "hits": [], "facets": {}, "suggestion": None}  # fmt: skip
    suggested = search(runner, tiny_index, "ho tay", "--json")
    assert json.loads(suggested.stdout)["suggestion"] == "Hồ Tây"
    assert suggested.stderr == "Did you mean: Hồ Tây?\n"


def test_html_is_a_complete_escaped_page_with_links_dates_and_facets(runner, tiny_index):
    result = search(runner, tiny_index, "hà nội <script>", "--html", "--limit", "2", "--facets", "year")
    page = result.stdout
    assert page.startswith("<!DOCTYPE html>") and '<meta charset="utf-8">' in page
    assert "<title>hà nội &lt;script&gt; · hnp-search</title>" in page and "<script>" not in page
    assert "showing 1–2." in page and '<section><h4>year</h4><ul><li>2023 <small>3</small></li>' in page
    assert page.count("<time datetime=") == 2 and page.rstrip().endswith("</html>")


def test_a_closed_pipe_ends_the_search_quietly(tiny_index):
    command = [sys.executable, "-m", "hnp_search", "search", "hà nội", "--index-dir", str(tiny_index)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()  # as `| head -3` does once it has its lines
    _, errors = process.communicate(timeout=60)
    assert process.returncode == 0 and errors == b""


def test_index_summary_counts_in_words_of_the_right_number(runner, tmp_path):
    one = tmp_path / "one.jsonl"
    one.write_text(ARTICLES.read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8")
    first = runner.invoke(main, ["index", str(one), "--index-dir", str(tmp_path / "ix"), "--jobs", "1"])
    assert "1 added, 0 updated, 0 unchanged, 0 errors in " in first.output and "index: 1 article, " in first.output
    again = runner.invoke(main, ["index", str(one), "--index-dir", str(tmp_path / "ix"), "--jobs", "1"])
    assert "articles/s" not in again.output and "0 unchanged" not in again.output


def test_delete_similar_and_stats_commands(runner, own_index):
    assert "articles: 10\n" in runner.invoke(main, ["stats", "--index-dir", own_index]).output
    related = runner.invoke(main, ["similar", "metro-nhon-ga-ha-noi", "--json", "--index-dir", own_index])
    assert related.exit_code == 0
    assert "metro-nhon-ga-ha-noi" not in [h["id"] for h in json.loads(related.output)["hits"]]
    deleted = runner.invoke(main, ["delete", "metro-nhon-ga-ha-noi", "--index-dir", own_index])
    assert deleted.exit_code == 0 and deleted.output == "Deleted 1 article; index: 9 articles.\n"
    missing = runner.invoke(main, ["delete", "metro-nhon-ga-ha-noi", "--index-dir", own_index])
    assert missing.exit_code == 1 and "warning: no article with id 'metro-nhon-ga-ha-noi'" in missing.stderr
    assert "Deleted 0 articles" in missing.stdout
    stats = runner.invoke(main, ["stats", "--json", "--index-dir", own_index])
    assert json.loads(stats.output)["articles"] == 9
    gone = runner.invoke(main, ["similar", "metro-nhon-ga-ha-noi", "--index-dir", own_index])
    assert gone.exit_code == 1 and gone.output == "Error: no article with id 'metro-nhon-ga-ha-noi'\n"


def test_index_prune_deletes_what_the_paths_no_longer_hold(runner, own_index, tmp_path):
    kept = tmp_path / "kept.jsonl"
    kept.write_text("".join(ARTICLES.read_text(encoding="utf-8").splitlines(keepends=True)[:4]), encoding="utf-8")
    result = runner.invoke(main, ["index", str(kept), "--prune", "--index-dir", own_index, "--jobs", "1"])
    assert result.exit_code == 0, result.output
    assert "6 pruned" in result.output and "index: 4 articles" in result.output


def test_the_html_page_links_only_web_addresses(runner, tiny_index):
    from hnp_search import SearchEngine, render

    with SearchEngine(tiny_index, create=False) as engine:
        page = engine.search("metro", limit=1).to_dict()
    page["hits"][0].update(url="javascript:alert(1)", title="<b>Metro</b> & <i>ga</i>", title_matches=[[3, 8]])
    html = render.results_html(page, "metro")
    assert "javascript" not in html
    assert "<h3>&lt;b&gt;<mark>Metro</mark>&lt;/b&gt; &amp; &lt;i&gt;ga&lt;/i&gt;</h3>" in html
    page["hits"][0]["url"] = "https://hanoimoi.vn/metro"
    assert '<a href="https://hanoimoi.vn/metro">' in render.results_html(page, "metro")
