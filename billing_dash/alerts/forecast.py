"""Projection of daily usage to a period's end, from the recent days and the week's shape."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal

# Days of history a projection reads: four whole weeks give every weekday four times.
LOOKBACK_DAYS = 28
# The recent rate: the mean of the last two whole weeks (each weekday twice, so the mix is fair);
# on the demo data it beat one week (noisier) and four (lagging growth), bench/forecast.py.
RATE_DAYS = 14
METHODS = ("recent-rate", "weekday")
# Chosen by the back-test on the demo data (bench/forecast.py; the table is in README).
DEFAULT_METHOD = "weekday"


def expected_day(history: Mapping[date, Decimal], today: date, day: date, method: str = DEFAULT_METHOD) -> Decimal:
    """The usage expected on `day` (today or later), from the whole days before `today` in `history`.

    recent-rate: the mean of the last 14 whole days. weekday: that mean times the day's weekday
    factor, its weekday's mean over the last 28 days divided by the mean of all 28. Days before
    the first day with usage do not count: a new agent or organization is not averaged with the
    zeros of before it existed."""
    if method not in METHODS:
        raise ValueError(f"unknown forecast method {method!r}")
    window = [today - timedelta(days=i) for i in range(LOOKBACK_DAYS, 0, -1)]
    used = [d for d in window if history.get(d)]
    if not used:
        return Decimal(0)
    window = [d for d in window if d >= used[0]]
    recent = window[-RATE_DAYS:]
    rate = sum((history.get(d, Decimal(0)) for d in recent), Decimal(0)) / len(recent)
    if method == "recent-rate":
        return rate
    overall = sum((history.get(d, Decimal(0)) for d in window), Decimal(0)) / len(window)
    same = [d for d in window if d.weekday() == day.weekday()]
    if not same or not overall:
        return rate
    factor = sum((history.get(d, Decimal(0)) for d in same), Decimal(0)) / len(same) / overall
    return rate * factor


def project(
    history: Mapping[date, Decimal], today: date, start: date, end: date, method: str = DEFAULT_METHOD
) -> list[tuple[date, Decimal]]:
    """Each day of start..end: its usage until yesterday, today the larger of its usage so far and
    its expected day, and each later day its expected usage."""
    days = []
    day = start
    while day <= end:
        if day < today:
            value = history.get(day, Decimal(0))
        else:
            value = expected_day(history, today, day, method)
            if day == today:
                value = max(value, history.get(today, Decimal(0)))
        days.append((day, value))
        day += timedelta(days=1)
    return days


def exhaustion(days: list[tuple[date, Decimal]], limit: Decimal) -> date | None:
    """The first day on which the running total of `days` reaches `limit` (None: it never does)."""
    total = Decimal(0)
    for day, value in days:
        total += value
        if total >= limit:
            return day
    return None
