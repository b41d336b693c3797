"""Security headers on every kind of response, and Secure session cookies over HTTPS (Flask test client)."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

from billing_dash.pages import DASHBOARD_PATH

from ..factories import login

HTTP, HTTPS = "http://localhost", "https://localhost"
FIXED_DIRECTIVES = {
    "default-src": "'self'",
    "style-src": "'self' 'unsafe-inline'",
    "img-src": "'self' data:",
    "font-src": "'self' data:",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
# (path, logged in, expected status): pages, redirects, API errors and Dash's own endpoints.
RESPONSES = [
    ("/login", False, 200),
    (DASHBOARD_PATH, False, 302),
    (DASHBOARD_PATH, True, 200),
    ("/api/v1/analytics/billing", False, 401),
    ("/api/v1/analytics/billing", True, 200),
    ("/api/v1/no-such-endpoint", False, 404),
    ("/healthz", False, 200),
    ("/_dash-layout", False, 401),
    ("/_dash-layout", True, 200),
    ("/assets/login.css", False, 200),
]


def directives(policy: str) -> dict[str, str]:
    return dict(part.strip().split(" ", 1) for part in policy.split(";"))


def session_cookie(response) -> str:
    (cookie,) = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("session=")]
    return cookie


@pytest.mark.parametrize("path, logged_in, status", RESPONSES)
def test_every_response_carries_the_security_headers(client, user_email, path, logged_in, status):
    if logged_in:
        assert login(client, user_email).status_code == 302
    response = client.get(path)
    assert response.status_code == status
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["X-Frame-Options"] == "DENY"
    policy = directives(response.headers["Content-Security-Policy"])
    assert {k: v for k, v in policy.items() if k != "script-src"} == FIXED_DIRECTIVES


def test_script_src_allows_exactly_the_inline_scripts_of_the_dash_page(client, user_email):
    login(client, user_email)
    response = client.get(DASHBOARD_PATH)
    # Without comments: Dash's index keeps an IE-only <script> inside <!--[if IE]> that never runs.
    page = re.sub(r"<!--.*?-->", "", response.get_data(as_text=True), flags=re.S)
    # Executable inline scripts only: Dash's JSON config block is data, which CSP does not govern.
    inline = [
        body
        for attrs, body in re.findall(r"<script([^>]*)>(.*?)</script>", page, re.S)
        if "src=" not in attrs and "application/json" not in attrs
    ]
    assert inline, "Dash's index page should run at least its renderer inline"
    hashes = {f"'sha256-{base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()}'" for body in inline}
    sources = directives(response.headers["Content-Security-Policy"])["script-src"].split()
    assert sources[0] == "'self'"
    assert set(sources[1:]) == hashes
    assert "'unsafe-inline'" not in sources and "'unsafe-eval'" not in sources


def test_session_cookie_is_secure_over_https(client, user_email):
    response = login(client, user_email, base_url=HTTPS)
    assert response.status_code == 302
    cookie = session_cookie(response)
    assert "; Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert client.get("/_dash-layout", base_url=HTTPS).status_code == 200


def test_session_cookie_is_not_secure_over_plain_http(client, user_email):
    response = login(client, user_email, base_url=HTTP)
    assert response.status_code == 302
    cookie = session_cookie(response)
    assert "Secure" not in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_a_forwarded_proto_header_alone_is_not_trusted(client):
    # Without ProxyFix in front (a deployment decision), any client could send this header.
    response = client.get("/login", headers={"X-Forwarded-Proto": "https"})
    assert "Secure" not in session_cookie(response)


def test_forwarded_headers_count_only_behind_a_trusted_proxy(database_url):
    from billing_dash.config import Settings
    from billing_dash.web.app import create_app

    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    for hops, secure in (("0", False), ("1", True)):
        app = create_app(Settings.from_env({}, database_url=database_url, secret_key="s", trust_proxy=hops))
        seen = {}

        def capture(seen=seen):  # this iteration's dict
            from flask import request

            seen.update(secure=request.is_secure, ip=request.remote_addr)

        app.server.before_request_funcs.setdefault(None, []).insert(0, capture)
        app.server.test_client().get("/healthz", headers=forwarded)
        assert seen["secure"] is secure
        assert (seen["ip"] == "203.0.113.9") is secure
