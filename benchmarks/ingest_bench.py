"""End-to-end ingest benchmark: real article pages behind a slow local web server.

A separate server process listens on several 127.0.0.1 ports (one "host" each) and
serves RSS feeds whose entries link to real news pages from the shared corpora
(articles/aeb/html/*.html.gz and articles/naeb/html/*.html.gz). Every response waits a
random but seeded 50-200 ms first (fixed per path, so every pass sees the same
latencies). The server counts requests by path; /__stats and /__etag control it.

Figures, all measured in the same run:

1. floor      the same pages through ``newsdesk.extract.extract`` alone on all cores
              (ProcessPoolExecutor, pool start-up included), no network, no database;
2. newsdesk   ``newsdesk.pipeline.fetch_feeds`` into a fresh database (link stage
              included), ``fetch: per_host`` as given, ``host_delay: 0``;
3. diy        the usual script: requests + feedparser + newspaper4k, one page after
              the other (no database);
4. re-run     a second fetch over the unchanged feeds, with ETag (304) and without
              (feeds served again in full): seconds per 100 feeds, page requests (must be 0);
              then the same over ``--rerun-feeds`` feeds on ``--rerun-hosts`` hosts, in-process
              and as a ``newsdesk fetch`` command (Python start-up included);
5. profile    pyinstrument over one ingest (extraction in worker processes), and over one
              with ``extract_workers=0`` (extraction on one thread; its time is measured
              apart), top functions by own time on the main thread.

Targets: newsdesk >= 0.8 x floor; newsdesk >= 5 x diy; re-run well under 1 s per 100
feeds, page requests == 0. Passes 1 and 2 alternate ``--repeat`` times; medians reported.

    python benchmarks/ingest_bench.py                 # 240 pages, 24 feeds, 4 hosts
    python benchmarks/ingest_bench.py --pages 0       # every page on disk (~600)
    python benchmarks/ingest_bench.py --no-diy --no-profile
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import http.server
import json
import multiprocessing
import os
import random
import sqlite3
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._corpora import corpora_dir, serve_forever  # noqa: E402

# --- the corpus ---------------------------------------------------------------------


def load_pages(corpora: Path, limit: int) -> list[tuple[str, str, bytes]]:
    """(key, title, html bytes) of the real pages, aeb and naeb interleaved, sorted stably."""
    aeb, naeb = [], []
    for p in sorted((corpora / "articles" / "aeb" / "html").glob("*.html.gz")):
        aeb.append((f"aeb-{p.name[:16]}", None, p))
    titles = {}
    meta = corpora / "articles" / "naeb" / "news_articles.json"
    if meta.exists():
        for row in json.loads(meta.read_text()):
            titles[str(row.get("html_file") or row.get("id"))] = row.get("title")
    for p in sorted((corpora / "articles" / "naeb" / "html").glob("*.html.gz")):
        stem = p.name.removesuffix(".html.gz")
        naeb.append((f"naeb-{stem[:16]}", titles.get(stem), p))
    mixed = []
    for i in range(max(len(aeb), len(naeb))):
        mixed += [x for x in (aeb[i] if i < len(aeb) else None,
                              naeb[i] if i < len(naeb) else None) if x]
    if limit:
        mixed = mixed[:limit]
    return [(k, t or f"Report {k}", gzip.decompress(p.read_bytes())) for k, t, p in mixed]


# --- the server (own process, so it never competes for the benchmark's GIL) ----------------


def _latency(seed: int, path: str, lo: float, hi: float) -> float:
    h = hashlib.sha256(f"{seed}:{path}".encode()).digest()
    return random.Random(h).uniform(lo, hi)


def _serve(plan: dict, ports: list[int], ready, seed: int, lo: float, hi: float) -> None:
    counts: Counter = Counter()
    lock = threading.Lock()
    state = {"etag": True}
    routes: dict[tuple[int, str], tuple[bytes, str]] = plan

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # quiet
            pass

        def _send(self, status: int, body: bytes, ctype: str, headers: dict | None = None):
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            if body and self.command != "HEAD":
                self.wfile.write(body)

        def do_GET(self):  # noqa: N802
            path = self.path.split("?")[0]
            port = self.server.server_address[1]
            if path == "/__stats":
                with lock:
                    body = json.dumps(dict(counts)).encode()
                return self._send(200, body, "application/json")
            if path == "/__reset":
                with lock:
                    counts.clear()
                return self._send(200, b"ok", "text/plain")
            if path.startswith("/__etag/"):
                state["etag"] = path.endswith("/on")
                return self._send(200, b"ok", "text/plain")
            with lock:
                counts[f"{port}{path}"] += 1
            time.sleep(_latency(seed, f"{port}{path}", lo, hi))
            if path == "/robots.txt":
                return self._send(200, b"User-agent: *\nAllow: /\n", "text/plain")
            hit = routes.get((port, path))
            if hit is None:
                return self._send(404, b"not found", "text/plain")
            body, ctype = hit
            if ctype.startswith("application/rss"):
                etag = '"' + hashlib.sha1(body).hexdigest() + '"'
                if state["etag"] and self.headers.get("If-None-Match") == etag:
                    return self._send(304, b"", ctype, {"ETag": etag})
                return self._send(200, body, ctype, {"ETag": etag} if state["etag"] else {})
            return self._send(200, body, ctype)

    serve_forever(ports, Handler, ready)


def _free_ports(n: int) -> list[int]:
    import socket
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


class Site:
    """The served corpus: feeds of `per_feed` entries, each host serving its own pages."""

    def __init__(self, pages, hosts: int, per_feed: int, seed: int, lo: float, hi: float):
        self.ports = _free_ports(hosts)
        self.pages = pages
        plan: dict[tuple[int, str], tuple[bytes, str]] = {}
        by_host: dict[int, list] = defaultdict(list)
        self.page_urls: list[str] = []
        for i, (key, title, html) in enumerate(pages):
            port = self.ports[i % hosts]
            path = f"/news/{key}.html"
            plan[(port, path)] = (html, "text/html; charset=utf-8")
            url = f"http://127.0.0.1:{port}{path}"
            self.page_urls.append(url)
            by_host[port].append((url, key, title))
        start = datetime(2025, 11, 20, 6, tzinfo=UTC)
        self.feeds: list[tuple[str, str]] = []
        n = 0
        for port, items in by_host.items():
            for j in range(0, len(items), per_feed):
                chunk = items[j:j + per_feed]
                path = f"/feeds/{j // per_feed}.xml"
                base = f"http://127.0.0.1:{port}"
                parts = []
                for url, key, title in chunk:
                    when = start + timedelta(minutes=7 * n)
                    n += 1
                    parts.append(
                        f"<item><title>{escape(title)}</title><link>{url}</link>"
                        f'<guid isPermaLink="false">{key}</guid>'
                        f"<pubDate>{format_datetime(when)}</pubDate>"
                        f"<description>{escape(title)}</description></item>")
                body = ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
                        f"<title>Host {port} feed {j}</title><link>{base}/</link>"
                        "<description>bench</description>" + "".join(parts)
                        + "</channel></rss>").encode()
                plan[(port, path)] = (body, "application/rss+xml; charset=utf-8")
                self.feeds.append((f"h{port}-f{j // per_feed}", base + path))
        ready = multiprocessing.get_context("fork").Event()
        self.proc = multiprocessing.get_context("fork").Process(
            target=_serve, args=(plan, self.ports, ready, seed, lo, hi), daemon=True)
        self.proc.start()
        ready.wait(30)

    def _control(self, path: str) -> bytes:
        import urllib.request
        with urllib.request.urlopen(f"http://127.0.0.1:{self.ports[0]}{path}") as r:
            return r.read()

    def stats(self) -> Counter:
        return Counter(json.loads(self._control("/__stats")))

    def reset(self) -> None:
        self._control("/__reset")

    def etag(self, on: bool) -> None:
        self._control("/__etag/" + ("on" if on else "off"))

    def page_requests(self, counts: Counter) -> int:
        return sum(v for k, v in counts.items() if "/news/" in k)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.join(5)


# --- the passes -----------------------------------------------------------------------


def _extract_one(args: tuple[bytes, str]):
    from newsdesk.extract import extract
    ex = extract(*args)
    return len(ex.text or "")


def floor_pass(site: Site, workers: int) -> tuple[float, int]:
    jobs = [(html, url) for (_, _, html), url in zip(site.pages, site.page_urls, strict=True)]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=workers) as pool:
        ok = sum(1 for n in pool.map(_extract_one, jobs, chunksize=2) if n)
    return time.perf_counter() - t0, ok


def config_data(site: Site, per_host: int, feeds: list[tuple[str, str]] | None = None,
                full_text: bool = True) -> dict:
    return {
        "defaults": {"timeout": 30, "max_articles": 1000, "robots": True,
                     "full_text": full_text},
        "fetch": {"per_host": per_host, "host_delay": 0},
        "feeds": [{"name": n, "url": u} for n, u in (feeds or site.feeds)],
    }


def make_config(site: Site, per_host: int, feeds: list[tuple[str, str]] | None = None,
                full_text: bool = True):
    from newsdesk.config import parse_config
    return parse_config(config_data(site, per_host, feeds, full_text), Path("bench-feeds.yaml"))


def newsdesk_pass(config, db: Path, extract_workers: int | None = None):
    from newsdesk.pipeline import fetch_feeds
    from newsdesk.store import Store
    store = Store.open(db)
    try:
        t0 = time.perf_counter()
        summary = fetch_feeds(config, store, extract_workers=extract_workers)
        elapsed = time.perf_counter() - t0
        ok = store.execute(
            "SELECT COUNT(*) FROM articles WHERE extraction_status = 'ok'").fetchone()[0]
    finally:
        store.close()
    return elapsed, summary, ok


def rerun_pass(args, lo: float, hi: float, work: Path) -> dict[str, float]:
    """Re-run cost over many feeds on many hosts: a first run stores every entry (feed
    summaries only, no page: the pages would take minutes to extract and the second run
    must not touch them anyway), then the same feeds with full text on, unchanged, run
    again, in-process and as the `newsdesk fetch` command a cron job runs."""
    import subprocess

    import yaml

    n_entries = args.rerun_feeds * args.per_feed
    fake = [(f"r{i:05d}", f"Report {i}", b"") for i in range(n_entries)]
    site = Site(fake, args.rerun_hosts, args.per_feed, args.seed, lo, hi)
    out: dict[str, float] = {}
    try:
        db = work / "rerun.db"
        newsdesk_pass(make_config(site, args.per_host, full_text=False), db)
        config = make_config(site, args.per_host)
        feeds_yaml = work / "rerun-feeds.yaml"
        feeds_yaml.write_text(yaml.safe_dump(config_data(site, args.per_host)))
        n = len(site.feeds)
        for etag in (True, False):
            site.etag(etag)
            label = "etag/304" if etag else "no etag "
            key = "etag" if etag else "noetag"
            site.reset()
            t_in, summary, _ = newsdesk_pass(config, db)
            pages_in = site.page_requests(site.stats())
            site.reset()
            t0 = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, "-m", "newsdesk", "fetch", "--feeds", str(feeds_yaml),
                 "--db", str(db)], capture_output=True, text=True)
            t_cli = time.perf_counter() - t0
            pages_cli = site.page_requests(site.stats())
            print(f"  re-run   {label}: {n} feeds on {args.rerun_hosts} hosts "
                  f"({summary.articles_new} new): in-process {t_in:5.2f}s = "
                  f"{t_in / n * 100:5.2f}s per 100 feeds; `newsdesk fetch` "
                  f"{t_cli:5.2f}s = {t_cli / n * 100:5.2f}s per 100 feeds (exit "
                  f"{proc.returncode}); page requests {pages_in} + {pages_cli} (must be 0)")
            out[f"rerun_{key}_per100"] = t_in / n * 100
            out[f"rerun_{key}_cli_per100"] = t_cli / n * 100
            out[f"rerun_{key}_pages"] = pages_in + pages_cli
        site.etag(True)
    finally:
        site.close()
    return out


def _median(xs: list[float]) -> float:
    xs = sorted(xs)
    mid = len(xs) // 2
    return xs[mid] if len(xs) % 2 else (xs[mid - 1] + xs[mid]) / 2


def diy_pass(site: Site) -> tuple[float, int, int]:
    import warnings
    warnings.filterwarnings("ignore")
    import feedparser
    import requests
    import tldextract.tldextract
    from newspaper import Article

    # no network here: tldextract would try to download the public-suffix list (and time
    # out) on every page; a real DIY machine has it cached, so use the bundled snapshot
    tldextract.tldextract.TLD_EXTRACTOR = tldextract.tldextract.TLDExtract(
        suffix_list_urls=(), cache_dir=None)
    t0 = time.perf_counter()
    ok = failed = 0
    for _, feed_url in site.feeds:
        parsed = feedparser.parse(requests.get(feed_url, timeout=30).content)
        for entry in parsed.entries:
            try:
                r = requests.get(entry.link, timeout=30)
                # fetch_images=False: newspaper4k would download images to size the top
                # one (network we do not have, and a cost newsdesk does not pay)
                art = Article(entry.link, fetch_images=False)
                art.download(input_html=r.text)
                art.parse()
                ok += bool(art.text)
            except Exception:  # noqa: BLE001 - the usual script skips a page that fails
                failed += 1
    return time.perf_counter() - t0, ok, failed


# --- profiles ---------------------------------------------------------------------------


def _name(f) -> str:
    return f"{f.function} ({f.file_path_short}:{f.line_no})"


def top_self(session, n: int = 15) -> list[tuple[float, float, str]]:
    """(own seconds, share of total, function at file:line) over the whole frame tree."""
    own: Counter = Counter()
    root = session.root_frame()
    if root is None:
        return []
    stack = [root]
    while stack:
        f = stack.pop()
        stack.extend(f.children)
        if not f.is_synthetic:  # [self] leaves are counted in their parent's total_self_time
            own[_name(f)] += f.total_self_time
    total = root.time or 1.0
    return [(t, t / total, name) for name, t in own.most_common(n)]


STAGES = ("wait", "parse_feed", "plan", "on_page", "save_article", "link", "finish",
          "record_feed_success", "set_validators", "start_run", "finish_run", "sync_feed")


def stage_split(session) -> list[tuple[float, str]]:
    """Inclusive main-thread seconds of the pipeline's stages (outermost call only)."""
    total: Counter = Counter()
    root = session.root_frame()
    stack = [root] if root is not None else []
    while stack:
        f = stack.pop()
        if f.function in STAGES:
            total[f.function] += f.time
            continue
        stack.extend(f.children)
    return [(t, name) for name, t in total.most_common()]


def profile_pass(site: Site, per_host: int, workdir: Path, feeds, extract_workers: int | None):
    from pyinstrument import Profiler

    import newsdesk.worker as worker
    spent = {"extract": 0.0}
    original = worker.extract

    def timed(*args, **kwargs):
        t = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            spent["extract"] += time.perf_counter() - t

    if extract_workers == 0:
        worker.extract = timed  # runs on the inline thread; time it apart
    config = make_config(site, per_host, feeds)
    db = workdir / f"profile-{extract_workers}.db"
    profiler = Profiler(interval=0.002)
    profiler.start()
    try:
        elapsed, summary, ok = newsdesk_pass(config, db, extract_workers)
    finally:
        profiler.stop()
        worker.extract = original
    return elapsed, ok, spent["extract"], profiler


# --- main ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--corpora", default=None)
    ap.add_argument("--pages", type=int, default=240, help="pages served (0: all on disk)")
    ap.add_argument("--hosts", type=int, default=4)
    ap.add_argument("--per-feed", type=int, default=10)
    ap.add_argument("--per-host", type=int, default=4)
    ap.add_argument("--latency", default="0.05,0.2", help="min,max seconds per response")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=3,
                    help="floor and newsdesk passes, alternated; medians are reported")
    ap.add_argument("--rerun-feeds", type=int, default=300)
    ap.add_argument("--rerun-hosts", type=int, default=60)
    ap.add_argument("--profile-pages", type=int, default=100)
    ap.add_argument("--no-diy", action="store_true")
    ap.add_argument("--no-profile", action="store_true")
    ap.add_argument("--profile-out", default=None, help="write full pyinstrument text here")
    args = ap.parse_args(argv)

    corpora = corpora_dir(args.corpora)
    if not (corpora / "articles" / "aeb" / "html").is_dir():
        print(f"SKIP ingest_bench: no corpora at {corpora} (set NEWSDESK_CORPORA)")
        return 0
    lo, hi = (float(x) for x in args.latency.split(","))
    pages = load_pages(corpora, args.pages)
    mb = sum(len(h) for _, _, h in pages) / 1e6
    cores = os.cpu_count() or 1
    print(f"ingest_bench: {len(pages)} pages ({mb:.1f} MB html), hosts={args.hosts}, "
          f"per_feed={args.per_feed}, per_host={args.per_host}, latency {lo}-{hi}s, "
          f"cores={cores}, sqlite {sqlite3.sqlite_version}")
    site = Site(pages, args.hosts, args.per_feed, args.seed, lo, hi)
    results: dict[str, float] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="ndbench-") as tmp:
            work = Path(tmp)
            # 1. floor and 2. newsdesk end to end, alternated (the machine's load drifts)
            config = make_config(site, args.per_host)
            floors, ends, ratios = [], [], []
            for r in range(max(1, args.repeat)):
                t_floor, ok_floor = floor_pass(site, cores)
                r_floor = len(pages) / t_floor
                print(f"  floor    extract() x{cores} processes: {t_floor:6.1f}s "
                      f"{r_floor:6.2f} pages/s  ({ok_floor} with text)")
                site.reset()
                db = work / f"bench-{r}.db"
                t_nd, summary, ok_nd = newsdesk_pass(config, db)
                counts = site.stats()
                r_nd = len(pages) / t_nd
                link_s = summary.link.seconds if summary.link else 0.0
                print(f"  newsdesk fetch_feeds end to end: {t_nd:6.1f}s {r_nd:6.2f} "
                      f"articles/s ({summary.articles_new} new, {ok_nd} extracted ok, link "
                      f"stage {link_s:.1f}s alongside, {sum(counts.values())} requests)  "
                      f"ratio to floor {r_nd / r_floor:.2f}")
                floors.append(r_floor)
                ends.append(r_nd)
                ratios.append(r_nd / r_floor)
            results.update(floor=_median(floors), newsdesk=_median(ends),
                           ratio_floor=_median(ratios))
            print(f"  median of {len(ratios)}: floor {_median(floors):.2f} pages/s, newsdesk "
                  f"{_median(ends):.2f} articles/s, ratio {_median(ratios):.2f} "
                  f"(range {min(ratios):.2f}-{max(ratios):.2f}; target >= 0.80)")
            # 3. re-run over unchanged feeds, these 24 with ETag, then without
            for etag in (True, False):
                site.etag(etag)
                site.reset()
                t_re, _, _ = newsdesk_pass(config, work / "bench-0.db")
                counts = site.stats()
                per100 = t_re / len(site.feeds) * 100
                label = "etag/304" if etag else "no etag "
                print(f"  re-run   {label}: {t_re:6.2f}s for {len(site.feeds)} feeds = "
                      f"{per100:5.2f}s per 100 feeds; page requests "
                      f"{site.page_requests(counts)} (must be 0)")
            site.etag(True)
            # ... and over many feeds on many hosts
            if args.rerun_feeds:
                results.update(rerun_pass(args, lo, hi, work))
            # 4. DIY
            if not args.no_diy:
                t_diy, ok_diy, failed_diy = diy_pass(site)
                r_diy = len(pages) / t_diy
                print(f"  diy      requests+feedparser+newspaper4k: {t_diy:6.1f}s "
                      f"{r_diy:6.2f} articles/s ({ok_diy} with text, {failed_diy} raised)  "
                      f"newsdesk/diy {r_nd / r_diy:.2f}x (target >= 5x)")
                results.update(diy=r_diy, ratio_diy=r_nd / r_diy)
            # 5. profiles
            if not args.no_profile:
                n_feeds = max(1, args.profile_pages // args.per_feed)
                subset = site.feeds[:n_feeds]
                out_lines = []
                for workers in (None, 0):
                    t_p, ok_p, t_ex, prof = profile_pass(site, args.per_host, work, subset,
                                                         workers)
                    label = f"extract_workers={'default' if workers is None else workers}"
                    print(f"  profile  {label}: {t_p:.1f}s for {len(subset)} feeds "
                          f"({ok_p} ok)" + (f"; extract() on the inline thread {t_ex:.1f}s"
                                            if workers == 0 else ""))
                    split = ", ".join(f"{name} {t:.2f}s" for t, name in
                                      stage_split(prof.last_session))
                    print(f"      main thread by stage: {split}")
                    for t, share, name in top_self(prof.last_session, 12):
                        print(f"      {t:6.2f}s {share:6.1%}  {name}")
                    out_lines.append(f"==== {label}\n" + prof.output_text(
                        unicode=False, color=False, show_all=False))
                if args.profile_out:
                    Path(args.profile_out).write_text("\n".join(out_lines))
    finally:
        site.close()
    print("RESULT " + json.dumps({k: round(v, 3) for k, v in results.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
