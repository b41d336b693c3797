"""The conversations API: every conversation of a period page by page, the streamed CSV and one
conversation's messages, against an independent computation from the raw events, on both databases."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from billing_dash.auth import create_org, create_token
from billing_dash.ingest import ingest

from ..factories import DOCUMENT, event, valid
from .reference import TEN, Scenario, named_period_dates, r6, tokens_of

LIST = "/api/v1/conversations"
NOW = datetime.now(UTC)
SORTS = ["cost", "tokens", "messages", "last"]


@pytest.fixture(params=[("spread", 3), ("chats", 4)], ids=["spread-seed3", "chats-seed4"])
def scenario(request, engine, org):
    """Conversations over the whole year (most cross every period's edges) or short chats."""
    name, seed = request.param
    sc = Scenario(seed=seed, n=1500, now=NOW, chat_hours=6 if name == "chats" else None)
    with engine.begin() as conn:
        sc.store_prices(conn)
        ingest(conn, org.id, enumerate(sc.events), batch_size=300)
    return sc


def documented(schema: str, body: dict) -> bool:
    return valid(DOCUMENT["components"]["schemas"][schema], body)


def _json(client, headers, path, **params) -> dict:
    response = client.get(path, query_string=params, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _as_api(row: dict) -> dict:
    """A reference row as the API writes it: money rounded to 6 decimals, instants in RFC 3339."""
    return {
        **row,
        "cost": r6(row["cost"]),
        "firstMessageAt": row["firstMessageAt"],
        "lastMessageAt": row["lastMessageAt"],
    }


def _parsed(row: dict) -> dict:
    return {
        **row,
        "cost": float(row["cost"]),
        "firstMessageAt": datetime.fromisoformat(row["firstMessageAt"]),
        "lastMessageAt": datetime.fromisoformat(row["lastMessageAt"]),
    }


def _every_page(client, headers, page_size: int, **params) -> tuple[list[dict], int]:
    rows, page, total = [], 1, None
    while True:
        body = _json(client, headers, LIST, page=page, pageSize=page_size, **params)
        assert body["page"] == page and body["pageSize"] == page_size
        assert total in (None, body["total"])
        total = body["total"]
        assert len(body["conversations"]) <= page_size
        if not body["conversations"]:
            return rows, total
        rows += body["conversations"]
        page += 1


@pytest.mark.parametrize("tz", [None, "Asia/Kolkata"])
def test_pages_hold_every_conversation_in_each_order(client, auth_headers, scenario, org, tz):
    zone = tz or org.timezone
    today = NOW.astimezone(ZoneInfo(zone)).date()
    ranges = [
        (today - timedelta(days=40), today - timedelta(days=3)),
        (today - timedelta(days=364), today),
    ]
    for start, end in ranges:
        params = {"period": "custom", "startDate": start.isoformat(), "endDate": end.isoformat()}
        if tz:
            params["tz"] = tz
        for sort in SORTS:
            expected = [_as_api(r) for r in scenario.conversations(start, end, zone, sort)]
            rows, total = _every_page(client, auth_headers, 37, sort=sort, **params)
            assert [_parsed(r) for r in rows] == expected, (sort, start, end, f"seed {scenario.seed}")
            assert total == len(expected)
        report = _json(client, auth_headers, "/api/v1/analytics/billing", **params)
        assert report["summary"]["totalConversations"] == total


def test_named_period_and_default_page(client, auth_headers, scenario, org):
    start, end = named_period_dates("last_30_days", NOW.astimezone(ZoneInfo(org.timezone)).date())
    body = _json(client, auth_headers, LIST, period="last_30_days")
    expected = [_as_api(r) for r in scenario.conversations(start, end, org.timezone)]
    assert (body["page"], body["pageSize"], body["sort"], body["total"]) == (1, 50, "cost", len(expected))
    assert [_parsed(r) for r in body["conversations"]] == expected[:50]
    assert (body["period"]["startDate"], body["period"]["endDate"]) == (start.isoformat(), end.isoformat())


def test_csv_streams_every_conversation(client, auth_headers, scenario, org):
    start, end = named_period_dates("year", NOW.astimezone(ZoneInfo(org.timezone)).date())
    start = min(start, end - timedelta(days=364))  # enough conversations, also early in January
    params = {"period": "custom", "startDate": start.isoformat(), "endDate": end.isoformat()}
    response = client.get(
        "/api/v1/analytics/billing.csv", query_string={**params, "section": "conversations"}, headers=auth_headers
    )
    assert response.status_code == 200 and response.is_streamed
    assert response.mimetype == "text/csv"
    assert f"billing-conversations-custom-{start}-to-{end}.csv" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    expected = scenario.conversations(start, end, org.timezone)
    assert len(expected) > 100  # past the report's top 100
    assert rows == [
        {
            "conversationId": r["conversationId"],
            "title": r["title"],
            "agentId": r["agentId"],
            "totalTokens": str(r["totalTokens"]),
            "cost": str(Decimal(str(r6(r["cost"]))).normalize()) if r6(r["cost"]) else "0",
            "messageCount": str(r["messageCount"]),
        }
        for r in expected
    ]


def test_detail_lists_the_messages_and_whole_life_totals(client, auth_headers, scenario):
    assert documented("ConversationPage", _json(client, auth_headers, LIST, period="year", pageSize=3))
    for conversation_id in ("conv-0", "conv-7", "conv-100"):
        events = scenario.messages(conversation_id)
        body = _json(client, auth_headers, f"{LIST}/{conversation_id}")
        assert documented("ConversationDetail", body)
        priced = [scenario.cost(e) for e in events]
        costs = [cost for cost, _, _ in priced]
        assert body["conversationId"] == conversation_id
        assert body["title"] == events[-1]["conversation_title"]
        assert body["messageCount"] == len(events)
        assert body["totalTokens"] == sum(sum(tokens_of(e)[:2]) for e in events)
        assert body["cost"] == r6(sum(costs, Decimal(0)))
        assert datetime.fromisoformat(body["firstMessageAt"]) == datetime.fromisoformat(events[0]["timestamp"])
        assert datetime.fromisoformat(body["lastMessageAt"]) == datetime.fromisoformat(events[-1]["timestamp"])
        assert [
            (
                m["eventId"],
                datetime.fromisoformat(m["timestamp"]),
                m["agentId"],
                m["model"],
                m["promptTokens"],
                m["completionTokens"],
                m["cost"],
                m["cacheReadTokens"],
                m["cacheWriteTokens"],
                m["reasoningTokens"],
                m["cacheSavings"],
            )
            for m in body["messages"]
        ] == [
            (
                e["event_id"],
                datetime.fromisoformat(e["timestamp"]),
                e["agent_id"],
                e["model"],
                *tokens_of(e)[:2],
                r6(c.quantize(TEN)),
                *tokens_of(e)[2:],
                r6(savings),
            )
            for e, (c, _, savings) in zip(events, priced, strict=True)
        ]


def test_detail_never_shows_another_organizations_conversation(client, engine, auth_headers):
    with engine.begin() as conn:
        other = create_org(conn, f"other-{uuid.uuid4().hex[:12]}", "UTC")
        other_token = create_token(conn, other, "other")
        ingest(conn, other.id, [(0, event(0, conversation_id="secret-conv"))])
    assert client.get(f"{LIST}/secret-conv", headers={"Authorization": f"Bearer {other_token}"}).status_code == 200
    for conversation_id in ("secret-conv", "no-such", "a/b", "x" * 201, "nul%00byte"):
        response = client.get(f"{LIST}/{conversation_id}", headers=auth_headers)
        assert response.status_code == 404, conversation_id
        assert response.get_json()["error"]["code"] == "not_found"
    listed = _json(client, auth_headers, LIST, period="custom", startDate="2026-01-01", endDate="2026-01-31")
    assert listed["conversations"] == [] and listed["total"] == 0


def test_conversation_ids_with_slashes_and_unicode(client, engine, org, auth_headers):
    with engine.begin() as conn:
        ingest(conn, org.id, [(0, event(0, conversation_id="team/a b/ü?#", cost="2"))])
    body = _json(client, auth_headers, f"{LIST}/team/a%20b/%C3%BC%3F%23")
    assert body["conversationId"] == "team/a b/ü?#" and body["cost"] == 2


@pytest.mark.parametrize(
    "params, code",
    [
        ({"sort": "price"}, "invalid_sort"),
        ({"sort": ""}, "invalid_sort"),
        ({"page": "0"}, "invalid_page"),
        ({"page": "-1"}, "invalid_page"),
        ({"page": "1.5"}, "invalid_page"),
        ({"page": "9" * 5000}, "invalid_page"),
        ({"pageSize": "0"}, "invalid_page_size"),
        ({"pageSize": "501"}, "invalid_page_size"),
        ({"period": "decade"}, "invalid_period"),
        ({"period": "custom", "startDate": "2026-02-01", "endDate": "2026-01-01"}, "invalid_range"),
        ({"tz": "Mars/Olympus"}, "invalid_timezone"),
    ],
)
def test_bad_parameters_are_400_json(client, auth_headers, params, code):
    response = client.get(LIST, query_string=params, headers=auth_headers)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == code


def test_conversations_need_the_read_scope(client, engine, org):
    with engine.begin() as conn:
        ingest_only = create_token(conn, org, "ingest-only", ("ingest",))
    for path in (LIST, f"{LIST}/c-0", "/api/v1/analytics/billing.csv?section=conversations"):
        assert client.get(path).status_code == 401
        response = client.get(path, headers={"Authorization": f"Bearer {ingest_only}"})
        assert response.status_code == 403 and response.get_json()["error"]["code"] == "forbidden"
