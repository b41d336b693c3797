"""Alerts against a real local HTTP receiver: thresholds once each, signed; retries; restarts; concurrent ingests; anomalies."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from dash._utils import to_json

from billing_dash.alerts.budgets import set_budget
from billing_dash.alerts.run import evaluate_thresholds, run_alerts
from billing_dash.alerts.webhooks import add_webhook, deliver_due
from billing_dash.config import Settings
from billing_dash.ingest import ingest
from billing_dash.models import alert_deliveries, alerts

from ..factories import DOCUMENT, cli_command, event, failed_cleanly, ok, post, run, valid, write_jsonl
from ..receiver import Received, Receiver

SECRET = "test-secret-0123456789"
LIMIT = Decimal(10)
THRESHOLDS = (50, 80, 100)


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.stop()


def _z(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")


def _now() -> datetime:
    """An instant of the current month, day and hour in any zone (a second ago)."""
    return datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)


def verified(request: Received, secret: str = SECRET) -> dict:
    """The JSON body of a request whose X-Billing-Signature checks out, computed here from scratch."""
    parts = dict(item.split("=", 1) for item in request.headers["X-Billing-Signature"].split(","))
    expected = hmac.new(secret.encode(), parts["t"].encode() + b"." + request.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(parts["v1"], expected), "bad signature"
    assert abs(time.time() - int(parts["t"])) < 300
    body = json.loads(request.body, parse_float=Decimal)
    assert request.headers["Idempotency-Key"] == body["id"] == body["idempotencyKey"]
    return body


def _setup(database_url: str, org, url: str, usd: str = "10") -> None:
    ok(run(database_url, "webhook", "add", "--org", org.name, url, "--secret", SECRET))
    ok(run(database_url, "budget", "set", "--org", org.name, "--usd", usd))


def _crossed(total: Decimal) -> list[int]:
    return [t for t in THRESHOLDS if total * 100 / LIMIT >= t]


def _stored(engine, org_id: int, kind: str | None = None) -> list:
    with engine.connect() as conn:
        query = sa.select(alerts).where(alerts.c.organization_id == org_id).order_by(alerts.c.id)
        if kind:
            query = query.where(alerts.c.kind == kind)
        return conn.execute(query).all()


def _deliveries(engine, org_id: int) -> list:
    with engine.connect() as conn:
        return conn.execute(
            sa.select(alert_deliveries)
            .join(alerts, alerts.c.id == alert_deliveries.c.alert_id)
            .where(alerts.c.organization_id == org_id)
            .order_by(alert_deliveries.c.id)
        ).all()


def test_crossing_50_80_100_sends_three_signed_alerts_once_each(database_url, client, auth_headers, org, receiver):
    _setup(database_url, org, receiver.url)
    now = _now()
    month_start = now.astimezone(ZoneInfo(org.timezone)).date().replace(day=1)
    steps = [["3", "2.5"], ["3"], ["2.5"]]  # running totals 5.5, 8.5 and 11 of $10
    total, sent, n = Decimal(0), [], 0
    for step in steps:
        events = [event(n + i, timestamp=_z(now), cost=c) for i, c in enumerate(step)]
        n += len(step)
        assert post(client, auth_headers, events).status_code == 200
        total += sum(Decimal(c) for c in step)
        new = [t for t in _crossed(total) if t not in sent]
        sent += new
        requests = receiver.wait_for(len(sent))  # the ingest answered; a background thread delivers
        for request, threshold in zip(requests[len(sent) - len(new) :], new, strict=True):
            body = verified(request)
            assert body["kind"] == "threshold" and body["threshold"] == threshold
            assert body["used"] == total and body["limit"] == LIMIT and body["unit"] == "usd"
            assert body["percent"] == float(total * 100 / LIMIT)
            assert body["organization"]["name"] == org.name
            assert body["budget"]["scope"] == "organization" and body["budget"]["period"] == "month"
            assert body["periodStart"] == month_start.isoformat()
            assert body["id"].startswith(f"threshold:{body['budget']['id']}@")
            assert body["id"].endswith(f":{month_start.isoformat()}:{threshold}")
    assert sent == [50, 80, 100]
    # Restarts: new processes evaluate everything again and find nothing new to send.
    for _ in range(2):
        result = run(database_url, "alerts", "run", "--org", org.name)
        ok(result)
        assert "0 new alert(s)" in result.output
    time.sleep(0.3)
    assert len(receiver.requests) == 3
    assert len({r.headers["Idempotency-Key"] for r in receiver.requests}) == 3
    log = run(database_url, "webhook", "log", "--org", org.name)
    ok(log)
    assert [line.split()[3] for line in log.output.splitlines()[1:]] == ["delivered"] * 3
    assert [a.kind for a in _stored(client.application.extensions["billing_dash.engine"], org.id)] == ["threshold"] * 3


def test_a_failing_receiver_is_retried_with_backoff_until_delivered(database_url, engine, org, tmp_path):
    receiver = Receiver([500, 500])
    try:
        _setup(database_url, org, receiver.url)
        path = write_jsonl(tmp_path, [event(1, timestamp=_z(_now()), cost="6")])
        imported = run(database_url, "import", "--org", org.name, str(path))  # the CLI sends at once: HTTP 500
        ok(imported)
        assert "1 new alert(s): threshold:" in imported.output
        assert len(receiver.requests) == 1
        (delivery,) = _deliveries(engine, org.id)
        assert (delivery.status, delivery.attempts, delivery.last_error) == ("pending", 1, "HTTP 500")
        start = datetime.now(UTC)
        assert deliver_due(engine, 5, 8, start + timedelta(seconds=10)).attempted == 0  # not due: backoff 30 s
        assert deliver_due(engine, 5, 8, start + timedelta(seconds=31), org.id).retrying == 1
        assert deliver_due(engine, 5, 8, start + timedelta(seconds=60), org.id).attempted == 0  # now 1 min
        assert deliver_due(engine, 5, 8, start + timedelta(seconds=92), org.id).delivered == 1
        assert deliver_due(engine, 5, 8, start + timedelta(days=1), org.id).attempted == 0
        bodies = [verified(r) for r in receiver.wait_for(3)]
        assert len(receiver.requests) == 3
        assert bodies[0] == bodies[1] == bodies[2] and bodies[0]["threshold"] == 50
        (delivery,) = _deliveries(engine, org.id)
        assert (delivery.status, delivery.attempts, delivery.last_error) == ("delivered", 3, None)
        log = run(database_url, "webhook", "log", "--org", org.name)
        assert "delivered" in log.output and bodies[0]["id"] in log.output
    finally:
        receiver.stop()


def test_a_delivery_is_marked_failed_after_the_last_attempt(database_url, engine, org, tmp_path):
    receiver = Receiver([500] * 5)
    try:
        _setup(database_url, org, receiver.url)
        path = write_jsonl(tmp_path, [event(1, timestamp=_z(_now()), cost="6")])
        ok(run(database_url, "import", "--org", org.name, str(path)))
        assert deliver_due(engine, 5, 2, datetime.now(UTC) + timedelta(minutes=1), org.id).failed == 1
        assert deliver_due(engine, 5, 2, datetime.now(UTC) + timedelta(days=1), org.id).attempted == 0
        (delivery,) = _deliveries(engine, org.id)
        assert (delivery.status, delivery.attempts) == ("failed", 2)
        assert "failed" in run(database_url, "webhook", "log", "--org", org.name).output
        assert len(receiver.requests) == 2
    finally:
        receiver.stop()


def test_concurrent_ingests_crossing_thresholds_create_each_alert_once(engine, org, receiver):
    settings = Settings.from_env({})
    with engine.begin() as conn:
        add_webhook(conn, org.id, receiver.url, SECRET, "json")
        set_budget(conn, org.id, "organization", "", "month", LIMIT, None, THRESHOLDS)
    now = _now()
    barrier = threading.Barrier(2, timeout=30)

    def ingest_and_evaluate(k: int) -> list[str]:
        events = [event(10 * k + i, timestamp=_z(now), cost="3") for i in range(2)]
        barrier.wait()
        with engine.begin() as conn:
            ingest(conn, org.id, enumerate(events))
        barrier.wait()  # both committed: each evaluation sees both ingests, and all cross together
        created = evaluate_thresholds(engine, org)  # what the ingest's hook runs, errors not swallowed
        barrier.wait()
        deliver_due(engine, settings.webhook_timeout_seconds, settings.webhook_max_attempts, org_id=org.id)
        return created

    with ThreadPoolExecutor(2) as pool:
        created = [key for keys in pool.map(ingest_and_evaluate, range(2)) for key in keys]
    expected = _crossed(Decimal(12))
    assert sorted(int(k.rsplit(":", 1)[1]) for k in created) == expected
    assert len(_stored(engine, org.id)) == len(expected)
    assert len(_deliveries(engine, org.id)) == len(expected)
    receiver.wait_for(len(expected))
    time.sleep(0.3)
    assert sorted(verified(r)["threshold"] for r in receiver.requests) == expected


def _planted_history(org, now: datetime, spike: bool, seed: int = 13) -> list[dict]:
    """36 days of agents a and b on models m1 and m2 with seeded noise (10% of the mean), one
    event per day, agent and model; with `spike`, agent a's m1 costs 4 times its mean today."""
    rng = random.Random(seed)
    zone = ZoneInfo(org.timezone)
    latest = now - timedelta(minutes=1)
    today = latest.astimezone(zone).date()
    events = []
    for back in range(35, -1, -1):
        day = today - timedelta(days=back)
        ts = latest if back == 0 else datetime.combine(day, clock(12), zone).astimezone(UTC)
        for agent, model, mean in (("a", "m1", 20), ("a", "m2", 8), ("b", "m2", 30)):
            cost = Decimal(str(round(max(rng.gauss(mean, mean / 10), 0.01), 4)))
            if spike and back == 0 and (agent, model) == ("a", "m1"):
                cost = Decimal(mean * 4)
            events.append(
                event(len(events), timestamp=_z(ts), agent_id=agent, model=model, cost=str(cost), prompt_tokens=10)
            )
    return events


def _anomalies(engine, org) -> set[tuple[str, str, str]]:
    found = set()
    for row in _stored(engine, org.id, "anomaly"):
        details = json.loads(row.payload)["details"]
        found.add((details["scope"], details["subject"], details["day"]))
    return found


@pytest.mark.parametrize("spike", [True, False])
def test_anomaly_finds_a_planted_spike_and_nothing_in_noise(engine, org, spike):
    now = _now()
    events = _planted_history(org, now, spike)
    with engine.begin() as conn:
        ingest(conn, org.id, enumerate(events))
    settings = Settings.from_env({})
    first = run_alerts(engine, settings, org, now)
    # The planted event's agent and model on its local day, and nothing else.
    spiked = {
        (scope, name, datetime.fromisoformat(e["timestamp"]).astimezone(ZoneInfo(org.timezone)).date().isoformat())
        for e in events
        if Decimal(e["cost"]) == 80
        for scope, name in (("agent", e["agent_id"]), ("model", e["model"]))
    }
    assert len(spiked) == (2 if spike else 0)
    assert _anomalies(engine, org) == spiked
    assert len(first.created) == len(spiked)
    assert run_alerts(engine, settings, org, now).created == []  # a second run: nothing new


def test_a_runaway_conversation_alerts_once(engine, org):
    now = _now()
    events = [
        event(i, timestamp=_z(now - timedelta(minutes=10 * i)), conversation_id=conv, prompt_tokens=tokens)
        for i, (conv, tokens) in enumerate([("loop", 600), ("loop", 600), ("calm", 900), ("loop", 600)])
    ]
    old = event(9, timestamp=_z(now - timedelta(hours=2)), conversation_id="calm", prompt_tokens=5000)
    with engine.begin() as conn:
        ingest(conn, org.id, enumerate([*events, old]))
    settings = Settings.from_env({}, alert_runaway_tokens="2000")
    # In the last hour: loop 3 x (600 + 50) = 1950 ... plus what each event adds, counted here.
    used: dict[str, int] = {}
    for e in events:
        used[e["conversation_id"]] = used.get(e["conversation_id"], 0) + e["prompt_tokens"] + e["completion_tokens"]
    over = {c for c, t in used.items() if t > 2000}
    run_alerts(engine, settings, org, now)
    run_alerts(engine, settings, org, now)
    found = [json.loads(r.payload) for r in _stored(engine, org.id, "runaway")]
    assert {f["details"]["conversationId"] for f in found} == over
    assert len(found) == len(over)
    assert all(f["used"] == used[f["details"]["conversationId"]] for f in found)


def test_webhook_commands_name_the_bad_field(database_url, org, receiver):
    bad = run(database_url, "webhook", "add", "--org", org.name, "ftp://example.com/x")
    failed_cleanly(bad)
    assert "URL: must be an http:// or https:// URL" in bad.output
    short = run(database_url, "webhook", "add", "--org", org.name, receiver.url, "--secret", "short")
    failed_cleanly(short)
    assert "--secret: must be 16 to 200" in short.output
    fmt = run(database_url, "webhook", "add", "--org", org.name, receiver.url, "--format", "xml")
    assert fmt.exit_code == 2 and "--format" in fmt.output
    missing = run(database_url, "webhook", "delete", "--org", org.name, "999999")
    failed_cleanly(missing)
    assert "ID: no webhook 999999" in missing.output
    nobody = run(database_url, "alerts", "run", "--org", "no-such-org")
    failed_cleanly(nobody)
    assert "no-such-org" in nobody.output


def test_webhook_add_list_delete(database_url, org, receiver):
    added = run(database_url, "webhook", "add", "--org", org.name, receiver.url, "--format", "slack")
    ok(added)
    secret = added.output.strip().splitlines()[-1]
    assert secret.startswith("whsec_")
    webhook_id = added.output.split(":", 1)[0].removeprefix("webhook ")
    listed = run(database_url, "webhook", "list", "--org", org.name)
    assert receiver.url in listed.output and "slack" in listed.output and secret not in listed.output
    ok(run(database_url, "webhook", "delete", "--org", org.name, webhook_id))
    assert "no webhooks" in run(database_url, "webhook", "list", "--org", org.name).output


def test_slack_format_sends_text(database_url, engine, org, receiver, tmp_path):
    added = run(
        database_url, "webhook", "add", "--org", org.name, receiver.url, "--format", "slack", "--secret", SECRET
    )
    ok(added)
    ok(run(database_url, "budget", "set", "--org", org.name, "--usd", "10", "--thresholds", "50"))
    ok(
        run(
            database_url,
            "import",
            "--org",
            org.name,
            str(write_jsonl(tmp_path, [event(1, timestamp=_z(_now()), cost="7")])),
        )
    )
    (request,) = receiver.wait_for(1)
    body = verified_slack(request)
    assert set(body) == {"text"} and "passed 50%" in body["text"] and org.name in body["text"]


def verified_slack(request: Received) -> dict:
    parts = dict(item.split("=", 1) for item in request.headers["X-Billing-Signature"].split(","))
    expected = hmac.new(SECRET.encode(), parts["t"].encode() + b"." + request.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(parts["v1"], expected)
    return json.loads(request.body)


def test_projected_and_reset_alerts_come_once_per_period(engine, org, receiver):
    """A day budget of $4 after 28 days of $5: yesterday exceeded it; today used nothing yet, is
    projected to exceed it (the forecast of a steady $5 a day) and starts afresh (reset)."""
    now = _now()
    zone = ZoneInfo(org.timezone)
    today = now.astimezone(zone).date()
    events = [
        event(
            back,
            timestamp=_z(datetime.combine(today - timedelta(days=back), clock(12), zone).astimezone(UTC)),
            cost="5",
        )
        for back in range(1, 29)
    ]
    with engine.begin() as conn:
        add_webhook(conn, org.id, receiver.url, SECRET, "json")
        budget = set_budget(conn, org.id, "organization", "", "day", Decimal(4), None, (100,))
        ingest(conn, org.id, enumerate(events))
    settings = Settings.from_env({})
    yesterday = today - timedelta(days=1)
    first = run_alerts(engine, settings, org, now - timedelta(days=1))
    assert f"threshold:{budget.alert_key}:{yesterday.isoformat()}:100" in first.created
    second = run_alerts(engine, settings, org, now)
    assert sorted(second.created) == [f"projected:{budget.alert_key}:{today}", f"reset:{budget.alert_key}:{today}"]
    assert run_alerts(engine, settings, org, now).created == []
    bodies = {b["kind"]: b for b in (verified(r) for r in receiver.wait_for(len(first.created) + 2))}
    assert bodies["projected"]["forecast"] == 5 and bodies["projected"]["used"] == 0
    assert bodies["reset"]["details"]["previousPeriodStart"] == yesterday.isoformat()
    assert len(receiver.requests) == len(first.created) + 2


def test_api_and_dashboard_list_the_organizations_alerts(app, client, auth_headers, engine, org):
    import flask_login

    from billing_dash.auth import User, create_org

    other = None
    with engine.begin() as conn:
        set_budget(conn, org.id, "organization", "", "month", LIMIT, None, THRESHOLDS)
        other = create_org(conn, f"other-{org.name}", "UTC")
        set_budget(conn, other.id, "organization", "", "month", LIMIT, None, (50,))
    now = _now()
    assert post(client, auth_headers, [event(1, timestamp=_z(now), cost="9")]).status_code == 200
    with engine.begin() as conn:
        ingest(conn, other.id, enumerate([event(1, timestamp=_z(now), cost="9")]))
    run_alerts(engine, Settings.from_env({}), other, now)  # another organization's alert: never listed
    stored = _stored(engine, org.id)
    assert [a.kind for a in stored] == ["threshold", "threshold"]  # 50 and 80 of 90%

    answer = client.get("/api/v1/alerts", headers=auth_headers)
    assert answer.status_code == 200
    listed = json.loads(answer.data, parse_float=Decimal)["alerts"]
    newest_first = sorted(stored, key=lambda a: (a.created_at, a.id), reverse=True)
    assert listed == [json.loads(a.payload, parse_float=Decimal) for a in newest_first]
    assert valid(DOCUMENT["components"]["schemas"]["AlertList"], answer.get_json())
    one = client.get("/api/v1/alerts", headers=auth_headers, query_string={"limit": "1"}).get_json()["alerts"]
    assert [a["id"] for a in one] == [listed[0]["id"]]
    bad = client.get("/api/v1/alerts", headers=auth_headers, query_string={"limit": "0"})
    assert bad.status_code == 400 and bad.get_json()["error"]["code"] == "invalid_limit"

    page = sys.modules["billing_dash.pages.billing"]
    with app.server.test_request_context("/_dash-update-component", method="POST"):
        flask_login.login_user(User(1, "someone@example.com", org))
        shown = _texts(json.loads(to_json(page.load_alerts(None))))
    assert [t for t in shown if t in {a["message"] for a in listed}] == [a["message"] for a in listed]
    assert not any(other.name in t for t in shown)


def _texts(node) -> list[str]:
    """Every string of a layout as the browser gets it, in order."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, list):
        return [t for item in node for t in _texts(item)]
    if isinstance(node, dict):
        return _texts(node.get("props", {}).get("children"))
    return []


def test_the_development_server_runs_alerts_in_the_background(database_url, engine, org, receiver, tmp_path):
    """What `make run` serves: `serve` evaluates and sends alerts every --alerts-every seconds."""
    _setup(database_url, org, receiver.url)
    with engine.begin() as conn:  # stored without the ingest's hook: only the server's loop can alert
        ingest(conn, org.id, enumerate([event(1, timestamp=_z(_now()), cost="6")]))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        [*cli_command(), "serve", "--port", str(port), "--alerts-every", "1"],
        cwd=tmp_path,
        env={**os.environ, "DATABASE_URL": database_url},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        (request,) = receiver.wait_for(1, timeout=30)
        assert verified(request)["threshold"] == 50
        time.sleep(2.5)  # two more rounds: nothing new
        assert len(receiver.requests) == 1
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_a_budget_deleted_and_set_again_is_a_new_budget_for_its_alerts(engine, org, receiver):
    """SQLite may give the new budget the deleted one's id; its thresholds still alert once."""
    from billing_dash.alerts.budgets import delete_budget

    now = _now()
    with engine.begin() as conn:
        add_webhook(conn, org.id, receiver.url, SECRET, "json")
        first = set_budget(conn, org.id, "organization", "", "day", Decimal(4), None, (100,))
        ingest(conn, org.id, [(1, event(1, timestamp=_z(now), cost="5"))])
    settings = Settings.from_env({})
    created = run_alerts(engine, settings, org, now).created
    assert [k for k in created if k.startswith("threshold:")] == [f"threshold:{first.alert_key}:{_today(org, now)}:100"]
    with engine.begin() as conn:
        delete_budget(conn, org.id, first.id)
        again = set_budget(conn, org.id, "organization", "", "day", Decimal(4), None, (100,))
    assert again.alert_key != first.alert_key
    created = run_alerts(engine, settings, org, now).created
    assert [k for k in created if k.startswith("threshold:")] == [f"threshold:{again.alert_key}:{_today(org, now)}:100"]
    assert not [k for k in run_alerts(engine, settings, org, now).created if k.startswith("threshold:")]


def _today(org, now: datetime) -> str:
    return now.astimezone(ZoneInfo(org.timezone)).date().isoformat()
