"""The index format and retrieval on it: packed positions, postings decoded block by
block across segments and deletions, the shared cache."""

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hnp_search import SearchEngine
from hnp_search import retrieve
from hnp_search.indexing import pipeline
from hnp_search.indexing import writer as writer_module
from hnp_search.retrieve import match as match_module
from hnp_search.retrieve import rank, view as view_module
from hnp_search.store.codec import CompactCodec, PackedPositions
from hnp_search.store.columns import column_bytes, column_values, positions_of
from hnp_search.store.schema import NO_PAIR_FILTER
from hnp_search.query.parse import parse
from hnp_search.store.directory import create_index


@pytest.mark.parametrize("positions", [[0], [3, 7, 200], [5, 300, 70_000], [0, 1, 2, 100_000, 100_001]])
def test_positions_round_trip_in_the_smallest_width(positions):
    fmt = PackedPositions()
    value = fmt.encode(positions)
    assert fmt.decode_positions(value) == positions == positions_of(value)
    assert fmt.decode_frequency(value) == len(positions)
    largest_gap = max(b - a for a, b in zip([0, *positions], positions))
    assert len(value) == 1 + len(positions) * (1 if largest_gap < 256 else 2 if largest_gap < 65536 else 4)


def one_article_per_commit(tmp_path, articles, monkeypatch):
    monkeypatch.setattr(writer_module, "MERGE_DOCS", 1)  # keep every segment
    engine = SearchEngine(tmp_path / "ix")
    for article in articles:  # one segment each
        engine.index([article], jobs=1)
    return engine


def test_postings_read_across_segments_match_whooshs_own_matcher(tmp_path, monkeypatch, articles):
    articles = list(articles)
    with one_article_per_commit(tmp_path, articles, monkeypatch) as engine:
        reader = engine.reader().reader
        assert len(reader.leaf_readers()) == len(articles)
        view = engine.reader()
        for fieldname in ("body_sf", "title_s", "body_wf"):
            for term in list(reader.field_terms(fieldname))[:80]:
                matcher = reader.postings(fieldname, term)
                expected = {}
                while matcher.is_active():
                    expected[matcher.id()] = matcher.value()
                    matcher.next()
                postings = view.postings(fieldname, term)
                assert sorted(postings.tfs) == sorted(expected)
                if fieldname != "body_wf":  # positions kept
                    assert {d: postings.positions[d] for d in expected} == expected == postings.positions.mapping()


def postings_of_every_term(engine):
    """Per (field, term): Whoosh's own matcher's (id, weight, value) and what retrieval decodes."""
    reader = engine.reader().reader
    view = engine.reader()
    out = {}
    for fieldname, term in reader.all_terms():
        if not fieldname.endswith(("_s", "_sf", "_w", "_wf")):
            continue
        matcher = reader.postings(fieldname, term)
        listed = []
        while matcher.is_active():
            listed.append((matcher.id(), matcher.weight(), matcher.value() or None))  # inlined: b"", not None
            matcher.next()
        postings = view.postings(fieldname, term.decode())
        positions = postings.positions and {d: postings.positions[d] for d in postings.tfs}
        out[fieldname, term] = listed, reader.doc_frequency(fieldname, term), (postings.tfs, postings.scale, positions)
    return out


def test_compact_posting_blocks_read_back_as_whooshs_own(tmp_path, monkeypatch, articles):
    from whoosh.codec.whoosh3 import W3Codec

    articles = list(articles)
    found, sizes = [], []
    # Whoosh's own blocks; ours of 2 postings (many per term; lists of 1 or 2 inlined); ours as configured.
    variants = ((W3Codec, 2, 1), (CompactCodec, 2, 3), (CompactCodec, 512, 8))
    for number, (codec, blocklimit, inlinelimit) in enumerate(variants):
        monkeypatch.setattr(writer_module, "CODEC", codec(blocklimit=blocklimit, inlinelimit=inlinelimit))
        with SearchEngine(tmp_path / str(number)) as engine:
            engine.index(articles, jobs=1)
            found.append(postings_of_every_term(engine))
            sizes.append(sum(p.stat().st_size for p in (tmp_path / str(number)).glob("*.seg")))
    assert found[0] == found[1] == found[2]
    assert max(df for _, df, _ in found[1].values()) > 4
    assert sizes[2] < sizes[1] < sizes[0]


def everything_indexed(engine) -> dict:
    """Per segment and (field, term): the term's statistics and, per posting, Whoosh's
    matcher's id, weight, value and block statistics; per document, stored fields and lengths."""
    reader = engine.reader().reader
    out = {}
    for number, (leaf, _) in enumerate(reader.leaf_readers()):
        for fieldname, term in leaf.all_terms():
            info = leaf.term_info(fieldname, term)
            matcher, listed = leaf.postings(fieldname, term), []
            while matcher.is_active():
                block = (matcher.block_min_length(), matcher.block_max_length(), matcher.block_max_weight())
                listed.append((matcher.id(), matcher.weight(), matcher.value(), block))
                matcher.next()
            stats = (info.weight(), info.doc_frequency(), info.min_length(), info.max_length(), info.max_weight())
            out[number, fieldname, term] = stats, listed
    for docnum in range(reader.doc_count_all()):
        lengths = [reader.doc_field_length(docnum, name) for name in ("title_s", "lead_sf", "body_w", "author_s")]
        out[docnum] = reader.stored_fields(docnum), lengths
    return out


@pytest.mark.parametrize("blocks", [(2, 2), (512, 8)], ids=["blocks-of-2", "as-configured"])
def test_the_term_pool_writer_writes_what_whooshs_own_writer_writes(tmp_path, monkeypatch, blocks, articles):
    """Blocks of 2 postings (a term's list written in several slices) or as configured
    (lists of up to 7 inlined in the term's info), and commits of 3 articles merged into
    the next (merged postings come through Whoosh's pool interface)."""
    from whoosh.writing import SegmentWriter

    blocklimit, inlinelimit = blocks
    monkeypatch.setattr(writer_module, "CODEC", CompactCodec(blocklimit=blocklimit, inlinelimit=inlinelimit))
    monkeypatch.setenv("HNP_SEARCH_BATCH_SIZE", "3")
    monkeypatch.setattr(writer_module, "MERGE_DOCS", 4)
    articles = list(articles)
    found = []
    for writer in (writer_module._SegmentWriter, SegmentWriter):
        monkeypatch.setattr(writer_module, "_SegmentWriter", writer)
        with SearchEngine(tmp_path / writer.__name__) as engine:
            engine.index(articles[:5], jobs=1)
            engine.index(articles[5:], jobs=1)
            assert len(engine.reader().reader.leaf_readers()) == 2
            found.append(everything_indexed(engine))
    assert found[0] == found[1]
    assert max(len(listed) for key, (_, listed) in found[0].items() if isinstance(key, tuple)) > 4


def test_postings_made_directly_are_what_whooshs_fields_make(articles):
    from hnp_search.indexing.pipeline import postings
    from hnp_search.store.schema import SCHEMA as _SCHEMA
    from hnp_search.text import analyze

    terms = analyze.terms(" ".join(article.body for article in articles))
    assert len(terms.s) > 300 and len(set(terms.s)) < len(terms.s)
    for variant in analyze.VARIANTS:
        field = _SCHEMA[f"body_{variant}"]
        made = postings(getattr(terms, variant), field.format)
        assert made == list(field.index(getattr(terms, variant)))
        assert {type(w) for _, _, w, _ in made} == {float}


@pytest.mark.parametrize(
    "ids, weights, values",
    [
        ([0, 1, 1, 250], [1.0, 2.0, 1.0, 7.0], [b"B\x01", b"B\x02\x05", b"H\x00\x01\x02\x00", b"B\x07" * 300]),
        ([70_000, 1, 5], [1.0, 300.0, 70_000.0], None),  # 32-bit deltas and weights, no values
        ([3, 4], [0.5, 2.0], None),  # weights that are not whole numbers
    ],
)
def test_a_packed_block_loads_as_the_tuple_whoosh_keeps(ids, weights, values):
    import pickle

    from hnp_search.store.codec import _PackedBlock, _pickled

    loaded_ids, loaded_weights, loaded_values = pickle.loads(_pickled(_PackedBlock(tuple(ids), weights, values, 3)))
    assert list(loaded_ids) == ids and list(loaded_weights) == weights
    if values is None:
        assert loaded_values is None
        return
    assert loaded_values._zipped  # the long value compresses, and stays so until read
    assert len(loaded_values) == len(values) and list(loaded_values) == values
    assert [loaded_values[i] for i in range(-4, 4)] == [values[i] for i in range(-4, 4)]
    with pytest.raises(IndexError):
        loaded_values[4]


def test_a_replaced_article_is_found_by_its_new_words_only(tmp_path, monkeypatch, articles):
    articles = list(articles)
    with one_article_per_commit(tmp_path, articles, monkeypatch) as engine:
        first = articles[0]  # "Hà Nội bàn giao mặt bằng đường Vành đai 4"
        assert first.id in [h.id for h in engine.search("vành đai")]
        engine.index([dataclasses.replace(first, title="Tiêu đề mới", lead="", body="Nội dung xyzzy.")], jobs=1)
        assert [h.id for h in engine.search("xyzzy")] == [first.id]
        assert first.id not in [h.id for h in engine.search("vành đai", limit=20)]
        assert first.id not in [h.id for h in engine.search('"vanh dai"', limit=20)]
        assert len(engine) == len(articles)


def test_the_postings_cache_drops_least_recently_used_entries_beyond_each_pools_limit():
    cache = retrieve.PostingCache(limit=10, read_limit=20)
    cache.put((1, "postings", "a"), 1, 4)
    cache.put((1, "postings", "b"), 2, 4)
    cache.put((1, "read", "a"), "a as read", 12)
    assert cache.get((1, "postings", "a")) == 1  # now b is the oldest
    cache.put((1, "postings", "c"), 3, 4)
    assert cache.get((1, "postings", "b")) is None
    assert cache.get((1, "postings", "a")) == 1 and cache.get((1, "postings", "c")) == 3
    assert cache.get((1, "read", "a")) == "a as read"  # the other pool's limit
    cache.put((1, "read", "b"), "b as read", 12)
    assert cache.get((1, "read", "a")) is None and cache.get((1, "read", "b")) == "b as read"


def test_columns_stay_cached_while_postings_come_and_go():
    cache = retrieve.PostingCache(limit=4, read_limit=4)
    cache.put((1, "norms", "body_s"), [1.0], 1000, pinned=True)
    for i in range(10):
        cache.put((1, "postings", "body_s", str(i)), i, 2)
    assert cache.get((1, "postings", "body_s", "0")) is None
    assert cache.get((1, "norms", "body_s")) == [1.0]
    cache.put((2, "norms", "body_s"), [2.0], 1000, pinned=True)  # a newer index state
    assert cache.get((1, "norms", "body_s")) is None and cache.get((2, "norms", "body_s")) == [2.0]


def test_an_engine_opened_on_an_empty_index_searches_what_is_added_later(tmp_path, articles):
    articles = list(articles)
    create_index(tmp_path / "ix")
    with SearchEngine(tmp_path / "ix") as engine:
        assert engine.search("hà nội") == []  # an empty index's reader has no generation
        engine.index(articles, jobs=1)
        engine.refresh()
        assert engine.search("hà nội") and engine.search("hà nội") == engine.search("Hà Nội")


def test_results_are_the_same_with_a_tiny_cache(monkeypatch, tiny_index):
    queries = ["hà nội", "ha noi", '"hồ gươm"', "giao thông OR metro", "-hà nội", "date:2024"]
    with SearchEngine(tiny_index, create=False) as engine:
        expected = {q: [(h.id, h.score) for h in engine.search(q, limit=10)] for q in queries}
    monkeypatch.setattr(view_module, "CACHE_POSTINGS", 3)  # nearly every lookup decodes again
    monkeypatch.setattr(view_module, "CACHE_READ_POSTINGS", 3)  # and reads again
    with SearchEngine(tiny_index, create=False) as engine:
        assert engine._cache.limits == {"postings": 3, "read": 3}
        for _ in range(2):
            assert {q: [(h.id, h.score) for h in engine.search(q, limit=10)] for q in queries} == expected


def test_no_impact_exceeds_its_lists_peak(tiny_index):
    with SearchEngine(tiny_index, create=False) as engine:
        view = engine.reader()
        checked = 0
        for fieldname, term in view.reader.all_terms():
            if fieldname.endswith(("_s", "_sf", "_w", "_wf")):
                postings = view.postings(fieldname, term.decode())
                assert max(postings.impact(d) for d in postings.tfs) <= postings.scale * postings.peak * (1 + 1e-12)
                checked += 1
        assert checked > 500


def test_pruning_candidates_changes_no_ranking(monkeypatch, tiny_index):
    queries = ["hà nội", "ha noi giao thong", "sông tô lịch", "thành phố hà nội năm 2024"]
    queries += ["giao thông OR metro", "xe buýt điện"]
    monkeypatch.setattr(rank, "PROXIMITY_DEPTH", 1)  # proximity re-ranks only the best: pruning goes deep

    def rankings():
        with SearchEngine(tiny_index, create=False) as engine:
            return {(q, n): [(h.id, h.score) for h in engine.search(q, limit=n)] for q in queries for n in (1, 2, 3)}

    monkeypatch.setattr(rank, "PRUNE_FROM", 10**9)
    unpruned = rankings()
    thresholds, nlargest = [], rank.nlargest

    def counting(n, iterable, key=None):
        if key is None:  # a pruning threshold, not the final selection
            thresholds.append(n)
        return nlargest(n, iterable, key=key)

    monkeypatch.setattr(rank, "PRUNE_FROM", 0)
    monkeypatch.setattr(rank, "nlargest", counting)
    assert rankings() == unpruned
    assert len(thresholds) > 10


def test_commits_merge_only_small_segments(tmp_path, monkeypatch, articles):
    monkeypatch.setenv("HNP_SEARCH_BATCH_SIZE", "3")
    monkeypatch.setattr(writer_module, "MERGE_DOCS", 3)
    articles = list(articles)
    with SearchEngine(tmp_path / "ix") as engine:
        engine.index(articles[:7], jobs=1)  # batches of 3, 3, 1

        def sizes():
            return sorted(r.doc_count_all() for r, _ in engine.reader().reader.leaf_readers())

        assert sizes() == [1, 3, 3]
        engine.index(articles[7:9], jobs=1)  # a segment of 2: merged with the one of 1
        assert sizes() == [3, 3, 3]
        engine.index(articles[9:], jobs=1)
        assert sizes() == [1, 3, 3, 3] and len(engine) == 10
        assert "song-to-lich" in [h.id for h in engine.search('"sông Tô Lịch"')]


def test_segments_are_read_in_place_from_their_memory_map(tiny_index):
    from hnp_search.store.codec import MappedSegment, _MappedFile

    with SearchEngine(tiny_index, create=False) as engine:
        reader = engine.reader().reader
        leaves = [r for r, _ in reader.leaf_readers()] if not reader.is_atomic() else [reader]
        for leaf in leaves:
            assert type(leaf.segment()) is MappedSegment
            assert type(leaf._terms._postfile) is _MappedFile


@pytest.mark.parametrize("seed", range(5))
def test_the_memory_reader_reads_like_a_file(seed):
    import io
    import random

    from hnp_search.store.codec import _MemoryReader

    rng = random.Random(seed)
    data = bytes(rng.choice(b"ab\n") for _ in range(600))
    mine, theirs = _MemoryReader(memoryview(data)), io.BytesIO(data)
    for _ in range(200):
        op = rng.choice(["read", "readline", "seek", "seek_end", "tell"])
        size = rng.choice([-1, 0, 1, 7, 300, 700])
        if op == "read":
            assert mine.read(size) == theirs.read(size)
        elif op == "readline":
            assert mine.readline(size) == theirs.readline(size)
        elif op == "seek":
            offset = rng.randrange(700)
            assert mine.seek(offset) == theirs.seek(offset)
        elif op == "seek_end":
            offset = -rng.randrange(50)
            assert mine.seek(offset, 2) == theirs.seek(offset, 2)
        assert mine.tell() == theirs.tell()


@pytest.fixture(scope="module")
def phrase_index(tmp_path_factory):
    """40 articles with "hồ" and "Gươm" in them, side by side in some fields of some (most titles
    with "hồ" lack "Gươm")."""
    from datetime import datetime

    from hnp_search import Article

    sides = ["Dạo quanh hồ Gươm buổi sáng.", "Gươm cũ bên hồ nước.", "Hồ Gươm và phố cổ.", "Phố cổ không có hồ."]
    titles = ["Tin hồ Gươm", "Hồ nước và thanh Gươm", "Hồ Tây", "Hồ Trúc Bạch", "Hồ Tây mùa thu", "Hồ Tây lộng gió"]
    titles.append("Phố đi bộ")
    articles = [
        Article(
            id=f"b{n:02d}",
            title=titles[n % 7],
            lead=sides[n % 4],
            body=" ".join(sides[(n + k) % 4] for k in range(1 + n % 5)) + (" Xe buýt đi bộ." if n % 2 else ""),
            published=datetime(2024, 1 + n % 12, 1 + n % 28),
        )
        for n in range(40)
    ]
    path = tmp_path_factory.mktemp("phrase-index")
    with SearchEngine(path) as engine:
        engine.index(articles, jobs=1)
    return path


def test_phrases_checked_lazily_rank_as_checked_up_front(monkeypatch, phrase_index):
    queries = ['"hồ gươm"', '"ho guom"', '"hồ gươm" đi bộ', '"hồ gươm" -xe', '"hồ gươm" "phố cổ"',
               '"hồ gươm" OR "phố cổ"', 'title:"hồ gươm" buổi sáng', '"gươm cũ bên hồ"']  # fmt: skip
    monkeypatch.setattr(match_module, "LAZY_PHRASES_FROM", 10)  # so few articles: lazy only when told to
    monkeypatch.setattr(match_module, "PHRASE_SAMPLE", 4)
    checks = []
    consecutive = match_module._consecutive
    monkeypatch.setattr(match_module, "_consecutive", lambda values: checks.append(1) or consecutive(values))

    def best(engine, query, n, sort="relevance"):  # the best n alone, as suggestions and bench baselines ask
        ids = engine.reader().reader.stored_fields
        ranked = retrieve.Retriever(engine.reader()).search(parse(query), [], n, sort)
        return [(ids(d)["id"], round(s, 4)) for d, s in ranked]

    def rankings():
        with SearchEngine(phrase_index, create=False) as engine:
            sorts = ("relevance", "-date")
            return {(q, n, sort): best(engine, q, n, sort) for q in queries for n in (1, 3, 40) for sort in sorts}

    def checks_for_the_best_one():
        checks.clear()
        with SearchEngine(phrase_index, create=False) as engine:
            best(engine, '"hồ gươm"', 1)
        return len(checks)

    lazy, lazy_checks = rankings(), checks_for_the_best_one()
    match = match_module.NodeMatcher.match
    monkeypatch.setattr(match_module.NodeMatcher, "match", lambda self, node, lazy=False: match(self, node, False))
    assert rankings() == lazy
    eager_checks = checks_for_the_best_one()
    assert lazy_checks < 25 < eager_checks, (lazy_checks, eager_checks)
    every = {f"b{n:02d}" for n in range(40)}
    assert {i for i, _ in lazy['"hồ gươm"', 40, "relevance"]} == every - {"b05", "b15", "b25"}  # no "hồ Gươm" anywhere


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.integers(0, 70_000), min_size=1, max_size=6, unique=True), min_size=1, max_size=4))
def test_a_phrase_is_found_where_its_syllables_follow_one_another(positions):
    fmt = PackedPositions()
    values = [fmt.encode(sorted(p)) for p in positions]
    expected = any(all(start + i in p for i, p in enumerate(positions)) for start in positions[0])
    assert match_module._consecutive(values) == expected


def test_a_pair_side_by_side_wherever_it_occurs_earns_almost_no_proximity_bonus():
    fmt = PackedPositions()

    def postings(positions: dict[int, list[int]]) -> view_module.Postings:
        tfs = {d: len(p) for d, p in positions.items()}
        encoded = {d: fmt.encode(p) for d, p in positions.items()}
        return view_module.Postings(tfs, scale=1.0, norms=[1.0] * 10, positions=encoded)

    docs = list(range(10))
    doctor, who = postings({d: [5] for d in docs}), postings({d: [6] for d in docs})  # a name, everywhere
    brother = postings({d: [20] for d in docs})
    elder = postings({d: [21] if d == 3 else [40] for d in docs})  # side by side in one article only
    bonus = rank._proximity(docs, [(1.0, doctor, who), (1.0, brother, elder)])
    name_only = bonus[0]
    assert 0 < name_only < 0.05 * (doctor.impact(0) + who.impact(0))
    assert bonus[3] - name_only == pytest.approx(brother.impact(3) + elder.impact(3))
    assert all(bonus[d] == name_only for d in docs if d != 3)


def test_columns_read_at_once_hold_what_whoosh_reads_one_by_one(tmp_path, monkeypatch, articles):
    from whoosh.codec.whoosh3 import LENGTHS_COLUMN, _lenfield

    monkeypatch.setattr(writer_module, "MERGE_DOCS", 1)  # keep both segments
    articles = list(articles)
    articles[3] = dataclasses.replace(articles[3], lead="", published=None)  # last of its segment
    with SearchEngine(tmp_path / "ix") as engine:
        engine.index(articles[:4], jobs=1)
        engine.index(articles[4:], jobs=1)
        reader = engine.reader().reader
        assert len(reader.leaf_readers()) == 2
        for leaf, _ in reader.leaf_readers():
            count = leaf.doc_count_all()
            for name in ("lead_s", "body_sf"):
                column = leaf._perdoc._cached_reader(_lenfield(name), LENGTHS_COLUMN)
                assert column_values(column, count) == list(column)
            column = leaf.column_reader("published", translate=False)
            assert column_values(column, count, 2**64 - 1) == list(column)
            column = leaf.column_reader("pairs", translate=False)
            assert column_bytes(column, count, NO_PAIR_FILTER) == b"".join(column)
            assert column_bytes(list(column), count, NO_PAIR_FILTER) == b"".join(column)  # any other reader
        # Its pair filter as the article's own, in index order.
        assert engine.reader().pair_filters() == b"".join(pipeline.analyze_article(a)["pairs"] for a in articles)


def test_a_phrase_of_common_syllables_is_checked_only_where_the_pair_filter_allows(monkeypatch, tmp_path):
    from hnp_search import Article

    texts = ["Chúng tôi có thể đến sớm.", "Thể thao có nhiều môn.", "Có người nói về thể lực.", "Cô ấy có thể hát."]
    articles = [Article(id=f"c{n:02d}", title=f"Tin số {n}", lead="", body=texts[n % 4]) for n in range(60)]
    with SearchEngine(tmp_path) as engine:
        for start in (0, 20, 40):  # three commits: segments merged keep their articles' filters
            engine.index(articles[start : start + 20], jobs=1)
    checks = []
    consecutive = match_module._consecutive
    monkeypatch.setattr(match_module, "_consecutive", lambda values: checks.append(1) or consecutive(values))
    with SearchEngine(tmp_path, create=False) as engine:
        found = {h.id for h in engine.search('"có thể"', limit=60, highlight=False)}
        assert found == {f"c{n:02d}" for n in range(60) if n % 4 in (0, 3)}
        assert len(checks) < 35, len(checks)  # 30 holders: the 30 without it are (nearly all) turned away unchecked
        monkeypatch.setattr(view_module.IndexView, "may_hold", lambda self, folded: None)
        checks.clear()
        assert {h.id for h in engine.search('"co the"', limit=60, highlight=False)} == found
        assert len(checks) == 60


def test_index_files_name_only_the_persistent_modules(tiny_index):
    """Whoosh pickles the schema and each segment's codec, and every posting block is a
    pickle: the names in them must stay importable where indexes written so far look."""
    import re

    from hnp_search import analyze as persistent_analyze
    from hnp_search import index as persistent_index

    named = set()
    for path in tiny_index.iterdir():
        if path.suffix in (".toc", ".seg"):
            named |= set(re.findall(rb"hnp_search(?:\.\w+)*", path.read_bytes()))
    assert named == {b"hnp_search.index", b"hnp_search.analyze"}
    for name in persistent_index.__all__:
        assert getattr(persistent_index, name).__module__ == "hnp_search.index"
    assert persistent_analyze.VietnameseTokenizer.__module__ == "hnp_search.analyze"
