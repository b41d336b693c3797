"""The anomaly rule on hand-made days: median and MAD of the previous 28 days, a minimum amount, enough history."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from billing_dash.alerts.anomaly import detect

DAY = date(2026, 11, 30)
MADS, MIN_USD = Decimal(5), Decimal(5)


def days_before(values: list[str]) -> dict[date, Decimal]:
    """`values` on the days just before DAY, the last one yesterday."""
    return {DAY - timedelta(days=len(values) - i): Decimal(v) for i, v in enumerate(values)}


def test_the_threshold_is_the_median_plus_five_scaled_mads():
    # 10 and 12 alternating: median 11, every deviation 1, so MAD 1 and the threshold
    # 11 + 5 x 1.4826 x 1 = 18.413 (above the minimum of 11 + 5).
    history = days_before(["10", "12"] * 14)
    assert detect(history | {DAY: Decimal("18.41")}, DAY, MADS, MIN_USD) is None
    found = detect(history | {DAY: Decimal("18.42")}, DAY, MADS, MIN_USD)
    assert found is not None
    assert (found.median, found.mad, found.threshold) == (Decimal(11), Decimal(1), Decimal("18.4130"))


def test_a_flat_baseline_needs_the_minimum_amount():
    # MAD 0: five MADs are nothing, the minimum of $5 decides.
    history = days_before(["2"] * 28)
    assert detect(history | {DAY: Decimal("7")}, DAY, MADS, MIN_USD) is None
    assert detect(history | {DAY: Decimal("7.01")}, DAY, MADS, MIN_USD) is not None


def test_days_before_the_first_use_do_not_count_and_a_week_is_needed():
    six = days_before(["1"] * 6)
    assert detect(six | {DAY: Decimal(100)}, DAY, MADS, MIN_USD) is None  # six days: no baseline yet
    seven = days_before(["1"] * 7)
    assert detect(seven | {DAY: Decimal(100)}, DAY, MADS, MIN_USD) is not None
    # Idle days after the first use count as 0: median 0 of [0 x 20, 1 x 8] -> a $6 day is anomalous.
    sparse = days_before(["1"] + ["0"] * 20 + ["1"] * 7)
    assert detect(sparse | {DAY: Decimal(6)}, DAY, MADS, MIN_USD).median == 0
