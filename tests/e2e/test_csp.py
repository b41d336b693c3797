"""The login page and the dashboard work in headless Chromium under the real Content-Security-Policy."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from .conftest import E2E_BACKENDS, HOME, api_report

pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("database_url", E2E_BACKENDS, indirect=True)]

# Runs in every new document before the page's own scripts (DevTools injections are exempt from
# CSP), so violations are counted even when the console message would be easy to overlook.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " blocked " + (e.blockedURI || "inline") +
                              " at " + e.sourceFile + ":" + e.lineNumber);
});
"""
CSP_WORDS = ("Content Security Policy", "Refused to")


@pytest.fixture
def csp_page(page):
    """The logged-out page object, recording CSP violations of every document it loads."""
    page.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_VIOLATIONS})
    page.console = []
    return page


def _violations(page) -> list[str]:
    return page.driver.execute_script("return window.__cspViolations || []")


def _console_problems(page) -> list[str]:
    """SEVERE console entries and CSP messages so far (webdriver hands each entry out only once)."""
    page.console += page.duo.get_logs()
    return [
        e["message"]
        for e in page.console
        if "favicon.ico" not in e["message"]
        and (e["level"] == "SEVERE" or any(word in e["message"] for word in CSP_WORDS))
    ]


def _csp_header(page) -> str:
    return page.driver.execute_script(
        "return fetch(location.href).then(r => r.headers.get('Content-Security-Policy'));"
    )


def test_login_page_works_under_the_csp(csp_page, user_email):
    csp_page.login(user_email, "not-the-password")
    csp_page.duo.wait_for_text_to_equal(".login-error", "Wrong email or password.")
    assert "script-src 'self'" in _csp_header(csp_page)
    # The login stylesheet is same-origin and applied (its card is centred, not a bare form).
    assert (
        csp_page.driver.execute_script("return getComputedStyle(document.querySelector('.login-card')).display")
        != "inline"
    )
    assert _violations(csp_page) == []
    # The wrong password is answered with 401, which Chromium logs as a failed resource load.
    assert [m for m in _console_problems(csp_page) if "/login - Failed to load resource" not in m] == []

    csp_page.login_here(user_email)
    csp_page.wait_for_url(HOME)
    csp_page.duo.wait_for_element("#billing-cost-value", timeout=15)
    assert _violations(csp_page) == []
    assert [m for m in _console_problems(csp_page) if "/login - Failed to load resource" not in m] == []


def test_dashboard_renders_under_the_csp(csp_page, user_email, client, auth_headers, usage):
    month = api_report(client, auth_headers, period="month")
    csp_page.open_dashboard(user_email)
    csp_page.wait_for_report(month)
    csp = _csp_header(csp_page)
    assert "'unsafe-eval'" not in csp and "script-src 'self' 'sha256-" in csp
    assert "frame-ancestors 'none'" in csp

    # Plotly drew its SVG (and its injected styles did not trip style-src).
    csp_page.duo.wait_for_element("#billing-daily-graph .main-svg", timeout=15)
    csp_page.duo.wait_for_element("#billing-model-graph .main-svg", timeout=15)
    # The grids rendered rows, and the d3.format valueFormatters ran without eval.
    top_agent = max(month["usageByAgent"], key=lambda a: a["cost"])
    csp_page.duo.wait_for_text_to_equal(
        '#billing-agents-grid .ag-row[row-index="0"] .ag-cell[col-id="cost"]', f"${top_agent['cost']:,.2f}", timeout=15
    )
    csp_page.duo.wait_for_element('#billing-models-grid .ag-cell[col-id="model"]')
    csp_page.duo.wait_for_element('#billing-conversations-grid .ag-cell[col-id="title"]')

    # Callbacks (server and clientside) keep working: switch the period, sort a grid.
    csp_page.click_period("Year")
    csp_page.wait_for_url(HOME, "period=year")
    csp_page.wait_for_report(api_report(client, auth_headers, period="year"))
    header = csp_page.driver.find_element(By.CSS_SELECTOR, '#billing-agents-grid .ag-header-cell[col-id="agentName"]')
    # Below the fold at this window size: a click at a point off screen is refused as intercepted.
    # Instantly: Bootstrap's smooth scrolling would still be moving when the click lands.
    csp_page.driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", header)
    header.click()
    csp_page.duo.wait_for_element('#billing-agents-grid .ag-header-cell[col-id="agentName"][aria-sort="ascending"]')

    assert _violations(csp_page) == []
    assert _console_problems(csp_page) == []


def test_the_csp_is_enforced_and_the_checks_would_see_a_violation(csp_page, user_email):
    """Guards the two tests above: an injected inline script and eval() are refused, and reported."""
    csp_page.login(user_email)
    csp_page.wait_for_url(HOME)
    csp_page.duo.wait_for_element("#billing-cost-value", timeout=15)
    # eval runs from a timer: code that webdriver evaluates directly is exempt from the eval check.
    csp_page.driver.execute_script(
        "const s = document.createElement('script'); s.textContent = 'window.__injected = true;';"
        "document.body.appendChild(s);"
        "setTimeout(() => { try { window.__evaluated = eval('true'); } catch (e) { window.__evaluated = false; } });"
    )
    csp_page.wait_until(
        lambda: csp_page.driver.execute_script("return window.__evaluated !== undefined"),
        "the eval timer never ran",
        timeout=5,
    )
    assert csp_page.driver.execute_script("return [window.__injected === true, window.__evaluated]") == [False, False]
    csp_page.wait_until(lambda: len(_violations(csp_page)) >= 2, "the violations were not reported", timeout=5)
    assert any("Content Security Policy" in message for message in _console_problems(csp_page))
