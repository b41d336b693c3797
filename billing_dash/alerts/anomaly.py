"""Anomalous days: a day's cost of an agent or a model against the median and MAD of its previous 28 days."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from statistics import median

# The baseline: the 28 days before the day (every weekday four times).
BASELINE_DAYS = 28
# Fewer days of history than this (counted from the first day with usage) give no baseline: a
# new agent's first days are not anomalies of anything.
MIN_HISTORY_DAYS = 7
# MAD times this estimates the standard deviation of normally distributed noise.
MAD_SCALE = Decimal("1.4826")


@dataclass(frozen=True)
class Anomaly:
    day: date
    cost: Decimal
    median: Decimal
    mad: Decimal
    # The cost above which the day counts as anomalous.
    threshold: Decimal


def baseline(history: Mapping[date, Decimal], day: date) -> list[Decimal] | None:
    """The costs of the 28 days before `day` (0 for days without usage), from the first day with
    usage on; None with fewer than MIN_HISTORY_DAYS of them."""
    window = [day - timedelta(days=i) for i in range(BASELINE_DAYS, 0, -1)]
    used = [d for d in window if history.get(d)]
    if not used:
        return None
    window = [d for d in window if d >= used[0]]
    if len(window) < MIN_HISTORY_DAYS:
        return None
    return [history.get(d, Decimal(0)) for d in window]


def detect(history: Mapping[date, Decimal], day: date, mads: Decimal, min_usd: Decimal) -> Anomaly | None:
    """An anomaly when `day` cost more than the median of its baseline plus `mads` scaled MADs,
    and at least `min_usd` more than that median (so that a flat, tiny baseline, whose MAD is 0,
    does not turn a cent into an alert)."""
    values = baseline(history, day)
    if values is None:
        return None
    center = Decimal(median(values))
    mad = Decimal(median(abs(v - center) for v in values))
    threshold = center + max(mads * MAD_SCALE * mad, min_usd)
    cost = history.get(day, Decimal(0))
    if cost > threshold:
        return Anomaly(day, cost, center, mad, threshold)
    return None
