"""Synonyms: groups of names for one thing ("TP.HCM" / "Sài Gòn"), from the package's list and a user's file."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..errors import SynonymsError
from ..text import analyze
from ..text.normalize import fold

#: The curated list shipped with the package.
BUILTIN = Path(__file__).with_name("synonyms.txt")
#: The environment variable naming a user's list (same format), used beside the built-in one.
ENVIRONMENT = "HNP_SEARCH_SYNONYMS"
#: Longest form, in syllables.
MAX_FORM = 8


def _syllables(form: str) -> tuple[str, ...]:
    """A form's folded syllables ("TP.HCM" -> ("tp", "hcm"))."""
    return tuple(fold(s) for w in analyze.query_words(form) for s in w.syllables)


@dataclass(frozen=True)
class Synonyms:
    """Groups of forms; each form a tuple of folded syllables. A run of query syllables is a
    form when its syllables, or its syllables written together, are those of the form (or the
    form's written together)."""

    groups: tuple[tuple[tuple[str, ...], ...], ...]

    def __post_init__(self):
        keys: dict[str, set[int]] = {}
        for number, group in enumerate(self.groups):
            for form in group:
                keys.setdefault("".join(form), set()).add(number)
        object.__setattr__(self, "_keys", keys)

    @classmethod
    def parse(cls, text: str, path: str = "<synonyms>") -> "Synonyms":
        """Groups from lines of forms separated by ``|`` (``#`` starts a comment); a line
        with fewer than two forms, or a form too long or without letters, is an error naming
        ``path`` and the line."""
        groups = []
        for number, line in enumerate(text.splitlines(), 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            forms = [f.strip() for f in line.split("|")]
            group = []
            for form in forms:
                syllables = _syllables(form)
                if not syllables:
                    raise SynonymsError(path, f"form {form!r} has no letters or digits", number)
                if len(syllables) > MAX_FORM:
                    raise SynonymsError(path, f"form {form!r} is longer than {MAX_FORM} syllables", number)
                if syllables not in group:
                    group.append(syllables)
            if len(group) < 2:
                raise SynonymsError(path, "a line needs at least two different forms separated by '|'", number)
            groups.append(tuple(group))
        return cls(tuple(groups))

    @classmethod
    def read(cls, path: str | os.PathLike) -> "Synonyms":
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SynonymsError(str(path), f"cannot read the synonyms list: {exc}") from None
        return cls.parse(text, str(path))

    def __add__(self, other: "Synonyms") -> "Synonyms":
        return Synonyms(self.groups + other.groups)

    def find(self, syllables: list[str]) -> list[tuple[int, int, tuple[tuple[str, ...], ...]]]:
        """Runs of ``syllables`` (as typed) that are forms: (start, end, the other forms of
        their groups), longest runs first, left to right, not overlapping."""
        folded = [fold(s) for s in syllables]
        out = []
        i = 0
        while i < len(folded):
            for n in range(min(MAX_FORM, len(folded) - i), 0, -1):
                run = tuple(folded[i : i + n])
                groups = self._keys.get("".join(run))  # type: ignore[attr-defined]
                if groups:
                    others = [f for g in sorted(groups) for f in self.groups[g] if f != run]
                    out.append((i, i + n, tuple(dict.fromkeys(others))))
                    i += n
                    break
            else:
                i += 1
        return out


@lru_cache(maxsize=8)
def _load(path: str | None) -> Synonyms:
    builtin = Synonyms.read(BUILTIN)
    return builtin if not path else builtin + Synonyms.read(path)


def load(path: str | os.PathLike | None = None) -> Synonyms:
    """The built-in list plus the user's: ``path``, else the file ``$HNP_SEARCH_SYNONYMS`` names."""
    chosen = path if path is not None else os.environ.get(ENVIRONMENT) or None
    return _load(str(chosen) if chosen is not None else None)
