"""Crash safety and the run lock: real `newsdesk fetch` processes, killed with SIGKILL."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .sitekit import Site, feeds_yaml, stories

N_FEEDS, PER_FEED = 4, 60  # 240 articles


def _fetch_cmd(feeds: Path, db: Path) -> list[str]:
    return [sys.executable, "-m", "newsdesk", "fetch", "--feeds", str(feeds), "--db", str(db),
            "--quiet", "--extract-workers", "1"]


def _world(httpserver, tmp_path, per_feed: int = PER_FEED) -> tuple[Path, Path]:
    feeds = []
    for i in range(N_FEEDS):
        site = Site(httpserver, f"/s{i}", page_delay=0.03)
        site.add(*stories(f"site{i}", per_feed))
        feeds.append((f"Feed {i}", site.feed_url))
    path = tmp_path / "feeds.yaml"
    path.write_text(feeds_yaml(feeds, max_articles=500)
                    + "fetch:\n  per_host: 8\n  host_delay: 0\n")
    return path, tmp_path / "news.db"


def _check_consistent(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.execute("INSERT INTO articles_fts(articles_fts) VALUES('integrity-check')")
        n = conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
        assert conn.execute("SELECT COUNT(*) FROM articles_fts").fetchone()[0] == n
        # no half-written article: every row has its text, hash and feed membership
        bad = conn.execute(
            "SELECT COUNT(*) FROM articles a WHERE a.text IS NULL OR a.content_hash IS NULL "
            "OR NOT EXISTS (SELECT 1 FROM article_feeds f WHERE f.article_id = a.id)"
        ).fetchone()[0]
        assert bad == 0
        # every linked article points at an event that exists
        orphans = conn.execute(
            "SELECT COUNT(*) FROM articles WHERE event_id IS NOT NULL AND event_id NOT IN "
            "(SELECT id FROM events)").fetchone()[0]
        assert orphans == 0
        return n
    finally:
        conn.close()


def _count(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
        finally:
            conn.close()
    except sqlite3.OperationalError:  # schema not created yet
        return 0


@pytest.mark.slow
def test_sigkill_at_random_points_leaves_a_consistent_database(httpserver, tmp_path):
    feeds, db = _world(httpserver, tmp_path)
    rng = random.Random(20251120)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    tried = survived = 0
    counts = []
    for _ in range(20):
        proc = subprocess.Popen(_fetch_cmd(feeds, db), env=env, start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        before = _count(db)
        deadline = time.monotonic() + 60
        while proc.poll() is None and _count(db) <= before and time.monotonic() < deadline:
            time.sleep(0.02)  # wait for the run to be writing, then strike at random
        time.sleep(rng.uniform(0.0, 0.12))
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the run and its extraction workers
        proc.wait()
        tried += 1
        if db.exists():
            counts.append(_check_consistent(db))
        survived += 1
    final = subprocess.run(_fetch_cmd(feeds, db), env=env, capture_output=True, text=True,
                           timeout=300)
    assert final.returncode == 0, final.stderr
    assert _check_consistent(db) == N_FEEDS * PER_FEED
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT COUNT(*) FROM articles WHERE linked_at IS NULL").fetchone()[0] == 0
    dupes = conn.execute("SELECT COUNT(*) - COUNT(DISTINCT canonical_url) FROM articles").fetchone()
    assert dupes[0] == 0
    conn.close()
    print(f"\nkills survived: {survived}/{tried}; articles after each kill: {counts}")
    # the kills landed mid-run: the archive grew between kills and was never complete
    assert len(set(counts)) >= 8


def test_second_run_exits_at_once_with_lock_code(httpserver, tmp_path):
    from filelock import FileLock

    from newsdesk.lock import lock_path

    feeds, db = _world(httpserver, tmp_path, per_feed=2)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    with FileLock(str(lock_path(db))):  # a run in progress
        started = time.monotonic()
        second = subprocess.run(_fetch_cmd(feeds, db), env=env, capture_output=True, text=True,
                                timeout=60)
        assert time.monotonic() - started < 20
    assert second.returncode == 3
    assert "another newsdesk run" in second.stderr
    assert len(second.stderr.strip().splitlines()) == 1


def test_stale_lock_from_killed_run_does_not_block(httpserver, tmp_path):
    feeds, db = _world(httpserver, tmp_path, per_feed=2)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from filelock import FileLock; "
         "l = FileLock(sys.argv[1]); l.acquire(); print('held', flush=True); time.sleep(60)",
         str(db) + ".lock"], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    holder.kill()
    holder.wait()
    assert Path(str(db) + ".lock").exists()  # the file stays; the OS lock is gone
    run = subprocess.run(_fetch_cmd(feeds, db), env=env, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr
