"""Login, logout and the guard in front of every Dash endpoint (Flask test client)."""

from __future__ import annotations

import re

import pytest

from billing_dash.config import Settings
from billing_dash.pages import DASHBOARD_PATH
from billing_dash.web.app import create_app

from ..factories import TEST_PASSWORD, csrf_from, login, logout

DASH_ENDPOINTS = [("get", "/_dash-layout"), ("get", "/_dash-dependencies"), ("post", "/_dash-update-component")]


@pytest.mark.parametrize("method, path", DASH_ENDPOINTS)
def test_dash_endpoints_refuse_anonymous_callers(client, method, path):
    response = getattr(client, method)(path, json={} if method == "post" else None)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"


def test_pages_send_anonymous_visitors_to_login(client):
    response = client.get(f"{DASHBOARD_PATH}?period=week")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/login?next={DASHBOARD_PATH}?period=week"


def test_login_with_right_password_opens_the_dashboard(client, user_email):
    response = login(client, user_email, TEST_PASSWORD, next_url=f"{DASHBOARD_PATH}?period=year")
    assert response.status_code == 302
    assert response.headers["Location"] == f"{DASHBOARD_PATH}?period=year"
    assert client.get("/_dash-layout").status_code == 200
    assert client.get(DASHBOARD_PATH).status_code == 200
    assert client.get("/").headers["Location"] == DASHBOARD_PATH
    # The session works for the JSON API too, for the user's own organization.
    assert client.get("/api/v1/analytics/billing").status_code == 200


def test_wrong_password_and_unknown_email_get_the_same_answer(client, user_email):
    wrong = login(client, user_email, "not-the-password")
    unknown = login(client, "nobody@example.com", TEST_PASSWORD)
    assert wrong.status_code == unknown.status_code == 401
    assert "Wrong email or password." in wrong.get_data(as_text=True)
    assert wrong.get_data(as_text=True).count("Wrong email") == unknown.get_data(as_text=True).count("Wrong email")
    assert client.get("/_dash-layout").status_code == 401


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example", "/\\evil.example", "javascript:alert(1)"]
)
def test_login_never_redirects_off_site(client, user_email, target):
    response = login(client, user_email, TEST_PASSWORD, next_url=target)
    assert response.headers["Location"] == DASHBOARD_PATH


def test_login_form_needs_its_csrf_token(client, user_email):
    response = client.post("/login", data={"email": user_email, "password": TEST_PASSWORD})
    assert response.status_code == 401
    assert client.get("/_dash-layout").status_code == 401


def test_logout_ends_the_session(client, user_email):
    login(client, user_email, TEST_PASSWORD)
    assert client.get("/_dash-layout").status_code == 200
    assert logout(client).headers["Location"].endswith("/login")
    assert client.get("/_dash-layout").status_code == 401


def test_logout_needs_a_post_with_the_csrf_token(client, user_email):
    """A link or a form on another site must not log anyone out."""
    login(client, user_email, TEST_PASSWORD)
    page = client.get("/logout")
    assert page.status_code in (200, 405)
    assert client.get("/_dash-layout").status_code == 200
    for data in ({}, {"csrf_token": "forged"}):
        assert client.post("/logout", data=data).status_code == 400
        assert client.get("/_dash-layout").status_code == 200
    if page.status_code == 200:  # a page with a button that does log out
        token = csrf_from(page.get_data(as_text=True))
        assert client.post("/logout", data={"csrf_token": token}).status_code == 302
        assert client.get("/_dash-layout").status_code == 401


def test_session_cookie_is_httponly_and_samesite(client, user_email):
    response = login(client, user_email, TEST_PASSWORD)
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_production_app_refuses_to_start_without_secret_key(database_url):
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(Settings.from_env({}, database_url=database_url))


def test_every_app_in_a_process_gets_its_own_complete_callbacks(database_url, user_email):
    apps = [create_app(Settings.from_env({}, database_url=database_url, secret_key="s")) for _ in range(2)]
    outputs = []
    for app in apps:
        client = app.server.test_client()
        login(client, user_email, TEST_PASSWORD)
        outputs.append(sorted(d["output"] for d in client.get("/_dash-dependencies").get_json()))
    assert outputs[0] == outputs[1]
    assert len(outputs[0]) == len(set(outputs[0]))
    assert any("billing-downloads.data" in o for o in outputs[0])


@pytest.mark.parametrize(
    "path",
    [
        "/healthzx",
        "/loginx",
        "/logoutx",
        "/login/x",
        "/assetsx/billing.css",
        "/assets/billing.js",
        f"/assets/..{DASHBOARD_PATH}",
    ],
)
def test_only_exact_public_routes_are_public(client, path):
    response = client.get(path)
    assert response.status_code in (302, 404), (path, response.status_code)
    if response.status_code == 302:
        assert response.headers["Location"].startswith("/login?next=")
    assert "_dash-config" not in response.get_data(as_text=True)  # the app shell's bootstrap script


def test_the_login_page_loads_its_stylesheet_anonymously(client):
    page = client.get("/login").get_data(as_text=True)
    for href in re.findall(r'href="([^"]+)"', page):
        assert client.get(href).status_code == 200, href
