from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from newsdesk.dates import from_struct, normalise
from newsdesk.models import DATE_FUTURE, DATE_MISSING, DATE_OK, DATE_UNPARSEABLE

NOW = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Thu, 01 Jan 2004 19:48:21 GMT", utc(2004, 1, 1, 19, 48, 21)),
        ("Thu, 01 Jan 2004 19:48:21 +0200", utc(2004, 1, 1, 17, 48, 21)),
        ("Thu, 01 Jan 2004 19:48:21 EST", utc(2004, 1, 2, 0, 48, 21)),
        ("Thu, 01 Jan 2004 19:48:21 -0000", utc(2004, 1, 1, 19, 48, 21)),
        ("Thu, 01 Jan 2004 19:48:21", utc(2004, 1, 1, 19, 48, 21)),  # naive: taken as UTC
        ("Thu, 30 Apr 2015 08:57:00 MEST", utc(2015, 4, 30, 6, 57)),  # zone email.utils lacks
        ("2003-12-31T18:14:55+08:00", utc(2003, 12, 31, 10, 14, 55)),
        ("2003-12-31T10:14:55Z", utc(2003, 12, 31, 10, 14, 55)),
        ("2003-12-31T10:14:55", utc(2003, 12, 31, 10, 14, 55)),
        ("2003-12-31", utc(2003, 12, 31)),
        ("  2003-12-31T10:14:55Z \n", utc(2003, 12, 31, 10, 14, 55)),
        ("Κυρ, 11 Ιούλ 2004 12:00:00 EST", utc(2004, 7, 11, 17)),
        ("Sept 4th, 2014", utc(2014, 9, 4)),
        ("3 hours ago", NOW - timedelta(hours=3)),
        ("Seg, 24 Set 2018 19:42:40 -0300", utc(2018, 9, 24, 22, 42, 40)),
    ],
)
def test_normalise_known_formats(raw, expected):
    when = normalise(raw, source="feed", now=NOW)
    assert when == type(when)(expected, raw=raw, source="feed", status=DATE_OK)
    assert when.value.tzinfo is UTC


def test_languages_restrict_dateparser():
    assert normalise("24 de Janeiro de 2014", source="page", now=NOW,
                     languages=["pt"]).value == utc(2014, 1, 24)
    # restricted to English, the Portuguese month is not understood
    assert normalise("24 de Janeiro de 2014", source="page", now=NOW,
                     languages=["en"]).status == DATE_UNPARSEABLE


@pytest.mark.parametrize("raw", [None, "", "   ", "\n\t"])
def test_missing(raw):
    when = normalise(raw, source="feed", now=NOW)
    assert when.value is None and when.status == DATE_MISSING and when.source == "feed"


@pytest.mark.parametrize("raw", ["not a date", "yesterday-ish blah", "x" * 5000, "\x00\x01",
                                 "2013-xx-27", "Sun, 99 Jun 2009 12:00:00 GMT"])
def test_unparseable(raw):
    when = normalise(raw, source="feed", now=NOW)
    assert when.value is None and when.status == DATE_UNPARSEABLE and when.raw == raw


def test_future_dates_are_withheld():
    when = normalise("2024-03-20T00:00:00Z", source="feed", now=NOW)
    assert when.value is None and when.status == DATE_FUTURE
    assert when.raw == "2024-03-20T00:00:00Z"
    # within the tolerance (clock skew, zones) it is kept
    soon = normalise("2024-03-10T20:00:00Z", source="feed", now=NOW)
    assert soon.status == DATE_OK and soon.value == utc(2024, 3, 10, 20)


def test_now_may_be_naive_or_in_another_zone():
    from zoneinfo import ZoneInfo

    tokyo = NOW.astimezone(ZoneInfo("Asia/Tokyo"))
    assert normalise("1 hour ago", source="feed", now=tokyo).value == NOW - timedelta(hours=1)
    assert normalise("1 hour ago", source="feed",
                     now=NOW.replace(tzinfo=None)).value == NOW - timedelta(hours=1)


def test_without_now_uses_the_clock():
    assert normalise("2001-01-01T00:00:00Z", source="feed").status == DATE_OK
    assert normalise("2999-01-01T00:00:00Z", source="feed").status == DATE_FUTURE


def test_from_struct_uses_the_tuple():
    parsed = time.struct_time((2004, 1, 1, 19, 48, 21, 3, 1, 0))
    when = from_struct(parsed, "whatever the raw was", source="feed", now=NOW)
    assert when.value == utc(2004, 1, 1, 19, 48, 21) and when.status == DATE_OK
    assert when.raw == "whatever the raw was"


def test_from_struct_falls_back_to_raw_and_checks_future():
    assert from_struct(None, "2004-01-01T00:00:00Z", source="feed", now=NOW).value == utc(2004, 1, 1)
    assert from_struct(None, None, source="feed", now=NOW).status == DATE_MISSING
    future = time.struct_time((2030, 1, 1, 0, 0, 0, 1, 1, 0))
    assert from_struct(future, "2030", source="feed", now=NOW).status == DATE_FUTURE
    bad = time.struct_time((2004, 13, 45, 0, 0, 0, 0, 1, 0))
    assert from_struct(bad, "junk", source="feed", now=NOW).status == DATE_UNPARSEABLE


def _assert_sane(when):
    if when.value is None:
        assert when.status != DATE_OK
    else:
        assert when.status == DATE_OK
        assert when.value.tzinfo is not None and when.value.utcoffset() == timedelta(0)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_normalise_never_raises_on_any_text(raw):
    _assert_sane(normalise(raw, source="feed", now=NOW))


_DATEISH = st.lists(
    st.sampled_from(["2024", "12", "31", "-", ":", "T", "Z", "+05:30", " ", "Mon", "Jan", ",",
                     "GMT", "ago", "3", "hours", "am", "pm", "/", ".", "99", "0000", "-0800"]),
    max_size=12,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(_DATEISH)
def test_normalise_never_raises_on_date_like_text(raw):
    _assert_sane(normalise(raw, source="page", now=NOW))


@settings(max_examples=100, deadline=None)
@given(st.tuples(st.integers(-10, 10000), st.integers(-5, 20), st.integers(-5, 40),
                 st.integers(-5, 30), st.integers(-5, 70), st.integers(-5, 70)))
def test_from_struct_never_raises(parts):
    parsed = time.struct_time((*parts, 0, 1, 0))
    _assert_sane(from_struct(parsed, None, source="feed", now=NOW))
