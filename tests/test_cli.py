"""The command line, through click's CliRunner."""

import json

import pytest

from hnp_search.cli import EXIT_REJECTED, main


def test_index_reports_a_summary_and_reindexing_adds_nothing(runner, tmp_path, articles_path):
    index_dir = str(tmp_path / "ix")
    first = runner.invoke(main, ["index", str(articles_path), "--index-dir", index_dir, "--jobs", "1"])
    assert first.exit_code == 0, first.output
    assert first.output.startswith("10 added, 0 updated, 0 unchanged, 0 errors in ")
    assert "index: 10 articles" in first.output
    again = runner.invoke(main, ["index", str(articles_path), "--index-dir", index_dir, "--jobs", "1"])
    assert again.output.startswith("0 added, 0 updated, 10 unchanged, 0 errors in ")


def test_rebuild_replaces_an_index_built_by_another_analyzer_version(runner, tmp_path, articles_path):
    index_dir = tmp_path / "ix"
    index = ["index", "--index-dir", str(index_dir), "--jobs", "1", str(articles_path)]
    assert runner.invoke(main, index).exit_code == 0
    meta = index_dir / "hnp-search.json"
    meta.write_text(json.dumps({**json.loads(meta.read_text()), "analyzer_version": 1}))

    stale = runner.invoke(main, ["search", "--index-dir", str(index_dir), "hà nội"])
    assert stale.exit_code != 0 and "rebuild it with `hnp-search index --rebuild" in stale.output
    rebuilt = runner.invoke(main, [*index, "--rebuild"])
    assert rebuilt.exit_code == 0, rebuilt.output
    assert rebuilt.output.startswith("10 added, 0 updated, 0 unchanged, 0 errors")
    assert "Traceback" not in stale.output + rebuilt.output


def test_index_dir_comes_from_the_environment(runner, tmp_path, monkeypatch, articles_path):
    monkeypatch.setenv("HNP_SEARCH_INDEX", str(tmp_path / "env-ix"))
    result = runner.invoke(main, ["index", str(articles_path), "--jobs", "1"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "env-ix" / "hnp-search.json").exists()


def test_search_prints_ranked_hits_with_plain_highlights(runner, tiny_index):
    result = runner.invoke(main, ["search", "ho", "tay", "--limit", "1", "--index-dir", str(tiny_index)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Did you mean: Hồ Tây?"  # fewer than 3 articles found; a name, as the articles write it
    assert lines[2] == "Found 1 article for 'ho tay'."
    assert lines[4] == "1. [[Hồ Tây]] những ngày đầu thu"
    assert lines[5].startswith("   20/09/2023 · ho-tay-mua-thu · score ")
    assert lines[6].startswith("   … ") and "[[Hồ Tây]]" in lines[6]
    assert "\x1b[" not in result.output


def test_search_colours_matches_when_asked(runner, tiny_index):
    result = runner.invoke(main, ["search", "Hồ Tây", "--color", "--limit", "1", "--index-dir", str(tiny_index)])
    assert "\x1b[1;33mHồ Tây\x1b[0m" in result.output


def test_search_json_prints_the_page_as_one_object(runner, tiny_index):
    result = runner.invoke(main, ["search", "bàn", "--json", "--limit", "3", "--index-dir", str(tiny_index)])
    assert result.exit_code == 0, result.output
    page = json.loads(result.output)
    assert (page["query"], page["total"], page["offset"], page["limit"], page["facets"]) == ("bàn", 5, 0, 3, {})
    hits = page["hits"]
    assert len(hits) == 3
    keys = {"id", "title", "published", "url", "score", "snippets", "persons", "matched_persons", "all_words"}
    assert keys <= set(hits[0])
    assert hits[0]["score"] >= hits[1]["score"] >= hits[2]["score"]
    snippet = hits[0]["snippets"][0]
    start, end = snippet["matches"][0]
    assert snippet["text"][start:end].lower() == "bàn"
    assert hits[0]["published"] == "2024-03-14T09:15:00"


def test_search_filters_by_date_range(runner, tiny_index):
    result = runner.invoke(
        main, ["search", "ha noi", "--from", "01/01/2024", "--to", "2024-03", "--json", "--index-dir", str(tiny_index)]
    )
    ids = sorted(hit["id"] for hit in json.loads(result.stdout)["hits"])
    assert ids == ["thuy-loi-hoa-binh", "vanh-dai-4-ban-giao"]


def test_search_with_no_hits_says_so(runner, tiny_index):
    result = runner.invoke(main, ["search", "tàu vũ trụ", "--index-dir", str(tiny_index)])
    assert result.exit_code == 0
    assert result.output == "No articles match 'tàu vũ trụ'.\n"


def test_show_prints_the_stored_article(runner, tiny_index):
    result = runner.invoke(main, ["show", "van-mieu-dem", "--index-dir", str(tiny_index)])
    assert result.exit_code == 0
    assert result.output.startswith(
        "Văn Miếu - Quốc Tử Giám mở cửa ban đêm (20:10 02/11/2023)\nid: van-mieu-dem · author: Thu Trang\n"
    )


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["search", "date:31/02/2024"],
            "Error: bad query 'date:31/02/2024' at position 6: '31/02/2024' is not a real date",
        ),
        (["show", "nope"], "Error: no article with id 'nope'"),
    ],
    ids=["impossible-date", "unknown-id"],
)
def test_user_mistakes_print_one_error_line(runner, tiny_index, args, message):
    result = runner.invoke(main, [*args, "--index-dir", str(tiny_index)])
    assert result.exit_code == 1
    assert result.output.startswith(message)
    assert "Traceback" not in result.output


def test_search_without_an_index_says_how_to_build_one(runner, tmp_path):
    result = runner.invoke(main, ["search", "Hà Nội", "--index-dir", str(tmp_path / "none")])
    assert result.exit_code == 1
    assert "Error: no index at" in result.output and "hnp-search index" in result.output


def test_index_reports_bad_input_and_indexes_the_rest(runner, tmp_path, articles_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "good.jsonl").write_text(articles_path.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "in" / "bad.jsonl").write_text('{"id": "x", "title": "Thiếu nội dung"}\nnot json\n', encoding="utf-8")
    paths = [str(tmp_path / "in"), str(tmp_path / "missing")]
    result = runner.invoke(main, ["index", *paths, "--index-dir", str(tmp_path / "ix"), "--jobs", "1"])
    assert result.exit_code == EXIT_REJECTED
    assert "10 added" in result.output and "3 errors" in result.output
    assert "bad.jsonl:1:" in result.output and "bad.jsonl:2:" in result.output and "missing" in result.output


def test_search_by_person_shows_the_matched_person(runner, tiny_index):
    result = runner.invoke(main, ["search", "--person", "nguyen van toan", "--index-dir", str(tiny_index)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "Found 1 article."
    assert lines[2] == "1. Hà Nội bàn giao mặt bằng đường Vành đai 4"
    assert lines[4] == "   persons: Nguyễn Văn Toàn"
    assert "[[Nguyễn Văn Toàn]]" in result.output


def test_persons_command_lists_the_most_named(runner, tiny_index):
    result = runner.invoke(main, ["persons", "--top", "2", "--index-dir", str(tiny_index)])
    assert result.exit_code == 0, result.output
    assert len(result.output.splitlines()) == 2
    assert all(line.startswith("     1  ") for line in result.output.splitlines())


def test_search_html_escapes_text_and_marks_matches(runner, tiny_index):
    result = runner.invoke(main, ["search", "Văn Miếu", "--html", "--limit", "1", "--index-dir", str(tiny_index)])
    assert result.exit_code == 0, result.output
    page = result.output
    assert page.startswith('<!DOCTYPE html>\n<html lang="vi">\n<head>\n<meta charset="utf-8">')
    assert "<title>Văn Miếu · hnp-search</title>" in page and page.rstrip().endswith("</html>")
    assert "<p class=\"count\">Found 1 article for &#x27;Văn Miếu&#x27;.</p>" in page
    assert '<ol start="1">\n<li id="van-mieu-dem"><h3><mark>Văn Miếu</mark> - Quốc Tử Giám' in page
    assert '<small><time datetime="2023-11-02T20:10:00">02/11/2023</time> · van-mieu-dem</small>' in page
