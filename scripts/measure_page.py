"""Time and weigh the dashboard in headless Chromium: `python scripts/measure_page.py [URL] [RUNS]`.

Logs in as the demo user (`make run` serves one), then for each run with an empty cache:
the cold load of /dashboard/billing (until the first numbers are on screen, until the first
chart is drawn, and the bytes transferred), the same page again from a warm cache, and clicks
through Year and Month (bytes sent and received by the Dash callbacks of one click, and the
time until the cards change). Ends with the load average: other work on the same cores slows
a cold load more than anything measured here.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from urllib.parse import urlsplit

import screenshot  # scripts/, on the path when run as `python scripts/measure_page.py`
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from billing_dash.cli import DEMO_EMAIL, DEMO_PASSWORD

# Runs in the page before its own scripts: when the first card value appears, and what every
# Dash callback request sends (the Performance API sees only what comes back).
PROBE = """
window.__probe = {firstNumbers: null, firstChart: null, sent: 0, calls: 0};
new MutationObserver(function () {
  const card = document.getElementById("billing-cost-value");
  if (card && card.textContent && window.__probe.firstNumbers === null) {
    window.__probe.firstNumbers = performance.now();
  }
  if (window.__probe.firstChart === null && document.querySelector("#billing-daily-graph .main-svg")) {
    window.__probe.firstChart = performance.now();
  }
}).observe(document, {childList: true, subtree: true, characterData: true});
const originalFetch = window.fetch;
window.fetch = function (resource, options) {
  if (String(resource).indexOf("_dash-update-component") !== -1) {
    window.__probe.calls += 1;
    window.__probe.sent += new Blob([(options && options.body) || ""]).size;
  }
  return originalFetch.apply(this, arguments);
};
"""
# Armed just before a click: when the period label changes, timed in the page (polling from here
# would only see it to the nearest poll).
CLICKED = """
const label = document.getElementById("billing-period-label");
const before = label.textContent;
window.__click = {at: performance.now(), numbers: null};
new MutationObserver(function (_records, observer) {
  if (label.textContent !== before) {
    window.__click.numbers = performance.now() - window.__click.at;
    observer.disconnect();
  }
}).observe(label, {childList: true, subtree: true, characterData: true});
"""
RECEIVED = """
return performance.getEntriesByType("resource").concat(performance.getEntriesByType("navigation"))
  .reduce(function (acc, e) {
    acc.transfer += e.transferSize; acc.decoded += e.decodedBodySize; acc.count += 1;
    if (e.name.indexOf("_dash-update-component") !== -1) { acc.callbackTransfer += e.transferSize; }
    return acc;
  }, {transfer: 0, decoded: 0, count: 0, callbackTransfer: 0});
"""


def chromium() -> webdriver.Chrome:
    """make screenshot's headless Chromium, probing every page it opens."""
    driver = screenshot.chromium(1400, 1000)
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": PROBE})
    return driver


def _first_numbers(driver: webdriver.Chrome) -> float:
    WebDriverWait(driver, 60).until(lambda d: d.execute_script("return window.__probe.firstNumbers"))
    return driver.execute_script("return window.__probe.firstNumbers") / 1000


def load(driver: webdriver.Chrome, base: str) -> dict:
    driver.get(f"{base}/dashboard/billing?period=month")
    seconds = _first_numbers(driver)
    WebDriverWait(driver, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#billing-agents-grid .ag-row"))
    WebDriverWait(driver, 60).until(lambda d: d.execute_script("return window.__probe.firstChart"))
    time.sleep(1)  # the rest of the page's requests
    received = driver.execute_script(RECEIVED)
    return {
        "first_numbers_s": round(seconds, 2),
        "first_chart_s": round(driver.execute_script("return window.__probe.firstChart") / 1000, 2),
        "transferred_kb": round(received["transfer"] / 1024, 1),
        "decoded_kb": round(received["decoded"] / 1024, 1),
        "requests": received["count"],
    }


def click(driver: webdriver.Chrome, label: str) -> dict:
    driver.execute_script("performance.clearResourceTimings(); window.__probe.sent = 0; window.__probe.calls = 0;")
    driver.execute_script(CLICKED)
    driver.find_element(By.XPATH, f"//*[@id='billing-period']//label[normalize-space()='{label}']").click()
    WebDriverWait(driver, 60, poll_frequency=0.05).until(lambda d: d.execute_script("return window.__click.numbers"))
    seconds = driver.execute_script("return window.__click.numbers") / 1000
    time.sleep(1)  # callbacks that follow the first numbers
    received, probe = driver.execute_script(RECEIVED), driver.execute_script("return window.__probe")
    return {
        "period": label,
        "numbers_s": round(seconds, 2),
        "callbacks": probe["calls"],
        "sent_kb": round(probe["sent"] / 1024, 1),
        "received_kb": round(received["callbackTransfer"] / 1024, 1),
    }


def main(base: str = "http://127.0.0.1:8050", runs: str = "3") -> None:
    results = []
    for _ in range(int(runs)):
        driver = chromium()  # a new profile: an empty cache
        try:
            # Logged in on a page that loads no dashboard code, so the next load is truly cold.
            driver.get(f"{base}/login?next=/healthz")
            driver.find_element(By.ID, "email").send_keys(DEMO_EMAIL)
            driver.find_element(By.ID, "password").send_keys(DEMO_PASSWORD)
            driver.find_element(By.ID, "login-submit").click()
            # The path, not the URL: the login page's own URL names /healthz as where to go next.
            WebDriverWait(driver, 30).until(lambda d: urlsplit(d.current_url).path == "/healthz")
            cold = load(driver, base)
            warm = load(driver, base)
            clicks = [click(driver, "Year"), click(driver, "Month")]
            results.append({"cold": cold, "warm": warm, "clicks": clicks})
            print(json.dumps(results[-1]))
        finally:
            driver.quit()
    for key in ("cold", "warm"):
        print(
            f"{key}: first numbers median {statistics.median(r[key]['first_numbers_s'] for r in results):.2f} s, "
            f"first chart {statistics.median(r[key]['first_chart_s'] for r in results):.2f} s, "
            f"transferred {statistics.median(r[key]['transferred_kb'] for r in results):,.0f} kB"
        )
    year = [r["clicks"][0] for r in results]
    print(
        f"Year click: {year[0]['callbacks']} callback requests, sent {statistics.median(c['sent_kb'] for c in year):,.1f} kB, "
        f"received {statistics.median(c['received_kb'] for c in year):,.1f} kB, "
        f"numbers after {statistics.median(c['numbers_s'] for c in year):.2f} s"
    )
    print("load average (1, 5, 15 min): " + ", ".join(f"{load:.1f}" for load in os.getloadavg()))


if __name__ == "__main__":
    main(*sys.argv[1:3])
