"""Model prices: what an event costs when its input gives no cost."""

from .book import Price, PriceBook, cache_savings_at, cost_at

__all__ = ["Price", "PriceBook", "cache_savings_at", "cost_at"]
