"""Every SQL file's declared parameters and typed columns agree with what it runs, on both databases."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from sqlalchemy.types import NullType

from billing_dash.aggregates import EventWriter, tag_days_table
from billing_dash.models import Money, UTCDateTime
from billing_dash.queries import QUERY_DIR, load

NAMES = sorted(p.relative_to(QUERY_DIR).with_suffix("").as_posix() for p in QUERY_DIR.rglob("*.sql"))
# Result columns holding money or instants: untyped, SQLite hands them back as integers of 1e-10
# dollars (10^10 times too large) or naive text.
MONEY_OR_TIME = re.compile(r"(^|_)(cost|ts|bucket)$|_per_million$")
NOON = datetime(2026, 3, 1, 12, tzinfo=UTC)
SAMPLE = {
    "org_id": 0,
    "tz": "UTC",
    "limit": 1,
    "ids": ["x"],
    "start": NOON,
    "end": NOON,
    "full_start": NOON,
    "full_end": NOON,
    "span_start": NOON,
    "end_span_start": NOON,
    "day_from": date(2026, 3, 1),
    "day_to": date(2026, 3, 1),
    "month_from": date(2026, 3, 1),
    "month_end": date(2026, 4, 1),
    "sort": "cost",
    "offset": 0,
    "conversation_id": "x",
    "first_ts": NOON,
    "last_ts": NOON,
    # A report's filter (filters.Filters.params): one agent and one model.
    "all_agents": 0,
    "agents": ["x"],
    "all_models": 0,
    "models": ["x"],
    # A tag filter and grouping (filters.Filters.params): one key's values, another key to group by.
    "all_tags": 0,
    "tag_key": "x",
    "tag_values": ["x"],
    "group_key": "y",
    # A conversation part (filters.Filters.conversation_part) and one agent's rows; the tag parts' prefix.
    "dimension": "model",
    "value": "x",
    "agent_id": "x",
    "prefix": "tag.",
    # A side stage's advisory lock and schema (ingest/side.py).
    "lock_class": 1,
    "key": 1,
    "schema": "billing_import_1",
}
# Statements the driver runs otherwise: psycopg feeds COPY ... FROM STDIN itself.
NOT_EXECUTED = {"stage/copy_pg"}
# A statement only one database runs is named for it.
DIALECT_SUFFIX = {"postgresql": "_pg", "sqlite": "_sqlite"}


def typed_columns(stmt) -> dict:
    return {c.name: c.type for c in getattr(stmt, "selected_columns", ())}


def test_every_query_file_is_found():
    assert "daily" in NAMES and "aggregate/starts" in NAMES


def _runs_on(name: str, backend: str) -> bool:
    own = DIALECT_SUFFIX[backend]
    return name not in NOT_EXECUTED and (name.endswith(own) or not name.endswith(tuple(DIALECT_SUFFIX.values())))


# Each file on each database that runs it (COPY, fed by psycopg itself, is proven by every import).
@pytest.mark.parametrize(
    "database_url, name",
    [(backend, name) for backend in DIALECT_SUFFIX for name in NAMES if _runs_on(name, backend)],
    indirect=["database_url"],
)
def test_declared_columns_are_what_the_query_returns(engine, name):
    """A typed column the query does not return is a misread file; a money or time column it
    returns untyped would come back as raw integers or naive text on SQLite."""
    stmt = load(name)
    if str(stmt).lstrip().startswith("VACUUM"):  # outside a transaction, as refresh_statistics runs it
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            assert not conn.execute(stmt).returns_rows
        return
    with engine.connect() as conn, conn.begin():
        writer = EventWriter(conn, 0, "UTC")  # the staging table the ingest statements read
        tag_days_table.create(conn, checkfirst=True)  # only an organization with tag keys has it
        result = conn.execute(stmt, SAMPLE)
        returned = list(result.keys()) if result.returns_rows else []
        typed = typed_columns(stmt)
        assert set(typed) <= set(returned), f"{name}: declares columns it does not return"
        for column in returned:
            if MONEY_OR_TIME.search(column):
                # NullType: declared `stored`, the raw value on purpose.
                assert isinstance(typed.get(column), (Money, UTCDateTime, NullType)), f"{name}: {column} is not typed"
        conn.rollback()
        del writer


USAGE_TABLES = ("usage_quarter", "usage_day", "usage_daily")
KEYS = {"organization_id", "bucket", "day", "agent_id", "model"}


def test_usage_sums_are_declared_once(engine, org):
    """models.USAGE_SUMS, the migrated aggregate tables and the daily queries name the same sums."""
    from sqlalchemy import inspect

    from billing_dash.models import USAGE_SUMS

    names = [s.name for s in USAGE_SUMS]
    inspector = inspect(engine)
    for table in USAGE_TABLES:
        migrated = [c["name"] for c in inspector.get_columns(table) if c["name"] not in KEYS]
        assert sorted(migrated) == sorted(names), table
    window = {"org_id": org.id, "tz": "UTC", "start": NOON, "end": NOON, "day_from": NOON.date(), "day_to": NOON.date()}
    with engine.connect() as conn:
        for query in ("daily", "daily_org_zone"):
            assert list(conn.execute(load(query), window).keys()) == ["day", *names], query
