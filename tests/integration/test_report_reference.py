"""The engine must match an independent plain-Python reference on random data, on both databases."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from billing_dash.ingest import ingest
from billing_dash.models import ALL_AGENTS
from billing_dash.queries import load
from billing_dash.services.billing import MAX_TOP
from billing_dash.services.export import SECTION_KEYS

from ..factories import get, project, report_response
from .reference import Scenario, named_period_dates, previous_dates

NOW = datetime.now(UTC)
# Fixed seeds, named in each test's id, so a failure can be replayed (with NOW from its message).
SCENARIOS = {"spread": 1, "chats": 2}


@pytest.fixture(params=SCENARIOS.items(), ids=[f"{name}-seed{seed}" for name, seed in SCENARIOS.items()])
def scenario(request, engine, org):
    """Conversations spread over the whole year (they cross every period edge), or short chats
    of a few hours (most lie wholly inside a period)."""
    name, seed = request.param
    chat_hours = 6 if name == "chats" else None
    sc = Scenario(seed=seed, n=1500, now=NOW, chat_hours=chat_hours)
    with engine.begin() as conn:
        sc.store_prices(conn)
        # Small batches: later batches move conversations' first messages earlier, as backfills do.
        result = ingest(conn, org.id, enumerate(sc.events), batch_size=200)
    assert result.inserted == len(sc.events)
    return sc


@pytest.mark.parametrize("tz", ["Europe/Berlin", "Asia/Kolkata", "America/Los_Angeles", "Pacific/Chatham", "UTC"])
def test_custom_ranges_match_reference(client, auth_headers, scenario, tz):
    today = NOW.astimezone(ZoneInfo(tz)).date()
    ranges = [
        (today - timedelta(days=364), today),  # a year, DST changes included
        (scenario.change.date() - timedelta(days=3), scenario.change.date() + timedelta(days=3)),  # price change
        (today - timedelta(days=40), today - timedelta(days=40)),  # one day
        (today + timedelta(days=1), today + timedelta(days=9)),  # the future: all zeros
    ]
    for start, end in ranges:
        api = get(
            client, auth_headers, period="custom", startDate=start.isoformat(), endDate=end.isoformat(), tz=tz, limit=25
        )
        expected = scenario.report(start, end, tz, limit=25)
        assert project(api, expected) == expected, (tz, start, end, f"seed {scenario.seed}, now {NOW.isoformat()}")


@pytest.mark.parametrize(
    "period", ["today", "week", "month", "year", "last_7_days", "last_30_days", "last_month", "last_quarter"]
)
def test_named_periods_match_reference_in_org_zone(client, auth_headers, scenario, org, period):
    api = get(client, auth_headers, period=period)
    start, end = named_period_dates(period, datetime.now(UTC).astimezone(ZoneInfo(org.timezone)).date())
    before = previous_dates(period, start, end)
    assert api["period"] == {
        "name": period,
        "startDate": start.isoformat(),
        "endDate": end.isoformat(),
        "timezone": org.timezone,
        "days": (end - start).days + 1,
        "previousStartDate": before[0].isoformat(),
        "previousEndDate": before[1].isoformat(),
    }
    expected = scenario.report(start, end, org.timezone)
    assert project(api, expected) == expected, (period, f"seed {scenario.seed}, now {NOW.isoformat()}")


def test_days_agents_and_models_sum_to_summary(client, auth_headers, scenario):
    api = get(client, auth_headers, period="year", limit=MAX_TOP)
    s = api["summary"]
    assert s["totalMessages"] > 0
    for section in ("usageByDay", "usageByAgent", "usageByModel"):
        rows = api[section]
        assert sum(r["totalTokens"] for r in rows) == s["totalTokens"]
        assert sum(r["messageCount"] for r in rows) == s["totalMessages"]
        # Each row is rounded to 6 decimals, so their sum may differ from the rounded total by half a
        # micro-dollar per row at most.
        assert abs(sum(r["cost"] for r in rows) - s["totalCost"]) <= 0.0000005 * len(rows) + 1e-9
    assert s["unpricedMessages"] == sum(m["unpricedMessageCount"] for m in api["usageByModel"]) > 0
    assert [d["date"] for d in api["usageByDay"]] == sorted(d["date"] for d in api["usageByDay"])
    costs = [a["cost"] for a in api["usageByAgent"]]
    assert costs == sorted(costs, reverse=True)


def test_csv_sections_carry_the_json_numbers(client, auth_headers, scenario):
    import csv
    import io

    # The JSON's exact text (a float of 0.000071 would print as 7.1e-05, the CSV says 0.000071).
    api = json.loads(report_response(client, auth_headers, period="month").get_data(), parse_float=Decimal)
    for section, key in SECTION_KEYS.items():
        response = client.get(
            "/api/v1/analytics/billing.csv", headers=auth_headers, query_string={"period": "month", "section": section}
        )
        assert response.status_code == 200
        assert response.mimetype == "text/csv"
        assert f"billing-{section}-month-" in response.headers["Content-Disposition"]
        rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
        if section == "conversations":  # the CSV has every conversation, the JSON the top ones
            rows = rows[: len(api[key])]
        assert len(rows) == len(api[key])
        for row, json_row in zip(rows, api[key], strict=True):
            for field, value in row.items():
                if field in json_row:
                    expected = json_row[field]
                    # A float parsed from the JSON prints as 2e-06 where the CSV has 0.000002.
                    same = Decimal(value) == Decimal(str(expected)) if isinstance(expected, float) else None
                    assert same or value == str(expected), (section, field)


def test_sqlite_ranks_a_long_periods_conversations_from_the_costliest(engine, org, scenario):
    """The reference tests above cover both ways SQLite finds the top conversations: walking them
    by cost (a year, most conversations inside) and sorting the period's (a day)."""
    from billing_dash.periods import resolve_period
    from billing_dash.services.billing import _top_query, organization_window

    today = NOW.astimezone(ZoneInfo(org.timezone)).date()
    chosen = {}
    with engine.connect() as conn:
        for days in (364, 0):
            period = resolve_period(
                "custom", org.timezone, (today - timedelta(days=days)).isoformat(), today.isoformat()
            )
            window = organization_window(conn, org, period)
            inside = {a: int(n) for a, n in conn.execute(load("conversations_inside"), window)}
            chosen[days] = _top_query(conn, org, ALL_AGENTS, inside.get(ALL_AGENTS, 0))
    by_cost = "top_conversations_by_cost_sqlite" if engine.dialect.name == "sqlite" else "top_conversations"
    assert chosen == {364: by_cost, 0: "top_conversations"}
