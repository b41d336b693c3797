"""Browser fixtures: headless Chromium for dash_duo, the app on a free port, a logged-in page object, seeded usage."""

from __future__ import annotations

import os
import shutil
import uuid
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

import pytest
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from billing_dash.components.report_view import period_label
from billing_dash.ingest import ingest
from billing_dash.models import model_prices
from billing_dash.pages import DASHBOARD_PATH
from tests import IN_CI

from ..factories import TEST_PASSWORD, free_port

CHROME = os.environ.get("DASH_TEST_CHROMEPATH") or next(
    (p for p in (shutil.which("chromium"), shutil.which("chromium-browser"), shutil.which("google-chrome")) if p), None
)
CHROMEDRIVER = shutil.which("chromedriver")
WINDOW = (1400, 1000)
HOME = DASHBOARD_PATH
# Browser tests run on PostgreSQL only by default (each test costs a browser start and a page load);
# E2E_BACKENDS=sqlite,postgresql runs them on both.
E2E_BACKENDS = [b.strip() for b in os.environ.get("E2E_BACKENDS", "postgresql").split(",") if b.strip()]
TZ = "Europe/Berlin"
# The price of today's cached event's model (per million): input, output, cache read.
CACHED_PRICE = (Decimal(3), Decimal(15), Decimal("0.3"))


def pytest_configure(config):
    # selenium 4.2 calls urllib3's deprecated HTTPResponse.getheader() on every webdriver command.
    config.addinivalue_line("filterwarnings", "ignore:HTTPResponse.getheader:DeprecationWarning")


def pytest_setup_options():
    """dash's hook for the webdriver options: headless Chromium, no network chatter, fixed size."""
    options = Options()
    if CHROME:
        options.binary_location = CHROME
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-extensions",
        "--disable-default-apps",
        f"--window-size={WINDOW[0]},{WINDOW[1]}",
    ):
        options.add_argument(arg)
    return options


@pytest.fixture(autouse=True)
def _browser_available():
    """Runs before dash_duo: skip (or, with CI=true, fail) when there is no browser to drive."""
    missing = [name for name, path in (("chromium", CHROME), ("chromedriver", CHROMEDRIVER)) if not path]
    if missing:
        reason = f"{' and '.join(missing)} not found on PATH (set DASH_TEST_CHROMEPATH for the browser)"
        if IN_CI:
            pytest.fail(f"{reason} (CI=true: browser tests must run, not skip)", pytrace=False)
        pytest.skip(reason)


class BillingPage:
    """The dashboard as a person sees it, through dash_duo's webdriver."""

    def __init__(self, duo, base_url: str) -> None:
        self.duo = duo
        self.driver = duo.driver
        self.base = base_url

    # navigation -----------------------------------------------------------------------------
    def visit(self, path: str) -> None:
        self.driver.get(self.base + path)

    @property
    def path(self) -> str:
        return urlsplit(self.driver.current_url).path

    @property
    def query(self) -> str:
        return urlsplit(self.driver.current_url).query

    def wait_until(self, condition, message: str, timeout: float = 10):
        return WebDriverWait(self.driver, timeout).until(lambda _d: condition(), message)

    def wait_for_url(self, path: str, query: str | None = None, timeout: float = 10) -> None:
        self.wait_until(
            lambda: self.path == path and (query is None or self.query == query),
            f"URL never became {path}?{query or ''} (is {self.driver.current_url})",
            timeout,
        )

    def login(self, email: str, password: str = TEST_PASSWORD, next_path: str | None = None) -> None:
        self.visit("/login" + (f"?next={quote(next_path, safe='/')}" if next_path else ""))
        self.login_here(email, password)

    def login_here(self, email: str, password: str = TEST_PASSWORD) -> None:
        """Fill in and submit the login form already on screen."""
        self.duo.wait_for_element("#login-submit")
        for field, value in (("email", email), ("password", password)):
            box = self.driver.find_element(By.ID, field)
            box.clear()
            box.send_keys(value)
        self.driver.find_element(By.ID, "login-submit").click()

    def open_dashboard(self, email: str, query: str = "") -> None:
        """Log in, open the billing page (with `query`, as a typed or pasted URL) and wait for its cards."""
        self.login(email)
        self.wait_for_url(HOME)
        if query:
            self.visit(f"{HOME}?{query}")
            self.wait_for_url(HOME, query)
        self.duo.wait_for_element("#billing-cost-value", timeout=15)

    # the period control ---------------------------------------------------------------------
    def click_period(self, label: str) -> None:
        self.driver.find_element(By.XPATH, f"//*[@id='billing-period']//label[normalize-space()='{label}']").click()

    # cards -------------------------------------------------------------------------------------
    def wait_for_report(self, api: dict, timeout: float = 15) -> None:
        """Wait until the period label and the cards show exactly the API's numbers."""
        self.duo.wait_for_text_to_equal("#billing-period-label", period_label(api["period"]), timeout)
        for selector, text in expected_cards(api).items():
            self.duo.wait_for_text_to_equal(selector, text, timeout)

    def no_alert_fired(self) -> bool:
        return not expected_conditions.alert_is_present()(self.driver)


@pytest.fixture
def base_url(dash_duo, app) -> str:
    """The session's Dash app served for this test on a free port.

    dash_duo is function-scoped (a fresh Chromium and a ThreadedRunner per test), so the same app
    instance is started again by every test; that costs about 1.5 s per test, mostly Chromium."""
    return serve(dash_duo, app)


def serve(dash_duo, app) -> str:
    """Start `app` for dash_duo's browser on a free port and return its base URL."""
    port = free_port()
    # Set before start: the runner polls its url while the server thread picks the port.
    dash_duo.server.port = port
    dash_duo.start_server(app, navigate=False, port=port, start_timeout=10)
    # Explicit waits only: dash_duo's 2 s implicit wait would slow every "is absent" check.
    dash_duo.driver.implicitly_wait(0)
    # Headless Chromium only saves downloads where told to through DevTools.
    dash_duo.driver.execute_cdp_cmd(
        "Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": dash_duo.download_path}
    )
    return dash_duo.server.url


@pytest.fixture
def page(dash_duo, base_url) -> BillingPage:
    return BillingPage(dash_duo, base_url)


# expectations from the API ----------------------------------------------------------------------


def api_report(client, headers: dict, **params) -> dict:
    response = client.get("/api/v1/analytics/billing", query_string=params, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def expected_cards(api: dict) -> dict[str, str]:
    s = api["summary"]
    return {
        "#billing-cost-value": f"${s['totalCost']:,.2f}",
        "#billing-tokens-value": f"{s['totalTokens']:,}",
        "#billing-conversations-value": f"{s['totalConversations']:,}",
        "#billing-cache": (
            f"Cache hit rate {s['cacheReadTokens'] / s['promptTokens'] * 100:.1f}%"
            if s["promptTokens"]
            else "Cache hit rate –"
        )
        + f" · saved ${s['cacheSavings']:,.2f}",
    }


# seeded usage ----------------------------------------------------------------------------------


def local_instant(day: date, tz: str, after: timedelta) -> str:
    return (datetime.combine(day, time(0), tzinfo=ZoneInfo(tz)) + after).astimezone(UTC).isoformat()


def make_event(ts: str, agent: str, conversation: str, prompt: int, completion: int, cost: str, **extra) -> dict:
    return {
        "event_id": f"e2e-{uuid.uuid4().hex}",
        "timestamp": ts,
        "agent_id": agent,
        "agent_name": extra.pop("agent_name", agent.title()),
        "conversation_id": conversation,
        "conversation_title": extra.pop("conversation_title", f"Chat {conversation}"),
        "model": extra.pop("model", "e2e-model"),
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "cost": cost,
        **extra,
    }


def store(engine, org, events: list[dict]) -> None:
    with engine.begin() as conn:
        result = ingest(conn, org.id, enumerate(events))
    assert result.inserted == len(events)


@pytest.fixture
def usage(engine, org) -> list[dict]:
    """Events at the start of today, this week, this month and this year (org zone), and older ones.

    Today's costs add up to a whole number of dollars on purpose (a whole-dollar day is ordinary)."""
    today = datetime.now(ZoneInfo(org.timezone)).date()
    week, month, year = today - timedelta(days=today.weekday()), today.replace(day=1), today.replace(month=1, day=1)
    tz = org.timezone
    # Today's first event read most of its prompt from the cache of a model with a cache price.
    cached_model = f"e2e-cached-{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        conn.execute(
            model_prices.insert().values(
                model=cached_model,
                effective_from=datetime(2020, 1, 1, tzinfo=UTC),
                prompt_per_million=CACHED_PRICE[0],
                completion_per_million=CACHED_PRICE[1],
                cache_read_per_million=CACHED_PRICE[2],
            )
        )
    events = [
        make_event(
            local_instant(today, tz, timedelta(seconds=30)),
            "alpha",
            "c-today-1",
            1_200_000,
            345_678,
            "1234.25",
            model=cached_model,
            cache_read_tokens=900_000,
        ),
        make_event(local_instant(today, tz, timedelta(seconds=40)), "beta", "c-today-2", 10_000, 2_000, "0.75"),
        make_event(local_instant(week, tz, timedelta(minutes=1)), "alpha", "c-week", 50_000, 5_000, "12.345678"),
        make_event(local_instant(month, tz, timedelta(minutes=2)), "gamma", "c-month", 700_000, 70_000, "88.1"),
        make_event(local_instant(year, tz, timedelta(minutes=3)), "beta", "c-year", 3_000_000, 300_000, "2500.5"),
        make_event(local_instant(year, tz, -timedelta(hours=1)), "alpha", "c-last-year", 9_999, 1, "99.99"),
        make_event(
            local_instant(today - timedelta(days=400), tz, timedelta(hours=12)), "gamma", "c-old", 123, 456, "7.77"
        ),
    ]
    store(engine, org, events)
    return events
