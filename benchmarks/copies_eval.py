"""Copy detection (newsdesk.dedup.CopyIndex) on synthetic wire-copy edits of real texts.

Positives: every article body of articles/naeb and articles/aeb ground truth (>= 30 words),
re-published with the edits syndication makes: a new headline line and a byline on top,
one paragraph dropped, a "Related: ..." line inserted. Harder positives drop a quarter
of the paragraphs. Negatives: pairs of different articles reporting the same event from
events/allsides-dev.jsonl (same topic, same facts, other wording; a handful of them are
genuine wire copies run by two outlets, true J 0.88-1.0), and every other
article of the set (the index must return nothing for a text not in it).

Prints, for a few shingle sizes, the true shingle Jaccard of positives (low percentiles)
and negatives (high percentiles), then recall / false matches of the index as built.
Usage: python benchmarks/copies_eval.py [--corpora DIR] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._corpora import corpora_dir  # noqa: E402
from newsdesk import dedup  # noqa: E402

_TOKEN = re.compile(r"\w+")


def _bodies(corpora: Path) -> list[str]:
    texts = []
    naeb = corpora / "articles" / "naeb" / "news_articles.json"
    if naeb.exists():
        texts += [it.get("text") or "" for it in json.loads(naeb.read_text(encoding="utf-8"))]
    aeb = corpora / "articles" / "aeb" / "ground-truth.json"
    if aeb.exists():
        gold = json.loads(aeb.read_text(encoding="utf-8"))
        texts += [v.get("articleBody") or "" for v in gold.values()]
    return [t for t in texts if len(_TOKEN.findall(t)) >= dedup.MIN_WORDS]


def _paragraphs(text: str) -> list[str]:
    parts = [p for p in re.split(r"\n\s*\n|\n", text) if p.strip()]
    return parts if len(parts) > 1 else re.split(r"(?<=[.!?])\s+", text)


def syndicate(text: str, rng: random.Random, drop: float = 0.0) -> str:
    """A wire copy of text: other headline, byline, a dropped paragraph, a Related line."""
    paras = _paragraphs(text)
    n_drop = max(1, int(len(paras) * drop)) if len(paras) > 3 else 0
    for _ in range(n_drop):
        paras.pop(rng.randrange(1, len(paras)))
    at = rng.randrange(1, len(paras)) if len(paras) > 1 else 1
    paras.insert(at, "Related: Markets rally as investors weigh the latest figures")
    head = ["Officials weigh response as story develops", "By Jane Doe, Staff Writer"]
    return "\n\n".join(head + paras)


def shingle_set(text: str, k: int) -> set:
    tokens = dedup._tokens(text)
    return {tuple(tokens[i : i + k]) for i in range(max(0, len(tokens) - k + 1))}


def jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


def _event_pairs(corpora: Path, limit: int) -> list[tuple[str, str]]:
    path = corpora / "events" / "allsides-dev.jsonl"
    if not path.exists():
        return []
    by_event: dict[str, list[str]] = {}
    with path.open(encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            text = row.get("text") or ""
            if len(_TOKEN.findall(text)) >= dedup.MIN_WORDS:
                by_event.setdefault(row["event"], []).append(text)
    pairs = [(t[0], t[1]) for t in by_event.values() if len(t) > 1]
    return pairs[:limit]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpora")
    parser.add_argument("--limit", type=int, default=2000)
    args = parser.parse_args(argv)
    corpora = corpora_dir(args.corpora)
    if not (corpora / "articles").is_dir():
        print(f"SKIP: no corpora at {corpora}")
        return 2
    rng = random.Random(7)
    bodies = _bodies(corpora)[: args.limit]
    copies = [syndicate(t, rng) for t in bodies]
    hard = [syndicate(t, rng, drop=0.25) for t in bodies]
    pairs = _event_pairs(corpora, args.limit)
    print(f"{len(bodies)} bodies, {len(pairs)} same-event pairs of different articles")

    for k in (2, 3, 4, 5):
        def sim(a: str, b: str, k: int = k) -> float:
            return jaccard(shingle_set(a, k), shingle_set(b, k))

        pos = [sim(a, b) for a, b in zip(bodies, copies, strict=True)]
        pos_hard = [sim(a, b) for a, b in zip(bodies, hard, strict=True)]
        neg = [sim(a, b) for a, b in pairs]
        print(f"k={k}: copies J p1={_pct(pos, .01):.2f} p5={_pct(pos, .05):.2f} "
              f"median={_pct(pos, .5):.2f} | 25%-trimmed p5={_pct(pos_hard, .05):.2f} | "
              f"same-event J p99={_pct(neg, .99):.2f} max={max(neg, default=0):.2f}")

    index = dedup.CopyIndex()
    started = time.monotonic()
    for i, text in enumerate(bodies):
        index.add(i, text)
    per_add = (time.monotonic() - started) / max(1, len(bodies))
    found = sum(1 for i, c in enumerate(copies) if (index.find(c) or (None,))[0] == i)
    found_hard = sum(1 for i, c in enumerate(hard) if (index.find(c) or (None,))[0] == i)
    # negatives: each event pair's second text against an index of first texts
    event_index = dedup.CopyIndex()
    for i, (a, _) in enumerate(pairs):
        event_index.add(i, a)
    false_event = sum(1 for _, b in pairs if event_index.find(b) is not None)
    # other articles: index half of the bodies, query the other half
    half = len(bodies) // 2
    half_index = dedup.CopyIndex()
    for i, text in enumerate(bodies[:half]):
        half_index.add(i, text)
    false_other = sum(1 for t in bodies[half:] if half_index.find(t) is not None)
    print(f"CopyIndex(threshold={index.threshold}, containment={index.containment}, "
          f"min_jaccard={index.min_jaccard}, num_perm={index.num_perm}, k={dedup.SHINGLE_WORDS})")
    print(f"  copies found {found}/{len(bodies)}; 25%-trimmed copies found "
          f"{found_hard}/{len(bodies)}")
    print(f"  false matches: same-event {false_event}/{len(pairs)}, "
          f"other articles {false_other}/{len(bodies) - half}")
    print(f"  {per_add * 1000:.2f} ms per add; signature {len(dedup.text_signature(bodies[0]))} B")
    return 0


if __name__ == "__main__":
    sys.exit(main())
