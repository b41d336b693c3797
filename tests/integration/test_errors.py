"""Client mistakes get a 4xx, server bugs a logged 500; neither shows a traceback."""

from __future__ import annotations

import json
import logging

import pytest
from dash import Input, Output

from billing_dash import create_app
from billing_dash.config import Settings

from ..conftest import TEST_PASSWORD
from .test_web import login

UPDATE = "/_dash-update-component"
REPORT_OUTPUTS = [{"id": f"billing-{name}", "property": prop} for name, prop in (
    ("downloads", "data"), ("alert", "is_open"), ("invalid", "is_open"), ("invalid", "children"), ("content", "hidden"),
    ("cards", "children"), ("period-label", "children"), ("empty", "is_open"), ("drawings", "data"))]
REPORT_OUTPUT = ".." + "...".join(f"{o['id']}.{o['property']}" for o in REPORT_OUTPUTS) + ".."
REPORT_INPUTS = [{"id": "billing-period", "property": "value", "value": "month"},
                 {"id": "billing-dates", "property": "start_date", "value": None},
                 {"id": "billing-dates", "property": "end_date", "value": None},
                 {"id": "billing-retry", "property": "n_clicks", "value": None}]


def report_body(**changes) -> dict:
    body = {"output": REPORT_OUTPUT, "outputs": REPORT_OUTPUTS, "inputs": REPORT_INPUTS, "state": [],
            "changedPropIds": ["billing-period.value"]}
    body.update(changes)
    return {k: v for k, v in body.items() if v is not ...}


def test_a_newline_in_next_after_login_is_not_a_500(client, user_email):
    for target in ("/dashboard/billing%0aSet-Cookie:%20x=1", "/dashboard/billing%0d%0a", "/x%00"):
        response = login(client, user_email, TEST_PASSWORD, next_url=target)
        assert response.status_code == 302, target
        assert response.headers["Location"] == "/dashboard/billing"
        assert "x=1" not in response.headers.get("Set-Cookie", "")


@pytest.mark.parametrize("limit", ["1" * 4301, "9" * 100_000, "0" * 5000 + "5"])
def test_a_limit_with_too_many_digits_is_a_400(client, auth_headers, limit):
    response = client.get("/api/v1/analytics/billing", query_string={"limit": limit}, headers=auth_headers)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_limit"
    assert len(response.get_data()) < 500  # the refused value is not echoed back in full


def test_a_well_formed_callback_request_works(client, user_email):
    login(client, user_email, TEST_PASSWORD)
    response = client.post(UPDATE, json=report_body())
    assert response.status_code == 200, response.get_data(as_text=True)
    assert "billing-downloads" in response.get_json()["response"]


CRAFTED = {
    "array": [],
    "number": 5,
    "string": "x",
    "null": None,
    "empty object": {},
    "output not a string": report_body(output=5),
    "unknown output id": report_body(output="nope.children", outputs={"id": "nope", "property": "children"}),
    "no output": report_body(output=...),
    "no inputs": report_body(inputs=...),
    "inputs not a list": report_body(inputs="x"),
    "input not an object": report_body(inputs=[5, 5, 5, 5]),
    "input without property": report_body(inputs=[{"id": "billing-period", "value": "month"}] * 4),
    "too few inputs": report_body(inputs=REPORT_INPUTS[:1]),
    "outputs a number": report_body(outputs=5),
    "outputs of another callback": report_body(outputs=[{"id": "billing-dates-wrap", "property": "hidden"}]),
    "changedPropIds a number": report_body(changedPropIds=5),
    "state a string": report_body(state="x"),
}


@pytest.mark.parametrize("body", CRAFTED.values(), ids=CRAFTED.keys())
def test_crafted_callback_bodies_are_client_errors(client, user_email, body):
    login(client, user_email, TEST_PASSWORD)
    response = client.post(UPDATE, data=json.dumps(body), content_type="application/json")
    assert 400 <= response.status_code < 500, (response.status_code, response.get_data(as_text=True)[:300])
    assert "Traceback" not in response.get_data(as_text=True)


def _raises(_value):
    raise ZeroDivisionError("secret internal detail")


def _wrong_shape(_value):
    return "secret internal detail", "one output too many", "for two outputs"


@pytest.mark.parametrize("period, start, end", [(["month"], None, None), ({"a": 1}, None, None),
                                                ("custom", 5, 6), ("custom", ["2026-01-01"], {"x": 1})])
def test_wrong_typed_values_never_answer_5xx(client, user_email, period, start, end):
    login(client, user_email, TEST_PASSWORD)
    values = [period, start, end, None]
    body = report_body(inputs=[{**spec, "value": value} for spec, value in zip(REPORT_INPUTS, values)])
    response = client.post(UPDATE, json=body)
    assert response.status_code < 500, response.get_data(as_text=True)[:300]
    assert "billing-downloads" not in response.get_data(as_text=True)  # no report for nonsense


@pytest.mark.parametrize("callback", [_raises, _wrong_shape])
def test_a_broken_callback_is_a_logged_500_without_a_traceback(database_url, user_email, caplog, callback):
    app = create_app(Settings.from_env({}, database_url=database_url, secret_key="s"))
    app.callback(Output("broken-out", "children"), Output("broken-out", "title"), Input("broken-in", "value"))(callback)
    client = app.server.test_client()
    login(client, user_email, TEST_PASSWORD)
    body = {"output": "..broken-out.children...broken-out.title..",
            "outputs": [{"id": "broken-out", "property": "children"}, {"id": "broken-out", "property": "title"}],
            "inputs": [{"id": "broken-in", "property": "value", "value": 1}], "state": [],
            "changedPropIds": ["broken-in.value"]}
    with caplog.at_level(logging.ERROR):
        response = client.post(UPDATE, json=body)
    assert response.status_code == 500
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and "secret internal detail" not in text and "Error" not in text
    assert [r for r in caplog.records if r.levelno >= logging.ERROR and r.exc_info], "the bug was not logged"
