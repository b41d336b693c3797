"""A database without the newest schema is reported as such, by /healthz, the API, login, the dashboard and the CLI."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory
from click.testing import CliRunner

from billing_dash.auth import create_org, create_token
from billing_dash.cli import main
from billing_dash.config import Settings
from billing_dash.db import MIGRATIONS, alembic_config, make_engine, upgrade
from billing_dash.pages import DASHBOARD_PATH
from billing_dash.web.app import create_app

REPORT = "/api/v1/analytics/billing"
UPGRADE = "billing-dash db upgrade"
HEAD = ScriptDirectory(str(MIGRATIONS)).get_current_head()
# The revision before the newest one: a database an older release left behind.
BEHIND = ScriptDirectory(str(MIGRATIONS)).get_revision(HEAD).down_revision


@pytest.fixture
def make_app():
    made = []

    def make(url: str):
        app = create_app(Settings.from_env({}, database_url=url, secret_key="s"))
        made.append(app)
        return app.server.test_client()

    yield make
    for app in made:
        app.server.extensions["billing_dash.engine"].dispose()


@pytest.fixture
def db_engine(empty_database_url):
    engine = make_engine(empty_database_url)
    yield engine
    engine.dispose()


def not_migrated(response) -> str:
    """The message of a 503 database_not_migrated JSON answer that tells what to run."""
    assert response.status_code == 503, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["code"] == "database_not_migrated", error
    assert UPGRADE in error["message"]
    return error["message"]


def not_migrated_page(response) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)
    assert UPGRADE in response.get_data(as_text=True)


def cli_fails_with_upgrade_hint(url: str) -> None:
    result = CliRunner().invoke(main, ["create-org", "Acme"], env={"DATABASE_URL": url})
    assert result.exit_code == 1, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and UPGRADE in lines[0], result.output


def test_empty_database_is_not_ready_anywhere_until_migrated(empty_database_url, db_engine, make_app):
    client = make_app(empty_database_url)
    not_migrated(client.get("/healthz"))
    not_migrated(client.get(REPORT, headers={"Authorization": "Bearer some-token"}))
    not_migrated(client.post("/api/v1/usage", json={"events": []}, headers={"Authorization": "Bearer t"}))
    not_migrated(client.get("/_dash-layout"))
    not_migrated_page(client.get("/login"))
    not_migrated_page(client.post("/login", data={"email": "a@example.com", "password": "p"}))
    not_migrated_page(client.get(DASHBOARD_PATH))
    cli_fails_with_upgrade_hint(empty_database_url)

    # Migrating while the app runs makes it ready, without a restart.
    upgrade(db_engine)
    assert client.get("/healthz").status_code == 200
    assert client.get(REPORT, headers={"Authorization": "Bearer unknown"}).status_code == 401
    assert client.get("/login").status_code == 200


def test_schema_behind_the_newest_migration_is_not_ready(empty_database_url, db_engine, make_app):
    upgrade(db_engine, BEHIND)
    with db_engine.begin() as conn:
        token = create_token(conn, create_org(conn, "Acme", "UTC"), "t")
    client = make_app(empty_database_url)
    message = not_migrated(client.get("/healthz"))
    assert BEHIND in message and HEAD in message
    not_migrated(client.get(REPORT, headers={"Authorization": f"Bearer {token}"}))
    cli_fails_with_upgrade_hint(empty_database_url)

    upgrade(db_engine)
    assert client.get(REPORT, headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_schema_lost_while_the_app_runs_is_reported_on_the_error_path(empty_database_url, db_engine, make_app):
    upgrade(db_engine)
    with db_engine.begin() as conn:
        token = create_token(conn, create_org(conn, "Acme", "UTC"), "t")
    client = make_app(empty_database_url)
    assert client.get(REPORT, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    # Before usage_day, which every report in the organization's zone reads.
    command.downgrade(alembic_config(db_engine), "0003")
    not_migrated(client.get(REPORT, headers={"Authorization": f"Bearer {token}"}))
    not_migrated(client.get("/healthz"))


def test_a_ready_database_costs_requests_no_schema_check(database_url, make_app):
    client = make_app(database_url)
    engine = client.application.extensions["billing_dash.engine"]
    statements = []

    def record(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        assert client.get(REPORT).status_code == 401
        assert client.get("/login").status_code == 200
        assert client.get("/api/v1/openapi.json").status_code == 200
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    assert statements == []
