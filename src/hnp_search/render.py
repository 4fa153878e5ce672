"""Presentation: ``Results.to_dict()``, ``Hit.to_dict()``, ``Article`` and stats → terminal text, an HTML page, dicts.

The CLI's output, for any front end.
"""

from __future__ import annotations

import html
import json
from typing import Callable

from .results import Hit
from .highlight import Snippet
from .ingest import Article
from .query.explain import Explanation


def explanation(explained: Explanation, as_json: bool = False) -> str:
    """How a query was understood (``engine.explain``), as text or one JSON object."""
    return json.dumps(explained.to_dict(), ensure_ascii=False) if as_json else str(explained)


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
    lines = [f"{rank}. {marked(hit['title'], hit.get('title_matches', ()), *mark)}", f"   {date} · {hit['id']}{score}"]
    if hit["matched_persons"]:
        lines.append(f"   persons: {', '.join(hit['matched_persons'])}")
    lines += [f"   … {marked(s['text'], s['matches'], *mark)} …" for s in hit["snippets"]]
    return "\n".join(lines) + "\n"


def facets_text(facets: dict) -> str:
    """Facet counts (``Results.to_dict()["facets"]``) as terminal lines, one per facet."""
    lines = []
    for name, counts in facets.items():
        values = " · ".join(f"{c['value']} {c['count']:,}" for c in counts) or "none"
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
    esc = html.escape
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
        f"{plural(len(summary.errors), 'error')} in {summary.seconds:.1f}s{rate}; "
        f"index: {plural(total, 'article')}, {summary.index_bytes / 1e6:.1f} MB in {path}"
    )


def stats_text(stats: dict) -> str:
    """``engine.stats()`` as terminal lines."""
    first, last = stats["first_published"], stats["last_published"]
    lines = [
        f"index: {stats['path']}",
        f"articles: {stats['articles']:,}",
        f"published: {first[:10]} to {last[:10]}" if first else "published: no dates",
        f"undated: {stats['undated']:,}",
        f"categories: {' · '.join(f'{v} {n:,}' for v, n in stats['categories']) or 'none'}",
        f"sources: {' · '.join(f'{v} {n:,}' for v, n in stats['sources']) or 'none'}",
        f"persons named: {stats['persons']:,}",
        f"size: {stats['index_bytes'] / 1e6:.1f} MB in {stats['segments']} segments",
        f"analyzer version: {stats['analyzer_version']}",
    ]
    return "".join(line + "\n" for line in lines)


def article_text(article: Article, persons: list[str] | tuple[str, ...] = ()) -> str:
    """An article as terminal text (``show``): a header of its fields, then lead and body."""
    published = article.published.strftime("%H:%M %d/%m/%Y") if article.published else "no date"
    author = f" · author: {article.author}" if article.author else ""
    lines = [f"{article.title} ({published})", f"id: {article.id}{author}"]
    if persons:
        lines.append(f"persons: {', '.join(persons)}")
    lines += [f"{name}: {getattr(article, name)}" for name in ("url", "source", "category") if getattr(article, name)]
    lead = article.lead + "\n\n" if article.lead else ""
    return "".join(line + "\n" for line in lines) + "\n" + lead + article.body


def article_json(article: Article) -> dict:
    """An article as a JSON-ready dict (``show --json``)."""
    out = {name: getattr(article, name) for name in article.__dataclass_fields__}
    out["published"] = article.published.isoformat() if article.published else None
    return out
