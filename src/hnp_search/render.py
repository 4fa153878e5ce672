"""Presentation: ``Hit`` and ``Article`` → JSON-ready dicts, an HTML fragment, terminal text (the CLI's output, for any front end)."""

from __future__ import annotations

import html
from typing import Callable

from .results import Hit
from .highlight import Snippet
from .ingest import Article


def hits_html(hits: list[Hit]) -> str:
    """Hits as an HTML fragment: article text escaped, matches in <mark>."""
    items = []
    for hit in hits:
        published = hit.published.strftime("%d/%m/%Y") if hit.published else ""
        snippets = "".join(f"<p>… {s.html()} …</p>" for s in hit.snippets)
        items.append(
            f'<li id="{html.escape(hit.id)}"><h3>{hit.title_snippet.html()}</h3>'
            f"<small>{published} · {html.escape(hit.id)}</small>{snippets}</li>"
        )
    return "<ol>\n" + "\n".join(items) + "\n</ol>"


def hit_json(hit: Hit) -> dict:
    """A hit as a JSON-ready dict (one line of ``search --json``): ``Hit.to_dict``."""
    return hit.to_dict()


def hit_text(rank: int, hit: Hit, mark: Callable[[Snippet], str], scored: bool = True) -> str:
    """A hit as terminal lines (a blank one last), snippets marked by ``mark`` (``Snippet.ansi`` or ``Snippet.plain``)."""
    published = hit.published.strftime("%d/%m/%Y") if hit.published else "no date"
    score = f" · score {hit.score:.2f}" if scored else ""
    lines = [f"{rank}. {mark(hit.title_snippet)}", f"   {published} · {hit.id}{score}"]
    if hit.matched_persons:
        lines.append(f"   persons: {', '.join(hit.matched_persons)}")
    lines += [f"   … {mark(snippet)} …" for snippet in hit.snippets]
    return "\n".join(lines) + "\n"


def article_text(article: Article, persons: list[str] | tuple[str, ...] = ()) -> str:
    """An article as terminal text (``show``): a header of its fields, then lead and body."""
    published = article.published.strftime("%H:%M %d/%m/%Y") if article.published else "no date"
    lines = [f"{article.title} ({published})", f"id: {article.id}" + (f" · author: {article.author}" if article.author else "")]
    if persons:
        lines.append(f"persons: {', '.join(persons)}")
    lines += [f"{name}: {getattr(article, name)}" for name in ("url", "source", "category") if getattr(article, name)]
    return "".join(line + "\n" for line in lines) + "\n" + (article.lead + "\n\n" if article.lead else "") + article.body


def article_json(article: Article) -> dict:
    """An article as a JSON-ready dict (``show --json``)."""
    out = {name: getattr(article, name) for name in article.__dataclass_fields__}
    out["published"] = article.published.isoformat() if article.published else None
    return out
