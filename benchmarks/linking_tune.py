"""Fit the event linker's weights and threshold on the tuning half of the labelled set.

1. Replays the ``dev`` split (see ``linking_eval.split_of``) in publication order through a
   :class:`Linker` that indexes every article under its GOLD event, and records the pair
   features of each article against every candidate the index proposes (the same
   candidate generation as linking, so negatives are the realistic hard ones).
2. Fits a logistic regression on those pairs (Newton/IRLS with a small L2 penalty, numpy).
3. Sweeps the threshold by replaying the dev split through the real linker and keeps the
   one with the best mean of BCubed F1 and pairwise F1.

``--write`` rewrites ``DEFAULT_WEIGHTS`` / ``DEFAULT_THRESHOLD`` in newsdesk/linking.py.
The held-out ``test`` split is never read here.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from linking_eval import corpora_dir, load_events, replay  # noqa: E402

from newsdesk.linking import FEATURES, Linker, LinkSettings  # noqa: E402

# In AllSides every report of a story carries the story's date, so "same timestamp" is an
# artefact of the data set that a fitted weight would turn into "same day = same event" on
# real feeds (it did: the real articles of one day collapsed into one event). Time is
# therefore a hard window (LinkSettings.window_days) and reported evidence, not a weight.
# (Fitting time_gap, which counts only the gap beyond a day, gave +0.003 BCubed F1 on the
# tuning half at the price of a learned ~1.5-day cut-off: not worth it.) Likewise AllSides
# holds one report per outlet per story by construction, while real outlets do publish
# several reports of one event, so "same outlet" is reported as evidence but not weighted.
NOT_FITTED = ("time_gap", "time_unknown", "same_source")
FIT = tuple(f for f in FEATURES if f not in NOT_FITTED)

LINKING_PY = Path(__file__).resolve().parent.parent / "newsdesk" / "linking.py"


def collect_pairs(rows: list, settings: LinkSettings) -> tuple[np.ndarray, np.ndarray, float]:
    linker = Linker(settings)
    ids: dict[str, int] = {}
    gold_of: dict = {}
    X: list[list[float]] = []
    y: list[int] = []
    seen_events: set[str] = set()
    hit = want = 0
    for doc, event in rows:
        pairs = linker.candidate_pairs(doc)
        found = False
        for key, f in pairs:
            same = gold_of[key] == event
            found |= same
            X.append([f[name] for name in FIT])
            y.append(int(same))
        if event in seen_events:
            want += 1
            hit += found
        seen_events.add(event)
        gold_of[doc.key] = event
        linker.restore(doc, ids.setdefault(event, len(ids) + 1))
    recall = hit / want if want else 1.0
    return np.asarray(X, dtype=float), np.asarray(y, dtype=float), recall


def fit_logistic(X: np.ndarray, y: np.ndarray, l2: float = 1e-2, iters: int = 50) -> np.ndarray:
    """Weights (bias last) of an L2-penalised logistic regression, by Newton's method."""
    n, k = X.shape
    A = np.hstack([X, np.ones((n, 1))])
    w = np.zeros(k + 1)
    reg = np.full(k + 1, l2)
    reg[-1] = 0.0
    for _ in range(iters):
        z = A @ w
        p = 1.0 / (1.0 + np.exp(-z))
        g = A.T @ (p - y) + reg * w
        s = p * (1 - p)
        H = (A * s[:, None]).T @ A + np.diag(reg) + 1e-9 * np.eye(k + 1)
        step = np.linalg.solve(H, g)
        w -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return w


def write_defaults(weights: dict[str, float], threshold: float) -> None:
    src = LINKING_PY.read_text(encoding="utf-8")
    body = "".join(f'    "{k}": {v!r},\n' for k, v in weights.items())
    src, n1 = re.subn(
        r"DEFAULT_WEIGHTS: dict\[str, float\] = \{\n.*?\n\}",
        lambda _: "DEFAULT_WEIGHTS: dict[str, float] = {\n" + body + "}",
        src, count=1, flags=re.S,
    )
    src, n2 = re.subn(r"DEFAULT_THRESHOLD = [0-9.]+", f"DEFAULT_THRESHOLD = {threshold!r}", src,
                      count=1)
    if n1 != 1 or n2 != 1:
        raise SystemExit("could not find the defaults in linking.py")
    LINKING_PY.write_text(src, encoding="utf-8")
    print(f"wrote defaults to {LINKING_PY}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("dataset", nargs="?")
    ap.add_argument("--l2", type=float, default=1e-2)
    ap.add_argument("--write", action="store_true")
    ap.add_argument("--thresholds", default="0.2,0.3,0.4,0.5,0.6,0.7")
    args = ap.parse_args(argv)
    path = Path(args.dataset) if args.dataset else corpora_dir() / "events" / "allsides-dev.jsonl"
    rows = load_events(path, "dev")
    base = LinkSettings()
    X, y, recall = collect_pairs(rows, base)
    print(f"{len(rows)} tuning articles, {len(y)} candidate pairs, {int(y.sum())} positive; "
          f"candidate recall {recall:.3f}")
    w = fit_logistic(X, y, args.l2)
    weights = {"bias": round(float(w[-1]), 4)}
    fitted = dict(zip(FIT, w[:-1], strict=True))
    weights.update({name: round(float(fitted.get(name, 0.0)), 4) for name in FEATURES})
    for k, v in weights.items():
        print(f"  {k:14s} {v:+.4f}")
    best = None
    for t in (float(x) for x in args.thresholds.split(",")):
        s = LinkSettings(threshold=t, weights=dict(weights))
        res = replay(rows, s)
        bf, pf = res["bcubed"][2], res["pairwise"][2]
        print(f"  threshold {t:.2f}: BCubed F1 {bf:.4f} pairwise F1 {pf:.4f} "
              f"(P {res['pairwise'][0]:.3f} R {res['pairwise'][1]:.3f})")
        if best is None or (bf + pf) / 2 > best[0]:
            best = ((bf + pf) / 2, t)
    assert best is not None
    print(f"best threshold {best[1]}")
    if args.write:
        write_defaults(weights, best[1])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
