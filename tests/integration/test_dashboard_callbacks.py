"""Dashboard callbacks called as plain functions: one answer shows the API's exact numbers and CSVs."""

from __future__ import annotations

import json
import sys
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import flask_login
import pandas as pd
import pytest
from dash import no_update
from dash._utils import to_json

from billing_dash.alerts.budgets import set_agent_month_tokens, set_budget
from billing_dash.auth import Organization, User, create_org
from billing_dash.components.report_view import ReportView, period_label
from billing_dash.config import Settings
from billing_dash.figures.usage import build_model_share_figure
from billing_dash.ingest import ingest
from billing_dash.limits import MAX_FILTER_VALUES
from billing_dash.services.export import SECTION_KEYS
from billing_dash.tags import set_keys
from billing_dash.web.app import create_app

from ..factories import big_usage, big_usage_period, event, post_all, text_of
from .reference import named_period_dates, previous_dates


def through_browser(data):
    """A callback's output as the browser holds it: Dash's JSON, then parsed."""
    return json.loads(to_json(data))


def loaded(page, *args) -> tuple[dict, list, ReportView]:
    """load_report's answer: the CSV files, the four state outputs and the widgets (the filter
    pickers' options, the tag picker's style and the tag card's key picker and style left out)."""
    files, *rest = page.load_report(*args)
    cards, label, empty, drawings, *_pickers = rest[4:]
    return files, rest[:4], ReportView(cards, label, empty, *drawings)


def tag_card(answer: tuple) -> tuple:
    """load_report's tag card outputs: the key picker's options, value and disabled, the card's style."""
    return answer[-4:]


def card_texts(view: ReportView) -> dict[str, tuple[str, str]]:
    """Each card's value and change badge as shown, by card id."""
    return {
        card.children.id: (card.children.children.children[1].children, card.children.children.children[3].children)
        for card in view.cards
    }


# cards, period label, empty note, drawings, the three pickers' options, the tag picker's style,
# the tag card's key picker (options, value, disabled) and style
NOT_LOADED_VIEW = (no_update,) * 12


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
    badge = view.cards[0].children.children.children[3]
    assert badge.title == "Compared with Jan 1, 2026 – Jan 7, 2026"


def test_month_to_date_compares_with_the_same_days_of_the_previous_month(engine, org, as_user, page):
    """The month so far compares with the same days of the previous month (clamped to its end),
    and the badge's tooltip names them."""
    today = datetime.now(UTC).astimezone(ZoneInfo(org.timezone)).date()
    first, _ = named_period_dates("month", today)
    before = previous_dates("month", first, today)
    after_compared = before[1] + timedelta(days=1)  # outside the comparison when still last month
    stamps = [(before[0], "1"), (before[1], "1"), (today, "3")]
    if after_compared < first:
        stamps.append((after_compared, "9"))

    def noon(day):
        return (datetime.combine(day, datetime.min.time(), ZoneInfo(org.timezone)) + timedelta(hours=12)).isoformat()

    with engine.begin() as conn:
        ingest(conn, org.id, list(enumerate(event(i, timestamp=noon(d), cost=c) for i, (d, c) in enumerate(stamps))))
    view = loaded(page, "month", None, None, None)[2]
    assert card_texts(view)["billing-cost"][1] == "▲ 50.0% vs previous period"
    badge = view.cards[0].children.children.children[3]
    # On a month's first day the comparison is one day, named once (as the period label does).
    compared = f"{before[0]:%b %-d, %Y}" + ("" if before[0] == before[1] else f" – {before[1]:%b %-d, %Y}")
    assert badge.title == f"Compared with {compared}"


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


def downloaded(client, auth_headers, file: dict) -> str:
    """What a download button saves: the CSV the page holds, or the one it fetches from the API."""
    if "url" in file:  # the browser sends the login session; here the token stands in for it
        return client.get(file["url"], headers=auth_headers).get_data(as_text=True)
    return file["content"]


def test_downloads_are_the_api_csv(client, auth_headers, as_user, usage, page):
    files = through_browser(loaded(page, "custom", "2026-01-01", "2026-01-31", None)[0])
    assert set(files) == set(SECTION_KEYS)  # no tag keys: no tags file
    for section in SECTION_KEYS:
        api_csv = client.get(
            "/api/v1/analytics/billing.csv",
            headers=auth_headers,
            query_string={"period": "custom", "startDate": "2026-01-01", "endDate": "2026-01-31", "section": section},
        )
        assert downloaded(client, auth_headers, files[section]) == api_csv.get_data(as_text=True)
        assert f'filename="{files[section]["filename"]}"' in api_csv.headers["Content-Disposition"]


@pytest.mark.parametrize("section", ["daily", "agents", "models", "conversations"])
def test_download_gives_the_api_csv_for_money_past_float_precision(client, auth_headers, as_user, page, section):
    events = big_usage(5)
    post_all(client, auth_headers, events)
    total = sum((Decimal(e["cost"]) for e in events), Decimal(0))  # 9000000000.000001; a float says ...002
    start, end = big_usage_period(5)
    files = through_browser(loaded(page, "custom", start, end, None)[0])
    api_csv = client.get(
        "/api/v1/analytics/billing.csv",
        headers=auth_headers,
        query_string={"period": "custom", "startDate": start, "endDate": end, "section": section},
    )
    assert api_csv.status_code == 200
    assert downloaded(client, auth_headers, files[section]) == api_csv.get_data(as_text=True)
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
                    1,
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
        set_agent_month_tokens(conn, org.id, "a1", 1000)
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


def test_budget_cards_show_what_the_budgets_api_answers(client, auth_headers, as_user, engine, org, page):
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    with engine.begin() as conn:
        ingest(conn, org.id, enumerate(event(i, timestamp=now.isoformat()) for i in range(5)))
        set_budget(conn, org.id, "organization", "", "month", Decimal("0.03"), None, (50, 80, 100))
        set_budget(conn, org.id, "model", "gpt-4o-mini", "day", None, 10**9, (50,))
    api = client.get("/api/v1/budgets", headers=auth_headers).get_json()["budgets"]
    cards = through_browser(page.load_budgets(None))
    assert [card["props"]["children"]["props"]["id"] for card in cards] == [f"billing-budget-{b['id']}" for b in api]
    states = [json.dumps(card).count(f'"children": "{b["state"]}"') for card, b in zip(cards, api, strict=True)]
    assert [b["state"] for b in api] == ["exceeded", "ok"] and all(states)


def test_filtered_budget_cards_keep_the_organizations_and_the_kept_agents_and_models(
    client, auth_headers, as_user, engine, org, page
):
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    with engine.begin() as conn:
        ingest(
            conn,
            org.id,
            enumerate(event(i, timestamp=now.isoformat(), agent_id=f"a{i % 2}") for i in range(4)),
        )
        set_budget(conn, org.id, "organization", "", "month", Decimal("5"), None, (80,))
        for agent in ("a0", "a1"):
            set_budget(conn, org.id, "agent", agent, "month", None, 10**6, (80,))
        for model in ("gpt-4o-mini", "gpt-4o"):
            set_budget(conn, org.id, "model", model, "day", None, 10**6, (80,))
    api = client.get("/api/v1/budgets", headers=auth_headers).get_json()["budgets"]
    for filters, shown in (
        (None, {("organization", ""), ("agent", "a0"), ("agent", "a1"), ("model", "gpt-4o-mini"), ("model", "gpt-4o")}),
        (
            {"agentId": ["a1"], "model": []},
            {("organization", ""), ("agent", "a1"), ("model", "gpt-4o-mini"), ("model", "gpt-4o")},
        ),
        ({"agentId": ["a0"], "model": ["gpt-4o"]}, {("organization", ""), ("agent", "a0"), ("model", "gpt-4o")}),
    ):
        cards = through_browser(page.load_budgets(None, filters))
        ids = [card["props"]["children"]["props"]["id"] for card in cards]
        assert ids == [f"billing-budget-{b['id']}" for b in api if (b["scope"], b["scopeId"] or "") in shown]


def test_month_view_draws_the_forecast_to_the_month_end(client, auth_headers, as_user, engine, org, page):
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    with engine.begin() as conn:
        ingest(conn, org.id, enumerate(event(i, timestamp=(now - timedelta(days=i)).isoformat()) for i in range(40)))
    # By day, as a month is drawn but on its first day (then by hour, and the forecast is per day).
    _, _, view = loaded(page, "month", None, None, None, None, "day")
    api = client.get("/api/v1/analytics/billing", headers=auth_headers, query_string={"period": "month"}).get_json()
    (projected,) = [trace for trace in view.daily_figure.data if trace.name == "Projected cost"]
    days = api["usageByDay"]
    # From yesterday's actual cost (none on the 1st), through today to the month's last day.
    first = days[-2] if len(days) > 1 else days[-1]
    assert [str(x)[:10] for x in (projected.x[0], projected.x[-1])] == [first["date"], api["forecast"]["endDate"]]
    ahead = list(projected.y[1:] if len(days) > 1 else projected.y)
    assert len(days) == 1 or projected.y[0] == pytest.approx(first["cost"])
    assert sum(day["cost"] for day in days[:-1]) + sum(ahead) == pytest.approx(api["forecast"]["monthEndCost"])
    _, _, custom = loaded(page, "custom", "2026-01-01", "2026-01-31", None)
    assert all(trace.name != "Projected cost" for trace in custom.daily_figure.data)


def test_a_clicked_conversation_opens_with_the_apis_detail(client, auth_headers, engine, org, as_user, page):
    events = [
        event(0, timestamp="2026-01-05T12:00:00Z", conversation_id="chat/1", conversation_title="Refund", cost="1.5"),
        event(
            1,
            timestamp="2026-01-05T12:01:00Z",
            conversation_id="chat/1",
            conversation_title="Refund",
            cost="0.25",
            model="m2",
            cache_read_tokens=97,
            reasoning_tokens=43,
        ),
    ]
    with engine.begin() as conn:
        ingest(conn, org.id, enumerate(events))
        other = create_org(conn, f"other-{uuid.uuid4().hex[:12]}", "UTC")
        ingest(conn, other.id, [(0, event(9, conversation_id="theirs"))])
    is_open, title, body = page.open_conversation({"rowId": "chat/1", "colId": "title"})
    api = client.get("/api/v1/conversations/chat%2F1", headers=auth_headers).get_json()
    assert is_open and title == api["title"] == "Refund"
    text = json.dumps(through_browser(body), ensure_ascii=False)
    assert "$1.750000 · 301 tokens · 2 messages" in text  # (100 + i) prompt and 50 completion tokens, i = 0, 1
    assert text.count('"Tr"') == 1 + len(api["messages"]) == 3  # the header and a row per message
    assert "Jan 5, 2026 13:00:00" in text  # 12:00 UTC in the organization's Europe/Berlin
    assert '"Cache read"' in text and '"Reasoning"' in text and '"97"' in text and '"43"' in text
    # Another organization's conversation, or a crafted click, shows nothing of it.
    is_open, _, body = page.open_conversation({"rowId": "theirs"})
    assert is_open and "does not exist" in json.dumps(through_browser(body))
    assert page.open_conversation(None) == page.open_conversation({"rowId": 5}) == (no_update,) * 3


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


HOSTILE_MODELS = ['<a href="https://evil.example/phish">Click for refund</a>', "<b>bold</b> & co", "a&lt;b", "x<br>y"]


def test_a_click_on_a_models_slice_filters_by_the_model_as_it_is(page):
    """The chart holds names escaped; the click filters by the name itself (hostile ones too),
    and the folded "Other" slice by nothing."""
    names = [*HOSTILE_MODELS, *(f"m-{i}" for i in range(8))]
    fig = build_model_share_figure(pd.DataFrame({"model": names, "cost": [float(20 - i) for i in range(len(names))]}))
    slices = list(fig.data[0].customdata)
    clicked = [page.filter_by_clicked_model({"points": [{"customdata": c}]}, None) for c in slices]
    assert [c["model"] for c in clicked[:-1]] == [[n] for n in names[: len(slices) - 1]]
    assert all(c["agentId"] == [] for c in clicked[:-1])
    assert clicked[-1] is no_update  # "Other"
    # A model already in the filter is not added again; another is added after it.
    assert page.filter_by_clicked_model({"points": [{"customdata": slices[0]}]}, clicked[0]) is no_update
    both = page.filter_by_clicked_model({"points": [{"customdata": slices[1]}]}, clicked[0])
    assert both == {"agentId": [], "model": names[:2]}


@pytest.mark.parametrize("granularity, drawn", [("week", "week"), ("auto", "day"), ("hour", "day"), ("month", "month")])
def test_a_filtered_load_shows_the_filtered_api_report_by_its_granularity(
    client, auth_headers, as_user, usage, page, granularity, drawn
):
    """The filter store and the toggle reach the report: cards, rows and the chart's buckets are
    the API's for the same filter; Auto of 31 days, and hours of more than 7, draw days."""
    params = {"period": "custom", "startDate": "2026-01-01", "endDate": "2026-01-31"}
    query = [*params.items(), ("agentId", "a1"), ("granularity", drawn)]
    api = client.get("/api/v1/analytics/billing", headers=auth_headers, query_string=query).get_json()
    assert 0 < api["summary"]["totalMessages"] < 20
    files, problems, view = loaded(
        page, "custom", "2026-01-01", "2026-01-31T00:00:00", None, {"agentId": ["a1"], "model": []}, granularity
    )
    assert problems == [False, False, None, False]
    assert card_texts(view)["billing-tokens"][0] == f"{api['summary']['totalTokens']:,}"
    assert through_browser(view.agent_rows) == api["usageByAgent"] and [a["agentId"] for a in api["usageByAgent"]] == [
        "a1"
    ]
    assert list(view.daily_figure.data[2].y) == [r["cost"] for r in api["series"]]
    # The conversations CSV the page links to carries the filter too.
    assert "agentId=a1" in files["conversations"]["url"]


def test_a_crafted_filter_shows_the_api_message(client, auth_headers, as_user, page):
    too_many = {"agentId": [f"a{i}" for i in range(MAX_FILTER_VALUES + 1)], "model": []}
    query = [("period", "month"), *(("agentId", a) for a in too_many["agentId"])]
    api = client.get("/api/v1/analytics/billing", headers=auth_headers, query_string=query)
    assert api.status_code == 400
    assert page.load_report("month", None, None, None, too_many, "auto") == (
        no_update,
        False,
        True,
        api.get_json()["error"]["message"],
        True,
        *NOT_LOADED_VIEW,
    )
    answer = page.load_report("month", None, None, None, {"agentId": "not-a-list"}, "auto")
    assert answer[2] is True and answer[4] is True  # a message, no widgets


def test_the_tag_filter_shows_the_api_report_and_picker(client, auth_headers, as_user, engine, org, page):
    """A tag.<key> list in the filter store: the cards are the API's for the same filter, the tag
    picker offers the other values; a key not pre-aggregated shows a message, as the API refuses it."""
    events = [event(i, timestamp="2026-01-12T12:00:00Z", tags={"customer": f"c{i % 3}"}) for i in range(9)]
    with engine.begin() as conn:
        ingest(conn, org.id, enumerate(events))
    store = {"agentId": [], "model": [], "tag.customer": ["c1"]}
    args = ("custom", "2026-01-01", "2026-01-31T00:00:00", None, store, "auto")
    assert page.load_report(*args)[2] is True  # customer is not pre-aggregated yet
    with engine.begin() as conn:
        set_keys(conn, org.id, ["customer"])
    answer = page.load_report(*args)
    api = client.get(
        "/api/v1/analytics/billing",
        headers=auth_headers,
        query_string={"period": "custom", "startDate": "2026-01-01", "endDate": "2026-01-31", "tag.customer": "c1"},
    ).get_json()
    assert api["summary"]["totalMessages"] == 3
    files, problems, view = loaded(page, *args)
    assert problems == [False, False, None, False]
    assert through_browser(view.agent_rows) == api["usageByAgent"]
    assert card_texts(view)["billing-cost"][0] == f"${api['summary']['totalCost']:,.2f}"
    assert card_texts(view)["billing-tokens"][0] == f"{api['summary']['totalTokens']:,}"
    assert "tag.customer=c1" in files["conversations"]["url"]
    tag_options, tag_style = answer[-6:-4]
    assert [o["label"] for o in tag_options] == ["customer: c0", "customer: c2"]
    assert tag_style is None


def test_the_tag_card_shows_the_apis_usage_by_tag_and_its_csv(client, auth_headers, as_user, engine, org, page):
    """With pre-aggregated keys the tag card groups by the first (or the picked) key, as the API's
    groupBy does, with the API's CSV; under a tag filter by the filter's key; without keys it is hidden."""
    events = [
        event(i, timestamp="2026-01-12T12:00:00Z", cost=str(i + 1), tags={"customer": f"c{i % 3}", "env": "prod"})
        for i in range(9)
    ] + [event(9, timestamp="2026-01-13T12:00:00Z", cost="0.5")]
    with engine.begin() as conn:
        ingest(conn, org.id, enumerate(events))
    args = ("custom", "2026-01-01", "2026-01-31T00:00:00", None, None, "auto", "")
    params = {"period": "custom", "startDate": "2026-01-01", "endDate": "2026-01-31"}
    files, _, view = loaded(page, *args)
    assert tag_card(page.load_report(*args)) == ([], no_update, False, {"display": "none"})
    assert view.tag_rows == [] and "tags" not in files
    with engine.begin() as conn:
        set_keys(conn, org.id, ["env", "customer"])
    for picked, key in ((None, "customer"), ("env", "env"), ("no-such-key", "customer")):
        answer = page.load_report(*args, picked)
        options, value, disabled, style = tag_card(answer)
        assert [o["value"] for o in options] == ["customer", "env"]
        assert (value, disabled, style) == (key if key != picked else no_update, False, None)
        api = client.get(
            "/api/v1/analytics/billing", headers=auth_headers, query_string={**params, "groupBy": f"tag:{key}"}
        ).get_json()
        files, _, view = loaded(page, *args, picked)
        rows = through_browser(view.tag_rows)
        assert [{k: r[k] for k in api["usageByTag"][0]} for r in rows] == api["usageByTag"]
        total = api["summary"]["totalCost"]
        assert [r["costShare"] for r in rows] == pytest.approx([r["cost"] / total * 100 for r in api["usageByTag"]])
        assert [r["rowId"] for r in rows] == [
            f"tag.{key}={r['tagValue']}" if r["group"] == "value" else r["group"] for r in api["usageByTag"]
        ]
        assert rows[-1]["label"] == "Untagged"
        csv = client.get(
            "/api/v1/analytics/billing.csv",
            headers=auth_headers,
            query_string={**params, "section": "tags", "groupBy": f"tag:{key}"},
        )
        assert files["tags"]["content"] == csv.get_data(as_text=True)
        assert f'filename="{files["tags"]["filename"]}"' in csv.headers["Content-Disposition"]
    # A tag filter: the card groups by its key whatever was picked, and the picker is disabled.
    filtered = (*args[:4], {"agentId": [], "model": [], "tag.customer": ["c1"]}, "auto", "", "env")
    assert tag_card(page.load_report(*filtered))[1:] == ("customer", True, None)
    rows = loaded(page, *filtered)[2].tag_rows
    assert [(r["tagValue"], r["group"]) for r in rows] == [("c1", "value")]


def test_a_click_on_a_tag_values_row_adds_it_to_the_filter(page):
    store = {"agentId": ["a1"], "model": []}
    assert page._tag_added(store, "tag.customer=a=b") == {"agentId": ["a1"], "model": [], "tag.customer": ["a=b"]}
    both = page._tag_added({**store, "tag.customer": ["x"]}, "tag.customer=y")
    assert both["tag.customer"] == ["x", "y"]
    # The Other and Untagged rows, and anything crafted, add nothing.
    assert all(page._tag_added(store, row_id) is no_update for row_id in ("other", "untagged", None, 5, "tag.x"))
