"""Dashboard callbacks called as plain functions: one answer shows the API's exact numbers and CSVs."""

from __future__ import annotations

import json
import sys
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import flask_login
import pytest
import sqlalchemy as sa
from dash import no_update
from dash._utils import to_json

from billing_dash.auth import Organization, User
from billing_dash.components.report_view import ReportView, period_label
from billing_dash.config import Settings
from billing_dash.ingest import ingest
from billing_dash.models import agents
from billing_dash.services.export import SECTIONS
from billing_dash.web.app import create_app

from .test_api import event
from .test_money_limits import big_usage, post_all, text_of


def through_browser(data):
    """A callback's output as the browser holds it: Dash's JSON, then parsed."""
    return json.loads(to_json(data))


def loaded(page, *args) -> tuple[dict, list, ReportView]:
    """load_report's answer: the CSV files, the four state outputs and the widgets."""
    files, *rest = page.load_report(*args)
    cards, label, empty, drawings = rest[4:]
    return files, rest[:4], ReportView(cards, label, empty, *drawings)


def card_texts(view: ReportView) -> dict[str, tuple[str, str]]:
    """Each card's value and change badge as shown, by card id."""
    return {
        card.children.id: (card.children.children.children[1].children, card.children.children.children[3].children)
        for card in view.cards
    }


NOT_LOADED_VIEW = (no_update,) * 4  # cards, period label, empty note, drawings


@pytest.fixture
def page(app):
    """The billing page module as the app loaded it (Dash imports pages when an app is created)."""
    return sys.modules["billing_dash.pages.billing"]


@pytest.fixture
def as_user(app, org):
    """A request context logged in as a user of `org`, as Dash runs callbacks."""
    with app.server.test_request_context("/_dash-update-component", method="POST"):
        flask_login.login_user(User(1, "someone@example.com", org))
        yield


@pytest.fixture
def usage(engine, org):
    events = [
        event(i, timestamp=f"2026-01-{10 + i % 5:02d}T12:00:00Z", agent_id=f"a{i % 2}", agent_name=f"A{i % 2}")
        for i in range(20)
    ]
    with engine.begin() as conn:
        ingest(conn, org.id, enumerate(events))


def test_load_report_shows_exactly_what_the_api_answers(client, auth_headers, as_user, usage, page):
    _, problems, view = loaded(page, "custom", "2026-01-01", "2026-01-31T00:00:00", None)
    api = client.get(
        "/api/v1/analytics/billing",
        headers=auth_headers,
        query_string={"period": "custom", "startDate": "2026-01-01", "endDate": "2026-01-31"},
    ).get_json()
    assert problems == [False, False, None, False]  # no alert, no message, the widgets show
    assert through_browser(view.agent_rows) == api["usageByAgent"]
    assert through_browser(view.model_rows) == api["usageByModel"]
    assert through_browser(view.conversation_rows) == api["topConversations"]
    assert view.period_label == period_label(api["period"])
    assert list(view.daily_figure.data[0].y) == [d["promptTokens"] for d in api["usageByDay"]]
    assert list(view.daily_figure.data[2].y) == [d["cost"] for d in api["usageByDay"]]
    cards = card_texts(view)
    assert cards["billing-cost"][0] == f"${api['summary']['totalCost']:,.2f}"
    assert cards["billing-tokens"][0] == f"{api['summary']['totalTokens']:,}"
    assert cards["billing-conversations"][0] == f"{api['summary']['totalConversations']:,}"
    assert api["summary"]["totalMessages"] == 20 and view.empty is False
    # Nothing before January: no baseline to compare against.
    assert cards["billing-cost"][1] == "no earlier data"


def test_changes_compare_with_the_previous_period_of_the_same_length(engine, org, as_user, page):
    with engine.begin() as conn:
        ingest(
            conn,
            org.id,
            [
                (0, event(0, timestamp="2026-01-05T12:00:00Z", cost="1")),
                (1, event(1, timestamp="2026-01-12T12:00:00Z", cost="1.5")),
            ],
        )
    view = loaded(page, "custom", "2026-01-08", "2026-01-14", None)[2]  # previous: Jan 1-7
    assert card_texts(view)["billing-cost"][1] == "▲ 50.0% vs previous period"


@pytest.mark.parametrize(
    "start, end",
    [
        (None, None),
        ("2026-02-01", "2026-01-01"),
        ("2016-01-01", "2026-01-31"),
        ("2026-02-30", "2026-03-10"),
        ("2026-01-01", "soon"),
    ],
)
def test_a_bad_period_shows_the_api_message_instead_of_the_widgets(client, auth_headers, as_user, page, start, end):
    api = client.get(
        "/api/v1/analytics/billing",
        headers=auth_headers,
        query_string={"period": "custom", "startDate": start or "", "endDate": end or ""},
    )
    assert api.status_code == 400
    assert page.load_report("custom", start, end, None) == (
        no_update,
        False,
        True,
        api.get_json()["error"]["message"],
        True,
        *NOT_LOADED_VIEW,
    )


def test_the_widgets_show_the_report(as_user, usage, page):
    view = loaded(page, "custom", "2026-01-01", "2026-01-31", None)[2]
    assert view.empty is False
    assert "Jan 1, 2026 – Jan 31, 2026" in view.period_label
    assert list(view.daily_figure.data[0].y) == [
        sum(100 + i for i in range(20) if 10 + i % 5 == day) for day in range(1, 32)
    ]
    assert [a["agentId"] for a in view.agent_rows] == ["a1", "a0"]  # a1's events have more tokens at equal cost


def test_empty_period_opens_the_empty_note(as_user, page):
    assert loaded(page, "custom", "2020-01-01", "2020-01-31", None)[2].empty is True


def test_downloads_are_the_api_csv(client, auth_headers, as_user, usage, page):
    files = through_browser(loaded(page, "custom", "2026-01-01", "2026-01-31", None)[0])
    for section in SECTIONS:
        api_csv = client.get(
            "/api/v1/analytics/billing.csv",
            headers=auth_headers,
            query_string={"period": "custom", "startDate": "2026-01-01", "endDate": "2026-01-31", "section": section},
        )
        assert files[section]["content"] == api_csv.get_data(as_text=True)
        assert f'filename="{files[section]["filename"]}"' in api_csv.headers["Content-Disposition"]


@pytest.mark.parametrize("section", ["daily", "agents", "models", "conversations"])
def test_download_gives_the_api_csv_for_money_past_float_precision(client, auth_headers, as_user, page, section):
    events = big_usage(5)
    post_all(client, auth_headers, events)
    total = sum((Decimal(e["cost"]) for e in events), Decimal(0))  # 9000000000.000001; a float says ...002
    files = through_browser(loaded(page, "custom", "2026-01-01", "2026-01-31", None)[0])
    api_csv = client.get(
        "/api/v1/analytics/billing.csv",
        headers=auth_headers,
        query_string={"period": "custom", "startDate": "2026-01-01", "endDate": "2026-01-31", "section": section},
    )
    assert api_csv.status_code == 200
    assert files[section]["content"] == api_csv.get_data(as_text=True)
    if section in ("agents", "models"):  # one agent, one model: each row holds the total
        assert f",{text_of(total)}," in files[section]["content"]


def test_agent_rows_show_budget_use(engine, org, as_user, usage, page):
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    with engine.begin() as conn:
        ingest(
            conn,
            org.id,
            [
                (
                    "now",
                    event(
                        99,
                        timestamp=now.isoformat(),
                        agent_id="a1",
                        agent_name="A1",
                        prompt_tokens=123,
                        completion_tokens=4,
                    ),
                )
            ],
        )
        conn.execute(
            sa.update(agents)
            .where(agents.c.organization_id == org.id, agents.c.id == "a1")
            .values(monthly_token_budget=1000)
        )
    rows = {row["agentId"]: row for row in loaded(page, "custom", "2026-01-01", "2026-01-31", None)[2].agent_rows}
    assert "budgetUsedPercent" not in rows["a0"]
    # This month's use (127 tokens of 1000), whatever period is shown.
    assert rows["a1"]["budgetUsedPercent"] == 12.7 and rows["a1"]["monthlyTokenBudget"] == 1000


def test_database_down_opens_the_alert_instead_of_failing(page):
    dead = create_app(
        Settings.from_env({}, database_url="postgresql+psycopg://nobody@127.0.0.1:1/none", secret_key="s")
    )
    page = sys.modules["billing_dash.pages.billing"]
    with dead.server.test_request_context("/_dash-update-component", method="POST"):
        flask_login.login_user(User(1, "x@example.com", Organization(1, "o", "UTC")))
        assert page.load_report("month", None, None, None) == (no_update, True, False, None, True, *NOT_LOADED_VIEW)


def test_the_page_names_unpriced_models_as_the_api_does(client, auth_headers, engine, org, as_user, page):
    model = f"no-price-{uuid.uuid4().hex[:8]}"
    events = [event(i, timestamp="2026-01-10T12:00:00Z", model=model, cost=None) for i in range(3)]
    with engine.begin() as conn:
        ingest(conn, org.id, enumerate(events))
    view = loaded(page, "custom", "2026-01-01", "2026-01-31", None)[2]
    api = client.get(
        "/api/v1/analytics/billing",
        headers=auth_headers,
        query_string={"period": "custom", "startDate": "2026-01-01", "endDate": "2026-01-31"},
    ).get_json()
    tokens = sum(e["prompt_tokens"] + e["completion_tokens"] for e in events)
    assert api["unpricedModels"] == [{"model": model, "messages": 3, "tokens": tokens}]
    assert f"{model} (3 messages, {tokens:,} tokens)" in view.unpriced_banner
    assert f"billing-dash prices set --org {org.name} {model}" in view.unpriced_banner
