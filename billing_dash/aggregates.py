"""Stores batches of events with their aggregates in one transaction, and rebuilds aggregates."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import BigInteger, Boolean, Connection, Integer, MetaData, String, Table, delete, select, update

from .db import sqlite_local_date
from .models import AGGREGATES, MONEY_SCALE, Money, UTCDateTime, organizations, usage_event_columns, usage_events
from .queries import load, run_in_chunks, sql

if TYPE_CHECKING:
    import psycopg

# starts reads the stored totals before totals updates them; totals, last, returns the spans.
# Each writes its rows in key order, so concurrent imports lock shared rows in the same order
# and cannot deadlock.
AGGREGATE_QUERIES = (
    "aggregate/quarter",
    "aggregate/day",
    "aggregate/daily",
    "aggregate/conversations",
    "aggregate/starts",
    "aggregate/totals",
)
EVENT_COLUMNS = [c.name for c in usage_events.columns]
# Binary COPY needs each column's PostgreSQL type, from the column's type in models.py.
_COPY_TYPE = {
    Integer: "int4",
    BigInteger: "int8",
    String: "text",
    Boolean: "bool",
    UTCDateTime: "timestamptz",
    Money: "numeric",
}
COPY_TYPES = [_COPY_TYPE[type(c.type)] for c in usage_events.columns]

# SQLite keeps money as 64-bit integers of 1e-10 dollars: the most any stored total can hold
# ($922,337,203.6854775807). The largest stored totals are an organization's day (every other
# aggregate row of a day is part of it) and a conversation; each must stay within this.
SQLITE_MAX_TOTAL = 2**63 - 1


class TotalTooLarge(Exception):
    """An event would take a stored total past what SQLite can hold; nothing may be written."""

    def __init__(self, event_id: str, message: str, field: str = "cost") -> None:
        super().__init__(message)
        self.event_id, self.message, self.field = event_id, message, field


# A Table object for the temporary table, so SQLite rows get the same type conversions (money
# as scaled integers, UTC text timestamps) as usage_events itself.
new_table = Table("new_usage", MetaData(), *usage_event_columns(), prefixes=["TEMPORARY"])


class EventWriter:
    """Writes event batches inside the caller's transaction: an event id already stored is
    skipped, and only the events really inserted reach the aggregates (also when two imports
    of the same events run at once).

    The start counts read a conversation's stored first message before updating it; they stay
    right under concurrent imports because the caller holds its organization's row lock
    (ingest.ingest), so imports of one organization run one at a time."""

    def __init__(self, conn: Connection, org_id: int, tz: str) -> None:
        self.conn, self.org_id, self.tz = conn, org_id, tz
        self.postgres = conn.dialect.name == "postgresql"
        if self.postgres:
            conn.execute(load("stage/plan_per_statement_pg"))
            conn.execute(load("stage/create_pg"))
        else:
            new_table.create(conn, checkfirst=True)

    def write(self, rows: list[tuple]) -> tuple[int, int]:
        """Store `rows` (tuples of usage_events columns in order, unique event ids); returns
        (inserted, unpriced)."""
        conn = self.conn
        self._empty()
        if self.postgres:
            self._copy(rows)
            conn.execute(load("stage/insert_pg"))
        else:
            conn.execute(new_table.insert(), [dict(zip(EVENT_COLUMNS, row, strict=True)) for row in rows])
            conn.execute(load("stage/drop_stored_sqlite"))
            conn.execute(load("stage/insert_sqlite"))
            self._check_sqlite_totals()
        return self.aggregate_new()

    def unpriced_models(self) -> list[tuple[str, int]]:
        """Models of the last batch's inserted events that had no price, with their event counts."""
        return [(model, int(n)) for model, n in self.conn.execute(load("stage/unpriced_models"))]

    def stored_ids(self) -> set[str]:
        """Ids of the last batch's events that were really inserted (the others were stored before)."""
        return set(self.conn.execute(load("stage/stored_ids")).scalars())

    def _check_sqlite_totals(self) -> None:
        """Raise TotalTooLarge, naming the first event of new_usage that would take its day's cost or
        cache savings or its conversation's cost past SQLITE_MAX_TOTAL (SQLite's SUM() would fail on
        it, its + turn it into a float)."""
        # Cheap check first: the batch's float totals plus the largest stored totals, with a margin
        # far wider than float rounding; only batches near the bound take the exact walk.
        cost, day, conversation, savings, day_savings = self.conn.execute(
            load("stage/totals_sqlite"), {"org_id": self.org_id}
        ).one()
        bound = SQLITE_MAX_TOTAL * 0.99
        if cost + max(day or 0, conversation or 0) < bound and savings + (day_savings or 0) < bound:
            return
        new = [
            (event_id, sqlite_local_date(ts, self.tz), conv, cost, savings)
            for event_id, ts, conv, cost, savings in self.conn.execute(load("stage/events_sqlite"))
        ]
        days = sorted({r[1] for r in new})
        totals = {
            "day": self._stored("stage/day_costs_sqlite", days),
            "conversation": self._stored("stage/conversation_costs_sqlite", sorted({r[2] for r in new})),
            "savings": self._stored("stage/day_savings_sqlite", days),
        }
        for event_id, event_day, conv, cost, savings in new:
            for kind, key, amount in (
                ("day", event_day, cost),
                ("conversation", conv, cost),
                ("savings", event_day, savings),
            ):
                totals[kind][key] += amount
                if abs(totals[kind][key]) > SQLITE_MAX_TOTAL:
                    limit = Decimal(SQLITE_MAX_TOTAL).scaleb(-MONEY_SCALE)
                    what = {
                        "day": f"the organization's total for {key}",
                        "conversation": f"conversation {key!r}",
                        "savings": f"the organization's cache savings for {key}",
                    }[kind]
                    raise TotalTooLarge(
                        event_id,
                        f"would take {what} past {limit} dollars, the most one stored total holds on SQLite",
                        "cache_read_tokens" if kind == "savings" else "cost",
                    )

    def _stored(self, query: str, keys: list[str]) -> defaultdict[str, int]:
        stored: defaultdict[str, int] = defaultdict(int)
        stored.update(run_in_chunks(self.conn, query, keys, org_id=self.org_id))
        return stored

    def _empty(self) -> None:
        self.conn.execute(load("stage/empty_pg" if self.postgres else "stage/empty_sqlite"))

    def _copy(self, rows: list[tuple]) -> None:
        # psycopg's own connection (this path is PostgreSQL's): COPY is beyond the DB-API.
        cursor = cast("psycopg.Connection[Any]", self.conn.connection.dbapi_connection).cursor()
        with cursor.copy(sql("stage/copy_pg")) as copy:
            copy.set_types(COPY_TYPES)
            for row in rows:
                copy.write_row(row)

    def aggregate_new(self) -> tuple[int, int]:
        """Add the rows of new_usage to every aggregate; returns (events, unpriced among them)."""
        for query in AGGREGATE_QUERIES:
            result = self.conn.execute(load(query), {"tz": self.tz})
        spans = result.all()  # the last query, the conversation totals, returns their spans
        longest = max((int((last - first).total_seconds()) + 1 for first, last in spans), default=0)
        self.conn.execute(
            update(organizations)
            .where(organizations.c.id == self.org_id, organizations.c.max_conversation_seconds < longest)
            .values(max_conversation_seconds=longest)
        )
        inserted, unpriced = self.conn.execute(load("stage/counts")).one()
        return int(inserted), int(unpriced)

    def close(self) -> None:
        if not self.postgres:
            new_table.drop(self.conn, checkfirst=True)


def rebuild(conn: Connection, org_ids: Iterable[int] | None = None) -> int:
    """Recompute the aggregates of the given organizations (all by default) from their events."""
    orgs = conn.execute(select(organizations.c.id, organizations.c.timezone).with_for_update()).all()
    wanted = None if org_ids is None else set(org_ids)
    events = 0
    for org_id, tz in orgs:
        if wanted is not None and org_id not in wanted:
            continue
        for table in AGGREGATES:
            conn.execute(delete(table).where(table.c.organization_id == org_id))
        conn.execute(update(organizations).where(organizations.c.id == org_id).values(max_conversation_seconds=0))
        writer = EventWriter(conn, org_id, tz)
        writer._empty()
        conn.execute(load("stage/from_events"), {"org_id": org_id})
        events += writer.aggregate_new()[0]
        writer.close()
    return events
