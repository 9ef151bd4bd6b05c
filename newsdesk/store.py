"""The SQLite store: schema migrations, feed state, articles, memberships, events, runs.

Every write that belongs together happens in one transaction, so a run killed at any
moment leaves no half-written article; FTS5 is kept in step by triggers.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils
from sqlite_utils.migrations import Migrations

from .errors import StorageError
from .models import Article

log = logging.getLogger("newsdesk.store")

migrations = Migrations("newsdesk")


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(dt: datetime | None) -> str | None:
    return dt.astimezone(UTC).isoformat(timespec="seconds") if dt is not None else None


def parse_iso(value: str | None) -> datetime | None:
    if not value:
        return None
    dt = datetime.fromisoformat(value)
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


# --- migrations: ordered, named, each in its own transaction ----------------


@migrations(name="m001_feeds_articles_runs")
def m001(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE feeds (
            name TEXT PRIMARY KEY,
            url TEXT NOT NULL,
            title TEXT,
            tags TEXT,                      -- JSON list
            language TEXT,
            etag TEXT,
            last_modified TEXT,
            last_fetched TEXT,
            last_success TEXT,
            last_status INTEGER,
            consecutive_failures INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            last_warning TEXT,
            next_attempt TEXT
        );
        CREATE TABLE articles (
            id INTEGER PRIMARY KEY,
            url TEXT NOT NULL,
            canonical_url TEXT NOT NULL UNIQUE,
            guid TEXT,
            feed TEXT REFERENCES feeds(name),
            source TEXT,
            title TEXT,
            author TEXT,
            published TEXT,                 -- UTC ISO 8601, NULL when unknown
            published_raw TEXT,
            published_source TEXT,          -- feed, page, import
            published_status TEXT,          -- ok, missing, unparseable, future
            fetched_at TEXT NOT NULL,
            sort_date TEXT NOT NULL,        -- published, else fetched_at
            language TEXT,
            site TEXT,
            description TEXT,
            summary TEXT,
            text TEXT,
            content_hash TEXT,
            word_count INTEGER NOT NULL DEFAULT 0,
            extraction_status TEXT NOT NULL,
            extraction_error TEXT,
            tags TEXT,                      -- JSON list
            meta TEXT,                      -- JSON object
            version INTEGER NOT NULL DEFAULT 1,
            updated_at TEXT
        );
        CREATE INDEX idx_articles_sort_date ON articles(sort_date);
        CREATE INDEX idx_articles_content_hash ON articles(content_hash);
        CREATE INDEX idx_articles_source ON articles(source);
        CREATE TABLE article_feeds (
            article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
            feed TEXT NOT NULL REFERENCES feeds(name),
            guid TEXT,
            first_seen TEXT NOT NULL,
            PRIMARY KEY (article_id, feed)
        );
        CREATE INDEX idx_article_feeds_guid ON article_feeds(feed, guid);
        CREATE TABLE article_versions (
            id INTEGER PRIMARY KEY,
            article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
            version INTEGER NOT NULL,
            title TEXT,
            text TEXT,
            content_hash TEXT,
            recorded_at TEXT NOT NULL
        );
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            status TEXT,                    -- running, ok, partial, failed
            feeds_ok INTEGER, feeds_failed INTEGER, feeds_unchanged INTEGER,
            feeds_skipped INTEGER, articles_new INTEGER, articles_updated INTEGER,
            duration REAL
        );
        CREATE TABLE feed_runs (
            run_id INTEGER NOT NULL REFERENCES runs(id),
            feed TEXT NOT NULL REFERENCES feeds(name),
            outcome TEXT NOT NULL,          -- ok, unchanged, failed, skipped
            http_status INTEGER,
            entries INTEGER,
            articles_new INTEGER,
            duration REAL,
            error TEXT,
            PRIMARY KEY (run_id, feed)
        );
        """
    )


@migrations(name="m002_fulltext_search")
def m002(db: sqlite_utils.Database) -> None:
    # title weighted above body at query time: bm25(articles_fts, 10.0, 1.0)
    db["articles"].enable_fts(["title", "text"], create_triggers=True, tokenize="porter unicode61")


@migrations(name="m003_copies_and_events")
def m003(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            title TEXT,                     -- representative headline (first report)
            first_seen TEXT,
            last_seen TEXT,
            first_article_id INTEGER REFERENCES articles(id),
            first_source TEXT,
            agency TEXT,                    -- wire agency most reports rest on
            n_articles INTEGER NOT NULL DEFAULT 0,
            n_sources INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX idx_events_last_seen ON events(last_seen);
        ALTER TABLE articles ADD COLUMN duplicate_of INTEGER REFERENCES articles(id);
        ALTER TABLE articles ADD COLUMN copy_score REAL;
        ALTER TABLE articles ADD COLUMN agency TEXT;
        ALTER TABLE articles ADD COLUMN signature BLOB;   -- MinHash of the text
        ALTER TABLE articles ADD COLUMN event_id INTEGER REFERENCES events(id);
        ALTER TABLE articles ADD COLUMN linked_at TEXT;   -- NULL: waiting for the link stage
        CREATE INDEX idx_articles_event ON articles(event_id);
        CREATE INDEX idx_articles_duplicate_of ON articles(duplicate_of);
        CREATE INDEX idx_articles_unlinked ON articles(linked_at) WHERE linked_at IS NULL;
        CREATE TABLE event_links (
            article_id INTEGER PRIMARY KEY REFERENCES articles(id) ON DELETE CASCADE,
            event_id INTEGER NOT NULL REFERENCES events(id),
            score REAL,
            matched_article_id INTEGER REFERENCES articles(id),
            evidence TEXT,                  -- JSON: strongest evidence of the link
            linked_at TEXT NOT NULL
        );
        CREATE INDEX idx_event_links_event ON event_links(event_id);
        """
    )


@migrations(name="m004_indexes_for_stats_and_events")
def m004(db: sqlite_utils.Database) -> None:
    # stats and `events --largest` read these without scanning rows full of article text
    db.executescript(
        """
        CREATE INDEX idx_articles_source_date ON articles(source, sort_date);
        CREATE INDEX idx_articles_status_site ON articles(extraction_status, site);
        CREATE INDEX idx_events_size ON events(n_sources, n_articles, last_seen);
        """
    )


@migrations(name="m005_fts_update_trigger_on_text_only")
def m005(db: sqlite_utils.Database) -> None:
    # The trigger sqlite-utils creates re-indexes an article on ANY update; the link stage
    # updates bookkeeping columns (event_id, duplicate_of, signature...) of every article,
    # which then re-tokenised its whole text for nothing. Fire only when title/text change.
    db.executescript(
        """
        DROP TRIGGER IF EXISTS articles_au;
        CREATE TRIGGER articles_au AFTER UPDATE OF title, text ON articles BEGIN
          INSERT INTO articles_fts (articles_fts, rowid, title, text)
            VALUES('delete', old.rowid, old.title, old.text);
          INSERT INTO articles_fts (rowid, title, text) VALUES (new.rowid, new.title, new.text);
        END;
        """
    )


FTS_TRIGGERS = """
    CREATE TRIGGER articles_ai AFTER INSERT ON articles BEGIN
      INSERT INTO articles_fts (rowid, title, text) VALUES (new.rowid, new.title, new.text);
    END;
    CREATE TRIGGER articles_ad AFTER DELETE ON articles BEGIN
      INSERT INTO articles_fts (articles_fts, rowid, title, text)
        VALUES('delete', old.rowid, old.title, old.text);
    END;
    CREATE TRIGGER articles_au AFTER UPDATE OF title, text ON articles BEGIN
      INSERT INTO articles_fts (articles_fts, rowid, title, text)
        VALUES('delete', old.rowid, old.title, old.text);
      INSERT INTO articles_fts (rowid, title, text) VALUES (new.rowid, new.title, new.text);
    END;
"""


@migrations(name="m006_search_prefix_index_and_filter_index")
def m006(db: sqlite_utils.Database) -> None:
    # 1. FTS5 keeps extra doclists for every 2- and 3-character prefix, so `ci*` reads one
    #    doclist instead of merging the doclists of hundreds of terms in every statement
    #    (ranking, bm25's document counts, each snippet). Rebuilt from `articles`; the
    #    triggers are recreated as m005 left them (updates re-index on title/text only).
    # 2. A covering index of the columns search filters read, so checking thousands of
    #    candidates never reads article rows (their text spills onto overflow pages and
    #    duplicate_of/event_id were added after it).
    n = db.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
    if n > 50_000:  # ~15 minutes at 1M articles
        log.warning("upgrading the search index of %d articles (once; about a minute per "
                    "70,000 articles)", n)
    db.executescript(
        """
        DROP TRIGGER IF EXISTS articles_ai;
        DROP TRIGGER IF EXISTS articles_ad;
        DROP TRIGGER IF EXISTS articles_au;
        DROP TABLE IF EXISTS articles_fts;
        CREATE VIRTUAL TABLE articles_fts USING fts5(
            title, text, tokenize='porter unicode61', content='articles', prefix='2 3');
        INSERT INTO articles_fts (articles_fts) VALUES ('rebuild');
        CREATE INDEX idx_articles_search_filters ON articles(
            id, duplicate_of, sort_date, source, site, language, event_id, tags);
        """
        + FTS_TRIGGERS
    )


@migrations(name="m007_feed_body_hash")
def m007(db: sqlite_utils.Database) -> None:
    # Many servers send neither ETag nor Last-Modified, or ignore them: a hash of the last
    # feed body whose entries were all stored lets a run skip parsing the same bytes again.
    db["feeds"].add_column("body_hash", str)


@migrations(name="m008_link_analysis")
def m008(db: sqlite_utils.Database) -> None:
    # The linker's analysis of each article's title and lede (linking.TextAnalysis), so a
    # run restores the link window from it instead of re-reading every text. Kept for the
    # recent window only (prune_analyses); dropped when the title or text changes.
    db.executescript(
        """
        CREATE TABLE link_analysis (
          article_id INTEGER PRIMARY KEY,
          sort_date TEXT NOT NULL,
          data BLOB NOT NULL
        );
        CREATE INDEX idx_link_analysis_sort_date ON link_analysis (sort_date);
        CREATE TRIGGER link_analysis_au AFTER UPDATE OF title, text ON articles
        WHEN old.title IS NOT new.title OR old.text IS NOT new.text BEGIN
          DELETE FROM link_analysis WHERE article_id = old.id;
        END;
        CREATE TRIGGER link_analysis_ad AFTER DELETE ON articles BEGIN
          DELETE FROM link_analysis WHERE article_id = old.id;
        END;
        """
    )


SCHEMA_MIGRATIONS = [m.name for m in migrations._migrations]


# --- value objects --------------------------------------------------------------


@dataclass
class FeedState:
    name: str
    url: str
    etag: str | None = None
    last_modified: str | None = None
    last_success: str | None = None
    consecutive_failures: int = 0
    last_error: str | None = None
    next_attempt: str | None = None
    body_hash: str | None = None  # sha256 of the last body whose entries are all stored


@dataclass
class StoredArticle:
    """An article row as the link stage reads it."""

    id: int
    title: str | None
    text: str | None
    source: str | None
    sort_date: datetime
    published: datetime | None
    content_hash: str | None
    signature: bytes | None
    agency: str | None
    event_id: int | None
    duplicate_of: int | None
    analysis: bytes | None = None  # the linker's stored analysis (linking.TextAnalysis)


# --- the store --------------------------------------------------------------------


class Store:
    """One SQLite database. Open with `Store.open(path)`; migrations run on open."""

    def __init__(self, db: sqlite_utils.Database, path: Path | None = None):
        self.db = db
        self.path = path

    @classmethod
    def open(cls, path: Path | str | None, *, readonly: bool = False) -> Store:
        p = Path(path) if path is not None else None
        if p is not None and readonly and not p.exists():
            raise StorageError(f"{p}: no database here yet (run `newsdesk fetch` first, or --db)")
        try:
            if p is None:
                db = sqlite_utils.Database(memory=True)
            else:
                conn = sqlite3.connect(str(p), timeout=30, isolation_level=None)
                db = sqlite_utils.Database(conn)
            db.execute("PRAGMA foreign_keys = ON")
            db.execute("PRAGMA busy_timeout = 30000")
            if p is not None:
                db.execute("PRAGMA journal_mode = WAL")
                db.execute("PRAGMA synchronous = NORMAL")
            migrations.apply(db)
        except sqlite3.DatabaseError as e:
            raise StorageError(_storage_message(p, e)) from None
        return cls(db, p)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def applied_migrations(self) -> list[str]:
        return [m.name for m in migrations.applied(self.db)]

    def execute(self, sql: str, params: Iterable[Any] | dict = ()) -> sqlite3.Cursor:
        return self.db.execute(sql, params)

    def query(self, sql: str, params: Iterable[Any] | dict = ()) -> Iterator[dict]:
        yield from self.db.query(sql, params)

    def atomic(self):  # noqa: ANN201 - context manager from sqlite-utils
        return self.db.atomic()

    # --- feeds -----------------------------------------------------------------

    def sync_feed(self, name: str, url: str, tags: Iterable[str], language: str | None) -> None:
        """Make sure the feed row exists; a changed URL resets the conditional-GET state."""
        row = self.feed_state(name)
        with self.atomic():
            if row is None:
                self.db["feeds"].insert(
                    {"name": name, "url": url, "tags": json.dumps(list(tags)),
                     "language": language, "consecutive_failures": 0}
                )
            elif row.url != url:
                self.db.execute(
                    "UPDATE feeds SET url = ?, etag = NULL, last_modified = NULL, "
                    "body_hash = NULL, "
                    "consecutive_failures = 0, next_attempt = NULL WHERE name = ?",
                    [url, name],
                )
            self.db.execute(
                "UPDATE feeds SET tags = ?, language = ? WHERE name = ?",
                [json.dumps(list(tags)), language, name],
            )

    def feed_state(self, name: str) -> FeedState | None:
        row = self.db.execute(
            "SELECT name, url, etag, last_modified, last_success, consecutive_failures, "
            "last_error, next_attempt, body_hash FROM feeds WHERE name = ?",
            [name],
        ).fetchone()
        return FeedState(*row) if row else None

    def record_feed_success(
        self, name: str, *, status: int | None, etag: str | None, last_modified: str | None,
        title: str | None, warning: str | None, now: datetime,
    ) -> None:
        self.db.execute(
            "UPDATE feeds SET last_fetched = ?, last_success = ?, last_status = ?, "
            "etag = COALESCE(?, etag), last_modified = COALESCE(?, last_modified), "
            "title = COALESCE(?, title), consecutive_failures = 0, last_error = NULL, "
            "last_warning = ?, next_attempt = NULL WHERE name = ?",
            [iso(now), iso(now), status, etag, last_modified, title, warning, name],
        )

    def record_feed_failure(
        self, name: str, *, status: int | None, error: str, next_attempt: datetime | None,
        now: datetime,
    ) -> int:
        self.db.execute(
            "UPDATE feeds SET last_fetched = ?, last_status = ?, last_error = ?, "
            "consecutive_failures = consecutive_failures + 1, next_attempt = ? WHERE name = ?",
            [iso(now), status, error, iso(next_attempt), name],
        )
        row = self.db.execute(
            "SELECT consecutive_failures FROM feeds WHERE name = ?", [name]
        ).fetchone()
        return row[0] if row else 0

    def set_validators(self, name: str, etag: str | None, last_modified: str | None,
                       body_hash: str | None = None) -> None:
        """The conditional-GET validators and body hash of a feed response whose entries
        are all stored."""
        self.db.execute(
            "UPDATE feeds SET etag = ?, last_modified = ?, body_hash = ? WHERE name = ?",
            [etag, last_modified, body_hash, name])

    # --- runs ------------------------------------------------------------------

    def start_run(self, now: datetime) -> int:
        return self.db["runs"].insert({"started_at": iso(now), "status": "running"}).last_pk

    def record_feed_run(self, run_id: int, feed: str, **values: Any) -> None:
        self.db["feed_runs"].upsert({"run_id": run_id, "feed": feed, **values},
                                    pk=("run_id", "feed"))

    def finish_run(self, run_id: int, **values: Any) -> None:
        self.db["runs"].update(run_id, values)

    # --- articles --------------------------------------------------------------

    def find_article(self, *, feed: str | None, guid: str | None, canonical_url: str | None
                     ) -> int | None:
        """Level 1 of dedup: the same article by canonical URL, or by GUID within the feed."""
        if canonical_url:
            row = self.db.execute(
                "SELECT id FROM articles WHERE canonical_url = ?", [canonical_url]
            ).fetchone()
            if row:
                return row[0]
        if guid and feed:
            row = self.db.execute(
                "SELECT article_id FROM article_feeds WHERE feed = ? AND guid = ?", [feed, guid]
            ).fetchone()
            if row:
                return row[0]
        return None

    def add_membership(self, article_id: int, feed: str, guid: str | None, now: datetime) -> bool:
        """Record that the article also arrived through `feed`. True when new."""
        cur = self.db.execute(
            "INSERT OR IGNORE INTO article_feeds (article_id, feed, guid, first_seen) "
            "VALUES (?, ?, ?, ?)",
            [article_id, feed, guid, iso(now)],
        )
        return cur.rowcount > 0

    def save_article(self, article: Article, *, signature: bytes | None = None,
                     agency: str | None = None) -> tuple[int, str]:
        """Insert a new article, or record a new version of a known one, in one transaction.

        Returns (article id, "new" | "updated" | "unchanged").
        """
        now = article.fetched_at or utcnow()
        with self.atomic():
            existing = self.find_article(feed=article.feed, guid=article.guid,
                                         canonical_url=article.canonical_url)
            if existing is None:
                article_id = self.db["articles"].insert(
                    self._row(article, now, signature, agency)
                ).last_pk
                outcome = "new"
            else:
                article_id = existing
                outcome = self._update(article_id, article, now, signature, agency)
            if article.feed:
                self.add_membership(article_id, article.feed, article.guid, now)
        return article_id, outcome

    def _row(self, a: Article, now: datetime, signature: bytes | None, agency: str | None
             ) -> dict[str, Any]:
        published = a.published.value
        return {
            "url": a.url,
            "canonical_url": a.canonical_url,
            "guid": a.guid,
            "feed": a.feed,
            "source": a.source,
            "title": a.title,
            "author": a.author,
            "published": iso(published),
            "published_raw": a.published.raw,
            "published_source": a.published.source,
            "published_status": a.published.status,
            "fetched_at": iso(now),
            "sort_date": iso(published or now),
            "language": a.language,
            "site": a.site,
            "description": a.description,
            "summary": a.summary,
            "text": a.text,
            "content_hash": a.content_hash,
            "word_count": a.word_count,
            "extraction_status": a.extraction_status,
            "extraction_error": a.extraction_error,
            "tags": json.dumps(a.tags) if a.tags else None,
            "meta": json.dumps(a.meta, ensure_ascii=False, default=str) if a.meta else None,
            "signature": signature,
            "agency": agency,
        }

    def _update(self, article_id: int, a: Article, now: datetime, signature: bytes | None,
                agency: str | None) -> str:
        old = self.db.execute(
            "SELECT title, text, content_hash, version FROM articles WHERE id = ?", [article_id]
        ).fetchone()
        title, text, content_hash, version = old
        if a.content_hash == content_hash and (a.title or None) == (title or None):
            return "unchanged"
        if not a.text and text:
            return "unchanged"  # a failed refetch never overwrites good text
        self.db["article_versions"].insert(
            {"article_id": article_id, "version": version, "title": title, "text": text,
             "content_hash": content_hash, "recorded_at": iso(now)}
        )
        row = self._row(a, now, signature, agency)
        for key in ("url", "canonical_url", "guid", "feed", "source", "fetched_at", "sort_date"):
            row.pop(key)
        row.update(version=version + 1, updated_at=iso(now))
        # a new version of a text is linked again, with the copy/event decision redone
        row.update(linked_at=None)
        self.db["articles"].update(article_id, row)
        return "updated"

    # --- link stage ------------------------------------------------------------

    _LINK_COLS = ("id, title, text, source, sort_date, published, content_hash, signature, "
                  "agency, event_id, duplicate_of, "
                  "(SELECT data FROM link_analysis l WHERE l.article_id = articles.id)")

    def _stored(self, rows: Iterable[tuple]) -> Iterator[StoredArticle]:
        for r in rows:
            yield StoredArticle(r[0], r[1], r[2], r[3], parse_iso(r[4]), parse_iso(r[5]),
                                r[6], r[7], r[8], r[9], r[10], r[11])

    def linked_between(self, start: str, end: str) -> Iterator[StoredArticle]:
        """Already linked articles whose date falls in [start, end): the warm-start window."""
        cur = self.db.execute(
            f"SELECT {self._LINK_COLS} FROM articles WHERE linked_at IS NOT NULL "
            "AND sort_date >= ? AND sort_date < ? ORDER BY sort_date, id",
            [start, end],
        )
        yield from self._stored(cur)

    def next_unlinked(self, n: int, before: str | None = None) -> list[StoredArticle]:
        """The next `n` articles waiting for the link stage, in publication order (only
        those dated before `before`, when given)."""
        cur = self.db.execute(
            f"SELECT {self._LINK_COLS} FROM articles WHERE linked_at IS NULL "
            "AND sort_date < ? ORDER BY sort_date, id LIMIT ?", [before or "9999", n])
        return list(self._stored(cur.fetchall()))

    def stored_articles(self, ids: Iterable[int]) -> dict[int, StoredArticle]:
        ids = list(ids)
        marks = ", ".join("?" for _ in ids)
        cur = self.db.execute(f"SELECT {self._LINK_COLS} FROM articles WHERE id IN ({marks})",
                              ids)
        return {a.id: a for a in self._stored(cur.fetchall())}

    def save_analyses(self, rows: Iterable[tuple[int, datetime, bytes]]) -> None:
        """Store the linker's analysis of articles: (id, sort_date, bytes) each."""
        self.db.conn.executemany(
            "INSERT OR REPLACE INTO link_analysis (article_id, sort_date, data) "
            "VALUES (?, ?, ?)", ((i, iso(d), b) for i, d, b in rows))

    def prune_analyses(self, before: datetime) -> int:
        """Drop the stored analyses of articles dated before ``before``; how many."""
        return self.db.execute("DELETE FROM link_analysis WHERE sort_date < ?",
                               [iso(before)]).rowcount

    def max_event_id(self) -> int:
        row = self.db.execute("SELECT MAX(id) FROM events").fetchone()
        return row[0] or 0

    def record_link(self, article_id: int, *, duplicate_of: int | None, copy_score: float | None,
                    event_id: int, score: float | None, matched: int | None, evidence: dict,
                    now: datetime) -> None:
        """Store one article's copy and event decision (call inside a transaction)."""
        self.db.execute(
            "INSERT INTO events (id) VALUES (?) ON CONFLICT(id) DO NOTHING", [event_id]
        )
        self.db.execute(
            "UPDATE articles SET duplicate_of = ?, copy_score = ?, event_id = ?, linked_at = ? "
            "WHERE id = ?",
            [duplicate_of, copy_score, event_id, iso(now), article_id],
        )
        self.db.execute(
            "INSERT OR REPLACE INTO event_links (article_id, event_id, score, matched_article_id,"
            " evidence, linked_at) VALUES (?, ?, ?, ?, ?, ?)",
            [article_id, event_id, score, matched,
             json.dumps(evidence, ensure_ascii=False, default=str), iso(now)],
        )

    def refresh_events(self, event_ids: Iterable[int]) -> None:
        """Recompute the aggregates of the given events from their articles."""
        for event_id in set(event_ids):
            rows = self.db.execute(
                "SELECT id, title, source, sort_date, agency FROM articles WHERE event_id = ? "
                "ORDER BY sort_date, id",
                [event_id],
            ).fetchall()
            if not rows:
                self.db.execute("DELETE FROM events WHERE id = ?", [event_id])
                continue
            first = rows[0]
            agencies = [r[4] for r in rows if r[4]]
            agency = max(set(agencies), key=agencies.count) if agencies else None
            self.db.execute(
                "UPDATE events SET title = ?, first_seen = ?, last_seen = ?, first_article_id = ?,"
                " first_source = ?, agency = ?, n_articles = ?, n_sources = ? WHERE id = ?",
                [first[1], first[3], rows[-1][3], first[0], first[2], agency, len(rows),
                 len({r[2] for r in rows if r[2]}), event_id],
            )

    def unlink_since(self, since: str | None) -> list[int]:
        """Forget copy/event decisions for articles dated >= since (all when None)."""
        where, params = ("sort_date >= ?", [since]) if since else ("1 = 1", [])
        with self.atomic():
            events = [r[0] for r in self.db.execute(
                f"SELECT DISTINCT event_id FROM articles WHERE {where} AND event_id IS NOT NULL",
                params)]
            self.db.execute(
                f"DELETE FROM event_links WHERE article_id IN (SELECT id FROM articles "
                f"WHERE {where})", params)
            self.db.execute(
                f"UPDATE articles SET event_id = NULL, duplicate_of = NULL, copy_score = NULL, "
                f"linked_at = NULL WHERE {where}", params)
            self.refresh_events(events)
        return events


def storage_error(path: Path | str | None, e: sqlite3.DatabaseError) -> StorageError:
    """A database failure during a run (disk full, read-only, corrupt) as one user line."""
    return StorageError(_storage_message(Path(path) if path is not None else None, e))


def _storage_message(path: Path | None, e: sqlite3.DatabaseError) -> str:
    msg = str(e)
    if "not a database" in msg or "malformed" in msg:
        return (f"{path}: not a newsdesk database or the file is corrupt ({msg}); "
                "move it aside and run again to start a new one")
    if "readonly" in msg or "read-only" in msg:
        return f"{path}: database is read-only ({msg}); check the file's permissions"
    if "full" in msg:
        return f"{path}: disk full while writing the database; free space and run again"
    if "unable to open" in msg:
        return f"{path}: cannot open the database ({msg}); check the directory is writable"
    return f"{path}: database error ({msg})"
