"""Sweep every document under corpora/feeds/ through parse_feed.

Each one must give entries or one line of error: no exception, no hang. For the captured real
feeds (fastfeedparser/benchmark_data) the entry counts must equal feedparser's own.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import time
from collections import Counter
from pathlib import Path

import feedparser
import pytest

from newsdesk.feeds import parse_feed

pytestmark = pytest.mark.corpus

SKIP_NAMES = {"LICENSE", "LICENSE-MIT", "SOURCE.md"}
PER_FILE_SECONDS = 10.0
FOLDERS = ["feedparser-tests", "miniflux", "feed-rs", "fastfeedparser", "rss-parser", "feedjira",
           "node-feedparser"]
_HEADER_LINE = re.compile(rb"^\s*Header:\s*([\w-]+):(.*)$", re.M)


def _read(path: Path) -> bytes:
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    return data


def _headers(data: bytes) -> dict[str, str]:
    """HTTP headers that feedparser's own test cases state in their leading comment."""
    head = data[:2000]
    if b"Header:" not in head:
        return {}
    comment_end = head.find(b"-->")
    block = head[: comment_end if comment_end != -1 else len(head)]
    return {
        name.decode("ascii", "replace").lower(): value.decode("utf-8", "replace").strip()
        for name, value in _HEADER_LINE.findall(block)
    }


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and p.name not in SKIP_NAMES)


def _report(capsys, line: str) -> None:
    with capsys.disabled():
        print(f"\n[corpus] {line}")


@pytest.mark.timeout(240)
@pytest.mark.parametrize("folder", FOLDERS)
def test_every_feed_parses_or_gives_one_line_of_error(corpora, folder, capsys):
    root = corpora / "feeds" / folder
    if not root.is_dir():
        pytest.skip(f"{root} not present")
    outcomes: Counter[str] = Counter()
    slow = []
    for path in _files(root):
        if "benchmark_data" in path.parts:
            continue  # the 200 captured feeds: swept (and compared) by the next test
        data = _read(path)
        url = f"https://feeds.example.test/{path.relative_to(root).as_posix()}"
        started = time.perf_counter()
        parsed = parse_feed(data, feed_name=path.name, url=url, headers=_headers(data))
        elapsed = time.perf_counter() - started
        if elapsed > PER_FILE_SECONDS:
            slow.append((path.name, round(elapsed, 1)))
        if parsed.error is not None:
            assert parsed.entries == [], path
            assert "\n" not in parsed.error and parsed.error.strip(), path
            outcomes["error"] += 1
        elif parsed.warning is not None:
            assert "\n" not in parsed.warning, path
            outcomes["bozo"] += 1
        else:
            outcomes["ok"] += 1
        for entry in parsed.entries:
            when = entry.published
            assert when.value is None or when.value.utcoffset().total_seconds() == 0, path
    total = sum(outcomes.values())
    _report(capsys, f"feeds/{folder}: {total} files: ok={outcomes['ok']} "
                    f"bozo={outcomes['bozo']} error={outcomes['error']}")
    assert total > 0
    assert not slow, slow


@pytest.mark.timeout(240)
def test_real_feeds_entry_counts_match_feedparser(corpora, capsys):
    root = corpora / "feeds" / "fastfeedparser" / "benchmark_data"
    if not root.is_dir():
        pytest.skip(f"{root} not present")
    files = sorted(root.glob("*.gz"))
    outcomes: Counter[str] = Counter()
    mismatches = []
    entries_total = 0
    for path in files:
        data = _read(path)
        parsed = parse_feed(data, feed_name=path.name, url="https://feeds.example.test/feed")
        if parsed.version and parsed.version.startswith("json"):
            # feedparser 6 does not read JSON Feed; the reference is the document's item list
            expected = len(json.loads(data)["items"])
        else:
            expected = len(feedparser.parse(io.BytesIO(data)).entries)
        entries_total += len(parsed.entries)
        if len(parsed.entries) != expected:
            mismatches.append((path.name, expected, len(parsed.entries), parsed.error))
        outcomes["error" if parsed.error else "bozo" if parsed.warning else "ok"] += 1
    _report(capsys, f"fastfeedparser real feeds: {len(files)} files, {entries_total} entries; "
                    f"ok={outcomes['ok']} bozo={outcomes['bozo']} error={outcomes['error']}; "
                    f"entry-count agreement with feedparser "
                    f"{len(files) - len(mismatches)}/{len(files)}")
    assert len(files) >= 190
    assert mismatches == []
    # measured: ok=194 bozo=5 error=1 (7ef13a42fa7e177a: broken XML, feedparser too finds 0 entries)
    assert outcomes["ok"] >= 190 and outcomes["error"] <= 1
