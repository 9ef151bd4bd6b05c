"""Event-linking scale benchmark: per-article time and memory vs archive size.

Streams a synthetic archive through :class:`newsdesk.linking.Linker` in publication order:
Zipfian vocabulary, capitalised names, numbers and quotes, 60-250 word bodies, events of
1-6 reports spread over a day, and a constant publication rate (``--per-day``), so the
time window always holds about the same number of articles however large the archive.

Each size runs in its own subprocess so that peak RSS (``ru_maxrss``) is per size. Linking
time excludes generating the text. Prints per-article time over the last 5,000 articles
of each run, the ratio to the smallest size, peak RSS and the number of indexed articles.

    python benchmarks/linking_scale.py                    # 10k,100k (~20 min)
    python benchmarks/linking_scale.py --sizes 10k,100k,1M  # 1M: about 3 hours

Measured (2 cores, --per-day 1000, window 3 days, so ~3,000 articles indexed):
10k 5.71 ms/article, peak RSS 304 MB; 100k 5.83 ms/article (ratio 1.02), 327 MB;
indexed articles 3,001 at both sizes. 1M was not run (projected ~2.7 h of wall time);
as nothing outside the window is held, its per-article cost is that of the window too.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from newsdesk.linking import LinkDoc, Linker  # noqa: E402

_LETTERS = np.array(list("abcdefghijklmnopqrstuvwxyz"))


def _words(rng: np.random.Generator, n: int, lo: int, hi: int) -> list[str]:
    out: set[str] = set()
    while len(out) < n:
        k = int(rng.integers(lo, hi + 1))
        out.add("".join(rng.choice(_LETTERS, k)))
    return sorted(out)


class Archive:
    """Deterministic synthetic news stream."""

    def __init__(self, seed: int = 7, per_day: int = 1000, vocab: int = 40_000,
                 names: int = 20_000) -> None:
        self.rng = np.random.default_rng(seed)
        self.per_day = per_day
        self.vocab = _words(self.rng, vocab, 3, 10)
        self.names = [w.capitalize() for w in _words(self.rng, names, 4, 9)]
        ranks = np.arange(1, vocab + 1)
        p = 1.0 / ranks**1.07
        self.vcdf = np.cumsum(p / p.sum())
        q = 1.0 / np.arange(1, names + 1) ** 0.9
        self.ncdf = np.cumsum(q / q.sum())
        self.start = datetime(2024, 1, 1, tzinfo=UTC)
        self.active: list[dict] = []

    def _zipf(self, cdf: np.ndarray, n: int) -> np.ndarray:
        return np.searchsorted(cdf, self.rng.random(n))

    def _new_event(self, when: datetime) -> dict:
        rng = self.rng
        return {
            "words": [self.vocab[i] for i in rng.integers(200, len(self.vocab), 10)],
            "names": [self.names[i] for i in self._zipf(self.ncdf, 3)],
            "number": str(int(rng.integers(10, 100_000))),
            "quote": " ".join(self.vocab[i] for i in self._zipf(self.vcdf, 6)),
            "left": int(rng.integers(1, 7)),
            "until": when + timedelta(days=1),
        }

    def docs(self, n: int):
        rng = self.rng
        for i in range(n):
            when = self.start + timedelta(days=i / self.per_day)
            self.active = [e for e in self.active if e["left"] > 0 and e["until"] > when]
            if not self.active or rng.random() < 0.4:
                self.active.append(self._new_event(when))
            ev = self.active[int(rng.integers(len(self.active)))]
            ev["left"] -= 1
            length = int(rng.integers(60, 251))
            toks = [self.vocab[j] for j in self._zipf(self.vcdf, length)]
            for j in rng.integers(0, length, length // 5):
                toks[j] = ev["words"][int(rng.integers(len(ev["words"])))]
            for j in rng.integers(0, length, 6):
                toks[j] = ev["names"][int(rng.integers(3))]
            others = [self.names[j] for j in self._zipf(self.ncdf, 4)]
            for j, name in zip(rng.integers(0, length, 4), others, strict=True):
                toks[j] = name
            toks[int(rng.integers(length))] = ev["number"] + " people"
            sentences = [" ".join(toks[k:k + 15]).capitalize() + "." for k in range(0, length, 15)]
            body = " ".join(sentences) + f' "{ev["quote"]}," said {ev["names"][0]}.'
            title = " ".join(rng.choice(ev["words"], 5)) + " " + ev["names"][0]
            yield LinkDoc(i, title.capitalize(), body, f"outlet{int(rng.integers(50))}", when)


def run_one(n: int, per_day: int) -> dict:
    linker = Linker()
    arch = Archive(per_day=per_day)
    tail = min(5000, n)
    t_tail = 0.0
    t_all = 0.0
    for i, doc in enumerate(arch.docs(n)):
        t0 = time.perf_counter()
        linker.add(doc)
        dt = time.perf_counter() - t0
        t_all += dt
        if i >= n - tail:
            t_tail += dt
    return {
        "n": n,
        "ms_tail": 1000 * t_tail / tail,
        "ms_all": 1000 * t_all / n,
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "indexed": len(linker),
    }


def _size(s: str) -> int:
    s = s.strip().lower()
    mult = {"k": 1_000, "m": 1_000_000}.get(s[-1], 1)
    return int(float(s.rstrip("km")) * mult)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", default="10k,100k")
    ap.add_argument("--per-day", type=int, default=1000)
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(args.one, args.per_day)))
        return 0
    rows = []
    for n in (_size(s) for s in args.sizes.split(",")):
        t0 = time.perf_counter()
        out = subprocess.run(
            [sys.executable, __file__, "--one", str(n), "--per-day", str(args.per_day)],
            check=True, capture_output=True, text=True,
        ).stdout
        r = json.loads(out.strip().splitlines()[-1])
        r["wall_s"] = time.perf_counter() - t0
        rows.append(r)
        base = rows[0]["ms_tail"]
        print(f"{n:>9,} articles: {r['ms_tail']:.2f} ms/article (last 5k; {r['ms_all']:.2f} "
              f"overall), ratio to first {r['ms_tail'] / base:.2f}, peak RSS "
              f"{r['maxrss_mb']:.0f} MB, indexed {r['indexed']:,}, wall {r['wall_s']:.0f}s",
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
