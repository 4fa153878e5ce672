"""Person names: find the persons an article names (not streets, schools or places named after them)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from functools import lru_cache
from importlib import resources
from typing import NamedTuple

from .text import analyze
from .text.normalize import fold, normalize_term

__all__ = ["extract_persons", "person_key"]


#: The word lists below live in this folder, one file each (``heads.txt`` for HEADS).
DATA = resources.files(__package__) / "persons_data"


def _load(name: str) -> frozenset[str]:
    """The phrases of ``persons_data/<name>.txt`` as normalized keys ("Thủ tướng" → "thủ tướng").

    The file is UTF-8, one phrase a line; blank lines and text after ``#`` are ignored.
    """
    keys = set()
    for line in (DATA / f"{name}.txt").read_text(encoding="utf-8").splitlines():
        if phrase := line.split("#", 1)[0].strip():
            keys.add(" ".join(normalize_term(word) for word in phrase.split()))
    return frozenset(keys)


# Vietnamese family names (họ): the common ones first (Nguyễn, Trần, Lê, ... name most
# people), then rarer ones seen in news, then Korean ones as the press writes them
# (Kim Jong Un, Park Hang Seo). A run of three or more capitalized syllables that
# starts with one is a person unless the context says otherwise. Left out on purpose:
# Văn ("Văn Miếu"), Ông (the title "Ông" starts sentences), Đồng ("Đồng Nai").
FAMILY_NAMES = _load("family_names")

# Kinship terms used as titles before a name ("ông Tuấn", "chị Nguyễn Thị Hoa"), as in
# any Vietnamese news story. Capitalized, they start a sentence ("Ông Phan Thế Bảo cho biết").
PRONOUN_CUES = _load("pronoun_cues")

# Titles and roles written before a name: the Party and state hierarchy (the HNP
# sample, dantri politics and world news), degrees and professions, the armed forces,
# sport, the arts and religion. "cố", "nguyên", "cựu" (late, former) precede titles.
TITLE_CUES = _load("title_cues")
CUES = PRONOUN_CUES | TITLE_CUES

# Titles also written before the name of a company, a unit or an era ("Giám đốc Hòa
# Phát", "Trưởng khoa Tai Mũi Họng", "phóng viên Dân Trí", "thời Trung Cổ"): after one,
# a name without a family name must look foreign or follow a country ("Thủ tướng Ấn Độ
# Narendra Modi"); Vietnamese people are written with their family name.
UNIT_TITLES = _load("unit_titles")

# Common nouns ending in a kinship term: "Tổ chức trẻ em Rồng Xanh" names no person.
NOT_PRONOUNS = _load("not_pronouns")

# Lowercase words that may stand between a title and a foreign name
# ("Tổng thống đương nhiệm Donald Trump", "HLV người Hàn Quốc Park Hang Seo").
CUE_MODIFIERS = _load("cue_modifiers")

# Head nouns of places, institutions and works named after people ("đường Lê Duẩn",
# "Trường THPT Chu Văn An", "Lăng Chủ tịch Hồ Chí Minh", "phim Hoa Mộc Lan"): from
# Vietnamese addresses, the names of schools, hospitals and monuments, and the issue.
# A name right after one, or after one and a title ("Khu lưu niệm cố Tổng Bí thư Lê
# Duẩn"), is not a mention of a person.
HEADS = _load("heads")
# Heads that may begin a capitalized run ("Phố Đinh Tiên Hoàng", "Đại Học Tôn Đức
# Thắng"); not "hồ", which capitalized is the family name Hồ.
_RUN_HEADS = HEADS - {"hồ"}

# Words between a head and the names it introduces ("các tuyến phố ở Đà Lạt như Trần
# Phú, ...", "các trường THCS gồm Chu Văn An, ..."), and before a place in between.
HEAD_LINKS = _load("head_links")
PLACE_LINKS = HEAD_LINKS | {"của"}

# Credits name a photographer or writer, not a person in the story ("(Ảnh: Sơn Tùng)").
CREDIT_WORDS = _load("credit_words")

# Places with a name-like shape (family name + syllables: "Hà Nội", "Hồ Chí Minh",
# "Thái Bình Dương") or written between a title and a name ("Tổng thống Mỹ Donald
# Trump", "Giám đốc Sở ... Hà Nội Đỗ Đình Hồng"): Vietnamese provinces and cities,
# districts of Hà Nội and TP.HCM, lakes, countries and capitals as the press writes them.
PLACES = _load("places")

# Places named with a person's full name: after a title they name the person
# ("Chủ tịch Hồ Chí Minh"), otherwise the place ("TP Hồ Chí Minh", "tại Hồ Chí Minh").
PERSON_NAMED_PLACES = _load("person_named_places")

# Organisations with a person-shaped name (a family name and three syllables).
NON_PERSONS = _load("non_persons")

# Capitalized words that begin organisations, never a name ("Sở Y tế", "Bộ Ngoại giao").
ORG_WORDS = _load("org_words")
# English words of company, club and product names ("Thái Hà Books", "Champions League").
FOREIGN_ORG_WORDS = _load("foreign_org_words")

# Capitalized function words that start sentences ("Theo Phó Tổng giám đốc ...", "Khi
# Rainer ..."); at the start of a run they are not part of a name.
SENTENCE_STARTERS = _load("sentence_starters")
# Titles that only qualify another one ("cố Tổng Bí thư"); capitalized they are name syllables.
_QUALIFIERS = _load("qualifiers")
# Cues that only precede a name; after a name they start another phrase
# ("Tại New Delhi, chính quyền thành phố ...").
_LEFT_ONLY = _QUALIFIERS | _load("left_only")

# Standing aliases: "Bác Hồ" is how the press names Chủ tịch Hồ Chí Minh.
ALIASES = {"bác hồ": "Hồ Chí Minh"}

# Tokens joining the items of a list ("Trần Phú, Lê Lợi và Nguyễn Trãi", "Lê Duẩn - Trần Hưng Đạo").
_LIST_JOINERS = frozenset([",", "và", "-", "–", "cùng", "hoặc", "hay", "/", "&"])
_PERSON_JOINERS = frozenset([",", "và", "-", "–", "cùng", "&"])
# Capitalized first syllables of titles that are not name syllables: "Trưởng Ban",
# "Phó Chủ", "Luật Giáo" are titles cut by the segmenter, never names.
_TITLE_STARTS = _load("title_starts")
# House numbers: 29, 45B, 778/10, 212-214.
_NUMBER = re.compile(r"\d+[a-zA-Z]?(?:[/-]\d+[a-zA-Z]?)*")
_ADDRESS_SUFFIXES = frozenset(["bis", "ter"])  # "288 Bis Nguyễn Văn Cừ"
_NAME_SYLLABLE = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")  # "Tuấn", "Jong-un", "O'Neill"
_MAX_NAME = 5  # syllables; "Nguyễn Thị Minh Khai" and "Tôn Nữ Thị Ninh" have four
_MAX_PHRASE = 5  # syllables of the longest cue, head or place phrase
_BYLINE_JOINERS = frozenset(["-", "–", "/", "&", ","])


def person_key(name: str) -> str:
    """The matching key of a name: NFC, lowercase, canonical tone placement
    (``normalize_term``), hyphens between syllables as spaces, single spaces.

    >>> person_key("Nguyễn  Quốc Toàn") == person_key("nguyễn quốc toàn")
    True
    >>> person_key("Kim Jong-un")
    'kim jong un'
    """
    name = re.sub(r"(?<=\w)[-‐‑](?=\w)", " ", unicodedata.normalize("NFC", name))
    return " ".join(normalize_term(part) for part in name.split())


def extract_persons(text: str, words: list[analyze.Word] | None = None) -> list[str]:
    """Canonical full names of the persons `text` names, in order of first mention, each once.

    ``text`` is clean NFC text (title, lead and body); ``words`` is
    ``analyze.segment(text)`` when the caller already has it. A name is kept when it
    looks like a Vietnamese full name (a family name and two or more syllables) or
    follows a title or role ("HLV Park Hang Seo", "Tổng thống Mỹ Donald Trump"), unless
    a place or institution head precedes it ("đường Lê Duẩn", "Trường THPT Chu Văn An")
    or it is listed with such places. Shorter re-mentions ("ông Tuấn", "Trung Tuấn")
    fold into the full name; trailing byline lines are skipped.

    >>> extract_persons("Thủ tướng Nguyễn Xuân Phúc thăm Trường THPT Chu Văn An.")
    ['Nguyễn Xuân Phúc']
    """
    if words is None:
        words = analyze.segment(text)
    end = _byline_start(text)
    mentions: list[tuple[int, str]] = []
    unsure: list[tuple[int, str]] = []
    cued: set[str] = set()
    for line in _lines(_tokens(text, words, end)):
        for run in _judge_line(line):
            if run.status in ("person", "default"):
                mentions.append((line[run.begin].start, run.name))
            elif run.status == "cued":
                cued.add(person_key(run.name).split()[-1])
            elif run.status == "none" and run.name:
                unsure.append((line[run.begin].start, run.name))
    # A foreign name nowhere introduced by a title is a person when its surname is
    # ("Jose Mourinho đã loại Dele Alli" ... "HLV Mourinho"); a Vietnamese word before
    # it is not a given name ("Việc Barcelona", "Người Viking").
    for position, name in unsure:
        keys = person_key(name).split()
        if keys[-1] in cued and not _is_vietnamese_syllable(keys[0]):
            mentions.append((position, name))
    return _canonical_names(mentions)


# -- tokens --------------------------------------------------------------------


class _Tok(NamedTuple):
    """One syllable or punctuation mark of the text."""

    text: str
    key: str  # normalize_term(text)
    name_like: bool  # a capitalized syllable: "Tuấn", "Jong-un", "A"; not "HLV"
    punct: bool  # no letter or digit
    start: int
    joined: bool  # only spaces since the previous token (none at a line start)
    line_start: bool  # a newline since the previous token


def _tokens(text: str, words: Iterable[analyze.Word], end: int) -> list[_Tok]:
    toks: list[_Tok] = []
    prev_end = -1
    for word in words:
        for a, b in _unsplit(text, word.syllables):
            if a >= end:
                return toks
            piece = text[a:b]
            gap = text[prev_end:a] if prev_end >= 0 else "\n"
            if gap == " " or not gap:  # the common case, checked first for speed
                joined, newline = True, False
            else:
                newline = "\n" in gap
                joined = not newline and not gap.strip()
            toks.append(_Tok(piece, *_shape(piece), a, joined, newline))
            prev_end = b
    return toks


def _unsplit(text: str, spans) -> list[tuple[int, int]]:
    """Syllable spans with those the analyzer split at a hyphen or dot joined again:
    "Jong-un" is one name syllable here."""
    out: list[tuple[int, int]] = []
    for a, b in spans:
        if out and a == out[-1][1] + 1 and text[out[-1][1]] in "-.":
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


@lru_cache(maxsize=200_000)
def _shape(piece: str) -> tuple[str, bool, bool]:
    """(key, name_like, punct) of one token text; cached, as news repeats its words."""
    name_like = (
        piece[0].isupper()
        and _NAME_SYLLABLE.fullmatch(piece) is not None
        and (len(piece) == 1 or not piece.isupper())
    )
    return normalize_term(piece), name_like, not any(c.isalnum() for c in piece)


def _lines(toks: list[_Tok]) -> Iterator[list[_Tok]]:
    """Tokens line by line: a caption, a heading and a paragraph never share a name."""
    line: list[_Tok] = []
    for tok in toks:
        if tok.line_start and line:
            yield line
            line = []
        line.append(tok)
    if line:
        yield line


def _byline_start(text: str) -> int:
    """Offset of the byline lines at the end of ``text`` ("Hoàng Điệp", "Hồng Hải- Trần
    Thanh", "Đức Hoàng" then "Theo Sputnik"), or ``len(text)``. At most three lines; the
    first two (title and lead) are never a byline."""
    starts = [0] + [m.end() for m in re.finditer("\n", text)]
    end, taken = len(text), 0
    for index in range(len(starts) - 1, 1, -1):
        line = text[starts[index] : starts[index + 1] if index + 1 < len(starts) else len(text)]
        if not line.strip():
            continue
        if taken == 3 or not _is_credit_line(line):
            break
        end, taken = starts[index], taken + 1
    return end


def _is_credit_line(line: str) -> bool:
    """A line of names and credits that persons are not taken from: capitalised parts,
    joined by dashes, slashes, "&" or commas ("Hồng Hải- Trần Thanh", "Theo Sputnik").
    Broader than ``ingest._looks_like_byline``, which picks the one line that is the
    ``author`` (a joint credit is not an author), so the two rules stay apart."""
    parts = re.sub(r"([-–/&,])", r" \1 ", line).split()
    return (
        0 < len(parts) <= 8
        and not line.rstrip().endswith((".", "!", "?", ":", ";", "…", '"', "”"))
        and all(p in _BYLINE_JOINERS or p[0].isupper() for p in parts)
    )


# -- judging the capitalized runs of one line -------------------------------------------


class _Run(NamedTuple):
    """A maximal run of capitalized syllables, and what it was judged to be."""

    begin: int  # token range of the whole run in its line
    stop: int
    status: str  # "person" (a cue says so), "default" (looks like a Vietnamese full
    #              name), "place" (a head, a house number or a credit precedes it),
    #              "known" (a known place), "cued" (one syllable after a cue: "HLV
    #              Mourinho"), "none" (maybe a name, if a list or a cued surname says so)
    name: str = ""  # the name inside the run, as written ("" when there is none)


def _judge_line(line: list[_Tok]) -> list[_Run]:
    runs: list[_Run] = []
    i = 0
    while i < len(line):
        if not line[i].name_like:
            i += 1
            continue
        j = i + 1
        while j < len(line) and line[j].joined and line[j].name_like:
            j += 1
        runs.append(_judge_run(line, i, j))
        i = j
    _settle_scopes(line, runs)
    _settle_lists(line, runs)
    return runs


def _settle_scopes(line: list[_Tok], runs: list[_Run]) -> None:
    """A head before ":" or "(" makes the names up to the sentence end (or ")") places:
    "các trường THCS: Chu Văn An (quận Tây Hồ); ... Trưng Vương, Ngô Sĩ Liên (...)",
    "6 trường (Phổ thông Năng khiếu, ..., Lê Hồng Phong, Trần Đại Nghĩa)"."""
    inside: list[bool] = []
    closing: tuple[str, ...] = ()
    for k, tok in enumerate(line):
        inside.append(bool(closing))
        if closing and tok.text in closing:
            closing = ()
        elif tok.text in (":", "(") and _head_before(line, k - 1):
            closing = (")",) if tok.text == "(" else (".", "!", "?", "…")
    for index, run in enumerate(runs):
        if inside[run.begin] and run.status == "default":
            runs[index] = run._replace(status="place")


def _judge_run(line: list[_Tok], i: int, j: int) -> _Run:
    """Judge the run ``line[i:j]`` from its shape and what stands around it."""
    keys = [t.key for t in line[i:j]]
    before = _left_context(line, i)
    if before in ("head", "number", "credit"):
        return _Run(i, j, "place")
    alias = ALIASES.get(" ".join(keys[-2:]))
    if alias:
        return _Run(i, j, "person", alias)
    # A title that starts in the run and goes on in lowercase is not part of the name
    # ("Nguyễn Thành Phong Chủ" + "tịch").
    j -= _title_tail(line, i, j)
    keys = keys[: j - i]
    if j == i:
        return _Run(i, i, "none")
    # Leading titles, places and heads of the run itself: "Ông", "Mỹ", "Phố".
    s, pronoun, place = i, False, False
    strong = before in ("cue", "title")  # a pronoun or a title that only people have
    weak = before == "unit"
    starter = False
    while s < j - 1:
        length, kind = _prefix(line, s, j, s == i and _starts_sentence(line, i), pronoun)
        if kind == "head":
            return _Run(i, j, "place")
        if kind is None:
            break
        strong = strong or kind in ("cue", "pronoun")
        weak = weak or kind == "unit"
        pronoun = pronoun or kind == "pronoun"
        place = place or kind == "place"
        starter = starter or kind == "starter"
        s += length
    cue = strong or weak
    whole = " ".join(keys)
    if j - s < 2:
        if whole in PLACES:
            return _Run(i, j, "known")
        # "HLV Mourinho", "ông Biden": a surname after a cue, to confirm "Jose Mourinho"
        return _Run(i, j, "cued", _surface(line, s, j)) if strong or weak else _Run(i, j, "none")

    # A Vietnamese full name: a family name and one to four more syllables.
    family = next((k for k in range(s, j - 1) if line[k].key in FAMILY_NAMES), None)
    if family is not None and j - family <= _MAX_NAME:
        cue = cue and family == s  # unknown capitalized words would stand between
        name = _surface(line, family, j)
        key = " ".join(t.key for t in line[family:j])
        if key in NON_PERSONS or any(k in FOREIGN_ORG_WORDS for k in keys[family - i :]):
            return _Run(i, j, "known")
        if key in PLACES:
            person = key in PERSON_NAMED_PLACES and before in ("title", "unit") and family == s
            return _Run(i, j, "person", name) if person else _Run(i, j, "known")
        if j - family >= 3:
            return _Run(i, j, "person" if cue else "default", name)
        return _Run(i, j, "person" if cue or _right_cue(line, j) else "none", name)

    # Any other name (foreign, a stage name) needs a cue before or after it.
    name_keys = keys[s - i : j - i]
    if " ".join(name_keys) in PLACES or " ".join(name_keys) in NON_PERSONS:
        return _Run(i, j, "known")
    if (
        len(name_keys) <= 4
        and name_keys[0] not in _TITLE_STARTS
        and not _is_org(name_keys)
        and not any(" ".join(name_keys[k:]) in PLACES for k in range(1, len(name_keys)))
    ):
        name = _surface(line, s, j)
        foreign = place or _looks_foreign(name)
        if strong or (weak or _right_cue(line, j)) and foreign:
            return _Run(i, j, "person", name)
        # "Sau Hoa Mộc Lan, Lưu Diệc Phi ...": an adverbial, not an item of a list
        return _Run(i, j, "none", "" if starter else name)
    return _Run(i, j, "none")


# A Vietnamese syllable without its marks: onset, vowel cluster, final consonant.
_VIETNAMESE_SYLLABLE = re.compile(
    r"(?:ngh|ng|nh|ch|gh|gi|kh|ph|qu|th|tr|[bcdghklmnprstvx])?"
    r"(?:[aeiouy]|a[iouy]|eo|eu|i[aeu]|ieu|o[aeio]|oa[iyo]|oeo|u[aeiouy]|uo[iu]|uy[aeu]|uay"
    r"|y[ae]|yeu)"
    r"(?:ch|ng|nh|[cmnpt])?"
)


def _is_vietnamese_syllable(key: str) -> bool:
    """True when ``key`` (lowercase) is spelled like a Vietnamese syllable: "tập", "cận",
    "bình", "hoài"; not "joe", "biden", "park", "messi"."""
    return _VIETNAMESE_SYLLABLE.fullmatch(fold(key)) is not None


def _looks_foreign(name: str) -> bool:
    """True when a syllable of ``name`` is not Vietnamese: "Joe Biden", "Park Hang Seo"."""
    return not all(map(_is_vietnamese_syllable, person_key(name).split()))


def _left_context(line: list[_Tok], i: int) -> str | None:
    """What stands right before token ``i``: "title", "unit" (a title also put before
    companies), "cue" (a pronoun), "head", "number", "credit", a list joiner (",", "và",
    ...), or None."""
    k = i - 1
    if k < 0:
        return None
    if line[k].punct:
        if line[k].text == ":" and _phrase_ending(line, k - 1, CREDIT_WORDS):
            return "credit"
        if line[k].text in ("(", ":") and _head_before(line, k - 1):
            return "head"
        if line[k].text == ",":
            # A title, maybe a country or an organisation, then a comma: "Thủ tướng Anh,
            # Boris Johnson", "phó Chủ tịch European Super League, Andrea Agnelli".
            k2 = k - 1
            while k2 >= 0 and k - k2 <= _MAX_NAME and line[k2].name_like and line[k2].joined:
                k2 -= 1
            if k2 < k - 1 and (length := _phrase_ending(line, k2, TITLE_CUES)):
                return _title_kind(line, k2, length)
        return line[k].text if line[k].text in _LIST_JOINERS else None
    if _NUMBER.fullmatch(line[k].text) or (
        line[k].key in _ADDRESS_SUFFIXES and k > 0 and _NUMBER.fullmatch(line[k - 1].text)
    ):
        return "number"
    if line[k].key in _LIST_JOINERS:
        return line[k].key
    # Skip modifiers between a title and a name ("Tổng thống đương nhiệm Donald Trump",
    # "các ngôi sao hàng đầu như Triệu Vy"); they never follow a pronoun.
    skipped = False
    while (length := _phrase_ending(line, k, CUE_MODIFIERS)) and not _phrase_ending(line, k, CUES):
        k, skipped = k - length, True
    length = _phrase_ending(line, k, CUES | HEADS)
    if not length:
        return "head" if _head_before(line, k) else None
    first = line[k - length + 1]
    phrase = " ".join(t.key for t in line[k - length + 1 : k + 1])
    if phrase not in CUES:
        return "head"
    if phrase not in TITLE_CUES:
        # a pronoun is lowercase unless it starts a sentence ("bóng Anh gồm" is England)
        capital_ok = first.text[0].islower() or _starts_sentence(line, k - length + 1)
        pronoun = not skipped and capital_ok
        compound = k - length >= 0 and f"{line[k - length].key} {phrase}" in NOT_PRONOUNS
        return "cue" if pronoun and not compound else None
    kind = _title_kind(line, k, length)
    # A title after a head names the place, not the person: "Lăng Chủ tịch Hồ Chí Minh".
    k -= length
    while length := _phrase_ending(line, k, TITLE_CUES):
        k -= length
    return "head" if _phrase_ending(line, k, HEADS) else kind


def _title_kind(line: list[_Tok], k: int, length: int) -> str:
    """Whether the title ending at token ``k`` is also put before companies and units
    ("unit") or only before people ("title")."""
    phrase = " ".join(t.key for t in line[k - length + 1 : k + 1])
    return "unit" if phrase in UNIT_TITLES else "title"


def _head_before(line: list[_Tok], k: int) -> bool:
    """True when a head ends at token ``k``, maybe followed by linking words and a known
    place: "các tuyến phố ở Đà Lạt như", "các tuyến phố của Hà Nội như" (then the names)."""
    for _ in range(4):
        if _phrase_ending(line, k, HEADS):
            return True
        length = _phrase_ending(line, k, HEAD_LINKS)
        if not length:
            length = _phrase_ending(line, k, PLACES)
            link = _phrase_ending(line, k - length, PLACE_LINKS) if length else 0
            if not link:
                return False
            length += link
        k -= length
    return False


def _phrase_ending(line: list[_Tok], k: int, phrases: frozenset[str]) -> int:
    """Length of the longest phrase of ``phrases`` that ends at token ``k`` (0 if none),
    its tokens separated by spaces only."""
    best, phrase = 0, ""
    for first in range(k, max(k - _MAX_PHRASE, -1), -1):
        tok = line[first]
        if tok.punct or first < k and not line[first + 1].joined:
            break
        phrase = tok.key + " " + phrase if phrase else tok.key
        if phrase in phrases:
            best = k - first + 1
    return best


def _title_tail(line: list[_Tok], i: int, j: int) -> int:
    """How many syllables at the end of run ``line[i:j]`` begin a title, head or
    organisation that goes on in lowercase after it ("Phó Tổng" + "giám đốc", "Khối
    Viễn" + "thông"); 0 if none."""
    after = ""
    for tok in line[j : j + 2]:
        if not tok.joined or tok.name_like or tok.punct:
            break
        after += " " + tok.key
    if not after:
        return 0
    best, phrase = 0, ""
    for first in range(j - 1, max(i, j - 3) - 1, -1):
        phrase = line[first].key + " " + phrase if phrase else line[first].key
        words = (phrase + after).split()
        for end in range(len(phrase.split()) + 1, len(words) + 1):
            tail = " ".join(words[:end])
            if tail in CUES or tail in HEADS or tail in ORG_WORDS:
                best = j - first
    return best


def _prefix(
    line: list[_Tok], s: int, j: int, sentence_start: bool, after_pronoun: bool
) -> tuple[int, str | None]:
    """The longest title, place, head or sentence-starting word at the start of run
    ``line[s:j]``: (its length, "cue" / "pronoun" / "place" / "head" / "starter"), or
    (0, None). A place is only stripped when two syllables remain ("Mỹ Donald Trump",
    but "Mỹ Tâm") and not after a pronoun ("Cô Nga Đồi Xanh" is a restaurant)."""
    phrase = ""
    found: tuple[int, str | None] = (0, None)
    for length in range(1, min(_MAX_PHRASE, j - s - 1) + 1):
        phrase = phrase + " " + line[s + length - 1].key if phrase else line[s].key
        if phrase == "anh":  # "Anh Nguyễn Văn A" starts a sentence; "Thủ tướng Anh" is the UK
            if sentence_start or j - s - length >= 2:
                found = (length, "pronoun" if sentence_start else "place")
        elif phrase in PRONOUN_CUES:
            # mid-sentence, only before a family or a foreign name ("- Ông Phạm Nhật
            # Vượng"), not in "Bà Chúa Xứ", "Cô Tô", "Ông Ích Khiêm"
            after = line[s + length].key
            if sentence_start or after in FAMILY_NAMES or not _is_vietnamese_syllable(after):
                found = (length, "pronoun")
        elif phrase in TITLE_CUES and phrase not in _QUALIFIERS:
            found = (length, "unit" if phrase in UNIT_TITLES else "cue")
        elif phrase in PLACES and j - s - length >= 2 and not after_pronoun:
            found = (length, "place")
        elif phrase in _RUN_HEADS:
            found = (length, "head")
        elif length == 1 and sentence_start and phrase in SENTENCE_STARTERS:
            found = (length, "starter")
    return found


def _starts_sentence(line: list[_Tok], i: int) -> bool:
    return i == 0 or line[i - 1].punct and line[i - 1].text not in (",", "-", "–")


def _right_cue(line: list[_Tok], j: int) -> bool:
    """A role or an age right after a name: "Elon Musk, giám đốc điều hành của Tesla",
    "chị Hoài Linh, 27 tuổi", "ông Nguyễn Chí Thanh (SN 1969)"."""
    k = j + 1 if j < len(line) and line[j].text in (",", "-", "–", "(") else j
    while k < len(line) and line[k].key in _QUALIFIERS:  # "X, nguyên Bí thư ..."
        k += 1
    phrase = ""
    for end in range(k, min(k + _MAX_PHRASE, len(line))):
        phrase = phrase + " " + line[end].key if phrase else line[end].key
        if phrase in TITLE_CUES and phrase not in _LEFT_ONLY:
            # not when the title introduces the next name ("Champions League, tiền đạo
            # Kylian Mbappe"); an organisation or a place may follow ("Bill Gates, đồng
            # sáng lập Microsoft", "Betsy Bryan, giáo sư Ai Cập học")
            nxt = []
            for tok in line[end + 1 : end + 1 + _MAX_NAME]:
                if not (tok.name_like and tok.joined):
                    break
                nxt.append(tok.key)
            return len(nxt) < 2 or _is_org(nxt) or _phrase_at(nxt, PLACES)
    tail = [t.key for t in line[k : k + 2]]
    return bool(tail) and (
        tail[0] in ("sn", "sinh") or len(tail) == 2 and tail[0].isdigit() and tail[1] == "tuổi"
    )


def _is_org(keys: list[str]) -> bool:
    """True for "Sở Y", "Khoa Kinh", "Masan Group", "Champions League"."""
    return _phrase_at(keys, ORG_WORDS) or any(key in FOREIGN_ORG_WORDS for key in keys)


def _phrase_at(keys: list[str], phrases: frozenset[str]) -> bool:
    """True when ``keys`` start with a phrase of ``phrases``."""
    return any(" ".join(keys[:n]) in phrases for n in range(1, min(len(keys), _MAX_PHRASE) + 1))


def _surface(line: list[_Tok], first: int, last: int) -> str:
    return " ".join(t.text for t in line[first:last])


def _settle_lists(line: list[_Tok], runs: list[_Run]) -> None:
    """Items of one list share their kind: a name listed with streets or schools is a
    street or a school ("phố Hàng Khay, Tràng Tiền, Đinh Tiên Hoàng"); a name listed
    with persons is a person ("Vợ chồng Trấn Thành - Hari Won")."""
    for joiners, spread in ((_LIST_JOINERS, _spread_places), (_PERSON_JOINERS, _spread_persons)):
        group: list[int] = []
        for index, run in enumerate(runs):
            prev = runs[index - 1] if index else None
            joiner = line[prev.stop] if prev is not None and run.begin - prev.stop == 1 else None
            if joiner is None or joiner.key not in joiners:
                spread(runs, group)
                group = []
            group.append(index)
        spread(runs, group)


def _spread_places(runs: list[_Run], group: list[int]) -> None:
    if any(runs[k].status in ("place", "known") for k in group):
        for k in group:
            if runs[k].status == "default":
                runs[k] = runs[k]._replace(status="place")


def _spread_persons(runs: list[_Run], group: list[int]) -> None:
    """A cue-confirmed person makes the other names of its list persons; a default one
    only those that look foreign ("Lâm Đại Ngọc và Hồng Lâu Mộng": a novel)."""
    statuses = {runs[k].status for k in group}
    if statuses & {"person", "default"}:
        for k in group:
            run = runs[k]
            if run.status == "none" and run.name:
                if "person" in statuses or _looks_foreign(run.name):
                    runs[k] = run._replace(status="person")


# -- from mentions to names -------------------------------------------------------


def _canonical_names(mentions: list[tuple[int, str]]) -> list[str]:
    """One name per person, in order of first mention: the first spelling of each key,
    without names that only repeat part of a longer one ("Trung Tuấn" in "Doãn Trung Tuấn")."""
    first: dict[str, tuple[int, str]] = {}
    for position, name in mentions:
        name = unicodedata.normalize("NFC", name)
        first.setdefault(person_key(name), (position, name))
    keys = list(first)
    kept = [k for k in keys if not any(_is_part_of(k, other) for other in keys)]
    return [first[k][1] for k in sorted(kept, key=lambda k: first[k][0])]


def _is_part_of(short: str, long: str) -> bool:
    """True when ``long`` has more syllables and those of ``short`` appear in it in order."""
    remaining = long.split()
    if len(remaining) <= len(short.split()):
        return False
    rest = iter(remaining)
    return all(syllable in rest for syllable in short.split())
