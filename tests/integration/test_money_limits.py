"""Money at its limits: per-event caps, totals near each database's bounds, exact JSON and CSV."""

from __future__ import annotations

import csv
import io
import json
import re
from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from ..factories import (
    MILLION,
    TINY,
    at,
    big_usage,
    big_usage_period,
    ev,
    failed_cleanly,
    nothing_stored,
    ok,
    post,
    post_all,
    priced_model,
    run,
    text_of,
    write_jsonl,
)

REPORT = "/api/v1/analytics/billing"
# SQLite stores money as 64-bit integers of 1e-10 dollars: no stored total can pass this.
SQLITE_TOTAL = Decimal(2**63 - 1).scaleb(-10)
ORG_ZONE = ZoneInfo("Europe/Berlin")  # the conftest organizations' zone


def local_day(e: dict, zone: ZoneInfo = ORG_ZONE) -> str:
    return datetime.fromisoformat(e["timestamp"]).astimezone(zone).date().isoformat()


class StoredTotals:
    """What SQLite's 64-bit totals would hold: per organization day and per conversation."""

    def __init__(self) -> None:
        self.days: dict[str, Decimal] = defaultdict(Decimal)
        self.conversations: dict[str, Decimal] = defaultdict(Decimal)

    def first_over(self, events: list[dict]) -> int | None:
        """Index of the first event that would take a stored total past SQLite's bound."""
        days, conversations = self.days.copy(), self.conversations.copy()
        for i, e in enumerate(events):
            days[local_day(e)] += Decimal(e["cost"])
            conversations[e["conversation_id"]] += Decimal(e["cost"])
            if days[local_day(e)] > SQLITE_TOTAL or conversations[e["conversation_id"]] > SQLITE_TOTAL:
                return i
        return None

    def add(self, events: list[dict]) -> None:
        for e in events:
            self.days[local_day(e)] += Decimal(e["cost"])
            self.conversations[e["conversation_id"]] += Decimal(e["cost"])


def report(client, headers, **params):
    response = client.get(REPORT, headers=headers, query_string={"period": "custom", **params})
    assert response.status_code == 200, response.data[:500]
    text = response.get_data(as_text=True)
    return text, json.loads(text, parse_float=Decimal)


def csv_rows(client, headers, section: str, **params) -> list[dict]:
    response = client.get(
        REPORT + ".csv", headers=headers, query_string={"period": "custom", "section": section, **params}
    )
    assert response.status_code == 200, response.data[:500]
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def assert_exact(value, expected: Decimal) -> None:
    """A JSON number written exactly (parsed as Decimal or int, not a string or float) equal to
    the rounded amount."""
    assert isinstance(value, (Decimal, int)) and not isinstance(value, bool), repr(value)
    assert value == expected.quantize(TINY), (value, expected)


def is_sqlite(database_url: str) -> bool:
    return database_url.startswith("sqlite")


# ------------------------------------------------------------------ per-event limits


def add_price(engine, per_million: str) -> str:
    return priced_model(engine, (Decimal(per_million), Decimal(per_million), None, None), "test-model")


def test_tokens_above_a_billion_are_refused_by_the_api(client, auth_headers, engine, org):
    events = [
        ev(0, at("2026-01-15", 0), "c", Decimal(1), prompt_tokens=10**9, completion_tokens=10**9),
        ev(1, at("2026-01-15", 1), "c", Decimal(1), completion_tokens=10**9 + 1),
    ]
    response = post(client, auth_headers, events)
    assert response.status_code == 400, response.data
    assert [(d["index"], d["field"]) for d in response.get_json()["error"]["details"]] == [(1, "completion_tokens")]
    nothing_stored(engine, org.id)


def test_computed_cost_is_capped_like_a_given_one(client, auth_headers, engine, org):
    # 2e9 tokens at $500 per million is exactly the $1,000,000 cap; at $600 it is $1,200,000.
    at_cap, above_cap = add_price(engine, "500"), add_price(engine, "600")
    big = {"prompt_tokens": 10**9, "completion_tokens": 10**9}
    events = [
        ev(0, at("2026-01-15", 0), "c", model=at_cap, **big),
        ev(1, at("2026-01-15", 1), "c", model=above_cap, **big),
    ]
    response = post(client, auth_headers, events)
    assert response.status_code == 400, response.data
    details = response.get_json()["error"]["details"]
    assert [(d["index"], d["field"]) for d in details] == [(1, "cost")]
    assert "1000000" in details[0]["message"]
    nothing_stored(engine, org.id)
    assert post(client, auth_headers, events[:1]).status_code == 200
    _, body = report(client, auth_headers, startDate="2026-01-15", endDate="2026-01-15")
    assert_exact(body["summary"]["totalCost"], MILLION)


def test_import_names_the_line_and_field_of_each_limit(database_url, engine, org, tmp_path):
    above_cap = add_price(engine, "600")
    events = [
        ev(0, at("2026-01-15", 0), "c", Decimal(1)),
        ev(1, at("2026-01-15", 1), "c", Decimal(1), prompt_tokens=10**9 + 1),
        ev(2, at("2026-01-15", 2), "c", model=above_cap, prompt_tokens=10**9, completion_tokens=10**9),
        ev(3, at("2026-01-15", 3), "c", MILLION + TINY),
    ]
    result = run(database_url, "import", "--org", org.name, str(write_jsonl(tmp_path, events)))
    failed_cleanly(result)
    assert "line 2: prompt_tokens" in result.stderr
    assert "line 3: cost" in result.stderr
    assert "line 4: cost" in result.stderr
    nothing_stored(engine, org.id)


# ------------------------------------------------------------------ stored totals


def test_a_day_past_sqlite_s_bound_is_refused_there_and_exact_on_postgresql(client, auth_headers, database_url):
    # 10,001 events of $1,000,000 on one day, 11 conversations of ~$909M each: past a 64-bit
    # integer of 1e-10 dollars (SQLite) and past NUMERIC(20,10) (the old PostgreSQL column).
    events = [ev(n, at("2026-01-15", n), f"c-{n % 11}", MILLION) for n in range(10_001)]
    stored = StoredTotals()
    accepted: list[dict] = []
    for start in (0, 5000, 10_000):
        chunk = events[start : start + 5000]
        bad = stored.first_over(chunk) if is_sqlite(database_url) else None
        response = post(client, auth_headers, chunk)
        if bad is None:
            assert response.status_code == 200, response.data[:500]
            stored.add(chunk)
            accepted += chunk
            continue
        assert response.status_code == 400, response.data[:500]
        details = response.get_json()["error"]["details"]
        assert [(d["index"], d["field"]) for d in details] == [(bad, "cost")]
        # The events before it fit; the next one is refused against the stored total.
        assert post(client, auth_headers, chunk[:bad]).status_code == 200
        stored.add(chunk[:bad])
        accepted += chunk[:bad]
        response = post(client, auth_headers, chunk[bad:])
        assert response.status_code == 400, response.data[:500]
        assert [(d["index"], d["field"]) for d in response.get_json()["error"]["details"]] == [(0, "cost")]
        break
    expected = sum((Decimal(e["cost"]) for e in accepted), Decimal(0))
    assert expected > (SQLITE_TOTAL - MILLION if is_sqlite(database_url) else Decimal(10) ** 10)
    _, body = report(client, auth_headers, startDate="2026-01-15", endDate="2026-01-15")
    assert_exact(body["summary"]["totalCost"], expected)
    assert_exact(body["usageByDay"][0]["cost"], expected)
    assert body["summary"]["totalMessages"] == len(accepted)


def test_a_conversation_past_sqlite_s_bound_is_refused_there(client, auth_headers, database_url):
    # One conversation over two days: each day fits, the conversation's total does not (SQLite).
    events = [ev(n, at(f"2026-01-{15 + n % 2}", n), "long", MILLION) for n in range(1000)]
    bad = StoredTotals().first_over(events) if is_sqlite(database_url) else None
    response = post(client, auth_headers, events)
    if bad is None:
        assert response.status_code == 200, response.data[:500]
        _, body = report(client, auth_headers, startDate="2026-01-15", endDate="2026-01-16")
        assert_exact(body["topConversations"][0]["cost"], 1000 * MILLION)
    else:
        assert response.status_code == 400, response.data[:500]
        assert [(d["index"], d["field"]) for d in response.get_json()["error"]["details"]] == [(bad, "cost")]


def test_a_day_of_cache_savings_past_sqlite_s_bound_is_refused_there(client, auth_headers, engine, database_url):
    # Each event reads 1e9 tokens from the cache at $0 instead of $1,000 per million: it saves
    # $1,000,000 (the per-event cap) though it costs nothing. A day holds 922 such events on SQLite.
    model = priced_model(engine, (Decimal(1000), Decimal(1000), Decimal(0), None), "test-model")
    big = {"model": model, "prompt_tokens": 10**9, "cache_read_tokens": 10**9, "completion_tokens": 0}
    events = [ev(n, at("2026-01-15", n), f"c-{n}", Decimal(0), **big) for n in range(1000)]
    total, bad = Decimal(0), None
    for i in range(len(events)):
        total += MILLION
        if total > SQLITE_TOTAL:
            bad = i
            break
    response = post(client, auth_headers, events)
    if not is_sqlite(database_url):
        assert response.status_code == 200, response.data[:500]
        return
    assert response.status_code == 400, response.data[:500]
    assert [(d["index"], d["field"]) for d in response.get_json()["error"]["details"]] == [(bad, "cache_read_tokens")]


@pytest.mark.parametrize("tagged", [False, True])
def test_a_month_past_sqlite_s_bound_is_refused_there(client, auth_headers, engine, org, database_url, tagged):
    """An organization's month is a stored total too (usage_monthly's and tag_month's rows are at
    most it): 1,000 events of $1,000,000 over two days of one month, each day and conversation
    within the bound, the month past it."""
    from billing_dash.tags import set_keys

    if tagged:
        with engine.begin() as conn:
            set_keys(conn, org.id, ["customer"])
    events = [ev(n, at(f"2026-01-{15 + n % 2}", n), f"c-{n}", MILLION, tags={"customer": "acme"}) for n in range(1000)]
    month, bad = Decimal(0), None
    for i, e in enumerate(events):
        month += Decimal(e["cost"])
        if month > SQLITE_TOTAL and bad is None:
            bad = i
    assert StoredTotals().first_over(events) is None  # no day, no conversation passes it
    response = post(client, auth_headers, events)
    if not is_sqlite(database_url):
        assert response.status_code == 200, response.data[:500]
        group = {"groupBy": "tag:customer"} if tagged else {}
        _, body = report(client, auth_headers, startDate="2026-01-01", endDate="2026-01-31", **group)
        assert_exact(body["summary"]["totalCost"], 1000 * MILLION)
        if tagged:
            assert_exact(body["usageByTag"][0]["cost"], 1000 * MILLION)
        return
    assert response.status_code == 400, response.data[:500]
    details = response.get_json()["error"]["details"]
    assert [(d["index"], d["field"]) for d in details] == [(bad, "cost")]
    assert "month of 2026-01" in details[0]["message"]
    nothing_stored(engine, org.id)


def test_import_names_the_line_that_passes_a_stored_total(database_url, engine, org, tmp_path):
    events = [ev(n, at("2026-01-15", n), f"c-{n % 2}", MILLION) for n in range(1000)]
    result = run(database_url, "import", "--org", org.name, str(write_jsonl(tmp_path, events)))
    bad = StoredTotals().first_over(events) if is_sqlite(database_url) else None
    if bad is None:
        ok(result)
    else:
        failed_cleanly(result)
        assert f"line {bad + 1}: cost" in result.stderr
        nothing_stored(engine, org.id)


@pytest.mark.parametrize("pairs", [5, 12])
def test_totals_past_64_bits_report_exactly_in_json_and_csv(client, auth_headers, pairs):
    events = big_usage(pairs)
    post_all(client, auth_headers, events)
    total = sum((Decimal(e["cost"]) for e in events), Decimal(0))
    assert total > Decimal(2**63).scaleb(-10) and total % 1 == TINY  # 9000000000.000001 and larger
    start, end = big_usage_period(pairs)
    for zone in ("Europe/Berlin", "UTC"):
        params = {"startDate": start, "endDate": end, "tz": zone}
        by_day: dict[str, Decimal] = defaultdict(Decimal)
        for e in events:
            by_day[local_day(e, ZoneInfo(zone))] += Decimal(e["cost"])
        text, body = report(client, auth_headers, **params)
        assert re.search(r'"totalCost":\s*' + re.escape(text_of(total)) + r"[,}]", text), text[:300]
        assert_exact(body["summary"]["totalCost"], total)
        assert_exact(body["usageByAgent"][0]["cost"], total)
        assert_exact(body["usageByModel"][0]["cost"], total)
        assert {d["date"]: d["cost"] for d in body["usageByDay"] if d["cost"]} == {
            day: cost.quantize(TINY) for day, cost in by_day.items()
        }
        assert [r["cost"] for r in csv_rows(client, auth_headers, "agents", **params)] == [text_of(total)]
        assert [r["cost"] for r in csv_rows(client, auth_headers, "models", **params)] == [text_of(total)]
        assert {
            r["date"]: r["cost"] for r in csv_rows(client, auth_headers, "daily", **params) if r["cost"] != "0"
        } == {day: text_of(cost) for day, cost in by_day.items()}
