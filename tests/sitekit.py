"""Fixtures we write ourselves: small news sites (feeds + article pages) served on 127.0.0.1."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

WORDS = (
    "council harbour budget minister river festival vaccine railway drought election "
    "summit court bridge factory strike museum satellite treaty border wildfire "
    "parliament quarry hospital airport tariff glacier reservoir archive harvest "
    "library stadium pipeline telescope monsoon ferry vineyard refinery"
).split()


SYLLABLES = ("ka", "lo", "mi", "ren", "tas", "vo", "qui", "bel", "dor", "fen", "gri", "hal",
             "jun", "mar", "nes", "pol", "sar", "tem", "ul", "wes", "yor", "zan", "cre", "dri")
GLUE = ("the", "and", "of", "in", "to", "a", "for", "on", "with", "that", "was", "by")


def _word(h: bytes, i: int) -> str:
    n = 3 + h[i] % 2  # 3-4 syllables: ~350k words, so unrelated texts share almost none
    return "".join(SYLLABLES[h[(i + k) % len(h)] % len(SYLLABLES)] for k in range(n))


def paragraphs(seed: str, n: int = 6) -> list[str]:
    """Deterministic article-like text; different seeds share almost no content words."""
    out = []
    for i in range(n):
        sentences = []
        for j in range(3):
            h = hashlib.sha256(f"{seed}/{i}/{j}".encode()).digest()
            words = []
            for k in range(18):
                words.append(GLUE[h[k] % len(GLUE)] if h[k] % 3 == 0 else _word(h, k))
            words[0] = words[0].capitalize()
            sentences.append(" ".join(words) + ".")
        out.append(" ".join(sentences))
    return out


@dataclass
class Story:
    slug: str
    title: str
    published: datetime = field(default_factory=lambda: datetime(2025, 11, 20, 9, tzinfo=UTC))
    author: str = "Ada Reporter"
    body: list[str] | None = None
    summary: str | None = None

    def text(self) -> list[str]:
        return self.body or paragraphs(self.slug)


def page_html(story: Story, canonical: str | None = None) -> str:
    paras = "\n".join(f"<p>{escape(p)}</p>" for p in story.text())
    canon = f'<link rel="canonical" href="{escape(canonical)}">' if canonical else ""
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>{escape(story.title)} | Test Gazette</title>{canon}
<meta name="author" content="{escape(story.author)}">
<meta property="article:published_time" content="{story.published.isoformat()}">
</head><body><header><nav><a href="/">Home</a> <a href="/world">World</a></nav></header>
<main><article><h1>{escape(story.title)}</h1><p class="byline">By {escape(story.author)}</p>
{paras}
</article></main><footer>Copyright Test Gazette. All rights reserved.</footer></body></html>"""


def rss(base: str, stories: list[Story], title: str = "Test Gazette") -> str:
    items = []
    for s in stories:
        summary = s.summary or s.text()[0][:160]
        items.append(
            f"<item><title>{escape(s.title)}</title><link>{base}/news/{s.slug}</link>"
            f"<guid isPermaLink=\"false\">gazette-{s.slug}</guid>"
            f"<pubDate>{format_datetime(s.published)}</pubDate>"
            f"<description>{escape(summary)}</description></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{escape(title)}</title><link>{base}/</link><description>test</description>"
        + "".join(items) + "</channel></rss>"
    )


class Site:
    """A news site on a pytest-httpserver: /feed.xml (with ETag), /news/<slug> pages."""

    def __init__(self, server: HTTPServer, prefix: str = "", page_delay: float = 0.0):
        self.server = server
        self.page_delay = page_delay
        self.prefix = prefix
        self.stories: list[Story] = []
        self.hits: dict[str, int] = {}
        self.etag_enabled = True
        self.on_page: Callable[[str], None] | None = None  # called on each page request
        self.feed_delay = 0.0
        server.expect_request(f"{prefix}/feed.xml").respond_with_handler(self._feed)
        server.expect_request(f"{prefix}/robots.txt").respond_with_data("User-agent: *\n")

    @property
    def base(self) -> str:
        return self.server.url_for(self.prefix).rstrip("/")

    @property
    def feed_url(self) -> str:
        return self.base + "/feed.xml"

    def add(self, *stories: Story) -> None:
        for s in stories:
            self.stories.append(s)
            path = f"{self.prefix}/news/{s.slug}"
            self.server.expect_request(path).respond_with_handler(self._page(s, path))

    def _count(self, path: str) -> None:
        self.hits[path] = self.hits.get(path, 0) + 1

    def _feed(self, request: Request) -> Response:
        self._count("feed")
        if self.feed_delay:
            time.sleep(self.feed_delay)
        body = rss(self.base, self.stories)
        etag = '"' + hashlib.sha1(body.encode()).hexdigest() + '"'
        if self.etag_enabled and request.headers.get("If-None-Match") == etag:
            return Response(status=304, headers={"ETag": etag})
        return Response(body, content_type="application/rss+xml; charset=utf-8",
                        headers={"ETag": etag} if self.etag_enabled else {})

    def _page(self, story: Story, path: str):
        def handler(request: Request) -> Response:
            self._count(path)
            if self.on_page is not None:
                self.on_page(path)
            if self.page_delay:
                time.sleep(self.page_delay)
            return Response(page_html(story), content_type="text/html; charset=utf-8")

        return handler

    def page_hits(self) -> int:
        return sum(v for k, v in self.hits.items() if k != "feed")


def headline(prefix: str, i: int) -> str:
    """A headline of its own for each story: the prefix word, then seed-derived words."""
    h = hashlib.sha256(f"headline/{prefix}/{i}".encode()).digest()
    return f"{prefix.title()} " + " ".join(_word(h, k) for k in range(0, 10, 2))


def stories(prefix: str, n: int, start: datetime | None = None) -> list[Story]:
    start = start or datetime(2025, 11, 20, 6, tzinfo=UTC)
    return [
        Story(slug=f"{prefix}-{i}", title=headline(prefix, i),
              published=start + timedelta(hours=i))
        for i in range(n)
    ]


def feeds_yaml(feeds: list[tuple[str, str]], **defaults: object) -> str:
    lines = ["defaults:"]
    opts = {"timeout": 5, "robots": True, **defaults}
    lines += [f"  {k}: {str(v).lower() if isinstance(v, bool) else v}" for k, v in opts.items()]
    lines.append("feeds:")
    for name, url in feeds:
        lines += [f"  - name: {name}", f"    url: {url}", "    tags: [test]"]
    return "\n".join(lines) + "\n"
