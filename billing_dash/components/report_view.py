"""What the billing page shows of one report: cards, period label, figures, grid rows and CSV files."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, NamedTuple
from urllib.parse import urlencode

import pandas as pd
import plotly.graph_objects as go

from ..figures.usage import build_daily_figure, build_model_share_figure, build_stacked_figure
from ..filters import tag_choice
from ..services.billing import BillingReport
from ..services.export import HEADERS, SECTION_KEYS, csv_filename, period_json, section_csv
from .cards import summary_cards

CSV_URL = "/api/v1/analytics/billing.csv"


class ReportView(NamedTuple):
    """The page's widgets for one report: the cards and label, then what is drawn (figures, rows)."""

    cards: list
    period_label: str
    empty: bool
    daily_figure: go.Figure
    model_figure: go.Figure
    agent_rows: list[dict]
    model_rows: list[dict]
    conversation_rows: list[dict]
    unpriced_banner: str | None = None
    # usageByTag's rows as the tag table shows them (empty without groupBy).
    tag_rows: Sequence[dict] = ()


def unpriced_banner(unpriced: list[dict], org_name: str) -> str | None:
    """What the page says about the period's usage without a price (`unpricedModels` of the JSON
    report), with the commands that price it; None when every message had a price."""
    if not unpriced:
        return None
    models = "; ".join(
        f"{u['model']} ({u['messages']:,} message{'' if u['messages'] == 1 else 's'}, {u['tokens']:,} tokens)"
        for u in unpriced
    )
    org, model = shlex.quote(org_name), shlex.quote(unpriced[0]["model"])
    return (
        f"Usage without a price counts as $0 in this period: {models}. Give the model a price and charge its "
        f"stored usage: billing-dash prices set --org {org} {model} --input X --output Y "
        f"&& billing-dash reprice --org {org} --model {model}  (X, Y: USD per million input and output tokens)"
    )


def _span(first: str, last: str) -> str:
    start, end = date.fromisoformat(first), date.fromisoformat(last)
    return f"{start:%b %-d, %Y}" if start == end else f"{start:%b %-d, %Y} – {end:%b %-d, %Y}"


def period_label(period: dict) -> str:
    """`period` as the JSON report gives it: `Nov 1, 2026 – Nov 24, 2026 · 24 days · times in Europe/Berlin`."""
    span = _span(period["startDate"], period["endDate"])
    return f"{span} · {period['days']} day{'s' if period['days'] != 1 else ''} · times in {period['timezone']}"


def compared_label(period: dict) -> str:
    """What the change badges compare with: `Compared with Oct 1, 2026 – Oct 24, 2026`."""
    return f"Compared with {_span(period['previousStartDate'], period['previousEndDate'])}"


def drawable(value: Any) -> Any:
    """`value` (the JSON report or part of it) with money as floats, as the browser reads it anyway:
    right for drawing and formatting on screen, never for a CSV (see csv_files)."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {key: drawable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [drawable(item) for item in value]
    return value


def projection_rows(report: BillingReport) -> list[dict] | None:
    """The month-end forecast's days from today on (date, cost), for the daily chart's dashed line."""
    if report.forecast is None:
        return None
    days = [(day, cost) for day, cost, _ in report.forecast.days]
    yesterday = days[0][0] - timedelta(days=1)
    if yesterday >= report.period.start:
        # From the last whole day's actual cost: the dashed line continues the drawn one (and
        # shows on a month's last day, when it would be a lone point).
        actual = report.daily.loc[report.daily["date"] == yesterday.isoformat(), "cost"]
        days.insert(0, (yesterday, actual.iloc[0]))
    return [{"date": day.isoformat(), "cost": float(cost)} for day, cost in days]


def tag_table_rows(tags: list[dict], total_cost: float) -> list[dict]:
    """usageByTag's rows (drawable) for the tag table: a label (the value, `Other (3 values)`,
    `Untagged`), the share of the total cost in percent (None when it is 0) and `rowId`: a value
    row's filters.tag_choice, which a click adds to the filter; the other rows' group."""
    return [
        {
            **row,
            "label": row["tagValue"]
            if row["group"] == "value"
            else (f"Other ({row['valueCount']:,} values)" if row["group"] == "other" else "Untagged"),
            "costShare": row["cost"] / total_cost * 100 if total_cost else None,
            "rowId": tag_choice(row["tagKey"], row["tagValue"]) if row["group"] == "value" else row["group"],
        }
        for row in tags
    ]


def report_view(
    report: dict, changes: dict, prefix: str, projection: list[dict] | None = None, org_name: str = "ORG"
) -> ReportView:
    """The widgets of `report` (the API's JSON body) with `changes` against the previous period
    and the month's projected days (projection_rows), if any."""
    report = drawable(report)
    summary = report["summary"]
    rows = {section: report[key] for section, key in SECTION_KEYS.items()}
    granularity = report.get("granularity", "day")
    # The chart shows the series when there is one: its buckets by their start (an hour's local
    # wall time: the offset only tells a repeated hour apart), else the days.
    over_time = (
        pd.DataFrame(
            [{**r, "date": r["start"][:16]} for r in report["series"]],
            columns=[*HEADERS["daily"], "start"],
        )
        if "series" in report
        else pd.DataFrame(rows["daily"], columns=HEADERS["daily"])
    )
    return ReportView(
        cards=summary_cards(summary, changes, prefix, compared_label(report["period"])),
        period_label=period_label(report["period"]),
        empty=summary["totalMessages"] == 0,
        daily_figure=build_stacked_figure(
            report["series"],
            {a["agentId"]: a["agentName"] for a in rows["agents"]} if report["stackBy"] == "agent" else {},
            granularity,
        )
        if "stackBy" in report
        else build_daily_figure(
            over_time,
            # The projection is per day: drawn beside days only.
            None if projection is None or granularity != "day" else pd.DataFrame(projection, columns=["date", "cost"]),
            granularity,
        ),
        model_figure=build_model_share_figure(pd.DataFrame(rows["models"], columns=HEADERS["models"])),
        # Agents with a budget carry its use this month (services.export), which the grid shows.
        agent_rows=rows["agents"],
        model_rows=rows["models"],
        conversation_rows=rows["conversations"],
        unpriced_banner=unpriced_banner(report.get("unpricedModels", []), org_name),
        tag_rows=tag_table_rows(report.get("usageByTag", []), summary["totalCost"]),
    )


def csv_files(report: BillingReport) -> dict[str, dict[str, str]]:
    """Each section's CSV download, named and written as the API's CSV: from the exact report,
    because the numbers on the page are floats (a float keeps only ~16 significant digits).
    The conversations are every conversation of the period, more than the page holds: the
    browser fetches them from the API's streamed CSV (`url`, the login session authenticates)."""
    period = period_json(report)
    files = {
        section: {"filename": csv_filename(period, section), "content": section_csv(report, section)}
        for section in SECTION_KEYS
        if section != "conversations"
    }
    if report.tags is not None:
        files["tags"] = {
            "filename": csv_filename(period, "tags", report.group_key),
            "content": section_csv(report, "tags"),
        }
    query: list[tuple[str, str]] = [("section", "conversations"), ("period", period["name"])]
    if period["name"] == "custom":
        query += [("startDate", period["startDate"]), ("endDate", period["endDate"])]
    url = f"{CSV_URL}?{urlencode(query + report.filters.query())}"  # the filter too
    files["conversations"] = {"filename": csv_filename(period, "conversations"), "url": url}
    return files
