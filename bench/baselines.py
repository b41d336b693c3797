"""Baselines for the same report: GROUP BY over raw usage_events, and raw rows aggregated in pandas."""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import Engine, bindparam, create_engine, text
from sqlalchemy.engine import make_url

# The raw table's column types, so bounds and money read and write as the app stores them.
from billing_dash.models import Money, UTCDateTime

# Our own copies of the raw-table report queries (as billing_dash/sql/*.sql had them when this benchmark was
# written), so this baseline stays "GROUP BY over the raw events" whatever the app does later.
# {day} is the dialect's local-day expression.
DAILY_SQL = """
SELECT {day} AS day,
       SUM(e.prompt_tokens) AS prompt_tokens,
       SUM(e.completion_tokens) AS completion_tokens,
       SUM(e.cost) AS cost,
       COUNT(*) AS message_count,
       SUM(CASE WHEN e.priced THEN 0 ELSE 1 END) AS unpriced_count
FROM usage_events e
WHERE e.organization_id = :org_id
  AND e.ts >= :start AND e.ts < :end
GROUP BY {day}
"""
BY_AGENT_SQL = """
SELECT e.agent_id,
       COALESCE(a.name, e.agent_id) AS agent_name,
       b.limit_tokens AS monthly_token_budget,
       SUM(e.prompt_tokens + e.completion_tokens) AS total_tokens,
       SUM(e.cost) AS cost,
       COUNT(*) AS message_count,
       COUNT(DISTINCT e.conversation_id) AS conversation_count
FROM usage_events e
LEFT JOIN agents a ON a.organization_id = e.organization_id AND a.id = e.agent_id
LEFT JOIN budgets b ON b.organization_id = e.organization_id AND b.scope = 'agent' AND b.scope_id = e.agent_id
                   AND b.period = 'month'
WHERE e.organization_id = :org_id
  AND e.ts >= :start AND e.ts < :end
GROUP BY e.agent_id, a.name, b.limit_tokens
ORDER BY cost DESC, total_tokens DESC, e.agent_id
"""
BY_MODEL_SQL = """
SELECT e.model,
       SUM(e.prompt_tokens + e.completion_tokens) AS total_tokens,
       SUM(e.cost) AS cost,
       COUNT(*) AS message_count,
       SUM(CASE WHEN e.priced THEN 0 ELSE 1 END) AS unpriced_count
FROM usage_events e
WHERE e.organization_id = :org_id
  AND e.ts >= :start AND e.ts < :end
GROUP BY e.model
ORDER BY cost DESC, total_tokens DESC, e.model
"""
TOP_CONVERSATIONS_SQL = """
SELECT e.conversation_id,
       COALESCE(c.title, e.conversation_id) AS title,
       c.agent_id,
       SUM(e.prompt_tokens + e.completion_tokens) AS total_tokens,
       SUM(e.cost) AS cost,
       COUNT(*) AS message_count
FROM usage_events e
LEFT JOIN conversations c ON c.organization_id = e.organization_id AND c.id = e.conversation_id
WHERE e.organization_id = :org_id
  AND e.ts >= :start AND e.ts < :end
GROUP BY e.conversation_id, c.title, c.agent_id
ORDER BY cost DESC, total_tokens DESC, e.conversation_id
LIMIT :limit
"""
CONVERSATION_COUNT_SQL = """
SELECT COUNT(DISTINCT e.conversation_id) AS conversation_count
FROM usage_events e
WHERE e.organization_id = :org_id
  AND e.ts >= :start AND e.ts < :end
"""
AGENT_BUDGETS_SQL = """
SELECT a.id AS agent_id,
       a.name AS agent_name,
       b.limit_tokens AS monthly_token_budget,
       COALESCE(SUM(e.prompt_tokens + e.completion_tokens), 0) AS month_tokens
FROM budgets b
JOIN agents a ON a.organization_id = b.organization_id AND a.id = b.scope_id
LEFT JOIN usage_events e
       ON e.organization_id = a.organization_id AND e.agent_id = a.id
      AND e.ts >= :start AND e.ts < :end
WHERE b.organization_id = :org_id
  AND b.scope = 'agent' AND b.period = 'month' AND b.limit_tokens IS NOT NULL
GROUP BY a.id, a.name, b.limit_tokens
ORDER BY a.name, a.id
"""
RAW_ROWS_SQL = """
SELECT e.ts, e.agent_id, e.conversation_id, e.model, e.prompt_tokens, e.completion_tokens, e.cost, e.priced
FROM usage_events e
WHERE e.organization_id = :org_id
  AND e.ts >= :start AND e.ts < :end
"""
LOCAL_DAY = {
    # ':': a zone named like an abbreviation (CET) is read from the tz database (see migration 0006).
    "postgresql": "(e.ts AT TIME ZONE (':' || :tz))::date",
    # Registered on every connection by billing_dash.db.make_engine (a Python function).
    "sqlite": "local_date(e.ts, :tz)",
}


@dataclass(frozen=True)
class Window:
    """Local dates start..end (inclusive) in zone tz, and their UTC bounds [start_utc, end_utc)."""

    start: date
    end: date
    tz: str

    @property
    def start_utc(self) -> datetime:
        return _local_midnight(self.start, self.tz)

    @property
    def end_utc(self) -> datetime:
        return _local_midnight(self.end + timedelta(days=1), self.tz)

    def dates(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]


def _local_midnight(day: date, tz: str) -> datetime:
    return datetime.combine(day, dtime(0), tzinfo=ZoneInfo(tz)).astimezone(UTC)


def year_window(tz: str, today: date | None = None) -> Window:
    """January 1st through today, in `tz` (what the app's `year` period means)."""
    today = today or datetime.now(ZoneInfo(tz)).date()
    return Window(date(today.year, 1, 1), today, tz)


def month_window(tz: str, today: date | None = None) -> Window:
    today = today or datetime.now(ZoneInfo(tz)).date()
    return Window(today.replace(day=1), today, tz)


def make_baseline_engine(url: str) -> Engine:
    """An engine on the benchmark database: psycopg for PostgreSQL; the app's engine for SQLite
    (it registers the `local_date` SQL function the raw daily query needs)."""
    if make_url(url).get_backend_name() == "sqlite":
        from billing_dash.db import make_engine

        return make_engine(url)
    return create_engine(url, pool_size=1, max_overflow=0)


def _stmt(sql: str, dialect: str):
    """A text statement whose time bounds and money bind and load like the app's columns do
    (SQLite stores naive-UTC text and integers of 1e-10 USD; PostgreSQL timestamptz and NUMERIC)."""
    stmt = text(sql.replace("{day}", LOCAL_DAY[dialect]))
    if ":start" in sql:
        stmt = stmt.bindparams(bindparam("start", type_=UTCDateTime()), bindparam("end", type_=UTCDateTime()))
    if re.search(r"\bcost\b", sql):
        return stmt.columns(cost=Money())
    return stmt


def _money(value: Any) -> Decimal:
    return Decimal(0) if value is None else Decimal(value)


def raw_group_by_report(engine: Engine, org_id: int, window: Window, top: int = 10) -> dict[str, Any]:
    """The full report by GROUP BY over usage_events: local-day series, agents, models, top
    conversations, distinct conversations and this month's budget use; fetched and shaped."""
    dialect = engine.dialect.name
    params = {"org_id": org_id, "start": window.start_utc, "end": window.end_utc}
    month = month_window(window.tz)
    with engine.connect() as conn:
        daily_rows = conn.execute(_stmt(DAILY_SQL, dialect), {**params, "tz": window.tz}).all()
        agents = conn.execute(_stmt(BY_AGENT_SQL, dialect), params).all()
        models = conn.execute(_stmt(BY_MODEL_SQL, dialect), params).all()
        conversations = conn.execute(_stmt(TOP_CONVERSATIONS_SQL, dialect), {**params, "limit": top}).all()
        conversation_count = conn.execute(_stmt(CONVERSATION_COUNT_SQL, dialect), params).scalar_one()
        budgets = conn.execute(
            _stmt(AGENT_BUDGETS_SQL, dialect), {"org_id": org_id, "start": month.start_utc, "end": month.end_utc}
        ).all()
    by_day = {str(r.day): r for r in daily_rows}
    days = []
    for d in window.dates():
        r = by_day.get(d.isoformat())
        days.append(
            {
                "date": d.isoformat(),
                "prompt_tokens": int(r.prompt_tokens) if r else 0,
                "completion_tokens": int(r.completion_tokens) if r else 0,
                "cost": _money(r.cost) if r else Decimal(0),
                "message_count": int(r.message_count) if r else 0,
            }
        )
    return {
        "summary": {
            "total_messages": sum(d["message_count"] for d in days),
            "total_tokens": sum(d["prompt_tokens"] + d["completion_tokens"] for d in days),
            "total_cost": sum((d["cost"] for d in days), Decimal(0)),
            "total_conversations": int(conversation_count),
        },
        "daily": days,
        "agents": [dict(r._mapping, cost=_money(r.cost)) for r in agents],
        "models": [dict(r._mapping, cost=_money(r.cost)) for r in models],
        "top_conversations": [dict(r._mapping, cost=_money(r.cost)) for r in conversations],
        "budgets": [dict(r._mapping) for r in budgets],
    }


def naive_pandas_report(engine: Engine, org_id: int, window: Window, top: int = 10) -> dict[str, Any]:
    """The naive design: pd.read_sql of the period's raw rows, then every aggregate in pandas."""
    dialect = engine.dialect.name
    params = {"org_id": org_id, "start": window.start_utc, "end": window.end_utc}
    with engine.connect() as conn:
        df = pd.read_sql(_stmt(RAW_ROWS_SQL, dialect), conn, params=params)
        names = pd.read_sql(
            text("SELECT id AS agent_id, name AS agent_name FROM agents WHERE organization_id = :org_id"),
            conn,
            params={"org_id": org_id},
        )
        # Timestamps arrive as aware datetimes (UTCDateTime), money as Decimal turned float by read_sql.
        df["ts"] = pd.to_datetime(df["ts"], utc=True)
        df["cost"] = df["cost"].astype("float64")
        df["total_tokens"] = df["prompt_tokens"] + df["completion_tokens"]
        df["day"] = df["ts"].dt.tz_convert(window.tz).dt.date
        daily = df.groupby("day").agg(
            prompt_tokens=("prompt_tokens", "sum"),
            completion_tokens=("completion_tokens", "sum"),
            cost=("cost", "sum"),
            message_count=("ts", "size"),
        )
        daily = daily.reindex(window.dates(), fill_value=0)
        agents = (
            df.groupby("agent_id")
            .agg(
                total_tokens=("total_tokens", "sum"),
                cost=("cost", "sum"),
                message_count=("ts", "size"),
                conversation_count=("conversation_id", "nunique"),
            )
            .reset_index()
            .merge(names, on="agent_id", how="left")
            .sort_values(["cost", "total_tokens"], ascending=False)
        )
        models = (
            df.groupby("model")
            .agg(
                total_tokens=("total_tokens", "sum"),
                cost=("cost", "sum"),
                message_count=("ts", "size"),
                unpriced_count=("priced", lambda s: int((~s.astype(bool)).sum())),
            )
            .sort_values(["cost", "total_tokens"], ascending=False)
        )
        conversations = (
            df.groupby("conversation_id")
            .agg(
                total_tokens=("total_tokens", "sum"),
                cost=("cost", "sum"),
                message_count=("ts", "size"),
                agent_id=("agent_id", "first"),
            )
            .sort_values(["cost", "total_tokens"], ascending=False)
            .head(top)
            .reset_index()
        )
        titles = {}
        if len(conversations):
            stmt = text(
                "SELECT id, title FROM conversations WHERE organization_id = :org_id AND id IN :ids"
            ).bindparams(bindparam("ids", expanding=True))
            titles = dict(conn.execute(stmt, {"org_id": org_id, "ids": list(conversations["conversation_id"])}).all())
        conversations["title"] = conversations["conversation_id"].map(titles)
    return {
        "summary": {
            "total_messages": int(daily["message_count"].sum()),
            "total_tokens": int(daily["prompt_tokens"].sum() + daily["completion_tokens"].sum()),
            "total_cost": float(daily["cost"].sum()),
            "total_conversations": int(df["conversation_id"].nunique()),
        },
        "daily": daily.reset_index().to_dict("records"),
        "agents": agents.to_dict("records"),
        "models": models.reset_index().to_dict("records"),
        "top_conversations": conversations.to_dict("records"),
    }


@dataclass(frozen=True)
class Timing:
    """Wall times of repeated runs of one baseline, and the last run's report."""

    runs_ms: list[float]
    report: dict[str, Any]

    @property
    def median_ms(self) -> float:
        return statistics.median(self.runs_ms)


def time_baseline(
    fn: Callable[..., dict[str, Any]], engine: Engine, org_id: int, window: Window, runs: int = 3
) -> Timing:
    """Run `fn` `runs` times (each run timed end to end: queries, fetch and shaping)."""
    times, report = [], {}
    for _ in range(max(1, runs)):
        started = time.perf_counter()
        report = fn(engine, org_id, window)
        times.append(round((time.perf_counter() - started) * 1000, 2))
    return Timing(times, report)
