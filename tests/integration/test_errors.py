"""Client mistakes get a 4xx, server bugs a logged 500; neither shows a traceback."""

from __future__ import annotations

import json
import logging

import pytest
from dash import Input, Output

from billing_dash.config import Settings
from billing_dash.pages import DASHBOARD_PATH
from billing_dash.web.app import create_app

from ..factories import TEST_PASSWORD, login

UPDATE = "/_dash-update-component"
VALUES = {"billing-period.value": "month"}


@pytest.fixture
def report_body(app):
    """Builds the report callback's request as the browser does, from the app's own callbacks, with
    `changes` (`...` removes a key)."""
    output = next(
        key
        for key, spec in app.callback_map.items()
        if "callback" in spec and {"id": "billing-retry", "property": "n_clicks"} in spec["inputs"]
    )
    spec = app.callback_map[output]
    declared = spec["output"] if isinstance(spec["output"], list) else [spec["output"]]
    inputs = [{**i, "value": VALUES.get(f"{i['id']}.{i['property']}")} for i in spec["inputs"]]

    def body(**changes) -> dict:
        made = {
            "output": output,
            "outputs": [o.to_dict() for o in declared],
            "inputs": inputs,
            "state": [],
            "changedPropIds": ["billing-period.value"],
        }
        made.update(changes)
        return {k: v for k, v in made.items() if v is not ...}

    body.inputs = inputs
    return body


def test_a_newline_in_next_after_login_is_not_a_500(client, user_email):
    for target in (f"{DASHBOARD_PATH}%0aSet-Cookie:%20x=1", f"{DASHBOARD_PATH}%0d%0a", "/x%00"):
        response = login(client, user_email, TEST_PASSWORD, next_url=target)
        assert response.status_code == 302, target
        assert response.headers["Location"] == DASHBOARD_PATH
        assert "x=1" not in response.headers.get("Set-Cookie", "")


@pytest.mark.parametrize("limit", ["1" * 4301, "9" * 100_000, "0" * 5000 + "5"])
def test_a_limit_with_too_many_digits_is_a_400(client, auth_headers, limit):
    response = client.get("/api/v1/analytics/billing", query_string={"limit": limit}, headers=auth_headers)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_limit"
    assert len(response.get_data()) < 500  # the refused value is not echoed back in full


def test_a_well_formed_callback_request_works(client, user_email, report_body):
    login(client, user_email, TEST_PASSWORD)
    response = client.post(UPDATE, json=report_body())
    assert response.status_code == 200, response.get_data(as_text=True)
    assert "billing-downloads" in response.get_json()["response"]


CRAFTED = {
    "array": lambda body: [],
    "number": lambda body: 5,
    "string": lambda body: "x",
    "null": lambda body: None,
    "empty object": lambda body: {},
    "output not a string": lambda body: body(output=5),
    "unknown output id": lambda body: body(output="nope.children", outputs={"id": "nope", "property": "children"}),
    "no output": lambda body: body(output=...),
    "no inputs": lambda body: body(inputs=...),
    "inputs not a list": lambda body: body(inputs="x"),
    "input not an object": lambda body: body(inputs=[5] * len(body.inputs)),
    "input without property": lambda body: body(inputs=[{"id": "billing-period", "value": "month"}] * len(body.inputs)),
    "too few inputs": lambda body: body(inputs=body.inputs[:1]),
    "outputs a number": lambda body: body(outputs=5),
    "outputs of another callback": lambda body: body(outputs=[{"id": "billing-dates-wrap", "property": "hidden"}]),
    "changedPropIds a number": lambda body: body(changedPropIds=5),
    "state a string": lambda body: body(state="x"),
}


@pytest.mark.parametrize("craft", CRAFTED.values(), ids=CRAFTED.keys())
def test_crafted_callback_bodies_are_client_errors(client, user_email, report_body, craft):
    body = craft(report_body)
    login(client, user_email, TEST_PASSWORD)
    response = client.post(UPDATE, data=json.dumps(body), content_type="application/json")
    assert 400 <= response.status_code < 500, (response.status_code, response.get_data(as_text=True)[:300])
    assert "Traceback" not in response.get_data(as_text=True)


def _raises(_value):
    raise ZeroDivisionError("secret internal detail")


def _wrong_shape(_value):
    return "secret internal detail", "one output too many", "for two outputs"


@pytest.mark.parametrize(
    "period, start, end",
    [(["month"], None, None), ({"a": 1}, None, None), ("custom", 5, 6), ("custom", ["2026-01-01"], {"x": 1})],
)
def test_wrong_typed_values_never_answer_5xx(client, user_email, report_body, period, start, end):
    login(client, user_email, TEST_PASSWORD)
    values = {"billing-period.value": period, "billing-dates.start_date": start, "billing-dates.end_date": end}
    body = report_body(inputs=[{**i, "value": values.get(f"{i['id']}.{i['property']}")} for i in report_body.inputs])
    response = client.post(UPDATE, json=body)
    assert response.status_code < 500, response.get_data(as_text=True)[:300]
    assert "billing-downloads" not in response.get_data(as_text=True)  # no report for nonsense


@pytest.mark.parametrize("callback", [_raises, _wrong_shape])
def test_a_broken_callback_is_a_logged_500_without_a_traceback(database_url, user_email, caplog, callback):
    app = create_app(Settings.from_env({}, database_url=database_url, secret_key="s"))
    app.callback(Output("broken-out", "children"), Output("broken-out", "title"), Input("broken-in", "value"))(callback)
    client = app.server.test_client()
    login(client, user_email, TEST_PASSWORD)
    body = {
        "output": "..broken-out.children...broken-out.title..",
        "outputs": [{"id": "broken-out", "property": "children"}, {"id": "broken-out", "property": "title"}],
        "inputs": [{"id": "broken-in", "property": "value", "value": 1}],
        "state": [],
        "changedPropIds": ["broken-in.value"],
    }
    with caplog.at_level(logging.ERROR):
        response = client.post(UPDATE, json=body)
    assert response.status_code == 500
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and "secret internal detail" not in text and "Error" not in text
    assert [r for r in caplog.records if r.levelno >= logging.ERROR and r.exc_info], "the bug was not logged"
