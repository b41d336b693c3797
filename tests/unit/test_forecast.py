"""The forecast's arithmetic on hand-made daily series, budget periods and budget input."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from billing_dash.alerts.budgets import BudgetError, parse_thresholds, parse_usd, period_bounds
from billing_dash.alerts.forecast import exhaustion, expected_day, project

TODAY = date(2026, 11, 18)  # a Wednesday


def series(values_by_weekday: dict[int, int], days: int = 28) -> dict[date, Decimal]:
    """The `days` whole days before TODAY, each worth its weekday's value."""
    back = [TODAY - timedelta(days=i) for i in range(1, days + 1)]
    return {d: Decimal(values_by_weekday[d.weekday()]) for d in back}


WEEK = {0: 10, 1: 10, 2: 10, 3: 10, 4: 10, 5: 4, 6: 4}  # 58 a week


def test_constant_use_is_expected_again_by_both_methods():
    history = series(dict.fromkeys(range(7), 3))
    for method in ("recent-rate", "weekday"):
        assert expected_day(history, TODAY, TODAY + timedelta(days=3), method) == 3


def test_weekday_method_expects_each_weekday_its_own_level():
    history = series(WEEK)
    saturday = TODAY + timedelta(days=3)
    # Two whole weeks: 116 / 14 a day; the weekday factor of a Saturday is 4 / (116 / 14).
    assert expected_day(history, TODAY, saturday, "recent-rate") == Decimal(116) / 14
    assert expected_day(history, TODAY, saturday, "weekday").quantize(Decimal("1e-20")) == 4
    assert expected_day(history, TODAY, TODAY, "weekday").quantize(Decimal("1e-20")) == 10


def test_days_before_the_first_use_do_not_count():
    history = {TODAY - timedelta(days=i): Decimal(6) for i in (1, 2, 3)}
    assert expected_day(history, TODAY, TODAY, "recent-rate") == 6
    assert expected_day({}, TODAY, TODAY) == 0


def test_unknown_method_is_refused():
    with pytest.raises(ValueError):
        expected_day({}, TODAY, TODAY, "magic")


def test_projection_keeps_the_past_and_todays_larger_part():
    history = {**series(dict.fromkeys(range(7), 2)), TODAY: Decimal(5)}
    days = project(history, TODAY, TODAY - timedelta(days=2), TODAY + timedelta(days=2), "recent-rate")
    assert [v for _, v in days] == [2, 2, 5, 2, 2]  # today has used more than a usual day already
    history[TODAY] = Decimal(1)
    assert project(history, TODAY, TODAY, TODAY, "recent-rate") == [(TODAY, 2)]
    assert exhaustion(days, Decimal(9)) == TODAY  # 2 + 2 + 5
    assert exhaustion(days, Decimal("13.01")) is None


@pytest.mark.parametrize(
    "period, day, bounds",
    [
        ("month", date(2028, 2, 10), (date(2028, 2, 1), date(2028, 2, 29))),
        ("month", date(2026, 12, 31), (date(2026, 12, 1), date(2026, 12, 31))),
        ("week", date(2026, 11, 30), (date(2026, 11, 30), date(2026, 12, 6))),  # a Monday
        ("week", date(2026, 11, 29), (date(2026, 11, 23), date(2026, 11, 29))),  # a Sunday
        ("day", date(2026, 10, 25), (date(2026, 10, 25), date(2026, 10, 25))),
    ],
)
def test_budget_periods_are_calendar_periods(period, day, bounds):
    assert period_bounds(period, day) == bounds


def test_usd_is_exact():
    assert parse_usd("0.1") == Decimal("0.1")
    assert parse_usd(" 900000000 ") == Decimal(900_000_000)


@pytest.mark.parametrize("text", ["", "abc", "-5", "0", "0.00", "1e3", "NaN", "1.12345678901", "900000000.01"])
def test_bad_usd_names_the_option(text):
    with pytest.raises(BudgetError) as error:
        parse_usd(text)
    assert str(error.value).startswith("--usd: ")


def test_thresholds_are_sorted_without_repeats():
    assert parse_thresholds("100, 50,80,50") == (50, 80, 100)


@pytest.mark.parametrize("text", ["", ",", "50,", "a", "0,50", "1001", "50;80", "-5"])
def test_bad_thresholds_name_the_option(text):
    with pytest.raises(BudgetError) as error:
        parse_thresholds(text)
    assert str(error.value).startswith("--thresholds: ")
