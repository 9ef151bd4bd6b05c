"""Event-linking evaluation.

Modes:

* ``linking_eval.py [DATASET.jsonl] [--split dev|test|all]`` replays a labelled set
  (default ``<corpora>/events/allsides-dev.jsonl``, held-out half ``test``) through the real
  :class:`newsdesk.linking.Linker` in timestamp order (undated articles after the dated
  ones, in a stable order by id) and prints BCubed and pairwise precision/recall/F1,
  gold vs predicted cluster counts and time per article. The set is split BY EVENT with a
  hash of the event label: ``dev`` is the tuning half (weights and threshold are fitted
  on it only), ``test`` the held-out half; each split replays only its own articles.
* ``--pairs [FILE]``: pair classification on ``semeval2022-en-pairs.jsonl`` with
  ``Linker.explain`` (same event = human ``overall`` <= 2).
* ``--seed``: imports the ~600 real articles of ``articles/aeb`` and ``articles/naeb``
  together with the two seed reports and prints every multi-article event formed.

The corpora folder is ``$NEWSDESK_CORPORA``, else ``<repo>/../shared/corpora``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from collections import defaultdict
from collections.abc import Hashable, Iterable
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from newsdesk.linking import LinkDoc, Linker, LinkSettings  # noqa: E402


def corpora_dir() -> Path:
    env = os.environ.get("NEWSDESK_CORPORA")
    return Path(env) if env else REPO.parent / "shared" / "corpora"


def seeds_dir() -> Path:
    return corpora_dir().parent / "seeds"


# -- data ---------------------------------------------------------------------------------


def parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def split_of(event: str) -> str:
    """Deterministic split by event label: half 'dev' (tuning), half 'test' (held out)."""
    h = int(hashlib.sha1(event.encode()).hexdigest()[:8], 16)
    return "test" if h % 2 else "dev"


def load_events(path: Path, split: str = "all") -> list[tuple[LinkDoc, str]]:
    """(doc, gold event) in replay order: by date, undated after, ties by id."""
    rows = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            r = json.loads(line)
            if split != "all" and split_of(r["event"]) != split:
                continue
            doc = LinkDoc(
                key=r["id"],
                title=r.get("title"),
                text=r.get("text"),
                source=r.get("source"),
                published=parse_date(r.get("published")),
            )
            rows.append((doc, r["event"]))
    far = datetime.max.replace(tzinfo=UTC)
    rows.sort(key=lambda de: (de[0].published or far, str(de[0].key)))
    return rows


def subsets(rows: list[tuple[LinkDoc, str]]) -> dict[str, list[tuple[LinkDoc, str]]]:
    """Split replay rows into the dated and the undated articles (order kept)."""
    return {
        "dated": [r for r in rows if r[0].published is not None],
        "undated": [r for r in rows if r[0].published is None],
    }


# -- metrics ------------------------------------------------------------------------------


def bcubed(gold: dict[Hashable, str], pred: dict[Hashable, int]) -> tuple[float, float, float]:
    g_members: dict[str, set] = defaultdict(set)
    p_members: dict[int, set] = defaultdict(set)
    for k, e in gold.items():
        g_members[e].add(k)
    for k, e in pred.items():
        p_members[e].add(k)
    p_sum = r_sum = 0.0
    for k in gold:
        g = g_members[gold[k]]
        p = p_members[pred[k]]
        inter = len(g & p)
        p_sum += inter / len(p)
        r_sum += inter / len(g)
    n = len(gold)
    p, r = p_sum / n, r_sum / n
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def pairwise(gold: dict[Hashable, str], pred: dict[Hashable, int]) -> tuple[float, float, float]:
    def pairs(labels: dict) -> set:
        groups: dict = defaultdict(list)
        for k, e in labels.items():
            groups[e].append(k)
        out = set()
        for ks in groups.values():
            ks = sorted(ks, key=str)
            for i in range(len(ks)):
                for j in range(i + 1, len(ks)):
                    out.add((ks[i], ks[j]))
        return out

    g, p = pairs(gold), pairs(pred)
    tp = len(g & p)
    prec = tp / len(p) if p else 1.0
    rec = tp / len(g) if g else 1.0
    return prec, rec, (2 * prec * rec / (prec + rec) if prec + rec else 0.0)


def replay(
    rows: Iterable[tuple[LinkDoc, str]], settings: LinkSettings | None = None
) -> dict:
    linker = Linker(settings)
    gold: dict[Hashable, str] = {}
    pred: dict[Hashable, int] = {}
    t0 = time.perf_counter()
    for doc, event in rows:
        gold[doc.key] = event
        pred[doc.key] = linker.add(doc).event_id
    elapsed = time.perf_counter() - t0
    bp, br, bf = bcubed(gold, pred)
    pp, pr, pf = pairwise(gold, pred)
    return {
        "articles": len(gold),
        "gold_events": len(set(gold.values())),
        "pred_events": len(set(pred.values())),
        "bcubed": (bp, br, bf),
        "pairwise": (pp, pr, pf),
        "ms_per_article": 1000 * elapsed / max(1, len(gold)),
        "pred": pred,
    }


def print_report(name: str, res: dict) -> None:
    bp, br, bf = res["bcubed"]
    pp, pr, pf = res["pairwise"]
    print(f"{name}: {res['articles']} articles, gold events {res['gold_events']}, "
          f"predicted events {res['pred_events']}")
    print(f"  BCubed   P {bp:.3f}  R {br:.3f}  F1 {bf:.3f}")
    print(f"  pairwise P {pp:.3f}  R {pr:.3f}  F1 {pf:.3f}")
    print(f"  {res['ms_per_article']:.2f} ms per article")


# -- semeval pairs ------------------------------------------------------------------------


def _split_title(text: str) -> tuple[str | None, str]:
    return None, text


def eval_pairs(path: Path, settings: LinkSettings | None = None, cut: float = 2.0) -> dict:
    """Pair classification with Linker.explain: gold same-event = overall <= cut."""
    linker = Linker(settings)
    tp = fp = fn = tn = 0
    with open(path, encoding="utf-8") as fh:
        records = [json.loads(line) for line in fh if line.strip()]
    pairs = [
        (LinkDoc(("a", r["pair_id"]), None, r["text1"], None, None),
         LinkDoc(("b", r["pair_id"]), None, r["text2"], None, None), r)
        for r in records
    ]
    # document frequencies as in a running linker: index every text (each its own event)
    for i, (a, b, _) in enumerate(pairs):
        linker.restore(a, 2 * i + 1)
        linker.restore(b, 2 * i + 2)
    for a, b, r in pairs:
        same = linker.explain(a, b)["same_event"]
        gold = float(r["overall"]) <= cut
        tp += same and gold
        fp += same and not gold
        fn += (not same) and gold
        tn += (not same) and not gold
    p = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * rec / (p + rec) if p + rec else 0.0
    return {"tp": tp, "fp": fp, "fn": fn, "tn": tn, "p": p, "r": rec, "f1": f}


# -- real articles + seeds ----------------------------------------------------------------


def load_real_articles() -> list[tuple[LinkDoc, str]]:
    """(doc, label) for the aeb + naeb articles and the seeds; label is url or seed name."""
    root = corpora_dir() / "articles"
    out: list[tuple[LinkDoc, str]] = []
    aeb = root / "aeb" / "ground-truth.json"
    if aeb.exists():
        data = json.loads(aeb.read_text(encoding="utf-8"))
        for aid, rec in sorted(data.items()):
            body = rec.get("articleBody") or ""
            out.append((LinkDoc(f"aeb:{aid}", None, body, None, None), rec.get("url") or aid))
    naeb = root / "naeb" / "news_articles.json"
    if naeb.exists():
        for rec in json.loads(naeb.read_text(encoding="utf-8")):
            doc = LinkDoc(
                f"naeb:{rec.get('id')}",
                rec.get("title"),
                rec.get("text"),
                rec.get("site"),
                parse_date(rec.get("date")),
            )
            out.append((doc, f"{rec.get('title')} <{rec.get('link')}>"))
    for path in sorted(seeds_dir().glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        out.append((LinkDoc(f"seed:{path.name}", None, text, None, None), f"seed {path.name}"))
    far = datetime.max.replace(tzinfo=UTC)
    out.sort(key=lambda dl: (dl[0].published or far, str(dl[0].key)))
    return out


def link_real_articles(settings: LinkSettings | None = None) -> tuple[dict, Linker, dict]:
    """Link the real articles; returns (event -> keys, linker, key -> label)."""
    linker = Linker(settings)
    events: dict[int, list] = defaultdict(list)
    labels: dict = {}
    for doc, label in load_real_articles():
        res = linker.add(doc)
        events[res.event_id].append(doc.key)
        labels[doc.key] = (label, doc, res)
    return events, linker, labels


def print_real_events(settings: LinkSettings | None = None) -> None:
    events, linker, labels = link_real_articles(settings)
    multi = {e: ks for e, ks in events.items() if len(ks) > 1}
    print(f"{len(labels)} articles, {len(events)} events, {len(multi)} with several articles")
    for e, ks in sorted(multi.items()):
        print(f"\nevent {e}:")
        for k in ks:
            label, _, res = labels[k]
            print(f"  - {k}: {label[:110]}")
            if not res.is_new:
                ev = res.evidence
                print(f"      score {res.score:.3f} vs {res.matched}; "
                      f"names {ev['shared_names'][:6]}; quotes {ev['shared_quotes'][:2]}; "
                      f"rare {ev['shared_rare_terms'][:6]}")


# -- main ---------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("dataset", nargs="?", help="labelled JSONL (default: allsides-dev.jsonl)")
    ap.add_argument("--split", choices=("dev", "test", "all"), default="test")
    ap.add_argument("--pairs", nargs="?", const="", default=None,
                    help="semeval pairs mode (default file in <corpora>/events)")
    ap.add_argument("--seed", action="store_true", help="real articles + seeds mode")
    ap.add_argument("--threshold", type=float, default=None)
    args = ap.parse_args(argv)
    settings = LinkSettings()
    if args.threshold is not None:
        settings.threshold = args.threshold
    if args.seed:
        if not (corpora_dir() / "articles").exists():
            print(f"skipped: no corpora at {corpora_dir()}")
            return 0
        print_real_events(settings)
        return 0
    if args.pairs is not None:
        path = Path(args.pairs) if args.pairs else (
            corpora_dir() / "events" / "semeval2022-en-pairs.jsonl")
        if not path.exists():
            print(f"skipped: {path} not found")
            return 0
        for cut in (1.5, 2.0, 2.5):
            r = eval_pairs(path, settings, cut)
            print(f"semeval pairs, same event = overall <= {cut}: P {r['p']:.3f} R {r['r']:.3f} "
                  f"F1 {r['f1']:.3f} (tp {r['tp']} fp {r['fp']} fn {r['fn']} tn {r['tn']})")
        return 0
    path = Path(args.dataset) if args.dataset else corpora_dir() / "events" / "allsides-dev.jsonl"
    if not path.exists():
        print(f"skipped: {path} not found")
        return 0
    rows = load_events(path, args.split)
    res = replay(rows, settings)
    print_report(f"{path.name} [{args.split}]", res)
    # The two kinds of story in the set, each replayed on its own: articles with real dates
    # and outlets (as from feeds: the time window applies) and undated ones (every report of
    # ten years competes with every other).
    for name, sub in subsets(rows).items():
        print_report(f"  {name} subset, replayed alone", replay(sub, settings))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
