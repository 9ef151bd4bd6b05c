"""The command line: thin adapters that open the store, call one library function, print."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable
from functools import wraps
from pathlib import Path
from typing import Any

import click

from . import __version__, config, export
from .errors import ExitCode, NewsdeskError
from .store import Store

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
        stream = click.get_text_stream("stdout")
        try:
            export.write_rows(rows, stream, fmt=self.fmt, columns=self.columns, raw=raw)
        except export.UnknownColumnError as e:
            raise click.UsageError(str(e)) from None


def open_store(db_path: Path, *, readonly: bool = False) -> Store:
    return Store.open(db_path, readonly=readonly)


class NewsdeskGroup(click.Group):
    """Turns library errors into one line and a named exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except NewsdeskError as e:
            click.echo(f"Error: {e}", err=True)
            ctx.exit(int(e.exit_code))


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
@click.option("--workers", type=click.IntRange(1, 64), default=16, show_default=True,
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
