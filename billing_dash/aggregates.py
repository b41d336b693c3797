"""Stores batches of events with their aggregates in one transaction, and rebuilds aggregates."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from psycopg import adapters, pq
from psycopg._copy_base import BinaryFormatter  # the formatter of Copy.write_row, used without a connection
from psycopg.adapt import Transformer
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Date,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    select,
    update,
)

from .db import sqlite_local_date, sqlite_month_start
from .filters import TAG_PARAM_PREFIX
from .limits import MAX_TAG_VALUES
from .models import (
    AGGREGATES,
    MONEY_SCALE,
    TAG_AGGREGATES,
    USAGE_SUMS,
    Money,
    UTCDateTime,
    conversation_part_starts,
    conversation_parts,
    organizations,
    usage_event_columns,
    usage_events,
)
from .queries import load, run_in_chunks, sql

if TYPE_CHECKING:
    import psycopg

    from .ingest.side import SideStage

# The statements that group the staged events (into the grain tables), reading nothing stored: a
# large import's side stage runs them on its own connection (ingest/side.py).
GROUP_QUERIES = ("aggregate/conversation_days", "aggregate/usage_days", "aggregate/quarters")
# The statements that add the grouped events to the aggregates. starts reads the stored totals
# before totals updates them; totals, last, returns the spans. Each writes its rows in key order,
# so concurrent imports lock shared rows in the same order and cannot deadlock.
AGGREGATE_QUERIES = (
    "aggregate/quarter",
    "aggregate/day",
    "aggregate/daily",
    "aggregate/monthly",
    "aggregate/conversations",
    "aggregate/starts",
    "aggregate/part_starts",
    "aggregate/parts",
    "aggregate/totals",
)
# The statements that look up stored conversations by key (stage/lookups_pg for a small import).
LOOKUP_QUERIES = ("aggregate/starts", "aggregate/part_starts", "aggregate/tag_part_starts")
# The statements that group a large import's events into many groups (stage/hash_groups_pg).
HASHED_QUERIES = ("aggregate/conversation_days",)
# Binary COPY needs each column's PostgreSQL type, from the column's type in models.py.
_COPY_TYPE = {
    Integer: "int4",
    BigInteger: "int8",
    String: "text",
    Text: "text",
    Boolean: "bool",
    UTCDateTime: "timestamptz",
    Money: "numeric",
}
# Staged rows add their position and names (see _staged_columns).
COPY_TYPES = [_COPY_TYPE[type(c.type)] for c in usage_events.columns] + ["int8", "text", "text"]


class CopyRows(NamedTuple):
    """Staged rows as the whole data of stage/copy_pg's binary COPY, made by copy_rows."""

    data: bytes
    events: int


def copy_rows(rows: list[tuple]) -> CopyRows:
    """Staged rows (tuples of STAGED_COLUMNS in order) formatted as psycopg's binary COPY formats
    them (its C formatter, which needs no connection): an import's worker processes make these,
    so that the process holding the connection only sends them."""
    transformer = Transformer()
    transformer.set_dumper_types([adapters.types.get_oid(t) for t in COPY_TYPES], pq.Format.BINARY)
    formatter = BinaryFormatter(transformer)
    data = [formatter.write_row(row) for row in rows]
    data.append(formatter.end())  # the signature came with the first row, the trailer ends it
    return CopyRows(b"".join(data), len(rows))


# Staging this many events, PostgreSQL analyzes new_usage before aggregating it: a temporary table
# has no statistics, and the planner's guess of a large import's groups picks sorts that spill.
ANALYZE_STAGED_MIN = 10_000
# Storing fewer events, PostgreSQL looks up the stored conversation totals the import's start counts
# need by index (stage/lookups_pg): at most two lookups per event, bounded by the import, where a
# hash join reads the whole table.
LOOKUPS_MAX = 10_000

# SQLite keeps money as 64-bit integers of 1e-10 dollars: the most any stored total can hold
# ($922,337,203.6854775807). The largest stored totals are an organization's day (every other
# aggregate row of a day is part of it) and a conversation; each must stay within this.
SQLITE_MAX_TOTAL = 2**63 - 1


class TotalTooLarge(Exception):
    """An event would take a stored total past what SQLite can hold; nothing may be written."""

    def __init__(self, position: int, message: str, field: str = "cost") -> None:
        super().__init__(message)
        self.position, self.message, self.field = position, message, field


def _staged_columns() -> list[Column]:
    """Columns of the staging tables: an event's, then its position in the input (which breaks
    timestamp ties between names) and the names it gives, applied once the import has stored it."""
    return [
        *usage_event_columns(),
        # SQLite: INTEGER PRIMARY KEY makes it the rowid, so that the names' joins on it are lookups
        # (PostgreSQL's tables come from SQL without it and hash those joins). A rebuild leaves it
        # NULL, which SQLite numbers itself.
        Column("seq", Integer, primary_key=True),
        Column("agent_name", String),
        Column("conversation_title", String),
    ]


# Table objects for the temporary tables, so SQLite rows get the same type conversions (money as
# scaled integers, UTC text timestamps) as usage_events itself. batch_usage holds one batch on its
# way to usage_events; new_usage collects the events the whole import really stored, which reach
# the aggregates and names once, at the end: an import that updated them batch by batch rewrote
# the same rows once per batch, and in a file not sorted by time every batch touches most of them
# (a shuffled 1M-event file imported seven times slower than the same events in time order).
batch_table = Table("batch_usage", MetaData(), *_staged_columns(), prefixes=["TEMPORARY"])
new_table = Table("new_usage", MetaData(), *_staged_columns(), prefixes=["TEMPORARY"])
STAGED_COLUMNS = [c.name for c in new_table.columns]


def _grain_table(name: str, *columns: Column) -> Table:
    """A temporary table of an import's grouped events (PostgreSQL drops it with the transaction)."""
    return Table(name, MetaData(), *columns, prefixes=["TEMPORARY"], postgresql_on_commit="DROP")


def _unlogged(table: Table, schema: str) -> Table:
    """A grain table as an unlogged table of a side stage's schema."""
    columns = (Column(c.name, c.type, primary_key=c.primary_key) for c in table.columns)
    return Table(table.name, MetaData(), *columns, schema=schema, prefixes=["UNLOGGED"])


# The staged events grouped once by local day, conversation, agent and model, and those rows by
# local day, agent and model: the other aggregates, and the names' newest instants, are sums of
# these rows, far fewer than the events, so a large import reads its events twice (this grouping and
# the quarter-hours) to aggregate them, not once per aggregate.
conversation_days_table = _grain_table(
    "new_conversation_days",
    Column("organization_id", Integer),
    Column("day", Date),
    Column("conversation_id", String),
    Column("agent_id", String),
    Column("model", String),
    Column("first_ts", UTCDateTime),
    Column("last_ts", UTCDateTime),
    # The newest instants at which an event named its agent, titled its conversation (or NULL).
    Column("name_ts", UTCDateTime),
    Column("title_ts", UTCDateTime),
    *(Column(u.name, u.type) for u in USAGE_SUMS),
)
usage_days_table = _grain_table(
    "new_usage_days",
    Column("organization_id", Integer),
    Column("day", Date),
    Column("agent_id", String),
    Column("model", String),
    *(Column(u.name, u.type) for u in USAGE_SUMS),
)
# The events that may name their agent or conversation (stage/name_events): those at their
# conversation's newest instant, its newest titling instant or their agent's newest naming instant,
# with those instants. SQLite: seq as INTEGER PRIMARY KEY, so the names' joins on it are lookups.
names_table = _grain_table(
    "new_names",
    Column("seq", Integer, primary_key=True),
    Column("conversation_id", String),
    Column("agent_id", String),
    Column("ts", UTCDateTime),
    Column("agent_name", String),
    Column("conversation_title", String),
    Column("newest_ts", UTCDateTime),
    Column("title_ts", UTCDateTime),
    Column("name_ts", UTCDateTime),
)
quarters_table = _grain_table(
    "new_quarters",
    Column("organization_id", Integer),
    Column("bucket", UTCDateTime),
    *(Column(u.name, u.type) for u in USAGE_SUMS),
)
GRAIN_TABLES = (usage_days_table, conversation_days_table, names_table, quarters_table)
# The staged events grouped by pre-aggregated tag key and value, local day, agent, model and
# conversation, once: the tag aggregates are sums of these rows. Only an organization with tag keys
# (`billing-dash tags set`) creates and fills it.
tag_days_table = _grain_table(
    "new_tag_days",
    Column("organization_id", Integer),
    Column("tag_key", String),
    Column("tag_value", String),
    Column("day", Date),
    Column("agent_id", String),
    Column("model", String),
    Column("conversation_id", String),
    Column("first_ts", UTCDateTime),
    Column("last_ts", UTCDateTime),
    *(Column(u.name, u.type) for u in USAGE_SUMS),
)


class TooManyTagValues(Exception):
    """The events would give a pre-aggregated tag key more than MAX_TAG_VALUES distinct values;
    `position` is the input position of the first event past the limit (None in a rebuild)."""

    def __init__(self, key: str, position: int | None) -> None:
        self.key, self.position = key, position
        self.message = (
            f"key {key!r} would have more than {MAX_TAG_VALUES} distinct values, the most a pre-aggregated "
            'tag key may have (README, "Tags")'
        )
        super().__init__(self.message)


class EventWriter:
    """Writes event batches inside the caller's transaction: an event id already stored is
    skipped, and only the events really inserted reach the aggregates and names (also when two
    imports of the same events run at once). `write` takes a batch (PostgreSQL stages it, SQLite
    stores it); `finish` stores what is staged and adds the import's events to the aggregates and
    names, once. With a `side` stage (PostgreSQL) the events are staged and grouped on its
    connection, the grouping while this transaction stores them; all else is this transaction's.

    The start counts read a conversation's stored first message before updating it; they stay
    right under concurrent imports because the caller holds its organization's row lock
    (ingest.ingest), so imports of one organization run one at a time."""

    def __init__(self, conn: Connection, org_id: int, tz: str, side: SideStage | None = None) -> None:
        self.conn, self.org_id, self.tz, self.side = conn, org_id, tz, side
        # The connection that stages the events (and, with a side stage, groups them).
        self.stage = conn if side is None else side.conn
        self.postgres = conn.dialect.name == "postgresql"
        self.staged = self.stored = 0
        self.tag_keys = [k for (k,) in conn.execute(load("tags/keys"), {"org_id": org_id})]
        grains = [*GRAIN_TABLES, tag_days_table] if self.tag_keys else list(GRAIN_TABLES)
        if self.postgres:
            conn.execute(load("stage/work_mem_pg"))
        if side is not None:
            # The side stage's tables, by the staging tables' names, for both connections.
            conn.execute(load("side/search_path_pg"), {"schema": side.schema})
            side.hold(conn)
            side.begin().execute(load("side/create_pg"))
            for table in grains:
                _unlogged(table, side.schema).create(side.conn)
        # Created if need be, then emptied: a rebuild stages one organization after another in
        # one transaction.
        elif self.postgres:
            conn.execute(load("stage/create_pg"))
            for table in grains:
                table.create(conn, checkfirst=True)
            conn.execute(load("stage/empty_pg"))
            if self.tag_keys:
                conn.execute(delete(tag_days_table))
        else:
            for table in (batch_table, new_table, *grains):
                table.create(conn, checkfirst=True)
                conn.execute(delete(table))

    def write(self, rows: list[tuple] | CopyRows) -> None:
        """Stage `rows` (tuples of STAGED_COLUMNS in order, unique event ids; on PostgreSQL also as
        CopyRows) for storing."""
        conn = self.stage
        if self.postgres:
            # Stored at the end, all at once in key order: a batch of a file not sorted by time
            # would write to index pages all over usage_events' indexes, each page again and again.
            # psycopg's own connection: COPY is beyond the DB-API.
            cursor = cast("psycopg.Connection[Any]", conn.connection.dbapi_connection).cursor()
            with cursor.copy(sql("stage/copy_pg")) as copy:
                if isinstance(rows, CopyRows):
                    copy.write(rows.data)
                    self.staged += rows.events
                else:
                    copy.set_types(COPY_TYPES)
                    for row in rows:
                        copy.write_row(row)
                    self.staged += len(rows)
        else:
            if isinstance(rows, CopyRows):
                raise TypeError("rows formatted for PostgreSQL cannot be staged in SQLite")
            conn.execute(delete(batch_table))
            conn.execute(batch_table.insert(), [dict(zip(STAGED_COLUMNS, row, strict=True)) for row in rows])
            conn.execute(load("stage/drop_stored_sqlite"))
            inserted = conn.execute(load("stage/insert_sqlite")).rowcount
            conn.execute(load("stage/keep_sqlite"))
            self.stored += inserted
            self.staged += len(rows)

    def finish(self) -> tuple[int, int, list[tuple[str, int]]]:
        """Store the staged events (PostgreSQL), add those really inserted to every aggregate and
        apply their names; returns how many were inserted, how many of them had no price and their
        models with event counts. Raises TotalTooLarge (SQLite) with nothing added when a total
        would overflow."""
        result = self._finish()
        if self.side is not None:
            self.side.drop(self.conn)
        return result

    def _finish(self) -> tuple[int, int, list[tuple[str, int]]]:
        grouped = self.side is not None
        if self.postgres and self.staged:
            new = self.staged - self.stage.execute(load("stage/drop_stored_pg")).rowcount
            grouping = None
            if self.side is not None:
                # The events to store are known: the side stage groups them meanwhile.
                if new >= ANALYZE_STAGED_MIN:
                    self.stage.execute(load("stage/analyze_pg"))
                self.stage.commit()
                grouping = self.side.submit(self._group_on_side)
            # Failed, the import's _store cancels the side stage's grouping rather than wait for it.
            self.stored = self.conn.execute(load("stage/insert_pg")).rowcount
            if grouping is not None:
                grouping.result()
            if self.stored < new:  # ids repeated in the import: the first was stored
                self.conn.execute(load("stage/drop_repeated_pg"))
                if grouped:  # what the side stage grouped had them all: grouped again here
                    self.conn.execute(load("stage/empty_groups_pg"))
                    if self.tag_keys:
                        self.conn.execute(delete(tag_days_table))
                    grouped = False
        if not self.stored:
            return 0, 0, []
        if not grouped:
            if self.postgres and self.stored >= ANALYZE_STAGED_MIN:
                self.conn.execute(load("stage/analyze_pg"))
            if not self.postgres:
                self._check_sqlite_totals()
            self.group(self.conn, names=True)
        unpriced = self.aggregate_new(lookups=self.postgres and self.stored < LOOKUPS_MAX, grouped=True)[1]
        if self.postgres:
            self.conn.execute(load("stage/no_nested_loops_pg"))
        self.conn.execute(load("stage/agent_names"), {"org_id": self.org_id})
        self.conn.execute(load("stage/conversation_names"), {"org_id": self.org_id})
        if self.postgres:
            self.conn.execute(load("stage/planner_pg"))
            self.conn.execute(load("stage/report_counts_pg"))
        models = [(model, int(n)) for model, n in self.conn.execute(load("stage/unpriced_models"))] if unpriced else []
        return self.stored, unpriced, models

    def _group_on_side(self) -> None:
        assert self.side is not None
        stage = self.side.begin()
        stage.execute(load("stage/work_mem_pg"))
        self.group(stage, names=True)
        stage.commit()

    def _check_sqlite_totals(self) -> None:
        """Raise TotalTooLarge, naming the first event of new_usage that would take its day's or
        month's cost or cache savings or its conversation's cost past SQLITE_MAX_TOTAL (SQLite's
        SUM() would fail on it, its + turn it into a float)."""
        # Cheap check first: the import's float totals plus the largest stored totals, with a margin
        # far wider than float rounding; only imports near the bound take the exact walk. A month is
        # a stored total too: usage_monthly's and tag_month's rows are each at most its total.
        cost, day, conversation, savings, day_savings, month, month_savings = self.conn.execute(
            load("stage/totals_sqlite"), {"org_id": self.org_id}
        ).one()
        bound = SQLITE_MAX_TOTAL * 0.99
        if (
            cost + max(day or 0, conversation or 0, month or 0) < bound
            and savings + max(day_savings or 0, month_savings or 0) < bound
        ):
            return
        new = [
            (seq, sqlite_local_date(ts, self.tz), conv, cost, savings)
            for seq, ts, conv, cost, savings in self.conn.execute(load("stage/events_sqlite"))
        ]
        totals: dict[str, defaultdict[str, int]] = {
            kind: defaultdict(int) for kind in ("day", "savings", "month", "month savings")
        }
        totals["conversation"] = self._stored("stage/conversation_costs_sqlite", sorted({r[2] for r in new}))
        # The stored days of the import's months, read once: each day's totals, summed per month.
        months = sorted({sqlite_month_start(r[1]) for r in new})
        for day, day_cost, day_saving in run_in_chunks(
            self.conn, "stage/month_days_sqlite", months, org_id=self.org_id
        ):
            totals["day"][day], totals["savings"][day] = day_cost, day_saving
            totals["month"][sqlite_month_start(day)] += day_cost
            totals["month savings"][sqlite_month_start(day)] += day_saving
        for seq, event_day, conv, cost, savings in new:
            first_day = sqlite_month_start(event_day)
            for kind, key, amount in (
                ("day", event_day, cost),
                ("conversation", conv, cost),
                ("savings", event_day, savings),
                ("month", first_day, cost),
                ("month savings", first_day, savings),
            ):
                totals[kind][key] += amount
                if abs(totals[kind][key]) > SQLITE_MAX_TOTAL:
                    limit = Decimal(SQLITE_MAX_TOTAL).scaleb(-MONEY_SCALE)
                    what = {
                        "day": f"the organization's total for {key}",
                        "conversation": f"conversation {key!r}",
                        "savings": f"the organization's cache savings for {key}",
                        "month": f"the organization's total for the month of {key[:7]}",
                        "month savings": f"the organization's cache savings for the month of {key[:7]}",
                    }[kind]
                    raise TotalTooLarge(
                        seq,
                        f"would take {what} past {limit} dollars, the most one stored total holds on SQLite",
                        "cost" if kind in ("day", "conversation", "month") else "cache_read_tokens",
                    )

    def _stored(self, query: str, keys: list[str]) -> defaultdict[str, int]:
        stored: defaultdict[str, int] = defaultdict(int)
        stored.update(run_in_chunks(self.conn, query, keys, org_id=self.org_id))
        return stored

    def group(self, conn: Connection, names: bool = False) -> None:
        """Group the staged events into the grain tables on `conn` (the import's or its side stage's
        connection): the quarter-hours, conversation days and their sums by day, agent and model,
        the tags' days; with `names` the events that may name their agent or conversation."""
        for query in GROUP_QUERIES:
            self._aggregate(conn, query, False, tz=self.tz)
        if self.tag_keys:
            conn.execute(load("aggregate/tag_days"), {"tz": self.tz})
        if names:
            conn.execute(load("stage/name_events"))

    def aggregate_new(self, lookups: bool = False, grouped: bool = False) -> tuple[int, int]:
        """Add the rows of new_usage to every aggregate (`grouped`: group() has run); returns
        (events, unpriced among them). `lookups` (PostgreSQL, a small import): the start counts
        read the stored conversations by index."""
        if not grouped:
            self.group(self.conn)
        for query in AGGREGATE_QUERIES:
            result = self._aggregate(self.conn, query, lookups, tz=self.tz)
        # The last query, the conversation totals, returns their spans: one row per conversation and
        # agent of the import, so read as they come rather than held in a list (a 10M-event import
        # returns some 400,000).
        longest = max((int((last - first).total_seconds()) + 1 for first, last in result), default=0)
        self.conn.execute(
            update(organizations)
            .where(organizations.c.id == self.org_id, organizations.c.max_conversation_seconds < longest)
            .values(max_conversation_seconds=longest)
        )
        if self.tag_keys:
            self.aggregate_tags(lookups)
        inserted, unpriced = self.conn.execute(load("stage/counts")).one()
        return int(inserted), int(unpriced)

    def _aggregate(self, conn: Connection, query: str, lookups: bool, **params: Any) -> Any:
        """Run one aggregate statement on `conn`; `lookups` (PostgreSQL, a small import): those that
        read stored conversations (LOOKUP_QUERIES) read them by index. Otherwise PostgreSQL groups
        the events of HASHED_QUERIES by hashing them."""
        plan = None
        if lookups and query in LOOKUP_QUERIES:
            plan = "stage/lookups_pg"
        elif self.postgres and not lookups and query in HASHED_QUERIES:
            plan = "stage/hash_groups_pg"
        if plan:
            conn.execute(load(plan))
        result = conn.execute(load(query), params)
        if plan:
            conn.execute(load("stage/planner_pg"))
        return result

    def aggregate_tags(self, lookups: bool = False) -> None:
        """Add the import's tag days (new_tag_days, see group) to the tag aggregates of each
        pre-aggregated key; raises TooManyTagValues, nothing added, when a key would pass
        MAX_TAG_VALUES distinct values."""
        conn = self.conn
        for key, stored, added in conn.execute(load("tags/value_counts"), {"org_id": self.org_id}).all():
            if int(stored) + int(added) > MAX_TAG_VALUES:
                new = conn.execute(load("tags/new_values"), {"org_id": self.org_id, "tag_key": key}).all()
                raise TooManyTagValues(key, new[MAX_TAG_VALUES - int(stored)].seq)
        conn.execute(load("aggregate/tag_values"))
        conn.execute(load("aggregate/tag_daily"))
        conn.execute(load("aggregate/tag_day"))
        conn.execute(load("aggregate/tag_month"))
        conn.execute(load("aggregate/tag_conversations"))
        self._aggregate(conn, "aggregate/tag_part_starts", lookups, tz=self.tz, prefix=TAG_PARAM_PREFIX)
        conn.execute(load("aggregate/tag_parts"), {"prefix": TAG_PARAM_PREFIX})

    def close(self) -> None:
        if not self.postgres:
            for table in (batch_table, new_table, *GRAIN_TABLES, tag_days_table):
                table.drop(self.conn, checkfirst=True)


def rebuild(conn: Connection, org_ids: Iterable[int] | None = None) -> int:
    """Recompute the aggregates of the given organizations (all by default) from their events."""
    orgs = conn.execute(select(organizations.c.id, organizations.c.timezone).with_for_update()).all()
    wanted = None if org_ids is None else set(org_ids)
    events = 0
    for org_id, tz in orgs:
        if wanted is not None and org_id not in wanted:
            continue
        for table in (*AGGREGATES, *TAG_AGGREGATES):
            conn.execute(delete(table).where(table.c.organization_id == org_id))
        conn.execute(update(organizations).where(organizations.c.id == org_id).values(max_conversation_seconds=0))
        writer = EventWriter(conn, org_id, tz)
        conn.execute(load("stage/from_events"), {"org_id": org_id})
        events += writer.aggregate_new()[0]
        writer.close()
    return events


def rebuild_tags(conn: Connection, org_id: int, tz: str) -> None:
    """Recompute the tag aggregates of one organization from its stored events (its keys changed)."""
    for table in TAG_AGGREGATES:
        conn.execute(delete(table).where(table.c.organization_id == org_id))
    for table in (conversation_parts, conversation_part_starts):
        conn.execute(
            delete(table).where(
                table.c.organization_id == org_id, table.c.dimension.startswith(TAG_PARAM_PREFIX, autoescape=True)
            )
        )
    writer = EventWriter(conn, org_id, tz)
    if writer.tag_keys:
        conn.execute(load("stage/from_events"), {"org_id": org_id})
        conn.execute(load("aggregate/tag_days"), {"tz": tz})
        writer.aggregate_tags()
    writer.close()
