"""Extraction quality of newsdesk.extract.extract on the shared article corpora.

Body text: articles/aeb (ScrapingHub article-extraction-benchmark, 181 pages) with the
benchmark's own metric, restated here:
  * tokens are the `\\w+` matches of a text; shingles are the runs of 4 consecutive tokens
    (a text of 1-3 tokens is one shorter shingle, an empty text has none); shingles are
    counted as a multiset;
  * per page TP = shared shingles, FP = predicted only, FN = gold only; the three are then
    divided by their sum, so that long pages weigh no more than short ones;
  * precision = mean over the pages with TP+FP > 0 (a page where we output nothing is left
    out of precision), recall = mean over pages with TP+FN > 0 (it counts 0 there);
    a page with FP = FN = 0 scores 1 for both; F1 = 2PR/(P+R) of the two means.
The same metric is computed over aeb/published-output/*.json (upstream's recorded runs of
trafilatura 2.0, newspaper4k, readability) in the same run, as a sanity baseline.

Metadata: articles/naeb (newspaper4k's article-extraction-dataset), pages present on disk:
  * title exact: equal after NFKC, case folding and whitespace collapsing;
  * title fuzzy: token F1 >= 0.9 between the `\\w+` token multisets (case-folded);
  * date: newsdesk.dates.normalise(raw, source="page") gives a UTC datetime whose calendar
    day equals the gold YYYY-MM-DD (also reported: within one day, for time-zone slack);
  * author: over pages whose gold has authors, some gold author's name (case-folded,
    whitespace collapsed) occurs inside our author string. Also reported: pages with no
    gold author where we still return one.

Usage: python benchmarks/extraction_eval.py [--corpora DIR] [--limit N] [--min-f1 0.95 ...]
Exits 1 when a figure is below its floor, 2 when the corpora are absent.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import sys
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._corpora import corpora_dir  # noqa: E402
from newsdesk.extract import Extracted, extract  # noqa: E402

# Floors: measured figures (see the report in the commit history) minus a small margin.
FLOOR_F1 = 0.95
# Measured 2026-03 (trafilatura 2.3): aeb F1 0.960; naeb title fuzzy 0.865 (exact 0.770),
# date same UTC day 0.833 (within a day 0.888), author 0.828.
FLOOR_TITLE_FUZZY = 0.84
FLOOR_DATE = 0.80
FLOOR_AUTHOR = 0.80

_TOKEN = re.compile(r"\w+")
_WS = re.compile(r"\s+")


# --- the aeb metric -------------------------------------------------------------------


def shingles(text: str | None, n: int = 4) -> Counter:
    tokens = _TOKEN.findall(text or "")
    if not tokens:
        return Counter()
    if len(tokens) < n:
        return Counter([tuple(tokens)])
    return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))


def page_counts(gold: str | None, predicted: str | None) -> tuple[float, float, float]:
    """Normalised (TP, FP, FN) of one page."""
    g, p = shingles(gold), shingles(predicted)
    tp = sum((g & p).values())
    fp = sum((p - g).values())
    fn = sum((g - p).values())
    total = tp + fp + fn
    if total == 0:
        return 0.0, 0.0, 0.0
    return tp / total, fp / total, fn / total


def aggregate(counts: Iterable[tuple[float, float, float]]) -> dict:
    precisions, recalls = [], []
    for tp, fp, fn in counts:
        if tp + fp > 0:
            precisions.append(1.0 if fp == fn == 0 else tp / (tp + fp))
        if tp + fn > 0:
            recalls.append(1.0 if fp == fn == 0 else tp / (tp + fn))
    p = sum(precisions) / len(precisions) if precisions else 0.0
    r = sum(recalls) / len(recalls) if recalls else 0.0
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": p, "recall": r, "f1": f1}


# --- running extract over pages ---------------------------------------------------------


def _extract_file(job: tuple[str, str]) -> Extracted:
    path, url = job
    with gzip.open(path, "rb") as f:
        return extract(f.read(), url)


def _run(jobs: list[tuple[str, str]], workers: int | None) -> list[Extracted]:
    workers = workers or os.cpu_count() or 2
    if workers <= 1:
        return [_extract_file(job) for job in jobs]
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(_extract_file, jobs, chunksize=4))


def score_aeb(corpora: Path, limit: int | None = None, workers: int | None = None) -> dict:
    """Body-text P/R/F1 of extract() on aeb, and of upstream's published outputs."""
    root = Path(corpora) / "articles" / "aeb"
    gold = json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))
    keys = sorted(gold)[:limit] if limit else sorted(gold)
    jobs = [(str(root / "html" / f"{key}.html.gz"), gold[key].get("url") or "") for key in keys]
    started = time.monotonic()
    results = _run(jobs, workers)
    elapsed = time.monotonic() - started
    ours = aggregate(
        page_counts(gold[key].get("articleBody", ""), res.text)
        for key, res in zip(keys, results, strict=True)
    )
    ours.update(pages=len(keys), empty=sum(1 for r in results if not r.text), seconds=elapsed)
    baselines = {}
    for path in sorted((root / "published-output").glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        output = data.get("output", data)
        predicted = {key: (output.get(key) or {}).get("articleBody") for key in keys}
        baselines[path.stem] = aggregate(
            page_counts(gold[key].get("articleBody", ""), predicted[key]) for key in keys
        )
    return {"ours": ours, "published": baselines}


# --- metadata on naeb -------------------------------------------------------------------


def _norm(text: str | None) -> str:
    return _WS.sub(" ", unicodedata.normalize("NFKC", text or "")).strip().casefold()


def token_f1(a: str | None, b: str | None) -> float:
    ta, tb = Counter(_TOKEN.findall(_norm(a))), Counter(_TOKEN.findall(_norm(b)))
    common = sum((ta & tb).values())
    if not common:
        return 0.0
    p, r = common / sum(tb.values()), common / sum(ta.values())
    return 2 * p * r / (p + r)


def _date_normaliser() -> Callable[[str], datetime | None]:
    """newsdesk.dates.normalise when it exists, dateparser directly until then."""
    try:
        from newsdesk.dates import normalise
    except ImportError:
        import dateparser

        settings = {"TO_TIMEZONE": "UTC", "RETURN_AS_TIMEZONE_AWARE": True}

        def fallback(raw: str) -> datetime | None:
            parsed = dateparser.parse(raw, settings=settings)
            return parsed.astimezone(UTC) if parsed else None

        fallback.source = "dateparser (newsdesk.dates not present)"  # type: ignore[attr-defined]
        return fallback

    def via_dates(raw: str) -> datetime | None:
        return normalise(raw, source="page").value

    via_dates.source = "newsdesk.dates.normalise"  # type: ignore[attr-defined]
    return via_dates


def score_naeb(corpora: Path, limit: int | None = None, workers: int | None = None) -> dict:
    """Title / date / author accuracy of extract() on naeb."""
    root = Path(corpora) / "articles" / "naeb"
    items = json.loads((root / "news_articles.json").read_text(encoding="utf-8"))
    items = [it for it in items if (root / "html" / f"{it['html_file']}.html.gz").exists()]
    items = items[:limit] if limit else items
    jobs = [(str(root / "html" / f"{it['html_file']}.html.gz"), it["link"]) for it in items]
    results = _run(jobs, workers)
    normalise = _date_normaliser()

    title_exact = title_fuzzy = 0
    date_gold = date_day = date_near = date_found = 0
    author_gold = author_hit = spurious = no_gold_author = 0
    body = []
    for it, res in zip(items, results, strict=True):
        title_exact += _norm(it["title"]) == _norm(res.title)
        title_fuzzy += token_f1(it["title"], res.title) >= 0.9
        body.append(page_counts(it.get("text", ""), res.text))
        if it.get("date"):
            date_gold += 1
            value = normalise(res.date) if res.date else None
            if value is not None:
                date_found += 1
                gold_day = date.fromisoformat(it["date"][:10])
                delta = abs((value.astimezone(UTC).date() - gold_day).days)
                date_day += delta == 0
                date_near += delta <= 1
        names = [_norm(name) for name in (it.get("authors") or "").split(",") if name.strip()]
        ours = _norm(res.author)
        if names:
            author_gold += 1
            author_hit += bool(ours) and any(name in ours for name in names)
        else:
            no_gold_author += 1
            spurious += bool(ours)
    n = len(items)
    return {
        "pages": n,
        "title_exact": title_exact / n if n else 0.0,
        "title_fuzzy": title_fuzzy / n if n else 0.0,
        "date_pages": date_gold,
        "date_found": date_found,
        "date_day": date_day / date_gold if date_gold else 0.0,
        "date_within_1_day": date_near / date_gold if date_gold else 0.0,
        "date_normaliser": normalise.source,  # type: ignore[attr-defined]
        "author_pages": author_gold,
        "author": author_hit / author_gold if author_gold else 0.0,
        "no_author_pages": no_gold_author,
        "author_spurious": spurious,
        "body": aggregate(body),
    }


# --- command line -----------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpora", help="corpora folder (default: $NEWSDESK_CORPORA)")
    parser.add_argument("--limit", type=int, help="only the first N pages of each set")
    parser.add_argument("--workers", type=int, help="processes (default: all cores)")
    parser.add_argument("--min-f1", type=float, default=FLOOR_F1)
    parser.add_argument("--min-title", type=float, default=FLOOR_TITLE_FUZZY)
    parser.add_argument("--min-date", type=float, default=FLOOR_DATE)
    parser.add_argument("--min-author", type=float, default=FLOOR_AUTHOR)
    args = parser.parse_args(argv)

    corpora = corpora_dir(args.corpora)
    if not (corpora / "articles").is_dir():
        print(f"SKIP: no article corpora at {corpora} (set NEWSDESK_CORPORA)")
        return 2

    aeb = score_aeb(corpora, args.limit, args.workers)
    o = aeb["ours"]
    print(f"aeb body ({o['pages']} pages, {o['empty']} empty, {o['seconds']:.1f}s)")
    print(f"  {'newsdesk.extract':<18} P={o['precision']:.3f} R={o['recall']:.3f} F1={o['f1']:.3f}")
    for name, m in aeb["published"].items():
        print(f"  {name:<18} P={m['precision']:.3f} R={m['recall']:.3f} F1={m['f1']:.3f}"
              "  (published output)")

    naeb = score_naeb(corpora, args.limit, args.workers)
    b = naeb["body"]
    print(f"naeb metadata ({naeb['pages']} pages)")
    print(f"  title exact      {naeb['title_exact']:.3f}")
    print(f"  title token-F1>=0.9 {naeb['title_fuzzy']:.3f}")
    print(f"  date same day    {naeb['date_day']:.3f}"
          f"  (within 1 day {naeb['date_within_1_day']:.3f};"
          f" {naeb['date_found']}/{naeb['date_pages']} dated; via {naeb['date_normaliser']})")
    print(f"  author           {naeb['author']:.3f}  ({naeb['author_pages']} pages with gold"
          f" authors; {naeb['author_spurious']}/{naeb['no_author_pages']} spurious)")
    print(f"  body             P={b['precision']:.3f} R={b['recall']:.3f} F1={b['f1']:.3f}")

    failures = [
        f"{label} {value:.3f} < {floor:.3f}"
        for label, value, floor in (
            ("aeb F1", o["f1"], args.min_f1),
            ("title", naeb["title_fuzzy"], args.min_title),
            ("date", naeb["date_day"], args.min_date),
            ("author", naeb["author"], args.min_author),
        )
        if value < floor
    ]
    for failure in failures:
        print(f"BELOW FLOOR: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
