"""Failed logins are rate limited per client IP and per account, shared through Redis."""

from __future__ import annotations

import os
import uuid

import pytest
import redis

from billing_dash import create_app
from billing_dash.config import Settings

from ..conftest import IN_CI, TEST_PASSWORD
from .test_web import csrf, logout

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def attempt(client, email: str, password: str, ip: str):
    client.environ_base["REMOTE_ADDR"] = ip
    return client.post("/login", data={"email": email, "password": password, "csrf_token": csrf(client)})


def fresh_client(database_url: str, **settings):
    app = create_app(Settings.from_env({}, database_url=database_url, secret_key="s", **settings))
    return app.server.test_client()


def test_five_failures_from_one_ip_block_the_sixth_attempt(database_url, user_email):
    client = fresh_client(database_url)
    for i in range(5):
        assert attempt(client, f"nobody{i}@example.com", "wrong-password", "10.0.0.1").status_code == 401
    blocked = attempt(client, user_email, TEST_PASSWORD, "10.0.0.1")
    assert blocked.status_code == 429
    assert "Too many failed attempts" in blocked.get_data(as_text=True)
    # Another address is not affected.
    assert attempt(client, user_email, TEST_PASSWORD, "10.0.0.2").status_code == 302


def test_failures_against_one_account_from_many_ips_lock_that_account(database_url, user_email):
    client = fresh_client(database_url)
    for i in range(5):
        assert attempt(client, user_email, "wrong-password", f"10.1.0.{i}").status_code == 401
    assert attempt(client, user_email, TEST_PASSWORD, "10.1.0.99").status_code == 429


def test_successful_logins_do_not_count(database_url, user_email):
    client = fresh_client(database_url)
    for _ in range(8):
        assert attempt(client, user_email, TEST_PASSWORD, "10.2.0.1").status_code == 302
        logout(client)


def test_workers_share_the_counts_through_redis(database_url, user_email):
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.exceptions.ConnectionError as exc:
        if IN_CI:
            pytest.fail(f"Redis is not reachable at {REDIS_URL}: {exc}", pytrace=False)
        pytest.skip(f"Redis is not reachable at {REDIS_URL}: {exc}")
    ip = f"10.3.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    workers = [fresh_client(database_url, redis_url=REDIS_URL) for _ in range(2)]
    for i in range(5):
        assert attempt(workers[i % 2], f"nobody{i}@example.com", "wrong", ip).status_code == 401
    assert attempt(workers[1], user_email, TEST_PASSWORD, ip).status_code == 429
