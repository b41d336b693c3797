"""granularity=hour|day|week|month: the report's `series` equals an independent bucketing of the
raw events (local hours, days, weeks from Monday, calendar months), on both databases, in zones
with DST changes and non-whole-hour offsets; usageByDay stays as it is."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from billing_dash.ingest import ingest

from ..factories import DOCUMENT, get, valid
from .reference import Scenario, keep_only

NOW = datetime.now(UTC)
REPORT = "/api/v1/analytics/billing"


@pytest.fixture
def scenario(engine, org):
    """Dense usage over the last 80 days (DST changes of Europe and America included)."""
    sc = Scenario(seed=21, n=4000, now=NOW, days=80, chat_hours=8)
    with engine.begin() as conn:
        sc.store_prices(conn)
        ingest(conn, org.id, enumerate(sc.events), batch_size=500)
    return sc


def _dst_change(tz: str, before: date) -> date:
    """The last day before `before` on which `tz`'s UTC offset changes (the test's week has it)."""
    zone = ZoneInfo(tz)
    day = before
    while True:
        day -= timedelta(days=1)
        a = datetime(day.year, day.month, day.day, tzinfo=zone).utcoffset()
        nxt = day + timedelta(days=1)
        if datetime(nxt.year, nxt.month, nxt.day, tzinfo=zone).utcoffset() != a:
            return day


def _series(client, headers, start: date, end: date, granularity: str, tz: str | None = None, **extra) -> dict:
    params = {
        "period": "custom",
        "startDate": start.isoformat(),
        "endDate": end.isoformat(),
        "granularity": granularity,
    }
    if tz:
        params["tz"] = tz
    query = [*params.items(), *extra.get("query", [])]
    response = client.get(REPORT, query_string=query, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


@pytest.mark.parametrize("granularity", ["day", "week", "month"])
@pytest.mark.parametrize("tz", [None, "Asia/Kolkata", "America/New_York"])
def test_days_weeks_months_match_reference(client, auth_headers, scenario, org, granularity, tz):
    zone = tz or org.timezone
    today = NOW.astimezone(ZoneInfo(zone)).date()
    start = today - timedelta(days=75)  # starts mid-week and mid-month; DST changes inside
    api = _series(client, auth_headers, start, today, granularity, tz)
    assert api["granularity"] == granularity
    assert api["series"] == scenario.series(start, today, zone, granularity)
    # usageByDay stays what it is without granularity.
    plain = get(
        client,
        auth_headers,
        period="custom",
        startDate=start.isoformat(),
        endDate=today.isoformat(),
        **({"tz": tz} if tz else {}),
    )
    assert api["usageByDay"] == plain["usageByDay"]
    assert "series" not in plain and "granularity" not in plain


@pytest.mark.parametrize("tz", [None, "Asia/Kolkata", "Pacific/Chatham", "America/New_York"])
def test_hours_match_reference_across_a_dst_change(client, auth_headers, scenario, org, tz):
    zone = tz or org.timezone
    change = _dst_change(
        "Europe/Berlin" if tz in (None, "Asia/Kolkata") else zone, NOW.astimezone(ZoneInfo(zone)).date()
    )
    start, end = change - timedelta(days=3), change + timedelta(days=3)  # 7 days, the change inside
    api = _series(client, auth_headers, start, end, "hour", tz)
    expected = scenario.series(start, end, zone, "hour")
    assert sum(r["messageCount"] for r in expected) > 0
    assert api["series"] == expected


@pytest.mark.parametrize("granularity", ["hour", "week", "month"])
def test_filtered_series_match_reference(client, auth_headers, scenario, org, granularity):
    today = NOW.astimezone(ZoneInfo(org.timezone)).date()
    start = today - (timedelta(days=6) if granularity == "hour" else timedelta(days=70))
    model = next(iter(scenario.prices))
    for agents, models in [
        (("agent-1", "agent-3"), ()),
        ((), (model,)),
        (("agent-2",), (model, scenario.unpriced_model)),
    ]:
        query = [*(("agentId", a) for a in agents), *(("model", m) for m in models)]
        for tz in (None, "Asia/Kolkata"):
            zone = tz or org.timezone
            api = _series(client, auth_headers, start, today, granularity, tz, query=query)
            assert api["series"] == scenario.series(start, today, zone, granularity, keep_only(agents, models)), (
                agents,
                models,
                tz,
            )
            # What the OpenAPI document says of the report, with a filter and a series, holds.
            assert valid(DOCUMENT["components"]["schemas"]["BillingReport"], api)


@pytest.mark.parametrize("granularity", ["hour", "day", "week", "month"])
@pytest.mark.parametrize("by", ["agent", "model"])
def test_stacked_series_match_reference(client, auth_headers, scenario, org, granularity, by):
    """stackBy splits each bucket per agent or model: equal to the raw events' split, in the
    organization's zone and another, filtered or not, and adding up to the bucket."""
    today = NOW.astimezone(ZoneInfo(org.timezone)).date()
    start = today - (timedelta(days=6) if granularity == "hour" else timedelta(days=70))
    model = next(iter(scenario.prices))
    for agents, models in [((), ()), (("agent-1", "agent-3"), (model, scenario.unpriced_model))]:
        query = [("stackBy", by), *(("agentId", a) for a in agents), *(("model", m) for m in models)]
        for tz in (None, "America/New_York"):
            zone = tz or org.timezone
            keep = keep_only(agents, models)
            api = _series(client, auth_headers, start, today, granularity, tz, query=query)
            assert api["stackBy"] == by
            expected = scenario.stack(start, today, zone, granularity, by, keep)
            assert {r["start"]: r["stack"] for r in api["series"] if r["stack"]} == expected, (agents, tz)
            assert api["series"] == [
                {**r, "stack": expected.get(r["start"], [])}
                for r in scenario.series(start, today, zone, granularity, keep)
            ]
            assert valid(DOCUMENT["components"]["schemas"]["BillingReport"], api)


def test_stack_needs_a_known_value_and_a_granularity(client, auth_headers):
    empty = get(client, auth_headers, period="week", granularity="hour", stackBy="model")
    assert empty["stackBy"] == "model" and [r["stack"] for r in empty["series"]] == [[]] * len(empty["series"])
    for query in ({"stackBy": "conversation", "granularity": "day"}, {"stackBy": "agent"}):
        response = client.get(REPORT, query_string=query, headers=auth_headers)
        assert response.status_code == 400
        assert response.get_json()["error"]["code"] == "invalid_stack"


def test_named_period_series(client, auth_headers, scenario, org):
    api = get(client, auth_headers, period="today", granularity="hour")
    today = NOW.astimezone(ZoneInfo(org.timezone)).date()
    assert api["series"] == scenario.series(today, today, org.timezone, "hour")


@pytest.mark.parametrize(
    "params",
    [
        {"period": "custom", "startDate": "2026-01-01", "endDate": "2026-01-08", "granularity": "hour"},
        {"period": "year", "granularity": "hour"},
        {"period": "month", "granularity": "quarter"},
        {"period": "month", "granularity": ""},
    ],
    ids=["hour-8-days", "hour-year", "unknown", "empty"],
)
def test_bad_granularity_is_400_with_json(client, auth_headers, params):
    response = client.get(REPORT, query_string=params, headers=auth_headers)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_granularity"
