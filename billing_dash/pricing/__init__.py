"""Model prices: what an event costs when its input gives no cost."""

from .book import Charge, Price, PriceBook, cache_savings_at, cost_at, set_org_price

__all__ = ["Charge", "Price", "PriceBook", "cache_savings_at", "cost_at", "set_org_price"]
