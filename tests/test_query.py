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
