"""Ties are ordered by code point whatever the database's collation (here also ICU's en-US)."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from billing_dash.alerts.budgets import set_agent_month_tokens
from billing_dash.auth import create_org, create_token
from billing_dash.config import Settings
from billing_dash.db import make_engine, upgrade
from billing_dash.models import agents
from billing_dash.web.app import create_app

# Code point order puts upper case before lower case; en-US puts 'az' before 'Bz'.
IDS = ["az", "Bz", "b", "A", "a", "Ä", "ä", "Z"]
ICU = "TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"


@pytest.fixture(scope="module", params=["sqlite", "postgresql", "postgresql-icu-en-US"])
def collated(request, tmp_path_factory, make_postgres_database):
    """An app on a fresh database of each kind, and the headers of an organization in it."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('collation') / 'billing.db'}"
    else:
        url = make_postgres_database(ICU if request.param.endswith("icu-en-US") else "")
    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        org = create_org(conn, f"org-{uuid.uuid4().hex[:12]}")
        token = create_token(conn, org, "test")
    app = create_app(Settings.from_env({}, database_url=url, secret_key="test-secret"))
    client = app.server.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    # Equal cost and tokens everywhere: only the ids can order them.
    events = [
        {
            "event_id": f"e-{i}",
            "timestamp": "2026-03-10T12:00:00Z",
            "agent_id": ident,
            "agent_name": ident,
            "conversation_id": ident,
            "model": ident,
            "prompt_tokens": 10,
            "completion_tokens": 5,
            "cost": "0.25",
        }
        for i, ident in enumerate(IDS)
    ]
    assert client.post("/api/v1/usage", json={"events": events}, headers=headers).status_code == 200
    with engine.begin() as conn:
        for agent_id in conn.execute(sa.select(agents.c.id).where(agents.c.organization_id == org.id)).scalars():
            set_agent_month_tokens(conn, org.id, agent_id, 1000)
    yield client, headers
    app.server.extensions["billing_dash.engine"].dispose()
    engine.dispose()


def _report(client, headers, limit: int) -> dict:
    response = client.get(
        "/api/v1/analytics/billing",
        headers=headers,
        query_string={"period": "custom", "startDate": "2026-03-01", "endDate": "2026-03-31", "limit": limit},
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


@pytest.mark.parametrize("limit", range(1, len(IDS) + 1))
def test_tied_top_conversations_come_in_code_point_order(collated, limit):
    client, headers = collated
    top = [c["conversationId"] for c in _report(client, headers, limit)["topConversations"]]
    assert top == sorted(IDS)[:limit]


def test_tied_agents_models_and_budgets_come_in_code_point_order(collated):
    client, headers = collated
    report = _report(client, headers, 10)
    assert [a["agentId"] for a in report["usageByAgent"]] == sorted(IDS)
    assert [m["model"] for m in report["usageByModel"]] == sorted(IDS)
    assert [b["agentName"] for b in report["budgets"]] == sorted(IDS)
