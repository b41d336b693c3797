"""Model prices by effective date, the name each model resolves to, and what an event costs at them."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Collection
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import Connection, insert, or_, select, update

from ..models import MONEY_SCALE, Money, UTCDateTime, model_prices
from ..queries import load

_QUANTUM = Decimal(1).scaleb(-MONEY_SCALE)
_MILLION = Decimal(1_000_000)
_MONEY, _INSTANT = Money(), UTCDateTime()


class Price(NamedTuple):
    """USD per million tokens; a cache price of None means the model bills those tokens as input."""

    input: Decimal
    output: Decimal
    cache_read: Decimal | None = None
    cache_write: Decimal | None = None


def cost_at(price: Price, prompt: int, completion: int, cache_read: int = 0, cache_write: int = 0) -> Decimal:
    """The exact cost of one event: cache reads and writes are parts of `prompt`, billed at their own prices."""
    amount = prompt * price.input + completion * price.output
    # Most events read and write no cache: two products each instead of four (an import's hot path).
    if cache_read:
        amount += cache_read * ((price.input if price.cache_read is None else price.cache_read) - price.input)
    if cache_write:
        amount += cache_write * ((price.input if price.cache_write is None else price.cache_write) - price.input)
    return (amount / _MILLION).quantize(_QUANTUM)


def cache_savings_at(price: Price, cache_read: int) -> Decimal:
    """What `cache_read` tokens cost less at the cache-read price than at the input price (0 when
    the model has no cache-read price: its cache reads cost the input price)."""
    if price.cache_read is None or not cache_read:
        return Decimal(0)
    return (cache_read * (price.input - price.cache_read) / _MILLION).quantize(_QUANTUM)


class Charge(NamedTuple):
    """The price an event is charged: the entry's model name and the model_prices row."""

    price: Price
    priced_as: str
    price_id: int


class Entry:
    """One model's dated prices from one source (an organization's, the catalogue's for one
    provider, or the hand-written ones): `charges[i]` from `starts[i]` on."""

    __slots__ = ("charges", "name", "provider", "source", "starts")

    def __init__(self, source: str, provider: str, name: str) -> None:
        self.source, self.provider, self.name = source, provider, name
        self.starts: list[datetime] = []
        # Made once here, not per event: an import charges ~50,000 events a second.
        self.charges: list[Charge] = []

    def add(self, start: datetime, price: Price, price_id: int) -> None:
        """A price from `start` on (rows come in date order; of two of one date the later wins)."""
        charge = Charge(price, self.name, price_id)
        if self.starts and self.starts[-1] == start:
            self.charges[-1] = charge
        else:
            self.starts.append(start)
            self.charges.append(charge)


def name_candidates(name: str) -> tuple[list[str], str | None]:
    """The names to look `name` up by, most specific first, and the provider its prefix names:
    `models/gemini-2.5-flash` (Gemini's resource name) is `gemini-2.5-flash`, `openai/gpt-4o`
    (LiteLLM's and OpenRouter's form) is `gpt-4o` of provider `openai`."""
    names = [name]
    lower = name.strip().lower()
    provider = None
    if lower.startswith("models/"):
        lower = lower[len("models/") :]
    if "/" in lower:
        provider, _, rest = lower.partition("/")
        names.append(lower)
        lower = rest
    names.append(lower)
    return list(dict.fromkeys(names)), provider


class PriceBook:
    """The prices an organization's events are charged (its own, then the catalogue's, then the
    hand-written ones), loaded once per import; each distinct model name is resolved once.

    Resolution: an organization's own price for the name applies from its start; otherwise (and
    before it) the catalogue model that genai-prices' own match rules give the name (dated and
    aliased names such as `gpt-4o-2024-08-06`, of the provider a prefix names), else a catalogue
    model of exactly that id (an organization's own price for that catalogue model overrides it
    too); without one, a hand-written price for the name. Names compare as given, then lower-cased and without a
    `models/` or `provider/` prefix."""

    def __init__(
        self,
        conn: Connection,
        org_id: int | None = None,
        match: Callable[[str, str | None], tuple[str, str] | None] | None = None,
        models: Collection[str] | None = None,
    ) -> None:
        """`models`: the names a batch held in memory will ask for (an API or OTLP batch): only the
        catalogue rows they can resolve to are read (the whole catalogue took 15-30 ms of a
        512-span export), and the whole catalogue once another name is asked for."""
        self._org: dict[str, Entry] = {}
        self._catalogue: dict[tuple[str, str], Entry] = {}
        self._manual: dict[str, Entry] = {}
        self._resolved: dict[str, tuple[Entry, ...]] = {}
        self._match = match
        m = model_prices.c
        rows = conn.execute(
            select(model_prices)
            .where(m.source != "catalogue", or_(m.organization_id.is_(None), m.organization_id == org_id))
            .order_by(m.effective_from, m.id)
        )
        for row in rows:
            self._add(row)
        # The catalogue's thousands of rows as stored; only the models that names resolve to are
        # converted, when they are met (an API batch meets a few).
        self._conn, self._dialect = conn, conn.dialect
        self._raw: dict[tuple[str, str], list] = {}
        self._raw_by_model: dict[str, tuple[str, str]] = {}
        self._names: set[str] | None = None  # the names the rows read can resolve; None: all
        if models is None:
            self._read(load("catalogue_prices"), {})
        else:
            self._names = set(models)
            wanted: set[str] = set()
            for model in self._names:
                names, provider = name_candidates(model)
                found = (match or catalogue_match)(names[-1], provider)
                wanted.update(names if found is None else [*names, found[1]])
            if wanted:  # (an empty IN list would be typed as integers)
                self._read(load("catalogue_prices_of"), {"models": sorted(wanted)})

    def _read(self, statement: Any, params: dict[str, Any]) -> None:
        for row in self._conn.execute(statement, params):
            key = (row.provider, row.model)
            self._raw.setdefault(key, []).append(row)
            self._raw_by_model.setdefault(row.model, key)

    def _read_all(self) -> None:
        """The whole catalogue, in place of the rows of some names' models (kept: the same rows)."""
        if self._names is not None:
            self._raw.clear()
            self._raw_by_model.clear()
            self._read(load("catalogue_prices"), {})
            self._names = None

    def __getstate__(self) -> dict[str, Any]:
        """What an import's worker processes get: every catalogue entry converted, so that the
        connection and the dialect converting them (which do not pickle) stay behind."""
        self._read_all()
        for key in self._raw:
            self._catalogue_entry(key)
        return {**self.__dict__, "_conn": None, "_dialect": None, "_raw": dict.fromkeys(self._raw, ())}

    def _add(self, row: Any) -> None:
        """Add a model_prices row (rows come in date order) to its entry."""
        table = self._org if row.source == "organization" else self._manual
        entry = table.get(row.model)
        if entry is None:
            entry = table[row.model] = Entry(row.source, row.provider, row.model)
        price = Price(
            row.prompt_per_million, row.completion_per_million, row.cache_read_per_million, row.cache_write_per_million
        )
        entry.add(row.effective_from, price, row.id)

    def _catalogue_entry(self, key: tuple[str, str] | None) -> Entry | None:
        """The catalogue entry of (provider, model) `key`, converted from its stored rows once."""
        if key is None or key in self._catalogue or key not in self._raw:
            return self._catalogue.get(key) if key else None
        entry = self._catalogue[key] = Entry("catalogue", *key)
        money, instant = _MONEY.process_result_value, _INSTANT.process_result_value
        for row in self._raw[key]:
            read, write = (money(v, self._dialect) for v in (row.cache_read_per_million, row.cache_write_per_million))
            inp, out = money(row.prompt_per_million, self._dialect), money(row.completion_per_million, self._dialect)
            start = instant(row.effective_from, self._dialect)
            assert inp is not None and out is not None and start is not None  # NOT NULL columns
            price = Price(inp, out, read, write)
            entry.add(start, price, row.id)
        return entry

    def resolve(self, model: str) -> Entry | None:
        """The price entry `model` resolves to (an organization's own before the one it overrides)."""
        entries = self.entries(model)
        return entries[0] if entries else None

    def entries(self, model: str) -> tuple[Entry, ...]:
        """The entries `model` resolves to, the organization's own first: before its own price
        starts, the catalogue's or the hand-written one applies (cached: an import resolves each
        name once)."""
        try:
            return self._resolved[model]
        except KeyError:
            entries = self._resolved[model] = self._resolve(model)
            return entries

    def _resolve(self, model: str) -> tuple[Entry, ...]:
        if self._names is not None and model not in self._names:
            self._read_all()
        names, provider = name_candidates(model)
        own = next((e for name in names if (e := self._org.get(name)) is not None), None)
        base = None
        if self._raw:
            found = (self._match or catalogue_match)(names[-1], provider)
            base = self._catalogue_entry(found if found in self._raw else None)
            for name in reversed(names):  # else a catalogue model of exactly that id
                base = base or self._catalogue_entry(self._raw_by_model.get(name))
            # An organization's price for the catalogue model covers its dated names and aliases.
            own = own or (None if base is None else self._org.get(base.name))
        base = base or next((e for name in names if (e := self._manual.get(name)) is not None), None)
        return tuple(e for e in (own, base) if e is not None)

    def charge(self, model: str, ts: datetime) -> Charge | None:
        """The price `model` is charged at `ts`, or None when it had no price then."""
        # Called for every event of an import: the cached entries first, the bisect inline.
        entries = self._resolved.get(model)
        if entries is None:
            entries = self.entries(model)
        for entry in entries:
            i = bisect_right(entry.starts, ts) - 1
            if i >= 0:
                return entry.charges[i]
        return None


def catalogue_match(name: str, provider: str | None) -> tuple[str, str] | None:
    """(provider, model id) of the catalogue model genai-prices' match rules give `name`, or None.
    Imported only here: it loads the whole catalogue (~0.1 s), needed only for names that no
    price matches exactly."""
    from .catalogue import match

    return match(name, provider)


def set_org_price(conn: Connection, org_id: int, model: str, price: Price, start: datetime) -> bool:
    """Give an organization its own price for `model` from `start` (replacing its price of that
    same start); returns whether one was replaced."""
    key = (
        model_prices.c.source == "organization",
        model_prices.c.organization_id == org_id,
        model_prices.c.model == model,
        model_prices.c.effective_from == start,
    )
    values = {
        "prompt_per_million": price.input,
        "completion_per_million": price.output,
        "cache_read_per_million": price.cache_read,
        "cache_write_per_million": price.cache_write,
    }
    if conn.execute(update(model_prices).where(*key).values(**values)).rowcount:
        return True
    conn.execute(
        insert(model_prices).values(
            source="organization", organization_id=org_id, model=model, effective_from=start, **values
        )
    )
    return False
