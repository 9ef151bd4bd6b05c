"""Article links to private addresses, entity expansion through the whole path."""

from __future__ import annotations

from newsdesk.config import FeedConfig
from newsdesk.http import HttpClient
from newsdesk.models import Entry
from newsdesk.pipeline import FeedOutcome, Ingest
from newsdesk.store import Store, utcnow


def _ingest(tmp_path, feed_url: str, entries: list[Entry], **options):
    store = Store.open(tmp_path / "s.db")
    client = HttpClient(host_delay=0, retries=1, deadline=5)
    from newsdesk.config import FeedOptions

    feed = FeedConfig(name="Public", url=feed_url, options=FeedOptions(**options))
    store.sync_feed(feed.name, feed.url, (), None)
    ingest = Ingest(store, client, net_workers=2, extract_workers=0, progress=None,
                    now=utcnow())
    ingest.outcomes[feed.name] = FeedOutcome(feed.name)
    ingest.plan(feed, entries)
    ingest.drain()
    ingest.close()
    client.close()
    rows = list(store.query("SELECT url, extraction_status, text FROM articles"))
    store.close()
    return rows


def _entry(url: str) -> Entry:
    return Entry(feed="Public", url=url, guid=url, title="Secret", summary="from the feed")


def test_public_feed_linking_to_loopback_is_not_fetched(tmp_path, httpserver):
    httpserver.expect_request("/secret").respond_with_data("<p>internal admin page</p>",
                                                           content_type="text/html")
    rows = _ingest(tmp_path, "https://feeds.example.com/rss",
                   [_entry(httpserver.url_for("/secret")),
                    _entry("http://169.254.169.254/latest/meta-data/")])
    assert {r["extraction_status"] for r in rows} == {"blocked_address"}
    assert all(r["text"] == "from the feed" for r in rows)
    assert len(httpserver.log) == 0  # nothing reached the private server


def test_allow_private_in_feeds_yaml_lets_it_through(tmp_path, httpserver):
    httpserver.expect_request("/robots.txt").respond_with_data("")
    httpserver.expect_request("/page").respond_with_data(
        "<html><body><article>" + "<p>An internal page with a long story. </p>" * 30
        + "</article></body></html>", content_type="text/html")
    rows = _ingest(tmp_path, "https://feeds.example.com/rss", [_entry(httpserver.url_for("/page"))],
                   allow_private=True)
    assert rows[0]["extraction_status"] == "ok"


def test_non_http_links_are_never_followed(tmp_path, httpserver):
    rows = _ingest(tmp_path, "https://feeds.example.com/rss",
                   [_entry("file:///etc/passwd"), _entry("javascript:alert(1)")])
    assert all(r["extraction_status"] != "ok" for r in rows)
    assert all("root:" not in (r["text"] or "") for r in rows)
    assert len(httpserver.log) == 0
