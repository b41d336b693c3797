"""Accounts and access: organizations, users and their logins, API tokens and who a request is for."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, select, update
from sqlalchemy.exc import OperationalError
from werkzeug.security import check_password_hash, generate_password_hash

from .models import api_tokens, organizations, users
from .periods import parse_timezone

TOKEN_PREFIX = "bd_"
SCOPES = ("read", "ingest")
# Compared against when the email is unknown, so both failures cost the same time.
_DUMMY_HASH = generate_password_hash("not-a-real-password", method="scrypt")


class AccountError(ValueError):
    """A user-facing problem with an account operation (unknown org, duplicate email, ...)."""


# A token's last use is recorded to the minute: a write on every API call would put an UPDATE
# (and its lock and WAL) on the hot path of every read.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Organization:
    id: int
    name: str
    timezone: str


@dataclass(frozen=True)
class Caller:
    """Who a request acts for: the tenant comes from here and nowhere else."""

    org: Organization
    scopes: frozenset[str]


def create_org(conn: Connection, name: str, tz: str = "UTC") -> Organization:
    name = name.strip()
    if not name:
        raise AccountError("The organization needs a name.")
    parse_timezone(tz)
    if conn.execute(select(organizations.c.id).where(organizations.c.name == name)).first():
        raise AccountError(f"Organization {name!r} already exists.")
    org_id = conn.execute(
        organizations.insert().values(name=name, timezone=tz, created_at=_now()).returning(organizations.c.id)
    ).scalar_one()
    return Organization(org_id, name, tz)


def get_org(conn: Connection, name: str) -> Organization:
    row = conn.execute(select(organizations).where(organizations.c.name == name)).first()
    if row is None:
        raise AccountError(f"No organization named {name!r}.")
    return Organization(row.id, row.name, row.timezone)


def set_span_cost(conn: Connection, org: Organization, on: bool) -> None:
    """Whether the organization's OTLP spans keep their own cost (llm.cost.total) instead of being priced."""
    conn.execute(update(organizations).where(organizations.c.id == org.id).values(span_cost=on))


def create_user(conn: Connection, org: Organization, email: str, password: str) -> int:
    email = email.strip().lower()
    if "@" not in email:
        raise AccountError(f"{email!r} is not an email address.")
    _check_password_rules(password)
    if conn.execute(select(users.c.id).where(users.c.email == email)).first():
        raise AccountError(f"A user with email {email!r} already exists.")
    return conn.execute(
        users.insert()
        .values(
            organization_id=org.id,
            email=email,
            password_hash=generate_password_hash(password, method="scrypt"),
            created_at=_now(),
            session_token=_new_session_token(),
        )
        .returning(users.c.id)
    ).scalar_one()


def _new_session_token() -> str:
    return secrets.token_hex(32)


def _check_password_rules(password: str) -> None:
    if len(password) < 8:
        raise AccountError("The password needs at least 8 characters.")


def set_password(conn: Connection, email: str, password: str) -> None:
    """Change a user's password and end every session they have."""
    _check_password_rules(password)
    email = email.strip().lower()
    done = conn.execute(
        update(users)
        .where(users.c.email == email)
        .values(password_hash=generate_password_hash(password, method="scrypt"), session_token=_new_session_token())
    )
    if done.rowcount == 0:
        raise AccountError(f"No user with email {email!r}.")


def end_sessions(conn: Connection, user_id: int) -> None:
    """Log a user out everywhere: the session token every login session carries is replaced."""
    conn.execute(update(users).where(users.c.id == user_id).values(session_token=_new_session_token()))


class User:
    """The logged-in person, as flask-login keeps them in the session (its user attributes written out, so
    the CLI does not import the web stack for them)."""

    is_authenticated = True
    is_active = True
    is_anonymous = False

    def __init__(self, user_id: int, email: str, org: Organization, session_token: str = "") -> None:
        self.id = user_id
        self.email = email
        self.org = org
        self.session_token = session_token

    def get_id(self) -> str:
        # What the session cookie keeps: the cookie only counts while the token is the stored one.
        return f"{self.id}:{self.session_token}"


_ORG_COLUMNS = (organizations.c.id.label("org_id"), organizations.c.name.label("org_name"), organizations.c.timezone)
_USER_SELECT = select(users.c.id, users.c.email, users.c.password_hash, users.c.session_token, *_ORG_COLUMNS).join(
    organizations, organizations.c.id == users.c.organization_id
)


def _row_org(row: Row[*tuple[Any, ...]]) -> Organization:
    return Organization(row.org_id, row.org_name, row.timezone)


def _user(row: Row[*tuple[Any, ...]]) -> User:
    return User(row.id, row.email, _row_org(row), row.session_token)


def load_user(conn: Connection, session_id: str) -> User | None:
    """The user of a login session's "id:token", while that token is still the user's."""
    user_id, _, token = session_id.partition(":")
    if not (user_id.isascii() and user_id.isdigit() and len(user_id) <= 10 and token):
        return None
    row = conn.execute(_USER_SELECT.where(users.c.id == int(user_id))).first()
    return _user(row) if row and secrets.compare_digest(row.session_token.encode(), token.encode()) else None


def authenticate(conn: Connection, email: str, password: str) -> User | None:
    """The user with this email and password, or None; unknown emails take as long as wrong passwords."""
    row = conn.execute(_USER_SELECT.where(users.c.email == email.strip().lower())).first()
    if row is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    return _user(row) if check_password_hash(row.password_hash, password) else None


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(conn: Connection, org: Organization, name: str, scopes: tuple[str, ...] = SCOPES) -> str:
    """Create an API token and return it; only its hash is stored, so this is the one time it is seen."""
    bad = set(scopes) - set(SCOPES)
    if bad or not scopes:
        raise AccountError(f"Scopes must be among {', '.join(SCOPES)}.")
    exists = select(api_tokens.c.id).where(api_tokens.c.organization_id == org.id, api_tokens.c.name == name)
    if conn.execute(exists).first():
        raise AccountError(f"Organization {org.name!r} already has a token named {name!r}.")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    conn.execute(
        api_tokens.insert().values(
            organization_id=org.id,
            name=name,
            token_hash=_hash_token(token),
            scopes=" ".join(s for s in SCOPES if s in scopes),
            created_at=_now(),
        )
    )
    return token


def revoke_token(conn: Connection, org: Organization, name: str) -> None:
    done = conn.execute(
        update(api_tokens)
        .where(api_tokens.c.organization_id == org.id, api_tokens.c.name == name, api_tokens.c.revoked_at.is_(None))
        .values(revoked_at=_now())
    )
    if done.rowcount == 0:
        raise AccountError(f"Organization {org.name!r} has no active token named {name!r}.")


def caller_for_token(conn: Connection, token: str) -> Caller | None:
    """The organization and scopes of a live token (recording its use), or None."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    row = conn.execute(
        select(api_tokens.c.id, api_tokens.c.scopes, api_tokens.c.last_used_at, *_ORG_COLUMNS)
        .join(organizations, organizations.c.id == api_tokens.c.organization_id)
        .where(api_tokens.c.token_hash == _hash_token(token), api_tokens.c.revoked_at.is_(None))
    ).first()
    if row is None:
        return None
    now = _now()
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_RESOLUTION:
        _record_use(conn, row.id, now)
    return Caller(_row_org(row), frozenset(row.scopes.split()))


def _record_use(conn: Connection, token_id: int, now: datetime) -> None:
    """Record a token's use, best effort on SQLite: a read must never queue for its single write lock."""
    record = update(api_tokens).where(api_tokens.c.id == token_id).values(last_used_at=now)
    if conn.dialect.name != "sqlite":
        conn.execute(record)
        return
    # An import holds the write lock for its whole run; a use skipped now is recorded by a later request.
    waits = conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one()
    conn.exec_driver_sql("PRAGMA busy_timeout = 0")
    try:
        conn.execute(record)
    except OperationalError as exc:
        if "locked" not in str(exc.orig):
            raise
    finally:
        conn.exec_driver_sql(f"PRAGMA busy_timeout = {int(waits)}")
