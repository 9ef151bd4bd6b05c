"""The link stage: copies (dedup level 2) and events (level 3) over stored articles.

Articles are taken in publication order. Each is checked against the copy index
(same or near-same text: it becomes `duplicate_of` the earliest copy and joins its
event), else handed to the event linker. State is warm-started from the articles
already linked inside the time window, so a run that processes articles in several
batches reaches the decisions one long run would (see linking.py on order).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from .dedup import CopyIndex, detect_agency, text_signature
from .linking import LinkDoc, Linker, LinkSettings, TextAnalysis, analyse
from .store import Store, StoredArticle, iso, utcnow

log = logging.getLogger("newsdesk.link_stage")

BATCH = 200  # articles per transaction
#: stored analyses are kept this long beyond the window of the newest linked article
ANALYSIS_MARGIN = timedelta(days=1)


@dataclass
class LinkSummary:
    articles: int = 0
    copies: int = 0
    new_events: int = 0
    joined_events: int = 0
    seconds: float = 0.0


def _doc(a: StoredArticle, analysis: TextAnalysis | None = None) -> LinkDoc:
    return LinkDoc(key=a.id, title=a.title, text=a.text, source=a.source, published=a.sort_date,
                   analysis=analysis)


def _analysis(a: StoredArticle) -> tuple[TextAnalysis, bool]:
    """The linker's analysis of an article: the stored one, else made now (True)."""
    if a.analysis is not None:
        stored = TextAnalysis.loads(a.analysis)
        if stored is not None:
            return stored, False
    return analyse(a.title, a.text), True


class _Window:
    """What the stage remembers of recent articles: copy index, linker, event of each."""

    def __init__(self, store: Store, settings: LinkSettings):
        self.settings = settings
        self.span = timedelta(days=settings.window_days)
        self.linker = Linker(settings, next_event_id=store.max_event_id() + 1)
        self.copies = CopyIndex()
        self.event_of: dict[int, int] = {}
        self.order: deque[tuple[datetime, int]] = deque()

    def remember(self, a: StoredArticle, signature: bytes | None, event_id: int) -> None:
        self.copies.add(a.id, a.text, signature=signature, content_hash=a.content_hash)
        self.event_of[a.id] = event_id
        self.order.append((a.sort_date, a.id))

    def forget_before(self, when: datetime) -> None:
        while self.order and self.order[0][0] < when:
            _, key = self.order.popleft()
            self.copies.remove(key)
            self.event_of.pop(key, None)
        self.linker.forget_before(when)


class LinkRun:
    """The link stage as a walk that can pause: ``link(before)`` links the waiting articles
    dated before ``before``, in publication order, and can be called again as more
    articles are saved; ``link()`` links the rest.

    This lets an ingest run link while pages are still downloading. The decisions are
    those of one call at the end as long as every article saved later is dated at or
    after the ``before`` already used (ids only grow, so ties keep their order). If an
    older article turns up all the same (a new version of a known one), the window is
    rebuilt from the store, as a new run would.
    """

    def __init__(self, store: Store, settings: LinkSettings | None = None) -> None:
        self.store = store
        self.settings = settings or LinkSettings()
        self.summary = LinkSummary()
        self._win: _Window | None = None
        self._position: str | None = None  # sort_date of the last article linked

    def link(self, before: str | None = None, limit: int | None = None) -> int:
        """Link waiting articles dated before ``before`` (all when None), at most ``limit``
        of them; returns how many were linked."""
        started = utcnow()
        store = self.store
        first = store.execute(
            "SELECT MIN(sort_date) FROM articles WHERE linked_at IS NULL").fetchone()[0]
        if first is None or (before is not None and first >= before):
            return 0
        if self._win is None or (self._position is not None and first < self._position):
            self._win = self._warm_start(first)
        win = self._win
        done = 0
        while limit is None or done < limit:
            n = BATCH if limit is None else min(BATCH, limit - done)
            batch = store.next_unlinked(n, before=before)
            if not batch:
                break
            touched: set[int] = set()
            with store.atomic():
                for a in batch:
                    win.forget_before(a.sort_date - win.span)
                    touched.add(_link_one(store, win, a, self.summary))
                store.refresh_events(touched)
                # keep the analyses a next run restores: the newest article's window (so
                # the table stays that size, through a back-fill or relink of years too)
                newest = min(batch[-1].sort_date, started)
                store.prune_analyses(newest - win.span - ANALYSIS_MARGIN)
            self._position = iso(batch[-1].sort_date)
            done += len(batch)
        self.summary.seconds += (utcnow() - started).total_seconds()
        return done

    def _warm_start(self, first: str) -> _Window:
        win = _Window(self.store, self.settings)
        start = datetime.fromisoformat(first) - win.span
        made: list[tuple[int, datetime, bytes]] = []  # analyses not stored yet

        def linked() -> Iterator[tuple[LinkDoc, int]]:
            for a in self.store.linked_between(iso(start), "9999"):
                if a.event_id is None:
                    continue
                if a.duplicate_of is None:  # copies are in the copy index only
                    analysis, fresh = _analysis(a)
                    if fresh:
                        made.append((a.id, a.sort_date, analysis.dumps()))
                    yield _doc(a, analysis), a.event_id
                win.remember(a, a.signature, a.event_id)

        win.linker.restore_many(linked())
        for i in range(0, len(made), BATCH):
            with self.store.atomic():
                self.store.save_analyses(made[i : i + BATCH])
        return win

    def finish(self) -> LinkSummary:
        """Link everything still waiting; the counts of the whole walk."""
        self.link()
        s = self.summary
        log.info("linked %d articles: %d copies, %d new events, %d joined events",
                 s.articles, s.copies, s.new_events, s.joined_events)
        return s


def link_pending(store: Store, settings: LinkSettings | None = None) -> LinkSummary:
    """Link every article not linked yet; returns counts. Safe to run again at any time."""
    return LinkRun(store, settings).finish()


def _link_one(store: Store, win: _Window, a: StoredArticle, summary: LinkSummary) -> int:
    now = utcnow()
    signature, agency = a.signature, a.agency
    if signature is None and a.text:
        # not computed at ingest (imports, feed summaries): both come from the text here;
        # an empty signature (short text) or a None agency computed by a worker is final
        signature, agency = text_signature(a.text), detect_agency(a.text, a.title)
        store.execute("UPDATE articles SET signature = ?, agency = ? WHERE id = ?",
                      [signature, agency, a.id])
    summary.articles += 1
    copy = (win.copies.find(a.text, signature=signature, content_hash=a.content_hash)
            if a.text else None)
    if copy is not None and copy[0] in win.event_of:
        original, similarity = copy
        event_id = win.event_of[original]
        store.record_link(a.id, duplicate_of=original, copy_score=round(similarity, 4),
                          event_id=event_id, score=round(similarity, 4), matched=original,
                          evidence={"copy_of": original, "similarity": round(similarity, 4)},
                          now=now)
        summary.copies += 1
    else:
        analysis, fresh = _analysis(a)
        res = win.linker.add(_doc(a, analysis))
        event_id = res.event_id
        if fresh:
            store.save_analyses([(a.id, a.sort_date, analysis.dumps())])
        store.record_link(a.id, duplicate_of=None, copy_score=None, event_id=event_id,
                          score=res.score, matched=res.matched, evidence=res.evidence, now=now)
        if res.is_new:
            summary.new_events += 1
        else:
            summary.joined_events += 1
    win.remember(a, signature, event_id)
    return event_id


def relink(store: Store, since: datetime | None = None,
           settings: LinkSettings | None = None) -> LinkSummary:
    """Forget copy/event decisions from `since` on (all when None) and link again."""
    store.unlink_since(iso(since) if since else None)
    return link_pending(store, settings)


def explain(store: Store, a_id: int, b_id: int, settings: LinkSettings | None = None) -> dict:
    """Why two articles are (or are not) in one event: the linker's features and evidence,
    with term statistics from the articles around them, as the link stage saw them."""
    settings = settings or LinkSettings()
    rows = store.stored_articles([a_id, b_id])
    missing = [i for i in (a_id, b_id) if i not in rows]
    if missing:
        from .errors import QueryError
        raise QueryError(f"no article {missing[0]} (see `newsdesk search`)")
    a, b = rows[a_id], rows[b_id]
    win = _Window(store, settings)
    lo = min(a.sort_date, b.sort_date) - win.span
    hi = max(a.sort_date, b.sort_date) + win.span
    win.linker.restore_many(
        (_doc(other, _analysis(other)[0]), other.event_id)
        for other in store.linked_between(iso(lo), iso(hi))
        if other.event_id is not None and other.duplicate_of is None)
    result = win.linker.explain(_doc(a), _doc(b))
    result["same_event_stored"] = a.event_id is not None and a.event_id == b.event_id
    result["events"] = [a.event_id, b.event_id]
    if a.duplicate_of == b.id or b.duplicate_of == a.id:
        result["copy"] = True
    return result
