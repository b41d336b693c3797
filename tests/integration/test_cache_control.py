"""No page or data is ever stored by a browser or proxy cache: after logout, Back shows nothing old."""

from __future__ import annotations

import pytest

from .test_isolation import _callback_body, _load_values
from .test_security_headers import login

REPORT = "/api/v1/analytics/billing"


def _dash_callback(client):
    dependencies = client.get("/_dash-dependencies").get_json()
    load = next(d for d in dependencies if d["output"].startswith("..billing-downloads.data..."))
    return client.post("/_dash-update-component", json=_callback_body(load, _load_values({"period": "month"})))


@pytest.mark.parametrize("name, logged_in, fetch", [
    ("login page", False, lambda c: c.get("/login")),
    ("dashboard page", True, lambda c: c.get("/dashboard/billing?period=year")),
    ("redirect to login", False, lambda c: c.get("/dashboard/billing")),
    ("dash layout", True, lambda c: c.get("/_dash-layout")),
    ("dash dependencies", True, lambda c: c.get("/_dash-dependencies")),
    ("dash callback", True, _dash_callback),
    ("dash callback refused", False, lambda c: c.post("/_dash-update-component", json={})),
    ("api json", True, lambda c: c.get(REPORT)),
    ("api csv", True, lambda c: c.get(REPORT + ".csv", query_string={"section": "daily"})),
    ("api error", False, lambda c: c.get(REPORT)),
])
def test_pages_and_data_are_never_cached(client, user_email, name, logged_in, fetch):
    if logged_in:
        assert login(client, user_email).status_code == 302
    response = fetch(client)
    assert response.status_code < 500, response.get_data(as_text=True)
    assert response.headers.get("Cache-Control") == "no-store", (name, response.status_code)


def test_static_code_stays_cacheable(client):
    response = client.get("/assets/billing.css")
    assert response.status_code == 200
    assert "no-store" not in response.headers.get("Cache-Control", "")
