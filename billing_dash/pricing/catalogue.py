"""The price catalogue of the installed genai-prices package: its rows for model_prices, and its match rules."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from typing import Any, NamedTuple

from sqlalchemy import Connection, delete, func, insert, select, update

from ..models import MONEY_SCALE, model_prices

# A catalogue price without a start date applies from the first instant an event may have.
FIRST_INSTANT = datetime(1980, 1, 1, tzinfo=UTC)
_QUANTUM = Decimal(1).scaleb(-MONEY_SCALE)
PRICE_COLUMNS = ("prompt_per_million", "completion_per_million", "cache_read_per_million", "cache_write_per_million")


class CatalogueRow(NamedTuple):
    provider: str
    model: str
    effective_from: datetime
    prompt_per_million: Decimal
    completion_per_million: Decimal
    cache_read_per_million: Decimal | None
    cache_write_per_million: Decimal | None


def package_version() -> str:
    """The installed genai-prices version (without importing its data)."""
    from importlib.metadata import version

    return version("genai-prices")


def _base(value: Any) -> Decimal | None:
    """A price per million tokens as stored (10 decimal places: a few catalogue prices carry float
    noise such as 0.18000000000000002); of a tiered price (long-context tiers) the base tier, the
    price below the first threshold."""
    if value is not None and not isinstance(value, Decimal):
        value = getattr(value, "base", None)
    return None if value is None else value.quantize(_QUANTUM)


def _history(model: Any) -> list[tuple[datetime, Any]]:
    """A model's prices by start date. A price without a constraint applies from the start; a
    time-of-day price (off-peak discounts) is skipped: the day's standard price stands."""
    from genai_prices.types import ModelPrice, StartDateConstraint

    if isinstance(model.prices, ModelPrice):
        return [(FIRST_INSTANT, model.prices)]
    dated: dict[datetime, Any] = {}
    for conditional in model.prices:  # later entries take precedence, as in genai-prices
        constraint = conditional.constraint
        if constraint is None:
            dated[FIRST_INSTANT] = conditional.prices
        elif isinstance(constraint, StartDateConstraint):
            start = datetime(*constraint.start_date.timetuple()[:3], tzinfo=UTC)
            dated[max(start, FIRST_INSTANT)] = conditional.prices
    return sorted(dated.items(), key=lambda item: item[0])


def catalogue_rows() -> list[CatalogueRow]:
    """Every dated token price of the installed snapshot: input, output, cache read and cache
    write (five-minute writes; Anthropic's one-hour writes are not represented). Models priced
    without input tokens (images, audio, per request) are left out."""
    from genai_prices.data import providers

    rows: dict[tuple[str, str, datetime], CatalogueRow] = {}
    for provider in providers:
        for model in provider.models:
            for start, prices in _history(model):
                prompt = _base(getattr(prices, "input_mtok", None))
                if prompt is None:
                    continue
                key = (provider.id, model.id, start)
                rows.setdefault(
                    key,
                    CatalogueRow(
                        provider.id,
                        model.id,
                        start,
                        prompt,
                        _base(getattr(prices, "output_mtok", None)) or Decimal(0),
                        _base(getattr(prices, "cache_read_mtok", None)),
                        _base(getattr(prices, "cache_write_mtok", None)),
                    ),
                )
    return list(rows.values())


class LoadResult(NamedTuple):
    added: int
    changed: int
    removed: int
    total: int


def load_catalogue(conn: Connection) -> LoadResult:
    """Make the catalogue rows of model_prices the installed snapshot's, in the caller's
    transaction. Rows are kept by (provider, model, start), so events keep pointing at the row
    that priced them; a changed price is updated in place, a price gone from the catalogue deleted."""
    wanted = {(r.provider, r.model, r.effective_from): r for r in catalogue_rows()}
    stored = {
        (row.provider, row.model, row.effective_from): row
        for row in conn.execute(select(model_prices).where(model_prices.c.source == "catalogue"))
    }
    new = [r._asdict() | {"source": "catalogue"} for key, r in wanted.items() if key not in stored]
    if new:
        conn.execute(insert(model_prices), new)
    changed = 0
    for key, row in stored.items():
        want = wanted.get(key)
        if want is None:
            continue
        values = {c: getattr(want, c) for c in PRICE_COLUMNS}
        if any(getattr(row, c) != v for c, v in values.items()):
            conn.execute(update(model_prices).where(model_prices.c.id == row.id).values(**values))
            changed += 1
    gone = [row.id for key, row in stored.items() if key not in wanted]
    for start in range(0, len(gone), 500):
        conn.execute(delete(model_prices).where(model_prices.c.id.in_(gone[start : start + 500])))
    return LoadResult(len(new), changed, len(gone), len(wanted))


def has_catalogue(conn: Connection) -> bool:
    """Whether model_prices holds catalogue rows (a fresh database has only the hand-written ones)."""
    return bool(
        conn.execute(
            select(func.count()).select_from(model_prices).where(model_prices.c.source == "catalogue")
        ).scalar()
    )


@cache
def match(name: str, provider: str | None) -> tuple[str, str] | None:
    """(provider id, model id) that genai-prices' match rules give a lower-cased model name (and
    the provider its prefix named, when genai-prices knows that provider), or None."""
    from genai_prices.data_snapshot import find_provider_by_id, get_snapshot

    snapshot = get_snapshot()
    if provider is not None and find_provider_by_id(snapshot.providers, provider) is None:
        provider = None
    try:
        found_provider, model = snapshot.find_provider_model(name, None, provider, None)
    except LookupError:
        return None
    # A provider may fall back to another's models (Azure to OpenAI's): name the model's own provider.
    owner = next((p for p in snapshot.providers if any(m is model for m in p.models)), found_provider)
    return owner.id, model.id
