"""The report as it leaves the service: camelCase rows for JSON and CSV, money rounded only here."""

from __future__ import annotations

import csv
import io
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Any

import pandas as pd

from .billing import BillingReport

MONEY_PLACES = Decimal("0.000001")
AVG_PLACES = Decimal("0.01")
# Room for any NUMERIC(38,10) amount with 6 decimals (the default context keeps 28 digits).
_WIDE = Context(prec=40)
HEADERS = {
    "daily": ["date", "totalTokens", "promptTokens", "completionTokens", "cost", "messageCount"],
    "agents": ["agentId", "agentName", "totalTokens", "cost", "messageCount", "conversationCount"],
    "models": ["model", "totalTokens", "cost", "messageCount", "avgTokensPerMessage", "unpricedMessageCount"],
    "conversations": ["conversationId", "title", "agentId", "totalTokens", "cost", "messageCount"],
}
SECTIONS = tuple(HEADERS)
# Spreadsheet apps run a cell starting with one of these as a formula.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def money(value: Decimal) -> Decimal:
    """Round to 6 decimals for output, as a Decimal that reads as plain digits without trailing
    zeros (`9000000000.000001`, `2.5`, `0`): the JSON provider (api.DecimalJSONProvider) and the
    CSV write exactly that text. A float would say 9000000000.000002: ~16 significant digits."""
    text = f"{Decimal(value).quantize(MONEY_PLACES, rounding=ROUND_HALF_EVEN, context=_WIDE):f}"
    return Decimal(text.rstrip("0").rstrip(".") if "." in text else text)


def average(value: Decimal) -> float:
    return float(Decimal(value).quantize(AVG_PLACES, rounding=ROUND_HALF_EVEN))


def _avg(total: int, count: int) -> Decimal:
    return Decimal(int(total)) / int(count) if count else Decimal(0)


def section_rows(report: BillingReport, section: str) -> list[dict[str, Any]]:
    """One section of the report as JSON-ready rows (the API's field names and rounding)."""
    if section == "daily":
        return [
            {
                "date": r.date,
                "totalTokens": int(r.total_tokens),
                "promptTokens": int(r.prompt_tokens),
                "completionTokens": int(r.completion_tokens),
                "cost": money(r.cost),
                "messageCount": int(r.message_count),
            }
            for r in report.daily.itertuples()
        ]
    if section == "agents":
        return [
            {
                "agentId": r.agent_id,
                "agentName": r.agent_name,
                "totalTokens": int(r.total_tokens),
                "cost": money(r.cost),
                "messageCount": int(r.message_count),
                "conversationCount": int(r.conversation_count),
                # Agents with a budget also say how much of it this month used (the grid shows it).
                **(
                    {}
                    if pd.isna(r.monthly_token_budget)
                    else {"monthlyTokenBudget": int(r.monthly_token_budget), "budgetUsedPercent": _used_percent(r)}
                ),
            }
            for r in report.agents.itertuples()
        ]
    if section == "models":
        return [
            {
                "model": r.model,
                "totalTokens": int(r.total_tokens),
                "cost": money(r.cost),
                "messageCount": int(r.message_count),
                "avgTokensPerMessage": average(_avg(r.total_tokens, r.message_count)),
                "unpricedMessageCount": int(r.unpriced_count),
            }
            for r in report.models.itertuples()
        ]
    if section == "conversations":
        return [
            {
                "conversationId": r.conversation_id,
                "title": r.title,
                "agentId": r.agent_id if isinstance(r.agent_id, str) else "",
                "totalTokens": int(r.total_tokens),
                "cost": money(r.cost),
                "messageCount": int(r.message_count),
            }
            for r in report.conversations.itertuples()
        ]
    raise ValueError(f"unknown section {section!r}")


def _used_percent(r: Any) -> float:
    """The percent of its monthly token budget an agent used this month (a row of budget columns)."""
    return average(r.budget_used * 100)


def budget_rows(budgets: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {
            "agentId": r.agent_id,
            "agentName": r.agent_name,
            "monthlyTokenBudget": int(r.monthly_token_budget),
            "monthTokens": int(r.month_tokens),
            "budgetUsedPercent": _used_percent(r),
        }
        for r in budgets.itertuples()
    ]


def report_json(report: BillingReport) -> dict[str, Any]:
    """The `GET /api/v1/analytics/billing` body: the seed contract plus additive fields."""
    s = report.summary
    return {
        "summary": {
            "totalTokens": s.total_tokens,
            "totalCost": money(s.total_cost),
            "totalMessages": s.total_messages,
            "totalConversations": s.total_conversations,
            "avgTokensPerMessage": average(s.avg_tokens_per_message),
            "avgCostPerMessage": money(s.avg_cost_per_message),
            "promptTokens": s.prompt_tokens,
            "completionTokens": s.completion_tokens,
            "unpricedMessages": s.unpriced_messages,
        },
        "usageByDay": section_rows(report, "daily"),
        "usageByAgent": section_rows(report, "agents"),
        "usageByModel": section_rows(report, "models"),
        "topConversations": section_rows(report, "conversations"),
        "period": period_json(report),
        "budgets": budget_rows(report.budgets),
        "unpricedModels": [
            {"model": model, "messages": messages, "tokens": tokens}
            for model, messages, tokens in report.unpriced_models
        ],
    }


def changes_json(changes: dict[str, Decimal | None]) -> dict[str, float | None]:
    return {key: None if pct is None else average(pct) for key, pct in changes.items()}


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def rows_csv(section: str, rows: list[dict[str, Any]]) -> str:
    """JSON-ready rows of a section as CSV with a header row, neutralized against formula injection."""
    header = HEADERS[section]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(row[h]) for h in header])
    return out.getvalue()


def section_csv(report: BillingReport, section: str) -> str:
    """One section as CSV: the same rows and rounding as the JSON."""
    return rows_csv(section, section_rows(report, section))


def csv_filename(period: dict[str, Any], section: str) -> str:
    """`period` is the JSON report's period object, so the dashboard names files as the API does."""
    return f"billing-{section}-{period['name']}-{period['startDate']}-to-{period['endDate']}.csv"


def period_json(report: BillingReport) -> dict[str, Any]:
    p = report.period
    return {
        "name": p.name,
        "startDate": p.start.isoformat(),
        "endDate": p.end.isoformat(),
        "timezone": p.tz,
        "days": p.days,
    }
