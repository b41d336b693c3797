"""Unit tests for billing_dash.services.export: money rounding and CSV output with formula neutralising."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from billing_dash.services.export import HEADERS, SECTIONS, average, money, report_json, section_csv, section_rows

from ..factories import make_report

DANGEROUS = ['=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)", "\t=1+1", "\r=1+1", "=cmd|' /C calc'!A0"]
ORDINARY = ["Support Bot", "a=b", "x+1", "1-2", "mail@example.com", "", "'quoted", " =spaced"]


def half_even(value: Decimal, places: int) -> Decimal:
    """Round half to even with exact rational arithmetic (no Decimal.quantize)."""
    scaled = Fraction(value) * 10**places
    floor = scaled.numerator // scaled.denominator
    rest = scaled - floor
    if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and floor % 2 == 1):
        floor += 1
    return Decimal(floor).scaleb(-places)


# --- money and average ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value,expected",
    [
        ("0.0000125", "0.000012"),  # tie, 2 is even: down
        ("0.0000135", "0.000014"),  # tie, 3 is odd: up
        ("1234.5678915", "1234.567892"),
        ("1234.5678925", "1234.567892"),
        ("0.0000005", "0"),
        ("0.0000015", "0.000002"),
        ("0.00000051", "0.000001"),
        ("2.5", "2.5"),
        ("0", "0"),
        ("999999999.9999995", "1000000000"),
        ("9000000000.0000010", "9000000000.000001"),  # past a float's ~16 significant digits
        ("123456789012345678.0000004999", "123456789012345678"),
    ],
)
def test_money_rounds_half_even_to_6_places(value, expected):
    assert half_even(Decimal(value), 6) == Decimal(expected)
    result = money(Decimal(value))
    assert isinstance(result, Decimal)  # a float cannot hold the larger ones
    assert str(result) == expected


def plain(text: str) -> bool:
    """Digits as a person writes money: no exponent, no trailing zeros after the point."""
    return "E" not in text.upper() and not ("." in text and text.endswith(("0", ".")))


@given(st.decimals(min_value=0, max_value=10**18, places=10, allow_nan=False, allow_infinity=False))
@example(Decimal("0.0000125"))
@example(Decimal("1234.5678915"))
@example(Decimal("999999999.999999499999"))
@example(Decimal("9000000000.000001"))
def test_money_text_is_exactly_the_rounded_decimal(value):
    text = str(money(value))
    assert Decimal(text) == half_even(value, 6)
    assert plain(text), text


@given(st.decimals(min_value=-(10**9), max_value=0, places=9, allow_nan=False, allow_infinity=False))
def test_money_negative_values(value):
    assert money(value) == half_even(value, 6)


@pytest.mark.parametrize(
    "value,expected",
    [("2.345", "2.34"), ("2.355", "2.36"), ("7", "7"), ("0.005", "0"), ("0.015", "0.02"), ("1.999", "2")],
)
def test_average_rounds_half_even_to_2_places(value, expected):
    assert half_even(Decimal(value), 2) == Decimal(expected)
    assert Decimal(repr(average(Decimal(value)))) == Decimal(expected)


@given(st.integers(0, 10**12), st.integers(1, 10**6))
def test_average_of_a_ratio(total, count):
    exact = Decimal(total) / count
    assert Decimal(repr(average(exact))) == half_even(exact, 2)


def parse_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def test_agent_cells_starting_with_formula_characters_are_quoted():
    names = DANGEROUS + ORDINARY
    report = make_report(agent_names=names)
    rows = parse_csv(section_csv(report, "agents"))
    assert rows[0] == HEADERS["agents"]
    body = [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]
    assert len(body) == len(names)
    for name, r in zip(names, body, strict=True):
        for column in ("agentId", "agentName"):
            if name in DANGEROUS:
                assert r[column].startswith("'"), (column, name)
                assert r[column] == "'" + name
            else:
                assert r[column] == name, (column, name)


def test_formula_neutralising_in_every_text_section():
    report = make_report(models=DANGEROUS + ORDINARY, titles=DANGEROUS + ORDINARY)
    models = [dict(zip(HEADERS["models"], r, strict=True)) for r in parse_csv(section_csv(report, "models"))[1:]]
    convs = [
        dict(zip(HEADERS["conversations"], r, strict=True)) for r in parse_csv(section_csv(report, "conversations"))[1:]
    ]
    for text, m, c in zip(DANGEROUS + ORDINARY, models, convs, strict=True):
        expected = "'" + text if text in DANGEROUS else text
        assert m["model"] == expected
        assert c["conversationId"] == c["title"] == c["agentId"] == expected


def test_json_rows_keep_names_verbatim():
    report = make_report(agent_names=DANGEROUS)
    assert [r["agentName"] for r in section_rows(report, "agents")] == DANGEROUS
    assert [r["agentId"] for r in section_rows(report, "agents")] == DANGEROUS


def test_numbers_are_not_quoted_and_use_the_same_rounding_as_json():
    report = make_report(agent_names=["bot"])
    row = dict(zip(HEADERS["agents"], parse_csv(section_csv(report, "agents"))[1], strict=True))
    json_row = section_rows(report, "agents")[0]
    assert Decimal(row["cost"]) == half_even(Decimal("1234.5678915"), 6) == json_row["cost"]
    assert row["cost"] == str(json_row["cost"])
    assert row["totalTokens"] == "15" and row["messageCount"] == "2" and row["conversationCount"] == "1"
    daily = [dict(zip(HEADERS["daily"], r, strict=True)) for r in parse_csv(section_csv(report, "daily"))[1:]]
    assert [d["date"] for d in daily] == ["2026-03-01", "2026-03-02"]
    assert Decimal(daily[0]["cost"]) == half_even(Decimal("0.0000125"), 6)
    assert int(daily[0]["totalTokens"]) == int(daily[0]["promptTokens"]) + int(daily[0]["completionTokens"])


def test_model_average_tokens_per_message():
    report = make_report(models=["m"])
    row = section_rows(report, "models")[0]
    assert Decimal(repr(row["avgTokensPerMessage"])) == half_even(Decimal(10) / 3, 2)
    assert row["unpricedMessageCount"] == 1


@pytest.mark.parametrize("section", SECTIONS)
def test_empty_section_has_only_the_header_row(section):
    text = section_csv(make_report(empty=True), section)
    assert parse_csv(text) == [HEADERS[section]]
    assert text.endswith("\r\n")


@pytest.mark.parametrize("section", SECTIONS)
def test_csv_rows_match_json_rows(section):
    report = make_report(agent_names=["a", "=b"], models=["m"], titles=["t", "+t"], tag_values=["acme", "=x"])
    csv_rows = parse_csv(section_csv(report, section))
    json_rows = section_rows(report, section)
    assert csv_rows[0] == HEADERS[section]
    assert len(csv_rows) - 1 == len(json_rows)
    for c, j in zip(csv_rows[1:], json_rows, strict=True):
        assert list(j) == HEADERS[section]
        for h, cell in zip(HEADERS[section], c, strict=True):
            value = j[h]
            if isinstance(value, str):
                assert cell in (value, "'" + value)
            else:
                assert cell == ("" if value is None else str(value))  # the tags' null tagValue: an empty cell


def test_tags_section_is_usage_by_tag_with_money_rounded_only_in_the_output():
    report = make_report(tag_values=["acme"])
    tags = report.tags.copy()
    tags.loc[0, "cost"] = Decimal("9000000000.0000014")  # a float says 9000000000.000002
    report = replace(report, tags=tags)
    rows = [dict(zip(HEADERS["tags"], r, strict=True)) for r in parse_csv(section_csv(report, "tags"))[1:]]
    assert [(r["tagKey"], r["tagValue"], r["group"], r["valueCount"]) for r in rows] == [
        ("customer", "acme", "value", "1"),
        ("customer", "", "untagged", "0"),
    ]
    assert rows[0]["cost"] == str(money(tags.loc[0, "cost"])) == "9000000000.000001"
    assert section_rows(report, "tags") == report_json(report)["usageByTag"]


def test_unknown_section():
    with pytest.raises((KeyError, ValueError)):
        section_csv(make_report(), "budgets")
