"""The "Recent alerts" list: the organization's newest alerts, each with its kind, time and message."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import dash_bootstrap_components as dbc
from dash import html

_TONES = {"threshold": "warning", "projected": "info", "reset": "secondary", "anomaly": "danger", "runaway": "danger"}


def alert_list(alerts: list[dict], prefix: str, timezone: str) -> list:
    """Alerts as GET /api/v1/alerts gives them, newest first; their time in the organization's zone."""
    if not alerts:
        return [html.Div("No alerts yet.", className="text-muted small", id=f"{prefix}-alerts-none")]
    zone = ZoneInfo(timezone)
    items = []
    for alert in alerts:
        when = datetime.fromisoformat(alert["createdAt"].replace("Z", "+00:00")).astimezone(zone)
        items.append(
            dbc.ListGroupItem(
                [
                    dbc.Badge(alert["kind"], color=_TONES.get(alert["kind"], "secondary"), className="me-2"),
                    html.Span(when.strftime("%Y-%m-%d %H:%M"), className="text-muted small me-2"),
                    html.Span(alert["message"]),
                ],
                className="alert-item",
            )
        )
    return [dbc.ListGroup(items, flush=True, id=f"{prefix}-alerts-items")]
