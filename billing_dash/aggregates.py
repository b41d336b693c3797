"""Stores batches of events with their aggregates in one transaction, and rebuilds aggregates."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from sqlalchemy import Connection, MetaData, Table, bindparam, delete, select, text, update

from .db import sqlite_local_date
from .models import AGGREGATES, MONEY_SCALE, organizations, usage_event_columns, usage_events
from .queries import load

# starts reads the stored totals before totals updates them; totals, last, returns the spans.
# Each writes its rows in key order, so concurrent imports lock shared rows in the same order
# and cannot deadlock.
AGGREGATE_QUERIES = ("aggregate/quarter", "aggregate/day", "aggregate/daily", "aggregate/conversations",
                     "aggregate/starts", "aggregate/totals")
EVENT_COLUMNS = [c.name for c in usage_events.columns]
COPY_NEW = "COPY new_usage (" + ", ".join(EVENT_COLUMNS) + ") FROM STDIN (FORMAT BINARY)"
COPY_TYPES = ["int4", "text", "timestamptz", "text", "text", "text", "int8", "int8", "numeric", "bool"]
assert len(COPY_TYPES) == len(EVENT_COLUMNS), "COPY_TYPES must list a type per usage_events column"
# Stores the batch; of the batch, only the events really inserted stay in new_usage. RETURNING
# only the ids: the rows themselves are already there.
INSERT_NEW_PG = (
    "WITH ins AS (INSERT INTO usage_events SELECT * FROM new_usage ORDER BY event_id "
    "ON CONFLICT DO NOTHING RETURNING event_id) "
    "DELETE FROM new_usage n WHERE NOT EXISTS (SELECT 1 FROM ins WHERE ins.event_id = n.event_id)")
# SQLite: the caller's transaction already wrote to the database (ingest locks its organization
# first), so its write lock is held: nobody can store these ids between the check and the insert.
INSERT_NEW_SQLITE = (
    "DELETE FROM new_usage WHERE EXISTS (SELECT 1 FROM usage_events e "
    "WHERE e.organization_id = new_usage.organization_id AND e.event_id = new_usage.event_id)",
    "INSERT INTO usage_events SELECT * FROM new_usage",
)

# SQLite keeps money as 64-bit integers of 1e-10 dollars: the most any stored total can hold
# ($922,337,203.6854775807). The largest stored totals are an organization's day (every other
# aggregate row of a day is part of it) and a conversation; each must stay within this.
SQLITE_MAX_TOTAL = 2**63 - 1
# Cheap check first: the batch's float total plus the largest stored totals, with a margin far
# wider than float rounding; only batches near the bound take the exact walk.
SQLITE_TOTALS = (
    "SELECT TOTAL(n.cost), "
    "(SELECT MAX(d.cost) FROM usage_day d WHERE d.organization_id = :org_id), "
    "(SELECT MAX(t.cost) FROM conversation_totals t WHERE t.organization_id = :org_id AND t.agent_id = '') "
    "FROM new_usage n")
SQLITE_NEW = "SELECT event_id, ts, conversation_id, cost FROM new_usage ORDER BY rowid"
SQLITE_DAYS = text("SELECT day, cost FROM usage_day WHERE organization_id = :org_id AND day IN :keys"
                   ).bindparams(bindparam("keys", expanding=True))
SQLITE_CONVERSATIONS = text(
    "SELECT conversation_id, cost FROM conversation_totals "
    "WHERE organization_id = :org_id AND agent_id = '' AND conversation_id IN :keys"
).bindparams(bindparam("keys", expanding=True))
_KEY_CHUNK = 5000


class TotalTooLarge(Exception):
    """An event would take a stored total past what SQLite can hold; nothing may be written."""

    def __init__(self, event_id: str, message: str) -> None:
        super().__init__(message)
        self.event_id, self.message = event_id, message


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
            # psycopg prepares a statement run five times, and PostgreSQL may then keep a plan made
            # when the aggregate tables were small (a hash join reading all of conversation_totals
            # for every batch of a long import). Plan each statement for the tables as they are.
            conn.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
            conn.execute(text("CREATE TEMP TABLE IF NOT EXISTS new_usage (LIKE usage_events) ON COMMIT DROP"))
        else:
            new_table.create(conn, checkfirst=True)

    def write(self, rows: list[tuple]) -> tuple[int, int]:
        """Store `rows` (tuples of usage_events columns in order, unique event ids); returns
        (inserted, unpriced)."""
        conn = self.conn
        self._empty()
        if self.postgres:
            self._copy(rows)
            conn.execute(text(INSERT_NEW_PG))
        else:
            conn.execute(new_table.insert(), [dict(zip(EVENT_COLUMNS, row)) for row in rows])
            for statement in INSERT_NEW_SQLITE:
                conn.execute(text(statement))
            self._check_sqlite_totals()
        return self.aggregate_new()

    def stored_ids(self) -> set[str]:
        """Ids of the last batch's events that were really inserted (the others were stored before)."""
        return set(self.conn.execute(text("SELECT event_id FROM new_usage")).scalars())

    def _check_sqlite_totals(self) -> None:
        """Raise TotalTooLarge, naming the first event of new_usage that would take its day or its
        conversation past SQLITE_MAX_TOTAL (SQLite's SUM() would fail on it, its + turn it into a
        float)."""
        params = {"org_id": self.org_id}
        batch, day, conversation = self.conn.execute(text(SQLITE_TOTALS), params).one()
        if batch + max(day or 0, conversation or 0) < SQLITE_MAX_TOTAL * 0.99:
            return
        new = [(event_id, sqlite_local_date(ts, self.tz), conv, cost)
               for event_id, ts, conv, cost in self.conn.execute(text(SQLITE_NEW))]
        totals = {"day": self._stored(SQLITE_DAYS, sorted({r[1] for r in new})),
                  "conversation": self._stored(SQLITE_CONVERSATIONS, sorted({r[2] for r in new}))}
        for event_id, event_day, conv, cost in new:
            for kind, key in (("day", event_day), ("conversation", conv)):
                totals[kind][key] += cost
                if totals[kind][key] > SQLITE_MAX_TOTAL:
                    limit = Decimal(SQLITE_MAX_TOTAL).scaleb(-MONEY_SCALE)
                    what = f"the organization's total for {key}" if kind == "day" else f"conversation {key!r}"
                    raise TotalTooLarge(event_id, f"would take {what} past {limit} dollars, the most "
                                                  "one stored total holds on SQLite")

    def _stored(self, query, keys: list[str]) -> defaultdict[str, int]:
        stored: defaultdict[str, int] = defaultdict(int)
        for i in range(0, len(keys), _KEY_CHUNK):
            stored.update(self.conn.execute(query, {"org_id": self.org_id, "keys": keys[i:i + _KEY_CHUNK]}).all())
        return stored

    def _empty(self) -> None:
        # PostgreSQL: TRUNCATE, not DELETE. A whole import is one transaction, so deleted rows
        # could never be vacuumed and every batch would scan all earlier batches' dead rows.
        self.conn.execute(text("TRUNCATE new_usage" if self.postgres else "DELETE FROM new_usage"))

    def _copy(self, rows: list[tuple]) -> None:
        cursor = self.conn.connection.dbapi_connection.cursor()
        # Binary: psycopg then sends numbers and instants without formatting them as text.
        with cursor.copy(COPY_NEW) as copy:
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
            .values(max_conversation_seconds=longest))
        inserted, unpriced = self.conn.execute(text(
            "SELECT COUNT(*), COALESCE(SUM(CASE WHEN priced THEN 0 ELSE 1 END), 0) FROM new_usage")).one()
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
        conn.execute(text("INSERT INTO new_usage SELECT * FROM usage_events WHERE organization_id = :org_id"),
                     {"org_id": org_id})
        events += writer.aggregate_new()[0]
        writer.close()
    return events


