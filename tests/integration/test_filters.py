"""agentId and model filters: every figure of the report, the CSVs and the conversations API equal
an independent computation over the filtered raw events, on both databases."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from billing_dash.alerts.budgets import set_agent_month_tokens
from billing_dash.alerts.forecast import DEFAULT_METHOD, project
from billing_dash.filters import Filters
from billing_dash.ingest import ingest
from billing_dash.limits import MAX_FILTER_VALUES, MAX_ID
from billing_dash.periods import Period
from billing_dash.services.billing import summarize

from ..factories import DOCUMENT, get, valid
from ..factories import project as project_api
from .reference import Scenario, keep_only, month_days, r6, tokens_of

NOW = datetime.now(UTC)
REPORT = "/api/v1/analytics/billing"


@pytest.fixture
def scenario(engine, org):
    """A year of events of five agents and three models, conversations spread over it (most
    cross the period's edges) with now and then another agent answering in one."""
    sc = Scenario(seed=11, n=1500, now=NOW)
    with engine.begin() as conn:
        sc.store_prices(conn)
        ingest(conn, org.id, enumerate(sc.events), batch_size=300)
    return sc


def _filters(sc: Scenario) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """(agents, models) of each case: one agent, two, one model, agent and model, unknown ones."""
    priced = list(sc.prices)
    return [
        (("agent-1",), ()),
        (("agent-0", "agent-3"), ()),
        ((), (priced[0],)),
        (("agent-2",), (priced[0],)),
        ((), (sc.unpriced_model,)),
        ((), (priced[1], sc.unpriced_model)),
        (("agent-2", "agent-4"), (priced[0], sc.unpriced_model)),
        (("no-such-agent",), ()),
        ((), ("no-such-model",)),
    ]


def _query(agents: tuple[str, ...], models: tuple[str, ...], **params) -> list[tuple[str, str]]:
    return [*params.items(), *(("agentId", a) for a in agents), *(("model", m) for m in models)]


def _unpriced(sc: Scenario, start: date, end: date, tz: str, keep) -> list[dict]:
    zone = ZoneInfo(tz)
    found: dict[str, list[int]] = {}
    for e in sc.events:
        local = datetime.fromisoformat(e["timestamp"]).astimezone(zone).date()
        if start <= local <= end and keep(e) and not sc.cost(e)[1]:
            row = found.setdefault(e["model"], [0, 0])
            row[0] += 1
            row[1] += sum(tokens_of(e)[:2])
    return [
        {"model": m, "messages": n, "tokens": t} for m, (n, t) in sorted(found.items(), key=lambda r: (-r[1][0], r[0]))
    ]


@pytest.mark.parametrize(("tz", "days", "ago"), [(None, 364, 0), ("Asia/Kolkata", 364, 0), (None, 9, 40)])
def test_filtered_report_matches_reference(client, auth_headers, scenario, org, tz, days, ago):
    """A year, and ten days that most conversations cross (one agent's are ranked by its own
    stored totals, other filters sum the kept days: both must equal the reference)."""
    zone = tz or org.timezone
    end = NOW.astimezone(ZoneInfo(zone)).date() - timedelta(days=ago)
    start = end - timedelta(days=days)
    for agents, models in _filters(scenario):
        params = {"period": "custom", "startDate": start.isoformat(), "endDate": end.isoformat(), "limit": 25}
        if tz:
            params["tz"] = tz
        response = client.get(REPORT, query_string=_query(agents, models, **params), headers=auth_headers)
        assert response.status_code == 200, response.get_json()
        api = response.get_json()
        keep = keep_only(agents, models)
        expected = scenario.report(start, end, zone, limit=25, keep=keep)
        assert project_api(api, expected) == expected, (agents, models, tz)
        assert api["filters"] == {"agentId": list(agents), "model": list(models), "tags": {}}
        assert api["unpricedModels"] == _unpriced(scenario, start, end, zone, keep), (agents, models)
        # Every agent and model row is one the filter lets through.
        assert all(not agents or a["agentId"] in agents for a in api["usageByAgent"])
        assert all(not models or m["model"] in models for m in api["usageByModel"])


def test_unfiltered_report_says_no_filter(client, auth_headers, scenario):
    api = get(client, auth_headers, period="month")
    assert api["filters"] == {"agentId": [], "model": [], "tags": {}}


def test_repeated_value_counts_once(client, auth_headers, scenario, org):
    today = NOW.astimezone(ZoneInfo(org.timezone)).date()
    params = {"period": "custom", "startDate": (today - timedelta(days=200)).isoformat(), "endDate": today.isoformat()}
    twice = client.get(REPORT, query_string=_query(("agent-1", "agent-1"), (), **params), headers=auth_headers)
    once = client.get(REPORT, query_string=_query(("agent-1",), (), **params), headers=auth_headers)
    assert twice.status_code == 200
    assert twice.get_json() == once.get_json()


def test_filtered_month_forecast_and_budgets(client, auth_headers, engine, scenario, org):
    """The month's projection and the agents' budget use count only the filtered usage."""
    with engine.begin() as conn:
        for agent in ("agent-1", "agent-2"):
            set_agent_month_tokens(conn, org.id, agent, 10**9)
    zone = ZoneInfo(org.timezone)
    today = NOW.astimezone(zone).date()
    model = next(iter(scenario.prices))
    for agents, models in [(("agent-1",), ()), (("agent-1", "agent-2"), (model,)), ((), (model,))]:
        keep = keep_only(agents, models)
        response = client.get(REPORT, query_string=_query(agents, models, period="month"), headers=auth_headers)
        assert response.status_code == 200, response.get_json()
        api = response.get_json()
        # Budgets: the filtered agents' (all of them without an agent filter), with filtered month tokens.
        month = [d for d in month_days(today) if d <= today]
        tokens = {
            agent: sum(
                sum(tokens_of(e)[:2])
                for e in scenario.events
                if e["agent_id"] == agent
                and keep(e)
                and datetime.fromisoformat(e["timestamp"]).astimezone(zone).date() in month
            )
            for agent in ("agent-1", "agent-2")
        }
        shown = [a for a in ("agent-1", "agent-2") if not agents or a in agents]
        assert [(b["agentId"], b["monthTokens"]) for b in api["budgets"]] == [(a, tokens[a]) for a in shown]
        # The forecast: the projection of the filtered days (the reference's), by the service's method.
        first = min(month[0], today - timedelta(days=28))
        days = scenario.report(first, today, org.timezone, keep=keep)["usageByDay"]
        cost: dict[date, Decimal] = {}
        for d in (date.fromisoformat(r["date"]) for r in days):
            cost[d] = sum(
                (
                    scenario.cost(e)[0]
                    for e in scenario.events
                    if keep(e) and datetime.fromisoformat(e["timestamp"]).astimezone(zone).date() == d
                ),
                Decimal(0),
            )
        month_end = month_days(today)[-1]
        projected = sum((v for _, v in project(cost, today, month[0], month_end, DEFAULT_METHOD)), Decimal(0))
        assert api["forecast"]["monthEndCost"] == r6(projected), (agents, models)


def test_previous_period_summary_is_filtered(engine, scenario, org):
    """The change badges' previous period: its summary counts only the filtered events."""
    today = NOW.astimezone(ZoneInfo(org.timezone)).date()
    period = Period("last_30_days", today - timedelta(days=29), today, org.timezone).previous()
    model = list(scenario.prices)[1]
    filters = Filters(("agent-0", "agent-2"), (model,))
    with engine.connect() as conn:
        summary = summarize(conn, org, period, filters=filters)
    expected = scenario.report(period.start, period.end, org.timezone, keep=keep_only(filters.agents, filters.models))
    assert summary.total_tokens == expected["summary"]["totalTokens"]
    assert r6(summary.total_cost) == expected["summary"]["totalCost"]
    assert summary.total_messages == expected["summary"]["totalMessages"]
    assert summary.total_conversations == expected["summary"]["totalConversations"]


@pytest.mark.parametrize("tz", [None, "Asia/Kolkata"])
def test_filtered_conversations_api_and_csv(client, auth_headers, scenario, org, tz):
    zone = tz or org.timezone
    today = NOW.astimezone(ZoneInfo(zone)).date()
    start, end = today - timedelta(days=120), today
    base = {
        "period": "custom",
        "startDate": start.isoformat(),
        "endDate": end.isoformat(),
        **({"tz": tz} if tz else {}),
    }
    model = next(iter(scenario.prices))
    for agents, models, sort in [
        # One agent: its parts' stored totals (conversation_list.sql), but latest first (summed days).
        (("agent-1",), (), "cost"),
        (("agent-1",), (), "tokens"),
        (("agent-2",), (), "last"),
        ((), (model,), "last"),
        (("agent-0", "agent-3"), (model,), "messages"),
    ]:
        keep = keep_only(agents, models)
        expected = scenario.conversations(start, end, zone, sort, keep=keep)
        rows, page, total = [], 1, None
        while True:
            response = client.get(
                "/api/v1/conversations",
                query_string=_query(agents, models, **base, sort=sort, page=page, pageSize=40),
                headers=auth_headers,
            )
            assert response.status_code == 200, response.get_json()
            body = response.get_json()
            assert body["filters"] == {"agentId": list(agents), "model": list(models), "tags": {}}
            assert valid(DOCUMENT["components"]["schemas"]["ConversationPage"], body)
            total = body["total"]
            if not body["conversations"]:
                break
            rows += body["conversations"]
            page += 1
        assert total == len(expected)
        assert [(r["conversationId"], r["totalTokens"], r["cost"], r["messageCount"]) for r in rows] == [
            (r["conversationId"], r["totalTokens"], r6(r["cost"]), r["messageCount"]) for r in expected
        ], (agents, models, sort)
        # The CSV of conversations streams the same ones (costliest first).
        response = client.get(
            "/api/v1/analytics/billing.csv",
            query_string=_query(agents, models, **base, section="conversations"),
            headers=auth_headers,
        )
        assert response.status_code == 200
        listed = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
        by_cost = scenario.conversations(start, end, zone, "cost", keep=keep)
        assert [(r["conversationId"], int(r["messageCount"])) for r in listed] == [
            (r["conversationId"], r["messageCount"]) for r in by_cost
        ]


def test_filtered_csv_sections_carry_the_filtered_json(client, auth_headers, scenario):
    model = list(scenario.prices)[1]
    query = _query(("agent-1", "agent-2"), (model,), period="year")
    api = client.get(REPORT, query_string=query, headers=auth_headers).get_json()
    for section, key, field in [
        ("daily", "usageByDay", "date"),
        ("agents", "usageByAgent", "agentId"),
        ("models", "usageByModel", "model"),
    ]:
        response = client.get(
            "/api/v1/analytics/billing.csv", query_string=[*query, ("section", section)], headers=auth_headers
        )
        assert response.status_code == 200
        rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
        assert [(r[field], int(r["messageCount"])) for r in rows] == [(r[field], r["messageCount"]) for r in api[key]]


@pytest.mark.parametrize(
    "query",
    [
        [("agentId", f"a-{i}") for i in range(MAX_FILTER_VALUES + 1)],
        [("model", f"m-{i}") for i in range(MAX_FILTER_VALUES + 1)],
        [("agentId", "x" * (MAX_ID + 1))],
        [("model", "m" * (MAX_ID + 1))],
        [("agentId", "")],
        [("model", "bad\x00model")],
    ],
    ids=["too-many-agents", "too-many-models", "long-agent", "long-model", "empty-agent", "nul-model"],
)
@pytest.mark.parametrize(
    "path",
    [
        REPORT,
        "/api/v1/analytics/billing.csv?section=agents",
        "/api/v1/analytics/billing.csv?section=conversations",
        "/api/v1/conversations",
    ],
)
def test_bad_filters_are_400_with_json(client, auth_headers, query, path):
    base, _, section = path.partition("?")
    extra = [tuple(section.split("="))] if section else []
    response = client.get(base, query_string=[*extra, ("period", "month"), *query], headers=auth_headers)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_filter"
