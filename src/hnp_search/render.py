"""Presentation: ``Results.to_dict()``, ``Hit.to_dict()``, ``Article`` and stats → terminal text, an HTML page, dicts.

The CLI's output, for any front end; every field from an article or a file name is made safe
to show on a terminal (``terminal_safe``, ``to_json``).
"""

from __future__ import annotations

import html
import json
import re
from typing import Callable, TextIO

from .results import Hit
from .highlight import Snippet
from .ingest import Article
from .query.explain import Explanation


def explanation(explained: Explanation, as_json: bool = False) -> str:
    """How a query was understood (``engine.explain``), as text or one JSON object."""
    return to_json(explained.to_dict()) if as_json else terminal_safe(str(explained))


def plural(count: int, noun: str) -> str:
    """``1 article``, ``2 articles``, ``1,234 articles``."""
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}s"


def marked(text: str, matches, before: str, after: str, escape: Callable[[str], str] = str) -> str:
    """``text`` with each [start, end) of ``matches`` between ``before`` and ``after``, the rest through ``escape``."""
    out, last = [], 0
    for start, end in sorted(matches):
        if start < last:
            continue
        out += [escape(text[last:start]), before, escape(text[start:end]), after]
        last = end
    out.append(escape(text[last:]))
    return "".join(out)


#: How terminal text marks matches: plain ``[[…]]`` or bold yellow.
PLAIN = ("[[", "]]")
ANSI = ("\x1b[1;33m", "\x1b[0m")


def results_header(results: dict, query: str) -> str:
    """The line above the hits: how many articles match, how many hold every word, which are shown."""
    total, shown = results["total"], len(results["hits"])
    what = f" for {query!r}" if query.strip() else ""
    if not total:
        return f"No articles match {query!r}." if query.strip() else "No articles match."
    line = f"Found {plural(total, 'article')}{what}"
    if results["total_all_words"] != total:
        line += f" ({results['total_all_words']:,} with every word)"
    first = results["offset"] + 1
    if not shown:
        return line + f"; none from #{first:,} on (the last page is {-(-total // max(results['limit'], 1)):,})."
    if shown < total:
        line += f"; showing {first:,}–{first + shown - 1:,}"
    return line + "."


def hit_text(rank: int, hit: dict | Hit, mark: tuple[str, str] | Callable = PLAIN, scored: bool = True) -> str:
    """A hit (``Hit.to_dict()``) as terminal lines (a blank one last), matches between ``mark``'s two strings."""
    if isinstance(hit, Hit):
        hit = hit.to_dict()
    if callable(mark):  # Snippet.plain or Snippet.ansi, as before
        mark = ANSI if mark is Snippet.ansi else PLAIN
    published = hit["published"][:10].split("-") if hit["published"] else None
    date = "/".join(reversed(published)) if published else "no date"
    score = f" · score {hit['score']:.2f}" if scored else ""
    title = marked(hit["title"], hit.get("title_matches", ()), *mark, _line)
    lines = [f"{rank}. {title}", f"   {date} · {_line(hit['id'])}{score}"]
    if hit["matched_persons"]:
        lines.append(f"   persons: {_line(', '.join(hit['matched_persons']))}")
    lines += [f"   … {marked(s['text'], s['matches'], *mark, terminal_safe)} …" for s in hit["snippets"]]
    return "\n".join(lines) + "\n"


def facets_text(facets: dict) -> str:
    """Facet counts (``Results.to_dict()["facets"]``) as terminal lines, one per facet."""
    lines = []
    for name, counts in facets.items():
        values = " · ".join(f"{_line(str(c['value']))} {c['count']:,}" for c in counts) or "none"
        lines.append(f"{name}: {values}")
    return "".join(line + "\n" for line in lines)


def results_text(results: dict, query: str, mark: tuple[str, str] = PLAIN, scored: bool = True) -> str:
    """A page of results (``Results.to_dict()``) as terminal text: the header, the hits
    numbered from the page's offset, the facets."""
    out = [results_header(results, query) + "\n"]
    if results["hits"]:
        out.append("\n")
    out += [hit_text(results["offset"] + i, hit, mark, scored) + "\n" for i, hit in enumerate(results["hits"], 1)]
    if results["facets"]:
        out.append(facets_text(results["facets"]))
    return "".join(out).rstrip("\n") + "\n"


_PAGE_STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:50rem;margin:2rem auto;padding:0 1rem;line-height:1.45}"
    "mark{background:#fde68a}li{margin-bottom:1.2rem}small{color:#555}.facets{columns:2;font-size:.9rem}"
)


def results_html(results: dict, query: str) -> str:
    """A page of results (``Results.to_dict()``) as a complete HTML page: charset, title,
    counts, facets, hits linked to their URLs with dates, matches in <mark>, all text escaped."""
    esc = _html
    items = []
    for hit in results["hits"]:
        title = marked(hit["title"], hit.get("title_matches", ()), "<mark>", "</mark>", esc)
        if (hit.get("url") or "").lower().startswith(("http://", "https://")):  # no javascript: links
            title = f'<a href="{esc(hit["url"])}">{title}</a>'
        published = hit["published"]
        day = "/".join(reversed(published[:10].split("-"))) if published else ""
        date = f'<time datetime="{esc(published)}">{esc(day)}</time>' if published else "no date"
        meta = " · ".join([date, *(esc(hit[k]) for k in ("category",) if hit.get(k)), esc(hit["id"])])
        snippets = "".join(f"<p>… {marked(s['text'], s['matches'], '<mark>', '</mark>', esc)} …</p>"
                           for s in hit["snippets"])  # fmt: skip
        items.append(f'<li id="{esc(hit["id"])}"><h3>{title}</h3><small>{meta}</small>{snippets}</li>')
    facets = "".join(
        f"<section><h4>{esc(name)}</h4><ul>"
        + "".join(f"<li>{esc(c['value'])} <small>{c['count']:,}</small></li>" for c in counts)
        + "</ul></section>"
        for name, counts in results["facets"].items()
    )
    suggestion = f"<p>Did you mean: <em>{esc(results['suggestion'])}</em>?</p>" if results.get("suggestion") else ""
    return (
        '<!DOCTYPE html>\n<html lang="vi">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(query.strip() or 'hnp-search')} · hnp-search</title>\n"
        f"<style>{_PAGE_STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{esc(query)}</h1>\n<p class=\"count\">{esc(results_header(results, query))}</p>\n{suggestion}"
        + (f'<div class="facets">{facets}</div>\n' if facets else "")
        + f'<ol start="{results["offset"] + 1}">\n'
        + "\n".join(items)
        + "\n</ol>\n</body>\n</html>"
    )


def hit_json(hit: Hit) -> dict:
    """A hit as a JSON-ready dict: ``Hit.to_dict``."""
    return hit.to_dict()


def index_summary_text(summary, total: int, path) -> str:
    """What an indexing run did, one line: counts, time, rate (when anything was indexed), the index's size."""
    rate = f" ({summary.indexed / summary.seconds:,.1f} articles/s)" if summary.indexed and summary.seconds else ""
    pruned = f", {summary.pruned:,} pruned" if summary.pruned else ""
    return (
        f"{summary.added} added, {summary.updated} updated, {summary.skipped} unchanged{pruned}, "
        f"{plural(summary.rejected, 'error')} in {summary.seconds:.1f}s{rate}; "
        f"index: {plural(total, 'article')}, {summary.index_bytes / 1e6:.1f} MB in {_line(str(path))}"
    )


def stats_text(stats: dict) -> str:
    """``engine.stats()`` as terminal lines."""
    first, last = stats["first_published"], stats["last_published"]
    lines = [
        f"index: {_line(str(stats['path']))}",
        f"articles: {stats['articles']:,}",
        f"published: {first[:10]} to {last[:10]}" if first else "published: no dates",
        f"undated: {stats['undated']:,}",
        f"categories: {' · '.join(f'{_line(str(v))} {n:,}' for v, n in stats['categories']) or 'none'}",
        f"sources: {' · '.join(f'{_line(str(v))} {n:,}' for v, n in stats['sources']) or 'none'}",
        f"persons named: {stats['persons']:,}",
        f"size: {stats['index_bytes'] / 1e6:.1f} MB in {stats['segments']} segments",
        f"analyzer version: {stats['analyzer_version']}",
    ]
    return "".join(line + "\n" for line in lines)


def article_text(article: Article, persons: list[str] | tuple[str, ...] = ()) -> str:
    """An article as terminal text (``show``): a header of its fields, then lead and body."""
    published = article.published.strftime("%H:%M %d/%m/%Y") if article.published else "no date"
    author = f" · author: {_line(article.author)}" if article.author else ""
    lines = [f"{_line(article.title)} ({published})", f"id: {_line(article.id)}{author}"]
    if persons:
        lines.append(f"persons: {_line(', '.join(persons))}")
    lines += [f"{name}: {_line(value)}" for name in ("url", "source", "category") if (value := getattr(article, name))]
    lead = article.lead + "\n\n" if article.lead else ""
    return "".join(line + "\n" for line in lines) + "\n" + terminal_safe(lead + article.body)


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


def _html(text: str) -> str:
    """Text escaped for HTML, its control characters shown as escapes (inert if the page is
    printed on a terminal)."""
    return html.escape(terminal_safe(text))


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
    lines += [f"read     {name} (no checksum recorded for it: read through instead)"
              for name in report.unrecorded if name not in report.damaged]
    verdict = "the index is sound" if report.ok else "the index is damaged"
    return "\n".join(lines + [f"{terminal_safe(str(report.folder))}: {verdict}"])
