"""Usage ingestion (being split: parse, pricing, store)."""

from .parse import *  # noqa: F403
from .parse import _Invalid  # noqa: F401
