"""Dataclasses at the seams between stages: feeds -> entries -> articles -> links -> rows.

Each stage module owns its own helpers; this module only holds the values that cross
from one stage to the next, so that every stage can import them without cycles.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime

# Date statuses ---------------------------------------------------------------
DATE_OK = "ok"
DATE_MISSING = "missing"
DATE_UNPARSEABLE = "unparseable"
DATE_FUTURE = "future"

# Extraction statuses ---------------------------------------------------------
EXTRACT_OK = "ok"  # trafilatura found body text on the page
EXTRACT_NO_TEXT = "no_text"  # page fetched but no body text found; feed summary kept
EXTRACT_FETCH_FAILED = "fetch_failed"  # page could not be fetched; feed summary kept
EXTRACT_NOT_HTML = "not_html"  # link is a PDF, image, ...; feed summary kept
EXTRACT_ROBOTS = "robots_disallowed"  # robots.txt forbids the page; feed summary kept
EXTRACT_BLOCKED = "blocked_address"  # link points at a private/loopback address
EXTRACT_SKIPPED = "skipped"  # full text turned off for the feed
EXTRACT_IMPORTED = "imported"  # text came from `newsdesk import`


@dataclass(frozen=True)
class When:
    """A normalised date: a UTC-aware datetime or an explicit reason why there is none."""

    value: datetime | None
    raw: str | None = None
    source: str | None = None  # "feed", "page", "import", ...
    status: str = DATE_MISSING

    def iso(self) -> str | None:
        return self.value.isoformat() if self.value is not None else None


NO_DATE = When(None)


@dataclass
class Entry:
    """One item of a parsed feed."""

    feed: str
    url: str | None
    guid: str | None
    title: str | None
    summary: str | None  # plain text
    author: str | None = None
    published: When = NO_DATE
    tags: list[str] = field(default_factory=list)
    language: str | None = None


_WS = re.compile(r"\s+")


def normalise_text(text: str) -> str:
    """Case- and whitespace-folded text, the basis of content hashes."""
    return _WS.sub(" ", text).strip().casefold()


def content_hash(text: str | None) -> str | None:
    """sha256 of the normalised text: equal for texts that differ in case and spacing."""
    if not text:
        return None
    return hashlib.sha256(normalise_text(text).encode()).hexdigest()


@dataclass(frozen=True)
class TextFacts:
    """What the store keeps of a text besides the text: its content hash (sha256 of the
    normalised text) and its word count. Made where the text is made (an extraction
    process), so the single writer need not."""

    content_hash: str | None
    word_count: int

    @classmethod
    def of(cls, text: str | None) -> TextFacts:
        if not text:
            return cls(None, 0)
        return cls(content_hash(text), len(text.split()))


@dataclass
class Article:
    """An article ready for the store: the entry, the page, the extraction."""

    url: str  # final URL after redirects (or the entry link)
    canonical_url: str
    title: str | None
    text: str | None  # body text (extracted, or the feed summary as a fallback)
    summary: str | None = None
    guid: str | None = None
    author: str | None = None
    published: When = NO_DATE
    fetched_at: datetime | None = None
    language: str | None = None
    site: str | None = None
    source: str | None = None  # outlet name (feed name, or site for single adds / imports)
    description: str | None = None
    extraction_status: str = EXTRACT_OK
    extraction_error: str | None = None
    feed: str | None = None  # the feed it arrived through (memberships are stored apart)
    tags: list[str] = field(default_factory=list)
    meta: dict = field(default_factory=dict)
    # TextFacts.of(text), when the caller has them already; computed on use otherwise
    facts: TextFacts | None = field(default=None, repr=False, compare=False)

    def _facts(self) -> TextFacts:
        if self.facts is None:
            self.facts = TextFacts.of(self.text)
        return self.facts

    @property
    def content_hash(self) -> str | None:
        return self._facts().content_hash

    @property
    def word_count(self) -> int:
        return self._facts().word_count
