"""The reader's pages in Vietnamese: search form and results, an article with related ones, errors; all escaped."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Mapping
from urllib.parse import quote, urlencode

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from ..text.normalize import fold

#: Hits per page.
PAGE_SIZE = 10
#: Deepest page a reader may open.
MAX_PAGE = 100
#: Related articles under an article.
RELATED = 5
#: Facets shown beside the results.
FACETS = ("category", "person", "year", "month")
#: Persons listed in the person facet.
TOP_PERSONS = 10
MAX_TEXT = {"q": 1000, "from": 40, "to": 40, "person": 200, "category": 200}

CATEGORY_LABELS = {
    "business": "Kinh doanh", "education": "Giáo dục", "entertainment": "Giải trí", "health": "Sức khỏe",
    "science": "Khoa học", "society": "Xã hội", "sport": "Thể thao", "tech": "Công nghệ",
    "travel": "Du lịch", "world": "Thế giới", "law": "Pháp luật", "culture": "Văn hóa",
    "politics": "Chính trị", "economy": "Kinh tế", "news": "Thời sự", "life": "Đời sống",
}  # fmt: skip

_CATEGORY_VALUES = {fold(label).lower(): value for value, label in CATEGORY_LABELS.items()}
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_MONTH = re.compile(r"(\d{4})-(\d{2})$")


def _visible(value: Any) -> Any:
    """Every value a template prints, without control characters (terminal escapes)."""
    if isinstance(value, Markup):
        return Markup(_CONTROL.sub("", value))
    if isinstance(value, str):
        return _CONTROL.sub("", value)
    return value


_env = Environment(
    loader=PackageLoader("hnp_search.server", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    finalize=_visible,
    trim_blocks=True,
    lstrip_blocks=True,
)


def number(n: int) -> str:
    """1234 → '1.234' (the Vietnamese thousands separator)."""
    return f"{n:,}".replace(",", ".")


def day(value: datetime | None) -> str:
    return value.strftime("%d/%m/%Y") if value else ""


def moment(value: datetime | None) -> str:
    return value.strftime("%H:%M %d/%m/%Y") if value else ""


def safe_url(url: str | None) -> str | None:
    """A link target only for http(s) URLs (never ``javascript:`` and the like)."""
    return url if url and re.match(r"https?://[^\s\"'<>]+$", url) else None


def article_href(article_id: str, q: str = "") -> str:
    return f"/bai/{quote(article_id, safe='')}" + (f"?{urlencode({'q': q})}" if q else "")


def category_label(value: str) -> str:
    return CATEGORY_LABELS.get(value, value)


def period_label(value: str) -> str:
    month = _MONTH.match(str(value))
    return f"tháng {int(month.group(2))}/{month.group(1)}" if month else f"năm {value}"


_env.filters.update(number=number, day=day, moment=moment, category=category_label, period=period_label)


@dataclass(frozen=True)
class SearchForm:
    """What the reader asked for: the query, filters and page, as sent by the form and links."""

    q: str = ""
    date_from: str = ""
    date_to: str = ""
    person: str = ""
    category: str = ""
    page: int = 1
    error: str = field(default="", compare=False)

    @classmethod
    def from_query(cls, params: Mapping[str, str]) -> "SearchForm":
        text = {name: " ".join(_CONTROL.sub(" ", params.get(name) or "").split())[:limit]
                for name, limit in MAX_TEXT.items()}
        try:
            page = min(max(int(params.get("page") or 1), 1), MAX_PAGE)
        except ValueError:
            page = 1
        return cls(q=text["q"], date_from=text["from"], date_to=text["to"], person=text["person"],
                   category=text["category"], page=page)

    @property
    def active(self) -> bool:
        return any((self.q, self.date_from, self.date_to, self.person, self.category))

    @property
    def offset(self) -> int:
        return (self.page - 1) * PAGE_SIZE

    @property
    def filtered(self) -> bool:
        return any((self.date_from, self.date_to, self.person, self.category))

    def filters(self) -> dict[str, str]:
        """Keyword arguments of ``engine.search`` for the filters set (a category by its value or its label)."""
        category = _CATEGORY_VALUES.get(fold(self.category).lower(), self.category)
        pairs = (("date_from", self.date_from), ("date_to", self.date_to), ("person", self.person),
                 ("category", category))
        return {k: v for k, v in pairs if v}

    def url(self, **changes: Any) -> str:
        """This search with ``changes`` (page 1 unless ``page`` is given), as a link."""
        form = replace(self, **{"page": 1, **changes})
        pairs = (("q", form.q), ("from", form.date_from), ("to", form.date_to), ("person", form.person),
                 ("category", form.category), ("page", form.page if form.page > 1 else ""))
        return "/?" + urlencode([(k, v) for k, v in pairs if v])


def _pager(form: SearchForm, total: int) -> list[dict]:
    """Links to pages near the current one, the first and the last, with gaps."""
    last = min(max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1), MAX_PAGE)
    shown = sorted({1, last, *range(max(form.page - 2, 1), min(form.page + 2, last) + 1)})
    items: list[dict] = []
    previous = 0
    for page in shown:
        if page > previous + 1:
            items.append({"gap": True})
        items.append({"gap": False, "page": page, "url": form.url(page=page), "current": page == form.page})
        previous = page
    return items


def _hit(hit, q: str) -> dict:
    article = hit.article
    return {
        "title": Markup(hit.title_snippet.html()),
        "snippets": [Markup(s.html()) for s in hit.snippets],
        "published": hit.published,
        "href": article_href(hit.id, q),
        "url": safe_url(article.url),
        "category": article.category,
        "all_words": hit.all_words,
        "persons": list(hit.matched_persons or hit.persons[:3]),
    }


def _facets(form: SearchForm, results) -> dict[str, list[dict]]:
    facets = results.facets
    out: dict[str, list[dict]] = {}
    out["category"] = [
        {"label": category_label(value), "count": count, "url": form.url(category=value),
         "selected": value == form.category}
        for value, count in facets.get("category", ())
    ]
    out["person"] = [
        {"label": value, "count": count, "url": form.url(person=value), "selected": value == form.person}
        for value, count in list(facets.get("person", ()))[:TOP_PERSONS]
    ]
    months = list(facets.get("month", ()))
    periods = months if 1 < len(months) <= 12 else list(facets.get("year", ()))
    out["period"] = [
        {"label": period_label(value), "count": count, "url": form.url(date_from=str(value), date_to=str(value)),
         "selected": form.date_from == str(value) == form.date_to}
        for value, count in sorted(periods, key=lambda vc: str(vc[0]), reverse=True)
    ]
    return out


def home_page(form: SearchForm, articles: int) -> str:
    return _env.get_template("search.html").render(form=form, results=None, articles=articles)


def results_page(form: SearchForm, results, suggestion: str | None) -> str:
    total = results.total
    hits = [_hit(hit, form.q) for hit in results]
    partial_from = next((i for i, h in enumerate(hits) if not h["all_words"]), None)
    return _env.get_template("search.html").render(
        form=form,
        results={
            "total": total,
            "hits": hits,
            "partial_from": partial_from,
            "first": form.offset + 1,
            "last": form.offset + len(hits),
            "pager": _pager(form, total) if total > PAGE_SIZE else [],
            "previous": form.url(page=form.page - 1) if form.page > 1 else None,
            "next": form.url(page=form.page + 1) if form.offset + len(hits) < total and form.page < MAX_PAGE else None,
            "facets": _facets(form, results),
            "suggestion": suggestion,
            "suggestion_url": form.url(q=suggestion) if suggestion else None,
        },
        articles=None,
    )


def error_form_page(form: SearchForm, message: str) -> str:
    """The search form again, with what is wrong in the query."""
    return _env.get_template("search.html").render(form=replace(form, error=message), results=None, articles=None)


def article_page(article, persons: list[str], related: list, back_query: str = "") -> str:
    return _env.get_template("article.html").render(
        article=article,
        paragraphs=[p for p in article.body.split("\n") if p.strip()],
        url=safe_url(article.url),
        persons=[{"name": name, "url": SearchForm(person=name).url()} for name in persons],
        related=[{"title": hit.title, "href": article_href(hit.id), "published": hit.published} for hit in related],
        back=SearchForm(q=back_query).url() if back_query else None,
    )


def error_page(status: int, message: str) -> str:
    headings = {404: "Không tìm thấy trang", 503: "Dịch vụ tạm thời chưa sẵn sàng",
                504: "Yêu cầu mất quá nhiều thời gian"}
    return _env.get_template("error.html").render(
        status=status, heading=headings.get(status, "Có lỗi xảy ra"), message=message)
