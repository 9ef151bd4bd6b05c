"""`newsdesk import`: already-extracted articles from JSON Lines or CSV.

Fields: url, title, text, source, published (all but text optional; url may be absent);
any other field is kept in the article's `meta`. Rows go through the same store and
link stage as `fetch`. A bad row is reported by line number and the good rows still land.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from . import dates, urls
from .errors import NewsdeskError
from .link_stage import LinkSummary, link_pending
from .linking import LinkSettings
from .models import EXTRACT_IMPORTED, Article
from .store import Store, utcnow

log = logging.getLogger("newsdesk.importer")

KNOWN = ("url", "title", "text", "source", "published")
csv.field_size_limit(2**31 - 1)


@dataclass
class ImportSummary:
    rows: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    bad: list[tuple[int, str]] = field(default_factory=list)  # (line number, problem)
    link: LinkSummary | None = None


def _records(path: Path, fmt: str) -> Iterator[tuple[int, dict | None, str | None]]:
    """(line number, record or None, problem) for each row of the file."""
    with path.open(encoding="utf-8-sig", newline="") as fh:
        if fmt == "csv":
            reader = csv.DictReader(fh)
            if not reader.fieldnames or "text" not in reader.fieldnames:
                raise NewsdeskError(f"{path}: CSV needs a header row with at least a 'text' "
                                    "column (and optionally url, title, source, published)")
            line = reader.line_num
            for row in reader:
                yield line + 1, row, None
                line = reader.line_num
            return
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                yield n, None, f"not valid JSON ({e.msg} at column {e.colno})"
                continue
            if not isinstance(rec, dict):
                yield n, None, "expected a JSON object"
                continue
            yield n, rec, None


def _article(rec: dict, default_source: str | None) -> Article:
    text = rec.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ValueError("missing 'text'")
    for key in ("url", "title", "source", "published"):
        if rec.get(key) is not None and not isinstance(rec.get(key), str):
            raise ValueError(f"'{key}' must be a string")
    url = (rec.get("url") or "").strip()
    if url and not urls.is_http_url(url):
        raise ValueError(f"'url' is not an http(s) URL: {url[:80]!r}")
    title = rec.get("title") or None
    source = rec.get("source") or default_source or (urls.host_of(url) if url else None)
    if url:
        canonical = urls.canonicalize(url)
    else:
        digest = hashlib.sha1(f"{source}\n{title}\n{text}".encode()).hexdigest()
        canonical = f"urn:newsdesk:import:{digest}"
    now = utcnow()
    published = dates.normalise(rec.get("published"), source="import", now=now)
    meta = {k: v for k, v in rec.items() if k not in KNOWN and v not in (None, "")}
    return Article(url=url or canonical, canonical_url=canonical, title=title, text=text,
                   source=source, published=published, fetched_at=now,
                   site=urls.host_of(url) if url else None, extraction_status=EXTRACT_IMPORTED,
                   meta=meta)


def import_file(store: Store, path: Path | str, *, fmt: str | None = None,
                source: str | None = None, settings: LinkSettings | None = None,
                link: bool = True) -> ImportSummary:
    """Load a JSONL or CSV file of articles, then link what is new."""
    path = Path(path)
    if not path.is_file():
        raise NewsdeskError(f"{path}: no such file")
    fmt = fmt or ("csv" if path.suffix.lower() in (".csv", ".tsv") else "jsonl")
    summary = ImportSummary()
    for line, rec, problem in _records(path, fmt):
        summary.rows += 1
        if rec is not None:
            try:
                article = _article(rec, source)
            except ValueError as e:
                problem = str(e)
            else:
                _, outcome = store.save_article(article)
                setattr(summary, outcome, getattr(summary, outcome) + 1)
                continue
        summary.bad.append((line, problem or "unreadable row"))
        log.info("%s:%d: skipped: %s", path, line, problem)
    if link:
        summary.link = link_pending(store, settings)
    return summary
