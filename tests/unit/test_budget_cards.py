"""Budget cards from GET /api/v1/budgets rows: use of each limit, forecast, days left and state."""

from __future__ import annotations

from billing_dash.components.budgets import budget_cards


def _row(**overrides) -> dict:
    row = {
        "id": 7,
        "scope": "agent",
        "scopeId": "<b>bot</b>",
        "period": "month",
        "startDate": "2026-11-01",
        "endDate": "2026-11-30",
        "timezone": "Europe/Berlin",
        "daysLeft": 1,
        "thresholds": [50, 80, 100],
        "thresholdsCrossed": [50, 80],
        "usd": {"limit": 500.0, "used": 412.5, "percent": 82.5, "forecast": 530.25, "exhaustionDate": "2026-11-30"},
        "tokens": None,
        "percent": 82.5,
        "exhaustionDate": "2026-11-30",
        "state": "warning",
    }
    return row | overrides


def _texts(component) -> list[str]:
    """Every string in a component tree, in order."""
    if isinstance(component, str):
        return [component]
    children = getattr(component, "children", None)
    if children is None:
        return []
    if not isinstance(children, list):
        children = [children]
    return [text for child in children for text in _texts(child)]


def test_a_card_shows_use_forecast_days_left_and_state():
    (card,) = budget_cards([_row()], "p", {"<b>bot</b>": "<i>Bot</i>"})
    texts = _texts(card)
    assert "<i>Bot</i> · this month" in texts  # the agent's name, as text, never markup
    assert "Model gpt-4o · today" in _texts(budget_cards([_row(scope="model", scopeId="gpt-4o", period="day")], "p")[0])
    assert "$412.50 of $500.00" in texts and " · forecast $530.25" in texts
    assert "1 day left (to 2026-11-30) · runs out 2026-11-30" in texts
    assert "warning" in texts
    assert card.children.id == "p-budget-7"


def test_both_limits_and_an_exceeded_state():
    row = _row(
        scope="organization",
        scopeId=None,
        period="week",
        daysLeft=3,
        tokens={"limit": 1000.0, "used": 1500.0, "percent": 150.0, "forecast": 2000.0, "exhaustionDate": "2026-11-25"},
        percent=150.0,
        exhaustionDate=None,
        state="exceeded",
    )
    (card,) = budget_cards([row], "p")
    texts = _texts(card)
    assert "Organization · this week" in texts
    assert "1,500 tokens of 1,000 tokens" in texts and "3 days left (to 2026-11-30)" in texts
    bar = next(c for c in card.children.children.children if type(c).__name__ == "Progress")
    assert (bar.value, bar.color, bar.label) == (100, "danger", "150%")
    assert budget_cards([], "p") == []
