"""Number formatting a person expects: $1,234.56, 1,234,567 tokens, +12.3 %."""

from __future__ import annotations


def money(value: float, places: int = 2) -> str:
    return f"${value:,.{places}f}"


def small_money(value: float) -> str:
    """Averages per message are fractions of a cent: show four decimals."""
    return money(value, 4)


def count(value: float) -> str:
    return f"{value:,.0f}"
