from __future__ import annotations

import sqlite3

import pytest

from newsdesk.errors import StorageError
from newsdesk.models import Article, When
from newsdesk.store import SCHEMA_MIGRATIONS, Store, migrations, utcnow


def test_blank_database_gets_every_migration(tmp_path):
    with Store.open(tmp_path / "a.db") as store:
        assert store.applied_migrations() == SCHEMA_MIGRATIONS
        tables = set(store.db.table_names())
        assert {"feeds", "articles", "article_feeds", "events", "event_links", "runs",
                "feed_runs", "articles_fts"} <= tables
        assert store.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        cols = {c.name for c in store.db["articles"].columns}
        assert {"duplicate_of", "event_id", "signature", "content_hash"} <= cols
        assert "body_hash" in {c.name for c in store.db["feeds"].columns}
        _assert_search_schema(store)
        assert [c.name for c in store.db["link_analysis"].columns] == [
            "article_id", "sort_date", "data"]


def _assert_search_schema(store):
    """What m006 leaves: FTS5 with prefix doclists, its three triggers, the filter index."""
    fts = store.execute("SELECT sql FROM sqlite_master WHERE name = 'articles_fts'").fetchone()
    assert "prefix='2 3'" in fts[0] and "content='articles'" in fts[0]
    triggers = dict(store.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                                  "AND tbl_name = 'articles'").fetchall())
    assert set(triggers) == {"articles_ai", "articles_ad", "articles_au",
                             "link_analysis_au", "link_analysis_ad"}
    assert "UPDATE OF title, text" in triggers["articles_au"]
    assert "UPDATE OF title, text" in triggers["link_analysis_au"]
    index = [r[2] for r in store.execute("PRAGMA index_info(idx_articles_search_filters)")]
    assert index == ["id", "duplicate_of", "sort_date", "source", "site", "language",
                     "event_id", "tags"]


def test_older_database_is_upgraded_and_keeps_its_rows(tmp_path):
    import sqlite_utils

    path = tmp_path / "old.db"
    db = sqlite_utils.Database(path)
    migrations.apply(db, stop_before="m003_copies_and_events")  # as an older release left it
    db.execute(
        "INSERT INTO articles (url, canonical_url, title, text, fetched_at, sort_date, "
        "extraction_status) VALUES ('u', 'u', 'Old title', 'old text about harbours', "
        "'2025-01-01T00:00:00+00:00', '2025-01-01T00:00:00+00:00', 'ok')"
    )
    db.conn.commit()
    assert "events" not in db.table_names()
    db.close()
    with Store.open(path) as store:
        assert store.applied_migrations() == SCHEMA_MIGRATIONS
        row = next(store.query("SELECT title, event_id, linked_at FROM articles"))
        assert row == {"title": "Old title", "event_id": None, "linked_at": None}
        hits = store.execute("SELECT COUNT(*) FROM articles_fts WHERE articles_fts MATCH "
                             "'harbours'").fetchone()[0]
        assert hits == 1


def test_database_at_m007_gets_link_analysis_that_follows_its_articles(tmp_path):
    import sqlite_utils

    path = tmp_path / "m007.db"
    db = sqlite_utils.Database(path)
    migrations.apply(db, stop_before="m008_link_analysis")  # as the previous release left it
    db.close()
    with Store.open(path) as store:
        assert store.applied_migrations() == SCHEMA_MIGRATIONS
        aid, _ = store.save_article(_article("https://x/a", "a text about harbours"))
        other, _ = store.save_article(_article("https://x/b", "a text about ferries"))
        when = utcnow()
        with store.atomic():
            store.save_analyses([(aid, when, b"one"), (other, when, b"two")])
        store.execute("UPDATE articles SET linked_at = 'x', agency = 'AP' WHERE id = ?", [aid])
        assert store.stored_articles([aid])[aid].analysis == b"one"  # bookkeeping: kept
        store.save_article(_article("https://x/a", "an edited text about harbours"))
        assert store.stored_articles([aid])[aid].analysis is None  # text changed: dropped
        assert store.stored_articles([other])[other].analysis == b"two"
        for change in ("title = 'A new title'", "text = NULL", "text = 'back again'"):
            with store.atomic():
                store.save_analyses([(aid, when, b"again")])
            store.execute(f"UPDATE articles SET {change} WHERE id = ?", [aid])
            assert store.stored_articles([aid])[aid].analysis is None, change
        store.execute("DELETE FROM article_feeds")
        store.execute("DELETE FROM articles WHERE id = ?", [other])
        assert store.execute("SELECT COUNT(*) FROM link_analysis").fetchone()[0] == 0


def test_reopen_applies_nothing_twice(tmp_path):
    Store.open(tmp_path / "a.db").close()
    with Store.open(tmp_path / "a.db") as store:
        assert store.applied_migrations() == SCHEMA_MIGRATIONS


def test_corrupt_file_is_a_clear_storage_error(tmp_path):
    path = tmp_path / "bad.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StorageError, match="corrupt"):
        Store.open(path)


def test_missing_directory(tmp_path):
    with pytest.raises(StorageError, match="cannot open"):
        Store.open(tmp_path / "no" / "such" / "dir.db")


def _article(url, text, title="T"):
    return Article(url=url, canonical_url=url, title=title, text=text, feed=None,
                   published=When(None), fetched_at=utcnow())


def test_save_article_versions_and_fts_in_step(tmp_path):
    with Store.open(tmp_path / "a.db") as store:
        aid, outcome = store.save_article(_article("https://x/1", "first text of the story"))
        assert outcome == "new"
        assert store.save_article(_article("https://x/1", "first text of the story"))[1] == (
            "unchanged")
        assert store.save_article(_article("https://x/1", "edited text", "New"))[1] == "updated"
        row = next(store.query("SELECT title, text, version FROM articles"))
        assert row == {"title": "New", "text": "edited text", "version": 2}
        old = next(store.query("SELECT title, text, version FROM article_versions"))
        assert old == {"title": "T", "text": "first text of the story", "version": 1}
        assert store.execute("SELECT COUNT(*) FROM articles_fts WHERE articles_fts MATCH "
                             "'edited'").fetchone()[0] == 1
        assert store.execute("SELECT COUNT(*) FROM articles_fts WHERE articles_fts MATCH "
                             "'first'").fetchone()[0] == 0
        assert store.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_failed_write_leaves_no_half_article(tmp_path):
    with Store.open(tmp_path / "a.db") as store:
        bad = _article("https://x/2", "text")
        bad.feed = "no-such-feed"  # membership violates the feeds foreign key
        with pytest.raises(sqlite3.IntegrityError):
            store.save_article(bad)
        assert store.execute("SELECT COUNT(*) FROM articles").fetchone()[0] == 0
        assert store.execute("SELECT COUNT(*) FROM articles_fts").fetchone()[0] == 0


def test_bookkeeping_updates_do_not_touch_fts_but_text_edits_do(tmp_path):
    with Store.open(tmp_path / "a.db") as store:
        aid, _ = store.save_article(_article("https://x/9", "original words here"))
        trigger = store.execute("SELECT sql FROM sqlite_master WHERE name = 'articles_au'"
                                ).fetchone()[0]
        assert "UPDATE OF title, text" in trigger  # link-stage updates must not re-index
        store.execute("UPDATE articles SET agency = 'Reuters', linked_at = 'x' WHERE id = ?",
                      [aid])
        # an FTS5 external-content 'delete' with stale values would corrupt the index:
        store.execute("INSERT INTO articles_fts(articles_fts) VALUES('integrity-check')")
        assert store.execute("SELECT COUNT(*) FROM articles_fts WHERE articles_fts MATCH "
                             "'original'").fetchone()[0] == 1
        store.execute("UPDATE articles SET text = 'replaced words' WHERE id = ?", [aid])
        store.execute("INSERT INTO articles_fts(articles_fts) VALUES('integrity-check')")
        assert store.execute("SELECT COUNT(*) FROM articles_fts WHERE articles_fts MATCH "
                             "'original'").fetchone()[0] == 0
        assert store.execute("SELECT COUNT(*) FROM articles_fts WHERE articles_fts MATCH "
                             "'replaced'").fetchone()[0] == 1


def test_m005_database_with_rows_is_upgraded_to_prefix_search(tmp_path):
    import sqlite_utils

    from newsdesk import query

    path = tmp_path / "m005.db"
    db = sqlite_utils.Database(path)
    migrations.apply(db, stop_before="m006_search_prefix_index_and_filter_index")
    for i, (title, text) in enumerate([("Harbour strike ends", "dockers return to work"),
                                       ("Budget vote", "the harbourmaster resigned"),
                                       ("Museum opens", "nothing about ports")]):
        db.execute(
            "INSERT INTO articles (url, canonical_url, title, text, fetched_at, sort_date, "
            "extraction_status, source) VALUES (?, ?, ?, ?, '2025-01-01T00:00:00+00:00', "
            "?, 'ok', 'Gazette')", [f"u{i}", f"u{i}", title, text,
                                    f"2025-01-0{i + 1}T00:00:00+00:00"])
    db.conn.commit()
    assert "prefix" not in db.execute("SELECT sql FROM sqlite_master WHERE name = "
                                      "'articles_fts'").fetchone()[0]
    db.close()
    with Store.open(path) as store:
        assert store.applied_migrations() == SCHEMA_MIGRATIONS
        _assert_search_schema(store)
        store.execute("INSERT INTO articles_fts(articles_fts) VALUES('integrity-check')")
        for q, titles in [("harbour*", {"Harbour strike ends", "Budget vote"}),
                          ("ha*", {"Harbour strike ends", "Budget vote"}),
                          ("har* source:gazette", {"Harbour strike ends", "Budget vote"}),
                          ("museum", {"Museum opens"}),
                          ("title:harb*", {"Harbour strike ends"})]:
            assert {h["title"] for h in query.search(store, q)} == titles, q
        # the rows added after the upgrade are indexed by the recreated triggers
        store.save_article(_article("https://x/new", "a harbour crane fell", "Crane"))
        store.execute("UPDATE articles SET text = 'no ports here' WHERE title = 'Budget vote'")
        assert {h["title"] for h in query.search(store, "harb*")} == {
            "Harbour strike ends", "Crane"}
        store.execute("DELETE FROM articles WHERE title = 'Crane'")
        assert {h["title"] for h in query.search(store, "harb*")} == {"Harbour strike ends"}
        store.execute("INSERT INTO articles_fts(articles_fts) VALUES('integrity-check')")


def test_m006_database_keeps_its_feeds_and_gains_the_body_hash(tmp_path):
    import sqlite_utils

    path = tmp_path / "m006.db"
    db = sqlite_utils.Database(path)
    migrations.apply(db, stop_before="m007_feed_body_hash")
    db.execute("INSERT INTO feeds (name, url, etag, consecutive_failures) "
               "VALUES ('Gazette', 'https://g.example/feed', '\"v1\"', 0)")
    db.conn.commit()
    db.close()
    with Store.open(path) as store:
        assert store.applied_migrations() == SCHEMA_MIGRATIONS
        state = store.feed_state("Gazette")
        assert (state.etag, state.body_hash) == ('"v1"', None)
        store.set_validators("Gazette", None, None, "ab" * 32)
        assert store.feed_state("Gazette").body_hash == "ab" * 32
