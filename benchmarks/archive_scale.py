"""Archive scale benchmark: ingest+link, search, events, stats, size and export memory vs size.

For each size a fresh database is built fast: synthetic articles (400-800 words from a
Zipfian vocabulary with capitalised names, 40 outlets of Zipfian size, tags, 1,000
articles a day, stories of 1-5 reports, about 8% wire copies) are inserted straight into
the store's schema (``Store.open``, then batched INSERTs in transactions; the FTS5
triggers run), already linked: one event per story, copies marked, and MinHash
signatures and the linker's text analyses stored for the articles inside the link window,
as the link stage would have left them. Then the last ``--new`` articles of the stream go
through the real code: ``Store.save_article`` each, then ``newsdesk.link_stage.link_pending``.

Measured at each size, with ratios to the 10k figures (10k always runs first):
  * ingest+link seconds per new article (link stage warm start included); then the link
    stage again for the same articles, first without the window's stored analyses (what
    the previous release paid every run), then with them, and the ratio of the two;
  * ``newsdesk.query.search`` latency over 29 fixed queries (common/mid/rare words, names,
    AND, phrases, prefix, title:, source: and since filters), limit 20, iterator consumed:
    per query the median of 3 warm runs; median and p95 over the queries; the slowest
    query with its EXPLAIN QUERY PLAN;
  * the same queries through a top-k-first rewrite of the search SQL (what we propose for
    query.search: rank and limit first, snippet and copy count for the 20 kept rows only);
  * ``query.events`` (recent and by size) and ``query.stats`` latency;
  * database size on disk (after a WAL checkpoint);
  * peak RSS of ``python -m newsdesk export --format csv -o /dev/null`` (own subprocess,
    ``os.wait4``) and its time.

Targets at 1M: search p95 < 100 ms, per-article link time within 2x of 10k, export memory
flat.

    python benchmarks/archive_scale.py                          # 10k, 100k  (~4 min)
    python benchmarks/archive_scale.py --sizes 10000,100000,1000000   # adds 1M (~25-30 min)
    # keep the archives, then measure search again on them without rebuilding:
    python benchmarks/archive_scale.py --sizes 10000,100000,1000000 --keep --dir /tmp/nd
    python benchmarks/archive_scale.py --sizes 1000000 --reuse --dir /tmp/nd --search-only \
        --per-query --no-topk
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

REPO = Path(__file__).resolve().parent.parent

_LETTERS = np.array(list("abcdefghijklmnopqrstuvwxyz"))
TAGS = ("world", "politics", "business", "tech", "science", "health", "sport", "culture",
        "climate", "local")


def _words(rng: np.random.Generator, n: int, lo: int, hi: int) -> list[str]:
    out: set[str] = set()
    while len(out) < n:
        k = int(rng.integers(lo, hi + 1))
        out.add("".join(rng.choice(_LETTERS, k)))
    return sorted(out, key=lambda w: (len(w), w))  # short words get the high ranks


class Stream:
    """Deterministic synthetic news stream, in publication order."""

    def __init__(self, seed: int = 11, per_day: int = 1000, vocab: int = 50_000,
                 names: int = 20_000, sources: int = 40, pool: int = 30_000):
        rng = self.rng = np.random.default_rng(seed)
        self.per_day = per_day
        self.vocab = _words(rng, vocab, 2, 11)
        self.names = [w.capitalize() for w in _words(rng, names, 4, 9)]
        p = 1.0 / np.arange(1, vocab + 1) ** 1.07
        self.vcdf = np.cumsum(p / p.sum())
        q = 1.0 / np.arange(1, names + 1) ** 0.9
        self.ncdf = np.cumsum(q / q.sum())
        self.sources = [f"Outlet {chr(65 + i // 26)}{chr(65 + i % 26)}" for i in range(sources)]
        s = 1.0 / np.arange(1, sources + 1) ** 0.8
        self.scdf = np.cumsum(s / s.sum())
        # a pool of sentences to draw bodies from (fast to build, Zipfian within)
        idx = self._zipf(self.vcdf, pool * 18)
        vocab_arr = np.array(self.vocab, dtype=object)
        lens = rng.integers(10, 27, pool)
        self.pool = []
        pos = 0
        for n in lens:
            ws = vocab_arr[idx[pos:pos + n]]
            pos += n
            self.pool.append(" ".join(ws).capitalize() + ".")
        self.start = datetime(2023, 1, 1, tzinfo=UTC)

    def _zipf(self, cdf: np.ndarray, n: int) -> np.ndarray:
        return np.minimum(np.searchsorted(cdf, self.rng.random(n)), len(cdf) - 1)

    def articles(self, n: int):
        """Yield dicts: i, story, title, text, source, tags, when, copy_of."""
        rng = self.rng
        active: list[dict] = []
        story_id = 0
        recent_texts: dict[int, tuple[int, str]] = {}  # story -> (first article, text)
        for i in range(n):
            when = self.start + timedelta(days=i / self.per_day)
            active = [s for s in active if s["left"] > 0 and s["until"] > when]
            if not active or rng.random() < 0.45:
                story_id += 1
                names = [self.names[j] for j in self._zipf(self.ncdf, 3)]
                words = [self.vocab[j] for j in rng.integers(300, len(self.vocab), 6)]
                st = {"id": story_id, "names": names, "words": words,
                      "left": int(rng.integers(1, 6)), "until": when + timedelta(days=1)}
                active.append(st)
            st = active[int(rng.integers(len(active)))]
            st["left"] -= 1
            source = self.sources[int(np.searchsorted(self.scdf, rng.random()))]
            title = (f"{st['names'][0]} {st['words'][0]} {st['words'][1]} "
                     f"{self.vocab[int(rng.integers(0, 3000))]} {st['names'][1]}")
            copy_of = None
            first = recent_texts.get(st["id"])
            if first is not None and rng.random() < 0.25:
                extra = self.pool[int(rng.integers(len(self.pool)))]
                copy_of, text = first[0], first[1] + " " + extra
            else:
                k = int(rng.integers(22, 45))
                sents = [self.pool[j] for j in rng.integers(0, len(self.pool), k)]
                for j in range(0, k, 4):
                    nm = st["names"][j % 3]
                    w = st["words"][j % 6]
                    sents[j] = f"{nm} said the {w} {st['words'][(j + 1) % 6]} was {sents[j]}"
                text = " ".join(sents)
                if first is None:
                    recent_texts[st["id"]] = (i, text)
            if len(recent_texts) > 5000:
                for key in list(recent_texts)[:1000]:
                    del recent_texts[key]
            tags = sorted({TAGS[int(rng.integers(len(TAGS)))] for _ in range(2)})
            yield {"i": i, "story": st["id"], "title": title, "text": text, "source": source,
                   "tags": tags, "when": when, "copy_of": copy_of}


# --- building ---------------------------------------------------------------------------------

_COLS = ("id", "url", "canonical_url", "guid", "feed", "source", "title", "author", "published",
         "published_raw", "published_source", "published_status", "fetched_at", "sort_date",
         "language", "site", "text", "content_hash", "word_count", "extraction_status", "tags",
         "duplicate_of", "copy_score", "event_id", "linked_at", "signature")


def _iso(dt: datetime) -> str:
    return dt.isoformat(timespec="seconds")


def build(db: Path, stream: Stream, size: int, new: int, window_days: float):
    """Insert size-new pre-linked articles; return the new ones (dicts) for the real path."""
    import hashlib

    from newsdesk.dedup import text_signature
    from newsdesk.linking import analyse
    from newsdesk.models import normalise_text
    from newsdesk.store import Store

    store = Store.open(db)
    conn = store.db.conn
    conn.execute("PRAGMA synchronous = OFF")  # building only; the measured path uses NORMAL
    conn.execute("PRAGMA foreign_keys = OFF")  # events are written after their articles
    with store.atomic():
        conn.executemany("INSERT INTO feeds (name, url, consecutive_failures) VALUES (?, ?, 0)",
                         [(s, f"https://{s.replace(' ', '').lower()}.example/feed")
                          for s in stream.sources])
    pre = size - new
    last_pre = stream.start + timedelta(days=(pre - 1) / stream.per_day)
    sig_from = last_pre - timedelta(days=window_days + 0.05)
    events: dict[int, list] = {}
    new_rows = []
    rows, memberships, analyses = [], [], []
    placeholders = ", ".join("?" * len(_COLS))
    t0 = time.perf_counter()
    for a in stream.articles(size):
        if a["i"] >= pre:
            new_rows.append(a)
            continue
        aid = a["i"] + 1
        slug = f"{a['source'].replace(' ', '').lower()}.example/{a['i']}"
        when = _iso(a["when"])
        text = a["text"]
        dup = a["copy_of"] + 1 if a["copy_of"] is not None else None
        recent = a["when"] >= sig_from
        sig = text_signature(text) if recent else None
        if recent and dup is None:  # what the link stage stored when it linked them
            analyses.append((aid, when, analyse(a["title"], text).dumps()))
        rows.append((aid, f"https://{slug}", f"https://{slug}", f"g{a['i']}", a["source"],
                     a["source"], a["title"], None, when, when, "feed", "ok", when, when, "en",
                     slug.split("/")[0], text,
                     hashlib.sha256(normalise_text(text).encode()).hexdigest(),
                     len(text.split()), "ok", json.dumps(a["tags"]), dup,
                     0.95 if dup else None, a["story"], when, sig))
        memberships.append((aid, a["source"], f"g{a['i']}", when))
        ev = events.setdefault(a["story"], [a["title"], when, when, aid, a["source"], 0, set()])
        ev[2] = when
        ev[5] += 1
        ev[6].add(a["source"])
        if len(rows) >= 5000:
            _flush(store, rows, memberships, placeholders)
    _flush(store, rows, memberships, placeholders)
    with store.atomic():
        conn.executemany(
            "INSERT INTO events (id, title, first_seen, last_seen, first_article_id, "
            "first_source, n_articles, n_sources) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(k, v[0], v[1], v[2], v[3], v[4], v[5], len(v[6])) for k, v in events.items()])
        conn.executemany("INSERT INTO link_analysis (article_id, sort_date, data) "
                         "VALUES (?, ?, ?)", analyses)
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA foreign_keys = ON")
    build_s = time.perf_counter() - t0
    return store, new_rows, build_s


def _flush(store, rows, memberships, placeholders) -> None:
    if not rows:
        return
    with store.atomic():
        store.db.conn.executemany(
            f"INSERT INTO articles ({', '.join(_COLS)}) VALUES ({placeholders})", rows)
        store.db.conn.executemany(
            "INSERT INTO article_feeds (article_id, feed, guid, first_seen) VALUES (?, ?, ?, ?)",
            memberships)
    rows.clear()
    memberships.clear()


def ingest_and_link(store, new_rows) -> tuple[float, float, object]:
    from newsdesk.link_stage import link_pending
    from newsdesk.models import DATE_OK, Article, When
    t0 = time.perf_counter()
    for a in new_rows:
        slug = f"{a['source'].replace(' ', '').lower()}.example/{a['i']}"
        store.save_article(Article(
            url=f"https://{slug}", canonical_url=f"https://{slug}", title=a["title"],
            text=a["text"], guid=f"g{a['i']}", published=When(a["when"], _iso(a["when"]),
                                                              "feed", DATE_OK),
            fetched_at=a["when"], language="en", site=slug.split("/")[0], source=a["source"],
            feed=a["source"], tags=a["tags"]))
    t_ingest = time.perf_counter() - t0
    t0 = time.perf_counter()
    summary = link_pending(store)
    return t_ingest, time.perf_counter() - t0, summary


def relink_passes(store, new_rows) -> tuple[float, float]:
    """Link stage seconds for the new articles again: without the window's stored
    analyses (the previous release, or a first run after upgrading: every text of the
    window is analysed, and stored), then with them (the steady state)."""
    from newsdesk.link_stage import link_pending
    since = _iso(min(a["when"] for a in new_rows))

    def once(drop: bool) -> float:
        store.unlink_since(since)
        if drop:
            with store.atomic():
                store.execute("DELETE FROM link_analysis")
        t0 = time.perf_counter()
        link_pending(store)
        return time.perf_counter() - t0

    return once(True), once(False)


# --- queries ----------------------------------------------------------------------------------


def query_set(stream: Stream, end: datetime) -> list[tuple[str, dict]]:
    """29 fixed queries: (text, filters kwargs)."""
    v, n = stream.vocab, stream.names
    week = end - timedelta(days=7)
    qs: list[tuple[str, dict]] = []
    qs += [(v[r], {}) for r in (2, 5, 9)]                      # very common words
    qs += [(v[r], {}) for r in (120, 400, 900, 2500)]          # mid-frequency
    qs += [(v[r], {}) for r in (15000, 30000, 45000)]          # rare
    qs += [(n[r], {}) for r in (0, 10, 300, 5000)]             # names, common to rare
    qs += [(f"{v[40]} {n[3]}", {}), (f"{v[700]} {v[1500]}", {}), (f"{n[1]} {v[8]}", {})]
    s = stream.pool[5].rstrip(".").split()
    qs += [(f'"{s[0].lower()} {s[1]}"', {}), (f'"{s[2]} {s[3]} {s[4]}"', {})]
    qs += [(v[60][:3] + "*", {}), (f"title:{n[20]}", {}), (f"{v[3]} -{v[4]}", {})]
    src = stream.sources
    qs += [(v[3], {"sources": [src[0]]}), (v[500], {"sources": [src[5]]}),
           (n[50], {"sources": [src[1]]})]
    qs += [(v[3], {"since": week}), (v[800], {"since": week}), (n[2], {"since": week})]
    qs += [(v[6], {"sources": [src[2]], "since": week})]
    return qs


def _time(fn, runs: int = 3) -> float:
    ts = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def p95(values: list[float]) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(0.95 * (len(s) - 1))))]


def topk_search(store, query: str, filters, limit: int = 20) -> list[dict]:
    """The proposed query.search: rank+limit over the matches first, decorate 20 rows after."""
    from newsdesk.query import TEXT_WEIGHT, TITLE_WEIGHT, parse_query
    parsed = parse_query(query, filters)
    clauses, params = parsed.filters.where()
    where = " AND ".join(["articles_fts MATCH ?"] + clauses)
    sql = f"""
        WITH top AS (
            SELECT a.id AS id, bm25(articles_fts, {TITLE_WEIGHT}, {TEXT_WEIGHT}) AS r
            FROM articles_fts JOIN articles a ON a.id = articles_fts.rowid
            WHERE {where} ORDER BY r LIMIT ?)
        SELECT a.id, a.published, a.source, a.title,
               snippet(articles_fts, 1, '[', ']', '…', 16) AS snippet, a.event_id,
               a.duplicate_of,
               (SELECT COUNT(*) FROM articles c WHERE c.duplicate_of = a.id) AS copies,
               a.url, round(top.r, 3) AS rank
        FROM top JOIN articles_fts ON articles_fts.rowid = top.id
             JOIN articles a ON a.id = top.id
        WHERE articles_fts MATCH ? ORDER BY top.r"""
    cur = store.execute(sql, [parsed.fts, *params, limit, parsed.fts])
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, r, strict=True)) for r in cur]


TOPK = True  # also time the old top-k rewrite (--no-topk skips it)


def measure_queries(store, stream: Stream, end: datetime) -> dict:
    from newsdesk.query import Filters, search
    out = {"per_query": []}
    for q, kw in query_set(stream, end):
        f = Filters(**kw)
        list(search(store, q, f, limit=20))  # warm
        t = _time(lambda q=q, f=f: list(search(store, q, f, limit=20)))
        t2 = _time(lambda q=q, f=f: topk_search(store, q, f, 20)) if TOPK else float("nan")
        hits = store.execute(
            "SELECT COUNT(*) FROM articles_fts WHERE articles_fts MATCH ?",
            [__import__("newsdesk.query", fromlist=["parse_query"]).parse_query(q, f).fts]
        ).fetchone()[0]
        out["per_query"].append({"q": q, "filters": {k: str(v) for k, v in kw.items()},
                                 "s": t, "topk_s": t2, "matches": hits})
    ts = [x["s"] for x in out["per_query"]]
    tk = [x["topk_s"] for x in out["per_query"]]
    out.update(median=statistics.median(ts), p95=p95(ts), max=max(ts),
               topk_median=statistics.median(tk), topk_p95=p95(tk))
    return out


def explain_search(store, q: str, kw: dict) -> list[str]:
    """EXPLAIN QUERY PLAN of the first step `query.search` runs for this query."""
    from newsdesk import query
    parsed = query.parse_query(q, query.Filters(**kw))
    top = None if parsed.filters.narrows() else 20 * query.TOP_FACTOR
    sql, args = query._ranked_sql(parsed, 20, 0, query.SEARCH_CANDIDATES, top)
    return [r[3] for r in store.execute("EXPLAIN QUERY PLAN " + sql, args)]


_HWM_RUNNER = """
import atexit, runpy, sys
def _hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM"):
            sys.stderr.write("VmHWM " + line.split()[1] + "\\n")
atexit.register(_hwm)
sys.argv = ["newsdesk"] + sys.argv[1:]
runpy.run_module("newsdesk", run_name="__main__")
"""


def export_rss(db: Path) -> tuple[float, int, int, int]:
    """(seconds, peak RSS MB, wait4 ru_maxrss MB, exit code) of `newsdesk export --format csv
    -o /dev/null` in its own process.

    Peak RSS is the child's own VmHWM, read at exit: on Linux ru_maxrss from os.wait4
    carries the high-water mark of the process that forked it across exec (here, this
    benchmark with the archive generator in memory), so it is printed only for reference.
    """
    t = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", _HWM_RUNNER, "export", "--db", str(db),
                             "--format", "csv", "-o", "/dev/null"], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = proc.stderr.read().decode() if proc.stderr else ""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    hwm = [int(line.split()[1]) for line in err.splitlines() if line.startswith("VmHWM")]
    return (time.perf_counter() - t, (hwm[0] // 1024) if hwm else -1, usage.ru_maxrss // 1024,
            proc.returncode)


# --- main -------------------------------------------------------------------------------------


def run_size(size: int, new: int, workdir: Path, seed: int, *, reuse: bool = False,
             keep: bool = False, search_only: bool = False) -> dict:
    """Build (or, with `reuse`, reopen) the archive of `size` articles and measure it.

    A reused archive is opened through ``Store.open``, so pending migrations run first
    (their time is reported as ``migrate_s``); build and ingest figures are then NaN."""
    from newsdesk.linking import LinkSettings
    from newsdesk.query import events, stats
    from newsdesk.store import Store
    nan = float("nan")
    stream = Stream(seed=seed)
    db = workdir / f"archive-{size}.db"
    t0 = time.perf_counter()
    link_summary = None
    if reuse and db.exists():
        store = Store.open(db)
        build_s = t_ingest = t_link = t_link_none = t_link_again = nan
        migrate_s = time.perf_counter() - t0
        new_rows = [None] * new
    else:
        for p in workdir.glob(f"archive-{size}.db*"):
            p.unlink()
        migrate_s = nan
        store, new_rows, build_s = build(db, stream, size, new, LinkSettings().window_days)
        t_ingest, t_link, link_summary = ingest_and_link(store, new_rows)
        t_link_none, t_link_again = relink_passes(store, new_rows)
    end = stream.start + timedelta(days=size / stream.per_day)
    qres = measure_queries(store, stream, end)
    slow = max(qres["per_query"], key=lambda x: x["s"])
    kw = {}
    for q, k in query_set(stream, end):
        if q == slow["q"] and {a: str(b) for a, b in k.items()} == slow["filters"]:
            kw = k
    plan = explain_search(store, slow["q"], kw)
    t_events = _time(lambda: list(events(store, limit=20)))
    t_events_size = _time(lambda: list(events(store, order="size", limit=20)))
    t_stats = _time(lambda: stats(store))
    store.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    db_mb = sum(p.stat().st_size for p in workdir.glob(f"archive-{size}.db*")) / 1e6
    t_export, rss_mb, wait4_mb, rc = (nan, -1, -1, 0) if search_only else export_rss(db)
    res = {
        "size": size, "build_s": build_s, "migrate_s": migrate_s, "new": len(new_rows),
        "ingest_ms": t_ingest / len(new_rows) * 1000, "link_ms": t_link / len(new_rows) * 1000,
        "ingest_link_ms": (t_ingest + t_link) / len(new_rows) * 1000,
        "link_again_ms": t_link_again / len(new_rows) * 1000,
        "link_unstored_ms": t_link_none / len(new_rows) * 1000,
        "link_copies": getattr(link_summary, "copies", None),
        "link_new_events": getattr(link_summary, "new_events", None),
        "link_joined": getattr(link_summary, "joined_events", None),
        "search_median_ms": qres["median"] * 1000, "search_p95_ms": qres["p95"] * 1000,
        "search_max_ms": qres["max"] * 1000,
        "topk_median_ms": qres["topk_median"] * 1000, "topk_p95_ms": qres["topk_p95"] * 1000,
        "slowest_query": slow, "slowest_plan": plan,
        "events_ms": t_events * 1000, "events_size_ms": t_events_size * 1000,
        "stats_ms": t_stats * 1000, "db_mb": db_mb, "export_s": t_export,
        "export_rss_mb": rss_mb, "export_wait4_mb": wait4_mb, "export_rc": rc,
        "total_s": time.perf_counter() - t0,
        "per_query": qres["per_query"],
    }
    if not keep:
        db.unlink(missing_ok=True)
        for p in workdir.glob(f"archive-{size}.db-*"):
            p.unlink()
    return res


FIELDS = [("ingest_link_ms", "ingest+link ms/article", "{:.1f}"),
          ("ingest_ms", "  of which save_article ms", "{:.1f}"),
          ("link_ms", "  of which link stage ms", "{:.1f}"),
          ("link_again_ms", "link stage again ms", "{:.1f}"),
          ("link_unstored_ms", "  without stored analyses ms", "{:.1f}"),
          ("search_median_ms", "search median ms", "{:.1f}"),
          ("search_p95_ms", "search p95 ms", "{:.1f}"),
          ("search_max_ms", "search max ms", "{:.1f}"),
          ("topk_median_ms", "top-k rewrite median ms", "{:.1f}"),
          ("topk_p95_ms", "top-k rewrite p95 ms", "{:.1f}"),
          ("events_ms", "events (recent) ms", "{:.1f}"),
          ("events_size_ms", "events (by size) ms", "{:.1f}"),
          ("stats_ms", "stats ms", "{:.1f}"),
          ("db_mb", "database MB", "{:.0f}"),
          ("export_rss_mb", "export CSV peak RSS MB", "{:.0f}"),
          ("export_s", "export CSV s", "{:.1f}"),
          ("build_s", "build (bulk insert) s", "{:.0f}"),
          ("migrate_s", "open+migrate (reused) s", "{:.1f}")]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--new", type=int, default=200, help="articles through the real path")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--dir", default=None, help="where to build (default: a temp dir)")
    ap.add_argument("--json", default=None, help="write all figures here")
    ap.add_argument("--keep", action="store_true",
                    help="build in --dir itself and keep the archives there")
    ap.add_argument("--reuse", action="store_true",
                    help="reopen archives kept in --dir by --keep instead of building them "
                         "(migrations run on open; build/ingest figures are then NaN)")
    ap.add_argument("--search-only", action="store_true", help="skip the export measurement")
    ap.add_argument("--per-query", action="store_true", help="print every query's latency")
    ap.add_argument("--no-topk", action="store_true",
                    help="skip timing the old top-k rewrite (slow at 1M)")
    args = ap.parse_args(argv)
    if (args.keep or args.reuse) and not args.dir:
        ap.error("--keep and --reuse need --dir")
    sizes = sorted({int(s) for s in args.sizes.split(",")} | {10000})
    print(f"archive_scale: sizes {sizes}, {args.new} new articles each, cores "
          f"{os.cpu_count()}, python {sys.version.split()[0]}, sqlite {sqlite3.sqlite_version}")
    results = []
    global TOPK
    TOPK = not args.no_topk
    with contextlib.ExitStack() as stack:
        if args.keep or args.reuse:
            tmp = args.dir
            Path(tmp).mkdir(parents=True, exist_ok=True)
        else:
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="ndscale-",
                                                                  dir=args.dir))
        for size in sizes:
            r = run_size(size, args.new, Path(tmp), args.seed, reuse=args.reuse,
                         keep=args.keep or args.reuse, search_only=args.search_only)
            results.append(r)
            if args.per_query:
                for x in r["per_query"]:
                    print(f"    {x['s'] * 1000:8.1f} ms {x['matches']:>9,} matches  "
                          f"{x['q']!r} {x['filters'] or ''}", flush=True)
            print(f"  {size:>8,}: built in {r['build_s']:.0f}s, total {r['total_s']:.0f}s; "
                  f"slowest search {r['slowest_query']['q']!r} {r['slowest_query']['filters']}"
                  f" ({r['slowest_query']['matches']} matches) {r['search_max_ms']:.0f} ms; "
                  f"plan: {' | '.join(r['slowest_plan'])}", flush=True)
            if r["export_rc"]:
                print(f"    export exited {r['export_rc']}")
    base = results[0]
    head = f"  {'figure':<30}" + "".join(f"{r['size']:>12,}" for r in results)
    head += "".join(f"{'x' + format(r['size'], ','):>12}" for r in results[1:])
    print(head)
    for key, label, fmt in FIELDS:
        line = f"  {label:<30}" + "".join(f"{fmt.format(r[key]):>12}" for r in results)
        for r in results[1:]:
            ratio = r[key] / base[key] if base[key] else float("nan")
            line += f"{ratio:>12.2f}"
        print(line)
    last = results[-1]
    print(f"  targets at {last['size']:,}: search p95 {last['search_p95_ms']:.0f} ms (< 100); "
          f"link per article {last['link_ms'] / base['link_ms']:.2f}x of 10k (<= 2); "
          f"stored analyses make the link stage "
          f"{last['link_unstored_ms'] / last['link_again_ms']:.2f}x faster; "
          f"export RSS {last['export_rss_mb'] / base['export_rss_mb']:.2f}x of 10k (flat)")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str))
    print("RESULT " + json.dumps([{k: (round(v, 2) if isinstance(v, float) else v)
                                   for k, v in r.items() if k not in ("per_query",)}
                                  for r in results], default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
