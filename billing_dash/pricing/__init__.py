"""Model prices: what an event costs when its input gives no cost."""

from .book import PriceBook

__all__ = ["PriceBook"]
