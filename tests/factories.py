"""Helpers that make what tests send: usage events, logins and CSRF tokens, Dash callback requests, reports.

Fixtures stay in conftest.py; these are plain functions that tests import.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pandas as pd

from billing_dash.periods import DEFAULT_PERIOD, Period
from billing_dash.services.billing import DAILY_COLUMNS, BillingReport, Summary

TEST_PASSWORD = "correct-horse-battery"
_CSRF_INPUT = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')

# --- usage events ---------------------------------------------------------------------------------


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


# --- logging in -----------------------------------------------------------------------------------


def csrf_from(page: str) -> str:
    """The CSRF token of the form in an HTML page (the login or log-out page)."""
    return _CSRF_INPUT.search(page).group(1)


def csrf(client, **request) -> str:
    """A fresh CSRF token from the login page (`request`: the test client's options, e.g. base_url)."""
    return csrf_from(client.get("/login", **request).get_data(as_text=True))


def login(client, email: str, password: str = TEST_PASSWORD, next_url: str | None = None, **request):
    url = "/login" + (f"?next={next_url}" if next_url else "")
    data = {"email": email, "password": password, "csrf_token": csrf(client, **request)}
    return client.post(url, data=data, **request)


def _components(node):
    if isinstance(node, dict):
        if "props" in node:
            yield node
        for value in node.values():
            yield from _components(value)
    elif isinstance(node, list):
        for value in node:
            yield from _components(value)


def logout_token(client) -> str:
    """The CSRF token of the navbar's log-out form, as the dashboard layout carries it."""
    form = next(c for c in _components(client.get("/_dash-layout").get_json()) if c["props"].get("action") == "/logout")
    return next(c["props"]["value"] for c in _components(form["props"]) if c["props"].get("name") == "csrf_token")


def logout(client):
    return client.post("/logout", data={"csrf_token": logout_token(client)})


# --- Dash callback requests -----------------------------------------------------------------------


def _outputs(dependency: dict) -> list[dict] | dict:
    """Dash's output key as the request's `outputs`: '..a.x...b.y..' (several) -> [{id, property}, ...],
    'a.x' (one) -> {id, property}."""
    names = dependency["output"].strip(".").split("...")
    outputs = [dict(zip(("id", "property"), name.rsplit(".", 1), strict=False)) for name in names]
    return outputs if dependency["output"].startswith("..") else outputs[0]


def callback_body(dependency: dict, values: list, extra_inputs: list | None = None, state: list | None = None) -> dict:
    inputs = [{**i, "value": v} for i, v in zip(dependency["inputs"], values, strict=False)] + (extra_inputs or [])
    return {
        "output": dependency["output"],
        "outputs": _outputs(dependency),
        "inputs": inputs,
        "changedPropIds": [f"{inputs[0]['id']}.{inputs[0]['property']}"],
        "state": state if state is not None else [{**s, "value": None} for s in dependency["state"]],
    }


def load_values(params: dict) -> list:
    """The load_report inputs (period, start_date, end_date, retry clicks) the page would send."""
    custom = params.get("period") == "custom"
    return [
        params.get("period", DEFAULT_PERIOD),
        params["startDate"] if custom else None,
        params["endDate"] + "T00:00:00" if custom else None,
        None,
    ]


# --- a hand-built report --------------------------------------------------------------------------


def make_report(agent_names=(), models=(), titles=(), empty=False) -> BillingReport:
    period = Period("custom", date(2026, 3, 1), date(2026, 3, 2), "UTC")
    daily = pd.DataFrame(
        []
        if empty
        else [
            {
                "date": "2026-03-01",
                "prompt_tokens": 10,
                "completion_tokens": 5,
                "total_tokens": 15,
                "cost": Decimal("0.0000125"),
                "message_count": 2,
                "unpriced_count": 0,
            },
            {
                "date": "2026-03-02",
                "prompt_tokens": 0,
                "completion_tokens": 0,
                "total_tokens": 0,
                "cost": Decimal(0),
                "message_count": 0,
                "unpriced_count": 0,
            },
        ],
        columns=DAILY_COLUMNS,
    )
    agents = pd.DataFrame(
        [
            {
                "agent_id": name,
                "agent_name": name,
                "total_tokens": 15,
                "cost": Decimal("1234.5678915"),
                "message_count": 2,
                "conversation_count": 1,
            }
            for name in agent_names
        ],
        columns=[
            "agent_id",
            "agent_name",
            "total_tokens",
            "cost",
            "message_count",
            "conversation_count",
            "monthly_token_budget",
            "month_tokens",
            "budget_used",
        ],
    )
    model_frame = pd.DataFrame(
        [
            {"model": m, "total_tokens": 10, "cost": Decimal("0.5"), "message_count": 3, "unpriced_count": 1}
            for m in models
        ],
        columns=["model", "total_tokens", "cost", "message_count", "unpriced_count"],
    )
    conversations = pd.DataFrame(
        [
            {
                "conversation_id": t,
                "title": t,
                "agent_id": t,
                "total_tokens": 7,
                "cost": Decimal("0.25"),
                "message_count": 1,
            }
            for t in titles
        ],
        columns=["conversation_id", "title", "agent_id", "total_tokens", "cost", "message_count"],
    )
    summary = Summary(
        total_tokens=15,
        prompt_tokens=10,
        completion_tokens=5,
        total_cost=Decimal("0.0000125"),
        total_messages=2,
        total_conversations=1,
        unpriced_messages=0,
    )
    budgets = pd.DataFrame(columns=["agent_id", "agent_name", "monthly_token_budget", "month_tokens", "budget_used"])
    return BillingReport(
        period=period,
        summary=summary,
        daily=daily,
        agents=agents,
        models=model_frame,
        conversations=conversations,
        budgets=budgets,
    )
