"""Model prices by effective date, and what an event costs at them."""

from __future__ import annotations

from bisect import bisect_right
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

from sqlalchemy import Connection, select

from ..models import MONEY_SCALE, model_prices

_QUANTUM = Decimal(1).scaleb(-MONEY_SCALE)
_MILLION = Decimal(1_000_000)


class Price(NamedTuple):
    """USD per million tokens; a cache price of None means the model bills those tokens as input."""

    input: Decimal
    output: Decimal
    cache_read: Decimal | None = None
    cache_write: Decimal | None = None


def cost_at(price: Price, prompt: int, completion: int, cache_read: int = 0, cache_write: int = 0) -> Decimal:
    """The exact cost of one event: cache reads and writes are parts of `prompt`, billed at their own prices."""
    read_price = price.input if price.cache_read is None else price.cache_read
    write_price = price.input if price.cache_write is None else price.cache_write
    uncached = prompt - cache_read - cache_write
    amount = uncached * price.input + cache_read * read_price + cache_write * write_price + completion * price.output
    return (amount / _MILLION).quantize(_QUANTUM)


def cache_savings_at(price: Price, cache_read: int) -> Decimal:
    """What `cache_read` tokens cost less at the cache-read price than at the input price (0 when
    the model has no cache-read price: its cache reads cost the input price)."""
    if price.cache_read is None or not cache_read:
        return Decimal(0)
    return (cache_read * (price.input - price.cache_read) / _MILLION).quantize(_QUANTUM)


class PriceBook:
    """Model prices by effective date, loaded once per import."""

    def __init__(self, conn: Connection) -> None:
        self._prices: dict[str, tuple[list[datetime], list[Price]]] = {}
        rows = conn.execute(select(model_prices).order_by(model_prices.c.model, model_prices.c.effective_from))
        for row in rows:
            starts, prices = self._prices.setdefault(row.model, ([], []))
            starts.append(row.effective_from)
            prices.append(
                Price(
                    row.prompt_per_million,
                    row.completion_per_million,
                    row.cache_read_per_million,
                    row.cache_write_per_million,
                )
            )

    def price(self, model: str, ts: datetime) -> Price | None:
        """The price in effect at `ts`, or None when the model had no price then."""
        entry = self._prices.get(model)
        if entry is None:
            return None
        i = bisect_right(entry[0], ts) - 1
        return entry[1][i] if i >= 0 else None
