"""Search internals: the candidate cap and its fallback, field operators."""

from __future__ import annotations

import json

import pytest

from newsdesk import query
from newsdesk.errors import QueryError
from newsdesk.importer import import_file
from newsdesk.store import Store

from .sitekit import paragraphs


@pytest.fixture
def store(tmp_path):
    rows = []
    for i in range(8):
        rows.append({"url": f"https://x.example/{i}", "title": f"Pelican report {i}",
                     "text": " ".join(paragraphs(f"pel-{i}")) + " pelican",
                     "source": "Old" if i < 4 else "New",
                     "published": f"2025-11-{10 + i:02d}T08:00:00Z"})
    for i in range(6):  # so that pelican is a rare word with a real idf
        rows.append({"url": f"https://y.example/{i}", "title": f"Other {i}",
                     "text": " ".join(paragraphs(f"other-{i}"))})
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    s = Store.open(tmp_path / "q.db")
    import_file(s, path)
    yield s
    s.close()


def test_capped_search_ranks_the_newest_matches(store, monkeypatch):
    monkeypatch.setattr(query, "SEARCH_CANDIDATES", 3)
    hits = list(query.search(store, "pelican", limit=3))
    assert {h["title"] for h in hits} == {"Pelican report 5", "Pelican report 6",
                                          "Pelican report 7"}
    assert all("[pelican]" in h["snippet"].lower() for h in hits)


def test_capped_search_falls_back_when_filters_leave_too_few(store, monkeypatch):
    monkeypatch.setattr(query, "SEARCH_CANDIDATES", 3)
    hits = list(query.search(store, "pelican source:old", limit=10))
    assert len(hits) == 4 and {h["source"] for h in hits} == {"Old"}


def test_uncapped_search_sees_everything(store):
    assert len(list(query.search(store, "pelican", limit=50))) == 8


def test_date_operator_and_negation(store):
    hits = list(query.search(store, "pelican date:2025-11-12..2025-11-13", limit=50))
    assert sorted(h["title"] for h in hits) == ["Pelican report 2", "Pelican report 3"]
    hits = list(query.search(store, "pelican -source:new", limit=50))
    assert {h["source"] for h in hits} == {"Old"}


@pytest.mark.parametrize("q", ["-pelican", "source:old", "event:abc"])
def test_queries_without_words_or_with_bad_operators(store, q):
    with pytest.raises(QueryError):
        list(query.search(store, q))


def test_top_cut_widens_to_the_same_answer_as_a_full_ranking(store, monkeypatch):
    full = [h["id"] for h in query.search(store, "pelican source:old", limit=50)]
    monkeypatch.setattr(query, "TOP_FACTOR", 1)
    monkeypatch.setattr(query, "SEARCH_CANDIDATES", 5)
    for limit in (1, 2, 3):
        got = [h["id"] for h in query.search(store, "pelican source:old", limit=limit)]
        assert got == full[:limit]


def test_top_cut_without_filters_matches_the_full_ranking(store, monkeypatch):
    full = [h["id"] for h in query.search(store, "pelican", limit=50)]
    monkeypatch.setattr(query, "TOP_FACTOR", 1)
    for limit in (1, 3, 5):
        assert [h["id"] for h in query.search(store, "pelican", limit=limit)] == full[:limit]


def test_widening_decisions_need_no_extra_count(store, monkeypatch):
    # the step's own candidate count decides widening; no separate COUNT over the matches
    calls = []
    real = query._ranked

    def spy(*args):
        calls.append(args[5:])  # (candidates, top)
        return real(*args)

    monkeypatch.setattr(query, "_ranked", spy)
    assert len(list(query.search(store, "pelican", limit=5))) == 5
    assert calls == [(query.SEARCH_CANDIDATES, 20)]  # 8 matches: the first step saw them all
    calls.clear()
    monkeypatch.setattr(query, "SEARCH_CANDIDATES", 3)
    assert len(list(query.search(store, "pelican source:old", limit=10))) == 4
    assert calls == [(3, None), (None, None)]  # capped step left too few: every match


def test_copies_collapsed_under_the_top_cut_widen_to_the_full_ranking(store, monkeypatch):
    ids = [h["id"] for h in query.search(store, "pelican", limit=50)]
    # the three best hits become copies of the fourth: collapsing drops them
    store.execute(f"UPDATE articles SET duplicate_of = ? WHERE id IN ({ids[0]}, {ids[1]}, "
                  f"{ids[2]})", [ids[3]])
    full = [h["id"] for h in query.search(store, "pelican", limit=50)]
    assert full == ids[3:]
    monkeypatch.setattr(query, "TOP_FACTOR", 1)
    monkeypatch.setattr(query, "SEARCH_CANDIDATES", 6)
    for limit in (1, 2, 3):
        got = list(query.search(store, "pelican", limit=limit))
        assert [h["id"] for h in got] == full[:limit]
    assert got[0]["copies"] == 3


def test_prefix_queries_match_as_without_a_prefix_index(store):
    # m006 adds prefix='2 3' doclists: answers and ranks must be those of a plain index
    store.execute("CREATE VIRTUAL TABLE plain USING fts5(title, text, "
                  "tokenize='porter unicode61')")
    store.execute("INSERT INTO plain (rowid, title, text) SELECT id, title, text FROM articles")
    for q in ("p*", "pe*", "pel*", "peli*", "pelican", "re* NOT pel*", '"pelican rep*"',
              "title:pe*"):
        want = store.execute(
            "SELECT rowid, round(bm25(plain, 10.0, 1.0), 6) FROM plain WHERE plain MATCH ? "
            "ORDER BY rowid", [q]).fetchall()
        got = store.execute(
            "SELECT rowid, round(bm25(articles_fts, 10.0, 1.0), 6) FROM articles_fts "
            "WHERE articles_fts MATCH ? ORDER BY rowid", [q]).fetchall()
        assert got == want, q
    hits = list(query.search(store, "pel*", limit=50))
    assert {h["title"] for h in hits} == {f"Pelican report {i}" for i in range(8)}
    assert all("[pelican]" in h["snippet"].lower() for h in hits)


def test_filters_are_checked_on_the_covering_index(store):
    # every filter reads only idx_articles_search_filters: a candidate's row (with its text
    # on overflow pages) is read only when it is returned
    f = query.Filters(sources=["old", "-new"], feeds=["x"], tags=["a", "-b"],
                      since=query.parse_when("2025-11-01", option="t"),
                      until=query.parse_when("2025-12-01", option="t"), language="en",
                      event=3)
    parsed = query.parse_query("pelican", f)
    for step in ((query.SEARCH_CANDIDATES, None), (None, None), (query.SEARCH_CANDIDATES, 80)):
        sql, args = query._ranked_sql(parsed, 20, 0, *step)
        plan = [r[3] for r in store.execute("EXPLAIN QUERY PLAN " + sql, args)]
        assert any("COVERING INDEX idx_articles_search_filters" in p for p in plan), plan
        # the only read of `articles` rows is the final one, of the rows returned
        assert [p for p in plan if p.startswith("SEARCH a ")] == [
            p for p in plan if "COVERING INDEX idx_articles_search_filters" in p] + [
            "SEARCH a USING INTEGER PRIMARY KEY (rowid=?) LEFT-JOIN"]


def test_stats_skip_scans_give_the_group_by_rows(store):
    store.execute("UPDATE articles SET source = NULL, extraction_status = 'failed', "
                  "site = 'y.example' WHERE url LIKE 'https://y.example/%' AND id % 2 = 0")
    store.execute("UPDATE articles SET extraction_status = 'paywall' WHERE title LIKE "
                  "'Pelican report 1%'")
    got = query.stats(store)
    by_source = [tuple(r.values()) for r in got["by_source"]]
    want = store.execute("SELECT source, COUNT(*), MAX(sort_date) FROM articles "
                         "GROUP BY source").fetchall()
    assert sorted(by_source, key=repr) == sorted(want, key=repr)
    assert [r[1] for r in by_source] == sorted((r[1] for r in by_source), reverse=True)
    assert None in {r[0] for r in by_source}
    failures = [tuple(r.values()) for r in got["extraction_failures"]]
    want = store.execute(
        "SELECT site, extraction_status, COUNT(*) FROM articles WHERE extraction_status "
        "NOT IN ('ok', 'skipped', 'imported') GROUP BY site, extraction_status").fetchall()
    assert sorted(failures) == sorted(want) and {r[1] for r in failures} == {"failed",
                                                                            "paywall"}
