"""Budget use travels with the report's agents; the `budgets` array keeps its contract."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

import jsonschema_rs

from billing_dash.alerts.budgets import set_agent_month_tokens

from ..factories import event

REPORT = "/api/v1/analytics/billing"
BUDGETS = {"capped": 1000, "idle": 500}


def _z(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")


def _percent(tokens: int, budget: int) -> float:
    return float((Decimal(tokens) * 100 / budget).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN))


def test_agents_carry_this_months_budget_use(client, auth_headers, engine, org):
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)  # in this month, any zone
    events = [
        event(
            i,
            timestamp=_z(now),
            agent_id=("capped", "free")[i % 2],
            agent_name=("Capped", "Free")[i % 2],
            prompt_tokens=100 + 7 * i,
            completion_tokens=3 * i,
        )
        for i in range(6)
    ]
    # An agent with a budget and nothing this month: in `budgets`, not among the period's agents.
    events.append(event(6, timestamp=_z(now - timedelta(days=800)), agent_id="idle", agent_name="Idle"))
    assert client.post("/api/v1/usage", json={"events": events}, headers=auth_headers).status_code == 200
    with engine.begin() as conn:
        for agent, budget in BUDGETS.items():
            set_agent_month_tokens(conn, org.id, agent, budget)
    used = sum(e["prompt_tokens"] + e["completion_tokens"] for e in events if e["agent_id"] == "capped")

    report = client.get(REPORT, headers=auth_headers, query_string={"period": "month"}).get_json()

    rows = {a["agentId"]: a for a in report["usageByAgent"]}
    assert set(rows) == {"capped", "free"}
    assert rows["capped"]["monthlyTokenBudget"] == 1000
    assert rows["capped"]["budgetUsedPercent"] == _percent(used, 1000)
    assert "monthlyTokenBudget" not in rows["free"] and "budgetUsedPercent" not in rows["free"]
    # Both kinds of row are documented: nothing the OpenAPI document does not name.
    schema = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]["AgentUsage"]
    for row in rows.values():
        jsonschema_rs.validate({**schema, "additionalProperties": False}, row)
    # The budgets array as before: every budgeted agent, by name, with its month's tokens.
    assert report["budgets"] == [
        {
            "agentId": "capped",
            "agentName": "Capped",
            "monthlyTokenBudget": 1000,
            "monthTokens": used,
            "budgetUsedPercent": _percent(used, 1000),
        },
        {"agentId": "idle", "agentName": "Idle", "monthlyTokenBudget": 500, "monthTokens": 0, "budgetUsedPercent": 0.0},
    ]
