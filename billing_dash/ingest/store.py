"""Stores validated, priced events in batches, atomically and idempotently, and applies their names."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, Table, case, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ..aggregates import EventWriter, TotalTooLarge
from ..models import agents, conversations, organizations
from ..pricing import Charge, PriceBook, cache_savings_at, cost_at
from ..queries import load
from .parse import MAX_COST, MAX_ERRORS, FieldError, IngestError, UsageEvent, _Invalid, parse_event

BATCH_SIZE = 20000  # events per round trip: larger batches amortize statement overhead
# An import storing at least this many events analyzes the tables it wrote once it has committed:
# without fresh statistics the next report is planned for the tables as they were before it (a
# year's report took twice as long straight after a 200k-event import as after ANALYZE). Below it
# the statistics barely move, and the API's small batches must not pay a scan each: autovacuum's
# own ANALYZE catches up with those.
ANALYZE_MIN_EVENTS = 10_000


@dataclass(frozen=True)
class IngestResult:
    inserted: int
    skipped: int
    unpriced: int
    # Models of the inserted events that had no price, with how many events each.
    unpriced_models: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"inserted": self.inserted, "skipped": self.skipped, "unpriced": self.unpriced}
        if self.unpriced_models:  # only then, so that the answer of a fully priced batch stays as it was
            body["unpricedModels"] = [{"model": m, "messages": n} for m, n in sorted(self.unpriced_models.items())]
        return body

    def unpriced_line(self) -> str:
        """What the import says about its unpriced events (empty when there are none)."""
        if not self.unpriced:
            return ""
        names = ", ".join(f"{m} ({n})" for m, n in sorted(self.unpriced_models.items()))
        return f"{self.unpriced} unpriced (no price for their model): {names}"


def _insert(conn: Connection, table: Table) -> postgresql.Insert | sqlite.Insert:
    return (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(table)


def _upsert_names(conn: Connection, org_id: int, stored: list[UsageEvent]) -> None:
    """Create the agents and conversations of events just stored, and apply their names.

    One rule, whatever the order events arrive in: an agent's name and a conversation's title
    come from the newest stored event (by timestamp) that gives one, a conversation's agent from
    its newest stored event; of events with the same timestamp, the one stored last wins. Only
    stored events count, so a re-sent or skipped event can never rename anything.
    """
    names: dict[str, tuple[datetime, str] | None] = {}
    owners: dict[str, tuple[datetime, str]] = {}
    titles: dict[str, tuple[datetime, str]] = {}
    for e in stored:
        if e.agent_name is None:
            names.setdefault(e.agent_id, None)
        elif (known := names.get(e.agent_id)) is None or e.ts >= known[0]:
            names[e.agent_id] = (e.ts, e.agent_name)
        if (owner := owners.get(e.conversation_id)) is None or e.ts >= owner[0]:
            owners[e.conversation_id] = (e.ts, e.agent_id)
        if e.conversation_title is not None and ((seen := titles.get(e.conversation_id)) is None or e.ts >= seen[0]):
            titles[e.conversation_id] = (e.ts, e.conversation_title)

    # Sorted: concurrent imports then lock shared rows in the same order and cannot deadlock.
    rows = [
        {"organization_id": org_id, "id": a, "name": n[1] if n else a, "name_ts": n[0] if n else None}
        for a, n in sorted(names.items())
    ]
    if rows:
        stmt = _insert(conn, agents)
        newer = agents.c.name_ts.is_(None) | (stmt.excluded.name_ts >= agents.c.name_ts)
        # Rows without a name only make sure the agent exists; the WHERE skips unchanged rows,
        # which would otherwise cost PostgreSQL a dead row version each.
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["organization_id", "id"],
                set_={"name": stmt.excluded.name, "name_ts": stmt.excluded.name_ts},
                where=stmt.excluded.name_ts.is_not(None) & newer,
            ),
            rows,
        )
    rows = []
    for c, (ts, agent) in sorted(owners.items()):
        title_ts, title = titles.get(c, (None, c))
        rows.append(
            {
                "organization_id": org_id,
                "id": c,
                "agent_id": agent,
                "agent_ts": ts,
                "title": title,
                "title_ts": title_ts,
            }
        )
    if rows:
        stmt = _insert(conn, conversations)
        new = stmt.excluded
        owner_newer = conversations.c.agent_ts.is_(None) | (new.agent_ts >= conversations.c.agent_ts)
        title_newer = new.title_ts.is_not(None) & (
            conversations.c.title_ts.is_(None) | (new.title_ts >= conversations.c.title_ts)
        )
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=["organization_id", "id"],
                set_={
                    "agent_id": case((owner_newer, new.agent_id), else_=conversations.c.agent_id),
                    "agent_ts": case((owner_newer, new.agent_ts), else_=conversations.c.agent_ts),
                    "title": case((title_newer, new.title), else_=conversations.c.title),
                    "title_ts": case((title_newer, new.title_ts), else_=conversations.c.title_ts),
                },
                where=owner_newer | title_newer,
            ),
            rows,
        )


def _rows(org_id: int, batch: list[UsageEvent], charges: list[Charge | None]) -> tuple[list[tuple], list[UsageEvent]]:
    """usage_events rows of a batch (tuples in column order) and the events they come from; of two
    equal ids in one batch the first wins, as across batches."""
    rows: dict[str, tuple] = {}
    kept: list[UsageEvent] = []
    zero = Decimal(0)
    for e, charge in zip(batch, charges, strict=True):
        if e.event_id in rows:
            continue
        given = e.cost is not None and charge is None
        rows[e.event_id] = (
            org_id,
            e.event_id,
            e.ts,
            e.agent_id,
            e.conversation_id,
            e.model,
            e.prompt_tokens,
            e.completion_tokens,
            zero if e.cost is None else e.cost,
            e.cost is not None,
            given,
            None if charge is None else charge.priced_as,
            None if charge is None else charge.price_id,
            e.cache_read_tokens,
            e.cache_write_tokens,
            e.reasoning_tokens,
            e.cache_savings,
        )
        kept.append(e)
    return list(rows.values()), kept


def _priced(event: UsageEvent, prices: PriceBook) -> tuple[UsageEvent, Charge | None]:
    """The event with its cost and cache savings, and the price charged (None when its cost was
    given or its model had no price at its time; the cost stays None only then). A given cost
    stays as sent, but its savings still come from the price: the caller's cost does not say what
    the cache saved."""
    if event.cost is not None and not event.cache_read_tokens:
        return event, None
    charge = prices.charge(event.model, event.ts)
    if charge is None:
        return event, None
    savings = cache_savings_at(charge.price, event.cache_read_tokens)
    if abs(savings) > MAX_COST:
        raise _Invalid(
            "cache_read_tokens", f"save {savings} at the model's price, more than the {MAX_COST} an event may cost"
        )
    if event.cost is not None:
        return event._replace(cache_savings=savings), None
    cost = cost_at(
        charge.price, event.prompt_tokens, event.completion_tokens, event.cache_read_tokens, event.cache_write_tokens
    )
    if cost > MAX_COST:
        raise _Invalid("cost", f"computed from the model's price is {cost}, more than the {MAX_COST} an event may cost")
    return event._replace(cost=cost, cache_savings=savings), charge


def _parsed_batches(
    records: Iterable[tuple[int, Any]], batch_size: int, errors: list[FieldError], prices: PriceBook
) -> Iterator[tuple[list[UsageEvent], list[int], list[Charge | None]]]:
    """Validated and priced events in batches, with the position of each and the price charged.
    Invalid records go to `errors`; once there is one, batches stop (nothing will be written) but
    reading goes on to report more errors."""
    batch: list[UsageEvent] = []
    positions: list[int] = []
    charges: list[Charge | None] = []
    for position, raw in records:
        if isinstance(raw, FieldError):
            errors.append(raw)
        else:
            try:
                # An event validated already (OTLP spans are, to refuse them one by one) is not parsed twice.
                event, charge = _priced(raw if type(raw) is UsageEvent else parse_event(raw), prices)
            except _Invalid as bad:
                errors.append(FieldError(position, bad.field, bad.message))
            else:
                if not errors:
                    batch.append(event)
                    positions.append(position)
                    charges.append(charge)
        if len(errors) >= MAX_ERRORS:
            raise IngestError(errors, truncated=True)
        if len(batch) >= batch_size:
            yield batch, positions, charges
            batch, positions, charges = [], [], []
    if errors:
        raise IngestError(errors)
    if batch:
        yield batch, positions, charges


def ingest(
    conn: Connection,
    org_id: int,
    records: Iterable[tuple[int, Any]],
    batch_size: int = BATCH_SIZE,
) -> IngestResult:
    """Validate and store `records` (position, raw record or a UsageEvent parse_event made) inside
    the caller's transaction.

    Raises IngestError listing the bad records if any record is invalid; the caller's
    transaction must then roll back, so a bad file writes nothing. Reading and validating the
    next batch runs in a second thread while the database stores the current one.
    """
    prices = PriceBook(conn, org_id)
    # One import at a time per organization, as SQLite's single writer does anyway: two imports
    # adding batches in different orders would otherwise lock each other's rows and deadlock.
    # SQLite: a write first, so the import holds the write lock from its start (had it read
    # first, its first write after another import's commit would fail with "database is locked").
    if conn.dialect.name == "sqlite":
        conn.execute(
            update(organizations).where(organizations.c.id == org_id).values(timezone=organizations.c.timezone)
        )
    tz = conn.execute(
        select(organizations.c.timezone).where(organizations.c.id == org_id).with_for_update()
    ).scalar_one()
    writer = EventWriter(conn, org_id, tz)
    errors: list[FieldError] = []
    batches = _parsed_batches(records, batch_size, errors, prices)

    def next_batch() -> tuple[list[UsageEvent], list[int], list[tuple], list[UsageEvent]] | None:
        item = next(batches, None)
        return None if item is None else (item[0], item[1], *_rows(org_id, item[0], item[2]))

    seen = inserted = unpriced = 0
    unpriced_models: dict[str, int] = {}
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingest-parse") as parser:
        upcoming = parser.submit(next_batch)
        while (item := upcoming.result()) is not None:
            upcoming = parser.submit(next_batch)
            events, positions, rows, kept = item
            seen += len(events)
            try:
                done, unpriced_now = writer.write(rows)
            except TotalTooLarge as exc:
                position = next(p for e, p in zip(events, positions, strict=True) if e.event_id == exc.event_id)
                raise IngestError([FieldError(position, exc.field, exc.message)]) from None
            if done < len(kept):  # some were stored before: only the new ones may name things
                stored_ids = writer.stored_ids()
                kept = [e for e in kept if e.event_id in stored_ids]
            _upsert_names(conn, org_id, kept)
            inserted += done
            unpriced += unpriced_now
            if unpriced_now:
                for model, n in writer.unpriced_models():
                    unpriced_models[model] = unpriced_models.get(model, 0) + n
    writer.close()
    return IngestResult(inserted, seen - inserted, unpriced, unpriced_models)


def analyze_after_import(engine: Engine, result: IngestResult) -> None:
    """Refresh the planner's statistics after an import of at least ANALYZE_MIN_EVENTS events has
    committed (in a transaction of its own: the import's locks are released by then)."""
    if result.inserted < ANALYZE_MIN_EVENTS:
        return
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(load("analyze_pg"))
        else:
            conn.execute(load("analysis_limit_sqlite"))
            conn.execute(load("analyze_sqlite"))
