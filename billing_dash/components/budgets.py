"""Budget cards: each budget's use of its limits, forecast for its period's end and days left."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

from . import format as fmt

_TONES = {"ok": "success", "warning": "warning", "exceeded": "danger"}
_PERIOD_NAMES = {"month": "this month", "week": "this week", "day": "today"}


def _scope(budget: dict, agent_names: dict[str, str]) -> str:
    if budget["scope"] == "organization":
        return "Organization"
    if budget["scope"] == "agent":
        return agent_names.get(budget["scopeId"], budget["scopeId"])
    return f"Model {budget['scopeId']}"


def _amount(unit: str, value: float) -> str:
    return fmt.money(value) if unit == "usd" else f"{fmt.count(value)} tokens"


def _limit_lines(budget: dict) -> list:
    lines = []
    for unit in ("usd", "tokens"):
        limit = budget[unit]
        if limit is None:
            continue
        lines.append(
            html.Div(
                [
                    html.Span(f"{_amount(unit, limit['used'])} of {_amount(unit, limit['limit'])}", className="fw-600"),
                    html.Span(f" · forecast {_amount(unit, limit['forecast'])}", className="card-detail"),
                ],
                className="budget-limit",
            )
        )
    return lines


def budget_card(budget: dict, prefix: str, agent_names: dict[str, str]) -> dbc.Col:
    """A card of one budget as GET /api/v1/budgets gives it (money as floats, for the screen),
    an agent's by its display name."""
    card_id = f"{prefix}-budget-{budget['id']}"
    days = budget["daysLeft"]
    tone = _TONES[budget["state"]]
    return dbc.Col(
        dbc.Card(
            dbc.CardBody(
                [
                    html.Div(
                        [
                            html.Span(
                                f"{_scope(budget, agent_names)} · {_PERIOD_NAMES[budget['period']]}",
                                className="card-label",
                            ),
                            dbc.Badge(budget["state"], color=tone, className="ms-auto", id=f"{card_id}-state"),
                        ],
                        className="d-flex align-items-center gap-2",
                    ),
                    *_limit_lines(budget),
                    dbc.Progress(
                        value=min(budget["percent"], 100),
                        color=tone,
                        className="my-2 budget-bar",
                        label=f"{budget['percent']:,.0f}%",
                    ),
                    html.Div(
                        f"{days} day{'s' if days != 1 else ''} left (to {budget['endDate']})"
                        + (f" · runs out {budget['exhaustionDate']}" if budget["exhaustionDate"] else ""),
                        className="card-detail",
                        id=f"{card_id}-days",
                    ),
                ]
            ),
            className="summary-card budget-card h-100",
            id=card_id,
        ),
        xs=12,
        md=6,
        xl=4,
    )


def budget_cards(budgets: list[dict], prefix: str, agent_names: dict[str, str] | None = None) -> list[dbc.Col]:
    return [budget_card(budget, prefix, agent_names or {}) for budget in budgets]
