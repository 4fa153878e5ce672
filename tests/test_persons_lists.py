"""The word lists of persons.py (persons_data/*.txt): well formed, and the two entries once
glued by a missing comma ("cúpphim", "Than Quảng NinhDân Trí", issue 17) read apart."""

import re
import unicodedata
from collections import Counter
from pathlib import Path

import pytest

from hnp_search import persons
from hnp_search.persons import extract_persons

FILES = sorted(persons.DATA.iterdir(), key=lambda f: f.name)


def entries(file) -> list[str]:
    """The phrases of one list as written, comments and blank lines left out."""
    lines = (line.split("#", 1)[0].strip() for line in file.read_text(encoding="utf-8").splitlines())
    return [line for line in lines if line]


ALL_ENTRIES = {entry.casefold() for file in FILES for entry in entries(file)}


def test_every_list_file_is_read_by_persons_py():
    loaded = re.findall(r'_load\("(\w+)"\)', Path(persons.__file__).read_text(encoding="utf-8"))
    assert sorted(f"{name}.txt" for name in loaded) == [file.name for file in FILES]


@pytest.mark.parametrize("file", FILES, ids=lambda f: f.name)
def test_list_entries_are_short_nfc_unique_and_not_two_glued(file):
    phrases = entries(file)
    assert phrases
    assert [p for p in phrases if len(p.split()) > 5] == []
    assert [p for p in phrases if unicodedata.normalize("NFC", p) != p] == []
    assert [p for p in phrases if "," in p] == []  # one phrase a line, not a comma list
    keys = Counter(" ".join(persons.normalize_term(word) for word in p.split()) for p in phrases)
    assert [key for key, n in keys.items() if n > 1] == []
    glued = [
        p for p in phrases
        for i in range(1, len(p))
        if p[i - 1] != " " and p[i] != " " and p[:i].casefold() in ALL_ENTRIES and p[i:].casefold() in ALL_ENTRIES
    ]  # fmt: skip
    assert glued == []


def test_the_glued_entries_are_each_in_their_list():
    assert {"cúp", "phim"} <= persons.HEADS and "cúpphim" not in persons.HEADS
    assert {"than quảng ninh", "dân trí"} <= persons.NON_PERSONS


@pytest.mark.parametrize(
    "text, names",
    [
        # "phim" heads a work named after a person; "cúp" a trophy
        ("Nhiều khán giả đã xem phim Lê Văn Tám trong dịp lễ 2/9.", []),
        ("Hà Nội vô địch cúp Lê Văn Thắng năm nay.", []),
        ("Đạo diễn giới thiệu phim Trần Hưng Đạo, với diễn viên Nguyễn Văn Nam.", ["Nguyễn Văn Nam"]),
        # "Dân Trí" is a newspaper, not a person listed with one
        ("Cảm ơn Bộ trưởng Nguyễn Văn Thể và Dân Trí đã đồng hành cùng chương trình.", ["Nguyễn Văn Thể"]),
        ("Tham dự có HLV Park Hang Seo, Dân Trí và nhiều phóng viên.", ["Park Hang Seo"]),
        # "Than Quảng Ninh" is a club (as "Hoàng Anh Gia Lai" is), so a name listed with it is one too
        ("Sau trận hòa, Than Quảng Ninh và Lê Văn Thắng cùng có 10 điểm.", []),
        ("Sau trận hòa, Hoàng Anh Gia Lai và Lê Văn Thắng cùng có 10 điểm.", []),
    ],
)
def test_a_work_a_cup_and_a_club_are_not_persons(text, names):
    assert extract_persons(text) == names
