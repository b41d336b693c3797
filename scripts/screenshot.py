"""Screenshot of the dashboard with demo data, for README: `python scripts/screenshot.py [URL] [OUT]`.

Logs in as the demo user in headless Chromium (Debian's chromium and chromedriver) and saves
a full-width PNG once the figures have loaded. `make screenshot` serves the app and runs this.
"""

from __future__ import annotations

import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from billing_dash.cli import DEMO_EMAIL, DEMO_PASSWORD


def chromium(width: int, height: int) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        f"--window-size={width},{height}",
    ):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def main(base: str = "http://127.0.0.1:8050", out: str = "docs/dashboard.png", width: int = 1400) -> None:
    driver = chromium(width, 1000)
    try:
        driver.get(f"{base}/login?next=/dashboard/billing?period=month")
        driver.find_element(By.ID, "email").send_keys(DEMO_EMAIL)
        driver.find_element(By.ID, "password").send_keys(DEMO_PASSWORD)
        driver.find_element(By.ID, "login-submit").click()
        wait = WebDriverWait(driver, 30)
        wait.until(EC.presence_of_element_located((By.ID, "billing-cost-value")))
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#billing-daily-graph .main-svg")))
        wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#billing-agents-grid .ag-row")))
        time.sleep(1.5)  # let plotly and the grids finish their transitions
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(width, height)
        time.sleep(0.5)
        driver.save_screenshot(out)
        print(f"saved {out} ({width}x{height})")
    finally:
        driver.quit()


if __name__ == "__main__":
    main(*sys.argv[1:3])
