"""The ingest run end to end, against sites served on 127.0.0.1 by the test."""

from __future__ import annotations

import pytest

from newsdesk.config import load_config
from newsdesk.dedup import content_hash, text_signature
from newsdesk.errors import ExitCode
from newsdesk.http import HttpClient
from newsdesk.pipeline import fetch_feeds
from newsdesk.store import Store

from .sitekit import Site, Story, feeds_yaml, headline, paragraphs, stories


@pytest.fixture
def client():
    c = HttpClient(host_delay=0, retries=1, backoff=0.01, deadline=5, read_timeout=3,
                   per_host=4)
    yield c
    c.close()


@pytest.fixture
def store(tmp_path):
    s = Store.open(tmp_path / "news.db")
    yield s
    s.close()


def _config(tmp_path, feeds, **defaults):
    path = tmp_path / "feeds.yaml"
    path.write_text(feeds_yaml(feeds, **defaults))
    return load_config(path)


def _run(cfg, store, client, **kw):
    return fetch_feeds(cfg, store, client=client, extract_workers=0, **kw)


def _count(store, sql="SELECT COUNT(*) FROM articles", params=()):
    return store.execute(sql, params).fetchone()[0]


def test_first_run_stores_full_text_and_second_run_is_all_304(tmp_path, httpserver, client, store):
    site = Site(httpserver)
    site.add(*stories("harbour", 4))
    cfg = _config(tmp_path, [("Gazette", site.feed_url)])

    first = _run(cfg, store, client)
    assert first.exit_code == ExitCode.OK
    assert first.articles_new == 4
    rows = list(store.query("SELECT * FROM articles ORDER BY sort_date"))
    assert {r["extraction_status"] for r in rows} == {"ok"}
    assert all(r["word_count"] > 100 for r in rows)
    assert rows[0]["published"].startswith("2025-11-20T06:00:00")
    assert rows[0]["author"] == "Ada Reporter"
    assert rows[0]["source"] == "Gazette"
    assert rows[0]["canonical_url"].endswith("/news/harbour-0")
    pages_after_first = site.page_hits()

    second = _run(cfg, store, client)
    assert second.articles_new == 0
    assert second.count("unchanged") == 1
    assert site.page_hits() == pages_after_first  # no article page touched again
    assert _count(store) == 4
    fts = _count(store, "SELECT COUNT(*) FROM articles_fts WHERE articles_fts MATCH 'harbour'")
    assert fts == 4


def test_rerun_without_etag_adds_nothing_and_fetches_no_page(tmp_path, httpserver, client, store):
    site = Site(httpserver)
    site.etag_enabled = False
    site.add(*stories("bridge", 3))
    cfg = _config(tmp_path, [("Gazette", site.feed_url)])
    _run(cfg, store, client)
    pages = site.page_hits()
    again = _run(cfg, store, client)
    # the same bytes as the last complete response: not parsed again
    assert again.articles_new == 0 and again.count("unchanged") == 1
    assert site.page_hits() == pages
    site.add(Story(slug="bridge-new", title="A new bridge story"))
    third = _run(cfg, store, client)
    assert third.articles_new == 1
    assert site.page_hits() == pages + 1


def test_broken_feed_beside_good_ones(tmp_path, httpserver, client, store):
    good = Site(httpserver, "/good")
    good.add(*stories("museum", 2))
    httpserver.expect_request("/broken/feed.xml").respond_with_data(
        "<html><body>Oops, error page</body></html>", content_type="text/html")
    httpserver.expect_request("/down/feed.xml").respond_with_data("boom", status=500)
    cfg = _config(tmp_path, [("Good", good.feed_url),
                             ("Broken", httpserver.url_for("/broken/feed.xml")),
                             ("Down", httpserver.url_for("/down/feed.xml"))])
    summary = _run(cfg, store, client)
    assert summary.exit_code == ExitCode.PARTIAL
    outcomes = {f.name: f.outcome for f in summary.feeds}
    assert outcomes == {"Good": "ok", "Broken": "failed", "Down": "failed"}
    assert summary.articles_new == 2
    state = store.feed_state("Down")
    assert state.consecutive_failures == 1 and "500" in state.last_error
    runs = list(store.query("SELECT feed, outcome FROM feed_runs ORDER BY feed"))
    assert [r["outcome"] for r in runs] == ["failed", "failed", "ok"]


def test_non_html_link_keeps_feed_summary(tmp_path, httpserver, client, store):
    httpserver.expect_request("/doc.pdf").respond_with_data(b"%PDF-1.4 ...",
                                                            content_type="application/pdf")
    httpserver.expect_request("/robots.txt").respond_with_data("")
    feed = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Docs</title>'
        f"<item><title>Annual report</title><link>{httpserver.url_for('/doc.pdf')}</link>"
        "<description>The annual report of the harbour council.</description></item>"
        "</channel></rss>"
    )
    httpserver.expect_request("/feed.xml").respond_with_data(feed,
                                                             content_type="application/rss+xml")
    cfg = _config(tmp_path, [("Docs", httpserver.url_for("/feed.xml"))])
    summary = _run(cfg, store, client)
    assert summary.articles_new == 1
    row = next(store.query("SELECT * FROM articles"))
    assert row["extraction_status"] == "not_html"
    assert row["text"] == "The annual report of the harbour council."
    assert "application/pdf" in row["extraction_error"]
    assert row["published_status"] == "missing" and row["published"] is None


def test_article_in_two_feeds_is_stored_once_with_both_memberships(
        tmp_path, httpserver, client, store):
    a = Site(httpserver, "/a")
    shared = stories("summit", 2)
    a.add(*shared)
    # the second feed lists the first site's article URLs under its own GUIDs
    items = "".join(
        f"<item><title>{s.title}</title><link>{a.base}/news/{s.slug}?utm_source=rss</link>"
        f"<guid>other-{s.slug}</guid></item>" for s in shared)
    httpserver.expect_request("/b/feed.xml").respond_with_data(
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>B</title>{items}'
        "</channel></rss>", content_type="application/rss+xml")
    cfg = _config(tmp_path, [("A", a.feed_url), ("B", httpserver.url_for("/b/feed.xml"))])
    summary = _run(cfg, store, client)
    assert _count(store) == 2
    assert summary.articles_new == 2
    assert _count(store, "SELECT COUNT(*) FROM article_feeds") == 4
    # the second run keeps both memberships and adds nothing
    _run(cfg, store, client)
    assert _count(store) == 2
    assert _count(store, "SELECT COUNT(*) FROM article_feeds WHERE feed = 'B'") == 2


def test_max_articles_per_run(tmp_path, httpserver, client, store):
    site = Site(httpserver)
    site.add(*stories("ferry", 5))
    cfg = _config(tmp_path, [("Gazette", site.feed_url)], max_articles=2)
    assert _run(cfg, store, client).articles_new == 2
    # the capped run stored no ETag, so the next run sees the feed again (not a 304)
    assert _run(cfg, store, client).articles_new == 2
    assert _run(cfg, store, client).articles_new == 1
    assert _run(cfg, store, client).count("unchanged") == 1  # complete now: 304


def test_full_text_off_uses_feed_summary(tmp_path, httpserver, client, store):
    site = Site(httpserver)
    site.add(*stories("glacier", 2))
    cfg = _config(tmp_path, [("Gazette", site.feed_url)], full_text=False)
    _run(cfg, store, client)
    assert site.page_hits() == 0
    statuses = {r["extraction_status"] for r in store.query("SELECT * FROM articles")}
    assert statuses == {"skipped"}


def test_failing_feed_backs_off_and_named_feed_runs_anyway(tmp_path, httpserver, client, store):
    httpserver.expect_request("/down/feed.xml").respond_with_data("no", status=503)
    cfg = _config(tmp_path, [("Down", httpserver.url_for("/down/feed.xml"))])
    _run(cfg, store, client)
    _run(cfg, store, client)  # two failures: the feed now rests
    state = store.feed_state("Down")
    assert state.consecutive_failures == 2 and state.next_attempt is not None
    rested = _run(cfg, store, client)
    assert rested.count("skipped") == 1
    forced = _run(cfg, store, client, names=["Down"])
    assert forced.count("failed") == 1


def test_extraction_on_process_pool(tmp_path, httpserver, client, store):
    site = Site(httpserver)
    site.add(*stories("orchestra", 3))
    cfg = _config(tmp_path, [("Gazette", site.feed_url)])
    summary = fetch_feeds(cfg, store, client=client, extract_workers=2)
    assert summary.articles_new == 3
    assert _count(store, "SELECT COUNT(*) FROM articles WHERE extraction_status = 'ok'") == 3
    # hash, word count, signature and agency come from the processes: the same as made here
    for row in store.query("SELECT text, content_hash, word_count, signature FROM articles"):
        assert row["content_hash"] == content_hash(row["text"])
        assert row["word_count"] == len(row["text"].split())
        assert row["signature"] == text_signature(row["text"])


def test_downloads_wait_for_extraction_so_memory_stays_bounded(tmp_path, httpserver, client,
                                                               store):
    """Pages ahead of the writer (downloaded or downloading, not saved) never exceed the
    run's page limit, however many entries the feeds list: each holds its HTML in memory."""
    import sqlite3

    site = Site(httpserver)
    site.add(*stories("quarry", 30))
    reader = sqlite3.connect(tmp_path / "news.db", check_same_thread=False)
    ahead: list[int] = []

    def on_page(path: str) -> None:
        saved = reader.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
        ahead.append(site.page_hits() - saved)

    site.on_page = on_page
    cfg = _config(tmp_path, [("Gazette", site.feed_url)])
    net_workers, extract_workers = 2, 0
    summary = fetch_feeds(cfg, store, client=client, net_workers=net_workers,
                          extract_workers=extract_workers)
    reader.close()
    assert summary.articles_new == 30
    limit = net_workers + 4 * max(1, extract_workers)
    assert len(ahead) == 30
    assert max(ahead) <= limit, ahead


def _decisions(store) -> dict[str, tuple]:
    """url -> (urls of its event, url it copies, url it was matched with, score)"""
    url = {r["id"]: r["url"] for r in store.query("SELECT id, url FROM articles")}
    groups: dict[int, set[str]] = {}
    for r in store.query("SELECT url, event_id FROM articles"):
        groups.setdefault(r["event_id"], set()).add(r["url"])
    return {
        r["url"]: (frozenset(groups[r["event_id"]]), url.get(r["duplicate_of"]),
                   url.get(r["matched_article_id"]), r["score"])
        for r in store.query(
            "SELECT a.url, a.event_id, a.duplicate_of, l.matched_article_id, l.score "
            "FROM articles a JOIN event_links l ON l.article_id = a.id")
    }


def test_linking_runs_during_downloads_and_decides_as_one_pass_at_the_end(tmp_path, client,
                                                                          store):
    """The link stage starts while pages still download, yet links in publication order:
    pages that arrive before older ones wait for them. Relinking from scratch afterwards
    (one pass in publication order) must reach exactly the same decisions."""
    import time
    from datetime import UTC, datetime, timedelta

    from pytest_httpserver import HTTPServer

    from newsdesk.link_stage import relink

    server = HTTPServer(threaded=True)  # slow pages must not hold up the others
    server.start()
    try:
        first, second = Site(server, "/first"), Site(server, "/second")
        start = datetime(2025, 11, 20, 6, tzinfo=UTC)
        for i in range(5):  # each story told by both outlets, the second an hour later
            body = paragraphs(f"vote-{i}", 6)
            when = start + timedelta(hours=3 * i)
            first.add(Story(f"vote-{i}", headline("vote", i), when, body=body))
            second.add(Story(f"vote-{i}-b", headline("vote", i) + " update", when
                             + timedelta(hours=1), body=body[1:] + ["Reporting by the desk."]))
        oldest, newest = "/first/news/vote-0", "/second/news/vote-4-b"
        delays = {oldest: 0.4, newest: 1.2}  # the oldest page late, the newest last
        first.on_page = second.on_page = lambda path: time.sleep(delays.get(path, 0))
        cfg = _config(tmp_path, [("First", first.feed_url), ("Second", second.feed_url)])
        events: list[str] = []
        summary = fetch_feeds(cfg, store, client=client, extract_workers=0, net_workers=4,
                              progress=lambda event, detail: events.append(event))
    finally:
        server.stop()
    assert summary.articles_new == 10
    last_save = max(i for i, e in enumerate(events) if e == "article")
    assert "link" in events[:last_save], events  # linked before the newest page was in
    during = _decisions(store)
    assert len({group for group, *_ in during.values()}) == 5
    relink(store)
    assert _decisions(store) == during


def test_a_busy_host_does_not_hold_up_another_hosts_pages(tmp_path, client, store):
    """Pages start only when their host has a free slot: with one connection per host, a
    site with many slow pages queued first must not keep the download threads waiting on
    it while another site's pages are ready."""
    import time

    from pytest_httpserver import HTTPServer

    from newsdesk.http import HttpClient

    servers = [HTTPServer(), HTTPServer()]  # two ports: two hosts
    for s in servers:
        s.start()
    order: list[str] = []
    try:
        busy, quiet = Site(servers[0]), Site(servers[1])
        busy.add(*stories("slow", 8))
        quiet.add(*stories("quick", 2))

        def slow(path: str) -> None:
            order.append(path)
            time.sleep(0.15)

        busy.on_page, quiet.on_page = slow, order.append
        quiet.feed_delay = 0.2  # the busy site's pages are queued first
        cfg = _config(tmp_path, [("Busy", busy.feed_url), ("Quiet", quiet.feed_url)])
        one = HttpClient(host_delay=0, retries=0, deadline=10, per_host=1)
        try:
            summary = fetch_feeds(cfg, store, client=one, extract_workers=0, net_workers=2)
        finally:
            one.close()
    finally:
        for s in servers:
            s.stop()
    assert summary.articles_new == 10
    quick = [i for i, p in enumerate(order) if "quick" in p]
    assert max(quick) < len(order) - 4, order  # not left until the busy site was done
