"""Filters and granularity in headless Chromium: the URL carries them, a click on an agent's or a
model's row applies one, a chip's ✕ removes it, the granularity toggle redraws the usage chart;
every view shows exactly what the API answers for the same parameters."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from .conftest import E2E_BACKENDS, HOME, api_report

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("database_url", E2E_BACKENDS, indirect=True)]

POINTS = "return document.querySelector('#billing-daily-graph .js-plotly-plot').data[2].x.length;"


def _click(page, xpath: str, what: str) -> None:
    page.wait_until(lambda: page.driver.find_elements(By.XPATH, xpath), f"{what} never showed")
    element = page.driver.find_element(By.XPATH, xpath)
    # Instant: Bootstrap makes scrolling smooth, and a click during the glide lands elsewhere.
    page.driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'})", element)
    element.click()


def _row(grid: str, column: str, text: str) -> str:
    return f"//*[@id='billing-{grid}-grid']//div[@col-id='{column}' and normalize-space()='{text}']"


def _chip(param: str, value: str) -> str:
    return f"//button[contains(@class, 'filter-chip') and contains(@id, '\"param\":\"{param}\"') and .//strong[normalize-space()='{value}']]"


def _chips(page) -> list[str]:
    return [c.text.replace("✕", "").strip() for c in page.driver.find_elements(By.CSS_SELECTOR, ".filter-chip")]


def test_clicking_rows_filters_and_chips_remove_the_filters(page, user_email, client, auth_headers, usage):
    model = "e2e-model"
    page.open_dashboard(user_email, "period=year")
    page.wait_for_report(api_report(client, auth_headers, period="year"))
    assert _chips(page) == []
    # No pre-aggregated tag keys: no tag card.
    assert not page.driver.find_element(By.ID, "billing-tags-card").is_displayed()

    _click(page, _row("agents", "agentName", "Beta"), "beta's row")
    page.wait_for_url(HOME, "period=year&agentId=beta")
    beta = api_report(client, auth_headers, period="year", agentId="beta")
    page.wait_for_report(beta)
    page.wait_until(lambda: _chips(page) == ["Agent: beta"], "no chip for the agent filter")
    # The table now holds beta alone.
    page.wait_until(
        lambda: (
            [
                e.text
                for e in page.driver.find_elements(
                    By.CSS_SELECTOR, "#billing-agents-grid [col-id='agentName'][role='gridcell']"
                )
            ]
            == ["Beta"]
        ),
        "the agents table is not filtered",
    )

    _click(page, _row("models", "model", model), "the model's row")
    page.wait_for_url(HOME, f"period=year&agentId=beta&model={model}")
    page.wait_for_report(api_report(client, auth_headers, period="year", agentId="beta", model=model))
    page.wait_until(lambda: _chips(page) == ["Agent: beta", f"Model: {model}"], "no chip for the model filter")

    _click(page, _chip("agentId", "beta"), "beta's chip")
    page.wait_for_url(HOME, f"period=year&model={model}")
    page.wait_for_report(api_report(client, auth_headers, period="year", model=model))
    page.wait_until(lambda: _chips(page) == [f"Model: {model}"], "the agent's chip stayed")

    _click(page, _chip("model", model), "the model's chip")
    page.wait_for_url(HOME, "period=year")
    page.wait_for_report(api_report(client, auth_headers, period="year"))
    page.wait_until(lambda: _chips(page) == [], "a chip stayed")


def test_a_link_with_filters_reproduces_the_view_and_back_undoes_a_filter(
    page, user_email, client, auth_headers, usage
):
    page.open_dashboard(user_email, "period=year&agentId=alpha&agentId=gamma")
    both = api_report(client, auth_headers, period="year", agentId=["alpha", "gamma"])
    page.wait_for_report(both)
    assert both["summary"]["totalMessages"] > 0
    page.wait_until(lambda: _chips(page) == ["Agent: alpha", "Agent: gamma"], "the link's chips never showed")

    _click(page, _chip("agentId", "gamma"), "gamma's chip")
    page.wait_for_url(HOME, "period=year&agentId=alpha")
    page.wait_for_report(api_report(client, auth_headers, period="year", agentId="alpha"))
    page.driver.back()
    page.wait_for_url(HOME, "period=year&agentId=alpha&agentId=gamma")
    page.wait_for_report(both)
    page.wait_until(lambda: _chips(page) == ["Agent: alpha", "Agent: gamma"], "Back did not restore the chips")


def test_granularity_toggle_redraws_the_chart(page, user_email, client, auth_headers, usage):
    # A year is drawn by weeks unless told otherwise; Today by hours.
    page.open_dashboard(user_email, "period=year")
    weeks = api_report(client, auth_headers, period="year", granularity="week")["series"]
    page.wait_for_report(api_report(client, auth_headers, period="year"))
    page.duo.wait_for_element("#billing-daily-graph .main-svg")
    page.wait_until(lambda: page.driver.execute_script(POINTS) == len(weeks), "a year is not drawn by weeks")

    _click(page, "//*[@id='billing-granularity']//label[normalize-space()='Days']", "the Days button")
    page.wait_for_url(HOME, "period=year&granularity=day")
    days = api_report(client, auth_headers, period="year")["usageByDay"]
    page.wait_until(lambda: page.driver.execute_script(POINTS) == len(days), "Days did not redraw the chart")

    _click(page, "//*[@id='billing-granularity']//label[normalize-space()='Auto']", "the Auto button")
    page.click_period("Today")
    page.wait_for_url(HOME, "period=today")
    hours = api_report(client, auth_headers, period="today", granularity="hour")["series"]
    page.wait_until(lambda: page.driver.execute_script(POINTS) == len(hours), "Today is not drawn by hours")


TRACES = (
    "return Array.from(document.querySelector('#billing-daily-graph .js-plotly-plot').data,"
    " t => [t.type, t.name, Array.from(t.y)]);"
)


def test_stack_toggle_splits_the_cost_per_agent_and_the_url_keeps_it(page, user_email, client, auth_headers, usage):
    page.open_dashboard(user_email, "period=year")
    page.wait_for_report(api_report(client, auth_headers, period="year"))
    page.duo.wait_for_element("#billing-daily-graph .main-svg")
    _click(page, "//*[@id='billing-stack']//label[normalize-space()='By agent']", "the By agent button")
    page.wait_for_url(HOME, "period=year&stackBy=agent")
    api = api_report(client, auth_headers, period="year", granularity="week", stackBy="agent")
    names = {a["agentId"]: a["agentName"] for a in api["usageByAgent"]}
    costs: dict[str, float] = {}
    for bucket in api["series"]:
        for part in bucket["stack"]:
            costs[part["key"]] = costs.get(part["key"], 0) + part["cost"]
    assert costs  # the usage fixture has agents with cost: the chart has something to split

    def stacked():
        traces = page.driver.execute_script(TRACES)
        return traces if traces and all(t[0] == "bar" for t in traces) else None

    page.wait_until(stacked, "By agent did not redraw the chart as stacked bars")
    traces = stacked()
    ranked = sorted(costs, key=lambda k: (-costs[k], k))
    expected_names = [names[k] for k in ranked] if len(ranked) <= 8 else [*(names[k] for k in ranked[:7]), "Other"]
    assert [t[1] for t in traces] == expected_names
    # Each bucket's bars add up to its cost.
    for i, bucket in enumerate(api["series"]):
        assert sum(t[2][i] for t in traces) == pytest.approx(bucket["cost"], abs=1e-6)
