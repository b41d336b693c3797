"""The dashboard's layout: a 390 px phone without horizontal scrolling, and a 1920 px screen with one row of cards."""

from __future__ import annotations

import contextlib

import pytest
from selenium.webdriver.common.by import By

from .conftest import E2E_BACKENDS, HOME, api_report

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("database_url", E2E_BACKENDS, indirect=True)]

PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True}
WIDE = {"width": 1920, "height": 1080, "deviceScaleFactor": 1, "mobile": False}
CARD_IDS = ("billing-cost", "billing-tokens", "billing-avg-cost", "billing-conversations")
PERIOD_LABELS = "#billing-period label"

# Page width, viewport width, and every rendered element that sticks out past the viewport's right
# edge without an ancestor (below <body>) that clips or scrolls it. <body> has overflow-x: hidden,
# so an overflow would be cut off instead of scrolled; the list names what would be lost.
MEASURE = """
const root = document.documentElement, view = root.clientWidth;
const clipped = (el) => {
  for (let a = el.parentElement; a && a !== document.body && a !== root; a = a.parentElement) {
    if (getComputedStyle(a).overflowX !== "visible") return true;
  }
  return false;
};
const name = (el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
  (typeof el.className === "string" && el.className.trim() ? "." + el.className.trim().split(/\\s+/).join(".") : "");
const sticking = [];
for (const el of document.body.querySelectorAll("*")) {
  const r = el.getBoundingClientRect();
  if (r.width === 0 || r.height === 0 || r.right <= view + 1 || clipped(el)) continue;
  sticking.push(name(el) + " right=" + r.right.toFixed(1) + " (+" + (r.right - view).toFixed(1) + " px)");
}
return {scrollWidth: root.scrollWidth, clientWidth: view, bodyScrollWidth: document.body.scrollWidth,
        sticking: sticking.slice(0, 15)};
"""
RIGHT_EDGE = "return arguments[0].getBoundingClientRect().right;"
# Whether a click at the element's centre lands on it (so nothing covers it).
HIT = """
const el = arguments[0], r = el.getBoundingClientRect();
const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
return hit !== null && (hit === el || el.contains(hit));
"""


@pytest.fixture
def viewport(page):
    """Set a device metrics override (before any page loads) and clear it after the test."""

    def emulate(metrics: dict) -> None:
        page.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)

    yield emulate
    page.driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def _open_loaded_dashboard(page, user_email, client, auth_headers) -> None:
    """Log in, open the month view and wait for the cards' numbers, the daily chart and the agent rows."""
    page.open_dashboard(user_email)
    page.wait_for_url(HOME, "period=month")
    page.wait_for_report(api_report(client, auth_headers, period="month"))
    page.duo.wait_for_element("#billing-daily-graph .main-svg", timeout=15)
    page.duo.wait_for_element('#billing-agents-grid .ag-cell[col-id="agentName"]', timeout=15)


def _settled_measure(page, width: int) -> dict:
    """The layout measure once it fits (charts resize after load), or the last one after 5 s."""
    last = {}

    def fits() -> bool:
        last.update(page.driver.execute_script(MEASURE))
        return last["scrollWidth"] <= last["clientWidth"] and not last["sticking"]

    with contextlib.suppress(Exception):
        page.wait_until(fits, "layout still overflows", timeout=5)
    # A desktop (non-mobile) viewport loses its vertical scrollbar's width (15 px in Chromium).
    assert width - 20 <= last["clientWidth"] <= width, f"viewport is {last['clientWidth']} px wide, not {width}"
    return last


def _assert_no_horizontal_overflow(measure: dict) -> None:
    assert measure["scrollWidth"] <= measure["clientWidth"], (
        f"page scrolls sideways: scrollWidth {measure['scrollWidth']} > clientWidth {measure['clientWidth']} "
        f"(body scrollWidth {measure['bodyScrollWidth']}); sticking out: {measure['sticking']}"
    )
    assert measure["sticking"] == [], f"elements past the {measure['clientWidth']} px viewport: {measure['sticking']}"


def test_phone_width_has_no_horizontal_scroll(page, viewport, user_email, client, auth_headers, usage):
    viewport(PHONE)
    _open_loaded_dashboard(page, user_email, client, auth_headers)
    measure = _settled_measure(page, PHONE["width"])
    _assert_no_horizontal_overflow(measure)
    view = measure["clientWidth"]

    for card_id in CARD_IDS:
        card = page.driver.find_element(By.ID, card_id)
        right = page.driver.execute_script(RIGHT_EDGE, card)
        assert card.is_displayed() and right <= view + 1, f"card #{card_id} ends at {right} px of {view}"

    labels = page.driver.find_elements(By.CSS_SELECTOR, PERIOD_LABELS)
    assert [label.text for label in labels] == [
        "Today",
        "Week",
        "Month",
        "Year",
        "Last 7 days",
        "Last 30 days",
        "Last month",
        "Last quarter",
        "Custom",
    ]
    for label in labels:
        right = page.driver.execute_script(RIGHT_EDGE, label)
        assert right <= view + 1, f"period button {label.text!r} ends at {right} px of {view}"
        assert label.is_displayed() and label.is_enabled(), f"period button {label.text!r} is not usable"
        assert page.driver.execute_script(HIT, label), f"period button {label.text!r} is covered"

    page.click_period("Week")
    page.wait_for_url(HOME, "period=week")
    page.wait_for_report(api_report(client, auth_headers, period="week"))
    _assert_no_horizontal_overflow(_settled_measure(page, PHONE["width"]))


def test_wide_screen_puts_the_four_cards_in_one_row(page, viewport, user_email, client, auth_headers, usage):
    viewport(WIDE)
    _open_loaded_dashboard(page, user_email, client, auth_headers)
    _assert_no_horizontal_overflow(_settled_measure(page, WIDE["width"]))

    tops = {card_id: page.driver.find_element(By.ID, card_id).rect["y"] for card_id in CARD_IDS}
    assert len({round(top) for top in tops.values()}) == 1, f"cards are not in one row: {tops}"
    lefts = [page.driver.find_element(By.ID, card_id).rect["x"] for card_id in CARD_IDS]
    assert lefts == sorted(lefts), f"cards are out of order: {dict(zip(CARD_IDS, lefts, strict=True))}"
