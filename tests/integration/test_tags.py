"""Event tags: ingest (JSON API, JSONL and CSV), storage, the pre-aggregated keys (`tags set`),
tag_daily maintained by imports, rebuilds and the cardinality limit, on both databases; expected
figures are computed over the raw events."""

from __future__ import annotations

import csv
import io
import json
import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from billing_dash.aggregates import rebuild
from billing_dash.alerts.budgets import set_agent_month_tokens
from billing_dash.filters import Filters
from billing_dash.ingest import IngestError, ingest
from billing_dash.limits import MAX_TAG_KEYS, MAX_TAG_VALUE, MAX_TAGS
from billing_dash.models import tag_conversation_daily, tag_daily, tag_day, tag_month, tag_values, usage_events
from billing_dash.periods import Period
from billing_dash.services.billing import summarize
from billing_dash.services.export import rows_csv
from billing_dash.tags import TagError, list_keys, set_keys

from ..factories import (
    DOCUMENT,
    cli_event,
    count,
    failed_cleanly,
    get,
    nothing_stored,
    ok,
    post,
    run,
    stored_event,
    valid,
    write_jsonl,
)
from ..factories import project as project_api
from .reference import Scenario, month_days, r6, tokens_of

NOW = datetime.now(UTC)
CUSTOMERS = ("acme", "globex", "initech", "umbrella", "Ünïcode ☃", "hooli")


def tag_events(sc: Scenario, seed: int = 3) -> None:
    """Give the scenario's events tags: most a customer, many an env, some a feature no one aggregates."""
    rng = random.Random(seed)
    for e in sc.events:
        tags = {}
        if rng.random() < 0.8:
            tags["customer"] = rng.choice(CUSTOMERS)
        if rng.random() < 0.5:
            tags["env"] = rng.choice(("prod", "staging"))
        if rng.random() < 0.3:
            tags["feature.x-y_z"] = f"f{rng.randint(0, 50)}"
        if tags:
            e["tags"] = tags


@pytest.fixture
def tagged(engine, org):
    sc = Scenario(seed=21, n=900, now=NOW)
    tag_events(sc)
    with engine.begin() as conn:
        sc.store_prices(conn)
        ingest(conn, org.id, enumerate(sc.events), batch_size=200)
    return sc


def reference_tag_daily(sc: Scenario, tz: str, keys: tuple[str, ...]) -> dict:
    """tag_daily computed from the raw events: (key, value, day, agent, model) -> sums."""
    zone = ZoneInfo(tz)
    rows: dict = defaultdict(lambda: [0, 0, Decimal(0), 0, 0, 0, 0, 0, Decimal(0)])
    for e in sc.events:
        for key in keys:
            value = e.get("tags", {}).get(key)
            if value is None:
                continue
            day = datetime.fromisoformat(e["timestamp"]).astimezone(zone).date().isoformat()
            cost, priced, savings = sc.cost(e)
            prompt, completion, read, write, reasoning = tokens_of(e)
            r = rows[(key, value, day, e["agent_id"], e["model"])]
            for i, v in enumerate((prompt, completion, cost, 1, 0 if priced else 1, read, write, reasoning, savings)):
                r[i] += v
    return {k: tuple(v) for k, v in rows.items()}


def reference_tag_conversations(sc: Scenario, tz: str, keys: tuple[str, ...]) -> dict:
    """tag_conversation_daily from the raw events: (key, value, day, conversation, agent, model) -> sums."""
    zone = ZoneInfo(tz)
    rows: dict = defaultdict(lambda: [0, Decimal(0), 0])
    for e in sc.events:
        for key in keys:
            value = e.get("tags", {}).get(key)
            if value is not None:
                day = datetime.fromisoformat(e["timestamp"]).astimezone(zone).date().isoformat()
                r = rows[(key, value, day, e["conversation_id"], e["agent_id"], e["model"])]
                r[0] += sum(tokens_of(e)[:2])
                r[1] += sc.cost(e)[0]
                r[2] += 1
    return {k: tuple(v) for k, v in rows.items()}


def stored_tag_conversations(engine, org_id: int) -> dict:
    t = tag_conversation_daily
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t).where(t.c.organization_id == org_id)).all()
    return {
        (r.tag_key, r.tag_value, str(r.day), r.conversation_id, r.agent_id, r.model): (
            r.total_tokens,
            r.cost,
            r.message_count,
        )
        for r in rows
    }


def stored_tag_daily(engine, org_id: int) -> dict:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(tag_daily).where(tag_daily.c.organization_id == org_id)).all()
    return {
        (r.tag_key, r.tag_value, str(r.day), r.agent_id, r.model): (
            r.prompt_tokens,
            r.completion_tokens,
            r.cost,
            r.message_count,
            r.unpriced_count,
            r.cache_read_tokens,
            r.cache_write_tokens,
            r.reasoning_tokens,
            r.cache_savings,
        )
        for r in rows
    }


def stored_tag_aggregates(engine, org_id: int) -> tuple[dict, dict]:
    """tag_daily, and tag_day and tag_month checked against it: its rows summed over agents and
    models, then over the days of each month."""
    daily = stored_tag_daily(engine, org_id)
    per_day: dict = {}
    for (key, value, day, _agent, _model), sums in daily.items():
        before = per_day.get((key, value, day), (0,) * len(sums))
        per_day[(key, value, day)] = tuple(a + b for a, b in zip(before, sums, strict=True))
    with engine.connect() as conn:
        rows = conn.execute(sa.select(tag_day).where(tag_day.c.organization_id == org_id)).all()
    names = [c.name for c in tag_day.columns][4:]
    assert {(r.tag_key, r.tag_value, str(r.day)): tuple(getattr(r, n) for n in names) for r in rows} == per_day
    per_month: dict = {}
    for (key, value, day), sums in per_day.items():
        before = per_month.get((key, value, day[:8] + "01"), (0,) * len(sums))
        per_month[(key, value, day[:8] + "01")] = tuple(a + b for a, b in zip(before, sums, strict=True))
    with engine.connect() as conn:
        rows = conn.execute(sa.select(tag_month).where(tag_month.c.organization_id == org_id)).all()
    assert {(r.tag_key, r.tag_value, str(r.month)): tuple(getattr(r, n) for n in names) for r in rows} == per_month
    return daily, per_day


# ---------------------------------------------------------------- ingest and storage


def test_api_stores_tags_as_canonical_json(client, auth_headers, engine, org):
    tags = {"z": "last", "customer": 'Ünïcode ☃ "quoted"', "a.b-c_d": "x" * MAX_TAG_VALUE}
    response = post(client, auth_headers, [cli_event(1, tags=tags), cli_event(2), cli_event(3, tags={})])
    assert response.status_code == 200, response.get_json()
    stored = stored_event(engine, org.id, "ev-1").tags
    # Keys sorted, no spaces: one text per set of tags.
    assert stored == json.dumps(tags, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert stored_event(engine, org.id, "ev-2").tags is None
    assert stored_event(engine, org.id, "ev-3").tags is None
    # The same id again, other tags: a no-op, as for every field.
    again = post(client, auth_headers, [cli_event(1, tags={"customer": "other"})])
    assert again.get_json()["skipped"] == 1
    assert json.loads(stored_event(engine, org.id, "ev-1").tags) == tags


BAD_TAGS = [
    ("not an object", "must be a JSON object"),
    (["customer", "acme"], "must be a JSON object"),
    ("[1]", "must be a JSON object"),
    ({f"k{i}": "v" for i in range(MAX_TAGS + 1)}, f"at most {MAX_TAGS} tags"),
    ({"Customer": "acme"}, "must match"),
    ({"": "acme"}, "must match"),
    ({"k" * 41: "acme"}, "must match"),
    ({"customer id": "acme"}, "must match"),
    ({"customer": ""}, "1 to 200 characters"),
    ({"customer": "x" * (MAX_TAG_VALUE + 1)}, "1 to 200 characters"),
    ({"customer": 7}, "1 to 200 characters"),
    ({"customer": None}, "1 to 200 characters"),
    ({"customer": "a\x00b"}, "without NUL"),
]


@pytest.mark.parametrize(("tags", "message"), BAD_TAGS)
def test_api_refuses_bad_tags_naming_the_field(client, auth_headers, engine, org, tags, message):
    response = post(client, auth_headers, [cli_event(1), cli_event(2, tags=tags)])
    assert response.status_code == 400
    body = response.get_json()["error"]
    assert body["code"] == "invalid_events"
    assert body["details"] == [{"index": 1, "field": "tags", "message": body["details"][0]["message"]}]
    assert message in body["details"][0]["message"]
    nothing_stored(engine, org.id)


def test_jsonl_import_takes_tags_and_names_line_and_field(database_url, engine, org, tmp_path):
    path = write_jsonl(tmp_path, [cli_event(1, tags={"customer": "acme"}), cli_event(2, tags={"Bad": "x"})])
    result = run(database_url, "import", "--org", org.name, str(path))
    failed_cleanly(result)
    assert "line 2: tags:" in result.output
    nothing_stored(engine, org.id)
    path = write_jsonl(tmp_path, [cli_event(1, tags={"customer": "acme"}), cli_event(2)])
    ok(run(database_url, "import", "--org", org.name, str(path)))
    assert json.loads(stored_event(engine, org.id, "ev-1").tags) == {"customer": "acme"}


def test_csv_tags_column_holds_a_json_object(database_url, engine, org, tmp_path):
    rows = [
        cli_event(1, tags=json.dumps({"customer": "acme, inc", "env": "prod"})),
        cli_event(2, tags=""),
        cli_event(3),
    ]
    fields = list(dict.fromkeys(k for r in rows for k in r))
    out = io.StringIO()
    writer = csv.DictWriter(out, fields)
    writer.writeheader()
    writer.writerows(rows)
    path = tmp_path / "usage.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    ok(run(database_url, "import", "--org", org.name, str(path)))
    assert json.loads(stored_event(engine, org.id, "ev-1").tags) == {"customer": "acme, inc", "env": "prod"}
    assert stored_event(engine, org.id, "ev-2").tags is None
    assert stored_event(engine, org.id, "ev-3").tags is None
    bad = out.getvalue().replace("ev-3", "ev-4").replace("ev-1", "ev-5").replace('""env""', '""Env""')
    path.write_text(bad, encoding="utf-8")
    result = run(database_url, "import", "--org", org.name, str(path))
    failed_cleanly(result)
    assert "line 2: tags:" in result.output
    path.write_text(out.getvalue().replace("ev-1", "ev-6").replace('{""customer""', '[""customer""'), encoding="utf-8")
    result = run(database_url, "import", "--org", org.name, str(path))
    failed_cleanly(result)
    assert "line 2: tags:" in result.output
    assert count(engine, usage_events, org.id) == 3


# ---------------------------------------------------------------- pre-aggregated keys


def test_tags_set_builds_aggregates_from_stored_events_and_imports_keep_them(database_url, engine, org, tagged):
    assert stored_tag_aggregates(engine, org.id)[0] == {}  # no key set: nothing aggregated
    ok(run(database_url, "tags", "set", "--org", org.name, "env", "customer"))
    listed = run(database_url, "tags", "list", "--org", org.name)
    ok(listed)
    assert listed.output.split() == ["customer", "env"]
    assert stored_tag_aggregates(engine, org.id)[0] == reference_tag_daily(tagged, org.timezone, ("customer", "env"))
    with engine.connect() as conn:
        values = set(conn.execute(sa.select(tag_values.c.tag_key, tag_values.c.tag_value)).all())
    assert {v for v in values if True} >= {("customer", c) for c in CUSTOMERS}
    # Imports add to them (a second scenario's events, some of them sent twice).
    more = Scenario(seed=22, n=400, now=NOW)
    tag_events(more, seed=4)
    with engine.begin() as conn:
        more.store_prices(conn)
        ingest(conn, org.id, enumerate(more.events[:250]), batch_size=100)
        ingest(conn, org.id, enumerate(more.events), batch_size=100)
    both = Scenario(seed=22, n=0, now=NOW)
    both.prices = {**tagged.prices, **more.prices}
    both.events = tagged.events + more.events
    expected = reference_tag_daily(both, org.timezone, ("customer", "env"))
    assert stored_tag_aggregates(engine, org.id)[0] == expected
    conversations = reference_tag_conversations(both, org.timezone, ("customer", "env"))
    assert stored_tag_conversations(engine, org.id) == conversations
    # A rebuild makes the same rows; fewer keys drop the others' rows.
    with engine.begin() as conn:
        rebuild(conn, [org.id])
    assert stored_tag_aggregates(engine, org.id)[0] == expected
    assert stored_tag_conversations(engine, org.id) == conversations
    ok(run(database_url, "tags", "set", "--org", org.name, "customer"))
    assert stored_tag_aggregates(engine, org.id)[0] == reference_tag_daily(both, org.timezone, ("customer",))
    ok(run(database_url, "tags", "set", "--org", org.name))
    assert stored_tag_aggregates(engine, org.id)[0] == {}
    assert stored_tag_conversations(engine, org.id) == {}
    assert count(engine, tag_values, org.id) == 0


@pytest.mark.parametrize(
    ("keys", "message"),
    [(("Customer",), "must match"), (tuple(f"k{i}" for i in range(MAX_TAG_KEYS + 1)), f"at most {MAX_TAG_KEYS}")],
)
def test_tags_set_refuses_bad_keys(database_url, engine, org, keys, message):
    result = run(database_url, "tags", "set", "--org", org.name, *keys)
    failed_cleanly(result)
    assert message in result.output
    with engine.connect() as conn:
        assert list_keys(conn, org.id) == []


def test_values_past_the_limit_are_refused(engine, org, monkeypatch):
    monkeypatch.setattr("billing_dash.aggregates.MAX_TAG_VALUES", 3)
    events = [cli_event(i, tags={"customer": f"c{i % 3}"}) for i in range(6)]
    with engine.begin() as conn:
        ingest(conn, org.id, enumerate(events))
        set_keys(conn, org.id, ["customer"])
    # A fourth value: the whole import is refused, naming the first event that brought it.
    late = [cli_event(10, tags={"customer": "c1"}), cli_event(11, tags={"customer": "c9"}), cli_event(12)]
    with pytest.raises(IngestError) as refused, engine.begin() as conn:
        ingest(conn, org.id, enumerate(late, start=1))
    assert [(e.position, e.field) for e in refused.value.errors] == [(2, "tags")]
    assert "more than 3 distinct values" in refused.value.errors[0].message
    assert count(engine, usage_events, org.id) == 6
    # Stored events past the limit: `tags set` refuses the key.
    with engine.begin() as conn:
        set_keys(conn, org.id, [])
        ingest(conn, org.id, enumerate(late, start=1))
    with pytest.raises(TagError, match="more than 3 distinct values"), engine.begin() as conn:
        set_keys(conn, org.id, ["customer"])
    with engine.connect() as conn:
        assert list_keys(conn, org.id) == []


# ---------------------------------------------------------------- filters and grouping

REPORT = "/api/v1/analytics/billing"
CSV = "/api/v1/analytics/billing.csv"


@pytest.fixture
def aggregated(engine, org, tagged):
    """The tagged scenario with customer and env pre-aggregated (feature.x-y_z is not)."""
    with engine.begin() as conn:
        set_keys(conn, org.id, ["customer", "env"])
    return tagged


def keep_tags(agents=(), models=(), key: str = "", values=()):
    """The events a filter keeps: any of the agents and any of the models (all when empty) and,
    with a key, one of its values."""
    return lambda e: (
        (not agents or e["agent_id"] in agents)
        and (not models or e["model"] in models)
        and (not values or e.get("tags", {}).get(key) in values)
    )


def query(agents=(), models=(), key: str = "", values=(), **params) -> list[tuple[str, str]]:
    return [
        *params.items(),
        *(("agentId", a) for a in agents),
        *(("model", m) for m in models),
        *((f"tag.{key}", v) for v in values),
    ]


def tag_cases(sc: Scenario) -> list[tuple]:
    """(agents, models, key, values) of each case."""
    priced = list(sc.prices)
    return [
        ((), (), "customer", ("acme",)),
        ((), (), "customer", ("acme", "Ünïcode ☃")),
        (("agent-1", "agent-2"), (), "customer", ("globex", "hooli")),
        ((), (priced[0], sc.unpriced_model), "env", ("prod",)),
        (("agent-0",), (priced[1],), "customer", ("initech",)),
        (("agent-2",), (), "customer", ("globex",)),
        ((), (), "customer", ("no-such-customer",)),
    ]


def reference_groups(sc: Scenario, start, end, tz: str, key: str, keep, top: int) -> list[dict]:
    """usageByTag from the raw events: top values by cost, then other, then untagged."""
    zone = ZoneInfo(tz)
    sums: dict = defaultdict(lambda: [0, 0, Decimal(0), 0, 0])
    for e in sc.events:
        local = datetime.fromisoformat(e["timestamp"]).astimezone(zone).date()
        if not start <= local <= end or not keep(e):
            continue
        cost, priced, _ = sc.cost(e)
        prompt, completion, *_ = tokens_of(e)
        row = sums[e.get("tags", {}).get(key)]
        for i, v in enumerate((prompt, completion, cost, 1, 0 if priced else 1)):
            row[i] += v
    untagged = sums.pop(None, None)
    ranked = sorted(sums.items(), key=lambda kv: (-kv[1][2], -(kv[1][0] + kv[1][1]), kv[0]))

    def row(value, group, count, v):
        return {
            "tagValue": value,
            "group": group,
            "valueCount": count,
            "promptTokens": v[0],
            "completionTokens": v[1],
            "totalTokens": v[0] + v[1],
            "cost": r6(v[2]),
            "messageCount": v[3],
            "unpricedMessageCount": v[4],
        }

    rows = [row(k, "value", 1, v) for k, v in ranked[:top]]
    if len(ranked) > top:
        rest = [sum(v[i] for _, v in ranked[top:]) for i in range(5)]
        rows.append(row(None, "other", len(ranked) - top, rest))
    if untagged:
        rows.append(row(None, "untagged", 0, untagged))
    return rows


@pytest.mark.parametrize(("tz", "days", "ago"), [(None, 364, 0), ("Asia/Kolkata", 364, 0), (None, 9, 40)])
def test_tag_filtered_report_matches_reference(client, auth_headers, aggregated, org, tz, days, ago):
    """A year, and ten days that most conversations cross (one tag value's conversations, of all
    agents or one, are ranked by their stored parts; other filters sum the kept days)."""
    sc = aggregated
    zone = tz or org.timezone
    end = NOW.astimezone(ZoneInfo(zone)).date() - timedelta(days=ago)
    start = end - timedelta(days=days)
    for agents, models, key, values in tag_cases(sc):
        params = {"period": "custom", "startDate": start.isoformat(), "endDate": end.isoformat(), "limit": 25}
        params |= {"tz": tz} if tz else {}
        response = client.get(
            REPORT,
            query_string=query(agents, models, key, values, granularity="week", stackBy="agent", **params),
            headers=auth_headers,
        )
        assert response.status_code == 200, response.get_json()
        api = response.get_json()
        keep = keep_tags(agents, models, key, values)
        expected = sc.report(start, end, zone, limit=25, keep=keep)
        case = (agents, models, key, values, tz)
        assert project_api(api, expected) == expected, case
        assert api["filters"] == {"agentId": list(agents), "model": list(models), "tags": {key: list(values)}}
        assert [{k: v for k, v in r.items() if k != "stack"} for r in api["series"]] == sc.series(
            start, end, zone, "week", keep=keep
        ), case
        # stackBy splits the tag's buckets per agent, as the reference does the kept events'.
        assert {r["start"]: r["stack"] for r in api["series"] if r["stack"]} == sc.stack(
            start, end, zone, "week", "agent", keep
        ), case
        assert api["unpricedModels"] == unpriced_of(sc, start, end, zone, keep), case
        assert valid(DOCUMENT["components"]["schemas"]["BillingReport"], api)


def unpriced_of(sc: Scenario, start, end, tz: str, keep) -> list[dict]:
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


def test_tag_filtered_hours_budgets_and_previous_period(client, auth_headers, engine, aggregated, org):
    sc = aggregated
    zone = ZoneInfo(org.timezone)
    today = NOW.astimezone(zone).date()
    keep = keep_tags((), (), "customer", ("acme", "globex"))
    # Hours of the last 7 days.
    start = today - timedelta(days=6)
    api = client.get(
        REPORT,
        query_string=query((), (), "customer", ("acme", "globex"), period="last_7_days", granularity="hour"),
        headers=auth_headers,
    ).get_json()
    assert api["series"] == sc.series(start, today, org.timezone, "hour", keep=keep)
    # The agents' monthly token budgets count the kept tokens.
    with engine.begin() as conn:
        for agent in ("agent-1", "agent-3"):
            set_agent_month_tokens(conn, org.id, agent, 10**9)
    api = client.get(
        REPORT, query_string=query((), (), "customer", ("acme", "globex"), period="month"), headers=auth_headers
    ).get_json()
    month = [d for d in month_days(today) if d <= today]
    expected = [
        (
            agent,
            sum(
                sum(tokens_of(e)[:2])
                for e in sc.events
                if e["agent_id"] == agent
                and keep(e)
                and datetime.fromisoformat(e["timestamp"]).astimezone(zone).date() in month
            ),
        )
        for agent in ("agent-1", "agent-3")
    ]
    assert [(b["agentId"], b["monthTokens"]) for b in api["budgets"]] == expected
    # The change badges' previous period, filtered alike.
    period = Period("last_30_days", today - timedelta(days=29), today, org.timezone).previous()
    filters = Filters(("agent-0", "agent-2"), (), "customer", ("acme", "globex"))
    with engine.connect() as conn:
        summary = summarize(conn, org, period, filters=filters)
    reference = sc.report(
        period.start, period.end, org.timezone, keep=keep_tags(filters.agents, (), "customer", filters.tag_values)
    )
    assert summary.total_tokens == reference["summary"]["totalTokens"]
    assert r6(summary.total_cost) == reference["summary"]["totalCost"]
    assert summary.total_messages == reference["summary"]["totalMessages"]
    assert summary.total_conversations == reference["summary"]["totalConversations"]


@pytest.mark.parametrize("tz", [None, "Asia/Kolkata"])
def test_tag_filtered_conversations_api_and_csv(client, auth_headers, aggregated, org, tz):
    sc = aggregated
    zone = tz or org.timezone
    today = NOW.astimezone(ZoneInfo(zone)).date()
    start, end = today - timedelta(days=150), today
    base = {
        "period": "custom",
        "startDate": start.isoformat(),
        "endDate": end.isoformat(),
        **({"tz": tz} if tz else {}),
    }
    for agents, key, values, sort in [((), "customer", ("acme",), "cost"), (("agent-2",), "env", ("staging",), "last")]:
        keep = keep_tags(agents, (), key, values)
        expected = sc.conversations(start, end, zone, sort, keep=keep)
        response = client.get(
            "/api/v1/conversations",
            query_string=query(agents, (), key, values, **base, sort=sort, pageSize=500),
            headers=auth_headers,
        )
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        assert body["total"] == len(expected)
        assert [
            (r["conversationId"], r["totalTokens"], r["cost"], r["messageCount"]) for r in body["conversations"]
        ] == [(r["conversationId"], r["totalTokens"], r6(r["cost"]), r["messageCount"]) for r in expected]
        response = client.get(
            "/api/v1/analytics/billing.csv",
            query_string=query(agents, (), key, values, **base, section="conversations"),
            headers=auth_headers,
        )
        assert response.status_code == 200
        listed = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
        by_cost = sc.conversations(start, end, zone, "cost", keep=keep)
        assert [(r["conversationId"], int(r["messageCount"])) for r in listed] == [
            (r["conversationId"], r["messageCount"]) for r in by_cost
        ]
        # The other CSV sections carry the filtered JSON.
        api = client.get(REPORT, query_string=query(agents, (), key, values, **base), headers=auth_headers).get_json()
        for section, json_key, field in [("daily", "usageByDay", "date"), ("agents", "usageByAgent", "agentId")]:
            response = client.get(
                "/api/v1/analytics/billing.csv",
                query_string=query(agents, (), key, values, **base, section=section),
                headers=auth_headers,
            )
            rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
            assert [(r[field], int(r["messageCount"])) for r in rows] == [
                (r[field], r["messageCount"]) for r in api[json_key]
            ]


@pytest.mark.parametrize("tz", [None, "Asia/Kolkata"])
@pytest.mark.parametrize("top", [2, 10])
def test_group_by_tag_matches_reference(client, auth_headers, aggregated, org, tz, top):
    sc = aggregated
    zone = tz or org.timezone
    today = NOW.astimezone(ZoneInfo(zone)).date()
    start, end = today - timedelta(days=200), today
    base = {"period": "custom", "startDate": start.isoformat(), "endDate": end.isoformat(), "groupLimit": top}
    base |= {"tz": tz} if tz else {}
    for agents, models, key, values, group in [
        ((), (), "", (), "customer"),
        ((), (), "", (), "env"),
        (("agent-1", "agent-4"), (next(iter(sc.prices)),), "", (), "customer"),
        ((), (), "customer", ("acme", "hooli", "globex"), "customer"),
    ]:
        response = client.get(
            REPORT,
            query_string=query(agents, models, key, values, groupBy=f"tag:{group}", **base),
            headers=auth_headers,
        )
        assert response.status_code == 200, response.get_json()
        api = response.get_json()
        keep = keep_tags(agents, models, key, values)
        expected = reference_groups(sc, start, end, zone, group, keep, top)
        assert api["groupBy"] == f"tag:{group}"
        assert [{k: r[k] for k in expected[0]} for r in api["usageByTag"]] == expected, (agents, models, values, group)
        assert {r["tagKey"] for r in api["usageByTag"]} == {group}
        # The rows add up to the report's summary.
        assert sum(r["messageCount"] for r in api["usageByTag"]) == api["summary"]["totalMessages"]
        assert valid(DOCUMENT["components"]["schemas"]["BillingReport"], api)
    # Without groupBy the report has neither key.
    api = get(client, auth_headers, period="month")
    assert "usageByTag" not in api and "groupBy" not in api


@pytest.mark.parametrize("tz", [None, "Asia/Kolkata"])
def test_tags_csv_section_matches_reference(client, auth_headers, aggregated, org, tz):
    """section=tags with the JSON's parameters: usageByTag's rows from the raw events, as CSV."""
    sc = aggregated
    zone = tz or org.timezone
    today = NOW.astimezone(ZoneInfo(zone)).date()
    start, end = today - timedelta(days=200), today
    base = {
        "period": "custom",
        "startDate": start.isoformat(),
        "endDate": end.isoformat(),
        **({"tz": tz} if tz else {}),
    }
    for agents, models, key, values, group, top in [
        ((), (), "", (), "customer", 2),
        ((), (), "", (), "env", 10),
        (("agent-1", "agent-4"), (next(iter(sc.prices)),), "", (), "customer", 3),
        ((), (), "customer", ("acme", "Ünïcode ☃", "hooli"), "customer", 1),
    ]:
        params = query(agents, models, key, values, groupBy=f"tag:{group}", groupLimit=top, **base)
        response = client.get(CSV, query_string=[*params, ("section", "tags")], headers=auth_headers)
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.mimetype == "text/csv"
        filename = f"billing-tags-{group}-custom-{start}-to-{end}.csv"
        assert response.headers["Content-Disposition"] == f'attachment; filename="{filename}"'
        reader = csv.DictReader(io.StringIO(response.get_data(as_text=True)))
        rows = list(reader)
        expected = reference_groups(sc, start, end, zone, group, keep_tags(agents, models, key, values), top)
        case = (agents, models, values, group, top)
        assert [
            {
                "tagValue": r["tagValue"] if r["group"] == "value" else None,
                "group": r["group"],
                "valueCount": int(r["valueCount"]),
                "promptTokens": int(r["promptTokens"]),
                "completionTokens": int(r["completionTokens"]),
                "totalTokens": int(r["totalTokens"]),
                "cost": float(Decimal(r["cost"])),
                "messageCount": int(r["messageCount"]),
                "unpricedMessageCount": int(r["unpricedMessageCount"]),
            }
            for r in rows
        ] == expected, case
        assert {r["tagKey"] for r in rows} == {group}
        # The other rows' tagValue is empty (null in the JSON); every column is a key of the JSON rows,
        # whose values the CSV carries exactly (money as the same rounded text).
        assert all(r["tagValue"] == "" for r in rows if r["group"] != "value")
        api = client.get(REPORT, query_string=params, headers=auth_headers).get_json()
        assert set(reader.fieldnames or ()) == set(api["usageByTag"][0])
        assert response.get_data(as_text=True) == rows_csv("tags", api["usageByTag"]), case


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ([], "missing_group_by"),
        ([("groupBy", "tag:feature.x-y_z")], "tag_key_not_aggregated"),
        ([("groupBy", "agent")], "invalid_group_by"),
        ([("groupBy", "tag:customer"), ("tag.env", "prod")], "invalid_group_by"),
        ([("groupBy", "tag:customer"), ("groupLimit", "101")], "invalid_limit"),
    ],
)
def test_tags_csv_section_without_a_usable_group_by_is_a_json_400(client, auth_headers, aggregated, params, code):
    response = client.get(CSV, query_string=[("period", "month"), ("section", "tags"), *params], headers=auth_headers)
    assert response.status_code == 400
    assert response.mimetype == "application/json"
    error = response.get_json()["error"]
    assert error["code"] == code
    if code == "missing_group_by":
        assert "groupBy=tag:<key>" in error["message"]
    # The other sections need no groupBy (and take the JSON's).
    other = client.get(CSV, query_string=[("period", "month"), ("section", "models")], headers=auth_headers)
    assert other.status_code == 200


@pytest.mark.parametrize(
    ("params", "code", "words"),
    [
        ([("tag.feature.x-y_z", "f1")], "tag_key_not_aggregated", "billing-dash tags set"),
        ([("groupBy", "tag:feature.x-y_z")], "tag_key_not_aggregated", "billing-dash tags set"),
        ([("tag.customer", "acme"), ("tag.env", "prod")], "invalid_filter", "One tag key"),
        ([("tag.Customer", "acme")], "invalid_filter", "must match"),
        ([("tag.customer", "x" * (MAX_TAG_VALUE + 1))], "invalid_filter", "1 to 200"),
        ([("tag.customer", "")], "invalid_filter", "1 to 200"),
        ([("groupBy", "agent")], "invalid_group_by", "tag:<key>"),
        ([("groupBy", "tag:")], "invalid_group_by", "must match"),
        ([("groupBy", "tag:customer"), ("tag.env", "prod")], "invalid_group_by", "same key"),
        ([("groupBy", "tag:customer"), ("groupLimit", "0")], "invalid_limit", "groupLimit"),
    ],
)
def test_bad_tag_parameters_are_400_with_json(client, auth_headers, aggregated, params, code, words):
    response = client.get(REPORT, query_string=[("period", "month"), *params], headers=auth_headers)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == code
    assert words in error["message"]
    if code == "tag_key_not_aggregated":
        assert "feature.x-y_z" in error["message"]
        for path, extra in (
            ("/api/v1/conversations", []),
            ("/api/v1/analytics/billing.csv", [("section", "conversations")]),
        ):
            response = client.get(path, query_string=[*params, *extra], headers=auth_headers)
            if params[0][0].startswith("tag."):
                assert response.status_code == 400
                assert response.get_json()["error"]["code"] == code
