"""The tag filter in headless Chromium: a link with tag.<key> shows its chip and the API's numbers,
the tag picker adds a value, a chip's ✕ removes it, and the URL follows."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from selenium.webdriver.common.by import By

from billing_dash.tags import set_keys

from .conftest import E2E_BACKENDS, HOME, api_report, local_instant, make_event, store
from .test_filters import _chip, _chips, _click

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
