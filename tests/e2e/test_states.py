"""The dashboard when things go wrong: outages, a lost session, bad links; Back through custom ranges; chart sizes."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa
from selenium.webdriver.common.by import By

from billing_dash.config import Settings
from billing_dash.web.app import create_app

from .conftest import E2E_BACKENDS, HOME, BillingPage, api_report, expected_cards, serve

pytestmark = [pytest.mark.e2e]
on_e2e_backends = pytest.mark.parametrize("database_url", E2E_BACKENDS, indirect=True)
# The outage is a TCP proxy in front of PostgreSQL; SQLite has no connection to cut.
on_postgresql = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
REPORT = "/api/v1/analytics/billing"
GRAPHS = ("billing-daily-graph", "billing-model-graph")
HEIGHT = "return document.getElementById(arguments[0]).getBoundingClientRect().height;"


def _displayed(page: BillingPage, selector: str) -> bool:
    return any(e.is_displayed() for e in page.driver.find_elements(By.CSS_SELECTOR, selector))


def _numbers_gone(page: BillingPage, api: dict) -> bool:
    """No card, chart or table is on screen any more, nor the total cost of `api`'s report."""
    shown = [*expected_cards(api), *(f"#{graph}" for graph in GRAPHS), "#billing-agents-grid", "#billing-period-label"]
    return expected_cards(api)["#billing-cost-value"] not in page.driver.find_element(
        By.TAG_NAME, "body"
    ).text and not any(_displayed(page, selector) for selector in shown)


# --- a database outage and a lost session ----------------------------------------------------------


@pytest.fixture
def proxied_page(dash_duo, database_url, proxy):
    """The dashboard served by an app that reaches this test's PostgreSQL database through `proxy`."""
    url = sa.engine.make_url(database_url).set(host="127.0.0.1", port=proxy.port)
    app = create_app(
        Settings.from_env({}, database_url=url.render_as_string(hide_password=False), secret_key="e2e-outage")
    )
    try:
        yield BillingPage(dash_duo, serve(dash_duo, app))
    finally:
        app.server.extensions["billing_dash.engine"].dispose()


@on_postgresql
def test_outage_shows_the_alert_instead_of_the_old_numbers(
    proxied_page, proxy, user_email, client, auth_headers, usage
):
    page = proxied_page
    month, year = (api_report(client, auth_headers, period=p) for p in ("month", "year"))
    page.open_dashboard(user_email)
    page.wait_for_report(month)
    assert not _displayed(page, "#billing-alert")

    proxy.down()
    page.click_period("Year")
    page.wait_until(lambda: _displayed(page, "#billing-alert"), "no alert while the database is down")
    assert "Try again" in page.driver.find_element(By.ID, "billing-alert").text
    page.wait_until(lambda: _numbers_gone(page, month), "the month's numbers still show under Year")

    proxy.up()
    page.driver.find_element(By.ID, "billing-retry").click()
    page.wait_for_report(year)
    page.wait_until(lambda: not _displayed(page, "#billing-alert"), "the alert stays after a good retry")
    for graph in GRAPHS:
        assert page.driver.execute_script(HEIGHT, graph) > 200, f"#{graph} collapsed after the retry"


def _log_out_in_another_tab(page: BillingPage) -> None:
    dashboard = page.driver.current_window_handle
    page.driver.switch_to.new_window("tab")
    page.visit(HOME)
    page.duo.wait_for_element("#shell-logout").click()
    page.wait_for_url("/login")
    page.driver.close()
    page.driver.switch_to.window(dashboard)


@on_e2e_backends
@pytest.mark.parametrize(
    "lose_session",
    [
        pytest.param(_log_out_in_another_tab, id="logout-in-another-tab"),
        pytest.param(lambda page: page.driver.delete_cookie("session"), id="session-cookie-gone"),
    ],
)
def test_a_click_without_a_session_goes_to_login_and_back(page, user_email, client, auth_headers, usage, lose_session):
    page.open_dashboard(user_email)
    page.wait_for_report(api_report(client, auth_headers, period="month"))
    lose_session(page)

    page.click_period("Year")
    page.wait_for_url("/login")
    assert page.query == f"next={HOME}?period=year"
    page.login_here(user_email)
    page.wait_for_url(HOME, "period=year")
    page.wait_for_report(api_report(client, auth_headers, period="year"))


# --- a bad custom link ------------------------------------------------------------------------------


@on_e2e_backends
@pytest.mark.parametrize(
    "start, end",
    [
        pytest.param("2026-03-01", "2026-02-01", id="reversed"),
        pytest.param("2016-01-01", "2026-01-31", id="more-than-3660-days"),
        pytest.param("2026-02-30", "2026-03-10", id="no-such-date"),
    ],
)
def test_a_bad_custom_link_says_what_is_wrong(page, user_email, client, auth_headers, usage, start, end):
    query = f"period=custom&startDate={start}&endDate={end}"
    api = client.get(REPORT, headers=auth_headers, query_string=query)
    assert api.status_code == 400
    page.login(user_email, next_path=f"{HOME}?{query}")
    page.wait_for_url(HOME, query)
    page.duo.wait_for_text_to_equal("#billing-invalid", api.get_json()["error"]["message"])
    assert not _displayed(page, "#billing-content"), "figures show for a period that does not exist"
    assert not _displayed(page, "#billing-alert")

    page.click_period("Month")  # and the page recovers
    page.wait_for_report(api_report(client, auth_headers, period="month"))
    assert not _displayed(page, "#billing-invalid")


# --- Back through custom ranges ---------------------------------------------------------------------


def _pick_range(page: BillingPage, first: int, last: int) -> tuple[date, date]:
    """Pick days `first` to `last` of the month the date picker opens on, by clicking them."""
    page.driver.find_element(By.ID, "billing-dates").click()
    header = page.duo.wait_for_element(".dash-datepicker-calendar-month-header").text
    month = datetime.strptime(header, "%B %Y").date()
    for day in (first, last):
        page.driver.find_element(
            By.XPATH,
            f"//td[contains(@class, 'dash-datepicker-calendar-date-inside')][normalize-space()='{day}']",
        ).click()
    return month.replace(day=first), month.replace(day=last)


def _custom(start: date, end: date) -> str:
    return f"period=custom&startDate={start}&endDate={end}"


@on_e2e_backends
def test_back_walks_through_custom_ranges_one_step_at_a_time(page, user_email, client, auth_headers, usage):
    def report(query: str) -> dict:
        return api_report(client, auth_headers, **dict(p.split("=") for p in query.split("&")))

    page.open_dashboard(user_email)
    page.wait_for_url(HOME, "period=month")
    page.wait_for_report(report("period=month"))
    page.click_period("Year")
    page.wait_for_url(HOME, "period=year")
    page.wait_for_report(report("period=year"))
    page.click_period("Custom")
    page.wait_until(lambda: page.query.startswith("period=custom&"), "Custom did not put a range in the URL")
    a = _custom(*_pick_range(page, 3, 10))
    page.wait_for_url(HOME, a)
    page.wait_for_report(report(a))
    b = _custom(*_pick_range(page, 12, 20))
    page.wait_for_url(HOME, b)
    page.wait_for_report(report(b))

    for query in (a, "period=year", "period=month"):
        page.driver.back()
        page.wait_for_url(HOME, query)
        page.wait_for_report(report(query))
        time.sleep(0.5)  # a stray push would show up in the URL by now
        assert page.query == query


# --- chart sizes ------------------------------------------------------------------------------------


@on_e2e_backends
def test_clicking_custom_keeps_the_charts_their_size(page, user_email, client, auth_headers, usage):
    page.open_dashboard(user_email)
    page.wait_for_report(api_report(client, auth_headers, period="month"))
    page.duo.wait_for_element("#billing-model-graph .main-svg")
    before = {graph: page.driver.execute_script(HEIGHT, graph) for graph in GRAPHS}
    assert min(before.values()) > 200, f"charts too small before clicking Custom: {before}"

    page.click_period("Custom")
    today = date.fromisoformat(api_report(client, auth_headers, period="today")["period"]["endDate"])
    start = today - timedelta(days=29)
    page.wait_for_report(api_report(client, auth_headers, period="custom", startDate=str(start), endDate=str(today)))
    for _ in range(5):  # a collapse can come a moment after the new figures
        time.sleep(0.2)
        after = {graph: page.driver.execute_script(HEIGHT, graph) for graph in GRAPHS}
        assert after == before, f"chart heights changed on clicking Custom: {before} -> {after}"
