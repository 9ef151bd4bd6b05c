"""Sweep the date vectors in corpora/dates/ through normalise / from_struct.

Nothing may raise or come back naive; agreement with the expected values is measured, printed and
held above the floor measured when this was written.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from newsdesk.dates import FUTURE_TOLERANCE, from_struct, normalise
from newsdesk.models import DATE_FUTURE, DATE_OK

pytestmark = pytest.mark.corpus

# Measured on dateparser 1.5.0 / Python 3.11 when written (see the report lines); a drop below
# these means a regression in our tiers, not in the data.
DATEPARSER_FLOOR = 0.98  # measured 1287/1302 = 0.988
FEEDPARSER_FLOOR = 0.88  # measured 65/72 = 0.903
# Zone abbreviations used by the timezone-aware dateparser cases.
_ZONES = {"EDT": "America/New_York", "EST": "America/New_York", "PDT": "America/Los_Angeles",
          "PST": "America/Los_Angeles", "CDT": "America/Chicago", "CST": "America/Chicago",
          "MSK": "Europe/Moscow", "CET": "Europe/Paris", "CEST": "Europe/Paris"}


def _report(capsys, line: str) -> None:
    with capsys.disabled():
        print(f"\n[corpus] {line}")


def _check(when) -> None:
    assert when.value is None or (
        when.value.tzinfo is not None and when.value.utcoffset().total_seconds() == 0
    ), when
    assert (when.value is None) == (when.status != DATE_OK), when


def _expected_utc(case: dict) -> datetime | None:
    expected = datetime.fromisoformat(case["expected"])
    zone = case.get("expected_tz")
    if expected.tzinfo is not None:
        return expected.astimezone(UTC)
    if zone:
        if zone[:1] in "+-":
            return datetime.fromisoformat(case["expected"] + zone).astimezone(UTC)
        if zone in ("UTC", "GMT"):
            return expected.replace(tzinfo=UTC)
        if zone in _ZONES:
            return expected.replace(tzinfo=ZoneInfo(_ZONES[zone])).astimezone(UTC)
        try:
            return expected.replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)
        except (KeyError, ValueError):
            return None  # a zone we cannot name here: not scored
    return expected.replace(tzinfo=UTC)


@pytest.mark.timeout(240)
def test_dateparser_parse_cases(corpora, capsys):
    path = corpora / "dates" / "dateparser" / "parse-cases.jsonl"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    cases = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    agree = scored = 0
    started = time.perf_counter()
    for case in cases:
        settings = case.get("settings") or {}
        base = settings.get("RELATIVE_BASE")
        now = datetime.fromisoformat(base).replace(tzinfo=UTC) if base else None
        when = normalise(case["input"], source="test", now=now, languages=case.get("languages"))
        _check(when)
        expected = _expected_utc(case)
        if expected is None or settings.get("TIMEZONE") or settings.get("TO_TIMEZONE"):
            continue  # cases about other dateparser settings: only the no-raise/aware checks
        scored += 1
        if now is not None and expected > now + FUTURE_TOLERANCE:
            agree += when.status == DATE_FUTURE  # our policy: withheld, marked future
        elif when.value == expected:
            agree += 1
    rate = agree / scored
    _report(capsys, f"dates/dateparser parse-cases: {len(cases)} cases, {scored} scored, "
                    f"agreement {agree}/{scored} = {rate:.3f} "
                    f"({time.perf_counter() - started:.1f}s)")
    assert rate >= DATEPARSER_FLOOR


@pytest.mark.timeout(240)
def test_dateparser_vector_strings_never_raise(corpora, capsys):
    """Every date-ish string in dateparser's parameterised vectors: no exception, never naive."""
    path = corpora / "dates" / "dateparser" / "test-vectors.jsonl"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    now = datetime(2015, 6, 1, 12, tzinfo=UTC)
    strings = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        params = json.loads(line)["params"]
        for key in ("date_string", "datetime_string", "dt_string", "initial_string"):
            value = params.get(key)
            if isinstance(value, str):
                strings.add(value)
    statuses: dict[str, int] = {}
    for raw in sorted(strings):
        when = normalise(raw, source="test", now=now)
        _check(when)
        statuses[when.status] = statuses.get(when.status, 0) + 1
    _report(capsys, f"dates/dateparser test-vectors: {len(strings)} distinct strings: {statuses}")
    assert len(strings) > 1000


@pytest.mark.timeout(120)
def test_feedparser_date_vectors(corpora, capsys):
    path = corpora / "dates" / "feedparser" / "date-vectors.jsonl"
    if not path.is_file():
        pytest.skip(f"{path} not present")
    now = datetime(2025, 1, 1, tzinfo=UTC)
    agree = total = 0
    misses = []
    for line in path.read_text(encoding="utf-8").splitlines():
        params = json.loads(line)["params"]
        raw = params["input_value"]
        expected_tuple = params["expected_value"]
        when = normalise(raw, source="test", now=now)
        _check(when)
        # the same string as feedparser would hand it over, with its parsed tuple
        if expected_tuple is not None:
            _check(from_struct(time.struct_time(tuple(expected_tuple)), raw, source="test",
                               now=now))
        _check(from_struct(None, raw, source="test", now=now))
        expected = (datetime(*expected_tuple[:6], tzinfo=UTC)
                    if expected_tuple is not None else None)
        total += 1
        got = when.value.replace(microsecond=0) if when.value is not None else None
        if got == expected:  # feedparser's tuples have whole seconds
            agree += 1
        else:
            misses.append((raw, expected, when.value))
    rate = agree / total
    _report(capsys, f"dates/feedparser date-vectors: agreement {agree}/{total} = {rate:.3f}")
    assert rate >= FEEDPARSER_FLOOR, misses
