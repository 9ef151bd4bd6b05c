"""CI floor for extraction quality: the eval's own scoring over the shared article corpora."""

from __future__ import annotations

import pytest

from benchmarks import extraction_eval as ev

pytestmark = pytest.mark.corpus


def _need(corpora, *parts):
    path = corpora.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not found")


def test_metric_matches_upstream_definition():
    assert ev.page_counts("a b c d e", "a b c d e") == (1.0, 0.0, 0.0)
    tp, fp, fn = ev.page_counts("one two three four five", "two three four five six")
    assert (tp, fp, fn) == pytest.approx((1 / 3, 1 / 3, 1 / 3))
    # an empty output counts against recall only
    scores = ev.aggregate([ev.page_counts("a b c d", ""), (1.0, 0.0, 0.0)])
    assert scores["precision"] == 1.0 and scores["recall"] == 0.5


def test_aeb_body_f1_floor(corpora):
    _need(corpora, "articles", "aeb", "ground-truth.json")
    result = ev.score_aeb(corpora)
    ours = result["ours"]
    assert ours["pages"] == 181
    assert ours["f1"] >= ev.FLOOR_F1, ours
    # the metric reproduces the published trafilatura figure (0.958)
    assert result["published"]["trafilatura"]["f1"] == pytest.approx(0.958, abs=0.002)


def test_naeb_metadata_floors(corpora):
    _need(corpora, "articles", "naeb", "news_articles.json")
    result = ev.score_naeb(corpora)
    assert result["pages"] >= 400
    assert result["title_fuzzy"] >= ev.FLOOR_TITLE_FUZZY, result
    assert result["date_day"] >= ev.FLOOR_DATE, result
    assert result["author"] >= ev.FLOOR_AUTHOR, result
