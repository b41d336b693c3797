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
    page.duo.wait_for_element("#billing-alerts-items", timeout=15)
    items = page.driver.find_elements(By.CSS_SELECTOR, "#billing-alerts-items .alert-item")
    assert len(items) == len(messages)
    for item, message in zip(items, messages, strict=True):  # kind, local time, then the message
        assert item.text.startswith("threshold") and item.text.endswith(message), item.text
