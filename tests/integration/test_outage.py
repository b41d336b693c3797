"""Database outage through a switchable TCP proxy: 503 + Retry-After and the alert while down, self-recovery after."""

from __future__ import annotations

import sys
import time
import uuid

import flask_login
import pytest
import sqlalchemy as sa
from dash import no_update

from billing_dash.auth import User, create_org, create_token
from billing_dash.config import Settings
from billing_dash.db import make_engine, upgrade
from billing_dash.web.app import create_app

REPORT = "/api/v1/analytics/billing"
QUERY = {"period": "custom", "startDate": "2026-01-01", "endDate": "2026-01-31"}


@pytest.fixture
def pg(postgres_url):
    """The session PostgreSQL database, migrated, with an organization and a read token in it."""
    engine = make_engine(postgres_url)
    try:
        upgrade(engine)
        with engine.begin() as conn:
            org = create_org(conn, f"outage-{uuid.uuid4().hex[:12]}", "Europe/Berlin")
            token = create_token(conn, org, "outage")
    finally:
        engine.dispose()
    return postgres_url, org, token


@pytest.fixture
def outage_app(pg, proxy):
    url, _, _ = pg
    proxied = sa.engine.make_url(url).set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    app = create_app(Settings.from_env({}, database_url=proxied, secret_key="s"))
    try:
        yield app
    finally:
        app.server.extensions["billing_dash.engine"].dispose()


def _eventually(check, timeout: float = 10.0, interval: float = 0.1):
    """Call `check` (returning `(ok, what_was_seen)`) until ok; give up after `timeout`, returning the last."""
    deadline = time.monotonic() + timeout
    while True:
        ok, seen = check()
        if ok or time.monotonic() > deadline:
            return ok, seen
        time.sleep(interval)


def test_outage_answers_503_and_recovers_without_restart(outage_app, pg, proxy):
    _, org, token = pg
    client = outage_app.server.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    page = sys.modules["billing_dash.pages.billing"]

    def load_report():
        with outage_app.server.test_request_context("/_dash-update-component", method="POST"):
            flask_login.login_user(User(1, "someone@example.com", org))
            return page.load_report("custom", "2026-01-01", "2026-01-31", None)

    def all_up():
        health = client.get("/healthz")
        report = client.get(REPORT, headers=headers, query_string=QUERY)
        data, alert_open = load_report()[:2]
        ok = (
            health.status_code == 200
            and health.get_json() == {"status": "ok"}
            and report.status_code == 200
            and report.get_json()["summary"]["totalMessages"] == 0
            and isinstance(data, dict)
            and alert_open is False
        )
        return ok, (health.status_code, report.status_code, alert_open)

    # 1) Up: everything answers, and the pool holds live connections through the proxy.
    ok, seen = all_up()
    assert ok, seen
    assert proxy.accepted >= 1

    # 2) Down: the pooled connections are cut and no new one gets through.
    proxy.down()
    started = time.monotonic()
    bodies = []

    health = client.get("/healthz")
    bodies.append(health.get_data(as_text=True))
    assert health.status_code == 503
    assert health.headers.get("Retry-After")
    assert health.get_json()["error"]["code"] == "database_unavailable"

    # The token lookup already needs the database: its 503 is the right answer too.
    report = client.get(REPORT, headers=headers, query_string=QUERY)
    bodies.append(report.get_data(as_text=True))
    assert report.status_code == 503
    assert report.headers.get("Retry-After")
    assert report.mimetype == "application/json"
    assert report.get_json()["error"]["code"] == "database_unavailable"

    assert load_report()[:5] == (no_update, True, False, None, True)  # the dashboard's alert opens, the widgets hide
    assert set(load_report()[5:]) == {no_update}  # and keep what they had, hidden

    assert not any("Traceback" in body for body in bodies), bodies
    assert time.monotonic() - started < 10, "an outage must be answered fast, not after long timeouts"

    # 3) Up again: the very same app object recovers on its own (pre-ping drops the dead connections).
    proxy.up()
    ok, seen = _eventually(all_up, timeout=10)
    assert ok, f"no recovery after the database came back: healthz, report, alert = {seen}"


def test_a_database_restart_between_requests_is_invisible(outage_app, pg, proxy):
    """Pre-ping: connections cut while the app was idle are replaced at checkout, so no request fails."""
    _, _, token = pg
    client = outage_app.server.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/healthz").status_code == 200
    assert client.get(REPORT, headers=headers, query_string=QUERY).status_code == 200
    before = proxy.accepted

    proxy.down()  # every pooled connection dies...
    proxy.up()  # ...and the database is back before the next request

    health = client.get("/healthz")
    assert health.status_code == 200, health.get_data(as_text=True)
    report = client.get(REPORT, headers=headers, query_string=QUERY)
    assert report.status_code == 200, report.get_data(as_text=True)
    assert proxy.accepted > before  # a fresh connection replaced the dead one
