"""The billing page lists the organization's recent alerts, as GET /api/v1/alerts gives them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from selenium.webdriver.common.by import By

from billing_dash.alerts.budgets import set_budget

from ..factories import event, post


def test_recent_alerts_show_the_apis_alerts_newest_first(page, user_email, client, auth_headers, engine, org):
    page.open_dashboard(user_email)
    page.duo.wait_for_text_to_equal("#billing-alerts-none", "No alerts yet.", timeout=15)

    with engine.begin() as conn:
        set_budget(conn, org.id, "organization", "", "month", Decimal(10), None, (50, 80, 100))
    now = (datetime.now(UTC) - timedelta(seconds=1)).isoformat().replace("+00:00", "Z")
    for i, cost in enumerate(["6", "3"]):  # 60% (50), then 90% (80): two ingests, two alerts
        assert post(client, auth_headers, [event(i, timestamp=now, cost=cost)]).status_code == 200
    messages = [a["message"] for a in client.get("/api/v1/alerts", headers=auth_headers).get_json()["alerts"]]
    assert len(messages) == 2

    page.visit("/dashboard/billing")

    # The list may arrive while the report still loads, hidden (no text) until the report is on
    # screen: wait for what a user sees, not for the elements.
    def shown() -> list[str]:
        return [item.text for item in page.driver.find_elements(By.CSS_SELECTOR, "#billing-alerts-items .alert-item")]

    page.wait_until(lambda: len(shown()) == len(messages) and all(shown()), f"alerts never shown: {shown()}", 15)
    for text, message in zip(shown(), messages, strict=True):  # kind, local time, then the message
        assert text.startswith("threshold") and text.endswith(message), text
