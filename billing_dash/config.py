"""Settings: every knob declared once, read from the environment into one frozen object."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field, fields
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# This instance's own files: the default SQLite database and the development server's secret key.
INSTANCE_DIR = ROOT / "instance"


def _setting(env: str, default: str, help: str) -> object:
    return field(default=default, metadata={"env": env, "help": help})


@dataclass(frozen=True)
class Settings:
    """Configuration of one deployment. Build it with `Settings.from_env()`."""

    database_url: str = _setting(
        "DATABASE_URL",
        f"sqlite:///{INSTANCE_DIR / 'billing.db'}",
        "Any SQLAlchemy URL. SQLite for the embedded default, "
        "`postgresql+psycopg://user@host/db` in production.",
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
    )
    max_ingest_events: str = _setting(
        "MAX_INGEST_EVENTS",
        "10000",
        "Largest batch `POST /api/v1/usage` accepts; larger batches get 413.",
    )
    redis_url: str = _setting(
        "REDIS_URL",
        "",
        "Redis for the login rate limits, shared by all workers (`redis://127.0.0.1:6379/0`); "
        "empty: each process counts on its own, so N gunicorn workers allow up to N times the limits.",
    )
    login_rate_limit: str = _setting(
        "LOGIN_RATE_LIMIT",
        "5 per minute",
        "Login attempts allowed per account, right or wrong (each is counted before the password is checked).",
    )
    login_ip_rate_limit: str = _setting(
        "LOGIN_IP_RATE_LIMIT",
        "20 per minute",
        "Login attempts allowed per client IP, over all accounts; looser than the per-account limit, "
        "so one person's typos do not lock out an office behind the same address.",
    )
    trust_proxy: str = _setting(
        "TRUST_PROXY",
        "0",
        "Reverse proxies in front of the app whose X-Forwarded-For/-Proto to trust (for client IPs "
        "in rate limits and Secure cookies behind TLS). Keep 0 without a proxy: clients could fake both.",
    )
    log_level: str = _setting("LOG_LEVEL", "INFO", "Python logging level of the app.")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: str) -> "Settings":
        env = os.environ if environ is None else environ
        values = {f.name: env.get(f.metadata["env"], f.default) for f in fields(cls)}
        values.update(overrides)
        return cls(**values)

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]

    @property
    def max_ingest_batch(self) -> int:
        return int(self.max_ingest_events)


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
        default = f.default.replace(str(ROOT) + "/", "") if f.default else "(empty)"
        rows.append(f"| `{f.metadata['env']}` | `{default}` | {f.metadata['help']} |")
    return "\n".join(rows)
