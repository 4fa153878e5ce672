"""Typing left in Telex or VNI keystrokes → the Vietnamese syllable meant: ``hoaf`` → ``hòa``.

``vie65t`` → ``việt``: the input method was off.

Both decoders are blind: ``taxi`` decodes to ``tãi`` as readily as ``binhf`` to
``bình``. The query planner keeps a decoding only where the index holds it, and
ranks it below what was typed.
"""

from __future__ import annotations

import re
import unicodedata

from ..text.normalize import canonical_syllable

#: Combining tone marks by Telex key and by VNI digit (z and 0 clear a tone).
_TELEX_TONES = {"s": "\u0301", "f": "\u0300", "r": "\u0309", "x": "\u0303", "j": "\u0323", "z": ""}
_VNI_TONES = {"1": "\u0301", "2": "\u0300", "3": "\u0309", "4": "\u0303", "5": "\u0323", "0": ""}
#: Vowel shapes: circumflex (Telex aa ee oo, VNI 6), horn (Telex w, VNI 7), breve (Telex aw, VNI 8).
_CIRCUMFLEX = {"a": "â", "e": "ê", "o": "ô"}
_HORN = {"o": "ơ", "u": "ư"}
_BREVE = {"a": "ă"}

_VOWELS = "aeiouy"
#: Onsets, longest first; the u of "qu" and the i of "gi" (before a vowel) belong to them.
_ONSET = re.compile(r"^(ngh|ng|nh|ch|gh|gi(?=[aeiouy])|kh|ph|qu|th|tr|dd|[bcdghklmnpqrstvx])?")
#: What may follow the vowels of a syllable.
_CODA = re.compile(r"^(ch|ng|nh|[cmnpt])?$")


def _compose(onset: str, vowels: str, coda: str, tone: str) -> str | None:
    """A syllable from its parts, with the tone mark placed as ``canonical_syllable`` does;
    None unless the parts make one."""
    if not vowels or len(vowels) > 3 or not _CODA.match(coda):
        return None
    base = onset.replace("dd", "đ") + vowels + coda
    if not tone:
        return base
    return canonical_syllable(unicodedata.normalize("NFC", base + tone))


def _onset(letters: str) -> str:
    """The consonants a syllable starts with ("" when it starts with a vowel)."""
    match = _ONSET.match(letters)
    return match.group() if match else ""


def _split(letters: str) -> tuple[str, str, str] | None:
    """(onset, vowels, rest) of a lowercase ASCII string, or None if it has no vowel."""
    onset = _onset(letters)
    rest = letters[len(onset):]
    i = 0
    while i < len(rest) and rest[i] in _VOWELS:
        i += 1
    if i == 0:
        return None
    return onset, rest[:i], rest[i:]


def _shape(vowels: str, table: dict[str, str], prefer_uo: bool = False) -> str | None:
    """Apply one vowel shape to the first vowel it fits (both of "uo" for the horn: "ươ")."""
    if prefer_uo and "uo" in vowels:
        return vowels.replace("uo", "ươ", 1)
    for i, v in enumerate(vowels):
        if v in table:
            return vowels[:i] + table[v] + vowels[i + 1:]
    return None


def decode_telex(token: str) -> str | None:
    """The syllable a Telex-typed ``token`` stands for, or None when it is not Telex.

    >>> decode_telex("hoaf"), decode_telex("dduwowngf"), decode_telex("vieetj")
    ('hòa', 'đường', 'việt')
    """
    t = token.lower()
    if not t.isascii() or not t.isalpha() or len(t) > 10:
        return None
    onset = _onset(t)
    body = t[len(onset):]
    if not body or body[0] not in _VOWELS + "w":
        return None
    # Tone keys and w can come anywhere after the first vowel: take them out.
    tone: str | None = None
    horn = False
    kept: list[str] = []
    for c in body:
        if kept and c in _TELEX_TONES:
            tone = _TELEX_TONES[c]
        elif c == "w":
            horn = True
        else:
            kept.append(c)
    rest = "".join(kept)
    i = 0
    while i < len(rest) and rest[i] in _VOWELS:
        i += 1
    vowels, coda = rest[:i], rest[i:]
    changed = tone is not None or horn or onset == "dd"
    # Doubled vowels: aa ee oo (a circumflex), typed right after each other.
    doubled = re.sub(r"(aa|ee|oo)", lambda m: _CIRCUMFLEX[m.group()[0]], vowels, count=1)
    if doubled != vowels:
        vowels, changed = doubled, True
    if horn:
        if not vowels:  # w alone is ư: "thw" → "thư"
            vowels = "ư"
        else:
            shaped = _shape(vowels, {**_HORN, **_BREVE}, prefer_uo=True)
            if shaped is None:
                return None
            vowels = shaped
    if not changed:
        return None
    return _compose(onset, vowels, coda, tone or "")


_VNI_DIGITS = re.compile(r"\d")


def decode_vni(token: str) -> str | None:
    """The syllable a VNI-typed ``token`` stands for, or None when it is not VNI.

    >>> decode_vni("vie65t"), decode_vni("d9uo7ng2"), decode_vni("hoa2")
    ('việt', 'đường', 'hòa')
    """
    t = token.lower()
    if not t.isascii() or not t.isalnum() or t.isdigit() or t.isalpha() or len(t) > 12:
        return None
    if not t[0].isalpha():
        return None  # "19a", "2020s": numbers, not keystrokes
    tone = None
    shapes = []
    letters: list[str] = []
    for c in t:
        if c in _VNI_TONES:
            tone = _VNI_TONES[c]
        elif c in "6789":
            shapes.append((c, len(letters)))
        else:
            letters.append(c)
    word = "".join(letters)
    if "9" in (c for c, _ in shapes):
        if not word.startswith("d"):
            return None
        word = "dd" + word[1:]
    parts = _split(word)
    if parts is None:
        return None
    onset, vowels, coda = parts
    for c, _ in shapes:
        shaped: str | None = vowels
        if c == "6":
            shaped = _shape(vowels, _CIRCUMFLEX)
        elif c == "7":
            shaped = _shape(vowels, _HORN, prefer_uo=True)
        elif c == "8":
            shaped = _shape(vowels, _BREVE)
        if shaped is None:
            return None
        vowels = shaped
    return _compose(onset, vowels, coda, tone or "")


def decodings(token: str) -> list[str]:
    """Every reading of ``token`` as Telex or VNI keystrokes (none, one or both)."""
    out = []
    for decoded in (decode_telex(token), decode_vni(token)):
        if decoded and decoded != token.lower() and decoded not in out:
            out.append(decoded)
    return out
