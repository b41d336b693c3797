"""Engine creation and the per-dialect set-up the shared SQL in queries/ relies on."""

from __future__ import annotations

from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


@lru_cache(maxsize=256)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def sqlite_local_date(ts: str | None, tz: str) -> str | None:
    """SQLite twin of PostgreSQL's `(ts AT TIME ZONE tz)::date`, for naive-UTC text timestamps."""
    if ts is None:
        return None
    instant = datetime.fromisoformat(ts).replace(tzinfo=timezone.utc)
    return instant.astimezone(_zone(tz)).date().isoformat()


def sqlite_quarter_start(ts: str | None) -> str | None:
    """SQLite twin of PostgreSQL's `date_bin('15 minutes', ts, ...)` on naive-UTC text timestamps."""
    if ts is None:
        return None
    instant = datetime.fromisoformat(ts)
    start = instant.replace(minute=instant.minute - instant.minute % 15, second=0, microsecond=0)
    return start.strftime("%Y-%m-%d %H:%M:%S.000000")


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


def _on_sqlite_connect(dbapi_conn, _record) -> None:
    dbapi_conn.create_function("local_date", 2, sqlite_local_date, deterministic=True)
    dbapi_conn.create_aggregate("exact_sum", 1, SqliteExactSum)
    dbapi_conn.create_function("quarter_start", 1, sqlite_quarter_start, deterministic=True)
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys = ON")
    cur.execute("PRAGMA journal_mode = WAL")  # readers keep reading while an import writes
    cur.execute("PRAGMA busy_timeout = 30000")
    cur.execute("PRAGMA synchronous = NORMAL")
    cur.close()


def make_engine(url: str, **kwargs) -> Engine:
    """Create the engine for `url`; one per process, made by the app factory or the CLI."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _on_sqlite_connect)
        return engine
    # pre_ping: a database that restarted is reconnected to without restarting the app.
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 5)
    kwargs.setdefault("connect_args", {"connect_timeout": 5})
    return create_engine(url, **kwargs)


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database to `revision` (the newest by default)."""
    command.upgrade(alembic_config(engine), revision)
