"""Login attempts are rate limited per account and (looser) per client IP, atomically, shared through Redis."""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
import requests

from billing_dash.auth import create_user
from billing_dash.config import Settings
from billing_dash.web.app import create_app
from tests import IN_CI, ROOT

from ..factories import TEST_PASSWORD, csrf, csrf_from, free_port, serve_argv, serving

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def attempt(client, email: str, password: str, ip: str):
    client.environ_base["REMOTE_ADDR"] = ip
    return client.post("/login", data={"email": email, "password": password, "csrf_token": csrf(client)})


def fresh_client(database_url: str, **settings):
    app = create_app(Settings.from_env({}, database_url=database_url, secret_key="s", **settings))
    return app.server.test_client()


def test_many_attempts_from_one_ip_block_that_ip(database_url, user_email):
    client = fresh_client(database_url, login_ip_rate_limit="8 per minute")
    for i in range(8):
        assert attempt(client, f"nobody{i}@example.com", "wrong-password", "10.0.0.1").status_code == 401
    blocked = attempt(client, user_email, TEST_PASSWORD, "10.0.0.1")
    assert blocked.status_code == 429
    assert "Too many login attempts" in blocked.get_data(as_text=True)
    # Another address is not affected.
    assert attempt(client, user_email, TEST_PASSWORD, "10.0.0.2").status_code == 302


def test_one_persons_typos_do_not_lock_out_the_office_behind_the_same_ip(database_url, engine, org, user_email):
    """Defaults: the per-IP limit is looser than the per-account one (a NAT hides many people)."""
    client = fresh_client(database_url)
    for _ in range(5):
        assert attempt(client, user_email, "wrong-password", "10.4.0.1").status_code == 401
    assert attempt(client, user_email, TEST_PASSWORD, "10.4.0.1").status_code == 429  # that account waits
    colleague = f"colleague-{uuid.uuid4().hex[:8]}@example.com"
    with engine.begin() as conn:
        create_user(conn, org, colleague, TEST_PASSWORD)
    assert attempt(client, colleague, TEST_PASSWORD, "10.4.0.1").status_code == 302


def test_failures_against_one_account_from_many_ips_lock_that_account(database_url, user_email):
    client = fresh_client(database_url)
    for i in range(5):
        assert attempt(client, user_email, "wrong-password", f"10.1.0.{i}").status_code == 401
    assert attempt(client, user_email, TEST_PASSWORD, "10.1.0.99").status_code == 429


def redis_or_skip() -> str:
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.exceptions.ConnectionError as exc:
        if IN_CI:
            pytest.fail(f"Redis is not reachable at {REDIS_URL}: {exc}", pytrace=False)
        pytest.skip(f"Redis is not reachable at {REDIS_URL}: {exc}")
    return REDIS_URL


def test_workers_share_the_counts_through_redis(database_url, user_email):
    redis_url = redis_or_skip()
    ip = f"10.3.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    workers = [fresh_client(database_url, redis_url=redis_url) for _ in range(2)]
    for i in range(5):
        assert attempt(workers[i % 2], user_email, "wrong", ip).status_code == 401
    assert attempt(workers[1], user_email, TEST_PASSWORD, ip).status_code == 429


# -- real servers under real concurrency ----------------------------------------------------------

ACCOUNT_LIMIT = 5
BURST = 29


@contextlib.contextmanager
def running_server(kind: str, database_url: str, redis_url: str):
    """`billing-dash serve` (threaded) or gunicorn (sync or threaded workers) on a free port."""
    port = str(free_port())
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "rate-limit-test",
        "REDIS_URL": redis_url,
        "LOGIN_RATE_LIMIT": f"{ACCOUNT_LIMIT} per minute",
        "LOGIN_IP_RATE_LIMIT": "1000 per minute",
        "TRUST_PROXY": "1",
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
        "TEST_PORT": port,
    }
    if kind == "serve":
        argv = serve_argv(port)
    else:
        worker_class = "sync" if kind == "gunicorn-sync" else "gthread"
        argv = [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            str(WORKERS),
            "--worker-class",
            worker_class,
            "--threads",
            "4",
            "--bind",
            f"127.0.0.1:{port}",
            "app:server",
        ]
    with serving(argv, env, kind) as base:
        yield base


def simultaneous_attempts(base: str, email: str, passwords: list[str], ip: str) -> list[int]:
    """POST every password at once, all with one session and CSRF token (as the reported attack did)."""
    session = requests.Session()
    session.headers["X-Forwarded-For"] = ip
    page = session.get(base + "/login", timeout=10).text
    token = csrf_from(page)
    start = threading.Barrier(len(passwords))

    def post(password: str) -> int:
        start.wait()
        return requests.post(
            base + "/login",
            data={"email": email, "password": password, "csrf_token": token},
            cookies=session.cookies,
            headers={"X-Forwarded-For": ip},
            allow_redirects=False,
            timeout=60,
        ).status_code

    with ThreadPoolExecutor(len(passwords)) as pool:
        return list(pool.map(post, passwords))


WORKERS = 2
SERVERS = [  # (server, Redis?, attempts at most let through: without Redis each process counts on its own)
    ("serve", False, ACCOUNT_LIMIT),
    ("serve", True, ACCOUNT_LIMIT),
    ("gunicorn-sync", True, ACCOUNT_LIMIT),
    ("gunicorn-threads", True, ACCOUNT_LIMIT),
    ("gunicorn-sync", False, WORKERS * ACCOUNT_LIMIT),
    ("gunicorn-threads", False, WORKERS * ACCOUNT_LIMIT),
]


# The limiter is the same on both databases; one is enough for these server starts.
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    "kind, shared, allowed", SERVERS, ids=[f"{k}-{'redis' if r else 'memory'}" for k, r, _ in SERVERS]
)
def test_simultaneous_attempts_cannot_pass_the_limit(database_url, user_email, kind, shared, allowed):
    redis_url = redis_or_skip() if shared else ""
    ip = f"10.5.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
    with running_server(kind, database_url, redis_url) as base:
        burst = simultaneous_attempts(base, user_email, ["wrong-password"] * BURST, ip)
        assert set(burst) <= {401, 429}, burst
        assert burst.count(401) <= allowed, burst
        if allowed == ACCOUNT_LIMIT:
            assert burst.count(401) == ACCOUNT_LIMIT, burst  # the limit, not an outage
            # The right password right after the burst is refused too.
            right = simultaneous_attempts(base, user_email, [TEST_PASSWORD], ip)
            assert right == [429]
