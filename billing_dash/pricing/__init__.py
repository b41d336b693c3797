"""Model prices: what an event costs when its input gives no cost."""

from .book import Price, PriceBook, cost_at

__all__ = ["Price", "PriceBook", "cost_at"]
