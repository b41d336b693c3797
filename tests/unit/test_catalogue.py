"""The catalogue rows taken from genai-prices' snapshot, and the name forms a model is looked up by."""

from datetime import UTC, datetime, time

from genai_prices.data import providers
from genai_prices.types import ModelPrice, StartDateConstraint, TieredPrices, TimeOfDateConstraint

from billing_dash.pricing.book import name_candidates
from billing_dash.pricing.catalogue import FIRST_INSTANT, catalogue_rows


def test_names_are_looked_up_as_given_lower_cased_and_without_a_prefix():
    assert name_candidates("gpt-4o") == (["gpt-4o"], None)
    assert name_candidates("GPT-4o") == (["GPT-4o", "gpt-4o"], None)
    assert name_candidates("models/gemini-2.5-flash") == (["models/gemini-2.5-flash", "gemini-2.5-flash"], None)
    assert name_candidates("openai/gpt-4o") == (["openai/gpt-4o", "gpt-4o"], "openai")


def _rows():
    return {(r.provider, r.model, r.effective_from): r for r in catalogue_rows()}


def test_tiered_prices_load_their_base_tier():
    rows = _rows()
    tiered = [
        (p.id, m.id, m.prices.input_mtok)
        for p in providers
        for m in p.models
        if isinstance(m.prices, ModelPrice) and isinstance(m.prices.input_mtok, TieredPrices)
    ]
    assert tiered
    for provider, model, price in tiered:
        assert rows[(provider, model, FIRST_INSTANT)].prompt_per_million == price.base


def test_dated_prices_start_on_their_day_and_time_of_day_prices_are_left_out():
    rows = _rows()
    checked = set()
    for p in providers:
        for m in p.models:
            if isinstance(m.prices, ModelPrice) or getattr(m.prices[0].prices, "input_mtok", None) is None:
                continue
            starts = {r[2] for r in rows if r[:2] == (p.id, m.id)}
            for conditional in m.prices:
                kind = type(conditional.constraint)
                checked.add(kind)
                if isinstance(conditional.constraint, StartDateConstraint):
                    assert datetime.combine(conditional.constraint.start_date, time(), UTC) in starts
                elif isinstance(conditional.constraint, TimeOfDateConstraint):
                    assert all(s.time() == time() for s in starts)
    assert StartDateConstraint in checked


def test_prices_are_what_the_table_stores_ten_decimals_of():
    # A few catalogue prices carry float noise (0.18000000000000002): stored, it would differ from
    # the catalogue at every `prices update`.
    for row in catalogue_rows():
        for price in row[3:]:
            assert price is None or price.as_tuple().exponent >= -10, row
