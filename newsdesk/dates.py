"""Date normalisation: any date string (or feedparser time tuple) to a UTC-aware ``When``.

Three tiers, cheapest first:

1. RFC 822 / RFC 2822 (``email.utils.parsedate_to_datetime``), the RSS format. Accepted only when
   the zone is understood (a numeric offset, GMT/UT/UTC or a US zone name) or absent.
2. ISO 8601 (``datetime.fromisoformat``, Python 3.11 accepts ``Z``), the Atom format.
3. feedparser's own date handlers (W3DTF variants, asctime, RFC 822 with odd zones, Greek, Korean,
   Hungarian, ...), so page and import dates read like feed dates.
4. ``dateparser`` for everything else (other languages, "3 hours ago", "Sept 4th, 2014", ...).

Rules of the result:

* ``value`` is always tz-aware UTC, or ``None``. Naive inputs (no zone given) are taken as UTC.
* ``status`` is ``ok`` with a value, otherwise one of ``missing`` (None/blank input),
  ``unparseable`` (no tier understood it) or ``future``.
* ``future``: the parsed value is more than ``FUTURE_TOLERANCE`` after ``now``. Such dates are a
  feed's mistake (wrong zone, wrong year, scheduled post) and would float to the top of every
  "latest" list, so the value is withheld: ``When(value=None, raw=raw, status="future")``. The
  parsed value is logged at debug level for whoever investigates.
* Nothing here raises on any input string.
"""

from __future__ import annotations

import logging
import re
import time
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import lru_cache

import dateparser

try:  # private in feedparser 6, stable since 5.x; the tier is skipped if they ever move
    from feedparser.datetimes import (
        _parse_date_asctime,
        _parse_date_greek,
        _parse_date_hungarian,
        _parse_date_nate,
        _parse_date_onblog,
        _parse_date_perforce,
        _parse_date_rfc822,
        _parse_date_w3dtf,
    )

    # feedparser's chain minus its loose ISO 8601 handler, which reads "2013-xx-27" as a date
    _FEEDPARSER_HANDLERS = (
        _parse_date_w3dtf, _parse_date_rfc822, _parse_date_asctime, _parse_date_perforce,
        _parse_date_hungarian, _parse_date_greek, _parse_date_nate, _parse_date_onblog,
    )
except ImportError:  # pragma: no cover
    _FEEDPARSER_HANDLERS = ()

from .models import DATE_FUTURE, DATE_MISSING, DATE_OK, DATE_UNPARSEABLE, When

log = logging.getLogger("newsdesk.dates")

FUTURE_TOLERANCE = timedelta(days=1)
# Date strings are short; anything longer is a paragraph, not a date (and slow for dateparser).
MAX_DATE_LENGTH = 200

# Errors the parsers raise on bad input. dateparser can also leak errors from its regexes and
# calendar arithmetic (IndexError/KeyError/AttributeError on odd token sequences).
_PARSE_ERRORS = (ValueError, TypeError, OverflowError, IndexError, KeyError, AttributeError)

# Zones email.utils understands (anything else comes back naive and would be silently misread).
_RFC822_ZONES = {"UT", "UTC", "GMT", "Z", "EST", "EDT", "CST", "CDT", "MST", "MDT", "PST", "PDT"}
_RFC822_TAIL = re.compile(r"\s(?:(?P<zone>[A-Za-z]+)|[+-]\d{4}|\d{1,2}:\d{2}(?::\d{2})?)\s*$")
_ISO_START = re.compile(r"^\d{4}-?\d{2}")


def _to_utc(value: datetime) -> datetime:
    """Aware datetimes converted to UTC; naive ones taken as UTC."""
    if value.tzinfo is None or value.utcoffset() is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _rfc822(raw: str) -> datetime | None:
    tail = _RFC822_TAIL.search(raw)
    if tail is None:
        return None
    zone = tail.group("zone")
    if zone is not None and zone.upper() not in _RFC822_ZONES:
        return None  # unknown zone name: email.utils would drop it; let dateparser try
    try:
        value = parsedate_to_datetime(raw)
    except _PARSE_ERRORS:
        return None
    return value


def _iso(raw: str) -> datetime | None:
    if not _ISO_START.match(raw):
        return None
    try:
        return datetime.fromisoformat(raw)
    except _PARSE_ERRORS:
        return None


def _feedparser(raw: str) -> datetime | None:
    if _looks_relative(raw):
        return None
    for handler in _FEEDPARSER_HANDLERS:
        try:
            parsed = handler(raw)
            if parsed and len(parsed) == 9:
                return datetime(*tuple(parsed)[:6], tzinfo=UTC)
        except _PARSE_ERRORS:
            continue
    return None


_RELATIVE_HINT = re.compile(r"^[+-]?\d+$|^-\d")  # bare numbers / "-0312": not absolute dates to us


def _looks_relative(raw: str) -> bool:
    return bool(_RELATIVE_HINT.match(raw))


def _dateparser_settings(now: datetime | None) -> dict:
    settings = {
        "RETURN_AS_TIMEZONE_AWARE": True,
        "TIMEZONE": "UTC",  # zone assumed for naive strings (default would be the host's zone)
        "TO_TIMEZONE": "UTC",
        "PREFER_DATES_FROM": "past",
    }
    if now is not None:
        settings["RELATIVE_BASE"] = _to_utc(now).replace(tzinfo=None)
    return settings


def _dateparser(raw: str, now: datetime | None, languages: tuple[str, ...] | None):
    try:
        return dateparser.parse(
            raw,
            languages=list(languages) if languages else None,
            settings=_dateparser_settings(now),
        )
    except _PARSE_ERRORS as exc:
        log.debug("dateparser failed on %r: %s", raw, exc)
        return None


@lru_cache(maxsize=4096)
def _dateparser_cached(raw: str, languages: tuple[str, ...] | None):
    # Only used when the caller gives no `now`: relative strings ("2 hours ago") are then resolved
    # against the moment of the first call; newsdesk runs from cron, so a run bounds that.
    return _dateparser(raw, None, languages)


def _parse(raw: str, now: datetime | None, languages: tuple[str, ...] | None) -> datetime | None:
    value = _rfc822(raw) or _iso(raw) or _feedparser(raw)
    if value is None:
        if now is None:
            value = _dateparser_cached(raw, languages)
        else:
            value = _dateparser(raw, now, languages)
    if value is None:
        return None
    try:
        return _to_utc(value)
    except _PARSE_ERRORS:  # OverflowError near datetime.min/max
        return None


def _judge(value: datetime | None, raw: str | None, source: str, now: datetime | None) -> When:
    if value is None:
        return When(None, raw=raw, source=source, status=DATE_UNPARSEABLE)
    reference = _to_utc(now) if now is not None else datetime.now(UTC)
    if value > reference + FUTURE_TOLERANCE:
        log.debug("date %r from %s is in the future (%s); withheld", raw, source, value.isoformat())
        return When(None, raw=raw, source=source, status=DATE_FUTURE)
    return When(value, raw=raw, source=source, status=DATE_OK)


def normalise(
    raw: str | None,
    *,
    source: str,
    now: datetime | None = None,
    languages: list[str] | None = None,
) -> When:
    """Parse a date string from a feed or a page into a UTC ``When``. Never raises."""
    if raw is None or not isinstance(raw, str) or not raw.strip():
        return When(None, raw=raw if isinstance(raw, str) else None, source=source,
                    status=DATE_MISSING)
    text = " ".join(raw.split())
    if len(text) > MAX_DATE_LENGTH or "\x00" in text:
        return When(None, raw=raw, source=source, status=DATE_UNPARSEABLE)
    langs = tuple(languages) if languages else None
    value = _parse(text, now, langs)
    if value is None:
        log.debug("unparseable date %r from %s", raw, source)
    return _judge(value, raw, source, now)


def from_struct(
    parsed: time.struct_time | None,
    raw: str | None,
    *,
    source: str,
    now: datetime | None = None,
) -> When:
    """Turn one of feedparser's ``*_parsed`` tuples (UTC) into a ``When``; fall back to ``raw``."""
    if parsed is not None:
        try:
            value = datetime(*tuple(parsed)[:6], tzinfo=UTC)
        except _PARSE_ERRORS:
            value = None
        if value is not None:
            return _judge(value, raw, source, now)
    return normalise(raw, source=source, now=now)
