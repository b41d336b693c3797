"""Model prices by effective date, and the cost of an event at its time."""

from __future__ import annotations

from bisect import bisect_right
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Connection, select

from ..models import MONEY_SCALE, model_prices

_QUANTUM = Decimal(1).scaleb(-MONEY_SCALE)
_MILLION = Decimal(1_000_000)


class PriceBook:
    """Model prices by effective date, loaded once per import."""

    def __init__(self, conn: Connection) -> None:
        self._prices: dict[str, tuple[list[datetime], list[tuple[Decimal, Decimal]]]] = {}
        rows = conn.execute(select(model_prices).order_by(model_prices.c.model, model_prices.c.effective_from))
        for row in rows:
            starts, prices = self._prices.setdefault(row.model, ([], []))
            starts.append(row.effective_from)
            prices.append((row.prompt_per_million, row.completion_per_million))

    def cost(self, model: str, ts: datetime, prompt: int, completion: int) -> Decimal | None:
        """The cost at the price in effect at `ts`, or None when the model had no price then."""
        entry = self._prices.get(model)
        if entry is None:
            return None
        i = bisect_right(entry[0], ts) - 1
        if i < 0:
            return None
        per_prompt, per_completion = entry[1][i]
        return ((prompt * per_prompt + completion * per_completion) / _MILLION).quantize(_QUANTUM)
