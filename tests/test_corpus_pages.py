"""Every real page under corpora/articles goes through fetch + extract without a crash."""

from __future__ import annotations

import gzip
from collections import Counter
from datetime import UTC, datetime
from email.utils import format_datetime
from html import escape

import pytest
from werkzeug import Request, Response

from newsdesk.config import parse_config
from newsdesk.http import HttpClient
from newsdesk.pipeline import fetch_feeds
from newsdesk.store import Store


@pytest.mark.corpus
@pytest.mark.timeout(600)
def test_every_corpus_page_is_fetched_and_extracted(corpora, httpserver, tmp_path):
    pages = sorted((corpora / "articles" / "aeb" / "html").glob("*.html.gz"))
    pages += sorted((corpora / "articles" / "naeb" / "html").glob("*.html.gz"))
    assert len(pages) > 500
    by_name = {p.name.removesuffix(".html.gz"): p for p in pages}

    def page(request: Request) -> Response:
        path = by_name[request.path.rsplit("/", 1)[-1]]
        return Response(gzip.decompress(path.read_bytes()), content_type="text/html")

    httpserver.expect_request("/robots.txt").respond_with_data("")
    for name in by_name:
        httpserver.expect_request(f"/p/{name}").respond_with_handler(page)
    feeds = []
    chunk = 100
    names = list(by_name)
    when = format_datetime(datetime(2025, 11, 20, tzinfo=UTC))
    for i in range(0, len(names), chunk):
        items = "".join(
            f"<item><title>page {escape(n)}</title><link>{httpserver.url_for('/p/' + n)}</link>"
            f"<pubDate>{when}</pubDate><description>summary {n}</description></item>"
            for n in names[i:i + chunk])
        httpserver.expect_request(f"/feed{i}.xml").respond_with_data(
            f'<?xml version="1.0"?><rss version="2.0"><channel><title>c{i}</title>{items}'
            "</channel></rss>", content_type="application/rss+xml")
        feeds.append({"name": f"corpus {i}", "url": httpserver.url_for(f"/feed{i}.xml")})
    cfg = parse_config({"defaults": {"max_articles": 1000, "timeout": 20}, "feeds": feeds},
                       tmp_path / "feeds.yaml")
    client = HttpClient(host_delay=0, per_host=8, retries=1)
    with Store.open(tmp_path / "c.db") as store:
        summary = fetch_feeds(cfg, store, client=client, extract_workers=2)
        statuses = Counter(r[0] for r in store.execute(
            "SELECT extraction_status FROM articles"))
        total = store.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
    client.close()
    print(f"\n[corpus] pages: {len(pages)}; stored {total}; statuses {dict(statuses)}; "
          f"{summary.duration:.1f}s")
    assert summary.exit_code == 0
    # every page is an article row (one per canonical URL: a few pages declare the same
    # rel=canonical, and those are one article)
    assert total >= len(pages) - 10
    assert statuses["ok"] >= 0.95 * total
