"""Run memory benchmark: peak RSS of one `newsdesk fetch` vs number of feeds and archive size.

Issue 6: a run's peak memory must not grow with the archive size, nor with the number of
feeds beyond what is in flight. Each measured run is the real CLI (`newsdesk fetch`) in its
own process, through a small wrapper that runs the CLI's main and, in a `finally`, prints
to stderr:

  * main   the VmHWM of the fetch process itself (its own /proc/self/status, read at the
           end of the run: ru_maxrss would carry the high-water mark of the process that
           forked it across exec, i.e. this benchmark's);
  * ingest the main process's VmHWM when the last pages are in and the link stage's final
           pass starts (the wrapper wraps ``newsdesk.link_stage.LinkRun.finish``), i.e. the
           peak of the download/extract stage (the link stage runs alongside it);
  * worker the largest VmHWM of any descendant (the forkserver and the extraction worker
           processes), sampled every 0.2 s by a thread of the wrapper (VmHWM is a high-water
           mark, so only growth in a worker's last 0.2 s before the pool closes is missed).

Pages come from a separate server process on several 127.0.0.1 ports ("hosts"; per_host 4,
host_delay 0, so the 32 download threads are the limit), generated on request: synthetic
HTML of 100-300 KB (navigation, inline CSS and a JSON state blob, teaser lists, footer)
around a ~600-word article body drawn from a seeded random vocabulary. No artificial
latency: a fast network is the worst case for a download backlog. Feed entries are dated
within the 24 hours before a fixed instant.

(a) feeds:   N feeds x 10 entries into a fresh database, N in --feeds (default 10,100,400).
(b) archive: the first 10 feeds into a fresh database, and into databases already holding
             an archive of --archives articles (default 10k and 100k), built with
             ``benchmarks/archive_scale.py``'s ``Stream`` and ``build`` (bulk INSERT,
             pre-linked, 1,000 articles a day) and ending where the fetched entries begin,
             so the link stage's 3-day warm-start window holds archive articles.
(c) control: the largest feeds case again with the page backpressure lifted (the wrapper
             sets ``Ingest.page_limit`` to 10**9), to show what bounds memory (--no-control
             skips it).

Ratios are against the smallest case of the same table, measured in the same run.
Databases live in a temporary folder under /tmp, removed at the end.

    python benchmarks/run_memory.py            # 10/100/400 feeds; 10k and 100k archive (~10 min)
    python benchmarks/run_memory.py --quick    # 5/40 feeds; 5k and 20k archive (~2 min)
"""

from __future__ import annotations

import argparse
import http.server
import json
import multiprocessing
import os
import random
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._corpora import serve_forever  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
PER_FEED = 10
FEED_END = datetime(2025, 11, 20, 12, tzinfo=UTC)  # entries are dated in the 24 h before

# --- synthetic pages ------------------------------------------------------------------------


class Pages:
    """Deterministic synthetic site: feed `n` lives on host `n % hosts` and links PER_FEED
    pages; every page is built on request from its own seed (nothing is held in memory)."""

    def __init__(self, seed: int, hosts: int):
        self.seed, self.hosts = seed, hosts
        rng = random.Random(seed)
        letters = "abcdefghijklmnopqrstuvwxyz"
        words: set[str] = set()
        while len(words) < 6000:
            words.add("".join(rng.choice(letters) for _ in range(rng.randint(2, 10))))
        self.vocab = sorted(words, key=lambda w: (len(w), w))
        acc, self.cum = 0.0, []
        for r in range(len(self.vocab)):
            acc += 1.0 / (r + 1) ** 1.05
            self.cum.append(acc)
        self.names = [w.capitalize() for w in rng.sample(self.vocab[1500:], 400)]
        self.style = "<style>" + "".join(
            f".c{i}{{margin:{i % 7}px;padding:{i % 5}px;color:#{i * 2654435761 % 0xffffff:06x};"
            f"font:{12 + i % 6}px/1.4 sans-serif}}\n" for i in range(500)) + "</style>"
        self.nav = "<nav><ul>" + "".join(
            f'<li class="c{i}"><a href="/section/{w}">{w.capitalize()}</a></li>'
            for i, w in enumerate(self.vocab[200:320])) + "</ul></nav>"
        self.footer = "<footer><ul>" + "".join(
            f'<li><a href="/about/{w}">{w.capitalize()} {self.vocab[i]}</a></li>'
            for i, w in enumerate(self.vocab[400:480])) + (
            "</ul><p>We use cookies to improve your experience. Accept all cookies or manage "
            "your preferences. Copyright the publisher. All rights reserved.</p></footer>")
        # the framework's serialised state, as many pages carry: one long blob, each page
        # serves a prefix of it after a key of its own
        items, size = [], 0
        while size < 320_000:
            item = (f'"{rng.choice(self.vocab)}{rng.randrange(10**4)}":{{"id":'
                    f'{rng.randrange(10**9)},"slug":"{self._text(rng, 4).replace(" ", "-")}",'
                    f'"w":{rng.random():.6f}}},')
            items.append(item)
            size += len(item)
        self.state = "".join(items)

    def _text(self, rng: random.Random, n: int) -> str:
        return " ".join(rng.choices(self.vocab, cum_weights=self.cum, k=n))

    def title(self, feed: int, j: int) -> str:
        rng = random.Random(f"{self.seed}:title:{feed}:{j}")
        return (f"{rng.choice(self.names)} {self._text(rng, 5)} {rng.choice(self.names)}"
                ).capitalize()

    @staticmethod
    def when(feed: int, j: int) -> datetime:
        return FEED_END - timedelta(minutes=1 + (feed * PER_FEED + j) * 7919 % 1439)

    def page(self, feed: int, j: int, port: int) -> bytes:
        rng = random.Random(f"{self.seed}:page:{feed}:{j}")
        title = self.title(feed, j)
        paras, left = [], rng.randint(560, 640)
        while left > 0:
            k = min(left, rng.randint(30, 70))
            left -= k
            s = self._text(rng, k).capitalize()
            paras.append(f"<p>{rng.choice(self.names)} said {s}.</p>")
        teasers = "".join(
            f'<div class="teaser c{rng.randrange(500)}"><a href="/news/x{rng.randrange(10**6)}">'
            f"<h3>{self._text(rng, 7).capitalize()}</h3></a><p>{self._text(rng, 25)}.</p></div>"
            for _ in range(30))
        target = rng.randint(100_000, 300_000)
        url = f"http://127.0.0.1:{port}/news/{feed}-{j}.html"
        when = self.when(feed, j).isoformat()
        head = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
                f"<title>{title} | Host {port} News</title>"
                f'<meta property="og:title" content="{title}">'
                f'<meta property="og:site_name" content="Host {port} News">'
                f'<meta property="article:published_time" content="{when}">'
                f'<meta name="description" content="{self._text(rng, 20)}">'
                f'<link rel="canonical" href="{url}">{self.style}</head>')
        body = (f'<body><header><div class="logo">Host {port} News</div>{self.nav}</header>'
                f'<main><article><h1>{title}</h1><p class="byline">By '
                f'{rng.choice(self.names)} {rng.choice(self.names)}</p>'
                f'<time datetime="{when}">{when[:10]}</time>{"".join(paras)}</article>'
                f'<aside><h2>Most read</h2>{teasers}</aside></main>{self.footer}')
        cut = max(0, target - len(head) - len(body) - 80)
        state = self.state[:cut].rsplit("},", 1)[0] + "}"
        script = f'<script>window.__STATE__={{"page":"{feed}-{j}",{state}}};</script>'
        return (head + body + script + "</body></html>").encode()

    def feed(self, n: int, port: int) -> bytes:
        base = f"http://127.0.0.1:{port}"
        items = []
        for j in range(PER_FEED):
            title = self.title(n, j)
            items.append(
                f"<item><title>{title}</title><link>{base}/news/{n}-{j}.html</link>"
                f'<guid isPermaLink="false">p{n}-{j}</guid>'
                f"<pubDate>{format_datetime(self.when(n, j))}</pubDate>"
                f"<description>{title}.</description></item>")
        return ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
                f"<title>Feed {n}</title><link>{base}/</link><description>bench</description>"
                + "".join(items) + "</channel></rss>").encode()


def _serve(pages: Pages, ports: list[int], ready) -> None:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # quiet
            pass

        def _send(self, status: int, body: bytes, ctype: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):  # noqa: N802
            path = self.path.split("?")[0]
            port = self.server.server_address[1]
            host = ports.index(port)
            try:
                if path == "/robots.txt":
                    return self._send(200, b"User-agent: *\nAllow: /\n", "text/plain")
                if path.startswith("/feeds/") and path.endswith(".xml"):
                    n = int(path[7:-4])
                    if n % pages.hosts == host:
                        return self._send(200, pages.feed(n, port),
                                          "application/rss+xml; charset=utf-8")
                if path.startswith("/news/") and path.endswith(".html"):
                    n, j = (int(x) for x in path[6:-5].split("-"))
                    if n % pages.hosts == host and 0 <= j < PER_FEED:
                        return self._send(200, pages.page(n, j, port),
                                          "text/html; charset=utf-8")
            except ValueError:
                pass
            return self._send(404, b"not found", "text/plain")

    serve_forever(ports, Handler, ready)


class Site:
    def __init__(self, seed: int, hosts: int):
        socks = []
        for _ in range(hosts):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        self.ports = [s.getsockname()[1] for s in socks]
        for s in socks:
            s.close()
        self.pages = Pages(seed, hosts)
        ctx = multiprocessing.get_context("fork")
        ready = ctx.Event()
        self.proc = ctx.Process(target=_serve, args=(self.pages, self.ports, ready), daemon=True)
        self.proc.start()
        if not ready.wait(30):
            raise RuntimeError("page server did not start")

    def feed_url(self, n: int) -> str:
        return f"http://127.0.0.1:{self.ports[n % len(self.ports)]}/feeds/{n}.xml"

    def write_config(self, path: Path, n_feeds: int, per_host: int) -> Path:
        lines = ["defaults:", "  timeout: 30", "  max_articles: 50", "  robots: true",
                 "fetch:", f"  per_host: {per_host}", "  host_delay: 0", "feeds:"]
        for n in range(n_feeds):
            lines += [f"  - name: feed-{n:04d}", f"    url: {self.feed_url(n)}"]
        path.write_text("\n".join(lines) + "\n")
        return path

    def close(self) -> None:
        self.proc.terminate()
        self.proc.join(5)


# --- the measured run ------------------------------------------------------------------------

WRAPPER = r"""
import json, os, sys, threading
UNBOUNDED = os.environ.get("RUN_MEMORY_UNBOUNDED") == "1"

def hwm_kb(pid="self"):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0

def descendants():
    parent = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    parent[int(d)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                pass
    out, todo = [], [os.getpid()]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parent.items() if pp == p]
        out += kids
        todo += kids
    return out

peak = {"worker": 0, "ingest": 0}
stop = threading.Event()

def sample():
    while True:
        for pid in descendants():
            peak["worker"] = max(peak["worker"], hwm_kb(pid))
        if stop.wait(0.2):
            return

import newsdesk.link_stage as link_stage
import newsdesk.pipeline as pipeline
original_finish = link_stage.LinkRun.finish

def finish(self):
    peak["ingest"] = hwm_kb()
    return original_finish(self)

link_stage.LinkRun.finish = finish
if UNBOUNDED:
    original_init = pipeline.Ingest.__init__
    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self.page_limit = 10**9
    pipeline.Ingest.__init__ = init
threading.Thread(target=sample, daemon=True).start()
rc = 0
try:
    from newsdesk.cli import cli
    cli(prog_name="newsdesk", args=sys.argv[1:])
except SystemExit as e:
    rc = e.code if isinstance(e.code, int) else 1
finally:
    stop.set()
    sys.stderr.write("RUN_MEMORY " + json.dumps(
        {"main_kb": hwm_kb(), "ingest_kb": peak["ingest"], "worker_kb": peak["worker"]}) + "\n")
sys.exit(rc)
"""


def measure(config: Path, db: Path, *, unbounded: bool = False) -> dict:
    """One `newsdesk fetch` in its own process: peaks in MB, seconds, articles fetched."""
    env = dict(os.environ, RUN_MEMORY_UNBOUNDED="1" if unbounded else "0")
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", WRAPPER, "fetch", "--feeds", str(config),
                           "--db", str(db)], cwd=REPO, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    mem = next((json.loads(line.split(" ", 1)[1]) for line in proc.stderr.splitlines()
                if line.startswith("RUN_MEMORY ")), None)
    if proc.returncode != 0 or mem is None:
        raise RuntimeError(f"fetch failed (exit {proc.returncode}):\n{proc.stdout}\n"
                           f"{proc.stderr[-3000:]}")
    with sqlite3.connect(db) as conn:
        fetched, ok = conn.execute(
            "SELECT COUNT(*), SUM(extraction_status = 'ok') FROM articles "
            "WHERE url LIKE 'http://127.0.0.1:%'").fetchone()
    return {"main": mem["main_kb"] / 1024, "ingest": mem["ingest_kb"] / 1024,
            "worker": mem["worker_kb"] / 1024, "seconds": seconds, "fetched": fetched,
            "ok": ok or 0, "summary": proc.stdout.strip().splitlines()[-1:]}


def build_archive(db: Path, size: int, seed: int, n_feeds: int) -> tuple[float, int]:
    """A pre-linked archive of `size` articles ending just before the fetched entries;
    returns the build seconds and how many of its articles the link stage will warm-start
    (those within the window before the earliest fetched entry)."""
    from benchmarks.archive_scale import Stream, build
    from newsdesk.linking import LinkSettings
    stream = Stream(seed=seed)
    stream.start = FEED_END - timedelta(days=1 + size / stream.per_day)
    store, _, build_s = build(db, stream, size, 0, LinkSettings().window_days)
    window = LinkSettings().window_days
    start = min(Pages.when(n, j) for n in range(n_feeds) for j in range(PER_FEED))
    in_window = store.execute(
        "SELECT COUNT(*) FROM articles WHERE linked_at IS NOT NULL AND sort_date >= ?",
        [(start - timedelta(days=window)).isoformat(timespec="seconds")]).fetchone()[0]
    store.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    return build_s, in_window


# --- main ----------------------------------------------------------------------------------


def _table(title: str, rows: list[tuple[str, dict]]) -> None:
    base = rows[0][1]
    print(f"\n{title}")
    print("| case | articles fetched (ok) | peak RSS MB main | ratio | main at link start MB"
          " | ratio | largest worker MB | ratio | run s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, r in rows:
        print(f"| {name} | {r['fetched']} ({r['ok']}) | {r['main']:.0f} | "
              f"{r['main'] / base['main']:.2f} | {r['ingest']:.0f} | "
              f"{r['ingest'] / base['ingest']:.2f} | {r['worker']:.0f} | "
              f"{r['worker'] / base['worker']:.2f} | {r['seconds']:.0f} |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes (~2 min)")
    ap.add_argument("--feeds", default=None, help="feed counts, e.g. 10,100,400")
    ap.add_argument("--archives", default=None, help="archive sizes, e.g. 10000,100000")
    ap.add_argument("--hosts", type=int, default=8)
    ap.add_argument("--per-host", type=int, default=4)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--no-control", action="store_true",
                    help="skip the run without page backpressure")
    args = ap.parse_args(argv)
    feeds = [int(x) for x in (args.feeds or ("5,40" if args.quick else "10,100,400")).split(",")]
    archives = [int(x) for x in
                (args.archives or ("5000,20000" if args.quick else "10000,100000")).split(",")]
    small = min(10, feeds[0])
    print(f"run_memory: feeds {feeds} x {PER_FEED} entries, archive sizes {archives} "
          f"(fetch of {small} feeds), {args.hosts} hosts, per_host {args.per_host}, "
          f"no latency; python {sys.version.split()[0]}, sqlite {sqlite3.sqlite_version}",
          flush=True)
    site = Site(args.seed, args.hosts)  # fork the server before anything big is in memory
    results: dict[str, float] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="run-memory-", dir="/tmp") as tmp:
            work = Path(tmp)
            # (a) feeds
            rows_a = []
            for n in feeds:
                cfg = site.write_config(work / f"feeds-{n}.yaml", n, args.per_host)
                r = measure(cfg, work / f"feeds-{n}.db")
                print(f"  {n} feeds: {r}", flush=True)
                rows_a.append((f"{n} feeds x {PER_FEED}, fresh db", r))
                (work / f"feeds-{n}.db").unlink()
            if not args.no_control:
                n = feeds[-1]
                cfg = work / f"feeds-{n}.yaml"
                r = measure(cfg, work / "control.db", unbounded=True)
                print(f"  {n} feeds, no backpressure: {r}", flush=True)
                rows_a.append((f"{n} feeds x {PER_FEED}, page backpressure lifted", r))
            _table("(a) peak memory vs number of feeds", rows_a)
            # (b) archive
            cfg = site.write_config(work / f"feeds-{small}.yaml", small, args.per_host)
            rows_b = [(f"{small} feeds into a fresh db", measure(cfg, work / "fresh.db"))]
            print(f"  fresh: {rows_b[0][1]}", flush=True)
            for size in archives:
                db = work / f"archive-{size}.db"
                build_s, in_window = build_archive(db, size, args.seed, small)
                mb = db.stat().st_size / 1e6
                r = measure(cfg, db)
                print(f"  archive {size} (built in {build_s:.0f}s, {mb:.0f} MB, {in_window} "
                      f"in the link window): {r}", flush=True)
                rows_b.append((f"{small} feeds into a {size:,}-article archive ({mb:.0f} MB; "
                               f"{in_window:,} in the link window)", r))
                for p in work.glob(f"archive-{size}.db*"):
                    p.unlink()
            _table("(b) peak memory vs archive size", rows_b)
            results = {f"feeds_{n}_main_mb": r["main"] for n, (_, r) in zip(feeds, rows_a,
                                                                            strict=False)}
            results.update({f"archive_{s}_main_mb": r["main"]
                            for s, (_, r) in zip(archives, rows_b[1:], strict=True)})
            results["fresh_main_mb"] = rows_b[0][1]["main"]
    finally:
        site.close()
    print("RESULT " + json.dumps({k: round(v, 1) for k, v in results.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
