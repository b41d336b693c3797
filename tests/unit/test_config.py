"""Every setting is parsed and validated when Settings is built; a bad one is refused naming its variable."""

from __future__ import annotations

from dataclasses import fields

import pytest

from billing_dash.config import ConfigError, Settings


@pytest.mark.parametrize(
    "variable, value",
    [
        ("MAX_INGEST_EVENTS", "abc"),
        ("MAX_INGEST_EVENTS", "0"),
        ("MAX_INGEST_EVENTS", "-5"),
        ("MAX_INGEST_EVENTS", "1e4"),
        ("TRUST_PROXY", "yes"),
        ("TRUST_PROXY", "-1"),
        ("LOG_LEVEL", "LOUD"),
        ("LOGIN_RATE_LIMIT", "five a minute"),
        ("REDIS_URL", "http://127.0.0.1:6379/0"),
        ("REDIS_URL", "127.0.0.1:6379"),
        ("CORS_ORIGINS", "https://ok.example, app.example.com"),
        ("CORS_ORIGINS", "https://app.example.com/path"),
        ("DATABASE_URL", "mysql://user@db/billing"),
        ("DATABASE_URL", "postgresq://user@db/billing"),
        ("DATABASE_URL", "postgresql+asyncpg://user@db/billing"),
        ("DATABASE_URL", "billing.db"),
        ("DATABASE_URL", ""),
    ],
)
def test_a_bad_setting_is_refused_naming_its_variable(variable, value):
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({variable: value})
    message = str(raised.value)
    assert message.startswith(f"{variable}: ")
    assert "\n" not in message


def test_database_url_error_names_what_is_supported_and_hides_the_password():
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({"DATABASE_URL": "mysql://billing:s3cret@db/billing"})
    assert "sqlite://" in str(raised.value) and "postgresql://" in str(raised.value)
    assert "s3cret" not in str(raised.value)
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({"REDIS_URL": "http://:s3cret@127.0.0.1:6379/0"})
    assert "s3cret" not in str(raised.value)


@pytest.mark.parametrize(
    "url",
    [
        "postgres://billing:pw@db:5433/billing",
        "postgresql://billing:pw@db:5433/billing",
        "postgresql+psycopg://billing:pw@db:5433/billing",
    ],
)
def test_postgresql_urls_all_mean_psycopg_3(url):
    assert Settings.from_env({"DATABASE_URL": url}).database_url == "postgresql+psycopg://billing:pw@db:5433/billing"


def test_settings_have_their_declared_types():
    settings = Settings.from_env({"MAX_INGEST_EVENTS": " 250 ", "TRUST_PROXY": "2", "LOG_LEVEL": "debug"})
    assert (settings.max_ingest_events, settings.trust_proxy, settings.log_level) == (250, 2, "DEBUG")
    defaults = Settings.from_env({})
    for f in fields(Settings):
        assert isinstance(getattr(defaults, f.name), type(f.default)), f.name
    assert defaults == Settings()


def test_overrides_are_validated_like_the_environment():
    with pytest.raises(ConfigError, match=r"^MAX_INGEST_EVENTS: "):
        Settings.from_env({}, max_ingest_events="many")
    assert Settings.from_env({}, trust_proxy=1).trust_proxy == 1
