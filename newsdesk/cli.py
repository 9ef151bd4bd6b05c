"""The command line: thin adapters that open the store, call one library function, print."""

from __future__ import annotations

import logging
import sqlite3
import sys
from collections.abc import Callable, Iterable
from functools import wraps
from pathlib import Path
from typing import Any

import click

from . import __version__, config
from . import export as writers
from .errors import ExitCode, NewsdeskError
from .store import Store, storage_error

log = logging.getLogger("newsdesk")


# --- shared options -------------------------------------------------------------


def _setup_logging(verbose: int, quiet: bool) -> None:
    level = logging.ERROR if quiet else {0: logging.WARNING, 1: logging.INFO}.get(
        verbose, logging.DEBUG)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("newsdesk: %(levelname)s: %(message)s"))
    root = logging.getLogger("newsdesk")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def db_option(fn: Callable) -> Callable:
    return click.option(
        "--db", "db_path", type=click.Path(dir_okay=False, path_type=Path),
        envvar="NEWSDESK_DB", default=config.DEFAULT_DB, show_default=True,
        help="SQLite database (env NEWSDESK_DB).")(fn)


def feeds_option(fn: Callable) -> Callable:
    return click.option(
        "--feeds", "feeds_path", type=click.Path(dir_okay=False, path_type=Path),
        envvar="NEWSDESK_FEEDS", default=config.DEFAULT_FEEDS, show_default=True,
        help="Feeds file (env NEWSDESK_FEEDS).")(fn)


def verbosity(fn: Callable) -> Callable:
    @click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
    @click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
    @wraps(fn)
    def inner(*args: Any, verbose: int, quiet: bool, **kwargs: Any) -> Any:
        _setup_logging(verbose, quiet)
        return fn(*args, quiet=quiet, **kwargs)

    return inner


def output_options(fn: Callable) -> Callable:
    """--json/--nl/--csv/--tsv/--columns, shared by every listing command."""

    @click.option("--json", "fmt", flag_value="json", help="Output a JSON array.")
    @click.option("--nl", "fmt", flag_value="nl", help="Output JSON Lines.")
    @click.option("--csv", "fmt", flag_value="csv", help="Output CSV.")
    @click.option("--tsv", "fmt", flag_value="tsv", help="Output TSV.")
    @click.option("--table", "fmt", flag_value="table",
                  help="Output a table (default on a terminal).")
    @click.option("--columns", help="Comma-separated columns to show.")
    @wraps(fn)
    def inner(*args: Any, fmt: str | None, columns: str | None, **kwargs: Any) -> Any:
        cols = [c.strip() for c in columns.split(",") if c.strip()] if columns else None
        out = Output(fmt or ("table" if sys.stdout.isatty() else "nl"), cols)
        return fn(*args, out=out, **kwargs)

    return inner


class Output:
    def __init__(self, fmt: str, columns: list[str] | None):
        self.fmt, self.columns = fmt, columns

    def rows(self, rows: Iterable[dict], *, raw: bool = True) -> None:
        stream = sys.stdout
        try:
            writers.write_rows(rows, stream, fmt=self.fmt, columns=self.columns, raw=raw)
        except writers.UnknownColumnError as e:
            raise click.UsageError(str(e)) from None


def open_store(db_path: Path, *, readonly: bool = False) -> Store:
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.meta["newsdesk.db"] = db_path  # named in the error line if the disk fails mid-run
    return Store.open(db_path, readonly=readonly)


class NewsdeskGroup(click.Group):
    """Turns library errors into one line and a named exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except NewsdeskError as e:
            click.echo(f"Error: {e}", err=True)
            ctx.exit(int(e.exit_code))
        except sqlite3.DatabaseError as e:  # disk full, read-only, corrupt mid-run
            err = storage_error(ctx.meta.get("newsdesk.db"), e)
            click.echo(f"Error: {err}", err=True)
            ctx.exit(int(err.exit_code))


@click.group(cls=NewsdeskGroup)
@click.version_option(__version__, prog_name="newsdesk")
def cli() -> None:
    """newsdesk: follow many news feeds into one searchable, deduplicated SQLite archive.

    Exit codes: 0 ok, 1 some feeds or rows failed, 2 usage or config error,
    3 another run holds the lock, 4 database cannot be opened or written.
    """


# --- fetch / add ---------------------------------------------------------------------


class _Progress:
    """A one-line status on a terminal; silent otherwise."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.feeds = self.articles = 0

    def __call__(self, event: str, detail: str) -> None:
        if not self.enabled:
            return
        if event == "feed":
            self.feeds += 1
        elif event == "article":
            self.articles += 1
        line = f"\r\x1b[K{self.feeds} feeds, {self.articles} articles  {detail[:60]}"
        click.echo(line, err=True, nl=False)

    def done(self) -> None:
        if self.enabled and (self.feeds or self.articles):
            click.echo("\r\x1b[K", err=True, nl=False)


@cli.command()
@feeds_option
@db_option
@click.option("--feed", "names", multiple=True,
              help="Only this feed (repeatable); runs it even if resting.")
@click.option("--workers", type=click.IntRange(1, 64), default=32, show_default=True,
              help="Concurrent downloads (per-host limits still apply).")
@click.option("--extract-workers", type=click.IntRange(0, 64), default=None,
              help="Extraction processes [default: number of cores; 0 = in-process].")
@verbosity
def fetch(feeds_path: Path, db_path: Path, names: tuple[str, ...], workers: int,
          extract_workers: int | None, quiet: bool) -> None:
    """Fetch the feeds, store new articles with full text, and link them into events."""
    from .lock import run_lock
    from .pipeline import fetch_feeds

    cfg = config.load_config(feeds_path)
    with run_lock(db_path), open_store(db_path) as store:
        progress = _Progress(sys.stderr.isatty() and not quiet)
        summary = fetch_feeds(cfg, store, names=names, net_workers=workers,
                              extract_workers=extract_workers, progress=progress)
        progress.done()
    for failed in summary.errors:
        click.echo(f"Error: feed {failed.name}: {failed.error}", err=True)
    if not quiet:
        click.echo(summary.line())
    sys.exit(int(summary.exit_code))


@cli.command()
@click.argument("urls", nargs=-1, required=True)
@db_option
@click.option("--allow-private", is_flag=True, help="Allow URLs on private/loopback addresses.")
@click.option("--no-robots", is_flag=True, help="Ignore robots.txt.")
@verbosity
def add(urls: tuple[str, ...], db_path: Path, allow_private: bool, no_robots: bool,
        quiet: bool) -> None:
    """Fetch and store single article pages outside any feed."""
    from .lock import run_lock
    from .pipeline import add_urls

    with run_lock(db_path), open_store(db_path) as store:
        results = add_urls(store, urls, allow_private=allow_private, robots=not no_robots)
    failed = 0
    for r in results:
        if r.error:
            failed += 1
            click.echo(f"Error: {r.error}", err=True)
        elif not quiet:
            click.echo(f"{r.outcome}: {r.url} (article {r.article_id})")
    sys.exit(int(ExitCode.PARTIAL if failed else ExitCode.OK))


# --- reading the archive -------------------------------------------------------------


def filter_options(fn: Callable) -> Callable:
    """Filters shared by search, latest and export."""

    @click.option("--source", "sources", multiple=True, help="Only this outlet (substring).")
    @click.option("--feed", "feeds", multiple=True, help="Only articles that came via this feed.")
    @click.option("--tag", "tags", multiple=True, help="Only articles with this tag.")
    @click.option("--since", help="From this date: 2025-11-20, yesterday, '3 days ago'.")
    @click.option("--until", help="Up to this date (a bare day includes that day).")
    @click.option("--language", help="Only this language code, e.g. en.")
    @click.option("--event", type=int, help="Only articles of this event.")
    @click.option("--all", "all_copies", is_flag=True, help="Show every copy, not one per group.")
    @wraps(fn)
    def inner(*args: Any, sources: tuple[str, ...], feeds: tuple[str, ...],
              tags: tuple[str, ...], since: str | None, until: str | None,
              language: str | None, event: int | None, all_copies: bool, **kwargs: Any) -> Any:
        from .query import Filters, parse_when

        filters = Filters(
            sources=list(sources), feeds=list(feeds), tags=list(tags),
            since=parse_when(since, option="--since") if since else None,
            until=parse_when(until, option="--until", end=True) if until else None,
            language=language, event=event, all_copies=all_copies)
        return fn(*args, filters=filters, **kwargs)

    return inner


@cli.command()
@click.argument("query")
@filter_options
@click.option("--limit", type=click.IntRange(1), default=20, show_default=True)
@click.option("--offset", type=click.IntRange(0), default=0)
@click.option("--literal", is_flag=True, help="Search the words as given, not FTS5 syntax.")
@click.option("--by-event", is_flag=True, help="Group hits by event.")
@db_option
@output_options
def search(query: str, filters: Any, limit: int, offset: int, literal: bool, by_event: bool,
           db_path: Path, out: Output) -> None:
    """Full-text search, ranked by bm25 with the title above the body.

    QUERY is FTS5 syntax ("exact phrase", prefix*, NEAR(a b), title:word) plus
    field operators: source:reuters tag:world date:2025-11-20.. lang:en event:12,
    and -word to exclude a word.
    """
    from . import query as q

    with open_store(db_path, readonly=True) as store:
        if by_event:
            out.rows(q.search_by_event(store, query, filters, limit=limit, literal=literal))
        else:
            out.rows(q.search(store, query, filters, limit=limit, offset=offset,
                              literal=literal))


@cli.command()
@filter_options
@click.option("--limit", type=click.IntRange(1), default=20, show_default=True)
@click.option("--offset", type=click.IntRange(0), default=0)
@db_option
@output_options
def latest(filters: Any, limit: int, offset: int, db_path: Path, out: Output) -> None:
    """The newest articles."""
    from . import query as q

    with open_store(db_path, readonly=True) as store:
        out.rows(q.latest(store, filters, limit=limit, offset=offset))


@cli.command()
@click.argument("ref")
@click.option("--text/--no-text", default=True, help="Include the body text.")
@db_option
def show(ref: str, text: bool, db_path: Path) -> None:
    """One article (by id or URL) as JSON: metadata, extraction, feeds, copies, event."""
    import json

    from . import query as q

    with open_store(db_path, readonly=True) as store:
        row = q.show(store, ref)
    if not text:
        row.pop("text", None)
    click.echo(json.dumps(row, indent=2, ensure_ascii=False, default=str))


@cli.command()
@click.option("--since", help="Events seen since this date.")
@click.option("--min-sources", type=click.IntRange(1), default=1, show_default=True)
@click.option("--min-articles", type=click.IntRange(1), default=1, show_default=True)
@click.option("--largest", is_flag=True, help="Order by number of sources, not recency.")
@click.option("--limit", type=click.IntRange(1), default=20, show_default=True)
@db_option
@output_options
def events(since: str | None, min_sources: int, min_articles: int, largest: bool, limit: int,
           db_path: Path, out: Output) -> None:
    """Events: reports of one story grouped, with first publisher, sources and span."""
    from . import query as q

    when = q.parse_when(since, option="--since") if since else None
    with open_store(db_path, readonly=True) as store:
        out.rows(q.events(store, since=when, min_sources=min_sources, min_articles=min_articles,
                          order="size" if largest else "recent", limit=limit))


@cli.command()
@click.argument("event_id", type=int)
@db_option
@output_options
def event(event_id: int, db_path: Path, out: Output) -> None:
    """The reports of one event by time, each under its own source."""
    from . import query as q

    with open_store(db_path, readonly=True) as store:
        out.rows(q.event_articles(store, event_id))


@cli.command()
@click.argument("article_a", type=int)
@click.argument("article_b", type=int)
@db_option
def why(article_a: int, article_b: int, db_path: Path) -> None:
    """Why two articles are (or are not) linked: features, score, shared names and quotes."""
    import json

    from .link_stage import explain

    with open_store(db_path, readonly=True) as store:
        result = explain(store, article_a, article_b)
    click.echo(json.dumps(result, indent=2, ensure_ascii=False, default=str))


@cli.command()
@click.option("--since", help="Relink articles dated from here on (default: all).")
@db_option
@verbosity
def relink(since: str | None, db_path: Path, quiet: bool) -> None:
    """Rebuild copies and events with the current settings."""
    from .link_stage import relink as do_relink
    from .lock import run_lock
    from .query import parse_when

    when = parse_when(since, option="--since") if since else None
    with run_lock(db_path), open_store(db_path) as store:
        s = do_relink(store, when)
    if not quiet:
        click.echo(f"relinked {s.articles} articles: {s.copies} copies, {s.new_events} events, "
                   f"{s.joined_events} joined; {s.seconds:.1f}s")


@cli.command(name="import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]),
              help="File format [default: from the file name].")
@click.option("--source", help="Source for rows that name none.")
@db_option
@verbosity
def import_(file: Path, fmt: str | None, source: str | None, db_path: Path,
            quiet: bool) -> None:
    """Import extracted articles (JSON Lines or CSV: url, title, text, source, published)."""
    from .importer import import_file
    from .lock import run_lock

    with run_lock(db_path), open_store(db_path) as store:
        s = import_file(store, file, fmt=fmt, source=source)
    for line, problem in s.bad:
        click.echo(f"Error: {file}:{line}: {problem}", err=True)
    if not quiet:
        link = s.link
        click.echo(f"{s.rows} rows: {s.new} new, {s.updated} updated, {s.unchanged} unchanged, "
                   f"{len(s.bad)} bad" + (f"; {link.copies} copies, {link.new_events} new "
                                          f"events" if link else ""))
    sys.exit(int(ExitCode.PARTIAL if s.bad else ExitCode.OK))


@cli.command(name="export")
@click.argument("query", required=False)
@filter_options
@click.option("--format", "fmt", type=click.Choice(["csv", "tsv", "jsonl", "json"]),
              default="csv", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file (default: standard output).")
@click.option("--bom", is_flag=True, help="Start CSV with a UTF-8 BOM (for Excel).")
@click.option("--raw", is_flag=True, help="Do not neutralise cells that look like formulas.")
@click.option("--literal", is_flag=True, help="Search the words as given, not FTS5 syntax.")
@db_option
def export_(query: str | None, filters: Any, fmt: str, output: Path | None, bom: bool, raw: bool,
           literal: bool, db_path: Path) -> None:
    """Export articles with full text, event_id and duplicate_of (streamed)."""
    from . import query as q

    filters.all_copies = True  # an export carries every copy, marked by duplicate_of
    fmt = {"jsonl": "nl"}.get(fmt, fmt)
    with open_store(db_path, readonly=True) as store:
        rows = q.export_rows(store, filters, query, literal=literal)
        if output:
            with output.open("w", encoding="utf-8", newline="") as fh:
                n = writers.write_rows(rows, fh, fmt=fmt, raw=raw, bom=bom)
            click.echo(f"wrote {n} articles to {output}", err=True)
        else:
            writers.write_rows(rows, sys.stdout, fmt=fmt, raw=raw, bom=bom)


@cli.command()
@click.option("--days", type=click.IntRange(1), default=14, show_default=True)
@click.option("--summary", is_flag=True, help="Only the totals line.")
@db_option
@output_options
def stats(days: int, summary: bool, db_path: Path, out: Output) -> None:
    """Articles by day and by source, failing feeds, extraction failures by domain."""
    from . import query as q

    with open_store(db_path, readonly=True) as store:
        sections = q.stats(store, days=days)
    if summary:
        t = sections["totals"][0]
        click.echo(f"{t['articles']} articles ({t['copies']} copies) in {t['events']} events "
                   f"({t['multi_source_events']} with several sources) from {t['feeds']} feeds; "
                   f"last run {t['last_run'] or 'never'}")
        return
    if out.fmt in ("json", "nl"):
        import json

        click.echo(json.dumps(sections, ensure_ascii=False, default=str))
        return
    for name, rows in sections.items():
        click.echo(f"\n{name.replace('_', ' ')}:")
        out.rows(rows)


# --- feeds ---------------------------------------------------------------------------------


@cli.group()
def feeds() -> None:
    """List, add, remove, enable, disable, check, import and export feeds."""


@feeds.command(name="list")
@feeds_option
@db_option
@output_options
def feeds_list(feeds_path: Path, db_path: Path, out: Output) -> None:
    """Feeds with their health: last success, last error, failures, articles in 7 days."""
    from . import query as q

    cfg = config.load_config(feeds_path)
    names = [f.name for f in cfg.feeds]
    health: dict[str, dict] = {}
    if db_path.exists():
        with open_store(db_path, readonly=True) as store:
            health = q.feed_health(store, names)
    out.rows({
        "name": f.name, "enabled": f.enabled, "tags": ",".join(f.tags), "url": f.url,
        "last_success": health.get(f.name, {}).get("last_success"),
        "failures": health.get(f.name, {}).get("consecutive_failures", 0),
        "articles_7d": health.get(f.name, {}).get("articles_7d", 0),
        "last_error": health.get(f.name, {}).get("last_error"),
    } for f in cfg.feeds)


@feeds.command(name="add")
@click.argument("url")
@click.option("--name", help="Feed name [default: from the URL's host].")
@click.option("--tag", "tags", multiple=True, help="Tag (repeatable).")
@click.option("--language", help="Language code, e.g. en.")
@feeds_option
def feeds_add(url: str, name: str | None, tags: tuple[str, ...], language: str | None,
              feeds_path: Path) -> None:
    """Add a feed to the feeds file (comments are kept)."""
    from .urls import host_of

    feed = config.add_feed(feeds_path, name or host_of(url) or url, url, tags=list(tags),
                           language=language)
    click.echo(f"added {feed.name}: {feed.url}")


@feeds.command(name="remove")
@click.argument("name")
@feeds_option
def feeds_remove(name: str, feeds_path: Path) -> None:
    """Remove a feed from the feeds file (its stored articles stay)."""
    config.remove_feed(feeds_path, name)
    click.echo(f"removed {name}")


@feeds.command(name="enable")
@click.argument("name")
@feeds_option
def feeds_enable(name: str, feeds_path: Path) -> None:
    """Enable a feed."""
    config.set_enabled(feeds_path, name, True)
    click.echo(f"enabled {name}")


@feeds.command(name="disable")
@click.argument("name")
@feeds_option
def feeds_disable(name: str, feeds_path: Path) -> None:
    """Disable a feed (kept in the file, skipped by fetch)."""
    config.set_enabled(feeds_path, name, False)
    click.echo(f"disabled {name}")


@feeds.command(name="check")
@click.option("--feed", "names", multiple=True, help="Only this feed (repeatable).")
@feeds_option
@output_options
def feeds_check(names: tuple[str, ...], feeds_path: Path, out: Output) -> None:
    """Fetch each feed once and report; exit 1 when any fails (for cron alerts)."""
    from dataclasses import asdict

    from .pipeline import check_feeds

    cfg = config.load_config(feeds_path)
    results = check_feeds(cfg.select(list(names)))
    out.rows(asdict(r) | {"seconds": round(r.seconds, 2)} for r in results)
    sys.exit(int(ExitCode.PARTIAL if any(not r.ok for r in results) else ExitCode.OK))


@feeds.command(name="import")
@click.argument("opml_file", type=click.Path(dir_okay=False, path_type=Path))
@feeds_option
def feeds_import(opml_file: Path, feeds_path: Path) -> None:
    """Add the feeds of an OPML file (folders become tags); known URLs are skipped."""
    from .opml import read_opml

    found = read_opml(opml_file)
    added = config.add_feeds(feeds_path, [(f.name, f.url, f.tags) for f in found])
    click.echo(f"added {added} of {len(found)} feeds from {opml_file}")


@feeds.command(name="export")
@click.option("--opml", "as_opml", is_flag=True, required=True, help="Write OPML 2.0.")
@feeds_option
def feeds_export(as_opml: bool, feeds_path: Path) -> None:
    """Write the feeds as OPML to standard output."""
    from .opml import write_opml

    click.echo(write_opml(config.load_config(feeds_path).feeds), nl=False)
