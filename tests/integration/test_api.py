"""The HTTP API: authentication, every bad input, ingestion rules, isolation, CORS, health, OpenAPI."""

from __future__ import annotations

import json
import uuid

import pytest
import sqlalchemy as sa

from billing_dash.auth import create_org, create_token, revoke_token
from billing_dash.models import agents, usage_events

REPORT = "/api/v1/analytics/billing"
USAGE = "/api/v1/usage"


def event(i: int, **overrides) -> dict:
    e = {
        "event_id": f"ev-{i}",
        "timestamp": "2026-01-15T10:00:00Z",
        "agent_id": "bot",
        "agent_name": "Bot",
        "conversation_id": f"c-{i % 3}",
        "conversation_title": "Chat",
        "model": "gpt-4o-mini",
        "prompt_tokens": 100 + i,
        "completion_tokens": 50,
        "cost": "0.0100000001",
    }
    e.update(overrides)
    return e


def stored(engine, org_id: int) -> int:
    with engine.connect() as conn:
        return conn.execute(
            sa.select(sa.func.count()).select_from(usage_events).where(usage_events.c.organization_id == org_id)
        ).scalar_one()


def test_report_needs_authentication(client):
    for headers in (
        {},
        {"Authorization": "Bearer bd_wrong"},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer"},
    ):
        response = client.get(REPORT, headers=headers)
        assert response.status_code == 401
        assert response.get_json()["error"]["code"] == "unauthorized"
        assert response.headers["WWW-Authenticate"] == "Bearer"


def test_revoked_token_is_refused(client, engine, org):
    with engine.begin() as conn:
        token = create_token(conn, org, "short-lived")
    assert client.get(REPORT, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    with engine.begin() as conn:
        revoke_token(conn, org, "short-lived")
    assert client.get(REPORT, headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_read_only_token_cannot_ingest(client, engine, org):
    with engine.begin() as conn:
        token = create_token(conn, org, "reader", ("read",))
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get(REPORT, headers=headers).status_code == 200
    response = client.post(USAGE, json={"events": [event(1)]}, headers=headers)
    assert response.status_code == 403
    assert stored(engine, org.id) == 0


@pytest.mark.parametrize(
    "params, code",
    [
        ({"period": "decade"}, "invalid_period"),
        ({"period": "custom"}, "missing_date"),
        ({"period": "custom", "startDate": "2026-01-01"}, "missing_date"),
        ({"period": "custom", "startDate": "2026-01-01", "endDate": "01/31/2026"}, "invalid_date"),
        ({"period": "custom", "startDate": "2026-02-30", "endDate": "2026-03-01"}, "invalid_date"),
        ({"period": "custom", "startDate": "2026-03-01", "endDate": "2026-02-01"}, "invalid_range"),
        ({"period": "custom", "startDate": "1970-01-01", "endDate": "2026-02-01"}, "invalid_range"),
        ({"period": "custom", "startDate": "0001-01-01", "endDate": "0001-01-02"}, "invalid_date"),
        ({"tz": "Mars/Olympus_Mons"}, "invalid_timezone"),
        ({"tz": "\x00"}, "invalid_timezone"),
        ({"limit": "0"}, "invalid_limit"),
        ({"limit": "101"}, "invalid_limit"),
        ({"limit": "ten"}, "invalid_limit"),
        ({"limit": "-1"}, "invalid_limit"),
    ],
)
def test_bad_report_input_is_a_400_with_a_code(client, auth_headers, params, code):
    for path in (REPORT, REPORT + ".csv"):
        response = client.get(path, query_string={"section": "daily", **params}, headers=auth_headers)
        assert response.status_code == 400, (path, response.data)
        body = response.get_json()
        assert body["error"]["code"] == code
        assert body["error"]["message"]


def test_csv_needs_a_known_section(client, auth_headers):
    for section in ("", "everything"):
        response = client.get(REPORT + ".csv", query_string={"section": section}, headers=auth_headers)
        assert response.status_code == 400
        assert response.get_json()["error"]["code"] == "invalid_section"


def test_empty_period_is_all_zeros(client, auth_headers):
    body = client.get(REPORT, query_string={"period": "week"}, headers=auth_headers).get_json()
    assert body["summary"]["totalCost"] == 0 and body["summary"]["avgCostPerMessage"] == 0
    assert body["summary"]["totalMessages"] == 0 and body["summary"]["avgTokensPerMessage"] == 0
    assert len(body["usageByDay"]) == body["period"]["days"] >= 1
    assert all(d["cost"] == 0 and d["messageCount"] == 0 for d in body["usageByDay"])
    assert body["usageByAgent"] == body["usageByModel"] == body["topConversations"] == []
    # Never strings, NaN or null among the numbers.
    text = json.dumps(body)
    assert "NaN" not in text and "null" not in text


def test_ingest_endpoint_stores_and_is_idempotent(client, engine, org, auth_headers):
    batch = {"events": [event(i) for i in range(5)]}
    first = client.post(USAGE, json=batch, headers=auth_headers)
    assert first.status_code == 200 and first.get_json() == {"inserted": 5, "skipped": 0, "unpriced": 0}
    again = client.post(USAGE, json=batch, headers=auth_headers)
    assert again.get_json() == {"inserted": 0, "skipped": 5, "unpriced": 0}
    assert stored(engine, org.id) == 5
    body = client.get(
        REPORT,
        query_string={"period": "custom", "startDate": "2026-01-15", "endDate": "2026-01-15"},
        headers=auth_headers,
    ).get_json()
    assert body["summary"]["totalMessages"] == 5
    assert body["summary"]["totalCost"] == 0.05  # 5 x 0.0100000001, rounded to 6 decimals on the way out


def test_ingest_batch_is_atomic_and_names_each_bad_event(client, engine, org, auth_headers):
    events = [event(0), event(1, prompt_tokens=-1), event(2), event(3, timestamp="2026-01-15 10:00")]
    response = client.post(USAGE, json={"events": events}, headers=auth_headers)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "invalid_events"
    assert [(d["index"], d["field"]) for d in error["details"]] == [(1, "prompt_tokens"), (3, "timestamp")]
    assert stored(engine, org.id) == 0
    with engine.connect() as conn:
        assert conn.execute(sa.select(agents).where(agents.c.organization_id == org.id)).first() is None


@pytest.mark.parametrize(
    "body", [b"not json", b"[1,2]", b'{"events": {}}', b'{"evts": []}', b'{"events": [NaN]}', b"\xff\xfe"]
)
def test_ingest_rejects_malformed_bodies(client, auth_headers, body):
    response = client.post(USAGE, data=body, headers={**auth_headers, "Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] in ("invalid_json", "invalid_body", "invalid_events")


def test_ingest_refuses_more_than_ten_thousand_events(client, engine, org, auth_headers):
    response = client.post(USAGE, json={"events": [event(i) for i in range(10_001)]}, headers=auth_headers)
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "batch_too_large"
    assert stored(engine, org.id) == 0


def test_unknown_model_is_kept_as_unpriced(client, auth_headers):
    e = event(1, model="in-house-llm-v0")
    del e["cost"]
    assert client.post(USAGE, json={"events": [e]}, headers=auth_headers).get_json()["unpriced"] == 1
    body = client.get(
        REPORT,
        query_string={"period": "custom", "startDate": "2026-01-01", "endDate": "2026-01-31"},
        headers=auth_headers,
    ).get_json()
    assert body["summary"]["unpricedMessages"] == 1
    assert body["usageByModel"] == [
        {
            "model": "in-house-llm-v0",
            "totalTokens": 151,
            "cost": 0,
            "messageCount": 1,
            "avgTokensPerMessage": 151,
            "unpricedMessageCount": 1,
        }
    ]


def test_organizations_never_see_each_other(client, engine, org, auth_headers):
    with engine.begin() as conn:
        other = create_org(conn, f"other-{uuid.uuid4().hex[:8]}", "UTC")
        other_token = create_token(conn, other, "t")
    other_headers = {"Authorization": f"Bearer {other_token}"}
    # The same event ids in two organizations are two different events.
    assert client.post(USAGE, json={"events": [event(i) for i in range(3)]}, headers=auth_headers).status_code == 200
    assert (
        client.post(
            USAGE, json={"events": [event(i, agent_name="Theirs") for i in range(2)]}, headers=other_headers
        ).get_json()["inserted"]
        == 2
    )
    span = {"period": "custom", "startDate": "2026-01-01", "endDate": "2026-01-31"}
    mine = client.get(REPORT, query_string=span, headers=auth_headers).get_json()
    theirs = client.get(REPORT, query_string=span, headers=other_headers).get_json()
    assert mine["summary"]["totalMessages"] == 3 and theirs["summary"]["totalMessages"] == 2
    assert mine["usageByAgent"][0]["agentName"] == "Bot" and theirs["usageByAgent"][0]["agentName"] == "Theirs"
    csv_theirs = client.get(REPORT + ".csv", query_string={**span, "section": "agents"}, headers=other_headers)
    assert "Theirs" in csv_theirs.get_data(as_text=True) and "Bot," not in csv_theirs.get_data(as_text=True)


def test_cors_allows_only_configured_origins(client, auth_headers):
    allowed = client.get(REPORT, headers={**auth_headers, "Origin": "https://allowed.example"})
    assert allowed.headers.get("Access-Control-Allow-Origin") == "https://allowed.example"
    other = client.get(REPORT, headers={**auth_headers, "Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers
    preflight = client.options(
        REPORT,
        headers={
            "Origin": "https://allowed.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "Authorization",
        },
    )
    assert preflight.headers.get("Access-Control-Allow-Origin") == "https://allowed.example"


def test_health_and_openapi(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.1")
    assert {"/api/v1/analytics/billing", "/api/v1/analytics/billing.csv", "/api/v1/usage", "/healthz"} <= set(
        doc["paths"]
    )


def test_unknown_api_path_is_json_404(client, auth_headers):
    response = client.get("/api/v1/nothing-here", headers=auth_headers)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_database_down_is_a_503_with_retry_after():
    from billing_dash.config import Settings
    from billing_dash.web.app import create_app

    # Nothing listens on port 1: the server behaves as with its database down.
    app = create_app(Settings.from_env({}, database_url="postgresql+psycopg://nobody@127.0.0.1:1/none", secret_key="s"))
    client = app.server.test_client()
    health = client.get("/healthz")
    assert health.status_code == 503 and health.headers["Retry-After"]
    report = client.get(REPORT, headers={"Authorization": "Bearer bd_whatever"})
    assert report.status_code == 503 and report.get_json()["error"]["code"] == "database_unavailable"


def test_a_token_records_when_it_was_last_used(client, engine, org, token, auth_headers):
    from billing_dash.auth import LAST_USED_RESOLUTION
    from billing_dash.models import api_tokens

    def last_used():
        with engine.connect() as conn:
            return conn.execute(
                sa.select(api_tokens.c.last_used_at).where(api_tokens.c.organization_id == org.id)
            ).scalar_one()

    assert last_used() is None
    assert client.get(REPORT, headers=auth_headers).status_code == 200
    first = last_used()
    assert first is not None
    # Within a minute the use is not written again (no UPDATE on every read) ...
    assert client.get(REPORT, headers=auth_headers).status_code == 200
    assert last_used() == first
    # ... after it, it is.
    with engine.begin() as conn:
        conn.execute(
            sa.update(api_tokens)
            .where(api_tokens.c.organization_id == org.id)
            .values(last_used_at=first - LAST_USED_RESOLUTION)
        )
    assert client.get(REPORT, headers=auth_headers).status_code == 200
    assert last_used() > first


def test_a_token_read_does_not_wait_for_a_running_import(client, engine, org, token, auth_headers):
    """An import holds the database's write lock (SQLite: the only one) for its whole transaction;
    a bearer-token read must not queue behind it to record the token's last use."""
    import time

    from billing_dash.ingest import ingest
    from billing_dash.models import api_tokens

    def last_used():
        with engine.connect() as conn:
            return conn.execute(
                sa.select(api_tokens.c.last_used_at).where(api_tokens.c.organization_id == org.id)
            ).scalar_one()

    with engine.begin() as importing:
        ingest(importing, org.id, [(1, event(1))])
        started = time.monotonic()
        response = client.get(REPORT, headers=auth_headers)
        waited = time.monotonic() - started
        assert response.status_code == 200, response.get_data(as_text=True)
        assert waited < 5, f"the read waited {waited:.1f} s for the import's write lock"
    # Recording the use is best effort: once nobody holds the lock, the next read records it.
    assert client.get(REPORT, headers=auth_headers).status_code == 200
    assert last_used() is not None
