"""The cost of one event from its token parts, against exact rational arithmetic."""

from decimal import Decimal
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from billing_dash.models import MONEY_SCALE
from billing_dash.pricing import Price, cost_at

prices = st.decimals(min_value=0, max_value=1000, places=4, allow_nan=False, allow_infinity=False)
counts = st.integers(min_value=0, max_value=10**9)


def _reference(price: Price, prompt: int, completion: int, read: int, write: int) -> Fraction:
    """Per million tokens: uncached input, cache reads, cache writes and output each at their price."""
    cache_read = price.input if price.cache_read is None else price.cache_read
    cache_write = price.input if price.cache_write is None else price.cache_write
    return (
        Fraction(prompt - read - write) * Fraction(price.input)
        + Fraction(read) * Fraction(cache_read)
        + Fraction(write) * Fraction(cache_write)
        + Fraction(completion) * Fraction(price.output)
    ) / 1_000_000


@given(prices, prices, st.none() | prices, st.none() | prices, counts, counts, counts, counts)
def test_cost_is_exact_to_the_money_scale(inp, out, read_price, write_price, a, b, c, completion):
    read, write, uncached = sorted((a, b, c))[:3]
    prompt = read + write + uncached
    price = Price(inp, out, read_price, write_price)
    cost = cost_at(price, prompt, completion, read, write)
    exact = _reference(price, prompt, completion, read, write)
    assert abs(Fraction(cost) - exact) <= Fraction(1, 2 * 10**MONEY_SCALE)


def test_langfuse_10592_cached_tokens_are_part_of_the_input_not_added_to_it():
    # 17,903 input tokens of which 17,817 cache reads: 86 at the input price, 17,817 at the cache price.
    price = Price(Decimal("2.50"), Decimal("10"), Decimal("1.25"))
    cost = cost_at(price, 17_903, 100, cache_read=17_817)
    assert cost == Decimal(86 * 2.5 + 17_817 * 1.25 + 100 * 10) / 1_000_000


def test_without_cache_prices_cached_input_costs_the_input_price():
    price = Price(Decimal("3"), Decimal("15"))
    assert cost_at(price, 1000, 10, cache_read=600, cache_write=300) == cost_at(price, 1000, 10)
