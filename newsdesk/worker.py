"""What an extraction process does with one page.

Kept apart from `pipeline` so that the processes import only the extraction stack
(trafilatura, datasketch), not the store, the linker and the rest of the run.
"""

from __future__ import annotations

from dataclasses import dataclass

from .dedup import detect_agency, text_signature
from .extract import Extracted, extract
from .models import TextFacts

MIN_PAGE_WORDS = 40


def usable_text(text: str | None, summary: str | None) -> bool:
    """Page text is kept when it is a real body, not a scrap shorter than the feed's summary."""
    if not text:
        return False
    return len(text.split()) >= MIN_PAGE_WORDS or len(text) >= len(summary or "")


@dataclass
class Page:
    """What a worker process makes of one page: the extraction plus, for body text (when
    ``facts`` is set), its content hash and word count, copy signature and wire agency, so
    that the single-threaded writer and link stage need not."""

    extracted: Extracted
    facts: TextFacts | None = None
    signature: bytes | None = None
    agency: str | None = None


def extract_page(html: bytes, url: str, summary: str | None) -> Page:
    ex = extract(html, url)
    if not usable_text(ex.text, summary):
        return Page(ex)
    return Page(ex, TextFacts.of(ex.text), text_signature(ex.text),
                detect_agency(ex.text, ex.title))


def ready() -> None:
    """Nothing: run once per process so that the processes exist before the first page."""


# A page that takes the extractor down its fallback path and its metadata and date code.
_WARM_PAGE = b"""<html><head><title>Warm-up</title><meta property="og:site_name" content="Example">
<meta name="date" content="2020-01-02"></head>
<body><article><h1>Warm-up</h1><p>A short page.</p></article></body></html>"""


def warm() -> None:
    """Run a small page through the extractor so that its lazy caches are built."""
    extract(_WARM_PAGE, "https://www.example.com/news/warm-up")
