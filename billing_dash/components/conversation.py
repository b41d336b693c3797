"""One conversation as the dashboard's detail dialog shows it: totals, then its messages."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import dash_bootstrap_components as dbc
from dash import html

from . import format as fmt


def _local(instant: str, tz: str) -> str:
    return f"{datetime.fromisoformat(instant).astimezone(ZoneInfo(tz)):%b %-d, %Y %H:%M:%S}"


def conversation_view(detail: dict, tz: str, prefix: str) -> list:
    """`detail` is the API's `GET /api/v1/conversations/{id}` body; times in the zone `tz`."""
    listed = len(detail["messages"])
    rows = [
        html.Tr(
            [
                html.Td(_local(m["timestamp"], tz)),
                html.Td(m["model"] if m["priced"] else [m["model"], html.Span(" (unpriced)", className="text-muted")]),
                html.Td(fmt.count(m["promptTokens"]), className="text-end"),
                html.Td(fmt.count(m["cacheReadTokens"]), className="text-end"),
                html.Td(fmt.count(m["completionTokens"]), className="text-end"),
                html.Td(fmt.count(m["reasoningTokens"]), className="text-end"),
                html.Td(fmt.money(m["cost"], 6), className="text-end"),
            ]
        )
        for m in detail["messages"]
    ]
    return [
        html.Dl(
            [
                html.Dt("Agent"),
                html.Dd(detail["agentId"] or "—"),
                html.Dt("First – last message"),
                html.Dd(f"{_local(detail['firstMessageAt'], tz)} – {_local(detail['lastMessageAt'], tz)} ({tz})"),
                html.Dt("Total"),
                html.Dd(
                    f"{fmt.money(detail['cost'], 6)} · {fmt.count(detail['totalTokens'])} tokens · "
                    f"{fmt.count(detail['messageCount'])} messages",
                    id=f"{prefix}-conversation-totals",
                ),
            ],
            className="conversation-facts",
        ),
        dbc.Table(
            [
                html.Thead(
                    html.Tr(
                        [
                            html.Th("Time"),
                            html.Th("Model"),
                            html.Th("Prompt", className="text-end"),
                            # The parts follow their totals: cache reads are prompt tokens, reasoning completion.
                            html.Th("Cache read", className="text-end"),
                            html.Th("Completion", className="text-end"),
                            html.Th("Reasoning", className="text-end"),
                            html.Th("Cost", className="text-end"),
                        ]
                    )
                ),
                html.Tbody(rows, id=f"{prefix}-conversation-messages"),
            ],
            size="sm",
            striped=True,
            responsive=True,
        ),
        html.Div(
            f"The first {listed:,} of {detail['messageCount']:,} messages."
            if listed < detail["messageCount"]
            else None,
            className="text-muted small",
        ),
    ]
