"""Budgets of an organization, an agent or a model, in USD and/or tokens, per month, week or day,
and where each stands in its current period: used, forecast, exhaustion date and state."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Row, delete, insert, select, update

from ..models import agents, budgets
from ..periods import Tenant
from ..queries import load
from .forecast import DEFAULT_METHOD, LOOKBACK_DAYS, exhaustion, project

SCOPES = ("organization", "agent", "model")
PERIODS = ("month", "week", "day")
DEFAULT_THRESHOLDS = (50, 80, 100)
MAX_THRESHOLD = 1000
# Far above any realistic budget, and within what SQLite's money column holds ($922,337,203).
MAX_USD = Decimal("900000000")
MAX_TOKENS = 10**15
MAX_SCOPE_ID = 200  # the length of agent ids and models
_THRESHOLDS = re.compile(r"\d{1,4}(,\d{1,4})*", re.ASCII)
_USD = re.compile(r"\d{1,13}(\.\d{1,10})?", re.ASCII)


class BudgetError(ValueError):
    """Bad budget input; `field` names the option or parameter it came from."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Budget:
    id: int
    scope: str
    scope_id: str
    period: str
    limit_usd: Decimal | None
    limit_tokens: int | None
    thresholds: tuple[int, ...]
    created_at: datetime

    @property
    def alert_key(self) -> str:
        """The budget in its alerts' idempotency keys: its id and when it was created, because
        SQLite may give a deleted budget's id to the next one, whose alerts must not be taken for
        ones already sent."""
        return f"{self.id}@{self.created_at:%Y%m%dT%H%M%S.%f}"


def parse_usd(text: str, field: str = "--usd") -> Decimal:
    """A positive amount of USD with at most 10 decimals, exactly (never through a float)."""
    text = text.strip()
    if not _USD.fullmatch(text):
        raise BudgetError(field, f"must be an amount in USD such as 500 or 12.50, got {text[:40]!r}")
    value = Decimal(text)
    if not 0 < value <= MAX_USD:
        raise BudgetError(field, f"must be more than 0 and at most {MAX_USD:,}, got {text}")
    return value


def parse_thresholds(text: str, field: str = "--thresholds") -> tuple[int, ...]:
    """Percents such as "50,80,100": each from 1 to 1000, returned sorted without repeats."""
    compact = text.replace(" ", "")
    if not _THRESHOLDS.fullmatch(compact):
        raise BudgetError(field, f"must be percents separated by commas such as 50,80,100, got {text[:40]!r}")
    values = sorted({int(v) for v in compact.split(",")})
    if values[0] < 1 or values[-1] > MAX_THRESHOLD:
        raise BudgetError(field, f"each threshold must be from 1 to {MAX_THRESHOLD} percent, got {text[:40]!r}")
    return tuple(values)


def _budget(row: Row) -> Budget:
    return Budget(
        id=row.id,
        scope=row.scope,
        scope_id=row.scope_id,
        period=row.period,
        limit_usd=row.limit_usd,
        limit_tokens=row.limit_tokens,
        thresholds=tuple(int(t) for t in row.thresholds.split(",")),
        created_at=row.created_at,
    )


def list_budgets(conn: Connection, org_id: int) -> list[Budget]:
    """An organization's budgets: the organization's first, then agents' and models', by id and period."""
    rows = conn.execute(select(budgets).where(budgets.c.organization_id == org_id)).all()
    order = {s: i for i, s in enumerate(SCOPES)}
    periods = {p: i for i, p in enumerate(PERIODS)}
    return sorted(
        (_budget(r) for r in rows), key=lambda b: (order[b.scope], b.scope_id.encode(), periods[b.period], b.id)
    )


def _find(conn: Connection, org_id: int, scope: str, scope_id: str, period: str) -> Row | None:
    return conn.execute(
        select(budgets).where(
            budgets.c.organization_id == org_id,
            budgets.c.scope == scope,
            budgets.c.scope_id == scope_id,
            budgets.c.period == period,
        )
    ).first()


def set_budget(
    conn: Connection,
    org_id: int,
    scope: str,
    scope_id: str,
    period: str,
    usd: Decimal | None,
    tokens: int | None,
    thresholds: tuple[int, ...] = DEFAULT_THRESHOLDS,
) -> Budget:
    """Create the budget of a scope and period, or replace its limits and thresholds; an agent
    must have had usage (agents appear with their first event), a model need not."""
    if scope not in SCOPES:
        raise BudgetError("scope", f"must be one of {', '.join(SCOPES)}, got {scope!r}")
    if period not in PERIODS:
        raise BudgetError("--period", f"must be one of {', '.join(PERIODS)}, got {period!r}")
    if usd is None and tokens is None:
        raise BudgetError("--usd/--tokens", "give a limit in USD, in tokens, or both")
    if scope != "organization" and not 0 < len(scope_id) <= MAX_SCOPE_ID:
        raise BudgetError(f"--{scope}", f"must be 1 to {MAX_SCOPE_ID} characters, got {len(scope_id)}")
    if tokens is not None and not 0 < tokens <= MAX_TOKENS:
        raise BudgetError("--tokens", f"must be from 1 to {MAX_TOKENS:,}, got {tokens}")
    if scope == "agent":
        _require_agent(conn, org_id, scope_id, "--agent")
    values = {"limit_usd": usd, "limit_tokens": tokens, "thresholds": ",".join(map(str, thresholds))}
    existing = _find(conn, org_id, scope, scope_id, period)
    if existing is None:
        stmt = insert(budgets).values(
            organization_id=org_id,
            scope=scope,
            scope_id=scope_id,
            period=period,
            created_at=datetime.now(UTC),
            **values,
        )
        return _budget(conn.execute(stmt.returning(*budgets.c)).one())
    changed = update(budgets).where(budgets.c.id == existing.id).values(**values)
    return _budget(conn.execute(changed.returning(*budgets.c)).one())


def _require_agent(conn: Connection, org_id: int, agent_id: str, field: str) -> None:
    known = conn.execute(select(agents.c.id).where(agents.c.organization_id == org_id, agents.c.id == agent_id))
    if known.first() is None:
        raise BudgetError(field, f"no agent {agent_id!r} (agents appear with their first usage)")


def set_agent_month_tokens(conn: Connection, org_id: int, agent_id: str, tokens: int) -> None:
    """`set-budget`: an agent's monthly token limit (0 removes it), keeping a USD limit it has."""
    _require_agent(conn, org_id, agent_id, "AGENT_ID")
    if tokens > MAX_TOKENS:
        raise BudgetError("TOKENS", f"must be at most {MAX_TOKENS:,}, got {tokens}")
    existing = _find(conn, org_id, "agent", agent_id, "month")
    if tokens:
        usd = existing.limit_usd if existing else None
        thresholds = _budget(existing).thresholds if existing else DEFAULT_THRESHOLDS
        set_budget(conn, org_id, "agent", agent_id, "month", usd, tokens, thresholds)
    elif existing is not None and existing.limit_usd is not None:
        conn.execute(update(budgets).where(budgets.c.id == existing.id).values(limit_tokens=None))
    elif existing is not None:
        conn.execute(delete(budgets).where(budgets.c.id == existing.id))


def delete_budget(conn: Connection, org_id: int, budget_id: int) -> None:
    done = conn.execute(delete(budgets).where(budgets.c.organization_id == org_id, budgets.c.id == budget_id))
    if done.rowcount == 0:
        raise BudgetError("ID", f"no budget {budget_id} in this organization")


def period_bounds(period: str, today: date) -> tuple[date, date]:
    """The calendar month, week (Monday to Sunday) or day holding `today`: its first and last date."""
    if period == "day":
        return today, today
    if period == "week":
        start = today - timedelta(days=today.weekday())
        return start, start + timedelta(days=6)
    start = today.replace(day=1)
    following = (start + timedelta(days=31)).replace(day=1)
    return start, following - timedelta(days=1)


@dataclass(frozen=True)
class LimitStatus:
    """One limit of a budget (unit usd or tokens) in its current period."""

    unit: str
    limit: Decimal
    used: Decimal
    forecast: Decimal
    exhaustion_date: date | None

    @property
    def percent(self) -> Decimal:
        return self.used * 100 / self.limit


@dataclass(frozen=True)
class BudgetStatus:
    budget: Budget
    start: date
    end: date
    today: date
    limits: tuple[LimitStatus, ...]

    @property
    def days_left(self) -> int:
        """Days of the period still to come, today included."""
        return (self.end - self.today).days + 1

    @property
    def percent(self) -> Decimal:
        """The larger share used of the budget's limits."""
        return max(limit.percent for limit in self.limits)

    @property
    def crossed(self) -> tuple[int, ...]:
        """The thresholds this period's use has reached: the key of a once-per-period alert."""
        return tuple(t for t in self.budget.thresholds if self.percent >= t)

    @property
    def exhaustion_date(self) -> date | None:
        dates = [limit.exhaustion_date for limit in self.limits if limit.exhaustion_date is not None]
        return min(dates) if dates else None

    @property
    def state(self) -> str:
        """exceeded: a limit is used up; warning: a threshold below 100% is reached or the
        forecast passes a limit; ok otherwise."""
        if self.percent >= 100:
            return "exceeded"
        if any(t < 100 for t in self.crossed) or any(limit.forecast > limit.limit for limit in self.limits):
            return "warning"
        return "ok"


def evaluate(
    conn: Connection, org: Tenant, now: datetime | None = None, method: str = DEFAULT_METHOD
) -> list[BudgetStatus]:
    """Every budget of `org` in the period holding `now` (its zone), from the daily aggregate."""
    found = list_budgets(conn, org.id)
    if not found:
        return []
    today = (now or datetime.now(UTC)).astimezone(ZoneInfo(org.timezone)).date()
    # A month's start is at most 30 days back; the forecast reads 28 whole days before today.
    day_from = min(today.replace(day=1), today - timedelta(days=LOOKBACK_DAYS))
    days: dict[int, dict[str, dict[date, Decimal]]] = {b.id: {"usd": {}, "tokens": {}} for b in found}
    for row in conn.execute(load("budget_days"), {"org_id": org.id, "day_from": day_from, "day_to": today}):
        if row.budget_id in days:
            days[row.budget_id]["usd"][row.day] = row.cost
            days[row.budget_id]["tokens"][row.day] = Decimal(int(row.tokens))
    statuses = []
    for budget in found:
        start, end = period_bounds(budget.period, today)
        limits = []
        for unit, limit in (("usd", budget.limit_usd), ("tokens", budget.limit_tokens)):
            if limit is None:
                continue
            history = days[budget.id][unit]
            projected = project(history, today, start, end, method)
            used = sum((v for d, v in history.items() if start <= d <= today), Decimal(0))
            limits.append(
                LimitStatus(
                    unit=unit,
                    limit=Decimal(limit),
                    used=used,
                    forecast=sum((v for _, v in projected), Decimal(0)),
                    exhaustion_date=exhaustion(projected, Decimal(limit)),
                )
            )
        statuses.append(BudgetStatus(budget, start, end, today, tuple(limits)))
    return statuses
