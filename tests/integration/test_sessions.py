"""A session ends on the server: logout and a password change make copied session cookies worthless."""

from __future__ import annotations

import sqlalchemy as sa
from click.testing import CliRunner

from billing_dash.cli import main
from billing_dash.db import make_engine, upgrade
from billing_dash.models import users

from ..factories import TEST_PASSWORD, login, logout

READS = ("/_dash-layout", "/api/v1/analytics/billing")


def copy_session(source, target) -> None:
    target.set_cookie("session", source.get_cookie("session").value)


def reads(client) -> list[int]:
    return [client.get(path).status_code for path in READS]


def test_a_copied_session_cookie_dies_with_logout(app, user_email):
    browser, thief = app.server.test_client(), app.server.test_client()
    login(browser, user_email, TEST_PASSWORD)
    copy_session(browser, thief)
    assert reads(thief) == [200, 200]
    logout(browser)
    assert reads(thief) == [401, 401]
    # Logging in again gives a new, working session.
    login(browser, user_email, TEST_PASSWORD)
    assert reads(browser) == [200, 200]


def test_set_password_ends_every_session_and_changes_the_password(app, database_url, user_email):
    browser, thief = app.server.test_client(), app.server.test_client()
    login(browser, user_email, TEST_PASSWORD)
    copy_session(browser, thief)
    result = CliRunner().invoke(
        main,
        ["set-password", "--email", user_email.upper(), "--password", "new-password-1"],
        env={"DATABASE_URL": database_url},
    )
    assert result.exit_code == 0, result.output
    assert reads(thief) == [401, 401] and reads(browser) == [401, 401]
    assert login(browser, user_email, TEST_PASSWORD).status_code == 401
    assert login(browser, user_email, "new-password-1").status_code == 302


def test_set_password_names_the_problem(database_url, user_email):
    runner = CliRunner()
    unknown = runner.invoke(
        main,
        ["set-password", "--email", "nobody@example.com", "--password", "long-enough"],
        env={"DATABASE_URL": database_url},
    )
    short = runner.invoke(
        main, ["set-password", "--email", user_email, "--password", "short"], env={"DATABASE_URL": database_url}
    )
    assert unknown.exit_code == short.exit_code == 1
    assert "nobody@example.com" in unknown.output and "8 characters" in short.output
    assert "Traceback" not in unknown.output + short.output


def test_the_migration_gives_each_existing_user_its_own_token(empty_database_url):
    engine = make_engine(empty_database_url)
    try:
        upgrade(engine, "0004")
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO organizations (name, timezone, created_at) VALUES ('o', 'UTC', '2026-01-01 00:00:00')"
                )
            )
            for i in range(3):
                conn.execute(
                    sa.text(
                        "INSERT INTO users (organization_id, email, password_hash, created_at) "
                        f"VALUES (1, 'u{i}@example.com', 'x', '2026-01-01 00:00:00')"
                    )
                )
        upgrade(engine)
        with engine.connect() as conn:
            tokens = [t for (t,) in conn.execute(sa.select(users.c.session_token))]
        assert len(tokens) == len(set(tokens)) == 3 and all(len(t) >= 32 for t in tokens)
    finally:
        engine.dispose()
