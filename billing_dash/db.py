"""Engine creation and the per-dialect set-up the shared SQL in sql/ relies on."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, overload
from zoneinfo import ZoneInfo

import orjson
from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from .config import ConfigError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


@overload
def sqlite_local_date(ts: str, tz: str) -> str: ...
@overload
def sqlite_local_date(ts: None, tz: str) -> None: ...
def sqlite_local_date(ts: str | None, tz: str) -> str | None:
    """SQLite twin of PostgreSQL's local_date (migration 0006), for naive-UTC text timestamps."""
    if ts is None:
        return None
    instant = datetime.fromisoformat(ts).replace(tzinfo=UTC)
    return instant.astimezone(_zone(tz)).date().isoformat()


def sqlite_quarter_start(ts: str | None) -> str | None:
    """SQLite twin of PostgreSQL's `date_bin('15 minutes', ts, ...)` on naive-UTC text timestamps."""
    if ts is None:
        return None
    instant = datetime.fromisoformat(ts)
    start = instant.replace(minute=instant.minute - instant.minute % 15, second=0, microsecond=0)
    return start.strftime("%Y-%m-%d %H:%M:%S.000000")


@overload
def sqlite_month_start(day: str) -> str: ...
@overload
def sqlite_month_start(day: None) -> None: ...
def sqlite_month_start(day: str | None) -> str | None:
    """SQLite twin of PostgreSQL's month_start (migration 0020): the first day of a date's month."""
    return None if day is None else day[:8] + "01"


def sqlite_tag_value(tags: str | None, key: str) -> str | None:
    """SQLite twin of PostgreSQL's tag_value (migration 0015): the value of `key` in an event's tags."""
    if tags is None:
        return None
    value = orjson.loads(tags).get(key)
    return value if isinstance(value, str) else None


def _code_point_order(a: str, b: str) -> int:
    return (a > b) - (a < b)


class SqliteExactSum:
    """SUM() without SQLite's 64-bit limit, for reports whose sums pass it (queries.load's
    exact_sums); a sum past 64 bits leaves as text, which int() and models.Money read."""

    def __init__(self) -> None:
        self.total: int | None = None

    def step(self, value: int | None) -> None:
        if value is not None:
            self.total = value if self.total is None else self.total + value

    def finalize(self) -> int | str | None:
        total = self.total
        return total if total is None or -(2**63) <= total < 2**63 else str(total)


def _on_sqlite_connect(dbapi_conn: sqlite3.Connection, _record: object) -> None:
    dbapi_conn.create_function("local_date", 2, sqlite_local_date, deterministic=True)
    dbapi_conn.create_aggregate("exact_sum", 1, SqliteExactSum)  # type: ignore[arg-type]  # typeshed: finalize() -> int only
    dbapi_conn.create_function("quarter_start", 1, sqlite_quarter_start, deterministic=True)
    dbapi_conn.create_function("tag_value", 2, sqlite_tag_value, deterministic=True)
    dbapi_conn.create_function("month_start", 1, sqlite_month_start, deterministic=True)
    # PostgreSQL's byte-order collation under its name, so COLLATE "C" in sql/ means code point
    # order on both databases (and in Python's sorted()).
    dbapi_conn.create_collation("C", _code_point_order)
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys = ON")
    cur.execute("PRAGMA journal_mode = WAL")  # readers keep reading while an import writes
    cur.execute("PRAGMA busy_timeout = 30000")
    cur.execute("PRAGMA synchronous = NORMAL")
    cur.close()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create the engine for `url`; one per process, made by the app factory or the CLI."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:" and not parsed.query.get("uri"):
            path = Path(parsed.database)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                sqlite3.connect(path).close()
            except (OSError, sqlite3.Error) as exc:
                raise ConfigError(f"DATABASE_URL: cannot open the SQLite database {path}: {exc}") from None
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _on_sqlite_connect)
        return engine
    # pre_ping: a database that restarted is reconnected to without restarting the app.
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 5)
    # prepare_threshold None: psycopg never prepares a statement, so PostgreSQL plans each run for
    # its own parameters. The reports' filters are `(:all_agents = 1 OR agent_id IN :agents)`, which
    # only a plan for the values at hand reduces to an index range; a prepared statement's generic
    # plan cannot, and preparing it made the sixth run of a report slow (the import's statements
    # once kept a plan made for its first batch, when the aggregates were still empty).
    kwargs.setdefault("connect_args", {"connect_timeout": 5, "prepare_threshold": None})
    return create_engine(url, **kwargs)


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


class SchemaNotReady(Exception):
    """The database's schema is not the newest migration's; requests and commands cannot use it."""

    def __init__(self, message: str, code: str = "database_not_migrated") -> None:
        super().__init__(message)
        self.code = code


@lru_cache(maxsize=1)
def _migrations() -> ScriptDirectory:
    return ScriptDirectory(str(MIGRATIONS))


def check_schema(engine: Engine) -> None:
    """Raise SchemaNotReady unless the database is migrated to the newest revision (Alembic's head)."""
    with engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    script = _migrations()
    heads = set(script.get_heads())
    if current == heads:
        return
    if not current:
        raise SchemaNotReady("The database has no schema yet: run `billing-dash db upgrade`.")
    known = {rev.revision for rev in script.walk_revisions()}
    if current - known:
        raise SchemaNotReady(
            f"The database schema is at revision {', '.join(sorted(current))}, which this "
            "version of billing-dash does not know (a newer version migrated it).",
            code="database_schema_unknown",
        )
    raise SchemaNotReady(
        f"The database schema is at revision {', '.join(sorted(current))}, older than this "
        f"version's {', '.join(sorted(heads))}: run `billing-dash db upgrade`."
    )


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database to `revision` (the newest by default)."""
    command.upgrade(alembic_config(engine), revision)
