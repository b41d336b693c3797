"""The report as it leaves the service: camelCase rows for JSON and CSV, money rounded only here."""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Any

import pandas as pd

from ..alerts.budgets import BudgetStatus, LimitStatus
from ..periods import Period
from .billing import BillingReport, MonthForecast
from .conversations import Conversation, ConversationDetail, ConversationPage

MONEY_PLACES = Decimal("0.000001")
AVG_PLACES = Decimal("0.01")
# Room for any NUMERIC(38,10) amount with 6 decimals (the default context keeps 28 digits).
_WIDE = Context(prec=40)
# The token parts and cache savings of a row: JSON keys of summary, days, agents and models (and
# of a conversation's messages), and the last CSV columns of those sections (after the seed's,
# which keep their places).
PART_KEYS = ["cacheReadTokens", "cacheWriteTokens", "reasoningTokens", "cacheSavings"]
HEADERS = {
    "daily": ["date", "totalTokens", "promptTokens", "completionTokens", "cost", "messageCount", *PART_KEYS],
    "agents": ["agentId", "agentName", "totalTokens", "cost", "messageCount", "conversationCount", *PART_KEYS],
    "models": [
        "model",
        "totalTokens",
        "cost",
        "messageCount",
        "avgTokensPerMessage",
        "unpricedMessageCount",
        *PART_KEYS,
    ],
    "conversations": ["conversationId", "title", "agentId", "totalTokens", "cost", "messageCount"],
    # usageByTag (groupBy=tag:<key> only): a models row's sums after what the row groups.
    "tags": [
        "tagKey",
        "tagValue",
        "group",
        "valueCount",
        "totalTokens",
        "promptTokens",
        "completionTokens",
        "cost",
        "messageCount",
        "unpricedMessageCount",
        *PART_KEYS,
    ],
}
SECTIONS = tuple(HEADERS)
# Where each section's rows are in every JSON report (the CSV's `section` parameter names them);
# `tags` is the report's `usageByTag`, there only with groupBy.
SECTION_KEYS = {
    "daily": "usageByDay",
    "agents": "usageByAgent",
    "models": "usageByModel",
    "conversations": "topConversations",
}
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


def _parts(r: Any) -> dict[str, Any]:
    """The PART_KEYS of a row (a report frame's row, the summary or a conversation's message)."""
    return {
        "cacheReadTokens": int(r.cache_read_tokens),
        "cacheWriteTokens": int(r.cache_write_tokens),
        "reasoningTokens": int(r.reasoning_tokens),
        "cacheSavings": money(r.cache_savings),
    }


def _rows(frame: pd.DataFrame) -> Iterable[Any]:
    """The frame's rows as named tuples. Its cells are Python ints, Decimals and text (object
    columns), which pandas-stubs can only type as any scalar: the row functions say what each is."""
    return frame.itertuples()


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
                **_parts(r),
            }
            for r in _rows(report.daily)
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
                **_parts(r),
                # Agents with a budget also say how much of it this month used (the grid shows it).
                **(
                    {}
                    if pd.isna(r.monthly_token_budget)
                    else {"monthlyTokenBudget": int(r.monthly_token_budget), "budgetUsedPercent": _used_percent(r)}
                ),
            }
            for r in _rows(report.agents)
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
                **_parts(r),
            }
            for r in _rows(report.models)
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
            for r in _rows(report.conversations)
        ]
    if section == "tags":
        return tag_rows(report)
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
        for r in _rows(budgets)
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
            **_parts(s),
        },
        **{key: section_rows(report, section) for section, key in SECTION_KEYS.items()},
        "period": period_json(report),
        "budgets": budget_rows(report.budgets),
        "unpricedModels": [
            {"model": model, "messages": messages, "tokens": tokens}
            for model, messages, tokens in report.unpriced_models
        ],
        **({} if report.forecast is None else {"forecast": forecast_json(report.forecast)}),
        "filters": report.filters.as_json(),
        **(
            {}
            if report.series is None
            else {"granularity": report.granularity, "series": series_rows(report.series, report.stack)}
        ),
        **({} if report.stack is None else {"stackBy": report.stack_by}),
        **({} if report.tags is None else {"groupBy": f"tag:{report.group_key}", "usageByTag": tag_rows(report)}),
    }


def tag_rows(report: BillingReport) -> list[dict[str, Any]]:
    """`usageByTag`: a row per top value (`group` value), the rest summed (`other`) and the usage
    without the key (`untagged`), each with a models row's sums and how many values it sums."""
    return [
        {
            "tagKey": report.group_key,
            "tagValue": r.tag_value if isinstance(r.tag_value, str) else None,
            "group": r.group,
            "valueCount": int(r.value_count),
            "totalTokens": int(r.total_tokens),
            "promptTokens": int(r.prompt_tokens),
            "completionTokens": int(r.completion_tokens),
            "cost": money(r.cost),
            "messageCount": int(r.message_count),
            "unpricedMessageCount": int(r.unpriced_count),
            **_parts(r),
        }
        for r in _rows(report.tags if report.tags is not None else pd.DataFrame())
    ]


def _usage(r: Any) -> dict[str, Any]:
    return {
        "totalTokens": int(r.total_tokens),
        "promptTokens": int(r.prompt_tokens),
        "completionTokens": int(r.completion_tokens),
        "cost": money(r.cost),
        "messageCount": int(r.message_count),
        **_parts(r),
    }


def series_rows(series: pd.DataFrame, stack: pd.DataFrame | None = None) -> list[dict[str, Any]]:
    """The report's `series`: a daily row's keys, `start` (the bucket's first hour or day) for `date`;
    stacked, each row's `stack`: its usage per agent or model (`key`), costliest first."""
    if stack is None:
        return [{"start": r.start, **_usage(r)} for r in _rows(series)]
    stacks: dict[str, list[dict[str, Any]]] = {}
    for r in _rows(stack):
        stacks.setdefault(r.start, []).append({"key": r.key, **_usage(r)})
    return [{"start": r.start, **_usage(r), "stack": stacks.get(r.start, [])} for r in _rows(series)]


def forecast_json(forecast: MonthForecast) -> dict[str, Any]:
    return {
        "monthEndCost": money(forecast.cost),
        "monthEndTokens": forecast.tokens,
        "method": forecast.method,
        "endDate": forecast.end.isoformat(),
    }


def _limit_json(limit: LimitStatus) -> dict[str, Any]:
    exact = money if limit.unit == "usd" else lambda v: int(v.to_integral_value())
    return {
        "limit": exact(limit.limit),
        "used": exact(limit.used),
        "percent": average(limit.percent),
        "forecast": exact(limit.forecast),
        "exhaustionDate": None if limit.exhaustion_date is None else limit.exhaustion_date.isoformat(),
    }


def budget_status_json(status: BudgetStatus, timezone: str) -> dict[str, Any]:
    """One budget of `GET /api/v1/budgets`: its current period, use, forecast and state."""
    b = status.budget
    limits = {limit.unit: _limit_json(limit) for limit in status.limits}
    return {
        "id": b.id,
        "scope": b.scope,
        "scopeId": b.scope_id if b.scope != "organization" else None,
        "period": b.period,
        "startDate": status.start.isoformat(),
        "endDate": status.end.isoformat(),
        "timezone": timezone,
        "daysLeft": status.days_left,
        "thresholds": list(b.thresholds),
        "thresholdsCrossed": list(status.crossed),
        "usd": limits.get("usd"),
        "tokens": limits.get("tokens"),
        "percent": average(status.percent),
        "exhaustionDate": None if status.exhaustion_date is None else status.exhaustion_date.isoformat(),
        "state": status.state,
    }


def changes_json(changes: dict[str, Decimal | None]) -> dict[str, float | None]:
    return {key: None if pct is None else average(pct) for key, pct in changes.items()}


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_lines(section: str, rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    """JSON-ready rows of a section as CSV lines after a header line, neutralized against formula
    injection; one at a time, so a stream of rows streams."""
    header = HEADERS[section]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for row in itertools.chain([dict(zip(header, header, strict=True))], rows):
        writer.writerow([_cell(row[h]) for h in header])
        yield out.getvalue()
        out.seek(0)
        out.truncate()


def rows_csv(section: str, rows: list[dict[str, Any]]) -> str:
    """JSON-ready rows of a section as CSV with a header row."""
    return "".join(csv_lines(section, rows))


def section_csv(report: BillingReport, section: str) -> str:
    """One section as CSV: the same rows and rounding as the JSON."""
    return rows_csv(section, section_rows(report, section))


def csv_filename(period: dict[str, Any], section: str, group_key: str | None = None) -> str:
    """`period` is the JSON report's period object, so the dashboard names files as the API does;
    the `tags` section names its key too (`billing-tags-customer-...`): a key has no `/` or quote."""
    name = section if group_key is None else f"{section}-{group_key}"
    return f"billing-{name}-{period['name']}-{period['startDate']}-to-{period['endDate']}.csv"


def period_json(report: BillingReport) -> dict[str, Any]:
    return period_fields(report.period)


def period_fields(p: Period) -> dict[str, Any]:
    before = p.previous()
    return {
        "name": p.name,
        "startDate": p.start.isoformat(),
        "endDate": p.end.isoformat(),
        "timezone": p.tz,
        "days": p.days,
        # What the dashboard's change badges compare with (periods.Period.previous).
        "previousStartDate": before.start.isoformat(),
        "previousEndDate": before.end.isoformat(),
    }


def instant(ts: datetime) -> str:
    """A UTC instant as RFC 3339 with Z: `2026-11-24T09:15:02.5Z`."""
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


def conversation_json(c: Conversation) -> dict[str, Any]:
    """A conversation as the conversations API gives it; its first keys are the CSV's columns."""
    return {
        "conversationId": c.conversation_id,
        "title": c.title,
        "agentId": c.agent_id,
        "totalTokens": c.total_tokens,
        "cost": money(c.cost),
        "messageCount": c.message_count,
        "firstMessageAt": instant(c.first_ts),
        "lastMessageAt": instant(c.last_ts),
    }


def conversation_page_json(page: ConversationPage) -> dict[str, Any]:
    """The `GET /api/v1/conversations` body."""
    return {
        "conversations": [conversation_json(c) for c in page.conversations],
        "page": page.page,
        "pageSize": page.page_size,
        "total": page.total,
        "sort": page.sort,
        "period": period_fields(page.period),
        "filters": page.filters.as_json(),
    }


def conversation_detail_json(detail: ConversationDetail) -> dict[str, Any]:
    """The `GET /api/v1/conversations/{id}` body: whole-life totals and the oldest messages."""
    return {
        **conversation_json(detail.conversation),
        "messages": [
            {
                "eventId": m.event_id,
                "timestamp": instant(m.ts),
                "agentId": m.agent_id,
                "model": m.model,
                "promptTokens": m.prompt_tokens,
                "completionTokens": m.completion_tokens,
                "totalTokens": m.prompt_tokens + m.completion_tokens,
                "cost": money(m.cost),
                "priced": m.priced,
                **_parts(m),
            }
            for m in detail.messages
        ],
    }
