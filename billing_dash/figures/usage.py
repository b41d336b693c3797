"""Figures of the billing page: usage over time (total or stacked) and the cost share of models."""

from __future__ import annotations

import html

import pandas as pd
import plotly.graph_objects as go

PROMPT_COLOR = "#4c6ef5"
COMPLETION_COLOR = "#a5b4fc"
COST_COLOR = "#e8590c"
PALETTE = ["#4c6ef5", "#e8590c", "#12b886", "#fab005", "#be4bdb", "#15aabf", "#fa5252", "#82c91e", "#868e96"]
# Slices beyond this many models are folded into "Other" so the legend stays readable.
MAX_SLICES = 8


def as_text(value: object) -> str:
    """A user-supplied string for a figure: Plotly renders tags (<a>, <b>, <br>) and entities in
    labels, legends and hovers, so escaped it shows as itself."""
    return html.escape(str(value), quote=False)


def _base_layout(fig: go.Figure) -> go.Figure:
    fig.update_layout(
        template="plotly_white",
        margin={"l": 8, "r": 8, "t": 8, "b": 8},
        legend={"orientation": "h", "yanchor": "top", "y": -0.12, "x": 0},
        hovermode="x unified",
        font={"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 12},
    )
    return fig


# How the x axis and its hover name a bucket of each granularity.
X_FORMATS = {
    "hour": ("%b %d %H:%M", "%a, %b %d, %Y %H:%M"),
    "day": ("%b %d", "%a, %b %d, %Y"),
    "week": ("%b %d", "Week of %b %d, %Y"),
    "month": ("%b %Y", "%B %Y"),
}


def build_daily_figure(df: pd.DataFrame, projection: pd.DataFrame | None = None, granularity: str = "day") -> go.Figure:
    """Tokens per bucket (prompt and completion stacked) on the left axis, cost on the right.

    `df` has one row per bucket (a day unless `granularity` says otherwise), zero ones included:
    date (the bucket's start), promptTokens, completionTokens, totalTokens, cost, messageCount.
    `projection` (date, cost), from today to the month's end, is drawn as a dashed cost line.
    """
    dates: pd.Series | list[str] = pd.to_datetime(df["date"]) if len(df) else []
    custom = df[["totalTokens", "messageCount"]].to_numpy() if len(df) else None
    fig = go.Figure()
    for column, name, color in (
        ("promptTokens", "Prompt tokens", PROMPT_COLOR),
        ("completionTokens", "Completion tokens", COMPLETION_COLOR),
    ):
        fig.add_trace(
            go.Scatter(
                x=dates,
                y=df[column] if len(df) else [],
                name=name,
                mode="lines",
                stackgroup="tokens",
                line={"color": color, "width": 1.5},
                customdata=custom,
                hovertemplate="%{y:,} " + name.lower() + "<extra></extra>",
            )
        )
    fig.add_trace(
        go.Scatter(
            x=dates,
            y=df["cost"] if len(df) else [],
            name="Cost",
            mode="lines+markers",
            yaxis="y2",
            line={"color": COST_COLOR, "width": 2},
            marker={"size": 4},
            customdata=custom,
            hovertemplate="$%{y:,.2f} cost · %{customdata[0]:,} tokens · %{customdata[1]:,} messages<extra></extra>",
        )
    )
    if projection is not None and len(projection):
        fig.add_trace(
            go.Scatter(
                x=pd.to_datetime(projection["date"]),
                y=projection["cost"],
                name="Projected cost",
                mode="lines",
                yaxis="y2",
                line={"color": COST_COLOR, "width": 2, "dash": "dash"},
                hovertemplate="$%{y:,.2f} projected<extra></extra>",
            )
        )
    _base_layout(fig)
    fig.update_layout(
        xaxis={"type": "date", "tickformat": X_FORMATS[granularity][0], "hoverformat": X_FORMATS[granularity][1]},
        yaxis={"title": {"text": "Tokens"}, "rangemode": "tozero", "tickformat": "~s"},
        yaxis2={
            "title": {"text": "Cost (USD)"},
            "overlaying": "y",
            "side": "right",
            "rangemode": "tozero",
            "tickprefix": "$",
            "tickformat": ",.2f",
            "showgrid": False,
        },
    )
    return fig


def build_stacked_figure(series: list[dict], names: dict[str, str], granularity: str = "day") -> go.Figure:
    """Cost per bucket stacked per agent or model: `series` is the API's series with each bucket's
    `stack` (key, cost, ...); `names` shows a key by its name (agents). The costliest keys of the
    period get their own bars, the others fold into "Other" so the legend stays readable."""
    totals: dict[str, float] = {}
    for bucket in series:
        for part in bucket["stack"]:
            totals[part["key"]] = totals.get(part["key"], 0) + part["cost"]
    ranked = sorted(totals, key=lambda k: (-totals[k], k))
    shown = ranked if len(ranked) <= MAX_SLICES else ranked[: MAX_SLICES - 1]
    dates = pd.to_datetime([bucket["start"][:16] for bucket in series]) if series else []
    fig = go.Figure()
    for i, key in enumerate([*shown, None] if len(shown) < len(ranked) else shown):
        costs = [
            sum(p["cost"] for p in bucket["stack"] if (p["key"] == key if key is not None else p["key"] not in shown))
            for bucket in series
        ]
        name = "Other" if key is None else as_text(names.get(key, key))
        fig.add_trace(
            go.Bar(
                x=dates,
                y=costs,
                name=name,
                marker={"color": PALETTE[i % len(PALETTE)]},
                hovertemplate=f"{name}: $%{{y:,.2f}}<extra></extra>",
            )
        )
    _base_layout(fig)
    fig.update_layout(
        barmode="stack",
        xaxis={"type": "date", "tickformat": X_FORMATS[granularity][0], "hoverformat": X_FORMATS[granularity][1]},
        yaxis={"title": {"text": "Cost (USD)"}, "rangemode": "tozero", "tickprefix": "$", "tickformat": ",.2f"},
    )
    return fig


def build_model_share_figure(df: pd.DataFrame) -> go.Figure:
    """A donut of each model's share of the period's cost (`df`: model, cost, costliest first)."""
    df = df[df["cost"] > 0] if len(df) else df
    folded = len(df) > MAX_SLICES
    if folded:
        head, tail = df.iloc[: MAX_SLICES - 1], df.iloc[MAX_SLICES - 1 :]
        df = pd.concat([head, pd.DataFrame({"model": ["Other"], "cost": [tail["cost"].sum()]})], ignore_index=True)
    fig = go.Figure(
        go.Pie(
            labels=[as_text(m) for m in df["model"]] if len(df) else [],
            values=df["cost"] if len(df) else [],
            hole=0.55,
            sort=False,
            marker={"colors": PALETTE},
            # What a click on a slice filters by (pages/billing.py unescapes it); "Other" by nothing.
            customdata=[as_text(m) for m in df["model"][:-1]] + ["" if folded else as_text(df["model"].iloc[-1])]
            if len(df)
            else [],
            textinfo="percent",
            texttemplate="%{percent:.0%}",
            hovertemplate="%{label}<br>$%{value:,.2f} (%{percent:.1%})<extra></extra>",
        )
    )
    _base_layout(fig)
    fig.update_layout(hovermode="closest", legend={"orientation": "v", "y": 0.5, "x": 1.02, "yanchor": "middle"})
    return fig
