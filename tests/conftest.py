"""Fixtures: a real SQLite file and a real PostgreSQL database, each migrated, and apps on them."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from billing_dash.auth import create_org, create_token, create_user
from billing_dash.config import Settings
from billing_dash.db import make_engine, upgrade
from billing_dash.web.app import create_app
from tests import PG_ADMIN_URL, unavailable

from .factories import TEST_PASSWORD
from .proxy import SwitchableProxy

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def make_postgres_database():
    """Factory of fresh, empty PostgreSQL databases (`options` are CREATE DATABASE's, e.g. a
    collation), each dropped after the session; returns its URL."""
    admin = make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    names: list[str] = []

    def make(options: str = "") -> str:
        name = f"billing_dash_test_{uuid.uuid4().hex[:10]}"
        try:
            with admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{name}" {options}'))
        except sa.exc.OperationalError as exc:
            unavailable(f"PostgreSQL is not reachable at {PG_ADMIN_URL} ({exc.orig}); start it with `make postgres`")
        names.append(name)
        return sa.engine.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)

    yield make
    if not names:
        return
    with admin.connect() as conn:
        for name in names:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def postgres_url(make_postgres_database):
    """A fresh database on the real PostgreSQL server, dropped after the session."""
    return make_postgres_database()


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request, tmp_path_factory):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'billing.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def engine(database_url):
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def app(database_url):
    # Tests log in wrongly on purpose; test_rate_limits checks the real limit on apps of its own.
    app = create_app(
        Settings.from_env(
            {},
            database_url=database_url,
            secret_key="test-secret",
            cors_origins="https://allowed.example",
            login_rate_limit="1000 per minute",
            login_ip_rate_limit="1000 per minute",
        )
    )
    app.server.config["TESTING"] = True
    yield app
    app.server.extensions["billing_dash.engine"].dispose()


@pytest.fixture
def client(app):
    return app.server.test_client()


@pytest.fixture
def org(engine):
    """A new organization per test: tests never see each other's data."""
    with engine.begin() as conn:
        return create_org(conn, f"org-{uuid.uuid4().hex[:12]}", "Europe/Berlin")


@pytest.fixture
def token(engine, org):
    with engine.begin() as conn:
        return create_token(conn, org, "test")


@pytest.fixture
def auth_headers(token):
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def user_email(engine, org):
    email = f"{org.name}@example.com"
    with engine.begin() as conn:
        create_user(conn, org, email, TEST_PASSWORD)
    return email


@pytest.fixture(params=BACKENDS)
def empty_database_url(request, tmp_path):
    """A new database without any schema, as a first deployment finds it."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    return request.getfixturevalue("make_postgres_database")()


@pytest.fixture
def proxy():
    """A switchable TCP proxy to the PostgreSQL server (see tests/proxy.py)."""
    p = SwitchableProxy(("127.0.0.1", 5432))
    try:
        yield p
    finally:
        p.stop()
