"""Settings: every knob declared once, read from the environment into one frozen object."""

from __future__ import annotations

import logging
import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from decimal import Decimal
from pathlib import Path
from typing import TypeVar, overload
from urllib.parse import urlsplit

from limits import parse_many
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

# This instance's own files: the default SQLite database and the development server's secret key.
# Relative, so they are the current directory's (the checkout for `make run`), never the package's.
INSTANCE_DIR = Path("instance")

SUPPORTED_DATABASES = (
    "use sqlite:///path/to/billing.db or postgresql://user:password@host/db "
    "(postgres:// and postgresql+psycopg:// mean the same, with psycopg 3)"
)
_POSTGRESQL = {"postgres", "postgresql", "postgresql+psycopg"}
_SQLITE = {"sqlite", "sqlite+pysqlite"}


class ConfigError(ValueError):
    """A setting is unusable; the message names its environment variable and fits on one line."""


def _text(raw: str) -> str:
    return raw


def _whole_number(minimum: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        if not (raw.strip().isascii() and raw.strip().isdigit() and int(raw) >= minimum):
            raise ValueError(f"must be a whole number >= {minimum}, got {raw!r}")
        return int(raw)

    return parse


def _decimal(minimum: str) -> Callable[[str], Decimal]:
    def parse(raw: str) -> Decimal:
        text = raw.strip()
        if not re.fullmatch(r"\d{1,12}(\.\d{1,10})?", text, re.ASCII) or Decimal(text) < Decimal(minimum):
            raise ValueError(f"must be a decimal number >= {minimum}, got {raw!r}")
        return Decimal(text)

    return parse


def _database_url(raw: str) -> str:
    try:
        url = make_url(raw)
    except (ArgumentError, ValueError):
        # Not echoed: the text may hold a password.
        raise ValueError(f"not a database URL; {SUPPORTED_DATABASES}") from None
    if url.drivername in _POSTGRESQL:
        return url.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    if url.drivername not in _SQLITE:
        raise ValueError(f"{url.drivername!r} is not supported; {SUPPORTED_DATABASES}")
    return raw


def _origins(raw: str) -> str:
    for origin in filter(None, (o.strip() for o in raw.split(","))):
        if not re.fullmatch(r"https?://[^/?#\s]+", origin):
            raise ValueError(f"{origin!r} is not an origin such as https://app.example.com (no path)")
    return raw


def _redis_url(raw: str) -> str:
    scheme = urlsplit(raw).scheme
    if raw and scheme not in ("redis", "rediss", "unix"):
        # Only the scheme is echoed: the URL may hold a password.
        raise ValueError(f"must be a redis://, rediss:// or unix:// URL (or empty), got {scheme or 'no'} scheme")
    return raw


def _rate_limit(raw: str) -> str:
    try:
        parse_many(raw)
    except ValueError:
        raise ValueError(f"must read like '5 per minute', got {raw!r}") from None
    return raw


def _log_level(raw: str) -> str:
    if raw.strip().upper() not in logging.getLevelNamesMapping():
        raise ValueError(f"must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got {raw!r}")
    return raw.strip().upper()


_T = TypeVar("_T")


@overload
def _setting(env: str, default: str, help: str) -> str: ...
@overload
def _setting(env: str, default: str, help: str, parse: Callable[[str], _T]) -> _T: ...
def _setting(env: str, default: str, help: str, parse: Callable[[str], object] = _text) -> object:
    # The class default is the parsed one; README's table shows the text, as it would be set.
    return field(default=parse(default), metadata={"env": env, "help": help, "text": default, "parse": parse})


@dataclass(frozen=True)
class Settings:
    """Configuration of one deployment. Build it with `Settings.from_env()`."""

    database_url: str = _setting(
        "DATABASE_URL",
        f"sqlite:///{INSTANCE_DIR / 'billing.db'}",
        "SQLite (`sqlite:///path/to/billing.db`) for the embedded default, PostgreSQL "
        "(`postgresql://user@host/db`; `postgres://` and `postgresql+psycopg://` alike, all with psycopg 3) "
        "in production. Other databases are refused.",
        _database_url,
    )
    secret_key: str = _setting(
        "SECRET_KEY",
        "",
        "Signs login sessions and CSRF tokens. Required by the production WSGI app "
        "(`app:server`); without it `billing-dash serve` generates a random key once and keeps it "
        "in `instance/secret_key` (mode 0600).",
    )
    cors_origins: str = _setting(
        "CORS_ORIGINS",
        "",
        "Comma-separated browser origins allowed to call `/api/*` (none by default).",
        _origins,
    )
    max_ingest_events: int = _setting(
        "MAX_INGEST_EVENTS",
        "10000",
        "Largest batch `POST /api/v1/usage` accepts; larger batches get 413.",
        _whole_number(1),
    )
    redis_url: str = _setting(
        "REDIS_URL",
        "",
        "Redis for the login rate limits, shared by all workers (`redis://127.0.0.1:6379/0`); "
        "empty: each process counts on its own, so N gunicorn workers allow up to N times the limits.",
        _redis_url,
    )
    login_rate_limit: str = _setting(
        "LOGIN_RATE_LIMIT",
        "5 per minute",
        "Login attempts allowed per account, right or wrong (each is counted before the password is checked).",
        _rate_limit,
    )
    login_ip_rate_limit: str = _setting(
        "LOGIN_IP_RATE_LIMIT",
        "20 per minute",
        "Login attempts allowed per client IP, over all accounts; looser than the per-account limit, "
        "so one person's typos do not lock out an office behind the same address.",
        _rate_limit,
    )
    trust_proxy: int = _setting(
        "TRUST_PROXY",
        "0",
        "Reverse proxies in front of the app whose X-Forwarded-For/-Proto to trust (for client IPs "
        "in rate limits and Secure cookies behind TLS). Keep 0 without a proxy: clients could fake both.",
        _whole_number(0),
    )
    log_level: str = _setting("LOG_LEVEL", "INFO", "Python logging level of the app.", _log_level)
    alert_anomaly_mads: Decimal = _setting(  # noqa: RUF009 (a Decimal is immutable)
        "ALERT_ANOMALY_MADS",
        "5",
        "Anomaly alerts: how many scaled median absolute deviations (1.4826 x MAD) above the median "
        "of the previous 28 days an agent's or a model's day must cost.",
        _decimal("0"),
    )
    alert_anomaly_min_usd: Decimal = _setting(  # noqa: RUF009 (a Decimal is immutable)
        "ALERT_ANOMALY_MIN_USD",
        "5",
        "Anomaly alerts: the least a day must cost above that median, so noise on tiny spend stays quiet.",
        _decimal("0"),
    )
    alert_runaway_tokens: int = _setting(
        "ALERT_RUNAWAY_TOKENS",
        "2000000",
        "Runaway alerts: tokens (prompt + completion) one conversation may use in the last hour; 0 turns them off.",
        _whole_number(0),
    )
    webhook_timeout_seconds: int = _setting(
        "WEBHOOK_TIMEOUT_SECONDS",
        "5",
        "How long a webhook delivery waits for the receiver's answer before it counts as failed and is retried.",
        _whole_number(1),
    )
    webhook_max_attempts: int = _setting(
        "WEBHOOK_MAX_ATTEMPTS",
        "8",
        "Delivery attempts per alert and webhook (backoff 30 s doubling, at most 1 h apart) before it is marked failed.",
        _whole_number(1),
    )

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: object) -> Settings:
        """Read and validate every setting (`overrides` by field name win); ConfigError names a bad one."""
        env = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            name = f.metadata["env"]
            raw = overrides.pop(f.name) if f.name in overrides else env.get(name, f.metadata["text"])
            try:
                values[f.name] = f.metadata["parse"](str(raw))
            except ValueError as exc:
                raise ConfigError(f"{name}: {exc}") from None
        if overrides:
            raise TypeError(f"unknown settings: {', '.join(overrides)}")
        return cls(**values)

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]


def instance_secret_key() -> str:
    """This instance's random secret key for the development server: made on first use, then reused."""
    path = INSTANCE_DIR / "secret_key"
    if not path.exists():
        INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
        # Written whole to a private file, then linked into place: a server starting at the same
        # time reads either no file or the complete key, and the first link wins.
        tmp = path.with_name(f".secret_key.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48) + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()


def settings_table() -> str:
    """The configuration table of README, generated so it cannot drift from the code."""
    rows = ["| Variable | Default | Meaning |", "| --- | --- | --- |"]
    for f in fields(Settings):
        default = f.metadata["text"] or "(empty)"
        rows.append(f"| `{f.metadata['env']}` | `{default}` | {f.metadata['help']} |")
    return "\n".join(rows)
