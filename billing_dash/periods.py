"""Calendar periods (today, week, month, year, presets, custom) resolved in an IANA time zone."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Protocol
from zoneinfo import ZoneInfo, available_timezones

from .limits import MAX_HOUR_DAYS


class Tenant(Protocol):
    """The organization a report is for: its id and its time zone (auth.Organization)."""

    @property
    def id(self) -> int: ...
    @property
    def timezone(self) -> str: ...


PERIODS = ("today", "week", "month", "year", "last_7_days", "last_30_days", "last_month", "last_quarter", "custom")
DEFAULT_PERIOD = "month"  # the API's and the dashboard's, when a request names none
# Rolling presets: this many local days ending today, today included (as Stripe's and OpenAI's
# usage pages count "Last 7 days"), so today's usage is never missing from them.
ROLLING_DAYS = {"last_7_days": 7, "last_30_days": 30}
# A custom range is capped so one request cannot ask for centuries of empty days.
MAX_CUSTOM_DAYS = 3660
# Dates whose local midnights convert to UTC in every zone (the same years events may have).
FIRST_DATE = date(1970, 1, 1)
LAST_DATE = date(9998, 12, 31)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


class PeriodError(ValueError):
    """Bad period input; `code` is the machine-readable error code the API returns."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def whole_months(day_from: date, day_to: date) -> dict[str, date]:
    """SQL parameters naming the whole calendar months inside the days `day_from`..`day_to`: from
    the first day of the first (`month_from`) up to the day after the last (`month_end`, exclusive).
    Without a whole month inside, both are the day after `day_to`, so every day lies before them."""
    month_from = day_from if day_from.day == 1 else (day_from.replace(day=28) + timedelta(days=4)).replace(day=1)
    month_end = (day_to + timedelta(days=1)).replace(day=1)
    if month_end <= month_from:
        month_from = month_end = day_to + timedelta(days=1)
    return {"month_from": month_from, "month_end": month_end}


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def parse_timezone(name: str) -> ZoneInfo:
    """The IANA zone `name`, or PeriodError('invalid_timezone')."""
    if not isinstance(name, str) or name not in _zones():
        raise PeriodError("invalid_timezone", f"Unknown time zone {name!r}; use an IANA name such as Europe/Berlin.")
    return ZoneInfo(name)


@dataclass(frozen=True)
class Period:
    """Local dates `start`..`end` (both inclusive) in zone `tz`, and their UTC bounds."""

    name: str
    start: date
    end: date
    tz: str

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def start_utc(self) -> datetime:
        return local_midnight_utc(self.start, self.tz)

    @property
    def end_utc(self) -> datetime:
        """Exclusive upper bound: the start of the day after `end`."""
        return local_midnight_utc(self.end + timedelta(days=1), self.tz)

    def dates(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range(self.days)]

    def window(self, org_tz: str) -> dict[str, date | datetime]:
        """SQL parameters splitting the period into whole local days of the organization's zone
        (read from the aggregates, kept per such day) and partial edge days (read from events).

        In the organization's own zone the whole period is whole days and the edges are empty.
        """
        start, end = self.start_utc, self.end_utc
        if org_tz == self.tz:
            first, last = self.start, self.end
        else:
            zone = ZoneInfo(org_tz)
            first = start.astimezone(zone).date()
            if local_midnight_utc(first, org_tz) < start:
                first += timedelta(days=1)
            last = (end - timedelta(microseconds=1)).astimezone(zone).date()
            if local_midnight_utc(last + timedelta(days=1), org_tz) > end:
                last -= timedelta(days=1)
        if first > last:  # no whole day inside: all of it is edge
            return {
                "start": start,
                "end": end,
                "day_from": first,
                "day_to": first - timedelta(days=1),
                "full_start": end,
                "full_end": end,
            }
        return {
            "start": start,
            "end": end,
            "day_from": first,
            "day_to": last,
            "full_start": local_midnight_utc(first, org_tz),
            "full_end": local_midnight_utc(last + timedelta(days=1), org_tz),
        }

    def previous(self) -> Period:
        """The period the change badges compare with.

        Month to date: the same days of the previous month, clamped to its end (Mar 1-31 compares
        with Feb 1-28). Last month and last quarter: the whole month or quarter before. Any other
        period: the one of the same length that ends the day before this one starts."""
        if self.name == "month":
            start = _month_start(self.start, -1)
            return Period(self.name, start, start.replace(day=min(self.end.day, _month_end(start).day)), self.tz)
        if self.name in ("last_month", "last_quarter"):
            months = 1 if self.name == "last_month" else 3
            start = _month_start(self.start, -months)
            return Period(self.name, start, _month_end(_month_start(start, months - 1)), self.tz)
        end = self.start - timedelta(days=1)
        return Period(self.name, end - timedelta(days=self.days - 1), end, self.tz)


def _month_start(day: date, months: int) -> date:
    """The first day of the month `months` after (negative: before) the month of `day`."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _month_end(day: date) -> date:
    """The last day of the month of `day`."""
    return _month_start(day, 1) - timedelta(days=1)


def local_midnight_utc(day: date, tz: str) -> datetime:
    """The UTC instant at which local `day` begins in `tz`.

    Where a DST change skips midnight, fold=0 maps the missing 00:00 onto the transition
    instant, which is exactly when that local day starts.
    """
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(tz)).astimezone(UTC)


def _parse_date(value: str | None, field: str) -> date:
    if value is None or value == "":
        raise PeriodError("missing_date", f"period=custom needs {field} (YYYY-MM-DD).")
    try:
        if not isinstance(value, str) or not _DATE.fullmatch(value):
            raise ValueError
        parsed = date.fromisoformat(value)
        if not FIRST_DATE <= parsed <= LAST_DATE:
            raise ValueError
        return parsed
    except (TypeError, ValueError):
        raise PeriodError(
            "invalid_date", f"{field} must be a date as YYYY-MM-DD between {FIRST_DATE} and {LAST_DATE}, got {value!r}."
        ) from None


def resolve_period(
    period: str | None,
    tz: str,
    start_date: str | None = None,
    end_date: str | None = None,
    now: datetime | None = None,
) -> Period:
    """Turn request parameters into a Period; raises PeriodError on any bad input."""
    parse_timezone(tz)
    name = period or DEFAULT_PERIOD
    if name not in PERIODS:
        raise PeriodError("invalid_period", f"period must be one of {', '.join(PERIODS)}; got {name!r}.")
    now = now or datetime.now(UTC)
    today = now.astimezone(ZoneInfo(tz)).date()
    if name == "custom":
        start = _parse_date(start_date, "startDate")
        end = _parse_date(end_date, "endDate")
        if start > end:
            raise PeriodError("invalid_range", f"startDate {start} is after endDate {end}.")
        if (end - start).days + 1 > MAX_CUSTOM_DAYS:
            raise PeriodError("invalid_range", f"A custom range may span at most {MAX_CUSTOM_DAYS} days.")
        return Period(name, start, end, tz)
    if name in ROLLING_DAYS:
        return Period(name, today - timedelta(days=ROLLING_DAYS[name] - 1), today, tz)
    if name == "last_month":
        start = _month_start(today, -1)
        return Period(name, start, _month_end(start), tz)
    if name == "last_quarter":
        start = _month_start(today.replace(month=today.month - (today.month - 1) % 3), -3)
        return Period(name, start, _month_end(_month_start(start, 2)), tz)
    starts = {
        "today": today,
        "week": today - timedelta(days=today.weekday()),
        "month": today.replace(day=1),
        "year": today.replace(month=1, day=1),
    }
    return Period(name, starts[name], today, tz)


# A report's `series`: usage per local hour, day, week (from Monday) or calendar month.
GRANULARITIES = ("hour", "day", "week", "month")


def check_granularity(granularity: str, period: Period) -> str:
    """`granularity` if `period` may be reported by it (hours: at most MAX_HOUR_DAYS days), else
    PeriodError('invalid_granularity')."""
    if granularity not in GRANULARITIES:
        raise PeriodError(
            "invalid_granularity", f"granularity must be one of {', '.join(GRANULARITIES)}; got {granularity[:20]!r}."
        )
    if granularity == "hour" and period.days > MAX_HOUR_DAYS:
        raise PeriodError(
            "invalid_granularity",
            f"granularity=hour is for periods of at most {MAX_HOUR_DAYS} days; this one has {period.days}.",
        )
    return granularity
