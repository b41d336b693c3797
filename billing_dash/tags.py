"""The tag keys an organization pre-aggregates: set (rebuilding their aggregates) and listed."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import Connection, delete, select, update

from .aggregates import TooManyTagValues, rebuild_tags
from .limits import MAX_TAG_KEYS, TAG_KEY_PATTERN
from .models import organizations, tag_keys
from .queries import load

_KEY = re.compile(TAG_KEY_PATTERN)


class TagError(ValueError):
    """Tag keys that cannot be pre-aggregated; nothing was changed."""


def check_key(key: str) -> str:
    """`key` if it can be a tag key, else TagError."""
    if not _KEY.fullmatch(key):
        raise TagError(f"tag key {key[:50]!r} must match {TAG_KEY_PATTERN}")
    return key


def list_keys(conn: Connection, org_id: int) -> list[str]:
    """The keys `org_id` pre-aggregates, in code point order."""
    return [k for (k,) in conn.execute(load("tags/keys"), {"org_id": org_id})]


def set_keys(conn: Connection, org_id: int, keys: Sequence[str]) -> list[str]:
    """Pre-aggregate exactly `keys` for `org_id` (none: no key) and rebuild its tag aggregates from
    its stored events, in the caller's transaction; returns the keys in code point order."""
    wanted = sorted({check_key(k) for k in keys})
    if len(wanted) > MAX_TAG_KEYS:
        raise TagError(f"at most {MAX_TAG_KEYS} pre-aggregated tag keys per organization; got {len(wanted)}")
    # The organization's row lock, as an import takes it: no import adds to the aggregates meanwhile
    # (SQLite: a write first, so this transaction holds the write lock from its start).
    conn.execute(update(organizations).where(organizations.c.id == org_id).values(timezone=organizations.c.timezone))
    tz = conn.execute(
        select(organizations.c.timezone).where(organizations.c.id == org_id).with_for_update()
    ).scalar_one()
    conn.execute(delete(tag_keys).where(tag_keys.c.organization_id == org_id))
    if wanted:
        conn.execute(tag_keys.insert(), [{"organization_id": org_id, "tag_key": k} for k in wanted])
    try:
        rebuild_tags(conn, org_id, tz)
    except TooManyTagValues as exc:
        raise TagError(f"the stored events: {exc.message}") from None
    return wanted
