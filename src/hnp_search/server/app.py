"""HTTP routes over one shared engine: the JSON API (reads, token-guarded writes, JSON errors), the reader's pages."""

from __future__ import annotations

import hmac
import json
import os
import re
import tempfile
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__, render
from ..query.parse import SORTS
from ..errors import (
    EngineClosedError,
    HnpSearchError,
    IndexBusyError,
    IndexCorruptError,
    IndexNotFoundError,
    IndexVersionError,
    IngestError,
    JobError,
    QuerySyntaxError,
)
from ..results import FACETS
from ..ingest import read_articles
from ..store.directory import index_size
from ..text import analyze
from . import pages
from .backend import Backend, Overloaded, TimedOut, Unavailable

#: Most hits one request may ask for.
MAX_LIMIT = 100
#: Deepest page: offset + limit may not pass this.
MAX_DEPTH = 10_000
#: Longest person, category or source filter, in characters.
MAX_FILTER_CHARS = 200
#: Largest body ``POST /articles`` takes.
MAX_BODY_BYTES = 32 * 2**20

#: Where the body of ``POST /articles`` is said to come from in its errors.
BODY = "body"
#: ``Article.source`` of articles posted to the server.
POSTED_SOURCE = "http"

# Read at start-up by ``create_app`` (so each of uvicorn's worker processes builds the same app).
ENV_INDEX = "HNP_SEARCH_INDEX"
ENV_TOKEN = "HNP_SEARCH_TOKEN"
ENV_ALLOW_WRITES = "HNP_SEARCH_ALLOW_WRITES"
ENV_TIMEOUT = "HNP_SEARCH_TIMEOUT"
ENV_THREADS = "HNP_SEARCH_THREADS"


class ApiError(Exception):
    """An error answered as ``{"error": message}`` with ``status``."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None, **extra: Any):
        super().__init__(message)
        self.status, self.message, self.headers, self.extra = status, message, headers, extra


_ESCAPED = re.compile("[<>&\x7f-\x9f]")
#: For every response: no content sniffing, no framing.
SAFETY_HEADERS = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY"}
#: For the pages: nothing runs, nothing loads but the page itself (they need no script).
PAGE_POLICY = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; "
               "base-uri 'none'; frame-ancestors 'none'")


class Json(JSONResponse):
    """UTF-8 JSON with ``<``, ``>``, ``&`` and C1 control characters escaped as well (JSON
    already escapes C0), so no article text reads as markup if sniffed or pasted into a
    page, or reaches a terminal as a control sequence."""

    def render(self, content: Any) -> bytes:
        text = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        return _ESCAPED.sub(lambda m: f"\\u{ord(m.group()):04x}", text).encode("utf-8")


class SafetyHeaders:
    """ASGI middleware adding ``SAFETY_HEADERS`` to every HTTP response."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *_SAFETY_RAW]
            await send(message)

        await self.app(scope, receive, send_with_headers)


_SAFETY_RAW = [(k.lower().encode(), v.encode()) for k, v in SAFETY_HEADERS.items()]


def page(text: str, status: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    return HTMLResponse(text, status, headers={"Content-Security-Policy": PAGE_POLICY, **(headers or {})})


#: Engine errors → HTTP status (others: 400). An index that cannot be read is the server's trouble, not the client's.
_STATUS = {QuerySyntaxError: 400, IndexBusyError: 409, Unavailable: 503, Overloaded: 503, IndexNotFoundError: 503,
           IndexVersionError: 503, IndexCorruptError: 503, EngineClosedError: 503, JobError: 503, TimedOut: 504}


def _status(exc: HnpSearchError) -> int:
    return next((code for kind, code in _STATUS.items() if isinstance(exc, kind)), 400)


def create_app(index_dir: str | os.PathLike | None = None, *, token: str | None = None,
               allow_writes: bool | None = None, timeout: float | None = None, threads: int | None = None) -> FastAPI:
    """The ASGI app over the index at ``index_dir``; arguments left out are read from the
    environment (``HNP_SEARCH_INDEX``, ``HNP_SEARCH_TOKEN``, ``HNP_SEARCH_ALLOW_WRITES``,
    ``HNP_SEARCH_TIMEOUT``, ``HNP_SEARCH_THREADS``), which is how ``hnp-search serve`` passes them to its workers."""
    index_dir = Path(index_dir or os.environ.get(ENV_INDEX) or "index")
    token = token if token is not None else os.environ.get(ENV_TOKEN) or None
    if allow_writes is None:
        allow_writes = os.environ.get(ENV_ALLOW_WRITES) == "1"
    if timeout is None:
        timeout = float(os.environ.get(ENV_TIMEOUT) or 10)
    if threads is None:
        threads = int(os.environ.get(ENV_THREADS) or 4)
    backend = Backend(index_dir, timeout=timeout, threads=threads)

    @asynccontextmanager
    async def lifespan(app):
        backend.start()
        yield
        backend.close()

    app = FastAPI(
        title="hnp-search",
        version=__version__,
        description="Vietnamese full-text search over news articles. Errors are JSON: `{\"error\": \"…\"}`.",
        lifespan=lifespan,
        default_response_class=Json,
    )
    app.state.backend = backend
    app.add_middleware(SafetyHeaders)

    # -- errors: JSON on the API, an HTML page for readers ----------------------

    def wants_html(request: Request) -> bool:
        return request.url.path in ("/", "/favicon.ico") or request.url.path.startswith("/bai/") or (
            "text/html" in request.headers.get("accept", "") and not _is_api(request.url.path))

    def error(request: Request, status: int, message: str, headers=None, **extra) -> Response:
        if wants_html(request):
            return page(pages.error_page(status, message), status, headers)
        return Json({"error": message, "status": status, **extra}, status, headers=headers)

    @app.exception_handler(ApiError)
    async def on_api_error(request: Request, exc: ApiError):
        return error(request, exc.status, exc.message, exc.headers, **exc.extra)

    @app.exception_handler(HnpSearchError)
    async def on_engine_error(request: Request, exc: HnpSearchError):
        status = _status(exc)
        headers = {"Retry-After": "1"} if status == 503 else None
        return error(request, status, str(exc), headers)

    @app.exception_handler(RequestValidationError)
    async def on_bad_parameter(request: Request, exc: RequestValidationError):
        problems = []
        for e in exc.errors():
            where = e.get("loc", ())
            name = where[-1] if where else "?"
            problems.append(f"{name}: {e.get('msg', 'invalid')}")
        return error(request, 400, "bad parameter: " + "; ".join(problems))

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, exc: StarletteHTTPException):
        message = {404: "not found", 405: "method not allowed"}.get(exc.status_code, str(exc.detail))
        return error(request, exc.status_code, f"{message}: {request.method} {request.url.path}", exc.headers)

    @app.exception_handler(Exception)
    async def on_bug(request: Request, exc: Exception):  # uvicorn logs the traceback
        return error(request, 500, "internal error (see the server's log)")

    # -- the JSON API ------------------------------------------------------------

    def filters(date_from, date_to, person, category, source) -> dict:
        return {k: v for k, v in (("date_from", date_from), ("date_to", date_to), ("person", person),
                                  ("category", category), ("source", source)) if v}

    @app.get("/search", summary="Search: hits with highlighted snippets, the total, facets and a suggestion")
    async def search(
        q: str = Query("", description="The query, in the query language of the README"),
        offset: int = Query(0, ge=0, le=MAX_DEPTH),
        limit: int = Query(10, ge=1, le=MAX_LIMIT),
        date_from: str | None = Query(None, alias="from", max_length=40,
                                      description="2024-05-07, 07/05/2024, 2024-05, 2024"),
        date_to: str | None = Query(None, alias="to", max_length=40),
        person: str | None = Query(None, max_length=MAX_FILTER_CHARS),
        category: str | None = Query(None, max_length=MAX_FILTER_CHARS),
        source: str | None = Query(None, max_length=MAX_FILTER_CHARS),
        sort: str = Query("relevance", description=" | ".join(SORTS)),
        facets: str = Query("", description="Comma-separated: " + ", ".join(FACETS)),
        highlight: bool = True,
    ):
        if offset + limit > MAX_DEPTH:
            raise ApiError(400, f"offset + limit may not pass {MAX_DEPTH:,}")
        if sort not in SORTS:
            raise ApiError(400, f"unknown sort {sort!r} (use one of {', '.join(SORTS)})")
        names = facet_names(facets)
        kwargs = filters(date_from, date_to, person, category, source)
        results = await backend.read(lambda engine: engine.search(
            q, offset=offset, limit=limit, sort=sort, facets=names, highlight=highlight, **kwargs).to_dict())
        return results

    @app.get("/articles/{article_id}", summary="One stored article, with the persons it names")
    async def article(article_id: str):
        found = await backend.read(lambda engine: (engine.get(article_id), engine.persons_of(article_id)))
        if found[0] is None:
            raise ApiError(404, f"no article with id {article_id!r}")
        return {**render.article_json(found[0]), "persons": found[1]}

    @app.get("/articles/{article_id}/similar", summary="Related articles")
    async def similar(article_id: str, limit: int = Query(10, ge=1, le=MAX_LIMIT)):
        def related(engine):
            if engine.get(article_id) is None:
                return None
            return _hits_json(engine.similar(article_id, limit=limit))

        found = await backend.read(related)
        if found is None:
            raise ApiError(404, f"no article with id {article_id!r}")
        return found

    @app.get("/persons", summary="Persons named in the most articles, overall or among a query's matches")
    async def persons(q: str | None = Query(None), top: int = Query(20, ge=1, le=MAX_LIMIT),
                      date_from: str | None = Query(None, alias="from", max_length=40),
                      date_to: str | None = Query(None, alias="to", max_length=40)):
        kwargs = filters(date_from, date_to, None, None, None)
        ranked = await backend.read(lambda engine: engine.persons(q or None, top=top, **kwargs))
        return {"persons": [{"name": name, "articles": count} for name, count in ranked]}

    @app.get("/suggest", summary="A better query to offer (\"Did you mean …?\"), or null")
    async def suggest(q: str = Query(..., min_length=1)):
        better = await backend.read(lambda engine: engine.suggest(q))
        return {"query": q, "suggestion": better}

    @app.get("/stats", summary="The index: articles, size, generation, analyzer version")
    async def stats():
        def count(engine):
            return len(engine)

        articles = await backend.read(count)
        return {
            "articles": articles,
            "index_dir": str(backend.index_dir),
            "index_bytes": index_size(backend.index_dir),
            "generation": backend.generation,
            "analyzer_version": analyze.ANALYZER_VERSION,
            "version": __version__,
            "writes": allow_writes,
            "pid": os.getpid(),
        }

    @app.get("/health", summary="200 when the index can be searched, else 503")
    async def health():
        articles = await backend.read(len)
        return {"status": "ok", "articles": articles}

    # -- writes --------------------------------------------------------------------

    def authorise(request: Request) -> None:
        if not allow_writes:
            raise ApiError(403, "writes are disabled: start the server with --allow-writes")
        sent = request.headers.get("authorization", "")
        scheme, _, credentials = sent.partition(" ")
        right = bool(token) and hmac.compare_digest(credentials.strip().encode(), (token or "").encode())
        if scheme.lower() != "bearer" or not right:
            raise ApiError(401, "missing or wrong token: send Authorization: Bearer $HNP_SEARCH_TOKEN",
                           {"WWW-Authenticate": "Bearer"})

    @app.post("/articles", summary="Add or replace articles (JSON object or array, or JSON Lines); needs the token")
    async def add_articles(request: Request):
        authorise(request)
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            raise ApiError(413, f"body too large (at most {MAX_BODY_BYTES // 2**20} MB)")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                raise ApiError(413, f"body too large (at most {MAX_BODY_BYTES // 2**20} MB)")
        articles, errors = _posted_articles(bytes(body))
        if errors:
            raise ApiError(422, f"{len(errors)} of the articles sent cannot be indexed; nothing was written",
                           errors=errors)
        if not articles:
            raise ApiError(422, f"{BODY}: no articles")
        summary = await backend.write(lambda engine: engine.index(articles, jobs=1))
        total = await backend.read(len)
        return {"added": summary.added, "updated": summary.updated, "unchanged": summary.skipped,
                "errors": summary.errors, "articles": total}

    @app.delete("/articles/{article_id}", summary="Delete one article; needs the token")
    async def delete_article(article_id: str, request: Request):
        authorise(request)
        deleted = await backend.write(lambda engine: engine.delete([article_id]))
        if not deleted:
            raise ApiError(404, f"no article with id {article_id!r}")
        return {"deleted": deleted, "id": article_id}

    # -- pages for readers -----------------------------------------------------------

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def home(request: Request):
        form = pages.SearchForm.from_query(request.query_params)
        if not form.active:
            count = await backend.read(len)
            return page(pages.home_page(form, count))

        def search(engine):
            results = engine.search(form.q, offset=form.offset, limit=pages.PAGE_SIZE, facets=pages.FACETS,
                                    **form.filters())
            # Offer a better query also when only some of the words were found.
            if results.suggestion is None and form.q and not results.total_all_words:
                return results, engine.suggest(form.q)
            return results, results.suggestion

        try:
            results, suggestion = await backend.read(search)
        except QuerySyntaxError as exc:
            return page(pages.error_form_page(form, exc.message), 400)
        return page(pages.results_page(form, results, suggestion))

    @app.get("/bai/{article_id}", response_class=HTMLResponse, include_in_schema=False)
    async def article_page(article_id: str, request: Request):
        def read(engine):
            article = engine.get(article_id)
            if article is None:
                return None
            return article, engine.persons_of(article_id), list(engine.similar(article_id, limit=pages.RELATED))

        found = await backend.read(read)
        if found is None:
            raise ApiError(404, f"Không có bài nào mang mã {article_id!r}.")
        article, persons, related = found
        q = request.query_params.get("q", "")[:200]
        return page(pages.article_page(article, persons, related, back_query=q))

    return app


API_ROOTS = {"search", "articles", "persons", "suggest", "stats", "health", "docs", "openapi.json"}


def _is_api(path: str) -> bool:
    return path.split("/", 2)[1] in API_ROOTS


def facet_names(text: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    unknown = [n for n in names if n not in FACETS]
    if unknown:
        raise ApiError(400, f"unknown facet {unknown[0]!r} (use any of {', '.join(FACETS)})")
    return names


def _hits_json(hits) -> dict:
    if hasattr(hits, "to_dict"):
        return hits.to_dict()
    return {"hits": [hit.to_dict() for hit in hits]}


def _posted_articles(body: bytes):
    """The articles in a posted body (a JSON object, a JSON array of them, or JSON Lines),
    read by the same code and with the same ``line: problem`` errors as ``hnp-search index``."""
    try:
        whole = json.loads(body)
    except (ValueError, RecursionError):
        whole = None
    if isinstance(whole, dict):
        lines = json.dumps(whole, ensure_ascii=False).encode() + b"\n"
    elif isinstance(whole, list):
        lines = b"".join(json.dumps(item, ensure_ascii=False).encode() + b"\n" for item in whole)
    else:
        lines = body
    errors: list[str] = []

    def report(exc: IngestError):
        where = f"{BODY}:{exc.line}" if exc.line is not None else BODY
        if isinstance(whole, list) and exc.line is not None:
            where = f"{BODY}[{exc.line - 1}]"
        errors.append(f"{where}: {exc.message}")

    with tempfile.TemporaryDirectory(prefix="hnp-search-post-") as folder:
        path = Path(folder) / "posted.jsonl"
        path.write_bytes(lines)
        articles = [replace(a, source=POSTED_SOURCE) for a in read_articles(path, on_error=report)]
    return articles, errors
