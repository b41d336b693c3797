"""Starting with a bad setting or DATABASE_URL: one clear line and exit 1 from the real CLI and the WSGI app, never a traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from billing_dash.config import Settings
from billing_dash.web.app import create_app
from tests import ROOT

from ..factories import cli_command, event

TIMEOUT = 120


def cli(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*cli_command(), *args], env={**os.environ, **env}, cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT
    )


def refused(result: subprocess.CompletedProcess, variable: str) -> str:
    """Exit 1 and a single line on stderr that names the variable; the line is returned."""
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and variable in lines[0], result.stderr
    return lines[0]


@pytest.mark.parametrize(
    "url",
    [
        "mysql://billing@127.0.0.1/billing",
        "postgresq://postgres@127.0.0.1/x",
        "mssql+pyodbc://sa@db/billing",
        "127.0.0.1:5432/billing",
        "",
    ],
)
def test_unsupported_or_malformed_database_url_is_one_line_naming_what_is_supported(url):
    line = refused(cli("db", "upgrade", DATABASE_URL=url), "DATABASE_URL")
    assert "sqlite:///" in line and "postgresql://" in line


def test_unwritable_sqlite_path_is_one_line(tmp_path):
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("")
    refused(cli("db", "upgrade", DATABASE_URL=f"sqlite:///{not_a_folder}/billing.db"), "DATABASE_URL")
    refused(cli("create-org", "Acme", DATABASE_URL=f"sqlite:///{tmp_path}"), "DATABASE_URL")


@pytest.mark.parametrize("empty_database_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("scheme", ["postgres", "postgresql", "postgresql+psycopg"])
def test_every_postgresql_scheme_works_with_psycopg_3(empty_database_url, scheme):
    url = sa.engine.make_url(empty_database_url).set(drivername=scheme).render_as_string(hide_password=False)
    for args in (["db", "upgrade"], ["create-org", "Acme"], ["create-token", "--org", "Acme"]):
        result = cli(*args, DATABASE_URL=url)
        assert result.returncode == 0, result.stderr


def test_bad_setting_stops_the_cli_with_one_line(tmp_path):
    refused(cli("config", MAX_INGEST_EVENTS="abc"), "MAX_INGEST_EVENTS")
    refused(cli("db", "upgrade", DATABASE_URL=f"sqlite:///{tmp_path / 'b.db'}", LOG_LEVEL="LOUD"), "LOG_LEVEL")


def test_bad_setting_stops_the_wsgi_app_with_one_line(tmp_path):
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent))
    if gunicorn is None:
        pytest.skip("gunicorn is not installed next to this Python")
    env = {
        **os.environ,
        "SECRET_KEY": "s",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'b.db'}",
        "MAX_INGEST_EVENTS": "abc",
        "PYTHONPATH": str(ROOT),
    }
    result = subprocess.run(
        [gunicorn, "--bind", "127.0.0.1:0", "--workers", "1", "app:server"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "MAX_INGEST_EVENTS: " in result.stderr


def test_openapi_states_the_configured_batch_limit(database_url, org, token):
    app = create_app(Settings.from_env({}, database_url=database_url, secret_key="s", max_ingest_events="7"))
    try:
        client = app.server.test_client()
        document = client.get("/api/v1/openapi.json").get_json()
        limit = document["components"]["schemas"]["IngestRequest"]["properties"]["events"]["maxItems"]
        assert limit == 7
        assert f"At most {limit:,} events" in document["paths"]["/api/v1/usage"]["post"]["description"]
        headers = {"Authorization": f"Bearer {token}"}
        over = client.post("/api/v1/usage", json={"events": [event(n) for n in range(limit + 1)]}, headers=headers)
        assert over.status_code == 413
        at = client.post("/api/v1/usage", json={"events": [event(n) for n in range(limit)]}, headers=headers)
        assert at.status_code == 200 and at.get_json()["inserted"] == limit
    finally:
        app.server.extensions["billing_dash.engine"].dispose()
