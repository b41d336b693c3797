"""Budgets in their current period on both databases: use against plain Python over the raw
events (period edges in a zone with summer time), forecast and state, and GET /api/v1/budgets."""

from __future__ import annotations

import calendar
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import jsonschema_rs
import pytest

from billing_dash.alerts.budgets import evaluate, set_budget
from billing_dash.auth import create_org, create_token
from billing_dash.ingest import ingest

from .reference import Scenario, budget_use, r2, r6

BERLIN = ZoneInfo("Europe/Berlin")
SCENARIO_NOW = datetime(2026, 11, 3, 12, tzinfo=UTC)
# Instants around Berlin's period edges: the last and first second of the week around the end of
# summer time (Sunday 2026-10-25 has 25 hours), the summer week before, the month's turn, and
# within the long day itself.
INSTANTS = [
    datetime(2026, 10, 25, 22, 59, 59, tzinfo=UTC),  # Sunday 23:59:59 CET
    datetime(2026, 10, 25, 23, 0, tzinfo=UTC),  # Monday 00:00 CET: a new week and day
    datetime(2026, 10, 18, 21, 59, 59, tzinfo=UTC),  # Sunday 23:59:59 CEST
    datetime(2026, 10, 31, 22, 59, 59, tzinfo=UTC),  # Saturday 31 October 23:59:59 CET
    datetime(2026, 10, 31, 23, 0, tzinfo=UTC),  # 1 November 00:00 CET: a new month
    datetime(2026, 10, 25, 1, 30, tzinfo=UTC),  # 02:30 CET after the clocks went back
]


def expected_bounds(period: str, today: date) -> tuple[date, date]:
    if period == "day":
        return today, today
    if period == "week":
        monday = date.fromordinal(today.toordinal() - calendar.weekday(today.year, today.month, today.day))
        return monday, date.fromordinal(monday.toordinal() + 6)
    return today.replace(day=1), today.replace(day=calendar.monthrange(today.year, today.month)[1])


@pytest.fixture
def scenario(engine, org):
    # Chats over the 24 days before SCENARIO_NOW in many UTC offsets, in a Berlin organization.
    scenario = Scenario(seed=11, n=2500, now=SCENARIO_NOW, days=24, chat_hours=3)
    with engine.begin() as conn:
        scenario.store_prices(conn)
        ingest(conn, org.id, enumerate(scenario.events))
    return scenario


def test_use_in_the_current_period_matches_the_raw_events(engine, org, scenario):
    model = next(iter(scenario.prices))
    budgets = [
        ("organization", "", "month", Decimal("3000.5"), None),
        ("organization", "", "day", None, 2_000_000),
        ("agent", "agent-1", "week", Decimal("400"), 5_000_000),
        ("model", model, "day", Decimal("0.75"), None),
        ("model", model, "week", None, 10**12),
    ]
    with engine.begin() as conn:
        for scope, scope_id, period, usd, tokens in budgets:
            set_budget(conn, org.id, scope, scope_id, period, usd, tokens, (50, 80, 100))
    for now in INSTANTS:
        with engine.connect() as conn:
            statuses = {(s.budget.scope, s.budget.scope_id, s.budget.period): s for s in evaluate(conn, org, now)}
        today = now.astimezone(BERLIN).date()
        for scope, scope_id, period, usd, tokens in budgets:
            status = statuses[(scope, scope_id, period)]
            start, end = expected_bounds(period, today)
            assert (status.start, status.end, status.days_left) == (start, end, (end - today).days + 1), (now, period)
            cost, used_tokens = budget_use(
                scenario.events, scenario.cost, start, today, "Europe/Berlin", scope, scope_id
            )
            limits = {limit.unit: limit for limit in status.limits}
            assert set(limits) == {u for u, v in (("usd", usd), ("tokens", tokens)) if v is not None}
            percents = []
            if usd is not None:
                assert limits["usd"].used == cost, (now, scope, period)
                percents.append(cost * 100 / usd)
            if tokens is not None:
                assert limits["tokens"].used == used_tokens, (now, scope, period)
                percents.append(Decimal(used_tokens) * 100 / tokens)
            assert r2(status.percent) == r2(max(percents))
            assert status.crossed == tuple(t for t in (50, 80, 100) if max(percents) >= t)
            assert (status.state == "exceeded") == (max(percents) >= 100)
            for limit in status.limits:
                assert limit.forecast >= limit.used  # the rest of the period adds, never takes away


def _constant_events(today: date, days: int, cost: str = "1.5", tokens: tuple[int, int] = (700, 300)) -> list[dict]:
    """One event at noon (Berlin) on each of the `days` days up to `today`, all alike."""
    events = []
    for i in range(days):
        day = today - timedelta(days=i)
        noon = datetime(day.year, day.month, day.day, 12, tzinfo=BERLIN).astimezone(UTC)
        events.append(
            {
                "event_id": f"flat-{i}",
                "timestamp": noon.isoformat().replace("+00:00", "Z"),
                "agent_id": "steady",
                "conversation_id": f"c-{i}",
                "model": "gpt-4o-mini",
                "prompt_tokens": tokens[0],
                "completion_tokens": tokens[1],
                "cost": cost,
            }
        )
    return events


@pytest.mark.parametrize(
    "day, limit, crossed, state, exhausted",
    [
        # $1.50 a day: $1.50 x day used by the evening of that day of November, $45 by the 30th.
        (17, Decimal(100), (), "ok", None),
        (17, Decimal(60), (), "ok", None),  # 42.5%
        (17, Decimal(50), (50,), "warning", None),  # 51%: a threshold below 100 crossed
        (17, Decimal(40), (50,), "warning", date(2026, 11, 27)),  # 27 x 1.5 = 40.5
        (17, Decimal(30), (50, 80), "warning", date(2026, 11, 20)),  # 20 x 1.5 = 30
        (17, Decimal(25), (50, 80, 100), "exceeded", date(2026, 11, 17)),  # 17 x 1.5 = 25.5
        (10, Decimal(40), (), "warning", date(2026, 11, 27)),  # 37.5% used, but $45 forecast
        (30, Decimal(45), (50, 80, 100), "exceeded", date(2026, 11, 30)),  # the last day
    ],
)
def test_steady_use_projects_to_the_period_end(engine, org, day, limit, crossed, state, exhausted):
    today = date(2026, 11, day)
    now = datetime(2026, 11, day, 20, tzinfo=UTC)  # 21:00 in Berlin
    with engine.begin() as conn:
        ingest(conn, org.id, enumerate(_constant_events(today, 45)))
        set_budget(conn, org.id, "organization", "", "month", limit, None, (50, 80, 100))
    with engine.connect() as conn:
        (status,) = evaluate(conn, org, now)
    (usd,) = status.limits
    assert (usd.used, usd.forecast) == (Decimal("1.5") * day, Decimal(45))
    assert (status.crossed, status.state, usd.exhaustion_date, status.exhaustion_date) == (
        crossed,
        state,
        exhausted,
        exhausted,
    )


def test_token_limits_and_the_earlier_exhaustion_of_two(engine, org):
    now = datetime(2026, 11, 12, 9, tzinfo=UTC)  # Thursday 10:00 in Berlin, before noon's event
    with engine.begin() as conn:
        ingest(conn, org.id, enumerate(_constant_events(date(2026, 11, 11), 45)))
        set_budget(conn, org.id, "agent", "steady", "week", Decimal("9"), 7000, (50, 80, 100))
    with engine.connect() as conn:
        (status,) = evaluate(conn, org, now)
    usd, tokens = status.limits
    # Monday 9 .. Sunday 15 November; 3 days used, today's not yet, the 4 days left at the rate.
    assert (status.start, status.end, status.days_left) == (date(2026, 11, 9), date(2026, 11, 15), 4)
    assert (tokens.used, tokens.forecast, tokens.exhaustion_date) == (3000, 7000, date(2026, 11, 15))
    assert (usd.used, usd.forecast, usd.exhaustion_date) == (Decimal("4.5"), Decimal("10.5"), date(2026, 11, 14))
    assert status.exhaustion_date == date(2026, 11, 14)
    assert status.crossed == (50,) and status.state == "warning"  # tokens 42.9%, dollars 50%


def test_api_lists_this_organizations_budgets_with_forecast(client, engine, org, auth_headers):
    today = datetime.now(UTC).astimezone(BERLIN).date()
    with engine.begin() as conn:
        ingest(conn, org.id, enumerate(_constant_events(today, 45)))
        set_budget(conn, org.id, "agent", "steady", "month", Decimal("1000"), None, (10, 90))
        other = create_org(conn, f"org-{uuid.uuid4().hex[:12]}", "UTC")
        set_budget(conn, other.id, "organization", "", "day", Decimal("1"), None, (50,))
    response = client.get("/api/v1/budgets", headers=auth_headers)
    assert response.status_code == 200
    body = response.get_json()
    days = calendar.monthrange(today.year, today.month)[1]
    used = Decimal("1.5") * today.day
    (budget,) = body["budgets"]
    assert budget == {
        "id": budget["id"],
        "scope": "agent",
        "scopeId": "steady",
        "period": "month",
        "startDate": today.replace(day=1).isoformat(),
        "endDate": today.replace(day=days).isoformat(),
        "timezone": "Europe/Berlin",
        "daysLeft": days - today.day + 1,
        "thresholds": [10, 90],
        "thresholdsCrossed": [10] if used >= 100 else [],
        "usd": {
            "limit": 1000,
            "used": r6(used),
            "percent": r2(used / 10),
            "forecast": r6(Decimal("1.5") * days),
            "exhaustionDate": None,
        },
        "tokens": None,
        "percent": r2(used / 10),
        "exhaustionDate": None,
        "state": "warning" if used >= 100 else "ok",
    }
    schemas = client.get("/api/v1/openapi.json").get_json()
    validator = jsonschema_rs.validator_for(
        {**schemas["components"]["schemas"]["BudgetList"], "components": schemas["components"]}
    )
    validator.validate(body)


def test_budgets_need_a_read_token(client, engine, org):
    assert client.get("/api/v1/budgets").status_code == 401
    with engine.begin() as conn:
        ingest_only = create_token(conn, org, "writer", ("ingest",))
    response = client.get("/api/v1/budgets", headers={"Authorization": f"Bearer {ingest_only}"})
    assert response.status_code == 403 and response.get_json()["error"]["code"] == "forbidden"


@pytest.mark.parametrize("tz", [None, "America/New_York", "Asia/Kolkata"])
def test_month_report_carries_the_month_end_forecast(client, engine, org, auth_headers, tz):
    today = datetime.now(UTC).astimezone(BERLIN).date()
    with engine.begin() as conn:
        ingest(conn, org.id, enumerate(_constant_events(today, 45)))
    query = {"period": "month", **({"tz": tz} if tz else {})}
    report = client.get("/api/v1/analytics/billing", headers=auth_headers, query_string=query).get_json()
    shown = datetime.now(UTC).astimezone(ZoneInfo(tz or "Europe/Berlin")).date()
    days = calendar.monthrange(shown.year, shown.month)[1]
    # Noon in Berlin is the same date in these zones, so every day of the month costs $1.50.
    assert report["forecast"] == {
        "monthEndCost": r6(Decimal("1.5") * days),
        "monthEndTokens": 1000 * days,
        "method": "weekday",
        "endDate": shown.replace(day=days).isoformat(),
    }
    for period in ("today", "week", "year"):
        other = client.get("/api/v1/analytics/billing", headers=auth_headers, query_string={"period": period})
        assert "forecast" not in other.get_json()
