"""The tag filter in headless Chromium: a link with tag.<key> shows its chip and the API's numbers,
the tag picker adds a value, a chip's ✕ removes it, and the URL follows; the By tag card shows the
API's usage per value and a click on a value's row filters by it."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from selenium.webdriver.common.by import By

from billing_dash.tags import set_keys

from .conftest import E2E_BACKENDS, HOME, api_report, local_instant, make_event, store
from .test_filters import _chip, _chips, _click, _row

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("database_url", E2E_BACKENDS, indirect=True)]


@pytest.fixture
def tagged(engine, org) -> None:
    """This year's events of two customers and one without tags; customer pre-aggregated."""
    tz = org.timezone
    today = datetime.now(ZoneInfo(tz)).date()
    events = [
        make_event(
            local_instant(today, tz, timedelta(minutes=1)), "alpha", "c-1", 1000, 100, "1.5", tags={"customer": "acme"}
        ),
        make_event(
            local_instant(today, tz, timedelta(minutes=2)),
            "beta",
            "c-2",
            2000,
            200,
            "2.25",
            tags={"customer": "globex"},
        ),
        make_event(local_instant(today, tz, timedelta(minutes=3)), "beta", "c-3", 4000, 400, "4.125"),
    ]
    store(engine, org, events)
    with engine.begin() as conn:
        set_keys(conn, org.id, ["customer"])


def test_tag_link_picker_and_chip(page, user_email, client, auth_headers, tagged):
    page.open_dashboard(user_email, "period=year&tag.customer=acme")
    acme = api_report(client, auth_headers, period="year", **{"tag.customer": "acme"})
    assert acme["summary"]["totalMessages"] == 1
    page.wait_for_report(acme)
    page.wait_until(lambda: _chips(page) == ["customer: acme"], "the link's tag chip never showed")

    # The picker offers the other value; picking it adds it to the filter (values OR'd).
    picker = page.driver.find_element(By.ID, "billing-tag-pick")
    page.wait_until(lambda: picker.is_displayed(), "the tag picker is hidden")
    picker.click()
    # Dash's dropdown lists its options (`key: value`) once opened; acme, in the filter already, is not offered.
    option = "//*[@role='option'][normalize-space()='customer: globex']"
    page.wait_until(lambda: page.driver.find_elements(By.XPATH, option), "the picker does not offer globex")
    assert not page.driver.find_elements(By.XPATH, "//*[@role='option'][normalize-space()='customer: acme']")
    page.driver.find_element(By.XPATH, option).click()
    page.wait_for_url(HOME, "period=year&tag.customer=acme&tag.customer=globex")
    both = api_report(client, auth_headers, period="year", **{"tag.customer": ["acme", "globex"]})
    page.wait_for_report(both)
    page.wait_until(lambda: _chips(page) == ["customer: acme", "customer: globex"], "no chip for the picked tag")

    _click(page, _chip("tag.customer", "acme"), "acme's chip")
    page.wait_for_url(HOME, "period=year&tag.customer=globex")
    page.wait_for_report(api_report(client, auth_headers, period="year", **{"tag.customer": "globex"}))
    _click(page, _chip("tag.customer", "globex"), "globex's chip")
    page.wait_for_url(HOME, "period=year")
    page.wait_for_report(api_report(client, auth_headers, period="year"))
    page.wait_until(lambda: _chips(page) == [], "a chip stayed")


# The tag table's cells of one column, in the order of its rows.
TAG_CELLS = (
    "return Array.from(document.querySelectorAll('#billing-tags-grid .ag-center-cols-container [role=row]'))"
    ".sort((a, b) => a.getAttribute('row-index') - b.getAttribute('row-index'))"
    ".map(r => r.querySelector(`[col-id='${arguments[0]}']`).innerText);"
)


def test_tag_card_shows_the_values_and_a_click_on_one_filters_by_it(page, user_email, client, auth_headers, tagged):
    page.open_dashboard(user_email, "period=year")
    api = api_report(client, auth_headers, period="year", groupBy="tag:customer")
    page.wait_for_report(api)
    card = page.driver.find_element(By.ID, "billing-tags-card")
    page.wait_until(card.is_displayed, "the tag card is hidden")
    rows = api["usageByTag"]
    labels = [r["tagValue"] if r["group"] == "value" else "Untagged" for r in rows]
    assert labels == ["globex", "acme", "Untagged"]  # the fixture: by cost, then the events without the key
    page.wait_until(lambda: page.driver.execute_script(TAG_CELLS, "label") == labels, "the tag table's values")
    # Cents as d3 rounds them (4.125 is $4.13; Python's format would say 4.12).
    costs = [float(c.lstrip("$").replace(",", "")) for c in page.driver.execute_script(TAG_CELLS, "cost")]
    assert costs == pytest.approx([r["cost"] for r in rows], abs=0.005 + 1e-9)
    total = api["summary"]["totalCost"]
    assert page.driver.execute_script(TAG_CELLS, "costShare") == [f"{r['cost'] / total * 100:.1f}%" for r in rows]

    _click(page, _row("tags", "label", "acme"), "acme's row")
    page.wait_for_url(HOME, "period=year&tag.customer=acme")
    page.wait_for_report(api_report(client, auth_headers, period="year", **{"tag.customer": "acme"}))
    page.wait_until(lambda: _chips(page) == ["customer: acme"], "no chip for the clicked tag value")
    page.wait_until(lambda: page.driver.execute_script(TAG_CELLS, "label") == ["acme"], "the tag table is not filtered")
