"""Property test: whatever text a feed sends, the store gives it back unchanged."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from newsdesk.models import DATE_OK, Article, When
from newsdesk.store import Store

texty = st.text(st.characters(blacklist_categories=("Cs",)), max_size=300)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title=texty, text=texty, author=st.one_of(st.none(), texty),
       path=st.text("abcxyz/-_%?=&", max_size=30),
       published=st.one_of(st.none(), st.datetimes(
           min_value=datetime(1990, 1, 1), max_value=datetime(2030, 1, 1),
           timezones=st.just(UTC))))
def test_storage_round_trip(title, text, author, path, published):
    with tempfile.TemporaryDirectory() as tmp:
        with Store.open(Path(tmp) / "p.db") as store:
            url = "https://example.com/" + path
            when = When(published.replace(microsecond=0), "raw", "feed", DATE_OK) if published \
                else When(None)
            article = Article(url=url, canonical_url=url, title=title, text=text or None,
                              author=author, published=when, fetched_at=datetime.now(UTC))
            article_id, outcome = store.save_article(article)
            assert outcome == "new"
            row = next(store.query("SELECT * FROM articles WHERE id = ?", [article_id]))
            assert row["title"] == title
            assert row["text"] == (text or None)
            assert row["author"] == author
            assert row["url"] == url
            assert row["content_hash"] == article.content_hash
            if published:
                assert datetime.fromisoformat(row["published"]) == when.value
            else:
                assert row["published"] is None
            # saving the same article again is a no-op
            assert store.save_article(article) == (article_id, "unchanged")
            assert store.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
