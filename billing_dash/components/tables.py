"""Sortable AG Grid tables for agents, models, conversations and tag values."""

from __future__ import annotations

from typing import Any

import dash_ag_grid as dag

MONEY = {"function": "d3.format('$,.2f')(params.value)"}
MONEY_PRECISE = {"function": "d3.format('$,.4f')(params.value)"}
COUNT = {"function": "d3.format(',')(params.value)"}
NUMERIC = {"type": "numericColumn"}

AGENT_COLUMNS: list[dict[str, Any]] = [
    {"field": "agentName", "headerName": "Agent", "minWidth": 160, "flex": 2},
    {"field": "cost", "headerName": "Cost", "valueFormatter": MONEY, "sort": "desc", **NUMERIC},
    {"field": "totalTokens", "headerName": "Tokens", "valueFormatter": COUNT, **NUMERIC},
    {"field": "messageCount", "headerName": "Messages", "valueFormatter": COUNT, **NUMERIC},
    {"field": "conversationCount", "headerName": "Conversations", "valueFormatter": COUNT, **NUMERIC},
    {
        "field": "budgetUsedPercent",
        "headerName": "Budget used (this month)",
        "minWidth": 190,
        "valueFormatter": {
            "function": "params.value == null ? '—' : d3.format(',.1f')(params.value) + '% of '"
            " + d3.format(',')(params.data.monthlyTokenBudget)"
        },
        "cellClassRules": {
            "budget-over": "params.value >= 100",
            "budget-near": "params.value >= 80 && params.value < 100",
        },
        **NUMERIC,
    },
]
MODEL_COLUMNS: list[dict[str, Any]] = [
    {"field": "model", "headerName": "Model", "minWidth": 150, "flex": 2},
    {"field": "cost", "headerName": "Cost", "valueFormatter": MONEY, "sort": "desc", **NUMERIC},
    {"field": "totalTokens", "headerName": "Tokens", "valueFormatter": COUNT, **NUMERIC},
    {"field": "messageCount", "headerName": "Messages", "valueFormatter": COUNT, **NUMERIC},
    {
        "field": "avgTokensPerMessage",
        "headerName": "Avg tokens/msg",
        "valueFormatter": {"function": "d3.format(',.2f')(params.value)"},
        **NUMERIC,
    },
    {"field": "unpricedMessageCount", "headerName": "Unpriced msgs", "valueFormatter": COUNT, **NUMERIC},
]
CONVERSATION_COLUMNS: list[dict[str, Any]] = [
    {"field": "title", "headerName": "Conversation", "minWidth": 180, "flex": 2, "tooltipField": "conversationId"},
    {"field": "cost", "headerName": "Cost", "valueFormatter": MONEY_PRECISE, "sort": "desc", **NUMERIC},
    {"field": "totalTokens", "headerName": "Tokens", "valueFormatter": COUNT, **NUMERIC},
    {"field": "messageCount", "headerName": "Messages", "valueFormatter": COUNT, **NUMERIC},
]


# The rows of usageByTag: no default sort, so Other and Untagged stay after the top values.
TAG_COLUMNS: list[dict[str, Any]] = [
    {"field": "label", "headerName": "Value", "minWidth": 160, "flex": 2},
    {"field": "cost", "headerName": "Cost", "valueFormatter": MONEY, **NUMERIC},
    {"field": "totalTokens", "headerName": "Tokens", "valueFormatter": COUNT, **NUMERIC},
    {"field": "messageCount", "headerName": "Messages", "valueFormatter": COUNT, **NUMERIC},
    {
        "field": "costShare",
        "headerName": "Share of cost",
        "valueFormatter": {"function": "params.value == null ? '—' : d3.format('.1f')(params.value) + '%'"},
        **NUMERIC,
    },
]


def grid(grid_id: str, columns: list[dict], row_id: str | None = None, clickable: str | None = None) -> dag.AgGrid:
    """A grid of `columns`; `row_id` names the field that identifies a row (clicks report it);
    `clickable`, a condition on `params.data`, marks only those rows as clickable (default: all)."""
    return dag.AgGrid(
        id=grid_id,
        columnDefs=columns,
        getRowId=f"params.data.{row_id}" if row_id else None,
        rowData=[],
        defaultColDef={"sortable": True, "resizable": True, "minWidth": 110, "flex": 1},
        dashGridOptions={
            "domLayout": "autoHeight",
            "suppressCellFocus": True,
            "localeText": {"noRowsToShow": "No usage in this period"},
            **({"rowClass": "clickable-row"} if row_id and not clickable else {}),
            **({"rowClassRules": {"clickable-row": clickable}} if clickable else {}),
        },
        columnSize="responsiveSizeToFit",
        className="billing-grid",
        style={"width": "100%"},
    )
