"""Unit tests for billing_dash.periods: calendar periods, time zones, DST and input validation."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from billing_dash.db import sqlite_local_date, sqlite_month_start
from billing_dash.periods import (
    FIRST_DATE,
    LAST_DATE,
    MAX_CUSTOM_DAYS,
    PERIODS,
    Period,
    PeriodError,
    local_midnight_utc,
    resolve_period,
    whole_months,
)
from tests.integration.reference import month_days, quarter_days

UTC = UTC
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def last_monday_on_or_before(day: date) -> date:
    """Step back one day at a time: independent of weekday() arithmetic in the code under test."""
    while day.strftime("%A") != "Monday":
        day -= DAY
    return day


def custom_day(day: str, tz: str) -> Period:
    return resolve_period("custom", tz, day, day)


def transitions(tz: str, start: datetime, end: datetime) -> list[tuple[datetime, timedelta, timedelta]]:
    """(UTC instant, offset before, offset after) of each offset change in [start, end), found by scanning."""
    zone = ZoneInfo(tz)
    found = []
    t = start
    prev = t.astimezone(zone).utcoffset()
    while t < end:
        nxt = t + timedelta(minutes=30)
        off = nxt.astimezone(zone).utcoffset()
        if off != prev:
            lo, hi = t, nxt  # bisect to the exact second
            while hi - lo > timedelta(seconds=1):
                mid = lo + (hi - lo) / 2
                if mid.astimezone(zone).utcoffset() == prev:
                    lo = mid
                else:
                    hi = mid
            found.append((hi, prev, off))
            prev = off
        t = nxt
    return found


# --- named periods -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "now",
    [
        utc(2026, 3, 4, 12),  # a Wednesday
        utc(2026, 3, 2, 0),  # a Monday, first instant
        utc(2026, 3, 2, 23, 59, 59),  # a Monday, last second
        utc(2026, 3, 8, 23, 59, 59),  # a Sunday
        utc(2026, 1, 1, 9),  # week crossing a year boundary
    ],
)
def test_week_starts_on_monday(now):
    today = now.date()
    p = resolve_period("week", "UTC", now=now)
    assert p.name == "week"
    assert p.end == today
    assert p.start == last_monday_on_or_before(today)
    assert p.start.strftime("%A") == "Monday"
    assert 1 <= p.days <= 7


def test_week_when_today_is_monday_is_one_day():
    now = utc(2026, 3, 2, 10)
    assert now.strftime("%A") == "Monday"
    p = resolve_period("week", "UTC", now=now)
    assert p.start == p.end == date(2026, 3, 2)
    assert p.dates() == [date(2026, 3, 2)]


def test_week_when_today_is_sunday_is_seven_days():
    now = utc(2026, 3, 8, 10)
    assert now.strftime("%A") == "Sunday"
    p = resolve_period("week", "UTC", now=now)
    assert (p.start, p.end) == (date(2026, 3, 2), date(2026, 3, 8))
    assert p.days == 7


@pytest.mark.parametrize("now", [utc(2026, 3, 17, 8), utc(2024, 2, 29, 23), utc(2026, 12, 31, 23, 59), utc(2026, 1, 1)])
def test_month_and_year_start(now):
    today = now.date()
    month = resolve_period("month", "UTC", now=now)
    year = resolve_period("year", "UTC", now=now)
    assert (month.start, month.end) == (date(today.year, today.month, 1), today)
    assert (year.start, year.end) == (date(today.year, 1, 1), today)
    assert month.days == today.day
    assert year.days == today.timetuple().tm_yday


def test_default_period_is_month():
    now = utc(2026, 3, 17, 8)
    assert resolve_period(None, "UTC", now=now) == resolve_period("month", "UTC", now=now)
    assert resolve_period("", "UTC", now=now) == resolve_period("month", "UTC", now=now)


def test_today_is_one_day():
    now = utc(2026, 3, 17, 8)
    p = resolve_period("today", "UTC", now=now)
    assert p.start == p.end == date(2026, 3, 17)
    assert p.days == 1
    assert p.dates() == [date(2026, 3, 17)]
    assert p.start_utc == utc(2026, 3, 17)
    assert p.end_utc == utc(2026, 3, 18)


def test_local_today_depends_on_zone():
    now = utc(2026, 3, 1, 2)  # 21:00 on Feb 28 in New York
    ny = resolve_period("month", "America/New_York", now=now)
    assert (ny.start, ny.end) == (date(2026, 2, 1), date(2026, 2, 28))
    assert ny.tz == "America/New_York"
    utc_month = resolve_period("month", "UTC", now=now)
    assert (utc_month.start, utc_month.end) == (date(2026, 3, 1), date(2026, 3, 1))
    # East of UTC the new day starts earlier.
    tokyo = resolve_period("today", "Asia/Tokyo", now=utc(2026, 2, 28, 15))
    assert tokyo.start == date(2026, 3, 1)


def test_new_year_in_a_zone_west_of_utc_is_still_last_year():
    now = utc(2026, 1, 1, 3)  # 22:00 on Dec 31 in New York
    p = resolve_period("year", "America/New_York", now=now)
    assert (p.start, p.end) == (date(2025, 1, 1), date(2025, 12, 31))


# --- custom ranges -------------------------------------------------------------------------------


def test_custom_range_is_inclusive():
    p = resolve_period("custom", "UTC", "2026-03-01", "2026-03-03", now=utc(2020, 1, 1))
    assert (p.name, p.start, p.end, p.tz) == ("custom", date(2026, 3, 1), date(2026, 3, 3), "UTC")
    assert p.dates() == [date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)]
    assert p.days == 3
    assert p.start_utc == utc(2026, 3, 1)
    assert p.end_utc == utc(2026, 3, 4)


def test_custom_range_of_one_leap_day():
    p = resolve_period("custom", "UTC", "2024-02-29", "2024-02-29")
    assert p.dates() == [date(2024, 2, 29)]
    assert p.end_utc - p.start_utc == 24 * HOUR


def test_year_2024_has_366_days():
    year = resolve_period("year", "UTC", now=utc(2024, 12, 31, 12))
    expected = (date(2025, 1, 1) - date(2024, 1, 1)).days
    assert expected == 366
    assert len(year.dates()) == year.days == expected
    assert date(2024, 2, 29) in year.dates()
    custom = resolve_period("custom", "UTC", "2024-01-01", "2024-12-31")
    assert custom.dates() == year.dates()
    assert len(resolve_period("custom", "UTC", "2023-01-01", "2023-12-31").dates()) == 365


def test_custom_range_ignores_now():
    a = resolve_period("custom", "UTC", "2026-03-01", "2026-03-03", now=utc(2000, 1, 1))
    b = resolve_period("custom", "UTC", "2026-03-01", "2026-03-03", now=utc(2030, 1, 1))
    assert a == b


def test_longest_custom_range_is_accepted():
    start = date(2000, 1, 1)
    end = start + timedelta(days=MAX_CUSTOM_DAYS - 1)
    p = resolve_period("custom", "UTC", start.isoformat(), end.isoformat())
    assert p.days == MAX_CUSTOM_DAYS == len(p.dates())


# --- DST and odd offsets -------------------------------------------------------------------------


def test_berlin_spring_forward_day_is_23_hours():
    p = custom_day("2026-03-29", "Europe/Berlin")
    assert p.start_utc == utc(2026, 3, 28, 23)
    assert p.end_utc == utc(2026, 3, 29, 22)
    assert p.end_utc - p.start_utc == 23 * HOUR


def test_berlin_fall_back_day_is_25_hours():
    p = custom_day("2026-10-25", "Europe/Berlin")
    assert p.start_utc == utc(2026, 10, 24, 22)
    assert p.end_utc == utc(2026, 10, 25, 23)
    assert p.end_utc - p.start_utc == 25 * HOUR


def test_ordinary_berlin_days_are_24_hours():
    for day in ("2026-03-28", "2026-03-30", "2026-07-01", "2026-10-24", "2026-10-26"):
        p = custom_day(day, "Europe/Berlin")
        assert p.end_utc - p.start_utc == 24 * HOUR, day


def test_multi_day_period_spanning_dst_change_has_the_sum_of_its_day_lengths():
    p = resolve_period("custom", "Europe/Berlin", "2026-03-27", "2026-03-31")
    assert p.end_utc - p.start_utc == 5 * 24 * HOUR - HOUR
    lengths = [custom_day(d.isoformat(), "Europe/Berlin") for d in p.dates()]
    assert sum((q.end_utc - q.start_utc for q in lengths), timedelta()) == p.end_utc - p.start_utc


def santiago_midnight_gaps() -> list[tuple[datetime, date]]:
    """Spring-forward transitions in America/Santiago where local midnight does not exist:
    (UTC transition instant, local day that starts at it)."""
    zone = ZoneInfo("America/Santiago")
    out = []
    for instant, before, after in transitions("America/Santiago", utc(2015, 1, 1), utc(2028, 1, 1)):
        if after > before:
            just_before = (instant - timedelta(microseconds=1)).astimezone(zone)
            at = instant.astimezone(zone)
            if at.date() != just_before.date():  # the jump crosses midnight
                out.append((instant, at.date()))
    return out


def test_santiago_has_dst_at_midnight():
    gaps = santiago_midnight_gaps()
    assert len(gaps) >= 5  # one a year in most years


@pytest.mark.parametrize("instant,day", santiago_midnight_gaps())
def test_santiago_day_starting_at_dst_gap(instant, day):
    """DST starts at 00:00 (clocks jump to 01:00): the day starts at the transition and lasts 23 hours."""
    assert local_midnight_utc(day, "America/Santiago") == instant
    p = resolve_period("custom", "America/Santiago", day.isoformat(), day.isoformat())
    assert p.start_utc == instant
    assert p.end_utc - p.start_utc == 23 * HOUR
    # The day before is an ordinary day that ends at the transition.
    before = custom_day((day - DAY).isoformat(), "America/Santiago")
    assert before.end_utc == instant
    assert before.end_utc - before.start_utc == 24 * HOUR


def test_santiago_fall_back_day_is_25_hours():
    found = 0
    for instant, before, after in transitions("America/Santiago", utc(2022, 1, 1), utc(2027, 1, 1)):
        if after < before:
            day = (instant - timedelta(microseconds=1)).astimezone(ZoneInfo("America/Santiago")).date()
            p = custom_day(day.isoformat(), "America/Santiago")
            assert p.end_utc - p.start_utc == 25 * HOUR, day
            found += 1
    assert found >= 4


def test_kolkata_half_hour_offset_boundaries():
    p = custom_day("2026-03-01", "Asia/Kolkata")
    assert p.start_utc == utc(2026, 2, 28, 18, 30)
    assert p.end_utc == utc(2026, 3, 1, 18, 30)
    assert resolve_period("today", "Asia/Kolkata", now=utc(2026, 2, 28, 18, 29, 59, 999999)).start == date(2026, 2, 28)
    assert resolve_period("today", "Asia/Kolkata", now=utc(2026, 2, 28, 18, 30)).start == date(2026, 3, 1)
    month = resolve_period("month", "Asia/Kolkata", now=utc(2026, 2, 28, 18, 30))
    assert (month.start, month.end) == (date(2026, 3, 1), date(2026, 3, 1))
    assert month.start_utc == utc(2026, 2, 28, 18, 30)


def test_kathmandu_quarter_hour_offset():
    assert local_midnight_utc(date(2026, 3, 1), "Asia/Kathmandu") == utc(2026, 2, 28, 18, 15)


# --- previous() ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "period,tz,start,end,now",
    [
        ("today", "UTC", None, None, utc(2026, 3, 1, 12)),
        ("week", "Europe/Berlin", None, None, utc(2026, 3, 4, 12)),
        ("year", "UTC", None, None, utc(2024, 3, 1, 12)),
        ("last_7_days", "Europe/Berlin", None, None, utc(2026, 3, 31, 12)),
        ("last_30_days", "America/New_York", None, None, utc(2026, 11, 2, 12)),
        ("custom", "Asia/Kolkata", "2024-02-01", "2024-03-31", None),
    ],
)
def test_previous_has_same_length_and_ends_the_day_before(period, tz, start, end, now):
    p = resolve_period(period, tz, start, end, now=now)
    prev = p.previous()
    assert prev.days == p.days == len(prev.dates())
    assert prev.end == p.start - DAY
    assert prev.end_utc == p.start_utc
    assert (prev.name, prev.tz) == (p.name, p.tz)
    assert prev.dates()[-1] + DAY == p.dates()[0]


@given(st.dates(min_value=date(1990, 1, 1), max_value=date(2100, 1, 1)), st.integers(1, 400))
def test_previous_property(start, days):
    p = Period("custom", start, start + timedelta(days=days - 1), "UTC")
    prev = p.previous()
    assert prev.days == days
    assert prev.end == start - DAY
    assert set(prev.dates()).isdisjoint(p.dates())


# --- presets and what each compares with -------------------------------------------------------
# Expected dates come from a calendar walked a day at a time and the zone's local date of `now`
# read with zoneinfo: no month arithmetic shared with the code under test.


def local_today(now: datetime, tz: str) -> date:
    return now.astimezone(ZoneInfo(tz)).date()


def utc_hours(p: Period) -> float:
    return (p.end_utc - p.start_utc) / HOUR


PRESET_CASES = [
    # Berlin's clocks go forward on 2026-03-29 and back on 2026-10-25.
    ("Europe/Berlin", utc(2026, 4, 1, 21, 59)),  # 23:59 local on Apr 1: a new month and quarter
    ("Europe/Berlin", utc(2026, 3, 31, 22, 0)),  # 00:00 local on Apr 1
    ("Europe/Berlin", utc(2026, 10, 27, 9)),
    ("America/New_York", utc(2026, 1, 1, 3)),  # still Dec 31, 2025 locally: last year's quarter
    ("America/New_York", utc(2026, 3, 9, 12)),  # the day after the spring change
    ("Asia/Kolkata", utc(2024, 3, 1, 0)),  # leap-year February is last month
    ("Pacific/Kiritimati", utc(2026, 6, 30, 10, 30)),  # already Jul 1 locally
    ("UTC", utc(2026, 12, 31, 23, 59, 59)),
]


@pytest.mark.parametrize("tz,now", PRESET_CASES)
def test_rolling_presets_are_the_local_days_ending_today(tz, now):
    today = local_today(now, tz)
    for name, count in (("last_7_days", 7), ("last_30_days", 30)):
        p = resolve_period(name, tz, now=now)
        expected = [today]
        while len(expected) < count:
            expected.insert(0, expected[0] - DAY)
        assert p.dates() == expected and p.name == name
        assert p.start_utc == datetime.combine(expected[0], datetime.min.time(), ZoneInfo(tz)).astimezone(UTC)
        assert p.start_utc <= now < p.end_utc
        before = p.previous()
        assert before.dates()[-1] + DAY == expected[0] and before.days == count


@pytest.mark.parametrize("tz,now", PRESET_CASES)
def test_last_month_and_last_quarter_are_whole_calendar_ones_before_today(tz, now):
    today = local_today(now, tz)
    last_month = month_days(month_days(today)[0] - DAY)
    last_quarter = quarter_days(quarter_days(today)[0] - DAY)
    p = resolve_period("last_month", tz, now=now)
    assert p.dates() == last_month
    assert p.end_utc <= now
    assert p.previous().dates() == month_days(last_month[0] - DAY)
    q = resolve_period("last_quarter", tz, now=now)
    assert q.dates() == last_quarter and len(last_quarter) in (90, 91, 92)
    assert q.end_utc <= now
    assert q.previous().dates() == quarter_days(last_quarter[0] - DAY)


def test_presets_across_a_dst_change_have_the_local_hours():
    # Berlin, Apr 1 2026: the last 7 days (Mar 26 - Apr 1) hold the spring change (a 23-hour day);
    # last month is March (743 hours), last quarter Jan-Mar (90 days less an hour).
    now = utc(2026, 4, 1, 12)
    assert utc_hours(resolve_period("last_7_days", "Europe/Berlin", now=now)) == 7 * 24 - 1
    march = resolve_period("last_month", "Europe/Berlin", now=now)
    assert (march.start_utc, march.end_utc) == (utc(2026, 2, 28, 23), utc(2026, 3, 31, 22))
    assert utc_hours(resolve_period("last_quarter", "Europe/Berlin", now=now)) == 90 * 24 - 1
    # November: last month is October, with the autumn change (a 25-hour day).
    assert utc_hours(resolve_period("last_month", "Europe/Berlin", now=utc(2026, 11, 5))) == 31 * 24 + 1


@pytest.mark.parametrize(
    "tz,now",
    [
        *PRESET_CASES,
        ("UTC", utc(2026, 3, 31, 12)),  # Mar 1-31 compares with Feb 1-28
        ("UTC", utc(2024, 3, 30, 12)),  # Mar 1-30 with Feb 1-29 (leap year)
        ("UTC", utc(2026, 5, 31, 12)),  # May 1-31 with Apr 1-30
        ("UTC", utc(2026, 1, 15, 12)),  # Jan 1-15 with Dec 1-15 of the year before
        ("Europe/Berlin", utc(2026, 3, 31, 21)),  # Mar 31 local: Feb 1-28, over the spring change
    ],
)
def test_month_to_date_compares_with_the_same_days_of_the_previous_month(tz, now):
    today = local_today(now, tz)
    before = month_days(month_days(today)[0] - DAY)
    expected = [d for d in before if d.day <= today.day]  # clamped: the previous month may be shorter
    p = resolve_period("month", tz, now=now)
    assert p.dates() == month_days(today)[: today.day]
    assert p.previous().dates() == expected
    assert p.previous().tz == tz


# --- bad input -----------------------------------------------------------------------------------


def error_code(*args, **kwargs) -> str:
    with pytest.raises(PeriodError) as info:
        resolve_period(*args, **kwargs)
    assert info.value.message and str(info.value) == info.value.message
    return info.value.code


@pytest.mark.parametrize("period", ["weekly", "Month", "MONTH", " month", "day", "all", "custom ", "\x00"])
def test_unknown_period(period):
    assert error_code(period, "UTC", now=utc(2026, 3, 1)) == "invalid_period"


@pytest.mark.parametrize(
    "start,end", [(None, None), ("2026-03-01", None), (None, "2026-03-01"), ("", "2026-03-01"), ("2026-03-01", "")]
)
def test_custom_without_dates(start, end):
    assert error_code("custom", "UTC", start, end) == "missing_date"


@pytest.mark.parametrize(
    "bad",
    [
        "2024-13-01",
        "2024-02-30",
        "2023-02-29",
        "2024-00-10",
        "2024-01-32",
        "24-01-01",
        "2024-W01-1",
        "20240101",
        " 2024-01-01",
        "2024-01-01 ",
        "2024-01-01T00:00",
        "2024/01/01",
        "2024-1-1",
        "0000-01-01",
        "٢٠٢٤-٠١-٠١",
        "2024-01-01\n",
        "today",
    ],
)
def test_malformed_dates(bad):
    assert error_code("custom", "UTC", bad, "2024-12-31") == "invalid_date"
    assert error_code("custom", "UTC", "2024-01-01", bad) == "invalid_date"


def test_start_after_end():
    assert error_code("custom", "UTC", "2026-03-02", "2026-03-01") == "invalid_range"


def test_too_long_range():
    start = date(2000, 1, 1)
    end = start + timedelta(days=MAX_CUSTOM_DAYS)  # MAX_CUSTOM_DAYS + 1 days inclusive
    assert error_code("custom", "UTC", start.isoformat(), end.isoformat()) == "invalid_range"
    assert error_code("custom", "UTC", "1970-01-01", "9998-12-31") == "invalid_range"
    assert error_code("custom", "UTC", "0001-01-01", "9999-12-31") == "invalid_date"


@pytest.mark.parametrize(
    "tz",
    [
        "Mars/Olympus",
        "../etc/passwd",
        "",
        "utc ",
        "UTC ",
        " UTC",
        "utc",
        "europe/berlin",
        "Europe/Berlin\x00",
        "/etc/localtime",
        "Europe/../UTC",
        "+01:00",
        "Europe",
    ],
)
def test_unknown_or_hostile_timezone(tz):
    assert error_code("month", tz, now=utc(2026, 3, 1)) == "invalid_timezone"


def test_timezone_is_checked_before_the_period():
    assert error_code("bogus", "Mars/Olympus") == "invalid_timezone"


def test_period_error_is_a_value_error():
    with pytest.raises(ValueError):
        resolve_period("bogus", "UTC")


# --- properties ----------------------------------------------------------------------------------

SOME_ZONES = [*sorted(available_timezones())[::7], "UTC", "Europe/Berlin", "America/Santiago", "Asia/Kolkata"]
NOW = utc(2026, 3, 1, 2)


@settings(max_examples=300)
@given(
    period=st.one_of(st.none(), st.sampled_from(PERIODS), st.text()),
    start=st.one_of(st.none(), st.dates().map(date.isoformat), st.text()),
    end=st.one_of(st.none(), st.dates().map(date.isoformat), st.text()),
    tz=st.one_of(st.sampled_from(SOME_ZONES), st.text()),
    now=st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(9998, 1, 1), timezones=st.just(UTC)),
)
@example(period="custom", start="2024-02-29", end="2024-02-29", tz="UTC", now=NOW)
def test_resolve_period_returns_period_or_raises_period_error(period, start, end, tz, now):
    try:
        p = resolve_period(period, tz, start, end, now=now)
    except PeriodError as exc:
        assert exc.code in {"invalid_period", "missing_date", "invalid_date", "invalid_range", "invalid_timezone"}
        return
    assert isinstance(p, Period)
    assert p.start <= p.end
    assert p.tz == tz
    assert p.name in PERIODS
    assert p.days <= MAX_CUSTOM_DAYS if p.name == "custom" else p.days <= 366


# The zones furthest ahead of and behind UTC, and some between.
EDGE_ZONES = ["Etc/GMT-14", "Pacific/Kiritimati", "Asia/Tokyo", "UTC", "America/Los_Angeles", "Etc/GMT+12"]


@pytest.mark.parametrize("tz", EDGE_ZONES)
@pytest.mark.parametrize("start,end", [(FIRST_DATE, FIRST_DATE + 30 * DAY), (LAST_DATE - 30 * DAY, LAST_DATE)])
def test_accepted_custom_period_has_computable_utc_bounds(tz, start, end):
    """The earliest and latest periods resolve_period accepts must be usable: billing_report needs
    their UTC bounds, their window in another zone and the previous period's bounds."""
    p = resolve_period("custom", tz, start.isoformat(), end.isoformat())
    assert (p.start, p.end) == (start, end)
    assert p.start_utc < p.end_utc
    for org_tz in EDGE_ZONES:
        window = p.window(org_tz)
        assert (
            p.start_utc == window["start"] <= window["full_start"] <= window["full_end"] <= window["end"] == p.end_utc
        )
    before = p.previous()
    assert before.start_utc < before.end_utc == p.start_utc


@pytest.mark.parametrize(
    "tz,start,end",
    [
        ("Etc/GMT-14", "9999-01-01", "9999-01-01"),
        ("UTC", "9990-01-01", "9999-12-31"),
        ("Etc/GMT+12", "1969-12-31", "1970-01-01"),
        ("Asia/Tokyo", "0001-01-01", "0001-01-31"),
    ],
)
def test_custom_period_beyond_the_computable_dates_is_refused(tz, start, end):
    assert error_code("custom", tz, start, end) == "invalid_date"


DST_ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "America/Santiago",
    "America/Sao_Paulo",
    "America/Havana",
    "Asia/Beirut",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
    "America/St_Johns",
    "Pacific/Chatham",
    "Africa/Cairo",
    "Europe/London",
]


def naive_utc_text(instant: datetime) -> str:
    return instant.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")


@settings(max_examples=300)
@given(st.dates(min_value=date(1996, 1, 1), max_value=date(2037, 12, 31)), st.sampled_from(DST_ZONES))
@example(date(2026, 3, 29), "Europe/Berlin")
@example(date(2026, 10, 25), "Europe/Berlin")
@example(date(2026, 10, 26), "Europe/Berlin")
@example(date(2024, 9, 8), "America/Santiago")
@example(date(2026, 3, 1), "Asia/Kolkata")
def test_sqlite_local_date_agrees_with_local_midnight(day, tz):
    midnight = local_midnight_utc(day, tz)
    assert midnight.tzinfo is not None and midnight.utcoffset() == timedelta(0)
    assert sqlite_local_date(naive_utc_text(midnight), tz) == day.isoformat()
    earlier = midnight - timedelta(microseconds=1)
    assert sqlite_local_date(naive_utc_text(earlier), tz) == (day - DAY).isoformat()


def test_sqlite_local_date_of_none_is_none():
    assert sqlite_local_date(None, "UTC") is None


def test_sqlite_local_date_examples():
    assert sqlite_local_date("2026-03-01 02:00:00.000000", "America/New_York") == "2026-02-28"
    assert sqlite_local_date("2026-03-01 02:00:00.000000", "UTC") == "2026-03-01"
    assert sqlite_local_date("2026-02-28 18:30:00", "Asia/Kolkata") == "2026-03-01"
    assert sqlite_local_date("2026-02-28 18:29:59.999999", "Asia/Kolkata") == "2026-02-28"


@given(st.dates(date(2020, 1, 1), date(2030, 12, 31)), st.integers(-1, 800))
@example(date(2026, 1, 1), 333)  # a year to date: Jan-Nov whole, then days
@example(date(2026, 2, 1), 27)  # exactly February 2026
@example(date(2024, 2, 2), 27)  # February 2024 but its first day
@example(date(2026, 3, 5), -1)  # no whole day at all
def test_whole_months_are_the_months_every_day_of_which_is_inside(day_from, extra_days):
    """Checked day by day: a month is whole when all its days lie in the range; the rest of the
    range's days lie before month_from or from month_end on (what tag_groups reads from tag_day)."""
    day_to = day_from + timedelta(days=extra_days)
    days = [day_from + timedelta(days=i) for i in range(extra_days + 1)]
    by_month: dict[date, list[date]] = {}
    for d in days:
        by_month.setdefault(d.replace(day=1), []).append(d)
    whole = {m for m, ds in by_month.items() if len(ds) == len(month_days(m))}
    bounds = whole_months(day_from, day_to)
    month_from, month_end = bounds["month_from"], bounds["month_end"]
    # tag_month's rows read (keyed by first days) and tag_day's days read.
    firsts = {date(y, m, 1) for y in range(2019, 2033) for m in range(1, 13)}
    assert {f for f in firsts if month_from <= f < month_end} == whole
    assert {d for d in days if d < month_from or d >= month_end} == {d for d in days if d.replace(day=1) not in whole}
    assert all(sqlite_month_start(d.isoformat()) == d.replace(day=1).isoformat() for d in days[:40])
