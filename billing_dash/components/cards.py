"""The four summary cards, each with its change against the previous period."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

from . import format as fmt


def change_badge(pct: float | None, card_id: str, compared: str) -> html.Span:
    """An arrow and percent; for costs, up is drawn as bad (red) and down as good (green). Its
    tooltip (`compared`) names the dates it compares with."""
    if pct is None:
        return html.Span("no earlier data", className="change change-none", id=f"{card_id}-change", title=compared)
    arrow, tone = ("▲", "change-up") if pct > 0 else ("▼", "change-down") if pct < 0 else ("■", "change-flat")
    return html.Span(
        f"{arrow} {abs(pct):,.1f}% vs previous period",
        className=f"change {tone}",
        id=f"{card_id}-change",
        title=compared,
    )


def cache_line(summary: dict) -> str:
    """Cache hit rate (cache reads of all prompt tokens) and what the reads saved."""
    prompt = summary["promptTokens"]
    rate = f"{summary['cacheReadTokens'] / prompt * 100:.1f}%" if prompt else "–"
    return f"Cache hit rate {rate} · saved {fmt.money(summary['cacheSavings'])}"


def summary_card(
    card_id: str,
    title: str,
    value: str,
    detail: str,
    pct: float | None,
    compared: str,
    extra: html.Div | None = None,
) -> dbc.Col:
    return dbc.Col(
        dbc.Card(
            dbc.CardBody(
                [
                    html.Div(title, className="card-label"),
                    html.Div(value, className="card-value", id=f"{card_id}-value"),
                    html.Div(detail, className="card-detail"),
                    change_badge(pct, card_id, compared),
                    *([extra] if extra is not None else []),
                ]
            ),
            className="summary-card h-100",
            id=card_id,
        ),
        xs=6,
        xl=3,
    )


def summary_cards(summary: dict, changes: dict, prefix: str, compared: str) -> list[dbc.Col]:
    """Cards from the report JSON's summary (the API's numbers) and the period changes against
    the dates `compared` names."""
    return [
        summary_card(
            f"{prefix}-cost",
            "Total Cost",
            fmt.money(summary["totalCost"]),
            f"{fmt.count(summary['totalMessages'])} messages",
            changes.get("totalCost"),
            compared,
            html.Div(cache_line(summary), className="card-detail", id=f"{prefix}-cache"),
        ),
        summary_card(
            f"{prefix}-tokens",
            "Total Tokens",
            fmt.count(summary["totalTokens"]),
            f"Avg {fmt.count(summary['avgTokensPerMessage'])} per message",
            changes.get("totalTokens"),
            compared,
        ),
        summary_card(
            f"{prefix}-avg-cost",
            "Avg Cost/Message",
            fmt.small_money(summary["avgCostPerMessage"]),
            "Per message average",
            changes.get("avgCostPerMessage"),
            compared,
        ),
        summary_card(
            f"{prefix}-conversations",
            "Conversations",
            fmt.count(summary["totalConversations"]),
            "Total conversations",
            changes.get("totalConversations"),
            compared,
        ),
    ]
