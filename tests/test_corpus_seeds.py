"""The seed pair among ~600 real articles, through the real import + link path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from newsdesk.importer import import_file
from newsdesk.store import Store


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.mark.corpus
def test_seeds_form_one_event_among_real_articles(corpora, tmp_path):
    """The two seed reports, imported with ~600 real articles, form one event of two."""
    seeds = sorted((corpora.parent / "seeds").glob("*.txt"))
    assert len(seeds) == 2
    rows = []
    for i, p in enumerate(seeds):
        text = p.read_text()
        rows.append({"url": f"https://seed{i}.example/report", "title": text.split("\n")[0][:120],
                     "text": text, "source": f"seed outlet {i}", "published": "2025-11-20"})
    aeb = json.loads((corpora / "articles" / "aeb" / "ground-truth.json").read_text())
    for key, item in aeb.items():
        rows.append({"url": item.get("url") or f"https://aeb.example/{key}",
                     "text": item["articleBody"], "source": "aeb", "published": "2025-11-20"})
    naeb = json.loads((corpora / "articles" / "naeb" / "news_articles.json").read_text())
    for item in naeb:
        rows.append({"url": item["link"], "title": item["title"], "text": item["text"],
                     "source": item["site"], "published": "2025-11-20"})
    rows = [r for r in rows if r["text"] and r["text"].strip()]
    with Store.open(tmp_path / "real.db") as store:
        summary = import_file(store, _write(tmp_path / "real.jsonl", rows))
        assert not summary.bad
        events = {r["url"]: r["event_id"] for r in store.query("SELECT url, event_id FROM articles")}
        seed_events = {events["https://seed0.example/report"], events["https://seed1.example/report"]}
        assert len(seed_events) == 1
        members = [u for u, e in events.items() if e in seed_events]
        assert sorted(members) == ["https://seed0.example/report", "https://seed1.example/report"]
        multi = list(store.query(
            "SELECT e.id, e.n_articles, group_concat(a.url, ' | ') AS urls FROM events e "
            "JOIN articles a ON a.event_id = e.id WHERE e.n_articles > 1 GROUP BY e.id"))
        print(f"\n[corpus] {len(rows)} real articles + seeds: {len(multi)} multi-article events")
        for m in multi:
            print(f"  event {m['id']} ({m['n_articles']}): {m['urls'][:300]}")
