"""Presentation: ``Hit`` and ``Article`` → JSON-ready dicts, an HTML fragment, terminal text (the CLI's output, for any front end), every field made safe to show on a terminal."""

from __future__ import annotations

import html
import json
import re
from typing import Callable, TextIO

from .api import Hit
from .highlight import Snippet
from .ingest import Article


def hits_html(hits: list[Hit]) -> str:
    """Hits as an HTML fragment: article text escaped, matches in <mark>."""
    items = []
    for hit in hits:
        published = hit.published.strftime("%d/%m/%Y") if hit.published else ""
        snippets = "".join(f"<p>… {_neutral(s).html()} …</p>" for s in hit.snippets)
        hit_id = html.escape(terminal_safe(hit.id, newlines=False))
        items.append(
            f'<li id="{hit_id}"><h3>{_neutral(hit.title_snippet).html()}</h3>'
            f"<small>{published} · {hit_id}</small>{snippets}</li>"
        )
    return "<ol>\n" + "\n".join(items) + "\n</ol>"


def hit_json(hit: Hit) -> dict:
    """A hit as a JSON-ready dict (one line of ``search --json``)."""
    return {
        "id": hit.id,
        "title": hit.title,
        "published": hit.published.isoformat() if hit.published else None,
        "url": hit.article.url,
        "score": hit.score,
        "snippets": [s.to_json() for s in hit.snippets],
        "persons": list(hit.persons),
        "matched_persons": list(hit.matched_persons),
    }


def hit_text(rank: int, hit: Hit, mark: Callable[[Snippet], str], scored: bool = True) -> str:
    """A hit as terminal lines (a blank one last), snippets marked by ``mark`` (``Snippet.ansi`` or ``Snippet.plain``)."""
    published = hit.published.strftime("%d/%m/%Y") if hit.published else "no date"
    score = f" · score {hit.score:.2f}" if scored else ""
    lines = [f"{rank}. {mark(_neutral(hit.title_snippet, newlines=False))}",
             f"   {published} · {_line(hit.id)}{score}"]
    if hit.matched_persons:
        lines.append(f"   persons: {_line(', '.join(hit.matched_persons))}")
    lines += [f"   … {mark(_neutral(snippet))} …" for snippet in hit.snippets]
    return "\n".join(lines) + "\n"


def article_text(article: Article, persons: list[str] | tuple[str, ...] = ()) -> str:
    """An article as terminal text (``show``): a header of its fields, then lead and body."""
    published = article.published.strftime("%H:%M %d/%m/%Y") if article.published else "no date"
    lines = [f"{_line(article.title)} ({published})",
             f"id: {_line(article.id)}" + (f" · author: {_line(article.author)}" if article.author else "")]
    if persons:
        lines.append(f"persons: {_line(', '.join(persons))}")
    lines += [f"{name}: {_line(getattr(article, name))}" for name in ("url", "source", "category") if getattr(article, name)]
    text = (article.lead + "\n\n" if article.lead else "") + article.body
    return "".join(line + "\n" for line in lines) + "\n" + terminal_safe(text)


def article_json(article: Article) -> dict:
    """An article as a JSON-ready dict (``show --json``)."""
    out = {name: getattr(article, name) for name in article.__dataclass_fields__}
    out["published"] = article.published.isoformat() if article.published else None
    return out


# Characters that can drive a terminal or reorder what it shows: C0 controls but tab and
# newline, DEL, the 8-bit controls U+0080–U+009F (U+009B is a CSI on some terminals), the
# bidirectional marks, overrides, embeddings and isolates, and lone surrogates (a file
# name or argument that was not UTF-8).
_CONTROLS = r"\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_UNSAFE = re.compile(f"[{_CONTROLS}]")
_UNSAFE_ONE_LINE = re.compile(rf"[\t\n{_CONTROLS}]")


def terminal_safe(text: str, *, newlines: bool = True) -> str:
    """``text`` with every character that could move the cursor, clear the screen, set a
    window title or reorder the line shown as a visible escape (``\\x1b``, ``\\u202e``);
    tabs and newlines too unless ``newlines``. Plain text is returned as it is."""
    unsafe = _UNSAFE if newlines else _UNSAFE_ONE_LINE
    return unsafe.sub(_escape, text) if unsafe.search(text) else text


def _line(text: str) -> str:
    """A one-line field (id, title, author, url, name) made safe: newlines shown escaped too."""
    return terminal_safe(text, newlines=False)


def _neutral(snippet: Snippet, *, newlines: bool = True) -> Snippet:
    """``snippet`` with each unsafe character replaced by U+FFFD, one for one, so that its
    match offsets still hold."""
    unsafe = _UNSAFE if newlines else _UNSAFE_ONE_LINE
    if not unsafe.search(snippet.text):
        return snippet
    return Snippet(unsafe.sub("\ufffd", snippet.text), snippet.matches)


def to_json(value, *, indent: int | None = None) -> str:
    """``value`` as JSON for ``--json``: UTF-8 text, but C0 and 8-bit controls, bidi
    overrides and lone surrogates as ``\\uXXXX`` escapes (the same strings to a JSON
    reader, inert on a terminal)."""
    text = json.dumps(value, ensure_ascii=False, indent=indent)
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


class ErrorsJson:
    """``--errors-json``: the rejected inputs written to a file as a JSON list while they are
    met, so none is kept in memory for it. Escaped ASCII, so a control character or a file
    name that is not UTF-8 cannot break the file or a terminal showing it."""

    def __init__(self, out: TextIO):
        self.out = out
        self.count = 0
        out.write("[")

    def add(self, message: str) -> None:
        self.out.write(("," if self.count else "") + "\n " + json.dumps(message))
        self.count += 1

    def close(self) -> None:
        self.out.write("\n]\n" if self.count else "]\n")
        self.out.flush()


def check_text(report) -> str:
    """``hnp-search check``'s report: each file of the index and what was found."""
    lines = [f"damaged  {terminal_safe(name)}: {terminal_safe(why)}" for name, why in report.damaged.items()]
    lines += [f"ok       {name}" for name in report.sound]
    lines += [f"read     {name} (no checksum recorded: written after the last recorded commit)"
              for name in report.unrecorded if name not in report.damaged]
    verdict = "the index is sound" if report.ok else "the index is damaged"
    return "\n".join(lines + [f"{terminal_safe(str(report.folder))}: {verdict}"])
