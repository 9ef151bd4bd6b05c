"""Copies and events through the store: batch-split independence, relink, seeds."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from newsdesk.importer import import_file
from newsdesk.link_stage import relink
from newsdesk.store import Store

from .sitekit import paragraphs


def _rows(n_stories: int = 6) -> list[dict]:
    """Stories told by three outlets each (two rewrites + one wire copy), over a few days."""
    rows = []
    start = datetime(2025, 11, 1, 8, tzinfo=UTC)
    for s in range(n_stories):
        base = paragraphs(f"story-{s}", 8)
        when = start + timedelta(hours=20 * s)
        rows.append({"url": f"https://one.example/{s}", "title": f"Story {s} first report",
                     "text": " ".join(base), "source": "One", "published": when.isoformat()})
        copy = base[:7] + ["Reporting by the agency; editing by the desk."]
        rows.append({"url": f"https://two.example/{s}", "title": f"Wire: story {s}",
                     "text": " ".join(copy), "source": "Two",
                     "published": (when + timedelta(hours=2)).isoformat()})
    return rows


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _events(store: Store) -> dict[str, tuple]:
    """url -> (event as the set of urls in it, url of what it is a copy of)"""
    by_id = {r["id"]: r["url"] for r in store.query("SELECT id, url FROM articles")}
    groups: dict[int, set[str]] = {}
    for r in store.query("SELECT url, event_id FROM articles"):
        groups.setdefault(r["event_id"], set()).add(r["url"])
    return {r["url"]: (frozenset(groups[r["event_id"]]), by_id.get(r["duplicate_of"]))
            for r in store.query("SELECT url, event_id, duplicate_of FROM articles")}


def test_copies_collapse_and_share_the_event(tmp_path):
    with Store.open(tmp_path / "a.db") as store:
        import_file(store, _write(tmp_path / "a.jsonl", _rows()))
        ev = _events(store)
        for s in range(6):
            group, copy_of = ev[f"https://two.example/{s}"]
            assert copy_of == f"https://one.example/{s}"
            assert group == {f"https://one.example/{s}", f"https://two.example/{s}"}


def test_split_batches_give_the_same_events_as_one(tmp_path):
    rows = _rows()
    with Store.open(tmp_path / "one.db") as store:
        import_file(store, _write(tmp_path / "all.jsonl", rows))
        whole = _events(store)
    with Store.open(tmp_path / "two.db") as store:
        import_file(store, _write(tmp_path / "p1.jsonl", rows[:5]))
        import_file(store, _write(tmp_path / "p2.jsonl", rows[5:]))
        split = _events(store)
    assert split == whole


def test_relink_and_reimport_change_nothing(tmp_path):
    with Store.open(tmp_path / "a.db") as store:
        path = _write(tmp_path / "a.jsonl", _rows())
        import_file(store, path)
        before = _events(store)
        n_events = store.execute("SELECT COUNT(*) FROM events").fetchone()[0]
        summary = import_file(store, path)
        assert summary.new == 0 and summary.unchanged == 12
        relink(store)
        assert _events(store) == before
        relink(store, since=datetime(2025, 11, 3, tzinfo=UTC))
        assert _events(store) == before
        assert store.execute("SELECT COUNT(*) FROM events").fetchone()[0] == n_events


def test_time_window_keeps_a_month_old_copy_apart(tmp_path):
    base = " ".join(paragraphs("old-story", 8))
    rows = [{"url": "https://a.example/1", "title": "Report", "text": base, "source": "A",
             "published": "2025-10-01T08:00:00Z"},
            {"url": "https://b.example/1", "title": "Report", "text": base, "source": "B",
             "published": "2025-11-01T08:00:00Z"}]
    with Store.open(tmp_path / "a.db") as store:
        import_file(store, _write(tmp_path / "w.jsonl", rows))
        ev = _events(store)
        assert ev["https://a.example/1"][0] != ev["https://b.example/1"][0]


def test_next_run_restores_its_window_from_stored_analyses(tmp_path, monkeypatch):
    import newsdesk.link_stage as stage

    rows = _rows()
    with Store.open(tmp_path / "one.db") as store:
        import_file(store, _write(tmp_path / "all.jsonl", rows))
        whole = _events(store)
    made: list[str] = []
    real = stage.analyse

    def counted(title, text):
        made.append(title)
        return real(title, text)

    monkeypatch.setattr(stage, "analyse", counted)
    with Store.open(tmp_path / "two.db") as store:
        import_file(store, _write(tmp_path / "p1.jsonl", rows[:7]))
        # the articles the linker indexed (copies are not), and only those, are analysed
        assert sorted(made) == [f"Story {s} first report" for s in range(4)]
        stored = store.execute("SELECT COUNT(*) FROM link_analysis").fetchone()[0]
        assert stored == 4
        made.clear()
        import_file(store, _write(tmp_path / "p2.jsonl", rows[7:]))
        # the second run restored stories 0-3 from the store and analysed the new ones only
        assert sorted(made) == ["Story 4 first report", "Story 5 first report"]
        assert _events(store) == whole
        # analyses older than the newest article's window (and a day) are dropped
        kept = {r[0] for r in store.execute(
            "SELECT a.url FROM link_analysis l JOIN articles a ON a.id = l.article_id")}
        assert kept == {f"https://one.example/{s}" for s in range(1, 6)}
        # without them a run makes them again (restored window and relinked articles alike),
        # stores them, and decides alike
        store.execute("DELETE FROM link_analysis")
        made.clear()
        relink(store, since=datetime(2025, 11, 4, tzinfo=UTC))
        assert _events(store) == whole
        assert sorted(made) == [f"Story {s} first report" for s in range(1, 6)]
        made.clear()
        relink(store, since=datetime(2025, 11, 4, tzinfo=UTC))
        assert made == [] and _events(store) == whole
        relink(store)  # everything again, from the start: the table ends the window's size
        assert _events(store) == whole
        assert {r[0] for r in store.execute(
            "SELECT a.url FROM link_analysis l JOIN articles a ON a.id = l.article_id")} == kept


def test_an_edited_article_is_analysed_again(tmp_path):
    from newsdesk.linking import analyse

    rows = _rows()
    with Store.open(tmp_path / "a.db") as store:
        import_file(store, _write(tmp_path / "p1.jsonl", rows[:6]))
        edited = dict(rows[2], title="Story 1 first report, updated",
                      text=" ".join(paragraphs("story-1-rewritten", 8)))
        import_file(store, _write(tmp_path / "p2.jsonl", [edited, *rows[6:]]))
        aid, title, text = store.execute(
            "SELECT id, title, text FROM articles WHERE url = ?", [edited["url"]]).fetchone()
        assert title == edited["title"]
        data = store.execute("SELECT data FROM link_analysis WHERE article_id = ?",
                             [aid]).fetchone()[0]
        assert data == analyse(title, text).dumps()
