"""Command line: ``hnp-search index | search | show``, arguments → ``SearchEngine`` calls → ``render``ed output."""

from __future__ import annotations

import signal
import sys
import time

import click

from . import render
from .api import SORTS, SearchEngine, default_index_dir
from .errors import HnpSearchError
from .highlight import Snippet

#: Offer a better query when a search finds fewer hits than this.
SUGGEST_BELOW = 3
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
            return super().invoke(ctx)
        except HnpSearchError as exc:
            raise click.ClickException(render.terminal_safe(str(exc), newlines=False)) from None


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
    return click.option(
        "--index-dir",
        type=click.Path(file_okay=False),
        default=None,
        help="Index directory (default: $HNP_SEARCH_INDEX or ./index).",
    )(f)


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
@_index_dir_option
def index_command(paths, rebuild, jobs, errors_json, index_dir):
    """Add or replace the articles in PATHS (HNP page text, JSONL, JSONL.gz, folders).

    Articles are matched by id, so indexing the same files again adds nothing.
    Bad files or lines are reported as `path:line: problem` and skipped; the exit
    status is then 3. Articles are committed in batches: after a crash or Ctrl-C
    (exit status 130) run the same command again to finish.

    \b
    hnp-search index corpus/ ../archive/2024.jsonl.gz --jobs 2
    """
    engine = SearchEngine(index_dir or default_index_dir())
    progress = _Progress(None) if sys.stderr.isatty() else None
    report = render.ErrorsJson(errors_json) if errors_json else None

    shown = []

    def on_error(error):
        if report:
            report.add(str(error))
        if len(shown) > SHOW_WARNINGS:
            return
        if progress:
            progress.done()
        shown.append(1)
        if len(shown) > SHOW_WARNINGS:
            click.echo(f"warning: over {SHOW_WARNINGS:,} inputs rejected: the rest are counted, not shown as met", err=True)
            return
        click.echo(f"warning: {render.terminal_safe(str(error), newlines=False)}", err=True)

    exclude = [errors_json.name] if errors_json and isinstance(errors_json.name, str) else []
    with engine:
        try:
            summary = engine.index(list(paths), rebuild=rebuild, jobs=jobs, progress=progress, on_error=on_error,
                                   exclude=exclude)
        except KeyboardInterrupt as stop:
            if progress:
                progress.done()
            signum = getattr(stop, "signum", signal.SIGINT)
            what = "Interrupted" if signum == signal.SIGINT else f"Stopped by {signal.Signals(signum).name}"
            click.echo(
                f"{what}: rolled back the batch being written; the index keeps the {len(engine)} "
                "articles committed before it. Run the same command again to finish.",
                err=True,
            )
            sys.exit(128 + signum)
        finally:
            if report:
                report.close()
        total = len(engine)
    if progress:
        progress.done()
    rate = summary.indexed / summary.seconds if summary.seconds else 0
    click.echo(
        f"{summary.added} added, {summary.updated} updated, {summary.skipped} unchanged, "
        f"{summary.rejected} errors in {summary.seconds:.1f}s ({rate:.1f} articles/s); "
        f"index: {total} articles, {summary.index_bytes / 1e6:.1f} MB at {render.terminal_safe(str(engine.path))}"
    )
    if summary.rejected:
        click.echo("Rejected input:", err=True)
        for error in summary.errors:
            click.echo(f"  {render.terminal_safe(error, newlines=False)}", err=True)
        if summary.rejected > len(summary.errors):
            where = " (all of them are in the --errors-json file)" if errors_json else ""
            click.echo(f"  … and {summary.rejected - len(summary.errors):,} more{where}", err=True)
        sys.exit(EXIT_REJECTED)


@main.command("search")
@click.argument("query", nargs=-1, required=False)
@click.option("--limit", "-n", type=click.IntRange(min=1), default=10, show_default=True, help="Most hits to show.")
@click.option("--from", "date_from", default=None, help="Published on or after (2024-05-07, 07/05/2024, 2024-05, 2024).")
@click.option("--to", "date_to", default=None, help="Published on or before (same forms).")
@click.option("--person", default=None, help='Only articles naming this person ("Doãn Trung Tuấn"; without diacritics, every name folding to it).')
@click.option("--sort", type=click.Choice(SORTS), default="relevance", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per hit.")
@click.option("--html", "as_html", is_flag=True, help="An HTML list of hits, matches in <mark>.")
@click.option("--color/--no-color", default=None, help="Highlight with colour (default: on a terminal).")
@_index_dir_option
def search_command(query, limit, date_from, date_to, person, sort, as_json, as_html, color, index_dir):
    """Search the index. Words match with or without diacritics; "quotes" make a phrase.

    \b
    hnp-search search Hà Nội
    hnp-search search ha noi --limit 5
    hnp-search search '"văn hóa thể thao"' --from 2024-01-01
    hnp-search search 'giao thông -"xe buýt" date:2024-05'
    hnp-search search metro --person "Nguyễn Quốc Toàn" --sort -date

    \b
    Query language: words (all of them first, then most; a question, with a
    ? or a question word such as gì or bao nhiêu, by score alone); "a phrase";
    -word / -"phrase" to exclude; a OR b; ( ); title: lead: body: author:;
    person:"Name"; date:2024-05-07, date:2024-05, date:2024, date:07/05/2024,
    date:2024-05-01..2024-05-31, date:>=2024-05-01, date:<2024.
    """
    text = " ".join(query)
    if not text.strip() and not (person or date_from or date_to):
        raise click.UsageError("give a query, --person, --from or --to")
    with SearchEngine(index_dir or default_index_dir(), create=False) as engine:
        hits = engine.search(text, limit=limit, date_from=date_from, date_to=date_to, person=person, sort=sort)
    if as_json:
        for hit in hits:
            click.echo(render.to_json(render.hit_json(hit)))
        return
    if as_html:
        click.echo(render.hits_html(hits))
        return
    if not hits:
        click.echo(f"No articles match {text!r}.")
    if len(hits) < min(limit, SUGGEST_BELOW) and text.strip():
        with SearchEngine(index_dir or default_index_dir(), create=False) as engine:
            better = engine.suggest(text)
        if better:
            click.echo(f"Did you mean: {render.terminal_safe(better, newlines=False)}?\n")
    if not hits:
        return
    colour = sys.stdout.isatty() if color is None else color
    mark = Snippet.ansi if colour else Snippet.plain
    for rank, hit in enumerate(hits, 1):
        click.echo(render.hit_text(rank, hit, mark, scored=sort == "relevance"), color=colour)


@main.command("persons")
@click.argument("query", nargs=-1, required=False)
@click.option("--top", "-n", type=click.IntRange(min=1), default=20, show_default=True, help="How many persons.")
@click.option("--from", "date_from", default=None, help="Only articles published on or after this date.")
@click.option("--to", "date_to", default=None, help="Only articles published on or before this date.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per person.")
@_index_dir_option
def persons_command(query, top, date_from, date_to, as_json, index_dir):
    """List the persons named in the most articles, overall or among a query's matches.

    \b
    hnp-search persons
    hnp-search persons giao thông --top 5
    """
    text = " ".join(query) or None
    filters = {k: v for k, v in (("date_from", date_from), ("date_to", date_to)) if v}
    with SearchEngine(index_dir or default_index_dir(), create=False) as engine:
        ranked = engine.persons(text, top=top, **filters)
    for name, count in ranked:
        click.echo(render.to_json({"name": name, "articles": count}) if as_json
                   else f"{count:6d}  {render.terminal_safe(name, newlines=False)}")
    if not ranked and not as_json:
        click.echo("No persons found.")


@main.command("show")
@click.argument("article_id")
@click.option("--json", "as_json", is_flag=True, help="Print the article as JSON.")
@_index_dir_option
def show_command(article_id, as_json, index_dir):
    """Print one stored article by id."""
    with SearchEngine(index_dir or default_index_dir(), create=False) as engine:
        article = engine.get(article_id)
        persons = engine.persons_of(article_id)
    if article is None:
        raise click.ClickException(f"no article with id {article_id!r}")
    if as_json:
        click.echo(render.to_json(render.article_json(article), indent=1))
        return
    click.echo(render.article_text(article, persons))


@main.command("check")
@_index_dir_option
def check_command(index_dir):
    """Verify every file of the index: checksums recorded when each was written, the
    metadata, the table of contents. Says what is damaged and how to repair it.

    \b
    hnp-search check --index-dir index/
    """
    with SearchEngine(index_dir or default_index_dir(), create=False) as engine:
        report = engine.check()
    click.echo(render.check_text(report))
    if not report.ok:
        raise report.error()
