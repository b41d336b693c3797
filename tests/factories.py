"""What tests build, send and run: usage events, CLI runs, logins and CSRF tokens, Dash callbacks, reports.

Fixtures stay in conftest.py; these are plain functions that tests import.
"""

from __future__ import annotations

import calendar
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import jsonschema_rs
import pandas as pd
import requests
import sqlalchemy as sa
from click.testing import CliRunner

from billing_dash.cli import main
from billing_dash.config import Settings
from billing_dash.models import agents, conversations, model_prices, usage_events
from billing_dash.openapi import openapi_document
from billing_dash.pages import DASHBOARD_PATH
from billing_dash.periods import DEFAULT_PERIOD, Period
from billing_dash.services.billing import DAILY_COLUMNS, TAG_COLUMNS, BillingReport, Summary
from tests import ROOT

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


def cli_event(n: int | str, **overrides) -> dict:
    """One message of agent-a's conversation conv-1 (the CLI tests' event); an override of None leaves the field out."""
    e = {
        "event_id": f"ev-{n}",
        "timestamp": "2025-03-10T12:00:00+00:00",
        "agent_id": "agent-a",
        "agent_name": "Agent A",
        "conversation_id": "conv-1",
        "conversation_title": "First conversation",
        "model": "gpt-4o-mini",
        "prompt_tokens": 1000,
        "completion_tokens": 500,
        "cost": "0.01",
    }
    e.update(overrides)
    return {k: v for k, v in e.items() if v is not None}


MILLION = Decimal(1_000_000)
TINY = Decimal("0.000001")


def ev(n: int, ts: str, conversation: str, cost: Decimal | None = None, **fields) -> dict:
    e = {
        "event_id": f"ev-{n}",
        "timestamp": ts,
        "agent_id": "bot",
        "conversation_id": conversation,
        "model": "gpt-4o-mini",
        "prompt_tokens": 10,
        "completion_tokens": 5,
    }
    if cost is not None:
        e["cost"] = str(cost)
    return e | fields


def at(day: str, n: int, hour: int = 10) -> str:
    """A distinct instant within an hour of `day` (UTC) for the n-th event."""
    return f"{day}T{hour:02d}:{n // 60 % 60:02d}:{n % 60:02d}.{n // 3600:06d}Z"


def post(client, headers, events: list[dict]):
    return client.post(
        "/api/v1/usage", data=json.dumps({"events": events}), content_type="application/json", headers=headers
    )


def post_all(client, headers, events: list[dict], chunk: int = 5000) -> None:
    for i in range(0, len(events), chunk):
        response = post(client, headers, events[i : i + chunk])
        assert response.status_code == 200, response.data[:500]


def big_usage(pairs: int) -> list[dict]:
    """Days of $900,000,000 whose sums pass 64 bits, each day in a month of its own (SQLite bounds
    a stored day and month at ~$922M; see big_usage_period for the months they span).

    Pair k falls on the last day of month 2k (from January 2024) at 00:xx and 23:xx UTC: in the
    organization's zone (Europe/Berlin) the second is already the next month's first day, and a
    report in UTC sums both on one day; the period sums them all."""
    events, n = [], 0
    for k in range(pairs):
        year, month = 2024 + 2 * k // 12, 2 * k % 12 + 1
        day = f"{year}-{month:02d}-{calendar.monthrange(year, month)[1]:02d}"
        for hour in (0, 23):
            for i in range(900):
                events.append(ev(n, at(day, i, hour), f"c-{k}-{hour}-{i % 3}", MILLION))
                n += 1
    events.append(ev(n, at("2024-01-31", 900, 0), "c-0-0-0", TINY))
    return events


def big_usage_period(pairs: int) -> tuple[str, str]:
    """The first and last day of the months big_usage(pairs) spans."""
    year, month = 2024 + (2 * pairs - 1) // 12, (2 * pairs - 1) % 12 + 1
    return "2024-01-01", f"{year}-{month:02d}-{calendar.monthrange(year, month)[1]:02d}"


def text_of(amount: Decimal) -> str:
    """How money should read once rounded: 6 decimals at most, no exponent, no trailing zeros."""
    return format(amount.quantize(TINY).normalize(), "f")


# --- the command line -----------------------------------------------------------------------------


def run(database_url: str, *args: str, input: str | None = None):
    return CliRunner().invoke(main, list(args), env={"DATABASE_URL": database_url}, input=input)


def ok(result) -> None:
    assert result.exit_code == 0, (result.output, result.exception)
    assert result.exception is None


def failed_cleanly(result) -> None:
    """Exit code 1, a SystemExit (not an uncaught exception), and no traceback."""
    assert result.exit_code == 1, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output


def cli_command() -> list[str]:
    script = Path(sys.executable).with_name("billing-dash")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from billing_dash.cli import main; main(prog_name='billing-dash')"]


def jsonl(events: list) -> str:
    return "".join((e if isinstance(e, str) else json.dumps(e)) + "\n" for e in events)


def write_jsonl(tmp_path, events: list, name: str = "usage.jsonl"):
    path = tmp_path / name
    path.write_text(jsonl(events), encoding="utf-8")
    return path


def count(engine, table, org_id: int) -> int:
    with engine.connect() as conn:
        return conn.execute(
            sa.select(sa.func.count()).select_from(table).where(table.c.organization_id == org_id)
        ).scalar_one()


def stored_event(engine, org_id: int, event_id: str):
    with engine.connect() as conn:
        return conn.execute(
            sa.select(usage_events).where(usage_events.c.organization_id == org_id, usage_events.c.event_id == event_id)
        ).one()


def nothing_stored(engine, org_id: int) -> None:
    assert count(engine, usage_events, org_id) == 0
    assert count(engine, agents, org_id) == 0
    assert count(engine, conversations, org_id) == 0


# --- the billing report API ----------------------------------------------------------------------


def report_response(client, headers, **params):
    response = client.get("/api/v1/analytics/billing", query_string=params, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response


def get(client, headers, **params) -> dict:
    """The billing report's JSON for the query `params`."""
    return report_response(client, headers, **params).get_json()


def project(api: dict, expected: dict) -> dict:
    """The API's answer limited to the keys the reference computes."""
    out = {"summary": {k: api["summary"][k] for k in expected["summary"]}}
    for section in ("usageByDay", "usageByAgent", "usageByModel", "topConversations"):
        keys = expected[section][0].keys() if expected[section] else ()
        out[section] = [{k: row[k] for k in keys} for row in api[section]]
    return out


# --- the OpenAPI document -------------------------------------------------------------------------

DOCUMENT = openapi_document(Settings())


def valid(schema: dict, value) -> bool:
    """Whether the document's `schema` (refs resolved within the document) accepts `value`."""
    return jsonschema_rs.validator_for(
        {**schema, "components": DOCUMENT["components"]}, validate_formats=True
    ).is_valid(value)


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


# --- the dashboard page ---------------------------------------------------------------------------


def code_urls(client) -> list[str]:
    """The scripts and styles the dashboard page loads, as its HTML names them."""
    html = client.get(DASHBOARD_PATH).get_data(as_text=True)
    return re.findall(r'(?:src|href)="(/(?:assets|_dash-component-suites)/[^"]+)"', html)


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
    """The load_report inputs (period, start_date, end_date, retry clicks, the filter store, the
    granularity, the stack and the tag card's key) the page would send."""
    custom = params.get("period") == "custom"
    return [
        params.get("period", DEFAULT_PERIOD),
        params["startDate"] if custom else None,
        params["endDate"] + "T00:00:00" if custom else None,
        None,
        {"agentId": list(params.get("agentId", [])), "model": list(params.get("model", []))},
        params.get("granularity", "auto"),
        params.get("stackBy", ""),
        params.get("groupBy", "tag:")[len("tag:") :] or None,
    ]


# --- a hand-built report --------------------------------------------------------------------------


# Token parts and cache savings of each hand-built row.
PARTS = {"cache_read_tokens": 6, "cache_write_tokens": 2, "reasoning_tokens": 1, "cache_savings": Decimal("0.0000015")}


def make_report(agent_names=(), models=(), titles=(), empty=False, tag_values=None) -> BillingReport:
    """A report of March 1-2, 2026 with these agents, models and conversations; with `tag_values`
    (a list, None: no groupBy) its usage by tag `customer`: these values, then the untagged row."""
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
                **PARTS,
            },
            {
                "date": "2026-03-02",
                "prompt_tokens": 0,
                "completion_tokens": 0,
                "total_tokens": 0,
                "cost": Decimal(0),
                "message_count": 0,
                "unpriced_count": 0,
                **PARTS,
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
                **PARTS,
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
            *PARTS,
            "monthly_token_budget",
            "month_tokens",
            "budget_used",
        ],
    )
    model_frame = pd.DataFrame(
        [
            {"model": m, "total_tokens": 10, "cost": Decimal("0.5"), "message_count": 3, "unpriced_count": 1, **PARTS}
            for m in models
        ],
        columns=["model", "total_tokens", "cost", "message_count", "unpriced_count", *PARTS],
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
        group_key=None if tag_values is None else "customer",
        tags=None
        if tag_values is None
        else pd.DataFrame(
            [
                *(
                    {"tag_value": v, "group": "value", "value_count": 1, "cost": Decimal("0.0000125"), **_TAG_SUMS}
                    for v in tag_values
                ),
                {"tag_value": None, "group": "untagged", "value_count": 0, "cost": Decimal(0), **_TAG_SUMS},
            ],
            columns=TAG_COLUMNS,
        ),
    )


_TAG_SUMS = {
    "prompt_tokens": 10,
    "completion_tokens": 5,
    "total_tokens": 15,
    "message_count": 2,
    "unpriced_count": 1,
    **PARTS,
}


# --- a running server -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serving(argv: list[str], env: dict[str, str], what: str = "serve") -> Iterator[str]:
    """Run `argv` (a server told to listen on `env`'s or its own port) until /healthz answers;
    yields its base URL and stops its whole process group afterwards."""
    port = env["TEST_PORT"]
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                if proc.poll() is not None:
                    log.seek(0)
                    raise AssertionError(f"{what} exited: {log.read().decode()[-3000:]}")
                try:
                    if requests.get(base + "/healthz", timeout=2).status_code == 200:
                        break
                except requests.RequestException:  # not listening yet, or workers still starting
                    pass
                assert time.monotonic() < deadline, f"{what} did not come up"
                time.sleep(0.2)
            yield base
        except BaseException:
            # The server's own log says why it answered as it did (a 500's traceback).
            log.seek(0)
            print(f"--- {what} log ---\n{log.read().decode(errors='replace')[-6000:]}")
            raise
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def serve_argv(port: str) -> list[str]:
    """`billing-dash serve` on 127.0.0.1:`port`, run by this interpreter."""
    return [sys.executable, "-c", "from billing_dash.cli import main; main()", "serve", "--port", port]


@contextlib.contextmanager
def running_server(database_url: str, **env: str) -> Iterator[str]:
    """`billing-dash serve` on a free port of 127.0.0.1 with `env` added; yields its base URL."""
    port = str(free_port())
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "running-server-test",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
        "TEST_PORT": port,
        **env,
    }
    with serving(serve_argv(port), environment) as base:
        yield base


def priced_model(engine, price: tuple[Decimal, Decimal, Decimal | None, Decimal | None], prefix: str = "model") -> str:
    """A model of its own priced from 2020 on at `price` (USD per million: input, output, cache read,
    cache write), so a test computes the expected cost itself."""
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        conn.execute(
            sa.insert(model_prices).values(
                model=name,
                effective_from=datetime(2020, 1, 1, tzinfo=UTC),
                prompt_per_million=price[0],
                completion_per_million=price[1],
                cache_read_per_million=price[2],
                cache_write_per_million=price[3],
            )
        )
    return name


def side_schemas(engine: sa.Engine) -> set[str]:
    """The schemas of bulk imports' side stages (ingest/side.py) the PostgreSQL database holds, read
    from the catalogue here rather than by the side stage's own query."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'billing\\_import\\_%'"))
        return set(rows.scalars())
