"""The ingest run: feeds -> entries -> articles -> rows, with the link stage alongside.

Stage 1 (ingest) downloads feeds and pages on a thread pool (pages queue per host, oldest
entry first, and start when their host has a free slot; the HTTP client enforces the
per-host limits), extracts pages on a process pool so every core works, and writes each
article in its own transaction from this one thread.
Stage 2 (link) takes the articles not yet linked, in publication order, marks copies and
links reports of one event (see `link_stage.py`, `linking.py`). It runs between rounds
of stage 1 as far as publication order allows (articles dated before every page still to
come), then over the rest at the end; it also resumes after a run that was killed.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import logging
import multiprocessing
import os
import random
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import (
    FIRST_COMPLETED,
    Executor,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from . import dates, urls
from .config import Config, FeedConfig
from .errors import ExitCode
from .extract import Extracted, extract
from .feeds import parse_feed
from .http import FetchResult, HttpClient, host_key
from .link_stage import LinkRun, LinkSummary, link_pending
from .linking import LinkSettings
from .models import (
    DATE_OK,
    EXTRACT_BLOCKED,
    EXTRACT_FETCH_FAILED,
    EXTRACT_NO_TEXT,
    EXTRACT_NOT_HTML,
    EXTRACT_OK,
    EXTRACT_ROBOTS,
    EXTRACT_SKIPPED,
    Article,
    Entry,
    TextFacts,
)
from .store import Store, iso, parse_iso, utcnow
from .worker import Page, extract_page, ready

log = logging.getLogger("newsdesk.pipeline")

HTML_TYPES = ("text/html", "application/xhtml+xml", "")
MAX_BACKOFF = timedelta(hours=12)
BACKOFF_STEP = timedelta(minutes=15)

Progress = Callable[[str, str], None]  # (event, detail): "feed", "article", ...


@dataclass
class FeedOutcome:
    name: str
    outcome: str = "ok"  # ok, unchanged, failed, skipped
    http_status: int | None = None
    entries: int = 0
    new: int = 0
    error: str | None = None
    warning: str | None = None
    duration: float = 0.0


@dataclass
class RunSummary:
    run_id: int | None
    feeds: list[FeedOutcome] = field(default_factory=list)
    articles_new: int = 0
    articles_updated: int = 0
    duration: float = 0.0
    link: LinkSummary | None = None

    def count(self, outcome: str) -> int:
        return sum(1 for f in self.feeds if f.outcome == outcome)

    @property
    def errors(self) -> list[FeedOutcome]:
        return [f for f in self.feeds if f.outcome == "failed"]

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.PARTIAL if self.errors else ExitCode.OK

    def line(self) -> str:
        return (
            f"feeds: {self.count('ok')} ok, {self.count('failed')} failed, "
            f"{self.count('unchanged')} unchanged, {self.count('skipped')} skipped; "
            f"articles: {self.articles_new} new, {self.articles_updated} updated; "
            f"{self.duration:.1f}s"
        )


def backoff_delay(failures: int, rng: random.Random | None = None) -> timedelta:
    """How long a failing feed rests: nothing after one failure, then doubling, with jitter."""
    if failures <= 1:
        return timedelta(0)
    delay = min(BACKOFF_STEP * (2 ** (failures - 2)), MAX_BACKOFF)
    return delay * (rng or random).uniform(0.8, 1.2)


def _pool(workers: int) -> tuple[Executor, threading.Thread | None]:
    """The extraction pool, and the thread starting its processes (None when inline).

    Processes start on demand, and starting the first one blocks until the fork server
    has imported and warmed the extraction stack (`worker_init`, ~0.9 s of CPU). Done on
    the main thread when the first page is in, that stalled every download and save
    behind it; a helper thread starts them as soon as the first page is queued, while it
    downloads.
    """
    if workers <= 0:
        return ThreadPoolExecutor(max_workers=1), None  # extraction inline on one thread
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["newsdesk.worker_init"])
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx)
    starter = threading.Thread(target=lambda: [pool.submit(ready) for _ in range(workers)],
                               name="newsdesk-pool-start", daemon=True)
    starter.start()
    return pool, starter


@dataclass
class _Job:
    feed: FeedConfig
    entry: Entry
    canonical: str
    guid: str
    seq: int = -1  # order of queueing; -1 for entries saved without a page
    # the sort date the article will be saved with, when the feed dates the entry
    bound: str | None = None


class Ingest:
    """One run over a set of feeds. Use `fetch_feeds`; this class holds the run's state."""

    def __init__(self, store: Store, client: HttpClient, *, net_workers: int,
                 extract_workers: int, progress: Progress | None, now: datetime,
                 link_settings: LinkSettings | None = None):
        self.store = store
        self.client = client
        self.net = ThreadPoolExecutor(max_workers=net_workers, thread_name_prefix="newsdesk-net")
        self.extract_workers = extract_workers
        self._cpu: Executor | None = None  # started with the first page to fetch
        self._cpu_starter: threading.Thread | None = None
        self.progress = progress or (lambda event, detail: None)
        self.now = now
        self.pending: dict[Future, tuple[str, Any]] = {}
        self.outcomes: dict[str, FeedOutcome] = {}
        self.in_flight: set[str] = set()  # canonical URLs being fetched this run
        self.waiting: dict[str, list[_Job]] = {}  # other feeds' entries for an in-flight URL
        self.remaining: dict[str, int] = {}  # pages of each feed not saved yet
        self.validators: dict[str, tuple[str | None, str | None, str | None]] = {}
        self.known_bodies: dict[str, str | None] = {}  # feed -> hash of its last full body
        self.summary = RunSummary(run_id=None)
        # Pages wait here until fewer than `page_limit` are being downloaded or extracted:
        # downloads can outrun extraction by far, and every page in between holds its HTML
        # in memory, so this bounds a run's memory whatever the number of feeds or entries.
        # Each host has its own queue, oldest entry first; a page starts only when its
        # host has a free slot, so one busy host never holds up the others' downloads.
        self.queued: dict[str, list[tuple[str, int, _Job, str, bool]]] = {}
        self.n_queued = 0
        self.downloading: Counter[str] = Counter()
        self.per_host = client.per_host
        self.active = 0
        self.page_limit = net_workers + 4 * max(1, extract_workers)
        self.seq = itertools.count()
        # The link stage runs alongside, in publication order: it may link articles dated
        # before every page still to be saved (see `_link_bound`).
        self.linking = LinkRun(store, link_settings)
        self.feeds_left = 0
        self.unsaved_dated: list[tuple[str, int]] = []  # heap of (bound, seq)
        self.unsaved: set[int] = set()
        self.unsaved_undated = 0
        self.saved_since_link = 0
        self.last_bound: str | None | bool = False
        self.link_more = False

    def close(self) -> None:
        if self._cpu_starter is not None:
            self._cpu_starter.join()
        self.net.shutdown(wait=True, cancel_futures=True)
        if self._cpu is not None:
            self._cpu.shutdown(wait=True, cancel_futures=True)

    def extraction_pool(self) -> Executor:
        """The extraction pool, started on first use: a run of unchanged feeds needs none."""
        if self._cpu is None:
            self._cpu, self._cpu_starter = _pool(self.extract_workers)
        return self._cpu

    # --- scheduling --------------------------------------------------------------

    def submit(self, pool: Executor, kind: str, data: Any, fn: Callable, *args: Any,
               **kwargs: Any) -> None:
        self.pending[pool.submit(fn, *args, **kwargs)] = (kind, data)

    def run(self, feeds: list[FeedConfig], force: bool) -> None:
        for feed in feeds:
            state = self.store.feed_state(feed.name)
            resting = state is not None and state.next_attempt is not None
            if not force and resting and parse_iso(state.next_attempt) > self.now:
                self.outcomes[feed.name] = FeedOutcome(
                    feed.name, "skipped", error=f"resting until {state.next_attempt}")
                continue
            self.outcomes[feed.name] = FeedOutcome(feed.name)
            self.known_bodies[feed.name] = state.body_hash if state else None
            self.feeds_left += 1
            self.submit(self.net, "feed", feed, self.client.get, feed.url,
                        etag=state.etag if state else None,
                        last_modified=state.last_modified if state else None,
                        timeout=feed.options.timeout,
                        allow_private=True)  # the user chose this URL; links are guarded
        self.drain()

    def drain(self) -> None:
        """Handle finished downloads and extractions until nothing is pending."""
        while self.pending:
            done, _ = wait(list(self.pending), return_when=FIRST_COMPLETED)
            for fut in done:
                kind, data = self.pending.pop(fut)
                getattr(self, f"on_{kind}")(data, fut.result())
            self._link_some()

    def _link_some(self) -> None:
        """Link up to LINK_SLICE articles if the bound moved, articles were saved or the
        last slice was full (each call queries the unlinked rows: not for nothing)."""
        bound = self._link_bound()
        if bound is False:
            return
        if not (self.link_more or self.saved_since_link or bound != self.last_bound):
            return
        n = self.linking.link(bound, limit=LINK_SLICE)
        self.last_bound, self.saved_since_link, self.link_more = bound, 0, n == LINK_SLICE
        if n:
            self.progress("link", f"{self.linking.summary.articles} linked")

    def _link_bound(self) -> str | None | bool:
        """How far the link stage may go now: False for not at all, None for everything
        saved, else a date it must stay before. Nothing can be linked until every feed
        is in and every undated page saved (such a page may take any date from the
        page); after that, articles dated before the oldest unsaved page can be."""
        if self.feeds_left or self.unsaved_undated:
            return False
        heap = self.unsaved_dated
        while heap and heap[0][1] not in self.unsaved:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    # --- stage handlers ----------------------------------------------------------

    def on_feed(self, feed: FeedConfig, res: FetchResult) -> None:
        self.feeds_left -= 1
        out = self.outcomes[feed.name]
        out.http_status, out.duration = res.status, res.elapsed
        now = utcnow()
        digest = hashlib.sha256(res.content).hexdigest() if res.ok and res.content else None
        # a 304, or the very bytes of the last response whose entries were all stored
        # (servers without validators): nothing to parse
        if res.not_modified or (digest and digest == self.known_bodies.get(feed.name)):
            out.outcome = "unchanged"
            self.store.record_feed_success(feed.name, status=res.status, etag=res.etag,
                                           last_modified=res.last_modified, title=None,
                                           warning=None, now=now)
            self.progress("feed", f"{feed.name}: unchanged")
            return
        parsed = None
        if res.ok:
            parsed = parse_feed(res.content, feed_name=feed.name, url=res.final_url,
                                headers=res.headers, language=feed.language)
        error = res.error or (parsed.error if parsed else None)
        if error:
            self._feed_failed(feed, out, res, error, now)
            return
        assert parsed is not None
        out.entries, out.warning = len(parsed.entries), parsed.warning
        if parsed.warning:
            log.warning("%s: %s", feed.name, parsed.warning)
        # conditional-GET validators are stored only once every new entry of this
        # response is saved: a run killed half-way must see the feed again next time
        self.store.record_feed_success(feed.name, status=res.status, etag=None,
                                       last_modified=None, title=parsed.title,
                                       warning=parsed.warning, now=now)
        self.progress("feed", f"{feed.name}: {len(parsed.entries)} entries")
        complete = self.plan(feed, parsed.entries)
        if complete:
            self.validators[feed.name] = (res.etag, res.last_modified, digest)
            self._maybe_finish(feed.name)

    def _feed_failed(self, feed: FeedConfig, out: FeedOutcome, res: FetchResult, error: str,
                     now: datetime) -> None:
        out.outcome, out.error = "failed", error
        state = self.store.feed_state(feed.name)
        failures = (state.consecutive_failures if state else 0) + 1
        delay = backoff_delay(failures)
        if res.retry_after:
            delay = max(delay, timedelta(seconds=res.retry_after))
        next_attempt = now + delay if delay else None
        self.store.record_feed_failure(feed.name, status=res.status, error=error,
                                       next_attempt=next_attempt, now=now)
        log.info("feed %s failed: %s", feed.name, error)  # the caller reports it
        self.progress("feed", f"{feed.name}: failed")

    def _maybe_finish(self, name: str) -> None:
        if self.remaining.get(name, 0) == 0 and name in self.validators:
            etag, last_modified, digest = self.validators.pop(name)
            self.store.set_validators(name, etag, last_modified, digest)

    def plan(self, feed: FeedConfig, entries: list[Entry]) -> bool:
        """Decide which entries are new and start fetching their pages. False when the
        max_articles cap left new entries for a later run."""
        fresh = 0
        complete = True
        for entry in entries:
            link = entry.url if urls.is_http_url(entry.url) else None
            canonical = urls.canonicalize(link) if link else None
            guid = entry.guid or canonical
            if canonical is None:
                if not guid:
                    continue
                canonical = f"urn:newsdesk:{feed.name}:{guid}"
            known = self.store.find_article(feed=feed.name, guid=guid, canonical_url=canonical)
            if known is not None:
                self.store.add_membership(known, feed.name, guid, utcnow())
                continue
            job = _Job(feed, entry, canonical, guid)
            if canonical in self.in_flight:
                self.waiting.setdefault(canonical, []).append(job)
                continue
            if fresh >= feed.options.max_articles:
                complete = False
                continue
            fresh += 1
            self.remaining[feed.name] = self.remaining.get(feed.name, 0) + 1
            self.in_flight.add(canonical)
            if feed.options.full_text and link:
                allow = feed.options.allow_private or urls.is_private_host(urls.host_of(feed.url))
                self._enqueue(job, link, allow)
            else:
                self.save(job, None, None, EXTRACT_SKIPPED, None)
        self._pump()
        return complete

    def _enqueue(self, job: _Job, link: str, allow: bool) -> None:
        self.extraction_pool()  # its processes start while this page downloads
        job.seq = next(self.seq)
        published = job.entry.published
        if published.status == DATE_OK and published.value is not None:
            job.bound = iso(published.value)
            heapq.heappush(self.unsaved_dated, (job.bound, job.seq))
        else:
            self.unsaved_undated += 1
        self.unsaved.add(job.seq)
        host = host_key(link)  # the HTTP client's per-host limit counts per this key
        # undated pages first: until they are saved, nothing can be linked
        heapq.heappush(self.queued.setdefault(host, []), (job.bound or "", job.seq, job, link,
                                                          allow))
        self.n_queued += 1

    def _pump(self) -> None:
        """Start page downloads while fewer than `page_limit` pages are in progress: the
        oldest page of a host with a free slot first."""
        while self.n_queued and self.active < self.page_limit:
            best: list | None = None
            best_host = ""
            for host, heap in self.queued.items():
                if self.downloading[host] < self.per_host and (best is None
                                                               or heap[0][:2] < best[0][:2]):
                    best, best_host = heap, host
            if best is None:
                return  # every host with pages waiting is at its limit
            _, _, job, link, allow = heapq.heappop(best)
            if not best:
                del self.queued[best_host]
            self.n_queued -= 1
            self.active += 1
            self.downloading[best_host] += 1
            options = job.feed.options
            self.submit(self.net, "page", (job, best_host), self.client.get, link,
                        check_robots=options.robots, allow_private=allow,
                        timeout=options.timeout)

    def _page_done(self) -> None:
        self.active -= 1
        self._pump()

    def on_page(self, data: tuple[_Job, str], res: FetchResult) -> None:
        job, host = data
        self.downloading[host] -= 1
        if not res.ok:
            status = {"robots": EXTRACT_ROBOTS, "blocked_address": EXTRACT_BLOCKED}.get(
                res.error_kind or "", EXTRACT_FETCH_FAILED)
            log.info("page %s: %s", job.entry.url, res.error)
            self.save(job, res, None, status, res.error)
        elif res.content_type not in HTML_TYPES:
            self.save(job, res, None, EXTRACT_NOT_HTML, f"not an HTML page ({res.content_type})")
        else:
            self.submit(self.extraction_pool(), "extracted", (job, res), extract_page, res.content,
                        res.final_url, job.entry.summary)
            self._pump()  # the host has a free slot
            return
        self._page_done()

    def on_extracted(self, data: tuple[_Job, FetchResult], page: Page) -> None:
        job, res = data
        if page.facts is not None:  # the process found usable body text
            self.save(job, res, page.extracted, EXTRACT_OK, None, page)
        else:
            self.save(job, res, page.extracted, EXTRACT_NO_TEXT,
                      "no article text found on the page")
        self._page_done()

    # --- building and saving -------------------------------------------------------

    def save(self, job: _Job, res: FetchResult | None, ex: Extracted | None, status: str,
             error: str | None, page: Page | None = None) -> None:
        article = build_article(job.feed, job.entry, job.canonical, job.guid, res, ex, status,
                                error, utcnow(), page.facts if page else None)
        article_id, outcome = self.store.save_article(
            article, signature=page.signature if page else None,
            agency=page.agency if page else None)
        out = self.outcomes[job.feed.name]
        if outcome == "new":
            out.new += 1
            self.summary.articles_new += 1
        elif outcome == "updated":
            self.summary.articles_updated += 1
        self.progress("article", article.title or article.url)
        for other in self.waiting.pop(job.canonical, []):
            self.store.add_membership(article_id, other.feed.name, other.guid, utcnow())
        self.saved_since_link += 1
        if job.seq in self.unsaved:
            self.unsaved.discard(job.seq)
            if job.bound is None:
                self.unsaved_undated -= 1
        self.remaining[job.feed.name] -= 1
        self._maybe_finish(job.feed.name)


LINK_SLICE = 10  # articles linked between two rounds of downloads and extractions


def _page_canonical(res: FetchResult | None, ex: Extracted | None, fallback: str) -> str:
    """The final URL after redirects, or the page's rel=canonical on the same site."""
    if res is None:
        return fallback
    final = urls.canonicalize(res.final_url)
    if ex and ex.canonical_url and urls.is_http_url(ex.canonical_url):
        declared = urls.canonicalize(ex.canonical_url, base=res.final_url)
        site = urls.host_of(final).removeprefix("www.")
        same_site = urls.host_of(declared).removeprefix("www.") == site
        if same_site and urlsplit(declared).path not in ("", "/"):
            return declared
    return final


def build_article(feed: FeedConfig, entry: Entry, canonical: str, guid: str | None,
                  res: FetchResult | None, ex: Extracted | None, status: str,
                  error: str | None, now: datetime, facts: TextFacts | None = None) -> Article:
    """The article to store; ``facts`` are those of the extracted text, when known."""
    published = entry.published
    if published.status != DATE_OK and ex and ex.date:
        page_date = dates.normalise(ex.date, source="page", now=now)
        if page_date.status == DATE_OK or published.raw is None:
            published = page_date
    text = ex.text if ex and status == EXTRACT_OK else entry.summary
    return Article(
        url=res.final_url if res is not None and res.ok else (entry.url or canonical),
        canonical_url=_page_canonical(res if res is not None and res.ok else None, ex, canonical),
        title=entry.title or (ex.title if ex else None),
        text=text,
        summary=entry.summary,
        guid=guid,
        author=entry.author or (ex.author if ex else None),
        published=published,
        fetched_at=now,
        language=(ex.language if ex else None) or entry.language or feed.language,
        site=(ex.sitename if ex else None) or (urls.host_of(entry.url) if entry.url else None),
        source=feed.name,
        description=ex.description if ex else None,
        extraction_status=status,
        extraction_error=error,
        feed=feed.name,
        tags=sorted(set(entry.tags) | set(feed.tags)),
        facts=facts if ex is not None and text is ex.text else None,
    )


def fetch_feeds(
    config: Config,
    store: Store,
    *,
    names: Iterable[str] = (),
    client: HttpClient | None = None,
    net_workers: int = 32,
    extract_workers: int | None = None,
    link_settings: LinkSettings | None = None,
    progress: Progress | None = None,
) -> RunSummary:
    """Fetch the feeds (all enabled ones, or exactly `names`), store what is new, link it."""
    names = list(names)
    feeds = config.select(names)
    now = utcnow()
    for feed in feeds:
        store.sync_feed(feed.name, feed.url, feed.tags, feed.language)
    own_client = client is None
    client = client or HttpClient(per_host=config.fetch.per_host,
                                  host_delay=config.fetch.host_delay,
                                  user_agent=config.fetch.user_agent)
    workers = (os.cpu_count() or 1) if extract_workers is None else extract_workers
    run_id = store.start_run(now)
    ingest = Ingest(store, client, net_workers=net_workers, extract_workers=workers,
                    progress=progress, now=now, link_settings=link_settings)
    try:
        ingest.run(feeds, force=bool(names))
    finally:
        ingest.close()
        if own_client:
            client.close()
    summary = ingest.summary
    summary.run_id = run_id
    summary.feeds = [ingest.outcomes[f.name] for f in feeds]
    summary.link = ingest.linking.finish()
    summary.duration = (utcnow() - now).total_seconds()
    for out in summary.feeds:
        store.record_feed_run(run_id, out.name, outcome=out.outcome, http_status=out.http_status,
                              entries=out.entries, articles_new=out.new, duration=out.duration,
                              error=out.error)
    store.finish_run(
        run_id, finished_at=iso(utcnow()), status="partial" if summary.errors else "ok",
        feeds_ok=summary.count("ok"), feeds_failed=summary.count("failed"),
        feeds_unchanged=summary.count("unchanged"), feeds_skipped=summary.count("skipped"),
        articles_new=summary.articles_new, articles_updated=summary.articles_updated,
        duration=summary.duration,
    )
    return summary


@dataclass
class AddResult:
    url: str
    article_id: int | None
    outcome: str  # new, updated, unchanged, failed
    error: str | None = None


def add_urls(store: Store, page_urls: Iterable[str], *, client: HttpClient | None = None,
             allow_private: bool = False, robots: bool = True) -> list[AddResult]:
    """Fetch, extract and store single articles outside any feed, then link them."""
    own_client = client is None
    client = client or HttpClient()
    results: list[AddResult] = []
    try:
        for url in page_urls:
            if not urls.is_http_url(url):
                results.append(AddResult(url, None, "failed", f"{url}: not an http(s) URL"))
                continue
            res = client.get(url, check_robots=robots, allow_private=allow_private)
            if not res.ok:
                results.append(AddResult(url, None, "failed", res.error))
                continue
            ex = extract(res.content, res.final_url)
            if not ex.text:
                results.append(AddResult(url, None, "failed",
                                         f"{url}: no article text found on the page"))
                continue
            now = utcnow()
            published = dates.normalise(ex.date, source="page", now=now)
            canonical = _page_canonical(res, ex, urls.canonicalize(url))
            article = Article(
                url=res.final_url, canonical_url=canonical, title=ex.title, text=ex.text,
                author=ex.author, published=published, fetched_at=now, language=ex.language,
                site=ex.sitename or urls.host_of(res.final_url),
                source=ex.sitename or urls.host_of(res.final_url), description=ex.description,
                extraction_status=EXTRACT_OK,
            )
            article_id, outcome = store.save_article(article)
            results.append(AddResult(url, article_id, outcome))
    finally:
        if own_client:
            client.close()
    link_pending(store)
    return results


@dataclass
class FeedCheck:
    name: str
    url: str
    ok: bool
    http_status: int | None
    entries: int
    seconds: float
    problem: str | None  # error, or the bozo warning when entries were recovered


def check_feeds(feeds: Iterable[FeedConfig], *, client: HttpClient | None = None,
                net_workers: int = 32) -> list[FeedCheck]:
    """Fetch and parse each feed once, storing nothing: for `newsdesk feeds check`."""
    own_client = client is None
    client = client or HttpClient()

    def one(feed: FeedConfig) -> FeedCheck:
        res = client.get(feed.url, timeout=feed.options.timeout, allow_private=True)
        if not res.ok:
            return FeedCheck(feed.name, feed.url, False, res.status, 0, res.elapsed, res.error)
        parsed = parse_feed(res.content, feed_name=feed.name, url=res.final_url,
                            headers=res.headers, language=feed.language)
        return FeedCheck(feed.name, feed.url, parsed.error is None, res.status,
                         len(parsed.entries), res.elapsed, parsed.error or parsed.warning)

    try:
        with ThreadPoolExecutor(max_workers=net_workers) as pool:
            return list(pool.map(one, list(feeds)))
    finally:
        if own_client:
            client.close()
