"""The billing dashboard in headless Chromium: login, periods, URL state, CSV, empty state, logout, safety."""

from __future__ import annotations

import os
from datetime import date, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
from plotly.offline import get_plotlyjs_version
from selenium.webdriver.common.by import By

from .conftest import (
    CACHED_PRICE,
    E2E_BACKENDS,
    HOME,
    api_report,
    expected_cards,
    local_instant,
    make_event,
    store,
)

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("database_url", E2E_BACKENDS, indirect=True)]


def _today(client, auth_headers) -> date:
    return date.fromisoformat(api_report(client, auth_headers, period="today")["period"]["startDate"])


def test_login_rejects_a_wrong_password_and_accepts_the_right_one(page, user_email):
    page.login(user_email, "not-the-password")
    page.duo.wait_for_text_to_equal(".login-error", "Wrong email or password.")
    assert page.path == "/login"
    assert not page.driver.find_elements(By.ID, "billing-cards")

    page.login(user_email)
    page.wait_for_url(HOME)
    page.duo.wait_for_element("#billing-cost-value", timeout=15)
    assert not page.driver.find_elements(By.CSS_SELECTOR, ".login-error")


def test_each_period_button_shows_the_api_totals(page, user_email, client, auth_headers, usage):
    page.open_dashboard(user_email)
    page.wait_for_report(api_report(client, auth_headers, period="month"))
    page.wait_for_url(HOME, "period=month")
    totals, starts = {}, {}
    for period in ("today", "week", "month", "year"):
        api = api_report(client, auth_headers, period=period)
        page.click_period(period.capitalize())
        page.wait_for_url(HOME, f"period={period}")
        page.wait_for_report(api)
        assert not page.driver.find_element(By.ID, "billing-dates-wrap").is_displayed()
        totals[period] = api["summary"]["totalCost"]
        starts[period] = api["period"]["startDate"]
    # The seeded events make the periods nest (equal only when today also starts the week/month/year);
    # a week that began last month holds days the month does not.
    assert totals["year"] > totals["month"] >= totals["today"] > 0
    assert totals["week"] >= totals["today"]
    if starts["week"] >= starts["month"]:
        assert totals["month"] >= totals["week"]


def test_custom_range_from_the_url(page, user_email, client, auth_headers, usage):
    today = _today(client, auth_headers)
    start, end = today - timedelta(days=45), today - timedelta(days=1)
    query = f"period=custom&startDate={start}&endDate={end}"
    api = api_report(client, auth_headers, period="custom", startDate=start.isoformat(), endDate=end.isoformat())

    page.open_dashboard(user_email, query)
    page.wait_for_report(api)
    assert page.query == query
    assert page.driver.find_element(By.ID, "billing-dates-wrap").is_displayed()
    assert page.driver.find_element(By.ID, "billing-dates").is_displayed()
    checked = page.driver.find_element(By.CSS_SELECTOR, "#billing-period input:checked")
    assert checked.get_attribute("value") == "custom"


def test_custom_range_link_survives_the_login_redirect(page, user_email, client, auth_headers, usage):
    today = _today(client, auth_headers)
    start, end = today - timedelta(days=10), today - timedelta(days=3)
    query = f"period=custom&startDate={start}&endDate={end}"
    page.visit(f"{HOME}?{query}")
    page.wait_for_url("/login")
    page.login_here(user_email)
    page.wait_for_url(HOME)
    api = api_report(client, auth_headers, period="custom", startDate=start.isoformat(), endDate=end.isoformat())
    page.wait_for_report(api, timeout=5)
    assert page.query == query


def test_browser_back_returns_to_the_month_view(page, user_email, client, auth_headers, usage):
    month, week = (api_report(client, auth_headers, period=p) for p in ("month", "week"))
    page.open_dashboard(user_email)
    page.wait_for_report(month)
    page.wait_for_url(HOME, "period=month")
    page.click_period("Week")
    page.wait_for_url(HOME, "period=week")
    page.wait_for_report(week)

    page.driver.back()
    page.wait_for_url(HOME, "period=month")
    page.wait_for_report(month)


def test_browser_back_works_from_a_shared_link_and_every_time(page, user_email, client, auth_headers, usage):
    month, week = (api_report(client, auth_headers, period=p) for p in ("month", "week"))
    page.open_dashboard(user_email, "period=month")
    page.wait_for_report(month)
    for _ in range(2):
        page.click_period("Week")
        page.wait_for_url(HOME, "period=week")
        page.wait_for_report(week)
        page.driver.back()
        page.wait_for_url(HOME, "period=month")
        page.wait_for_report(month, timeout=5)


def _downloads(folder: str) -> list[str]:
    return [f for f in os.listdir(folder) if not f.endswith((".crdownload", ".tmp"))]


def test_daily_csv_download_equals_the_api_csv(page, user_email, client, auth_headers, usage):
    api = api_report(client, auth_headers, period="month")
    page.open_dashboard(user_email)
    page.wait_for_report(api)
    folder = page.duo.download_path
    page.driver.find_element(By.CSS_SELECTOR, '[id*="billing-download-button"][id*="daily"]').click()
    page.wait_until(lambda: _downloads(folder), f"no CSV arrived in {folder}")
    (name,) = _downloads(folder)
    response = client.get(
        "/api/v1/analytics/billing.csv", headers=auth_headers, query_string={"period": "month", "section": "daily"}
    )
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == f'attachment; filename="{name}"'
    assert name.startswith(f"billing-daily-month-{api['period']['startDate']}-to-")
    with open(os.path.join(folder, name), newline="", encoding="utf-8") as fh:
        content = fh.read()
    assert content == response.get_data(as_text=True)


def test_cache_hit_rate_and_savings_show_under_the_cost_card(page, user_email, client, auth_headers, usage, org):
    # From the seeded events of today (org zone): reads of all prompt tokens, and the reads at the
    # input price less the cache-read price of the one cached model.
    zone = ZoneInfo(org.timezone)
    today = [
        e
        for e in usage
        if datetime.fromisoformat(e["timestamp"]).astimezone(zone).date() == _today(client, auth_headers)
    ]
    reads = sum(e.get("cache_read_tokens", 0) for e in today)
    prompt = sum(e["prompt_tokens"] for e in today)
    saved = Decimal(reads) * (CACHED_PRICE[0] - CACHED_PRICE[2]) / 1_000_000
    assert reads == 900_000 and saved == Decimal("2.43")
    page.open_dashboard(user_email, "period=today")
    page.duo.wait_for_text_to_equal(
        "#billing-cache", f"Cache hit rate {reads / prompt * 100:.1f}% · saved ${saved:,.2f}"
    )


def test_empty_organization_shows_zeros_and_a_note(page, user_email, client, auth_headers):
    api = api_report(client, auth_headers, period="month")
    assert api["summary"]["totalMessages"] == 0
    page.open_dashboard(user_email)
    page.wait_for_report(api)
    assert page.driver.find_element(By.ID, "billing-cost-value").text == "$0.00"
    assert page.driver.find_element(By.ID, "billing-tokens-value").text == "0"
    page.duo.wait_for_contains_text("#billing-empty", "No usage in this period")
    assert page.driver.find_element(By.ID, "billing-empty").is_displayed()
    assert not [a for a in page.driver.find_elements(By.ID, "billing-alert") if a.is_displayed()]


def test_logout_returns_to_login_and_guards_the_dashboard(page, user_email):
    page.open_dashboard(user_email)
    page.driver.find_element(By.ID, "shell-logout").click()
    page.wait_for_url("/login")
    page.duo.wait_for_element("#login-submit")
    page.visit(HOME)
    page.wait_for_url("/login")
    assert page.query == f"next={HOME}"
    page.duo.wait_for_element("#login-submit")


def test_a_link_to_logout_only_asks_and_its_button_logs_out(page, user_email):
    page.open_dashboard(user_email)
    page.visit("/logout")
    page.duo.wait_for_element("#logout-submit")
    page.visit(HOME)
    page.duo.wait_for_element("#billing-cost-value", timeout=15)  # still logged in
    page.visit("/logout")
    page.duo.wait_for_element("#logout-submit").click()
    page.wait_for_url("/login")
    page.visit(HOME)
    page.wait_for_url("/login")


def test_dashboard_leaves_a_clean_console(page, user_email, client, auth_headers, usage):
    page.open_dashboard(user_email)
    page.wait_for_report(api_report(client, auth_headers, period="month"))
    page.duo.wait_for_element("#billing-daily-graph .main-svg")
    page.duo.wait_for_element('#billing-agents-grid .ag-cell[col-id="agentName"]')
    severe = [e for e in page.duo.get_logs() if e["level"] == "SEVERE" and "favicon.ico" not in e["message"]]
    assert [e["message"] for e in severe] == []


# Runs in every new document before its own scripts: plotly.js ends its run by setting window.Plotly,
# so this records what the cost card showed by then (whether running it could have held the numbers back).
PLOTLY_RAN = """
window.__plotlyRan = null;
Object.defineProperty(window, "Plotly", {
  configurable: true,
  set: function (plotly) {
    const card = document.getElementById("billing-cost-value");
    window.__plotlyRan = {costCard: card && card.textContent};
    Object.defineProperty(window, "Plotly", {value: plotly, writable: true, configurable: true});
  },
});
"""


def test_graphs_draw_with_the_basic_plotly_run_after_the_numbers(page, user_email, client, auth_headers, usage):
    page.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": PLOTLY_RAN})
    month = api_report(client, auth_headers, period="month")
    page.open_dashboard(user_email)
    page.wait_for_report(month)
    for graph in ("#billing-daily-graph", "#billing-model-graph"):
        page.duo.wait_for_element(f"{graph} .main-svg")
    fetched = page.driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    # The vendored bundle, at the plotly.js version the figures are made for; never Dash's full one.
    assert [urlsplit(url).path for url in fetched if "plotly" in url] == ["/assets/vendor/plotly-basic.min.js"]
    assert page.driver.execute_script("return window.Plotly.version") == get_plotlyjs_version()
    assert page.driver.execute_script("return window.__plotlyRan") == {
        "costCard": expected_cards(month)["#billing-cost-value"]
    }


def test_a_period_change_redraws_the_graphs_in_place(page, user_email, client, auth_headers, usage):
    month, year = (api_report(client, auth_headers, period=p) for p in ("month", "year"))
    weeks = api_report(client, auth_headers, period="year", granularity="week")["series"]  # a year's default
    page.open_dashboard(user_email)
    page.wait_for_report(month)
    page.duo.wait_for_element("#billing-daily-graph .main-svg")
    page.driver.execute_script("document.getElementById('billing-daily-graph').keptFrom = 'month';")
    page.click_period("Year")
    page.wait_for_report(year)
    days = "return document.querySelector('#billing-daily-graph .js-plotly-plot').data[2].x.length;"
    page.wait_until(lambda: page.driver.execute_script(days) == len(weeks), "the daily graph kept the month")
    # Plotly updated the mounted graph: not unmounted and drawn anew (a flash, and a slower redraw).
    assert page.driver.execute_script("return document.getElementById('billing-daily-graph').keptFrom") == "month"


def test_hostile_names_render_as_text(page, user_email, engine, org, client, auth_headers):
    hostile = "<img src=x onerror=alert(1)>"
    ts = local_instant(_today(client, auth_headers), org.timezone, timedelta(seconds=5))
    store(
        engine, org, [make_event(ts, "evil", "c-evil", 10, 10, "1.5", agent_name=hostile, conversation_title=hostile)]
    )
    page.open_dashboard(user_email)
    page.duo.wait_for_text_to_equal('#billing-agents-grid .ag-cell[col-id="agentName"]', hostile)
    page.duo.wait_for_text_to_equal('#billing-conversations-grid .ag-cell[col-id="title"]', hostile)
    assert page.driver.execute_script("return document.querySelectorAll('img[src=\"x\"]').length") == 0
    assert page.no_alert_fired()


def test_hostile_model_names_show_as_text_in_the_charts(page, user_email, engine, org, client, auth_headers):
    names = ['<a href="https://evil.example/phish">Click for refund</a>', "<b>bold</b> model"]
    ts = local_instant(_today(client, auth_headers), org.timezone, timedelta(seconds=5))
    store(
        engine,
        org,
        [
            make_event(ts, "evil", f"c-evil-{i}", 10, 10, cost, model=name)
            for i, (name, cost) in enumerate(zip(names, ("2.5", "1.5"), strict=True))
        ],
    )
    page.open_dashboard(user_email)
    legend = "#billing-model-graph .legendtext"
    page.wait_until(lambda: len(page.driver.find_elements(By.CSS_SELECTOR, legend)) == 2, "no model legend")
    shown = [e.get_attribute("textContent") for e in page.driver.find_elements(By.CSS_SELECTOR, legend)]
    assert shown == names
    svg = "#billing-model-graph svg"
    # Plotly turns <a> into an SVG link and <b> into a bold tspan: neither may come from data.
    assert page.driver.execute_script(f"return document.querySelectorAll('{svg} a').length") == 0
    assert (
        page.driver.execute_script(
            f"return [...document.querySelectorAll('{svg} tspan')].filter(t => /bold/.test(t.getAttribute('style'))).length"
        )
        == 0
    )


def test_presets_show_the_api_totals_and_say_what_they_compare(page, user_email, client, auth_headers, usage):
    page.open_dashboard(user_email)
    page.wait_for_report(api_report(client, auth_headers, period="month"))
    for label, period in (("Last 7 days", "last_7_days"), ("Last quarter", "last_quarter")):
        api = api_report(client, auth_headers, period=period)
        page.click_period(label)
        page.wait_for_url(HOME, f"period={period}")
        page.wait_for_report(api)
        before = [date.fromisoformat(api["period"][k]) for k in ("previousStartDate", "previousEndDate")]
        badge = page.driver.find_element(By.ID, "billing-cost-change")
        assert badge.get_attribute("title") == f"Compared with {before[0]:%b %-d, %Y} – {before[1]:%b %-d, %Y}"


def test_clicking_a_conversation_opens_its_messages(page, user_email, client, auth_headers, usage):
    page.open_dashboard(user_email, "period=year")
    page.wait_for_report(api_report(client, auth_headers, period="year"))
    detail = client.get("/api/v1/conversations/c-year", headers=auth_headers).get_json()
    cell = f"//*[@id='billing-conversations-grid']//div[@col-id='title' and normalize-space()='{detail['title']}']"
    page.wait_until(lambda: page.driver.find_elements(By.XPATH, cell), "the conversation's row never showed")
    row = page.driver.find_element(By.XPATH, cell)
    # Instant: Bootstrap makes scrolling smooth, and a click during the glide lands elsewhere.
    page.driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'})", row)
    row.click()
    page.duo.wait_for_text_to_equal("#billing-conversation-title", detail["title"])
    totals = f"${detail['cost']:,.6f} · {detail['totalTokens']:,} tokens · {detail['messageCount']:,} messages"
    page.duo.wait_for_text_to_equal("#billing-conversation-totals", totals)
    rows = page.driver.find_elements(By.CSS_SELECTOR, "#billing-conversation-messages tr")
    assert len(rows) == len(detail["messages"]) == 1
    assert detail["messages"][0]["model"] in rows[0].text


def test_unpriced_usage_shows_a_banner_with_the_command_and_priced_usage_none(
    page, user_email, engine, org, client, auth_headers, usage
):
    page.open_dashboard(user_email)
    page.wait_for_report(api_report(client, auth_headers, period="month"))
    assert not page.driver.find_element(By.ID, "billing-unpriced").is_displayed()  # every seeded event has a cost
    model = "<b>no-price</b>-model"  # shown as text too
    ts = local_instant(_today(client, auth_headers), org.timezone, timedelta(seconds=5))
    store(engine, org, [make_event(ts, "alpha", "c-unpriced", 1000, 200, None, model=model)])
    api = api_report(client, auth_headers, period="month")
    assert api["unpricedModels"] == [{"model": model, "messages": 1, "tokens": 1200}]
    page.click_period("Week")
    page.click_period("Month")
    page.wait_for_report(api)
    page.duo.wait_for_contains_text("#billing-unpriced", f"{model} (1 message, 1,200 tokens)")
    banner = page.driver.find_element(By.ID, "billing-unpriced")
    assert banner.is_displayed()
    assert f"billing-dash prices set --org {org.name} '{model}' --input X --output Y" in banner.text
    assert not page.driver.find_elements(By.CSS_SELECTOR, "#billing-unpriced b")
