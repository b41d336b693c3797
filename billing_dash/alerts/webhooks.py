"""Webhooks of an organization and the outbox that delivers alerts to them: signed, retried with backoff, at least once."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import logging
import re
import secrets
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, Engine, delete, insert, select, update

from ..models import alert_deliveries, alerts, webhooks

FORMATS = ("json", "slack")
MAX_URL = 2000
MIN_SECRET, MAX_SECRET = 16, 200
# Backoff after the n-th failed attempt: 30 s, 1 min, 2 min, ... at most an hour.
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(hours=1)
# A claimed delivery is not due again before this much more than the timeout: a sender that died
# mid-request leaves it to the next run, never to a concurrent one.
LEASE_EXTRA = timedelta(seconds=60)
SIGNATURE_HEADER = "X-Billing-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_ERROR = 500

log = logging.getLogger(__name__)


class WebhookError(ValueError):
    """Bad webhook input; `field` names the argument or option it came from."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


@dataclass(frozen=True)
class Webhook:
    id: int
    url: str
    format: str
    created_at: datetime


def check_url(url: str) -> str:
    url = url.strip()
    parts = urlsplit(url)
    if (
        len(url) > MAX_URL
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or re.search(r"\s", url)
        or not url.isascii()
    ):
        raise WebhookError(
            "URL", f"must be an http:// or https:// URL of at most {MAX_URL} characters, got {url[:60]!r}"
        )
    return url


def add_webhook(conn: Connection, org_id: int, url: str, secret: str | None, fmt: str) -> tuple[Webhook, str]:
    """Add a webhook; returns it and its signing secret (generated when none is given)."""
    url = check_url(url)
    if fmt not in FORMATS:
        raise WebhookError("--format", f"must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if secret is None:
        secret = "whsec_" + secrets.token_hex(24)
    elif not (MIN_SECRET <= len(secret) <= MAX_SECRET and secret.isascii() and secret.isprintable()):
        raise WebhookError("--secret", f"must be {MIN_SECRET} to {MAX_SECRET} printable ASCII characters")
    row = conn.execute(
        insert(webhooks)
        .values(organization_id=org_id, url=url, secret=secret, format=fmt, created_at=datetime.now(UTC))
        .returning(webhooks.c.id, webhooks.c.url, webhooks.c.format, webhooks.c.created_at)
    ).one()
    return Webhook(row.id, row.url, row.format, row.created_at), secret


def list_webhooks(conn: Connection, org_id: int) -> list[Webhook]:
    rows = conn.execute(
        select(webhooks.c.id, webhooks.c.url, webhooks.c.format, webhooks.c.created_at)
        .where(webhooks.c.organization_id == org_id)
        .order_by(webhooks.c.id)
    )
    return [Webhook(r.id, r.url, r.format, r.created_at) for r in rows]


def delete_webhook(conn: Connection, org_id: int, webhook_id: int) -> None:
    """Delete a webhook and its deliveries (their alerts stay)."""
    found = conn.execute(
        select(webhooks.c.id).where(webhooks.c.organization_id == org_id, webhooks.c.id == webhook_id)
    ).first()
    if found is None:
        raise WebhookError("ID", f"no webhook {webhook_id} in this organization")
    conn.execute(delete(alert_deliveries).where(alert_deliveries.c.webhook_id == webhook_id))
    conn.execute(delete(webhooks).where(webhooks.c.id == webhook_id))


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The X-Billing-Signature value: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">, as Stripe signs."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def body_for(fmt: str, payload: str, message: str) -> bytes:
    """What a webhook of format `fmt` receives: the alert's JSON, or Slack's {"text": ...}."""
    if fmt == "slack":
        return json.dumps({"text": message}).encode()
    return payload.encode()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirect is an answer other than 2xx: following it would resend (or drop) the signed body.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def send(url: str, body: bytes, secret: str, key: str, timeout: float) -> str | None:
    """POST one signed delivery; None when the receiver answered 2xx, else what went wrong."""
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "billing-dash-webhooks",
            SIGNATURE_HEADER: sign(secret, body, int(time.time())),
            IDEMPOTENCY_HEADER: key,
        },
    )
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as exc:
        return f"HTTP {exc.code}"
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        # URLError: refused, unresolvable; HTTPException: a broken answer; OSError: timeouts, resets.
        reason = getattr(exc, "reason", None) or exc
        return f"{type(exc).__name__}: {reason}"[:MAX_ERROR]
    return None if 200 <= status < 300 else f"HTTP {status}"


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt."""
    return min(BACKOFF_BASE * 2 ** min(attempts - 1, 20), BACKOFF_CAP)


@dataclass
class DeliveryRun:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0

    @property
    def attempted(self) -> int:
        return self.delivered + self.retrying + self.failed


def deliver_due(
    engine: Engine,
    timeout: float,
    max_attempts: int,
    now: datetime | None = None,
    org_id: int | None = None,
    limit: int = 200,
) -> DeliveryRun:
    """Send the outbox rows that are due (of one organization or all). Each is first claimed by
    moving its next attempt past a lease, in its own transaction, so concurrent runners (other
    workers, cron) never send it at the same time; the result is recorded after the request."""
    now = now or datetime.now(UTC)
    run = DeliveryRun()
    query = (
        select(
            alert_deliveries.c.id,
            alert_deliveries.c.attempts,
            alerts.c.idempotency_key,
            alerts.c.payload,
            alerts.c.message,
            webhooks.c.url,
            webhooks.c.secret,
            webhooks.c.format,
        )
        .join(alerts, alerts.c.id == alert_deliveries.c.alert_id)
        .join(webhooks, webhooks.c.id == alert_deliveries.c.webhook_id)
        .where(alert_deliveries.c.status == "pending", alert_deliveries.c.next_attempt_at <= now)
        .order_by(alert_deliveries.c.next_attempt_at, alert_deliveries.c.id)
        .limit(limit)
    )
    if org_id is not None:
        query = query.where(alerts.c.organization_id == org_id)
    with engine.connect() as conn:
        due = conn.execute(query).all()
    for row in due:
        with engine.begin() as conn:
            claimed = conn.execute(
                update(alert_deliveries)
                .where(
                    alert_deliveries.c.id == row.id,
                    alert_deliveries.c.status == "pending",
                    alert_deliveries.c.next_attempt_at <= now,
                )
                .values(next_attempt_at=now + timedelta(seconds=timeout) + LEASE_EXTRA)
            ).rowcount
        if not claimed:
            continue  # another runner has it
        error = send(row.url, body_for(row.format, row.payload, row.message), row.secret, row.idempotency_key, timeout)
        attempts = row.attempts + 1
        if error is None:
            values: dict[str, Any] = {"status": "delivered", "delivered_at": datetime.now(UTC), "last_error": None}
            run.delivered += 1
        elif attempts >= max_attempts:
            values = {"status": "failed", "last_error": error}
            run.failed += 1
        else:
            values = {"last_error": error, "next_attempt_at": now + backoff(attempts)}
            run.retrying += 1
            log.info("webhook delivery %s failed (%s); attempt %d of %d", row.id, error, attempts, max_attempts)
        with engine.begin() as conn:
            conn.execute(
                update(alert_deliveries).where(alert_deliveries.c.id == row.id).values(attempts=attempts, **values)
            )
    return run


@dataclass(frozen=True)
class Delivery:
    id: int
    alert_key: str
    kind: str
    url: str
    attempts: int
    status: str
    last_error: str | None
    next_attempt_at: datetime
    delivered_at: datetime | None


def delivery_log(conn: Connection, org_id: int, limit: int = 50) -> list[Delivery]:
    """The newest deliveries of the organization's alerts, newest alert first."""
    rows = conn.execute(
        select(
            alert_deliveries.c.id,
            alerts.c.idempotency_key,
            alerts.c.kind,
            webhooks.c.url,
            alert_deliveries.c.attempts,
            alert_deliveries.c.status,
            alert_deliveries.c.last_error,
            alert_deliveries.c.next_attempt_at,
            alert_deliveries.c.delivered_at,
        )
        .join(alerts, alerts.c.id == alert_deliveries.c.alert_id)
        .join(webhooks, webhooks.c.id == alert_deliveries.c.webhook_id)
        .where(alerts.c.organization_id == org_id)
        .order_by(alerts.c.created_at.desc(), alert_deliveries.c.id.desc())
        .limit(limit)
    )
    return [Delivery(*r) for r in rows]
