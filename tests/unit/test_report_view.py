"""Unit tests for billing_dash.components.report_view: the page's widgets and CSV files of a report."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal

import pytest
from dash._utils import to_json

from billing_dash.components import format as fmt
from billing_dash.components.report_view import csv_files, drawable, period_label, report_view
from billing_dash.services.export import SECTIONS, csv_filename, period_json, report_json, section_csv

from ..factories import make_report


def through_browser(value):
    """`value` as the browser gets it: Dash's JSON, parsed."""
    return json.loads(to_json(value))


@pytest.mark.parametrize(
    "period, label",
    [
        (
            {"startDate": "2026-11-01", "endDate": "2026-11-24", "days": 24, "timezone": "Europe/Berlin"},
            "Nov 1, 2026 – Nov 24, 2026 · 24 days · times in Europe/Berlin",
        ),
        (
            {"startDate": "2026-03-09", "endDate": "2026-03-09", "days": 1, "timezone": "Asia/Kolkata"},
            "Mar 9, 2026 · 1 day · times in Asia/Kolkata",
        ),
        (
            {"startDate": "2025-12-31", "endDate": "2026-01-01", "days": 2, "timezone": "UTC"},
            "Dec 31, 2025 – Jan 1, 2026 · 2 days · times in UTC",
        ),
    ],
)
def test_period_label(period, label):
    assert period_label(period) == label


def test_drawable_makes_money_floats_as_the_browser_reads_it():
    report = report_json(make_report(agent_names=["a", "b"], models=["m"], titles=["t"]))
    assert drawable(report) == through_browser(report)
    assert not any(isinstance(v, Decimal) for v in json.loads(json.dumps(drawable(report))).values())


def test_report_view_shows_the_report():
    report = make_report(agent_names=["a", "b"], models=["m"], titles=["t"])
    body = report_json(report)
    floats = through_browser(body)
    changes = {"totalCost": 12.5, "totalTokens": None, "avgCostPerMessage": -3.0, "totalConversations": 0.0}
    view = report_view(body, changes, "p")

    assert view.period_label == period_label(body["period"])
    assert view.empty is False
    values = {card.children.id: card.children.children.children[1].children for card in view.cards}
    assert values["p-cost"] == fmt.money(floats["summary"]["totalCost"])
    assert values["p-tokens"] == fmt.count(floats["summary"]["totalTokens"])
    assert values["p-conversations"] == fmt.count(floats["summary"]["totalConversations"])
    assert list(view.daily_figure.data[0].y) == [d["promptTokens"] for d in floats["usageByDay"]]
    assert list(view.daily_figure.data[2].y) == [d["cost"] for d in floats["usageByDay"]]
    assert list(view.model_figure.data[0].values) == [m["cost"] for m in floats["usageByModel"]]
    assert view.agent_rows == floats["usageByAgent"]
    assert view.model_rows == floats["usageByModel"]
    assert view.conversation_rows == floats["topConversations"]


def test_report_view_of_an_empty_period():
    report = make_report(empty=True)
    nothing = replace(
        report.summary,
        total_tokens=0,
        prompt_tokens=0,
        completion_tokens=0,
        total_cost=Decimal(0),
        total_messages=0,
        total_conversations=0,
    )
    view = report_view(report_json(replace(report, summary=nothing)), {}, "p")
    assert view.empty is True
    assert view.agent_rows == view.model_rows == view.conversation_rows == []


def test_budget_use_shows_in_the_agent_rows():
    report = make_report(agent_names=["capped", "free"])
    agents = report.agents.copy()
    agents["monthly_token_budget"] = [1000, None]
    agents["month_tokens"] = [125, None]
    agents["budget_used"] = [Decimal(125) / 1000, None]
    rows = report_view(report_json(replace(report, agents=agents)), {}, "p").agent_rows
    assert rows[0]["monthlyTokenBudget"] == 1000 and rows[0]["budgetUsedPercent"] == 12.5
    assert "budgetUsedPercent" not in rows[1] and "monthlyTokenBudget" not in rows[1]


def test_csv_files_are_the_apis_csv_even_past_float_precision():
    report = make_report(agent_names=["a"], models=["m"], titles=["t"])
    agents = report.agents.copy()
    agents["cost"] = [Decimal("9000000000.000001")]  # a float says 9000000000.000002
    report = replace(report, agents=agents)
    files = through_browser(csv_files(report))  # they reach the browser as JSON and come back as a file
    assert set(files) == set(SECTIONS) - {"tags"}  # no groupBy: no tags file
    assert files["conversations"] == {
        "filename": csv_filename(period_json(report), "conversations"),
        "url": "/api/v1/analytics/billing.csv?section=conversations&period=custom&startDate=2026-03-01&endDate=2026-03-02",
    }
    for section in set(SECTIONS) - {"conversations", "tags"}:
        assert files[section] == {
            "filename": csv_filename(period_json(report), section),
            "content": section_csv(report, section),
        }
    assert ",9000000000.000001," in files["agents"]["content"]
    assert through_browser(report_json(report))["usageByAgent"][0]["cost"] != Decimal("9000000000.000001")


def test_the_unpriced_banner_names_the_models_and_the_command_that_prices_them():
    report = replace(
        make_report(agent_names=["a"], models=["m"], titles=["t"]), unpriced_models=(("acme llm", 1234, 5678901),)
    )
    view = report_view(report_json(report), {}, "p", org_name="Acme Inc")
    assert "acme llm (1,234 messages, 5,678,901 tokens)" in view.unpriced_banner
    assert "billing-dash prices set --org 'Acme Inc' 'acme llm' --input X --output Y" in view.unpriced_banner
    assert "billing-dash reprice --org 'Acme Inc' --model 'acme llm'" in view.unpriced_banner
    priced = report_view(report_json(make_report(agent_names=["a"], models=["m"], titles=["t"])), {}, "p")
    assert priced.unpriced_banner is None


def test_cost_card_shows_the_cache_hit_rate_and_savings():
    report = make_report()
    cached = replace(report.summary, prompt_tokens=800, cache_read_tokens=600, cache_savings=Decimal("1234.565"))
    cards = report_view(report_json(replace(report, summary=cached)), {}, "p").cards
    line = next(div for div in cards[0].children.children.children if getattr(div, "id", None) == "p-cache")
    # 600 of 800 prompt tokens came from the cache; savings rounded to cents as on the card.
    assert line.children == "Cache hit rate 75.0% · saved $1,234.57"


def test_cache_hit_rate_without_prompt_tokens_is_a_dash():
    report = make_report(empty=True)
    nothing = replace(report.summary, prompt_tokens=0, total_tokens=0, completion_tokens=0)
    cards = report_view(report_json(replace(report, summary=nothing)), {}, "p").cards
    line = next(div for div in cards[0].children.children.children if getattr(div, "id", None) == "p-cache")
    assert line.children == "Cache hit rate – · saved $0.00"
