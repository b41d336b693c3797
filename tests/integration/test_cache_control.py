"""No page or data is ever stored by a browser or proxy cache: after logout, Back shows nothing old."""

from __future__ import annotations

import json
import re

import pytest

from billing_dash.pages import DASHBOARD_PATH
from tests import ROOT

from ..factories import callback_body, code_urls, load_values, login

REPORT = "/api/v1/analytics/billing"


def _dash_callback(client):
    dependencies = client.get("/_dash-dependencies").get_json()
    load = next(d for d in dependencies if d["output"].startswith("..billing-downloads.data..."))
    return client.post("/_dash-update-component", json=callback_body(load, load_values({"period": "month"})))


@pytest.mark.parametrize(
    "name, logged_in, fetch",
    [
        ("login page", False, lambda c: c.get("/login")),
        ("dashboard page", True, lambda c: c.get(f"{DASHBOARD_PATH}?period=year")),
        ("redirect to login", False, lambda c: c.get(DASHBOARD_PATH)),
        ("dash layout", True, lambda c: c.get("/_dash-layout")),
        ("dash dependencies", True, lambda c: c.get("/_dash-dependencies")),
        ("dash callback", True, _dash_callback),
        ("dash callback refused", False, lambda c: c.post("/_dash-update-component", json={})),
        ("api json", True, lambda c: c.get(REPORT)),
        ("api csv", True, lambda c: c.get(REPORT + ".csv", query_string={"section": "daily"})),
        ("api error", False, lambda c: c.get(REPORT)),
    ],
)
def test_pages_and_data_are_never_cached(client, user_email, name, logged_in, fetch):
    if logged_in:
        assert login(client, user_email).status_code == 302
    response = fetch(client)
    assert response.status_code < 500, response.get_data(as_text=True)
    assert response.headers.get("Cache-Control") == "no-store", (name, response.status_code)


def test_fingerprinted_code_is_cached_for_good(client, user_email):
    """Dash names each version of its code (`.v4_4_1m...js`, `?m=<mtime>`): such a URL never changes
    content, so the browser keeps it instead of fetching megabytes on every cold page."""
    assert login(client, user_email).status_code == 302
    urls = code_urls(client)
    assert any(u.startswith("/assets/") for u in urls) and any(u.startswith("/_dash-component") for u in urls)
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
        directives = {d.strip() for d in response.headers.get("Cache-Control", "").split(",")}
        assert {"private", "max-age=31536000", "immutable"} <= directives, (url, directives)


def test_code_without_a_fingerprint_is_revalidated(client, user_email):
    # The same file without its fingerprint: it may change under the same URL, so never "for good".
    assert login(client, user_email).status_code == 302
    for url in ("/assets/billing.css", "/_dash-component-suites/dash_ag_grid/async-community.js"):
        response = client.get(url)
        assert response.status_code == 200, url
        cache_control = response.headers.get("Cache-Control", "")
        assert "no-store" not in cache_control and "max-age=31536000" not in cache_control, (url, cache_control)
        assert response.headers.get("ETag"), url  # so the browser can ask whether it changed


def test_the_vendored_plotly_is_named_by_its_file_and_cached_for_good(client, user_email):
    """billing.js loads plotly.js with the first figures, from the URL the page's layout names."""
    assert login(client, user_email).status_code == 302
    dependencies = client.get("/_dash-dependencies").get_json()
    pages = next(d for d in dependencies if d["inputs"][0]["id"] == "_pages_location")
    page = client.post("/_dash-update-component", json=callback_body(pages, [DASHBOARD_PATH, ""]))
    (url,) = re.findall(r'"(/assets/vendor/plotly-basic\.min\.js\?m=[^"]+)"', json.dumps(page.get_json()))
    response = client.get(url)
    assert response.status_code == 200
    assert response.data == (ROOT / "billing_dash" / "assets" / "vendor" / "plotly-basic.min.js").read_bytes()
    directives = {d.strip() for d in response.headers.get("Cache-Control", "").split(",")}
    assert {"private", "max-age=31536000", "immutable"} <= directives
