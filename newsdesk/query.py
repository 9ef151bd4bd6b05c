"""Reading the archive: search, latest, show, events, stats, feed health, export rows.

Every function takes a Store and returns rows (dicts) lazily, so the CLI can stream
them through any output format in constant memory.
"""

from __future__ import annotations

import re
import shlex
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from . import dates
from .errors import QueryError
from .models import DATE_OK
from .store import Store, iso, utcnow

TITLE_WEIGHT, TEXT_WEIGHT = 10.0, 1.0
FIELD_OPERATORS = ("source", "feed", "tag", "date", "lang", "language", "event")


@dataclass
class Filters:
    sources: list[str] = field(default_factory=list)
    feeds: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    since: datetime | None = None
    until: datetime | None = None
    language: str | None = None
    event: int | None = None
    all_copies: bool = False  # False: one row per copy group

    def narrows(self) -> bool:
        """True when a filter beyond the copy collapsing may drop most matches."""
        return bool(self.sources or self.feeds or self.tags or self.since or self.until
                    or self.language or self.event is not None)

    def where(self) -> tuple[list[str], list]:
        clauses: list[str] = []
        params: list = []
        for s in self.sources:
            neg = s.startswith("-")
            s = s.lstrip("-")
            clause = "(a.source LIKE ? OR a.site LIKE ?)"
            clauses.append(f"NOT {clause}" if neg else clause)
            params += [f"%{s}%", f"%{s}%"]
        for f in self.feeds:
            clauses.append("EXISTS (SELECT 1 FROM article_feeds af WHERE af.article_id = a.id "
                           "AND af.feed = ? COLLATE NOCASE)")
            params.append(f)
        for t in self.tags:
            neg = t.startswith("-")
            clause = ("EXISTS (SELECT 1 FROM json_each(COALESCE(a.tags, '[]')) "
                      "WHERE value = ? COLLATE NOCASE)")
            clauses.append(f"NOT {clause}" if neg else clause)
            params.append(t.lstrip("-"))
        if self.since:
            clauses.append("a.sort_date >= ?")
            params.append(iso(self.since))
        if self.until:
            clauses.append("a.sort_date < ?")
            params.append(iso(self.until))
        if self.language:
            clauses.append("a.language LIKE ?")
            params.append(f"{self.language}%")
        if self.event is not None:
            clauses.append("a.event_id = ?")
            params.append(self.event)
        if not self.all_copies:
            clauses.append("a.duplicate_of IS NULL")
        return clauses, params


def parse_when(raw: str, *, option: str, end: bool = False) -> datetime:
    """A user's date ('2025-11-20', 'yesterday', '3 days ago') as UTC; `end` rounds a bare
    day up to the next midnight so --until 2025-11-20 includes that day."""
    when = dates.normalise(raw, source="query", now=utcnow())
    if when.status != DATE_OK or when.value is None:
        raise QueryError(f"{option}: cannot read the date {raw!r} "
                         "(try 2025-11-20, 'yesterday' or '3 days ago')")
    if end and re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw.strip()):
        return when.value + timedelta(days=1)
    return when.value


# --- search ---------------------------------------------------------------------------

@dataclass
class ParsedQuery:
    fts: str
    filters: Filters


def _literal(words: list[str]) -> str:
    return " ".join('"' + w.replace('"', '""') + '"' for w in words if w)


def parse_query(query: str, filters: Filters | None = None, *, literal: bool = False
                ) -> ParsedQuery:
    """Split field operators (source:, tag:, date:a..b, lang:, event:) from the FTS5 text.

    The rest is FTS5 syntax as users know it (phrases, prefix*, NEAR, title:word),
    with `-word` as a shorthand for NOT word."""
    filters = replace(filters) if filters else Filters()
    try:
        tokens = shlex.split(query, posix=False)
    except ValueError:
        tokens = query.split()
    rest: list[str] = []
    for tok in tokens:
        name, sep, value = tok.partition(":")
        key = name.lower().lstrip("-")
        if sep and key in FIELD_OPERATORS and value:
            neg = "-" if name.startswith("-") else ""
            value = value.strip('"')
            _apply_operator(filters, key, neg + value)
        else:
            rest.append(tok)
    if literal:
        return ParsedQuery(_literal([t.strip('"') for t in rest]), filters)
    positive, negative = [], []
    for tok in rest:
        if tok.startswith("-") and len(tok) > 1 and not tok.startswith("--"):
            negative.append(tok[1:])
        else:
            positive.append(tok)
    if negative and not positive:
        raise QueryError("a query needs at least one word to look for besides the "
                         "-excluded ones")
    fts = " ".join(positive)
    if negative:
        fts = f"({fts}) NOT " + " NOT ".join(negative)
    return ParsedQuery(fts, filters)


def _apply_operator(filters: Filters, key: str, value: str) -> None:
    if key == "source":
        filters.sources.append(value)
    elif key == "feed":
        filters.feeds.append(value)
    elif key == "tag":
        filters.tags.append(value)
    elif key in ("lang", "language"):
        filters.language = value
    elif key == "event":
        if not value.isdigit():
            raise QueryError(f"event:{value}: an event is a number (see `newsdesk events`)")
        filters.event = int(value)
    elif key == "date":
        start, dots, end = value.partition("..")
        if start:
            filters.since = parse_when(start, option="date:")
        if end:
            filters.until = parse_when(end, option="date:", end=True)
        elif not dots and start:  # date:2025-11-20 means that day
            filters.until = parse_when(start, option="date:", end=True)


FTS_ERRORS = ("fts5:", "no such column", "unterminated string", "unknown special query",
              "malformed MATCH")


def _fts_error(query: str, e: sqlite3.OperationalError) -> QueryError:
    """A query FTS5 cannot parse becomes one line with a hint; other errors are bugs."""
    if not str(e).startswith(FTS_ERRORS):
        raise e
    detail = str(e).removeprefix("fts5: ")
    return QueryError(
        f"cannot search for {query!r}: {detail}. Put phrases in double quotes, "
        "or use --literal to search the words as given")


SEARCH_CANDIDATES = 20_000  # matches ranked per query: the newest ones when there are more
TOP_FACTOR = 4  # rows read from `articles` per row asked for, before filters


def search(store: Store, query: str, filters: Filters | None = None, *, limit: int = 20,
           offset: int = 0, literal: bool = False) -> Iterator[dict]:
    """Ranked hits (bm25, title weighted above body) with a highlighted snippet.

    Ranking happens inside FTS5; filters are checked on a covering index
    (idx_articles_search_filters) and only the rows returned are read from `articles`. A
    query that matches more than SEARCH_CANDIDATES articles is ranked among the newest
    SEARCH_CANDIDATES of them, which keeps a search fast however large the archive grows.
    When filters leave too few hits, the search widens step by step: all candidates, then
    every match.
    """
    if not query.strip():
        raise QueryError("empty query: give words to search for")
    parsed = parse_query(query, filters, literal=literal)
    if not parsed.fts.strip():
        raise QueryError("the query has only field operators; add words to search for "
                         "(or use `newsdesk latest` with the same filters)")
    cap = SEARCH_CANDIDATES
    # filters that may drop most matches skip the top cut and filter all candidates
    top = None if parsed.filters.narrows() else (limit + offset) * TOP_FACTOR
    rows, ranked = _ranked(store, query, parsed, limit, offset, cap, top)
    # `ranked` is how many matches were candidates: below the cap, that is every match
    if len(rows) < limit and top is not None and ranked > top:
        top = None
        rows, ranked = _ranked(store, query, parsed, limit, offset, cap, None)
    if len(rows) < limit and ranked >= cap:
        rows, ranked = _ranked(store, query, parsed, limit, offset, None, None)
    for row in rows:
        row["snippet"] = _snippet(store, parsed.fts, row["id"])
        yield row


def _ranked(store: Store, query: str, parsed: ParsedQuery, limit: int, offset: int,
            candidates: int | None, top: int | None) -> tuple[list[dict], int]:
    """The hits of one step, and how many matches were ranked in it."""
    sql, args = _ranked_sql(parsed, limit, offset, candidates, top)
    try:
        cur = store.execute(sql, args)
    except sqlite3.OperationalError as e:
        raise _fts_error(query, e) from None
    cols = [d[0] for d in cur.description][1:]
    rows, ranked = [], 0
    for row in cur:
        ranked = row[0]
        if row[1] is not None:
            rows.append(dict(zip(cols, row[1:], strict=True)))
    return rows, ranked


def _ranked_sql(parsed: ParsedQuery, limit: int, offset: int, candidates: int | None,
                top: int | None) -> tuple[str, list]:
    """One step: rank the (newest `candidates`) matches in FTS5, keep the best `top`, check
    the filters on the covering index, read the `limit` rows returned from `articles`."""
    clauses, params = parsed.filters.where()
    where = " AND ".join(clauses) or "1 = 1"
    cap = "ORDER BY rowid DESC LIMIT ?" if candidates else ""
    cut = "ORDER BY rank, rowid DESC LIMIT ?" if top else ""
    sql = f"""
        WITH cand AS MATERIALIZED (
            SELECT rowid, bm25(articles_fts, {TITLE_WEIGHT}, {TEXT_WEIGHT}) AS rank
            FROM articles_fts WHERE articles_fts MATCH ? {cap}),
        best AS MATERIALIZED (SELECT rowid, rank FROM cand {cut}),
        kept AS MATERIALIZED (
            SELECT a.id, h.rank
            FROM best h JOIN articles a INDEXED BY idx_articles_search_filters
                 ON a.id = h.rowid
            WHERE {where}
            ORDER BY h.rank, a.id DESC LIMIT ? OFFSET ?)
        SELECT n.ranked, a.id, a.published, a.source, a.title, NULL AS snippet,
               a.event_id, a.duplicate_of,
               (SELECT COUNT(*) FROM articles c WHERE c.duplicate_of = a.id) AS copies,
               a.url, round(k.rank, 3) AS rank
        FROM (SELECT COUNT(*) AS ranked FROM cand) n
             LEFT JOIN kept k LEFT JOIN articles a ON a.id = k.id
        ORDER BY k.rank, k.id DESC"""
    args = [parsed.fts, *([candidates] if candidates else []), *([top] if top else []),
            *params, limit, offset]
    return sql, args


def _snippet(store: Store, fts: str, article_id: int) -> str | None:
    row = store.execute(
        "SELECT snippet(articles_fts, 1, '[', ']', '…', 16) FROM articles_fts "
        "WHERE articles_fts MATCH ? AND rowid = ?", [fts, article_id]).fetchone()
    return row[0] if row else None


def search_by_event(store: Store, query: str, filters: Filters | None = None, *,
                    limit: int = 20, literal: bool = False) -> Iterator[dict]:
    """Hits grouped by event: one row per event, best hit first."""
    parsed = parse_query(query, filters, literal=literal)
    clauses, params = parsed.filters.where()
    where = " AND ".join(["articles_fts MATCH ?"] + clauses)
    sql = f"""
        WITH hits AS MATERIALIZED (
            SELECT a.id, a.event_id, a.source, a.title,
                   bm25(articles_fts, {TITLE_WEIGHT}, {TEXT_WEIGHT}) AS rank
            FROM articles_fts JOIN articles a ON a.id = articles_fts.rowid WHERE {where})
        SELECT h.event_id, e.title AS event_title, COUNT(*) AS hits,
               COUNT(DISTINCT h.source) AS sources, e.first_seen, e.first_source,
               round(MIN(h.rank), 3) AS best_rank
        FROM hits h LEFT JOIN events e ON e.id = h.event_id
        GROUP BY h.event_id ORDER BY best_rank LIMIT ?"""
    try:
        cur = store.execute(sql, [parsed.fts, *params, limit])
    except sqlite3.OperationalError as e:
        raise _fts_error(query, e) from None
    cols = [d[0] for d in cur.description]
    for row in cur:
        yield dict(zip(cols, row, strict=True))


# --- browse ---------------------------------------------------------------------------

def _rows(store: Store, sql: str, params: list) -> Iterator[dict]:
    cur = store.execute(sql, params)
    cols = [d[0] for d in cur.description]
    for row in cur:
        yield dict(zip(cols, row, strict=True))


def latest(store: Store, filters: Filters | None = None, *, limit: int = 20,
           offset: int = 0) -> Iterator[dict]:
    clauses, params = (filters or Filters()).where()
    where = " AND ".join(clauses) or "1 = 1"
    return _rows(store, f"""
        SELECT a.id, a.published, a.source, a.title, a.event_id,
               (SELECT COUNT(*) FROM articles c WHERE c.duplicate_of = a.id) AS copies,
               a.extraction_status, a.url
        FROM articles a WHERE {where} ORDER BY a.sort_date DESC, a.id DESC LIMIT ? OFFSET ?""",
        [*params, limit, offset])


EXPORT_COLUMNS = (
    "id", "url", "canonical_url", "source", "feed", "title", "author", "published",
    "published_raw", "published_status", "fetched_at", "language", "site", "agency",
    "event_id", "duplicate_of", "copy_score", "extraction_status", "word_count",
    "content_hash", "summary", "text",
)


def export_rows(store: Store, filters: Filters | None = None, query: str | None = None,
                *, literal: bool = False) -> Iterator[dict]:
    """Every matching article with full text, oldest first, streamed from a cursor."""
    filters = filters or Filters(all_copies=True)
    cols = ", ".join(f"a.{c}" for c in EXPORT_COLUMNS)
    if query:
        parsed = parse_query(query, filters, literal=literal)
        clauses, params = parsed.filters.where()
        where = " AND ".join(["articles_fts MATCH ?"] + clauses)
        sql = (f"SELECT {cols} FROM articles_fts JOIN articles a ON a.id = articles_fts.rowid "
               f"WHERE {where} ORDER BY a.sort_date, a.id")
        params = [parsed.fts, *params]
        try:
            cur = store.execute(sql, params)
        except sqlite3.OperationalError as e:
            raise _fts_error(query, e) from None
    else:
        clauses, params = filters.where()
        where = " AND ".join(clauses) or "1 = 1"
        cur = store.execute(f"SELECT {cols} FROM articles a WHERE {where} "
                            "ORDER BY a.sort_date, a.id", params)
    for row in cur:
        yield dict(zip(EXPORT_COLUMNS, row, strict=True))


def find_article_id(store: Store, ref: str) -> int:
    """An article by id, URL or canonical URL."""
    if ref.isdigit():
        row = store.execute("SELECT id FROM articles WHERE id = ?", [int(ref)]).fetchone()
    else:
        from .urls import canonicalize
        row = store.execute(
            "SELECT id FROM articles WHERE url = ? OR canonical_url = ? OR canonical_url = ?",
            [ref, ref, canonicalize(ref)]).fetchone()
    if row is None:
        raise QueryError(f"no article {ref!r} (give an id from `newsdesk search` or a URL)")
    return row[0]


def show(store: Store, ref: str) -> dict:
    """One article: metadata, extraction status, feeds, copies, event."""
    article_id = find_article_id(store, ref)
    row = next(_rows(store, "SELECT * FROM articles WHERE id = ?", [article_id]))
    row.pop("signature", None)
    row["feeds"] = [r["feed"] for r in _rows(
        store, "SELECT feed FROM article_feeds WHERE article_id = ? ORDER BY first_seen",
        [article_id])]
    row["copies"] = list(_rows(
        store, "SELECT id, source, title, url, copy_score FROM articles WHERE duplicate_of = ?",
        [article_id]))
    row["event"] = event_summary(store, row["event_id"]) if row["event_id"] else None
    link = list(_rows(store, "SELECT score, matched_article_id, evidence FROM event_links "
                             "WHERE article_id = ?", [article_id]))
    row["link"] = link[0] if link else None
    return row


def event_summary(store: Store, event_id: int) -> dict | None:
    rows = list(_rows(store, "SELECT * FROM events WHERE id = ?", [event_id]))
    return rows[0] if rows else None


def events(store: Store, *, since: datetime | None = None, min_sources: int = 1,
           min_articles: int = 1, order: str = "recent", limit: int = 20) -> Iterator[dict]:
    """Events with their sources and span; newest first, or largest (`order='size'`)."""
    clauses = ["n_sources >= ?", "n_articles >= ?"]
    params: list = [min_sources, min_articles]
    if since:
        clauses.append("last_seen >= ?")
        params.append(iso(since))
    order_by = ("n_sources DESC, n_articles DESC, last_seen DESC" if order == "size"
                else "last_seen DESC, id DESC")
    return _rows(store, f"""
        SELECT e.id, e.title, e.n_articles AS articles, e.n_sources AS sources,
               e.first_seen, e.last_seen, e.first_source, e.agency,
               (SELECT group_concat(DISTINCT a.source) FROM articles a
                 WHERE a.event_id = e.id) AS outlets
        FROM events e WHERE {' AND '.join(clauses)} ORDER BY {order_by} LIMIT ?""",
        [*params, limit])


def event_articles(store: Store, event_id: int) -> Iterator[dict]:
    """The reports of one event by time, each under its own source."""
    if event_summary(store, event_id) is None:
        raise QueryError(f"no event {event_id} (see `newsdesk events`)")
    return _rows(store, """
        SELECT a.id, a.sort_date AS date, a.source, a.title, a.agency, a.duplicate_of,
               l.score, a.url
        FROM articles a LEFT JOIN event_links l ON l.article_id = a.id
        WHERE a.event_id = ? ORDER BY a.sort_date, a.id""", [event_id])


# `stats` over a large archive: a GROUP BY walks every article's index entry through the
# aggregator. These hop from one distinct value to the next on the index instead (a few
# dozen seeks), then count each value's range of index entries; same rows as
#   SELECT source, COUNT(*), MAX(sort_date) FROM articles GROUP BY source
#   SELECT site, extraction_status, COUNT(*) FROM articles
#     WHERE extraction_status NOT IN ('ok', 'skipped', 'imported') GROUP BY site, status
BY_SOURCE_SQL = """
    WITH RECURSIVE s(source) AS (
        SELECT (SELECT MIN(source) FROM articles)
        UNION ALL
        SELECT (SELECT MIN(source) FROM articles WHERE source > s.source)
        FROM s WHERE s.source IS NOT NULL)
    SELECT source, (SELECT COUNT(*) FROM articles a WHERE a.source = s.source) AS articles,
           (SELECT MAX(sort_date) FROM articles a WHERE a.source = s.source) AS newest
    FROM s WHERE source IS NOT NULL
    UNION ALL
    SELECT NULL, COUNT(*), MAX(sort_date) FROM articles WHERE source IS NULL
    HAVING COUNT(*) > 0
    ORDER BY articles DESC, source"""
EXTRACTION_FAILURES_SQL = """
    WITH RECURSIVE st(status) AS (
        SELECT (SELECT MIN(extraction_status) FROM articles)
        UNION ALL
        SELECT (SELECT MIN(extraction_status) FROM articles WHERE extraction_status > st.status)
        FROM st WHERE st.status IS NOT NULL)
    SELECT a.site AS domain, a.extraction_status AS status, COUNT(*) AS articles
    FROM st JOIN articles a ON a.extraction_status = st.status
    WHERE st.status NOT IN ('ok', 'skipped', 'imported')
    GROUP BY a.site, a.extraction_status ORDER BY articles DESC, domain, status"""


def stats(store: Store, *, days: int = 14) -> dict[str, list[dict]]:
    since = iso(utcnow() - timedelta(days=days))
    return {
        "totals": list(_rows(store, """
            SELECT (SELECT COUNT(*) FROM articles) AS articles,
                   (SELECT COUNT(*) FROM articles WHERE duplicate_of IS NOT NULL) AS copies,
                   (SELECT COUNT(*) FROM events) AS events,
                   (SELECT COUNT(*) FROM events WHERE n_sources > 1) AS multi_source_events,
                   (SELECT COUNT(*) FROM feeds) AS feeds,
                   (SELECT MAX(finished_at) FROM runs) AS last_run""", [])),
        "by_day": list(_rows(store, """
            SELECT substr(sort_date, 1, 10) AS day, COUNT(*) AS articles
            FROM articles WHERE sort_date >= ? GROUP BY day ORDER BY day DESC""", [since])),
        "by_source": list(_rows(store, BY_SOURCE_SQL, [])),
        "failing_feeds": list(_rows(store, """
            SELECT name, consecutive_failures, last_success, last_error, next_attempt
            FROM feeds WHERE consecutive_failures > 0 ORDER BY consecutive_failures DESC""",
            [])),
        "extraction_failures": list(_rows(store, EXTRACTION_FAILURES_SQL, [])),
    }


def feed_health(store: Store, names: list[str]) -> dict[str, dict]:
    """Per-feed health for `feeds list`: state and articles in the last 7 days."""
    week = iso(utcnow() - timedelta(days=7))
    out = {}
    for row in _rows(store, """
            SELECT f.name, f.last_success, f.last_error, f.consecutive_failures,
                   f.next_attempt, f.last_warning,
                   (SELECT COUNT(*) FROM article_feeds af WHERE af.feed = f.name
                     AND af.first_seen >= ?) AS articles_7d
            FROM feeds f""", [week]):
        out[row["name"]] = row
    return {n: out.get(n, {}) for n in names}
