"""The feed corpus served over HTTP on 127.0.0.1 through the fetch path (download + parse).

Each case is served with the headers its test case names (feedparser's cases carry them
in a comment); the captured real feeds are served gzipped with Content-Encoding: gzip, as
servers send them. Every one must give entries or one line of error, never a traceback.
"""

from __future__ import annotations

import gzip
import re
from collections import Counter

import feedparser
import pytest
from werkzeug import Request, Response

from newsdesk.config import parse_config
from newsdesk.http import HttpClient
from newsdesk.pipeline import check_feeds

from .test_corpus_feeds import FOLDERS, _files, _headers

pytestmark = pytest.mark.corpus


@pytest.mark.timeout(900)
def test_corpus_feeds_over_http(corpora, httpserver, tmp_path, capsys):
    files = []
    for folder in FOLDERS:
        root = corpora / "feeds" / folder
        if root.is_dir():
            files += [p for p in _files(root)]
    by_key = {f"{i}": p for i, p in enumerate(files)}

    def serve(request: Request) -> Response:
        path = by_key[request.path.rsplit("/", 1)[-1]]
        raw = path.read_bytes()
        if path.suffix == ".gz":
            resp = Response(raw, headers={"Content-Encoding": "gzip"})
            resp.headers["Content-Type"] = "application/rss+xml"
            return resp
        resp = Response(raw)
        del resp.headers["Content-Type"]  # only what the case itself names
        for name, value in _headers(raw).items():
            resp.headers[name] = value
        return resp

    httpserver.expect_request(re.compile(r"^/f/\d+$")).respond_with_handler(serve)
    cfg = parse_config({"feeds": [{"name": f"{k} {p.name}", "url": httpserver.url_for(f"/f/{k}")}
                                  for k, p in by_key.items()]}, tmp_path / "feeds.yaml")
    client = HttpClient(host_delay=0, per_host=8, retries=0, deadline=20)
    try:
        results = check_feeds(cfg.feeds, client=client, net_workers=8)
    finally:
        client.close()
    outcomes: Counter[str] = Counter()
    mismatches = []
    for feed, res in zip(cfg.feeds, results, strict=True):
        path = by_key[feed.name.split(" ", 1)[0]]
        assert res.http_status == 200, (path, res.problem)
        if not res.ok:
            assert res.entries == 0 and res.problem and "\n" not in res.problem, path
            outcomes["error"] += 1
        else:
            outcomes["bozo" if res.problem else "ok"] += 1
        if "benchmark_data" in path.parts:  # the captured real feeds: counts as feedparser's
            data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
            expected = len(feedparser.parse(data).entries)
            if expected and expected != res.entries:
                mismatches.append((path.name, expected, res.entries))
    with capsys.disabled():
        print(f"\n[corpus] {len(files)} feeds over HTTP: ok={outcomes['ok']} "
              f"bozo={outcomes['bozo']} error={outcomes['error']}; "
              f"real-feed count mismatches: {mismatches}")
    assert sum(outcomes.values()) == len(files)
    assert not mismatches
