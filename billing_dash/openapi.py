"""The OpenAPI 3.1 document of the JSON and CSV API, served at /api/v1/openapi.json."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from .alerts.budgets import PERIODS as BUDGET_PERIODS
from .alerts.budgets import SCOPES as BUDGET_SCOPES
from .alerts.forecast import METHODS as FORECAST_METHODS
from .alerts.run import DEFAULT_ALERTS, MAX_ALERTS
from .alerts.run import KINDS as ALERT_KINDS
from .config import Settings
from .filters import AGENT_PARAM, GROUP_BY_PARAM, MODEL_PARAM, STACK_PARAM, STACKS
from .ingest import MAX_COST, MAX_TOKENS, PROVIDERS, TOKEN_COUNTS
from .limits import (
    DEFAULT_TAG_GROUPS,
    MAX_BODY_BYTES,
    MAX_FILTER_VALUES,
    MAX_HOUR_DAYS,
    MAX_ID,
    MAX_NAME,
    MAX_TAG_GROUPS,
    MAX_TAG_KEYS,
    MAX_TAG_VALUE,
    MAX_TAG_VALUES,
    MAX_TAGS,
    MAX_TITLE,
    TAG_KEY_PATTERN,
)
from .models import MONEY_SCALE
from .periods import DEFAULT_PERIOD, GRANULARITIES, MAX_CUSTOM_DAYS, PERIODS
from .services.billing import DEFAULT_TOP, MAX_TOP
from .services.conversations import DEFAULT_PAGE_SIZE, MAX_MESSAGES, MAX_PAGE, MAX_PAGE_SIZE, SORTS
from .services.export import SECTION_KEYS, SECTIONS

# RFC 3339 date-time as the server parses it: upper-case T and Z, no leap second, years 1980..9998
# (from ingest.FIRST_INSTANT; an offset can still put the instant before it, which is refused).
TIMESTAMP_PATTERN = (
    r"^(19[89][0-9]|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])-[0-9]{2}-[0-9]{2}"
    r"T[0-9]{2}:[0-5][0-9]:[0-5][0-9](\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$"
)
# Text the server can store: no NUL (PostgreSQL). Unpaired surrogates are refused too, but
# ECMA/Rust regex engines cannot name them in a pattern.
TEXT_PATTERN = r"^[^\x00]*$"
# A date in the years periods may use (periods.FIRST_DATE to LAST_DATE).
DATE_PATTERN = r"^(19[7-9][0-9]|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])-[0-9]{2}-[0-9]{2}$"
# A decimal amount of US dollars below MAX_COST; digits past the 10th decimal are rounded off.
COST_PATTERN = r"^(0|[1-9][0-9]{0,%d})(\.[0-9]{1,%d})?$" % (  # noqa: UP031 (an f-string would double the regex's braces)
    len(str(int(MAX_COST))) - 2,
    MONEY_SCALE,
)


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _count(description: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "integer", "minimum": 0}
    if description:
        schema["description"] = description
    return schema


def _money(description: str = "US dollars, rounded to 6 decimals.") -> dict[str, Any]:
    return {"type": "number", "minimum": 0, "description": description}


def _average() -> dict[str, Any]:
    return {"type": "number", "minimum": 0, "description": "Rounded to 2 decimals."}


def _string() -> dict[str, str]:
    return {"type": "string"}


def _object(
    properties: dict[str, Any], description: str | None = None, required: list[str] | None = None
) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "required": list(properties) if required is None else required,
        "properties": properties,
    }
    if description:
        schema["description"] = description
    return schema


def _array(item: str) -> dict[str, Any]:
    return {"type": "array", "items": _ref(item)}


def _error(description: str, headers: dict[str, Any] | None = None, schema: str = "Error") -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": _ref(schema)}},
    }
    if headers:
        response["headers"] = headers
    return response


def _otlp_error(description: str) -> dict[str, Any]:
    """An error of the OTLP endpoint: a google.rpc.Status in protobuf for a protobuf request, the
    API's error body (with the Status's code and message) for a JSON one."""
    return {
        "description": description,
        "headers": {"Retry-After": {"description": "On 503: seconds to wait.", "schema": {"type": "integer"}}},
        "content": {
            "application/json": {"schema": _ref("OtlpError")},
            "application/x-protobuf": {"schema": {"type": "string", "format": "binary"}},
        },
    }


def _response_ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/responses/{name}"}


def _param_ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/parameters/{name}"}


_SECTION_SCHEMAS = {
    "daily": "DailyUsage",
    "agents": "AgentUsage",
    "models": "ModelUsage",
    "conversations": "ConversationUsage",
}
_REPORT_PARAMS = ["period", "startDate", "endDate", "tz", "limit", AGENT_PARAM, MODEL_PARAM]
_REPORT_400 = (
    "Bad query parameters. Codes: invalid_period, missing_date, invalid_date, "
    "invalid_range (startDate after endDate, or a custom range over "
    f"{MAX_CUSTOM_DAYS} days), "
    f"invalid_timezone, invalid_filter (over {MAX_FILTER_VALUES} values of agentId or model, or one empty, "
    f"over {MAX_ID} characters or with NUL), invalid_limit."
)
_TAGS_400 = (
    " A tag.<key>=<value> filter (one key per request, values OR'd): invalid_filter (a key not matching "
    f"{TAG_KEY_PATTERN}, two keys, over {MAX_FILTER_VALUES} values, a value empty, over {MAX_TAG_VALUE} characters "
    "or with NUL); tag_key_not_aggregated (a key the organization does not pre-aggregate: `billing-dash tags set` "
    "enables it)."
)
_REPORT_400 += _TAGS_400
_JSON_REPORT_400 = _REPORT_400 + (
    f" Also invalid_granularity (not one of {', '.join(GRANULARITIES)}, or hour for a period over "
    f"{MAX_HOUR_DAYS} days); invalid_stack (stackBy not one of {', '.join(STACKS)}, or without granularity); "
    "invalid_group_by (not tag:<key>, or with a tag filter of another key); "
    "invalid_limit for groupLimit."
)
# How the report documents its tag.<key> parameters, whose names OpenAPI cannot declare.
_TAG_FILTER_TEXT = (
    " Tags: `tag.<key>=<value>` (e.g. tag.customer=acme; repeat it for several values of the key, any of them) keeps "
    "the events whose tags give <key> one of those values; one key per request, combined with agentId and model by "
    "AND. Only a key the organization pre-aggregates (`billing-dash tags set`) may filter; others answer 400 "
    "tag_key_not_aggregated."
)
_CONVERSATIONS_PARAMS = ["period", "startDate", "endDate", "tz", "sort", "page", "pageSize", AGENT_PARAM, MODEL_PARAM]
_CONVERSATIONS_400 = _REPORT_400.replace("invalid_limit", "invalid_sort, invalid_page, invalid_page_size")


def _instant(description: str) -> dict[str, Any]:
    return {"type": "string", "format": "date-time", "description": description + " (UTC, RFC 3339)."}


def _parts() -> dict[str, Any]:
    """The token parts and cache savings of a report row or a message (export.PART_KEYS)."""
    return {
        "cacheReadTokens": _count("Input tokens read from the cache: part of the prompt tokens."),
        "cacheWriteTokens": _count("Input tokens written to the cache: part of the prompt tokens."),
        "reasoningTokens": _count("Output tokens spent reasoning: part of the completion tokens."),
        # No minimum: a cache-read price above the input price would make it negative.
        "cacheSavings": {
            "type": "number",
            "description": "What the cache reads cost less than at the input price, at the model's price at "
            "each message's time (0 without a cache-read price), in US dollars rounded to 6 decimals.",
        },
    }


def _part(description: str) -> dict[str, Any]:
    return {
        "type": ["integer", "null"],
        "minimum": 0,
        "maximum": MAX_TOKENS,
        "description": description + " Default 0.",
    }


def _usage_count(nullable: bool = False) -> dict[str, Any]:
    return {"type": ["integer", "null"] if nullable else "integer", "minimum": 0, "maximum": MAX_TOKENS}


def _usage_details(name: str) -> dict[str, Any]:
    return {"type": ["object", "null"], "properties": {name: _usage_count(nullable=True)}}


def _schemas(max_events: int) -> dict[str, Any]:
    return {
        "Error": _object(
            {
                "error": _object(
                    {
                        "code": {"type": "string", "description": "Machine-readable error code."},
                        "message": {"type": "string", "description": "Human-readable explanation."},
                        "details": {"type": "array", "items": {"type": "object"}},
                    },
                    required=["code", "message"],
                ),
            },
            "Every error of the API, JSON whatever the endpoint.",
        ),
        "OtlpError": {
            "allOf": [_ref("Error")],
            "type": "object",
            "properties": {
                "code": {"type": "integer", "description": "google.rpc.Status code (clients go by the HTTP status)."},
                "message": {"type": "string", "description": "The error's message, as in `error.message`."},
            },
            "required": ["code", "message"],
            "description": "An OTLP/JSON request's error: the API's error body that is also a JSON google.rpc.Status.",
        },
        "ExportTraceServiceResponse": {
            "type": "object",
            "properties": {
                "partialSuccess": {
                    "type": "object",
                    "properties": {
                        "rejectedSpans": {
                            "type": ["string", "integer"],
                            "description": "Spans refused (OTLP/JSON writes 64-bit integers as strings; absent: 0).",
                        },
                        "errorMessage": {
                            "type": "string",
                            "description": "Why spans were refused (the first few by id), how many were ignored "
                            "(not inference spans, no token usage) and how many were stored before.",
                        },
                    },
                }
            },
            "description": "OTLP's answer in JSON; `partialSuccess` only when spans were refused or ignored.",
        },
        "EventError": _object(
            {
                "index": _count("Position of the bad event in `events`, from 0."),
                "field": {"type": "string", "description": "The bad field; empty when the event is not an object."},
                "message": _string(),
            }
        ),
        "IngestError": {
            "allOf": [
                _ref("Error"),
                {
                    "type": "object",
                    "properties": {
                        "error": {
                            "type": "object",
                            "properties": {"details": _array("EventError")},
                        }
                    },
                },
            ],
            "description": "Codes: invalid_json, invalid_body, invalid_events (with `details`).",
        },
        "Summary": _object(
            {
                "totalTokens": _count(),
                "totalCost": _money(),
                "totalMessages": _count(),
                "totalConversations": _count("Distinct conversations with a message in the period."),
                "avgTokensPerMessage": _average(),
                "avgCostPerMessage": _money(),
                "promptTokens": _count(),
                "completionTokens": _count(),
                "unpricedMessages": _count("Messages whose model had no price; they count as cost 0."),
                **_parts(),
            },
            "Totals of the period; they equal the sums of `usageByDay`.",
        ),
        "DailyUsage": _object(
            {
                "date": {"type": "string", "format": "date", "description": "Local date in `period.timezone`."},
                "totalTokens": _count(),
                "promptTokens": _count(),
                "completionTokens": _count(),
                "cost": _money(),
                "messageCount": _count(),
                **_parts(),
            },
            "One local day; every day of the period is listed, days without usage as zeros.",
        ),
        "AgentUsage": _object(
            {
                "agentId": _string(),
                "agentName": _string(),
                "totalTokens": _count(),
                "cost": _money(),
                "messageCount": _count(),
                "conversationCount": _count(),
                **_parts(),
                "monthlyTokenBudget": _count("Only for an agent with a monthly token budget."),
                "budgetUsedPercent": {
                    "type": "number",
                    "minimum": 0,
                    "description": "Only with `monthlyTokenBudget`: the percent of it used this "
                    "calendar month, as in `budgets`.",
                },
            },
            "Usage of one agent; costliest first.",
            required=["agentId", "agentName", "totalTokens", "cost", "messageCount", "conversationCount", *_parts()],
        ),
        "ModelUsage": _object(
            {
                "model": _string(),
                "totalTokens": _count(),
                "cost": _money(),
                "messageCount": _count(),
                "avgTokensPerMessage": _average(),
                "unpricedMessageCount": _count(),
                **_parts(),
            },
            "Usage of one model; costliest first.",
        ),
        "ConversationUsage": _object(
            {
                "conversationId": _string(),
                "title": _string(),
                "agentId": {"type": "string", "description": "Empty when the conversation is unknown."},
                "totalTokens": _count(),
                "cost": _money(),
                "messageCount": _count(),
            },
            "One of the costliest conversations of the period.",
        ),
        "Conversation": _object(
            {
                "conversationId": _string(),
                "title": _string(),
                "agentId": {"type": "string", "description": "The agent of its newest message."},
                "totalTokens": _count(),
                "cost": _money(),
                "messageCount": _count(),
                "firstMessageAt": _instant("The conversation's first message, in or before the period"),
                "lastMessageAt": _instant("The conversation's last message, in or after the period"),
            },
            "A conversation with its tokens, cost and messages in the period.",
        ),
        "ConversationPage": _object(
            {
                "conversations": _array("Conversation"),
                "page": {"type": "integer", "minimum": 1},
                "pageSize": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
                "total": _count("Conversations with a message in the period (the report's totalConversations)."),
                "sort": {"type": "string", "enum": list(SORTS)},
                "period": _ref("Period"),
                "filters": _ref("Filters"),
            },
            "One page of the conversations of a period; a page past the last is empty.",
        ),
        "Message": _object(
            {
                "eventId": _string(),
                "timestamp": _instant("When it happened"),
                "agentId": _string(),
                "model": _string(),
                "promptTokens": _count(),
                "completionTokens": _count(),
                "totalTokens": _count(),
                "cost": _money(),
                "priced": {"type": "boolean", "description": "False when its model had no price (cost 0)."},
                **_parts(),
            },
            "One message (LLM call) of a conversation.",
        ),
        "ConversationDetail": {
            "allOf": [
                _ref("Conversation"),
                _object({"messages": _array("Message")}),
            ],
            "description": f"A conversation's whole-life totals and its oldest {MAX_MESSAGES:,} messages, oldest "
            "first (messageCount counts all of them).",
        },
        "Period": _object(
            {
                "name": {"type": "string", "enum": list(PERIODS)},
                "startDate": {"type": "string", "format": "date"},
                "endDate": {"type": "string", "format": "date", "description": "Inclusive."},
                "timezone": {"type": "string", "description": "IANA zone the dates are local to."},
                "days": {"type": "integer", "minimum": 1, "maximum": MAX_CUSTOM_DAYS},
                "previousStartDate": {
                    "type": "string",
                    "format": "date",
                    "description": "First day of the period the dashboard compares with: month to date the same "
                    "days of the previous month (clamped to its end), last_month and last_quarter the whole one "
                    "before, any other period the one of the same length just before it.",
                },
                "previousEndDate": {"type": "string", "format": "date", "description": "Inclusive."},
            },
            "The resolved period: local dates, both inclusive.",
        ),
        "Filters": _object(
            {
                AGENT_PARAM: {"type": "array", "items": _string(), "description": "Agent ids kept (empty: all)."},
                MODEL_PARAM: {"type": "array", "items": _string(), "description": "Models kept (empty: all)."},
                "tags": {
                    "type": "object",
                    "maxProperties": 1,
                    "additionalProperties": {"type": "array", "items": _string()},
                    "description": "The tag filter: its key and the values kept (empty object: none).",
                },
            },
            "The filter applied, as given (a repeated value once): every figure counts only the events of one "
            "of these agents and one of these models. Unknown ids simply match nothing (zeros).",
        ),
        "SeriesUsage": _object(
            {
                "start": {
                    "type": "string",
                    "description": "The bucket's start: for hour, the local hour as RFC 3339 with its UTC offset "
                    "(2026-10-25T02:00:00+01:00; the hour a DST change repeats is two buckets, the one it skips "
                    "none); for day, week and month, its first local date (YYYY-MM-DD; weeks start on Monday, "
                    "months are calendar months of `period.timezone`). The first and last bucket count only "
                    "the period's days.",
                },
                "totalTokens": _count(),
                "promptTokens": _count(),
                "completionTokens": _count(),
                "cost": _money(),
                "messageCount": _count(),
                **_parts(),
                "stack": {
                    "type": "array",
                    "items": _ref("StackUsage"),
                    "description": "Only with the stackBy parameter: the bucket's usage per agent or model, "
                    "costliest first (ties: key in code point order); only those with usage. They add up to "
                    "the bucket.",
                },
            },
            "One bucket of the series; every bucket of the period is listed, those without usage as zeros.",
            required=["start", "totalTokens", "promptTokens", "completionTokens", "cost", "messageCount", *_parts()],
        ),
        "StackUsage": _object(
            {
                "key": {"type": "string", "description": "The agent id or model name (as stackBy says)."},
                "totalTokens": _count(),
                "promptTokens": _count(),
                "completionTokens": _count(),
                "cost": _money(),
                "messageCount": _count(),
                **_parts(),
            },
            "One agent's or model's usage in a bucket of the series.",
        ),
        "TagUsage": _object(
            {
                "tagKey": _string(),
                "tagValue": {"type": ["string", "null"], "description": "Null in the other and untagged rows."},
                "group": {"type": "string", "enum": ["value", "other", "untagged"]},
                "valueCount": _count("Values the row sums: 1, the number of other values, 0 for untagged."),
                "totalTokens": _count(),
                "promptTokens": _count(),
                "completionTokens": _count(),
                "cost": _money(),
                "messageCount": _count(),
                "unpricedMessageCount": _count(),
                **_parts(),
            },
            "The period's usage of one value of the grouped tag key, of the other values, or without the key.",
        ),
        "Budget": _object(
            {
                "agentId": _string(),
                "agentName": _string(),
                "monthlyTokenBudget": _count(),
                "monthTokens": _count(
                    "Tokens used in the current calendar month (with a model filter: of those models)."
                ),
                "budgetUsedPercent": {
                    "type": "number",
                    "minimum": 0,
                    "description": "monthTokens / monthlyTokenBudget * 100, rounded to 2 decimals.",
                },
            },
            "An agent with a monthly token budget and its use this calendar month.",
        ),
        "BillingReport": _object(
            {
                "summary": _ref("Summary"),
                **{key: _array(_SECTION_SCHEMAS[section]) for section, key in SECTION_KEYS.items()},
                "period": _ref("Period"),
                "budgets": _array("Budget"),
                "forecast": _ref("MonthForecast"),
                "unpricedModels": _array("UnpricedModel"),
                "filters": _ref("Filters"),
                "granularity": {
                    "type": "string",
                    "enum": list(GRANULARITIES),
                    "description": "Only with the granularity parameter: the series' buckets.",
                },
                "series": {
                    "type": "array",
                    "items": _ref("SeriesUsage"),
                    "description": "Only with the granularity parameter: usage per bucket, oldest first.",
                },
                "stackBy": {
                    "type": "string",
                    "enum": list(STACKS),
                    "description": "Only with the stackBy parameter: what each series bucket's `stack` splits by.",
                },
                "groupBy": {
                    "type": "string",
                    "description": "Only with the groupBy parameter: as given (tag:<key>).",
                },
                "usageByTag": {
                    "type": "array",
                    "items": _ref("TagUsage"),
                    "description": "Only with the groupBy parameter: the groupLimit costliest values (ties: tokens, "
                    "then the value in code point order), then an `other` row summing the rest (when there are "
                    "more), then an `untagged` row: the usage of events without the key (when any). The rows sum "
                    "to the summary.",
                },
            },
            required=[
                "summary",
                "usageByDay",
                "usageByAgent",
                "usageByModel",
                "topConversations",
                "period",
                "budgets",
                "filters",
            ],
        ),
        "MonthForecast": _object(
            {
                "monthEndCost": _money("Projected cost of the whole calendar month, US dollars rounded to 6 decimals."),
                "monthEndTokens": _count("Projected tokens of the whole calendar month."),
                "method": {"type": "string", "enum": list(FORECAST_METHODS)},
                "endDate": {"type": "string", "format": "date", "description": "The month's last day."},
            },
            "Only with period=month: the month so far projected to its end (method in README).",
        ),
        "BudgetLimit": {
            **_object(
                {
                    "limit": {"type": "number", "exclusiveMinimum": 0},
                    "used": {"type": "number", "minimum": 0, "description": "In the current period."},
                    "percent": {"type": "number", "minimum": 0, "description": "used / limit * 100, 2 decimals."},
                    "forecast": {"type": "number", "minimum": 0, "description": "Projected use at the period's end."},
                    "exhaustionDate": {
                        "type": ["string", "null"],
                        "format": "date",
                        "description": "The day the limit is (or is projected to be) reached in this period; "
                        "null if not before the period ends.",
                    },
                },
                "One limit of a budget: US dollars (rounded to 6 decimals) or tokens (integers).",
            ),
            "type": ["object", "null"],
        },
        "BudgetStatus": _object(
            {
                "id": {"type": "integer"},
                "scope": {"type": "string", "enum": list(BUDGET_SCOPES)},
                "scopeId": {"type": ["string", "null"], "description": "Agent id or model; null for the organization."},
                "period": {"type": "string", "enum": list(BUDGET_PERIODS)},
                "startDate": {"type": "string", "format": "date", "description": "The current period's first day."},
                "endDate": {"type": "string", "format": "date", "description": "Its last day (inclusive)."},
                "timezone": {"type": "string", "description": "The organization's zone the dates are local to."},
                "daysLeft": {
                    "type": "integer",
                    "minimum": 1,
                    "description": "Days of the period left, today included.",
                },
                "thresholds": {"type": "array", "items": {"type": "integer", "minimum": 1}},
                "thresholdsCrossed": {"type": "array", "items": {"type": "integer", "minimum": 1}},
                "usd": _ref("BudgetLimit"),
                "tokens": _ref("BudgetLimit"),
                "percent": {"type": "number", "minimum": 0, "description": "The larger percent of the two limits."},
                "exhaustionDate": {"type": ["string", "null"], "format": "date"},
                "state": {
                    "type": "string",
                    "enum": ["ok", "warning", "exceeded"],
                    "description": "exceeded: a limit is used up; warning: a threshold below 100% is crossed "
                    "or the forecast passes a limit.",
                },
            },
            "A budget in its current period.",
        ),
        "BudgetList": _object({"budgets": _array("BudgetStatus")}),
        "Alert": _object(
            {
                "id": {"type": "string", "description": "The alert's idempotency key (README, Alerts)."},
                "idempotencyKey": {"type": "string", "description": "The same as id."},
                "kind": {"type": "string", "enum": list(ALERT_KINDS)},
                "organization": _object({"id": {"type": "integer"}, "name": _string()}),
                "budget": {
                    "oneOf": [
                        _object(
                            {
                                "id": {"type": "integer"},
                                "scope": {"type": "string", "enum": list(BUDGET_SCOPES)},
                                "scopeId": {"type": ["string", "null"]},
                                "period": {"type": "string", "enum": list(BUDGET_PERIODS)},
                            }
                        ),
                        {"type": "null"},
                    ],
                    "description": "The budget of a threshold, projected or reset alert.",
                },
                "threshold": {"type": ["integer", "null"], "description": "The percent crossed (threshold)."},
                "unit": {"type": ["string", "null"], "enum": ["usd", "tokens", None]},
                "used": {"type": ["number", "null"], "minimum": 0},
                "limit": {"type": ["number", "null"], "minimum": 0},
                "percent": {"type": ["number", "null"], "minimum": 0},
                "periodStart": {"type": ["string", "null"], "format": "date"},
                "periodEnd": {"type": ["string", "null"], "format": "date"},
                "forecast": {"type": ["number", "null"], "minimum": 0},
                "details": {"type": ["object", "null"], "description": "Per kind; see README, Alerts."},
                "message": _string(),
                "createdAt": _instant("When the alert was created"),
            },
            "An alert as its webhooks received it (--format json); values as of its creation.",
        ),
        "AlertList": _object({"alerts": _array("Alert")}),
        "UnpricedModel": _object(
            {
                "model": _string(),
                "messages": _count("Messages of the period whose model had no price at their time."),
                "tokens": _count("Their tokens (prompt and completion)."),
            },
            "A model whose usage counts as cost 0 in the period because it has no price: set one with "
            "`billing-dash prices set --org ORG MODEL --input X --output Y`, then `billing-dash reprice --org ORG`. "
            "Most messages first.",
        ),
        "UsageEvent": {
            "type": "object",
            "required": ["event_id", "timestamp", "agent_id", "conversation_id", "model"],
            # Token counts either flat or as the provider's usage object, not both. That a part is
            # at most its total (cache reads + writes <= prompt, reasoning <= completion) JSON Schema
            # cannot say: such an event is refused with 400 naming the field.
            "oneOf": [
                {
                    "required": ["prompt_tokens", "completion_tokens"],
                    "not": {"anyOf": [{"required": ["provider"]}, {"required": ["usage"]}]},
                },
                {
                    "required": ["provider", "usage"],
                    "not": {"anyOf": [{"required": [name]} for name in TOKEN_COUNTS]},
                },
            ],
            "allOf": [
                {
                    "if": {"required": ["provider"], "properties": {"provider": {"const": name}}},
                    "then": {"properties": {"usage": _ref(schema)}},
                }
                for name, schema in (
                    ("openai", "OpenAIUsage"),
                    ("anthropic", "AnthropicUsage"),
                    ("google", "GoogleUsage"),
                )
            ],
            "properties": {
                "event_id": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": MAX_ID,
                    "pattern": TEXT_PATTERN,
                    "description": "Unique per organization; an id already stored is skipped.",
                },
                "timestamp": {
                    "type": "string",
                    "format": "date-time",
                    "pattern": TIMESTAMP_PATTERN,
                    "description": "ISO 8601 with a UTC offset or Z.",
                },
                "agent_id": {"type": "string", "minLength": 1, "maxLength": MAX_ID, "pattern": TEXT_PATTERN},
                "agent_name": {"type": ["string", "null"], "maxLength": MAX_NAME, "pattern": TEXT_PATTERN},
                "conversation_id": {"type": "string", "minLength": 1, "maxLength": MAX_ID, "pattern": TEXT_PATTERN},
                "conversation_title": {"type": ["string", "null"], "maxLength": MAX_TITLE, "pattern": TEXT_PATTERN},
                "model": {"type": "string", "minLength": 1, "maxLength": MAX_ID, "pattern": TEXT_PATTERN},
                "prompt_tokens": {"type": "integer", "minimum": 0, "maximum": MAX_TOKENS},
                "completion_tokens": {"type": "integer", "minimum": 0, "maximum": MAX_TOKENS},
                "cache_read_tokens": _part("Input tokens read from the provider's cache: part of prompt_tokens."),
                "cache_write_tokens": _part("Input tokens written to the provider's cache: part of prompt_tokens."),
                "reasoning_tokens": _part("Output tokens spent reasoning: part of completion_tokens."),
                "tags": {
                    "type": ["object", "null"],
                    "maxProperties": MAX_TAGS,
                    "propertyNames": {"pattern": f"^{TAG_KEY_PATTERN}$"},
                    "additionalProperties": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": MAX_TAG_VALUE,
                        "pattern": TEXT_PATTERN,
                    },
                    "description": f"Up to {MAX_TAGS} string pairs, e.g. customer, feature, environment. The keys an "
                    f"organization pre-aggregates (at most {MAX_TAG_KEYS}, `billing-dash tags set`) may filter and group reports; "
                    f"each may have at most {MAX_TAG_VALUES} distinct values: a batch that would pass it is refused (400, field "
                    "tags).",
                },
                "provider": {
                    "type": "string",
                    "enum": list(PROVIDERS),
                    "description": "Whose usage object `usage` is (instead of the flat token counts).",
                },
                "usage": {
                    "type": "object",
                    "description": "The provider's own usage object, as its API returned it; the server derives the "
                    'token counts from it (README, "Provider usage objects").',
                },
                "cost": {
                    "anyOf": [
                        {"type": "number", "minimum": 0, "maximum": int(MAX_COST)},
                        {"type": "string", "pattern": COST_PATTERN},
                        {"type": "null"},
                    ],
                    "description": f"US dollars, stored to {MONEY_SCALE} decimals. When absent, computed from the "
                    "model price table at the event's time; a model without a price "
                    "then counts as unpriced (cost 0).",
                },
            },
            "description": "One LLM call (message) of an agent.",
        },
        "OpenAIUsage": {
            "description": "Chat Completions (`prompt_tokens`, `completion_tokens`) or Responses API "
            "(`input_tokens`, `output_tokens`) usage; cached and reasoning tokens are parts of them.",
            "anyOf": [
                {
                    "type": "object",
                    "required": ["input_tokens", "output_tokens"],
                    "properties": {
                        "input_tokens": _usage_count(),
                        "output_tokens": _usage_count(),
                        "input_tokens_details": _usage_details("cached_tokens"),
                        "output_tokens_details": _usage_details("reasoning_tokens"),
                    },
                },
                {
                    "type": "object",
                    "required": ["prompt_tokens", "completion_tokens"],
                    "not": {"anyOf": [{"required": ["input_tokens"]}, {"required": ["output_tokens"]}]},
                    "properties": {
                        "prompt_tokens": _usage_count(),
                        "completion_tokens": _usage_count(),
                        "prompt_tokens_details": _usage_details("cached_tokens"),
                        "completion_tokens_details": _usage_details("reasoning_tokens"),
                    },
                },
            ],
        },
        "AnthropicUsage": {
            "type": "object",
            "description": "Messages API usage: `input_tokens` excludes the cache reads and writes, so the "
            "prompt is the sum of the three.",
            "required": ["input_tokens", "output_tokens"],
            "properties": {
                "input_tokens": _usage_count(),
                "output_tokens": _usage_count(),
                "cache_read_input_tokens": _usage_count(nullable=True),
                "cache_creation_input_tokens": _usage_count(nullable=True),
            },
        },
        "GoogleUsage": {
            "type": "object",
            "description": "Gemini `usageMetadata`: `promptTokenCount` includes `cachedContentTokenCount`; "
            "`thoughtsTokenCount` is output beside `candidatesTokenCount`; `toolUsePromptTokenCount` is input "
            "beside `promptTokenCount`.",
            "required": ["promptTokenCount"],
            "properties": {
                "promptTokenCount": _usage_count(),
                "candidatesTokenCount": _usage_count(nullable=True),
                "cachedContentTokenCount": _usage_count(nullable=True),
                "thoughtsTokenCount": _usage_count(nullable=True),
                "toolUsePromptTokenCount": _usage_count(nullable=True),
            },
        },
        "IngestRequest": {
            "type": "object",
            "required": ["events"],
            "properties": {"events": {"type": "array", "maxItems": max_events, "items": _ref("UsageEvent")}},
        },
        "IngestResult": _object(
            {
                "inserted": _count("Events stored."),
                "skipped": _count("Events whose event_id was already stored (idempotent retries)."),
                "unpriced": _count("Stored events without a cost and without a model price."),
                "unpricedModels": {
                    "type": "array",
                    "minItems": 1,
                    "items": _object({"model": _string(), "messages": _count("Stored events of it without a price.")}),
                    "description": "The models of the unpriced events; only when there are some.",
                },
            },
            required=["inserted", "skipped", "unpriced"],
        ),
    }


def _parameters() -> dict[str, Any]:
    def query(name: str, schema: dict[str, Any], description: str, required: bool = False) -> dict[str, Any]:
        return {"name": name, "in": "query", "required": required, "schema": schema, "description": description}

    return {
        "period": query(
            "period",
            {"type": "string", "enum": list(PERIODS), "default": DEFAULT_PERIOD},
            "Calendar period up to today, in `tz`; `custom` needs startDate and endDate.",
        ),
        "startDate": query(
            "startDate",
            {"type": "string", "format": "date", "pattern": DATE_PATTERN},
            "First day (YYYY-MM-DD, inclusive); required when period=custom.",
        ),
        "endDate": query(
            "endDate",
            {"type": "string", "format": "date", "pattern": DATE_PATTERN},
            "Last day (YYYY-MM-DD, inclusive); required when period=custom.",
        ),
        "tz": query(
            "tz", {"type": "string"}, "IANA time zone name, e.g. Europe/Berlin; defaults to the organization's zone."
        ),
        "limit": query(
            "limit",
            {"type": "integer", "minimum": 1, "maximum": MAX_TOP, "default": DEFAULT_TOP},
            "How many topConversations to return.",
        ),
        "alertsLimit": query(
            "limit",
            {"type": "integer", "minimum": 1, "maximum": MAX_ALERTS, "default": DEFAULT_ALERTS},
            "How many alerts to return.",
        ),
        "sort": query(
            "sort",
            {"type": "string", "enum": list(SORTS), "default": "cost"},
            "Order: cost, tokens or messages in the period (descending), or last: the latest last message "
            "first. Ties: cost, then tokens, then the id in code point order.",
        ),
        "page": query("page", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1}, "Page, from 1."),
        "pageSize": query(
            "pageSize",
            {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE, "default": DEFAULT_PAGE_SIZE},
            "Conversations per page.",
        ),
        AGENT_PARAM: {
            **query(
                AGENT_PARAM,
                {
                    "type": "array",
                    "maxItems": MAX_FILTER_VALUES,
                    "items": {"type": "string", "minLength": 1, "maxLength": MAX_ID, "pattern": TEXT_PATTERN},
                },
                "Only these agents (repeat the parameter: agentId=a&agentId=b; any of them). With model, "
                "both hold. Every figure respects it: summary, days, agents, models, conversations, budgets, "
                "forecast, unpricedModels, series.",
            ),
            "style": "form",
            "explode": True,
        },
        MODEL_PARAM: {
            **query(
                MODEL_PARAM,
                {
                    "type": "array",
                    "maxItems": MAX_FILTER_VALUES,
                    "items": {"type": "string", "minLength": 1, "maxLength": MAX_ID, "pattern": TEXT_PATTERN},
                },
                "Only these models (repeatable, any of them); with agentId, both hold.",
            ),
            "style": "form",
            "explode": True,
        },
        GROUP_BY_PARAM: query(
            GROUP_BY_PARAM,
            {"type": "string", "pattern": f"^tag:{TAG_KEY_PATTERN}$"},
            "tag:<key> adds `usageByTag`: the usage per value of a tag key the organization pre-aggregates "
            "(`billing-dash tags set`; another key answers 400 tag_key_not_aggregated). With a tag filter, only "
            "of the same key. The CSV's section=tags requires it (those rows); the other sections ignore it.",
        ),
        "groupLimit": query(
            "groupLimit",
            {"type": "integer", "minimum": 1, "maximum": MAX_TAG_GROUPS, "default": DEFAULT_TAG_GROUPS},
            "How many values usageByTag lists before its `other` row.",
        ),
        "granularity": query(
            "granularity",
            {"type": "string", "enum": list(GRANULARITIES)},
            "Adds `series`: usage per local hour, day, week (from Monday) or calendar month of the period's "
            f"zone. hour: periods of at most {MAX_HOUR_DAYS} days. usageByDay is unchanged.",
        ),
        STACK_PARAM: query(
            STACK_PARAM,
            {"type": "string", "enum": list(STACKS)},
            "With granularity: each `series` bucket gets `stack`, its usage per agent or model.",
        ),
        "section": query(
            "section",
            {"type": "string", "enum": list(SECTIONS)},
            "Which table of the report to download.",
            required=True,
        ),
    }


def _responses() -> dict[str, Any]:
    return {
        "Unauthorized": _error(
            "Missing, malformed, unknown or revoked bearer token (code unauthorized).",
            {"WWW-Authenticate": {"schema": {"type": "string"}}},
        ),
        "ServiceUnavailable": _error(
            "The database is unavailable (code database_unavailable; retry later) or its schema is not "
            "the newest migration (code database_not_migrated: run `billing-dash db upgrade`; "
            "database_schema_unknown: a newer version migrated it).",
            {
                "Retry-After": {
                    "description": "Seconds to wait before retrying.",
                    "schema": {"type": "integer", "minimum": 0},
                }
            },
        ),
    }


def _report_responses(ok: dict[str, Any], bad_request: str | None) -> dict[str, Any]:
    """The answers of a read endpoint; `bad_request` describes its 400 (None: it has none)."""
    return {
        "200": ok,
        **({"400": _error(bad_request)} if bad_request else {}),
        "401": _response_ref("Unauthorized"),
        "403": _error("The token lacks the read scope (code forbidden)."),
        "503": _response_ref("ServiceUnavailable"),
    }


def _paths(max_events: int) -> dict[str, Any]:
    secured: list[dict[str, list[str]]] = [{"bearerAuth": []}]
    return {
        "/api/v1/analytics/billing": {
            "get": {
                "operationId": "getBillingReport",
                "summary": "Token usage and cost report of one period",
                "security": secured,
                "description": "Every figure respects the filters." + _TAG_FILTER_TEXT,
                "parameters": [
                    _param_ref(p) for p in [*_REPORT_PARAMS, "granularity", STACK_PARAM, GROUP_BY_PARAM, "groupLimit"]
                ],
                "responses": _report_responses(
                    {"description": "The report.", "content": {"application/json": {"schema": _ref("BillingReport")}}},
                    _JSON_REPORT_400,
                ),
            }
        },
        "/api/v1/analytics/billing.csv": {
            "get": {
                "operationId": "getBillingCsv",
                "summary": "One section of the report as CSV",
                "description": "Same rows, field names and rounding as the JSON report, with a header row; "
                "section=tags: the rows of usageByTag, so it takes groupBy=tag:<key> (required) and groupLimit."
                + _TAG_FILTER_TEXT,
                "security": secured,
                "parameters": [_param_ref(p) for p in [*_REPORT_PARAMS, "section", GROUP_BY_PARAM, "groupLimit"]],
                "responses": _report_responses(
                    {
                        "description": "The CSV file.",
                        "headers": {
                            "Content-Disposition": {
                                "description": 'attachment; filename="billing-<section>-<period>-<start>-to-<end>.csv"'
                                " (section=tags: billing-tags-<key>-...)",
                                "schema": {"type": "string"},
                            }
                        },
                        "content": {"text/csv": {"schema": {"type": "string"}}},
                    },
                    _REPORT_400
                    + " Also invalid_section; invalid_limit for groupLimit; missing_group_by (section=tags without "
                    "groupBy); with section=tags, invalid_group_by (not tag:<key>, or with a tag filter of another "
                    "key).",
                ),
            }
        },
        "/api/v1/budgets": {
            "get": {
                "operationId": "getBudgets",
                "summary": "Budgets of the organization with their use, forecast and state in the current period",
                "security": secured,
                "responses": {
                    "200": {
                        "description": "Every budget; the organization's first, then agents' and models'.",
                        "content": {"application/json": {"schema": _ref("BudgetList")}},
                    },
                    "401": _response_ref("Unauthorized"),
                    "403": _error("The token lacks the read scope (code forbidden)."),
                    "503": _response_ref("ServiceUnavailable"),
                },
            }
        },
        "/api/v1/alerts": {
            "get": {
                "operationId": "listAlerts",
                "summary": "The organization's newest alerts, newest first",
                "security": secured,
                "parameters": [_param_ref("alertsLimit")],
                "responses": _report_responses(
                    {
                        "description": "The alerts, as their webhooks received them.",
                        "content": {"application/json": {"schema": _ref("AlertList")}},
                    },
                    "Bad query parameters. Code: invalid_limit.",
                ),
            }
        },
        "/api/v1/conversations": {
            "get": {
                "operationId": "listConversations",
                "summary": "Every conversation of one period, page by page",
                "description": "Read from the aggregates: a year of conversations costs no scan of its events. "
                "With agentId or model, read from the period's events of those agents and models (the "
                "conversation aggregates keep no model): each conversation's usage of them, its whole life's "
                "first and last message. A tag filter reads the period's events alike." + _TAG_FILTER_TEXT,
                "security": secured,
                "parameters": [_param_ref(p) for p in _CONVERSATIONS_PARAMS],
                "responses": _report_responses(
                    {
                        "description": "One page.",
                        "content": {"application/json": {"schema": _ref("ConversationPage")}},
                    },
                    _CONVERSATIONS_400,
                ),
            }
        },
        "/api/v1/conversations/{conversationId}": {
            "get": {
                "operationId": "getConversation",
                "summary": "One conversation: its messages and totals",
                "security": secured,
                "parameters": [
                    {
                        "name": "conversationId",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "minLength": 1},
                        "description": "The conversation_id its events were sent with (URL-encoded).",
                    }
                ],
                "responses": {
                    **_report_responses(
                        {
                            "description": "The conversation.",
                            "content": {"application/json": {"schema": _ref("ConversationDetail")}},
                        },
                        None,
                    ),
                    "404": _error("No conversation with this id in the caller's organization (code not_found)."),
                },
            }
        },
        "/api/v1/usage": {
            "post": {
                "operationId": "ingestUsage",
                "summary": "Ingest a batch of usage events",
                "description": (
                    "The batch is atomic: if any event is invalid nothing is stored and the answer is "
                    "400 invalid_events with `details` [{index, field, message}]. It is idempotent: an "
                    f"event_id already stored for the organization is skipped. At most {max_events:,} events."
                ),
                "security": secured,
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("IngestRequest")}}},
                "responses": {
                    "200": {
                        "description": "The batch was stored.",
                        "content": {"application/json": {"schema": _ref("IngestResult")}},
                    },
                    "400": _error("Invalid JSON, body or events; nothing was stored.", schema="IngestError"),
                    "401": _response_ref("Unauthorized"),
                    "403": _error("The token lacks the ingest scope (code forbidden)."),
                    "413": _error(f"More than {max_events:,} events (code batch_too_large) or body too large."),
                    "503": _response_ref("ServiceUnavailable"),
                },
            }
        },
        "/api/v1/otel/v1/traces": {
            "post": {
                "operationId": "exportTraces",
                "summary": "OTLP/HTTP trace export: OpenTelemetry GenAI spans as usage",
                "description": (
                    "Point an OpenTelemetry exporter here with OTEL_EXPORTER_OTLP_ENDPOINT=<base>/api/v1/otel "
                    "(the SDK appends /v1/traces) and an ingest token in OTEL_EXPORTER_OTLP_HEADERS. Inference "
                    "spans with token usage become usage events, the event id being trace id + span id (a retried "
                    'export counts once); README "OpenTelemetry" has the mapping. The valid spans of a request '
                    "are stored in one transaction; refused ones are counted in `partial_success`. Bodies up to "
                    f"{MAX_BODY_BYTES:,} bytes (after gzip), at most {max_events:,} spans with usage. Errors "
                    "are a google.rpc.Status in the request's encoding."
                ),
                "security": secured,
                "parameters": [
                    {
                        "name": "Content-Encoding",
                        "in": "header",
                        "required": False,
                        "schema": {"type": "string", "enum": ["gzip", "identity"]},
                        "description": "gzip, or absent.",
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/x-protobuf": {
                            "schema": {"type": "string", "format": "binary"},
                            "example": "",
                        },
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {"resourceSpans": {"type": "array", "items": {"type": "object"}}},
                                "description": "OTLP/JSON ExportTraceServiceRequest: ids in hex, enums as integers.",
                            },
                        },
                    },
                },
                "responses": {
                    "200": {
                        "description": "Stored; refused and ignored spans are counted in partial_success.",
                        "content": {
                            "application/x-protobuf": {"schema": {"type": "string", "format": "binary"}},
                            "application/json": {"schema": _ref("ExportTraceServiceResponse")},
                        },
                    },
                    **{
                        status: _otlp_error(description)
                        for status, description in (
                            ("400", "The body cannot be decoded (code invalid_body); nothing was stored."),
                            ("401", "Missing, malformed, unknown or revoked bearer token (code unauthorized)."),
                            ("403", "The token lacks the ingest scope (code forbidden)."),
                            ("413", "Body too large (after gzip) or too many spans with usage (batch_too_large)."),
                            ("415", "Neither application/x-protobuf nor application/json, or an encoding not gzip."),
                            ("503", "The database is unavailable: retry after Retry-After seconds."),
                        )
                    },
                },
            }
        },
        "/healthz": {
            "get": {
                "operationId": "healthz",
                "summary": "Liveness and database check",
                "security": [],
                "responses": {
                    "200": {
                        "description": "Up, database reachable.",
                        "content": {
                            "application/json": {"schema": _object({"status": {"type": "string", "const": "ok"}})}
                        },
                    },
                    "503": _response_ref("ServiceUnavailable"),
                },
            }
        },
        "/api/v1/openapi.json": {
            "get": {
                "operationId": "getOpenApi",
                "summary": "This document",
                "security": [],
                "responses": {
                    "200": {
                        "description": "The OpenAPI document.",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    },
                },
            }
        },
    }


@lru_cache(maxsize=4)
def openapi_document(settings: Settings) -> dict:
    """The OpenAPI 3.1.0 document of the API as `settings` configure it, built once."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "billing-dash API",
            "version": "1.0.0",
            "description": (
                "Token usage and cost analytics for teams running AI agents: ingest usage events, "
                "then read reports by day, agent, model and conversation as JSON or CSV. "
                "A token only ever sees its own organization's data."
            ),
        },
        "servers": [{"url": "/"}],
        "paths": _paths(settings.max_ingest_events),
        "components": {
            "schemas": _schemas(settings.max_ingest_events),
            "parameters": _parameters(),
            "responses": _responses(),
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An organization API token (scopes: read, ingest).",
                },
            },
        },
    }
