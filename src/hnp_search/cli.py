"""Command line: ``hnp-search index | search | similar | persons | show | delete | stats | check``.

Arguments → ``SearchEngine`` calls → ``render``ed output.
"""

from __future__ import annotations

import os
import signal
import sys
import time

import click

from . import render
from .api import SearchEngine, default_index_dir
from .query.parse import SORTS
from .errors import HnpSearchError
from .ingest import estimate_articles
from .results import FACETS

#: Exit status when some input files or lines were rejected (the rest is indexed).
EXIT_REJECTED = 3
#: Rejected inputs reported one by one as they are met; past that they are only counted.
SHOW_WARNINGS = 1_000
#: Exit status after Ctrl-C (128 + SIGINT, as shells report it); after SIGTERM 128 + 15.
EXIT_INTERRUPTED = 130


class _Group(click.Group):
    """Prints every HnpSearchError as one ``Error: …`` line, exit status 1."""

    def invoke(self, ctx):
        try:
            result = super().invoke(ctx)
            sys.stdout.flush()  # here, so that a closed pipe is caught below
            return result
        except HnpSearchError as exc:
            raise click.ClickException(render.terminal_safe(str(exc), newlines=False)) from None
        except BrokenPipeError:  # `hnp-search search … | head -3`: the reader has all it wants
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())  # so that the exit's flush finds no closed pipe
            sys.exit(0)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="hnp-search")
def main():
    """Vietnamese full-text search over news articles.

    \b
    hnp-search index corpus/
    hnp-search search "Hà Nội"
    hnp-search search ha noi --limit 5
    """


def _index_dir_option(f):
    f = click.option("--os-index", default=None, metavar="NAME",
                     help="With --opensearch: the index name (default: hnp-search).")(f)
    f = click.option("--opensearch", metavar="URL", envvar="HNP_SEARCH_OPENSEARCH", default=None,
                     help="The index on this OpenSearch cluster (default: $HNP_SEARCH_OPENSEARCH), not a directory.")(f)
    return click.option(
        "--index-dir",
        type=click.Path(file_okay=False),
        default=None,
        help="Index directory (default: $HNP_SEARCH_INDEX or ./index).",
    )(f)


def _engine(index_dir, opensearch, os_index, create: bool = False):
    """The engine the options name: an index on an OpenSearch cluster, or in a directory."""
    if opensearch:
        from .opensearch import DEFAULT_INDEX, OpenSearchEngine

        return OpenSearchEngine(opensearch, index=os_index or DEFAULT_INDEX, create=create)
    return SearchEngine(index_dir or default_index_dir(), create=create)


class _Progress:
    """A one-line progress display on a terminal: articles, rate, ETA."""

    def __init__(self, total: int | None):
        self.total = total
        self.started = time.perf_counter()
        self.last = 0.0

    def __call__(self, done: int):
        now = time.perf_counter()
        if now - self.last < 0.2:
            return
        self.last = now
        rate = done / max(now - self.started, 1e-9)
        line = f"  {done:,} articles  {rate:,.0f}/s"
        if self.total:
            left = max(self.total - done, 0) / rate if rate else 0
            line = f"  {done:,}/{self.total:,} articles  {rate:,.0f}/s  ETA {_duration(left)}"
        click.echo(f"\r{line:<60}", nl=False, err=True)

    def done(self):
        click.echo("\r" + " " * 60 + "\r", nl=False, err=True)


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


@main.command("index")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--rebuild", is_flag=True, help="Start from an empty index.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=None,
              help="Analysis processes (default: number of cores).")
@click.option("--errors-json", type=click.File("w"), default=None,
              help="Also write the rejected inputs to this file as JSON.")
@click.option("--prune", is_flag=True,
              help="Then delete the indexed articles whose ids PATHS no longer hold "
                   "(not done if some input is rejected).")
@click.option("--shards", type=click.IntRange(min=1), default=1, show_default=True,
              help="With --opensearch: primary shards of a new index.")
@click.option("--replicas", type=click.IntRange(min=0), default=0, show_default=True,
              help="With --opensearch: replicas of each shard of a new index.")
@_index_dir_option
def index_command(paths, rebuild, jobs, errors_json, prune, shards, replicas, index_dir, opensearch, os_index):
    """Add or replace the articles in PATHS (HNP page text, JSONL, JSONL.gz, folders).

    Articles are matched by id, so indexing the same files again adds nothing.
    Bad files or lines are reported as `path:line: problem` and skipped; the exit
    status is then 3. Articles are committed in batches: after a crash or Ctrl-C
    (exit status 130) run the same command again to finish.

    \b
    hnp-search index corpus/ ../archive/2024.jsonl.gz --jobs 2
    """
    engine = _engine(index_dir, opensearch, os_index, create=True)
    layout = {"shards": shards, "replicas": replicas} if opensearch else {}
    progress = _Progress(estimate_articles(*paths)) if sys.stderr.isatty() else None

    report = render.ErrorsJson(errors_json) if errors_json else None
    shown: list[int] = []

    def on_error(error):
        if report:
            report.add(str(error))
        if len(shown) > SHOW_WARNINGS:
            return
        if progress:
            progress.done()
        shown.append(1)
        if len(shown) > SHOW_WARNINGS:
            message = f"over {SHOW_WARNINGS:,} inputs rejected: the rest are counted, not shown as met"
            click.echo(f"warning: {message}", err=True)
            return
        click.echo(f"warning: {render.terminal_safe(str(error), newlines=False)}", err=True)

    exclude = [errors_json.name] if errors_json and isinstance(errors_json.name, str) else []
    with engine:
        try:
            summary = engine.index(
                list(paths), rebuild=rebuild, jobs=jobs, progress=progress, on_error=on_error, prune=prune,
                exclude=exclude, **layout
            )
        except KeyboardInterrupt as stop:
            if progress:
                progress.done()
            signum = getattr(stop, "signum", signal.SIGINT)
            what = "Interrupted" if signum == signal.SIGINT else f"Stopped by {signal.Signals(signum).name}"
            click.echo(
                f"{what}: rolled back the batch being written; the index keeps the "
                f"{render.plural(len(engine), 'article')} "
                "committed before it. Run the same command again to finish.",
                err=True,
            )
            sys.exit(128 + signum)
        finally:
            if report:
                report.close()
        total = len(engine)
    if progress:
        progress.done()
    click.echo(render.index_summary_text(summary, total, engine.path))
    if prune and summary.rejected:
        click.echo("Not pruned: some input was rejected, so the ids it holds are unknown.", err=True)
    if summary.rejected:
        click.echo("Rejected input:", err=True)
        for error in summary.errors:
            click.echo(f"  {render.terminal_safe(error, newlines=False)}", err=True)
        if summary.rejected > len(summary.errors):
            where = " (all of them are in the --errors-json file)" if errors_json else ""
            click.echo(f"  … and {summary.rejected - len(summary.errors):,} more{where}", err=True)
        sys.exit(EXIT_REJECTED)


class _QueryFirst(click.Command):
    """Reads ``-word`` (an exclusion) as part of the query wherever it stands, even first:
    only the command's own options are options."""

    def parse_args(self, ctx, args):
        takes_value = {name: not (p.is_flag or p.count) for p in self.get_params(ctx) if isinstance(p, click.Option)
                       for name in (*p.opts, *p.secondary_opts)}
        options, words = [], []
        rest = iter(args)
        for arg in rest:
            name = arg.split("=", 1)[0]
            if arg == "--":
                words += rest
            elif arg.startswith("-") and name in takes_value:
                options.append(arg)
                following = next(rest, None) if takes_value[name] and "=" not in arg else None
                if following is not None:
                    options.append(following)
            elif arg.startswith("-") and takes_value.get(arg[:2]) and arg[2:].isdigit():
                options.append(arg)  # -n5
            else:
                words.append(arg)
        return super().parse_args(ctx, options + (["--", *words] if words else []))


def _facet_names(ctx, param, value: str | None) -> tuple[str, ...]:
    names = tuple(n.strip() for n in (value or "").split(",") if n.strip())
    unknown = [n for n in names if n not in FACETS]
    if unknown:
        raise click.BadParameter(f"unknown facet {unknown[0]!r} (use any of {', '.join(FACETS)})")
    return names


@main.command("search", cls=_QueryFirst)
@click.argument("query", nargs=-1, required=False)
@click.option("--limit", "-n", type=click.IntRange(min=1), default=10, show_default=True, help="Hits per page.")
@click.option("--offset", type=click.IntRange(min=0), default=None, help="Skip this many hits (0: from the best).")
@click.option("--page", type=click.IntRange(min=1), default=None, help="Show page N of --limit hits (1: the first).")
@click.option("--from", "date_from", default=None,
              help="Published on or after (2024-05-07, 07/05/2024, 2024-05, 2024).")
@click.option("--to", "date_to", default=None, help="Published on or before (same forms).")
@click.option("--person", default=None,
              help='Only articles naming this person ("Doãn Trung Tuấn"; without diacritics, every name folding '
                   'to it).')
@click.option("--category", default=None, help="Only articles of this category (as category:).")
@click.option("--source", default=None, help="Only articles read from this file (as source:; its name will do).")
@click.option(
    "--sort",
    type=click.Choice(SORTS),
    default="relevance",
    show_default=True,
    help="relevance (a query with no words: newest first), date or -date.",
)
@click.option(
    "--facets",
    callback=_facet_names,
    default=None,
    metavar="NAMES",
    help=f"Count all matches by these, comma-separated: {','.join(FACETS)}.",
)
@click.option("--json", "as_json", is_flag=True, help="The page as one JSON object: total, hits, facets.")
@click.option("--html", "as_html", is_flag=True, help="The page as a complete HTML document.")
@click.option("--color/--no-color", default=None, help="Highlight with colour (default: on a terminal).")
@click.option(
    "--explain",
    is_flag=True,
    help="Show how the query is understood (readings, corrections, synonyms, tiers, filters) instead of hits.",
)
@_index_dir_option
def search_command(
    query,
    limit,
    offset,
    page,
    date_from,
    date_to,
    person,
    category,
    source,
    sort,
    facets,
    as_json,
    as_html,
    color,
    explain,
    index_dir,
    opensearch,
    os_index,
):
    """Search the index. Words match with or without diacritics; "quotes" make a phrase.

    \b
    hnp-search search Hà Nội
    hnp-search search ha noi --limit 5 --page 2
    hnp-search search '"văn hóa thể thao"' --from 2024-01-01
    hnp-search search 'giao thông -"xe buýt" date:2024-05'
    hnp-search search metro --person "Nguyễn Quốc Toàn" --sort -date
    hnp-search search giá xăng --facets category,month,person

    \b
    Query language: words (all of them first, then most; a question, with a
    ? or a question word such as gì or bao nhiêu, by score alone); "a phrase";
    -word / -"phrase" to exclude; a OR b; ( ); title: lead: body: author:;
    person:"Name"; category:business; source:dantri; date:2024-05-07,
    date:2024-05, date:2024, date:07/05/2024, date:2024-05-01..2024-05-31,
    date:>=2024-05-01, date:<2024.
    """
    text = " ".join(query)
    if not text.strip() and not (person or date_from or date_to or category or source):
        raise click.UsageError("give a query, --person, --category, --source, --from or --to")
    if as_json and as_html:
        raise click.UsageError("--json and --html cannot be used together")
    if offset is not None and page is not None:
        raise click.UsageError("--offset and --page cannot be used together")
    offset = (page - 1) * limit if page is not None else offset or 0
    with _engine(index_dir, opensearch, os_index) as engine:
        if explain:
            explained = engine.explain(text, date_from=date_from, date_to=date_to, person=person, category=category,
                                       source=source, sort=sort)  # fmt: skip
            click.echo(render.explanation(explained, as_json))
            return
        results = engine.search(text, offset=offset, limit=limit, date_from=date_from, date_to=date_to, person=person,
                                category=category, source=source, sort=sort, facets=facets)  # fmt: skip
    out = results.to_dict()
    suggestion = render.terminal_safe(results.suggestion or "", newlines=False)
    if results.suggestion and (as_json or as_html):
        click.echo(f"Did you mean: {suggestion}?", err=True)
    if as_json:
        click.echo(render.to_json({"query": text, **out}))
        return
    if as_html:
        click.echo(render.results_html(out, text))
        return
    colour = sys.stdout.isatty() if color is None else color
    if results.suggestion:
        click.echo(f"Did you mean: {suggestion}?\n")
    scored = sort == "relevance" and any(hit.score for hit in results)
    mark = render.ANSI if colour else render.PLAIN
    click.echo(render.results_text(out, text, mark, scored), color=colour, nl=False)


@main.command("similar")
@click.argument("article_id")
@click.option("--limit", "-n", type=click.IntRange(min=1), default=10, show_default=True,
              help="How many related articles.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object: the article's id and the related hits.")
@_index_dir_option
def similar_command(article_id, limit, as_json, index_dir, opensearch, os_index):
    """List articles related to one (sharing its most telling words), best first.

    \b
    hnp-search similar news_business_250 --limit 5
    """
    with _engine(index_dir, opensearch, os_index) as engine:
        hits = engine.similar(article_id, limit=limit)
    if as_json:
        click.echo(render.to_json({"id": article_id, "hits": [h.to_dict() for h in hits]}))
        return
    if not hits:
        click.echo(f"No articles related to {article_id!r}.")
    for rank, hit in enumerate(hits, 1):
        click.echo(render.hit_text(rank, hit.to_dict()))


@main.command("delete")
@click.argument("article_ids", nargs=-1, required=True)
@_index_dir_option
def delete_command(article_ids, index_dir, opensearch, os_index):
    """Delete articles by id, in one commit. Exit status 1 if some id is not in the index.

    \b
    hnp-search delete news_business_250 news_business_197
    """
    with _engine(index_dir, opensearch, os_index) as engine:
        missing = [i for i in dict.fromkeys(article_ids) if engine.get(i) is None]
        deleted = engine.delete(article_ids)
        total = len(engine)
    click.echo(f"Deleted {render.plural(deleted, 'article')}; index: {render.plural(total, 'article')}.")
    for article_id in missing:
        click.echo(f"warning: no article with id {article_id!r}", err=True)
    if missing:
        sys.exit(1)


@main.command("stats")
@click.option("--json", "as_json", is_flag=True, help="As one JSON object.")
@_index_dir_option
def stats_command(as_json, index_dir, opensearch, os_index):
    """What the index holds: articles, date range, categories, sources, size, analyzer version."""
    with _engine(index_dir, opensearch, os_index) as engine:
        stats = engine.stats()
    click.echo(render.to_json(stats) if as_json else render.stats_text(stats), nl=as_json)


@main.command("persons")
@click.argument("query", nargs=-1, required=False)
@click.option("--top", "-n", type=click.IntRange(min=1), default=20, show_default=True, help="How many persons.")
@click.option("--from", "date_from", default=None, help="Only articles published on or after this date.")
@click.option("--to", "date_to", default=None, help="Only articles published on or before this date.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per person.")
@_index_dir_option
def persons_command(query, top, date_from, date_to, as_json, index_dir, opensearch, os_index):
    """List the persons named in the most articles, overall or among a query's matches.

    \b
    hnp-search persons
    hnp-search persons giao thông --top 5
    """
    text = " ".join(query) or None
    filters = {k: v for k, v in (("date_from", date_from), ("date_to", date_to)) if v}
    with _engine(index_dir, opensearch, os_index) as engine:
        ranked = engine.persons(text, top=top, **filters)
    for name, count in ranked:
        line = (render.to_json({"name": name, "articles": count}) if as_json
                else f"{count:6d}  {render.terminal_safe(name, newlines=False)}")
        click.echo(line)
    if not ranked and not as_json:
        click.echo("No persons found.")


@main.command("show")
@click.argument("article_id")
@click.option("--json", "as_json", is_flag=True, help="Print the article as JSON.")
@_index_dir_option
def show_command(article_id, as_json, index_dir, opensearch, os_index):
    """Print one stored article by id."""
    with _engine(index_dir, opensearch, os_index) as engine:
        article = engine.get(article_id)
        persons = engine.persons_of(article_id)
    if article is None:
        raise click.ClickException(f"no article with id {article_id!r}")
    if as_json:
        click.echo(render.to_json(render.article_json(article), indent=1))
        return
    click.echo(render.article_text(article, persons))


@main.command("serve")
@click.option("--index-dir", type=click.Path(file_okay=False), default=None,
              help="Index directory (default: $HNP_SEARCH_INDEX or ./index).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: every interface).")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Server processes (each opens the index; the kernel spreads connections).")
@click.option("--allow-writes", is_flag=True,
              help="Accept POST /articles and DELETE /articles/ID with `Authorization: Bearer $HNP_SEARCH_TOKEN`.")
@click.option("--timeout", type=click.FloatRange(min=0.001), default=10.0, show_default=True,
              help="Seconds a request may take before it is answered 504.")
@click.option("--threads", type=click.IntRange(min=1), default=4, show_default=True,
              help="Search threads per worker (they share one engine).")
def serve_command(index_dir, host, port, workers, allow_writes, timeout, threads):
    """Serve the JSON API and a search page over HTTP until Ctrl-C.

    Searches see the articles another process commits within a second, without a
    restart. The index need not exist yet: until it does, requests are answered
    503.

    \b
    hnp-search serve --port 8080
    curl 'http://127.0.0.1:8080/search?q=ha+noi&limit=3&facets=category,year'
    HNP_SEARCH_TOKEN=secret hnp-search serve --allow-writes
    """
    import os

    from .server import run
    from .server.app import ENV_TOKEN

    if allow_writes and not os.environ.get(ENV_TOKEN):
        raise click.UsageError(f"--allow-writes needs a token: set ${ENV_TOKEN}")
    run(index_dir or default_index_dir(), host=host, port=port, workers=workers, allow_writes=allow_writes,
        timeout=timeout, threads=threads)


@main.command("check")
@_index_dir_option
def check_command(index_dir, opensearch, os_index):
    """Verify every file of the index: checksums recorded when each was written, the
    metadata, the table of contents. Says what is damaged and how to repair it.

    \b
    hnp-search check --index-dir index/
    """
    if opensearch:
        raise click.UsageError("check verifies an index directory; an OpenSearch cluster checks its own shards")
    with SearchEngine(index_dir or default_index_dir(), create=False) as engine:
        report = engine.check()
    click.echo(render.check_text(report))
    if not report.ok:
        raise report.error()
