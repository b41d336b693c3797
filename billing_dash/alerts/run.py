"""Alert evaluation: which alerts exist now (threshold, projected, reset, anomaly, runaway), created once each with their outbox rows."""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import simplejson
from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from ..auth import Organization
from ..config import Settings
from ..models import alert_deliveries, alerts, organizations, webhooks
from ..queries import load
from ..services.export import average, money
from .anomaly import BASELINE_DAYS, detect
from .budgets import Budget, BudgetStatus, LimitStatus, evaluate, period_bounds
from .webhooks import DeliveryRun, deliver_due

KINDS = ("threshold", "projected", "reset", "anomaly", "runaway")
# GET /api/v1/alerts: how many alerts by default and at most; the dashboard shows the last 10.
DEFAULT_ALERTS = 20
MAX_ALERTS = 100
RUNAWAY_WINDOW = timedelta(hours=1)
_PERIODLY = {"month": "monthly", "week": "weekly", "day": "daily"}
MAX_MESSAGE = 2000

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NewAlert:
    key: str
    kind: str
    message: str
    payload: dict[str, Any]
    budget_id: int | None = None
    period_start: date | None = None


@dataclass
class RunResult:
    created: list[str] = field(default_factory=list)
    delivery: DeliveryRun = field(default_factory=DeliveryRun)


def _number(unit: str, value: Decimal) -> Any:
    return money(value) if unit == "usd" else int(value.to_integral_value())


def _amount(unit: str, value: Decimal) -> str:
    return f"${money(value):,}" if unit == "usd" else f"{int(value):,} tokens"


def _scope_name(status: BudgetStatus) -> str:
    b = status.budget
    return "organization" if b.scope == "organization" else f"{b.scope} {b.scope_id}"


def _payload(key: str, kind: str, org: Organization, now: datetime, message: str, **fields: Any) -> dict[str, Any]:
    """Every alert's JSON has the same keys (null where they do not apply); see README, "Alerts"."""
    body: dict[str, Any] = {
        "id": key,
        "idempotencyKey": key,
        "kind": kind,
        "organization": {"id": org.id, "name": org.name},
        "budget": None,
        "threshold": None,
        "unit": None,
        "used": None,
        "limit": None,
        "percent": None,
        "periodStart": None,
        "periodEnd": None,
        "forecast": None,
        "details": None,
        "message": message,
        "createdAt": now.astimezone(UTC).isoformat().replace("+00:00", "Z"),
    }
    body.update(fields)
    return body


def _budget_fields(status: BudgetStatus, limit: LimitStatus) -> dict[str, Any]:
    b = status.budget
    return {
        "budget": {
            "id": b.id,
            "scope": b.scope,
            "scopeId": b.scope_id if b.scope != "organization" else None,
            "period": b.period,
        },
        "unit": limit.unit,
        "used": _number(limit.unit, limit.used),
        "limit": _number(limit.unit, limit.limit),
        "percent": average(limit.percent),
        "periodStart": status.start.isoformat(),
        "periodEnd": status.end.isoformat(),
        "forecast": _number(limit.unit, limit.forecast),
    }


def _budget_key(kind: str, budget: Budget, start: date, *rest: object) -> str:
    """The idempotency key of a budget's alert of a period (README, "Alerts")."""
    return ":".join([kind, budget.alert_key, start.isoformat(), *map(str, rest)])


def _budget_alert(
    kind: str,
    status: BudgetStatus,
    org: Organization,
    now: datetime,
    message: str,
    fields: dict[str, Any],
    *rest: object,
) -> NewAlert:
    """An alert of a budget's current period, keyed by kind, budget, period and `rest`."""
    key = _budget_key(kind, status.budget, status.start, *rest)
    return NewAlert(
        key, kind, message, _payload(key, kind, org, now, message, **fields), status.budget.id, status.start
    )


def threshold_alerts(org: Organization, statuses: list[BudgetStatus], now: datetime) -> list[NewAlert]:
    """One alert per threshold the current period's use has reached, keyed by budget, period and threshold."""
    found = []
    for status in statuses:
        limit = max(status.limits, key=lambda limit: limit.percent)
        for threshold in status.crossed:
            message = (
                f"{org.name}: the {_PERIODLY[status.budget.period]} budget of the {_scope_name(status)} passed {threshold}%:"
                f" {_amount(limit.unit, limit.used)} of {_amount(limit.unit, limit.limit)}"
                f" ({average(limit.percent)}%) in {status.start}..{status.end}"
            )
            fields = _budget_fields(status, limit) | {"threshold": threshold}
            found.append(_budget_alert("threshold", status, org, now, message, fields, threshold))
    return found


def projected_alerts(org: Organization, statuses: list[BudgetStatus], now: datetime) -> list[NewAlert]:
    """Once per period: a limit not reached yet whose forecast for the period's end passes it."""
    found = []
    for status in statuses:
        over = [limit for limit in status.limits if limit.forecast > limit.limit and limit.used < limit.limit]
        if not over:
            continue
        limit = max(over, key=lambda limit: limit.forecast / limit.limit)
        message = (
            f"{org.name}: the {_PERIODLY[status.budget.period]} budget of the {_scope_name(status)} is projected to reach"
            f" {_amount(limit.unit, limit.forecast)} of {_amount(limit.unit, limit.limit)} by {status.end}"
            + (f" (runs out {limit.exhaustion_date})" if limit.exhaustion_date else "")
        )
        fields = _budget_fields(status, limit) | {
            "details": {"exhaustionDate": None if limit.exhaustion_date is None else limit.exhaustion_date.isoformat()}
        }
        found.append(_budget_alert("projected", status, org, now, message, fields))
    return found


def reset_alerts(conn: Connection, org: Organization, statuses: list[BudgetStatus], now: datetime) -> list[NewAlert]:
    """Once per new period of a budget whose previous period was exceeded (had a threshold alert
    of 100% or more): a note that the limit starts afresh."""
    found = []
    for status in statuses:
        previous, _ = period_bounds(status.budget.period, status.start - timedelta(days=1))
        keys = [_budget_key("threshold", status.budget, previous, t) for t in status.budget.thresholds if t >= 100]
        if not keys or conn.execute(select(alerts.c.id).where(alerts.c.idempotency_key.in_(keys))).first() is None:
            continue
        limit = max(status.limits, key=lambda limit: limit.percent)
        message = (
            f"{org.name}: a new {status.budget.period} started for the budget of the {_scope_name(status)}, exceeded"
            f" in the period from {previous}; {_amount(limit.unit, limit.used)} of {_amount(limit.unit, limit.limit)} used so far"
        )
        fields = _budget_fields(status, limit) | {"details": {"previousPeriodStart": previous.isoformat()}}
        found.append(_budget_alert("reset", status, org, now, message, fields))
    return found


def anomaly_alerts(conn: Connection, org: Organization, settings: Settings, now: datetime) -> list[NewAlert]:
    """Today's and yesterday's cost of each agent and each model against its previous 28 days."""
    today = now.astimezone(ZoneInfo(org.timezone)).date()
    days = (today - timedelta(days=1), today)
    history: dict[tuple[str, str], dict[date, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    params = {"org_id": org.id, "day_from": days[0] - timedelta(days=BASELINE_DAYS), "day_to": today}
    for row in conn.execute(load("anomaly_days"), params):
        history[("agent", row.agent_id)][row.day] += row.cost
        history[("model", row.model)][row.day] += row.cost
    found = []
    for (scope, subject), costs in sorted(history.items()):
        for day in days:
            anomaly = detect(costs, day, settings.alert_anomaly_mads, settings.alert_anomaly_min_usd)
            if anomaly is None:
                continue
            key = f"anomaly:{org.id}:{scope}:{subject}:{day.isoformat()}"
            message = (
                f"{org.name}: {scope} {subject} cost ${money(anomaly.cost):,} on {day},"
                f" usually ${money(anomaly.median):,} a day (median of the previous {BASELINE_DAYS} days)"
            )
            details = {
                "scope": scope,
                "subject": subject,
                "day": day.isoformat(),
                "cost": money(anomaly.cost),
                "median": money(anomaly.median),
                "mad": money(anomaly.mad),
                "alertAbove": money(anomaly.threshold),
            }
            payload = _payload(key, "anomaly", org, now, message, unit="usd", used=money(anomaly.cost), details=details)
            found.append(NewAlert(key, "anomaly", message, payload, None, day))
    return found


def runaway_alerts(conn: Connection, org: Organization, settings: Settings, now: datetime) -> list[NewAlert]:
    """Conversations that used more tokens in the last hour than ALERT_RUNAWAY_TOKENS: once per conversation and day."""
    if not settings.alert_runaway_tokens:
        return []
    today = now.astimezone(ZoneInfo(org.timezone)).date()
    params = {"org_id": org.id, "start": now - RUNAWAY_WINDOW, "limit": settings.alert_runaway_tokens}
    found = []
    for row in conn.execute(load("runaway_conversations"), params):
        tokens = int(row.tokens)
        key = f"runaway:{org.id}:{row.conversation_id}:{today.isoformat()}"
        message = (
            f"{org.name}: conversation {row.conversation_id} (agent {row.agent_id}) used {tokens:,} tokens in the"
            f" last hour, above the limit of {settings.alert_runaway_tokens:,}"
        )
        details = {"conversationId": row.conversation_id, "agentId": row.agent_id, "windowMinutes": 60}
        payload = _payload(
            key,
            "runaway",
            org,
            now,
            message,
            unit="tokens",
            used=tokens,
            limit=settings.alert_runaway_tokens,
            details=details,
        )
        found.append(NewAlert(key, "runaway", message, payload, None, today))
    return found


def create(conn: Connection, org_id: int, alert: NewAlert, now: datetime) -> bool:
    """Insert the alert unless its idempotency key exists (INSERT ... ON CONFLICT DO NOTHING, so
    concurrent evaluations insert it once), and then its outbox rows, one per webhook."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = (
        dialect.insert(alerts)
        .values(
            organization_id=org_id,
            idempotency_key=alert.key,
            kind=alert.kind,
            budget_id=alert.budget_id,
            period_start=alert.period_start,
            message=alert.message[:MAX_MESSAGE],
            payload=simplejson.dumps(alert.payload, use_decimal=True),
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .returning(alerts.c.id)
    )
    alert_id = conn.execute(stmt).scalar()
    if alert_id is None:
        return False
    hooks = conn.execute(select(webhooks.c.id).where(webhooks.c.organization_id == org_id)).scalars().all()
    if hooks:
        conn.execute(
            insert(alert_deliveries),
            [
                {"alert_id": alert_id, "webhook_id": h, "status": "pending", "attempts": 0, "next_attempt_at": now}
                for h in hooks
            ],
        )
    return True


def _create_all(conn: Connection, org_id: int, found: list[NewAlert], now: datetime) -> list[str]:
    return [a.key for a in found if create(conn, org_id, a, now)]


def evaluate_thresholds(engine: Engine, org: Organization, now: datetime | None = None) -> list[str]:
    """After an ingest has committed: the threshold alerts of the organization's budgets (from the
    aggregates). Returns the keys of the alerts it created."""
    now = now or datetime.now(UTC)
    with engine.begin() as conn:
        return _create_all(conn, org.id, threshold_alerts(org, evaluate(conn, org, now), now), now)


def evaluate_all(engine: Engine, org: Organization, settings: Settings, now: datetime | None = None) -> list[str]:
    """Every kind of alert of one organization as of `now`."""
    now = now or datetime.now(UTC)
    with engine.begin() as conn:
        statuses = evaluate(conn, org, now)
        found = [
            *threshold_alerts(org, statuses, now),
            *projected_alerts(org, statuses, now),
            *reset_alerts(conn, org, statuses, now),
            *anomaly_alerts(conn, org, settings, now),
            *runaway_alerts(conn, org, settings, now),
        ]
        return _create_all(conn, org.id, found, now)


def run_alerts(
    engine: Engine, settings: Settings, org: Organization | None = None, now: datetime | None = None
) -> RunResult:
    """`billing-dash alerts run`: evaluate every kind for one or all organizations, then send
    what is due in the outbox. Idempotent: a second run creates and sends nothing new."""
    now = now or datetime.now(UTC)
    result = RunResult()
    if org is not None:
        orgs = [org]
    else:
        with engine.connect() as conn:
            orgs = [Organization(r.id, r.name, r.timezone) for r in conn.execute(select(organizations))]
    for one in orgs:
        result.created += evaluate_all(engine, one, settings, now)
    result.delivery = deliver_due(
        engine,
        settings.webhook_timeout_seconds,
        settings.webhook_max_attempts,
        now,
        None if org is None else org.id,
    )
    return result


def after_ingest(engine: Engine, settings: Settings, org: Organization, background: bool) -> list[str]:
    """The ingest's hook, after its commit: create the threshold alerts it caused, and send them,
    in a background thread when `background` (the web ingest answers without waiting for
    receivers) or here (the CLI). Never raises: the events are stored, and a failure here is
    repaired by the next `alerts run`, which evaluates the same thresholds."""
    try:
        created = evaluate_thresholds(engine, org)
    except Exception:
        log.exception("threshold alerts after the ingest of organization %s failed; `alerts run` retries", org.id)
        return []
    if created:
        if background:
            threading.Thread(
                target=_deliver_quietly, args=(engine, settings, org.id), name="alert-delivery", daemon=True
            ).start()
        else:
            _deliver_quietly(engine, settings, org.id)
    return created


def _deliver_quietly(engine: Engine, settings: Settings, org_id: int) -> None:
    try:
        deliver_due(engine, settings.webhook_timeout_seconds, settings.webhook_max_attempts, org_id=org_id)
    except Exception:
        log.exception("alert delivery failed; `alerts run` retries")


@dataclass(frozen=True)
class AlertRow:
    key: str
    kind: str
    message: str
    created_at: datetime
    payload: str


def alert_json(row: AlertRow) -> dict[str, Any]:
    """The alert as its webhooks received it (money stays Decimal, so exact, to the response)."""
    payload: dict[str, Any] = simplejson.loads(row.payload, use_decimal=True)
    return payload


def recent_alerts(conn: Connection, org_id: int, limit: int = 10) -> list[AlertRow]:
    """The organization's newest alerts, newest first."""
    rows = conn.execute(
        select(alerts.c.idempotency_key, alerts.c.kind, alerts.c.message, alerts.c.created_at, alerts.c.payload)
        .where(alerts.c.organization_id == org_id)
        .order_by(alerts.c.created_at.desc(), alerts.c.id.desc())
        .limit(limit)
    )
    return [AlertRow(*r) for r in rows]
