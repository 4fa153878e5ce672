"""Another process commits: a long-lived engine finds its articles at once and waits for its lexicon."""

from __future__ import annotations

from conftest import ARTICLES
from serving import write_jsonl

from hnp_search import SearchEngine, api
from hnp_search.store import directory

NEW = {"id": "cau-tu-lien", "title": "Khởi công cầu Tứ Liên", "date": "2025-01-05",
       "body": "Cầu Tứ Liên bắc qua sông Hồng nối Tây Hồ với Đông Anh."}


def generation(engine: SearchEngine) -> int:
    return engine.reader().reader.generation()


def commit_elsewhere(index, source) -> tuple[bytes, bytes]:
    """Index ``source`` with a second engine, as another process would; the lexicon file's
    bytes before and after."""
    before = (index / directory.LEXICON_FILE).read_bytes()
    with SearchEngine(index) as writer:
        assert writer.index([source], jobs=1).added == 1
    return before, (index / directory.LEXICON_FILE).read_bytes()


def test_searches_wait_for_the_writers_lexicon_instead_of_building_it(tmp_path):
    index = tmp_path / "index"
    with SearchEngine(index) as first:
        first.index([ARTICLES], jobs=1)
    with SearchEngine(index, create=False) as engine:
        assert engine.search("ho tay").total
        old = generation(engine)
        before, after = commit_elsewhere(index, write_jsonl(tmp_path / "new.jsonl", [NEW]))
        (index / directory.LEXICON_FILE).write_bytes(before)  # as if the writer had not saved it yet
        engine.refresh()
        new = generation(engine)
        assert new > old
        assert [h.id for h in engine.search("cau tu lien")][:1] == [NEW["id"]]
        assert directory.saved_lexicon(index, new) is None  # not built here meanwhile
        (index / directory.LEXICON_FILE).write_bytes(after)  # the writer saves it
        assert [h.id for h in engine.search("cầu Tứ Liên")][:1] == [NEW["id"]]
        assert directory.saved_lexicon(index, new) is not None


def test_without_the_writers_lexicon_it_is_built_after_the_wait(tmp_path, monkeypatch):
    index = tmp_path / "index"
    with SearchEngine(index) as first:
        first.index([ARTICLES], jobs=1)
    with SearchEngine(index, create=False) as engine:
        assert engine.search("ho tay").total
        before, _ = commit_elsewhere(index, write_jsonl(tmp_path / "new.jsonl", [NEW]))
        (index / directory.LEXICON_FILE).write_bytes(before)  # the writer died before saving it
        engine.refresh()
        monkeypatch.setattr(api, "LEXICON_WAIT", 0.0)
        engine.search("cau tu lien")  # starts waiting
        assert [h.id for h in engine.search("cau tu lien")][:1] == [NEW["id"]]
        assert directory.saved_lexicon(index, generation(engine)) is not None  # built and saved here
