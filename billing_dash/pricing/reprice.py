"""Re-pricing: the events of an organization that came without a cost, charged again at today's prices."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import Connection, bindparam, or_, select, update

from ..aggregates import rebuild
from ..limits import MAX_COST
from ..models import organizations, usage_events
from .book import PriceBook, cache_savings_at, cost_at

CHUNK = 20000  # events read and written per round trip


class RepriceError(Exception):
    """An event whose new cost is past the per-event limit: nothing is written."""


@dataclass
class ModelChange:
    """Per model (as the events name it): events looked at, those whose cost (or priced status)
    changes, their cost before and after."""

    model: str
    events: int = 0
    changed: int = 0
    old_cost: Decimal = Decimal(0)
    new_cost: Decimal = Decimal(0)
    unpriced_before: int = 0
    unpriced_after: int = 0


def reprice(
    conn: Connection,
    org_id: int,
    since: datetime | None = None,
    model: str | None = None,
    write: bool = True,
    chunk: int = CHUNK,
) -> list[ModelChange]:
    """Recompute the cost of the organization's events without an explicit cost (from `since`,
    of `model`: the name events carry or the price entry that priced them) at the prices in the
    table now (with the cache savings of every event, a given cost's too), and with `write`
    store the changed events and rebuild the organization's
    aggregates, in the caller's transaction. Returns the changes per model, by model name."""
    # Imports of the organization wait until this is done (ingest takes the same lock); SQLite
    # writes first so that it holds the write lock from the start.
    if conn.dialect.name == "sqlite":
        conn.execute(
            update(organizations).where(organizations.c.id == org_id).values(timezone=organizations.c.timezone)
        )
    conn.execute(select(organizations.c.id).where(organizations.c.id == org_id).with_for_update())
    prices = PriceBook(conn, org_id)
    e = usage_events.c
    query = select(
        e.event_id,
        e.ts,
        e.model,
        e.prompt_tokens,
        e.completion_tokens,
        e.cache_read_tokens,
        e.cache_write_tokens,
        e.cache_savings,
        e.cost,
        e.priced,
        e.priced_as,
        e.price_id,
        e.cost_given,
    ).where(e.organization_id == org_id)
    if since is not None:
        query = query.where(e.ts >= since.astimezone(UTC))
    if model is not None:
        query = query.where(or_(e.model == model, e.priced_as == model))
    changes: dict[str, ModelChange] = {}
    store = (
        update(usage_events)
        .where(usage_events.c.organization_id == org_id, usage_events.c.event_id == bindparam("id"))
        .values(
            cost=bindparam("c"),
            priced=bindparam("p"),
            priced_as=bindparam("a"),
            price_id=bindparam("i"),
            cache_savings=bindparam("s"),
        )
    )
    rebuild_needed = False
    last = None
    # In chunks by event id (the primary key's order), so memory stays flat however many events.
    while rows := conn.execute(
        (query if last is None else query.where(e.event_id > last)).order_by(e.event_id).limit(chunk)
    ).all():
        last = rows[-1].event_id
        updates = []
        for row in rows:
            charge = prices.charge(row.model, row.ts)
            if row.cost_given:
                # A given cost stays as sent; what its cache reads saved follows the price.
                savings = Decimal(0) if charge is None else cache_savings_at(charge.price, row.cache_read_tokens)
                if savings != row.cache_savings:
                    updates.append(
                        {
                            "id": row.event_id,
                            "c": row.cost,
                            "p": row.priced,
                            "a": row.priced_as,
                            "i": row.price_id,
                            "s": savings,
                        }
                    )
                    rebuild_needed = True
                continue
            change = changes.get(row.model) or changes.setdefault(row.model, ModelChange(row.model))
            if charge is None:
                cost, priced, priced_as, price_id, savings = Decimal(0), False, None, None, Decimal(0)
            else:
                cost = cost_at(
                    charge.price,
                    row.prompt_tokens,
                    row.completion_tokens,
                    row.cache_read_tokens,
                    row.cache_write_tokens,
                )
                savings = cache_savings_at(charge.price, row.cache_read_tokens)
                if cost > MAX_COST:
                    raise RepriceError(
                        f"event {row.event_id!r}: cost at the new price is {cost}, more than the {MAX_COST} an event may cost"
                    )
                priced, priced_as, price_id = True, charge.priced_as, charge.price_id
            change.events += 1
            change.old_cost += row.cost
            change.new_cost += cost
            change.unpriced_before += not row.priced
            change.unpriced_after += not priced
            # A new price reference at the same cost (the catalogue now prices what a hand-written
            # row did) is recorded too, but only a new cost or price status changes the aggregates.
            costs_differ = (cost, priced, savings) != (row.cost, row.priced, row.cache_savings)
            change.changed += costs_differ
            if costs_differ or (priced_as, price_id) != (row.priced_as, row.price_id):
                updates.append(
                    {"id": row.event_id, "c": cost, "p": priced, "a": priced_as, "i": price_id, "s": savings}
                )
                rebuild_needed = rebuild_needed or costs_differ
        if write and updates:
            conn.execute(store, updates)
    if write and rebuild_needed:
        rebuild(conn, [org_id])
    return [changes[m] for m in sorted(changes)]
