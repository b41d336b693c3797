"""Unit tests for parsing usage input without a database: parse_event, read_jsonl, read_csv, loads_json."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing_dash.ingest import (
    FIELDS,
    MAX_COST,
    MAX_TOKENS,
    FieldError,
    UsageEvent,
    loads_json,
    parse_event,
    read_csv,
    read_jsonl,
)
from billing_dash.ingest.parse import _Invalid, _typed_event
from billing_dash.limits import MAX_ID, MAX_NAME, MAX_TITLE

REQUIRED = ("event_id", "timestamp", "agent_id", "conversation_id", "model", "prompt_tokens", "completion_tokens")
ID_FIELDS = ("event_id", "agent_id", "conversation_id", "model")
CSV_HEADER = ",".join(FIELDS)


def valid(**overrides) -> dict:
    raw = {
        "event_id": "evt-1",
        "timestamp": "2026-03-01T12:34:56Z",
        "agent_id": "agent-1",
        "agent_name": "Support Bot",
        "conversation_id": "conv-1",
        "conversation_title": "Refund question",
        "model": "gpt-test",
        "prompt_tokens": 120,
        "completion_tokens": 30,
        "cost": "0.0123",
    }
    raw.update(overrides)
    return {k: v for k, v in raw.items() if v is not ...}


def event(obj) -> UsageEvent:
    """The event of what read_jsonl yields: validated already, or a record for parse_event."""
    return obj if isinstance(obj, UsageEvent) else parse_event(obj)


def invalid_field(raw) -> str:
    with pytest.raises(_Invalid) as info:
        parse_event(raw)
    assert info.value.message
    return info.value.field


# --- parse_event: accepted -----------------------------------------------------------------------


def test_valid_event_with_cost():
    e = parse_event(valid())
    assert e == UsageEvent(
        event_id="evt-1",
        ts=datetime(2026, 3, 1, 12, 34, 56, tzinfo=UTC),
        agent_id="agent-1",
        agent_name="Support Bot",
        conversation_id="conv-1",
        conversation_title="Refund question",
        model="gpt-test",
        prompt_tokens=120,
        completion_tokens=30,
        cost=Decimal("0.0123"),
    )
    assert isinstance(e.cost, Decimal)
    assert e.ts.utcoffset() == timedelta(0)


@pytest.mark.parametrize("cost", [..., None, ""])
def test_valid_event_without_cost(cost):
    e = parse_event(valid(cost=cost))
    assert e.cost is None
    assert e.prompt_tokens == 120 and e.completion_tokens == 30


def test_optional_names_may_be_missing():
    e = parse_event(valid(agent_name=..., conversation_title=""))
    assert e.agent_name is None and e.conversation_title is None


def test_timestamp_with_half_hour_offset():
    e = parse_event(valid(timestamp="2026-03-01T05:30:00+05:30"))
    assert e.ts == datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
    assert e.ts.utcoffset() == timedelta(0)  # kept in UTC, whatever offset it came with


def test_timestamp_z_and_zero_offset_are_the_same_instant():
    a = parse_event(valid(timestamp="2026-03-01T00:00:00Z")).ts
    b = parse_event(valid(timestamp="2026-03-01T00:00:00+00:00")).ts
    c = parse_event(valid(timestamp="2026-03-01T00:00:00.000000+00:00")).ts
    assert a == b == c


def test_cost_kept_as_exact_decimal():
    assert parse_event(valid(cost="0.1")).cost == Decimal("0.1")
    assert parse_event(valid(cost=Decimal("12.3456789"))).cost == Decimal("12.3456789")
    assert parse_event(valid(cost=3)).cost == Decimal(3)
    assert parse_event(valid(cost="0")).cost == 0
    assert parse_event(valid(cost=str(MAX_COST))).cost == MAX_COST


def test_tokens_given_as_digit_string_are_accepted():
    e = parse_event(valid(prompt_tokens="12", completion_tokens="0"))
    assert (e.prompt_tokens, e.completion_tokens) == (12, 0)
    assert isinstance(e.prompt_tokens, int)


def test_token_limits_inclusive():
    assert parse_event(valid(prompt_tokens=MAX_TOKENS)).prompt_tokens == MAX_TOKENS
    assert parse_event(valid(prompt_tokens=0)).prompt_tokens == 0


def test_integer_ids_are_text():
    e = parse_event(valid(event_id=42, agent_id=7))
    assert (e.event_id, e.agent_id) == ("42", "7")


def test_id_at_length_limit_is_accepted():
    assert parse_event(valid(event_id="x" * MAX_ID)).event_id == "x" * MAX_ID


# --- parse_event: rejected -----------------------------------------------------------------------


@pytest.mark.parametrize("field", REQUIRED)
@pytest.mark.parametrize("value", [..., None, ""])
def test_missing_or_empty_required_field(field, value):
    assert invalid_field(valid(**{field: value})) == field


@pytest.mark.parametrize("ts", ["2026-03-01T12:00:00", "2026-03-01 12:00:00", "2026-03-01"])
def test_naive_timestamp(ts):
    assert invalid_field(valid(timestamp=ts)) == "timestamp"


@pytest.mark.parametrize(
    "ts",
    [
        "yesterday",
        "2026-13-01T00:00:00Z",
        "2026-02-30T00:00:00Z",
        "2026-03-01T25:00:00Z",
        "2026-03-01T00:00:00+25:00",
        "1700000000",
        1700000000,
        1.5,
        True,
        ["2026-03-01T00:00:00Z"],
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
    ],
)
def test_malformed_timestamp(ts):
    assert invalid_field(valid(timestamp=ts)) == "timestamp"


@pytest.mark.parametrize("ts", ["2026-03-01T00:00:00Z\x00", "2026-03-01T00:00:00Z\x00<script>"])
def test_timestamp_with_nul_and_trailing_junk_is_rejected(ts):
    """CPython 3.11's datetime.fromisoformat stops reading at a NUL, so the junk after it must be caught here."""
    assert invalid_field(valid(timestamp=ts)) == "timestamp"


@pytest.mark.parametrize("field", ["prompt_tokens", "completion_tokens"])
@pytest.mark.parametrize(
    "value",
    [
        -1,
        1.5,
        12.0,
        Decimal("1.5"),
        Decimal("-2"),
        True,
        False,
        MAX_TOKENS + 1,
        "-1",
        "1.5",
        " 12",
        "12 ",
        "1e3",
        "１２",
        "0x10",
        "abc",
        [1],
        {"n": 1},
    ],
)
def test_bad_tokens(field, value):
    assert invalid_field(valid(**{field: value})) == field


@pytest.mark.parametrize("field", ["prompt_tokens", "completion_tokens"])
def test_huge_digit_string_tokens_are_a_field_error(field):
    """A CSV cell (or JSON string) of thousands of digits must be rejected as a field error,
    not crash int() with Python's integer-string-conversion limit."""
    assert invalid_field(valid(**{field: "9" * 5000})) == field


@pytest.mark.parametrize(
    "cost",
    [
        "-0.01",
        -1,
        "NaN",
        "nan",
        "sNaN",
        "abc",
        "Infinity",
        "-Infinity",
        "inf",
        Decimal("NaN"),
        Decimal("Infinity"),
        Decimal("-0.000001"),
        0.5,
        True,
        str(MAX_COST + 1),
        "1e10",
        "1,5",
        [1],
    ],
)
def test_bad_cost(cost):
    assert invalid_field(valid(cost=cost)) == "cost"


@pytest.mark.parametrize("field", (*ID_FIELDS, "agent_name", "conversation_title"))
def test_nul_characters(field):
    assert invalid_field(valid(**{field: "ab\x00c"})) == field


@pytest.mark.parametrize(
    "field,limit", [(f, MAX_ID) for f in ID_FIELDS] + [("agent_name", MAX_NAME), ("conversation_title", MAX_TITLE)]
)
def test_too_long_text(field, limit):
    assert parse_event(valid(**{field: "y" * limit}))
    assert invalid_field(valid(**{field: "y" * (limit + 1)})) == field


@pytest.mark.parametrize("field", ID_FIELDS)
@pytest.mark.parametrize("value", [True, 1.5, ["a"], {"a": 1}])
def test_non_text_ids(field, value):
    assert invalid_field(valid(**{field: value})) == field


@pytest.mark.parametrize("raw", [[1, 2], "event", 7, None])
def test_non_object_record(raw):
    assert invalid_field(raw) == ""


# --- read_jsonl ----------------------------------------------------------------------------------


def event_line(**overrides) -> bytes:
    return (json.dumps(valid(**overrides)) + "\n").encode()


def test_jsonl_blank_lines_skipped_but_counted():
    out = list(read_jsonl([event_line(event_id="a"), b"\n", b"   \r\n", b"\t\n", event_line(event_id="b"), b""]))
    assert [where for where, _ in out] == [1, 5]
    assert [event(obj).event_id for _, obj in out] == ["a", "b"]


def test_jsonl_accepts_str_lines():
    out = list(read_jsonl([json.dumps(valid()) + "\n"]))
    assert out[0][0] == 1 and parse_event(out[0][1]) == parse_event(valid())


@pytest.mark.parametrize("bad", [b"{oops}\n", b'{"a": 1\n', b"{'a': 1}\n", b'{"a": 1} {"b": 2}\n', b"undefined\n"])
def test_jsonl_invalid_json_names_the_line(bad):
    out = list(read_jsonl([event_line(), b"\n", bad, event_line(event_id="z")]))
    assert [w for w, _ in out] == [1, 3, 4]
    _where, err = out[1]
    assert isinstance(err, FieldError)
    assert err.position == 3
    assert "JSON" in err.message
    assert str(err).startswith("line 3: ")
    assert not isinstance(out[2][1], FieldError)


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
def test_jsonl_nan_constants_rejected(constant):
    out = list(read_jsonl([event_line(), b'{"event_id": "x", "cost": ' + constant + b"}\n"]))
    assert isinstance(out[1][1], FieldError)
    assert out[1][1].position == 2


@pytest.mark.parametrize("line", [b"[1, 2]\n", b'"text"\n', b"42\n", b"null\n", b"true\n"])
def test_jsonl_non_object_line_fails_validation_at_its_line(line):
    out = list(read_jsonl([event_line(), line]))
    where, obj = out[1]
    assert where == 2
    assert not isinstance(obj, dict)
    assert invalid_field(obj) == ""


def test_jsonl_invalid_utf8():
    out = list(read_jsonl([event_line(), b'{"event_id": "\xff\xfe"}\n', event_line(event_id="c")]))
    err = out[1][1]
    assert isinstance(err, FieldError) and err.position == 2
    assert "UTF-8" in err.message
    assert event(out[2][1]).event_id == "c"


def test_jsonl_bom_on_first_line_accepted():
    out = list(read_jsonl([b"\xef\xbb\xbf" + event_line()]))
    assert out == [(1, valid())]
    assert parse_event(out[0][1]).cost == Decimal("0.0123")


def test_jsonl_decimals_stay_exact():
    out = list(read_jsonl([b'{"cost": 0.1, "prompt_tokens": 3}\n']))
    obj = out[0][1]
    assert obj["cost"] == Decimal("0.1") and type(obj["cost"]) is Decimal
    assert type(obj["prompt_tokens"]) is int


def test_jsonl_deeply_nested_line_is_a_field_error():
    """A hostile line must become a FieldError, not a RecursionError that aborts the import."""
    out = list(read_jsonl([b"[" * 100_000 + b"\n", event_line()]))
    assert isinstance(out[0][1], FieldError) and out[0][1].position == 1
    assert out[1][0] == 2


# --- read_csv ------------------------------------------------------------------------------------


def csv_lines(text: str) -> list[bytes]:
    return text.encode().splitlines(keepends=True)


def row(event_id: str = "e1", tokens: str = "12") -> str:
    return f"{event_id},2026-03-01T00:00:00Z,a1,Agent,c1,Title,m1,{tokens},3,0.5,,,\r\n"


def test_csv_first_data_row_is_line_2():
    out = list(read_csv(csv_lines(CSV_HEADER + "\r\n" + row("e1") + row("e2"))))
    assert [w for w, _ in out] == [2, 3]
    events = [parse_event(r) for _, r in out]
    assert [e.event_id for e in events] == ["e1", "e2"]
    assert events[0].prompt_tokens == 12 and events[0].cost == Decimal("0.5")
    assert events[0].ts == datetime(2026, 3, 1, tzinfo=UTC)


def test_csv_columns_in_any_order_and_optional_ones_missing():
    header = "model,completion_tokens,prompt_tokens,conversation_id,agent_id,timestamp,event_id"
    out = list(read_csv(csv_lines(header + "\nm,4,5,c,a,2026-03-01T00:00:00+01:00,e\n")))
    e = parse_event(out[0][1])
    assert (e.model, e.prompt_tokens, e.completion_tokens, e.cost, e.agent_name) == ("m", 5, 4, None, None)


def test_csv_bom_before_header():
    out = list(read_csv([b"\xef\xbb\xbf" + (CSV_HEADER + "\n").encode(), row().encode()]))
    assert out[0][0] == 2 and not isinstance(out[0][1], FieldError)


@pytest.mark.parametrize("column", REQUIRED)
def test_csv_header_missing_required_column(column):
    header = ",".join(f for f in FIELDS if f != column)
    out = list(read_csv(csv_lines(header + "\n" + row())))
    assert len(out) == 1
    where, err = out[0]
    assert where == 1 and isinstance(err, FieldError) and err.position == 1
    assert column in err.message


def test_csv_empty_file():
    out = list(read_csv([]))
    assert len(out) == 1 and isinstance(out[0][1], FieldError) and out[0][0] == 1


def test_csv_multiline_quoted_cell_keeps_numbering():
    text = (
        CSV_HEADER
        + "\n"
        + 'e1,2026-03-01T00:00:00Z,a1,Agent,c1,"first line\nsecond line\nthird",m1,1,2,,,,\n'
        + row("e2")
        + row("e3")
    )
    out = list(read_csv(csv_lines(text)))
    assert [parse_event(r).event_id for _, r in out] == ["e1", "e2", "e3"]
    assert parse_event(out[0][1]).conversation_title == "first line\nsecond line\nthird"
    assert [w for w, _ in out[1:]] == [5, 6]


def test_csv_blank_line_is_counted():
    out = list(read_csv(csv_lines(CSV_HEADER + "\n" + row("e1") + "\n" + row("e2"))))
    assert [w for w, _ in out] == [2, 4]


@pytest.mark.parametrize(
    "bad",
    [row().rstrip("\r\n") + ",extra\n", "e1,2026-03-01T00:00:00Z,a1\n", row().rstrip("\r\n").rsplit(",", 1)[0] + "\n"],
)
def test_csv_wrong_number_of_cells(bad):
    out = list(read_csv(csv_lines(CSV_HEADER + "\n" + row("ok") + bad + row("after"))))
    assert [w for w, _ in out] == [2, 3, 4]
    assert isinstance(out[1][1], FieldError) and out[1][1].position == 3
    assert not isinstance(out[0][1], FieldError) and not isinstance(out[2][1], FieldError)


def test_csv_invalid_utf8_is_a_field_error():
    out = list(read_csv([(CSV_HEADER + "\n").encode(), row().encode(), b"e\xff,x\n"]))
    assert isinstance(out[-1][1], FieldError)
    assert out[-1][0] == 3


# --- loads_json ----------------------------------------------------------------------------------


def test_loads_json_keeps_decimals_exact():
    obj = loads_json('{"a": 0.1, "b": 12345678901234567890.123456789, "c": 1e-7, "d": 7}')
    assert obj["a"] == Decimal("0.1") and type(obj["a"]) is Decimal
    assert obj["b"] == Decimal("12345678901234567890.123456789")
    assert obj["c"] == Decimal("1e-7")
    assert obj["d"] == 7 and type(obj["d"]) is int
    assert sum([loads_json("0.1")] * 3) == Decimal("0.3")


def test_loads_json_accepts_bytes():
    assert loads_json(b'{"x": 2.50}') == {"x": Decimal("2.50")}


@pytest.mark.parametrize("text", ["NaN", "[Infinity]", '{"a": -Infinity}'])
def test_loads_json_rejects_non_finite(text):
    with pytest.raises(ValueError):
        loads_json(text)


def _exact(text: str | bytes):
    """The reference: the standard library alone, every fraction a Decimal."""
    return json.loads(text, parse_float=Decimal, parse_constant=lambda name: 1 / 0)


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.decimals(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


def _dumps(value) -> str:
    """JSON text of `value`, Decimals written as the numbers they are (json.dumps cannot)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, list):
        return "[" + ",".join(map(_dumps, value)) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(json.dumps(k) + ":" + _dumps(v) for k, v in value.items()) + "}"
    return json.dumps(value)


@settings(max_examples=300)
@given(JSON_VALUES)
def test_loads_json_equals_the_exact_parse(value):
    """The orjson fast path may never change a value: whatever it parses equals the standard
    library's exact parse, fractions (also nested) included."""
    text = _dumps(value)
    expected = _exact(text)
    for form in (text, text.encode()):
        got = loads_json(form)
        assert got == expected
        assert repr(got) == repr(expected)  # Decimal stays Decimal, int stays int


@settings(max_examples=300)
@given(st.text(max_size=40) | st.binary(max_size=40).map(lambda b: b.decode("latin-1")))
def test_loads_json_accepts_and_refuses_what_the_standard_library_does(text):
    try:
        expected = _exact(text)
    except (ValueError, ZeroDivisionError, RecursionError):
        with pytest.raises(ValueError):
            loads_json(text)
    else:
        assert repr(loads_json(text)) == repr(expected)


@pytest.mark.parametrize(
    "text",
    [
        '{"n": 123456789012345678901234567890}',
        '"\\ud800"',
        "[1e400]",
        "-0.0",
        '{"a": 1, "a": 2.5}',
        "[" * 3000 + "]" * 3000,
    ],
)
def test_loads_json_falls_back_where_orjson_differs(text):
    try:
        expected = _exact(text)
    except RecursionError:
        with pytest.raises(ValueError, match="nested too deeply"):
            loads_json(text)
    else:
        assert repr(loads_json(text)) == repr(expected)


# --- properties ----------------------------------------------------------------------------------


def check_parse(raw) -> None:
    try:
        e = event(raw)
    except _Invalid as bad:
        assert isinstance(bad.message, str) and bad.message
        assert bad.field in FIELDS or bad.field == ""
        return
    assert isinstance(e, UsageEvent)
    assert e.ts.tzinfo is not None
    assert 0 <= e.prompt_tokens <= MAX_TOKENS and 0 <= e.completion_tokens <= MAX_TOKENS
    assert e.cost is None or (e.cost.is_finite() and 0 <= e.cost <= MAX_COST)
    for name in ID_FIELDS:
        value = getattr(e, name)
        assert isinstance(value, str) and value and len(value) <= MAX_ID and "\x00" not in value


@settings(max_examples=300)
@given(st.lists(st.binary(max_size=80), max_size=8))
def test_read_jsonl_arbitrary_bytes(lines):
    out = list(read_jsonl(lines))
    numbers = [where for where, _ in out]
    assert numbers == sorted(set(numbers)) and all(1 <= n <= len(lines) for n in numbers)
    for where, obj in out:
        if isinstance(obj, FieldError):
            assert obj.position == where and obj.message
        else:
            check_parse(obj)


@settings(max_examples=300)
@given(st.lists(st.text(max_size=60).map(lambda s: (s + "\n").encode("utf-8", "surrogatepass")), max_size=6))
def test_read_csv_arbitrary_rows(lines):
    out = list(read_csv([(CSV_HEADER + "\n").encode(), *lines]))
    for where, obj in out:
        assert isinstance(where, int)
        if isinstance(obj, FieldError):
            assert obj.position == where and obj.message
        else:
            check_parse(obj)


field_value = st.one_of(
    st.text(max_size=30),
    st.integers(),
    st.none(),
    st.sampled_from(["", "12", "2026-03-01T00:00:00Z", "2026-03-01T00:00:00+05:30", "0.5", "NaN", "-1"]),
)


@settings(max_examples=500)
@given(
    st.one_of(
        st.dictionaries(st.one_of(st.sampled_from(tuple(FIELDS)), st.text(max_size=10)), field_value, max_size=12),
        st.fixed_dictionaries({f: field_value for f in FIELDS}),
        st.fixed_dictionaries(
            {
                "event_id": st.text(min_size=1, max_size=10),
                "timestamp": st.just("2026-03-01T00:00:00Z"),
                "agent_id": st.text(min_size=1, max_size=10),
                "conversation_id": st.text(min_size=1, max_size=10),
                "model": st.text(min_size=1, max_size=10),
                "prompt_tokens": st.integers(),
                "completion_tokens": st.integers(),
                "cost": st.one_of(st.text(max_size=12), st.integers()),
            }
        ),
    )
)
def test_parse_event_arbitrary_dicts(raw):
    check_parse(raw)


@pytest.mark.parametrize("value", [Decimal("12"), Decimal("12.0"), Decimal("1.2E+1")])
def test_integral_json_numbers_are_token_counts(value):
    """JSON Schema calls 12.0 and 1.2e1 integers; the API accepts what its document allows."""
    assert parse_event(valid(prompt_tokens=value)).prompt_tokens == 12


def test_csv_required_columns_are_the_fields_declared_required(monkeypatch):
    """ingest.FIELDS is the one list of fields: the CSV reader asks for the ones it declares required."""
    from billing_dash.ingest import parse

    monkeypatch.setitem(parse.FIELDS, "agent_name", True)
    header = ",".join(f for f in FIELDS if f != "agent_name")
    out = list(read_csv(csv_lines(header + "\n" + row())))
    assert len(out) == 1 and isinstance(out[0][1], FieldError) and "agent_name" in out[0][1].message


def test_field_errors_carry_their_position_as_a_number():
    err = FieldError(7, "cost", "is bad")
    assert (err.position, str(err), err.describe("event")) == (7, "line 7: cost: is bad", "event 7: cost: is bad")


@pytest.mark.parametrize("field", list(FIELDS))
def test_parse_event_requires_what_fields_declares(field):
    raw = valid(**{field: ...})
    if FIELDS[field]:
        assert invalid_field(raw) == field
    else:
        parse_event(raw)


# --- the typed path of read_jsonl ----------------------------------------------------------------


def _slow(line: bytes) -> UsageEvent | None:
    """The event the general path makes of `line` (loads_json, then parse_event), None if refused."""
    try:
        return parse_event(loads_json(line))
    except (_Invalid, ValueError):
        return None


COMMON_LINES = [
    valid(),
    valid(cost=...),
    valid(cost=7),
    valid(agent_name=None, conversation_title=None, cost=None),
    valid(cache_read_tokens=100, cache_write_tokens=20, reasoning_tokens=30),
    valid(conversation_title="Rückerstattung für Ōsaka 🚀", agent_name="Ассистент"),
    valid(timestamp="2026-03-01T12:34:56.123456+05:30"),
    valid(tags={"customer": "acme", "env": "prod"}),
    valid(provider=None, usage=None, extra={"ignored": [1, 2.5, None]}),
]


@pytest.mark.parametrize("raw", COMMON_LINES)
def test_common_lines_take_the_typed_path(raw):
    """The typed path is what makes an import fast: the common shapes of a line must take it (a
    decoder that refused them all would pass every other test), and make parse_event's event."""
    line = (json.dumps(raw, ensure_ascii=False) + "\n").encode()
    typed = _typed_event(line)
    assert typed is not None
    assert repr(typed) == repr(_slow(line))
    assert list(read_jsonl([line])) == [(1, typed)]


# Values that parse_event treats in every way it can: accepted as they are, converted (digit strings,
# integral decimals, empty strings, null), or refused at a limit or for their type.
ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-2, max_value=3) | st.sampled_from([MAX_TOKENS, MAX_TOKENS + 1, 2**64, -(2**63)]),
    st.sampled_from(["", " ", "12", "0012", "-1", "1e2", "5.0", "0.5", " 1.5 ", "1_000", "NaN", "Infinity"]),
    st.sampled_from(["x" * MAX_ID, "x" * (MAX_ID + 1), "é" * MAX_ID, "🚀" * (MAX_ID + 1), "a\x00b", "\x7f", "ß"]),
    st.sampled_from(
        ["2026-03-01T00:00:00Z", "2026-03-01T00:00:00", "2026-03-01 00:00:00+01:00", "2026-03-01T00:00:00z"]
    ),
    st.sampled_from(
        ["2026-03-01T00:00:00.1234567Z", "1979-12-31T23:59:59Z", "1980-01-01T01:00:00+01:00", "9999-01-01T00:00:00Z"]
    ),
    st.sampled_from(["2026-03-01T00:00:00+16:00", "2026-W09-1T00:00:00Z", "20260301T000000Z", "2026-03-01"]),
    st.sampled_from([Decimal("5.0"), Decimal("1E+2"), Decimal("0.1"), Decimal("1E+999"), Decimal("-0")]),
    st.sampled_from(["openai", "anthropic", "google", "other"]),
    st.just({}) | st.just([]) | st.just({"customer": "acme"}) | st.just({"Bad Key": "v"}) | st.just({"k": ""}),
    st.just({"k": 1}) | st.just({"k": "x" * 201}) | st.just({f"k{i}": "v" for i in range(11)}),
    st.just({"input_tokens": 10, "output_tokens": 5}) | st.just({"prompt_tokens": 3, "completion_tokens": 1}),
    st.text(max_size=12),
)
ODD_KEYS = st.sampled_from([*FIELDS, "tags", "provider", "usage", "other"])


@settings(max_examples=1500)
@given(
    st.dictionaries(ODD_KEYS, ODD_VALUES, max_size=1) | st.dictionaries(ODD_KEYS, ODD_VALUES, max_size=4),
    st.sets(st.sampled_from(REQUIRED), max_size=1),
    st.sampled_from(["", "bom", "nul", "surrogate", "latin1", "dup", "trailing", "deep", "crlf"]),
)
def test_typed_path_accepts_only_what_parse_event_accepts_and_makes_the_same_event(changes, dropped, text_change):
    """read_jsonl's typed path (msgspec) must never accept a line the general path refuses, nor make
    a different event: where it declines, the general path validates the line and names its errors."""
    raw = {k: v for k, v in {**valid(cache_read_tokens=10), **changes}.items() if k not in dropped}
    text = "{" + ",".join(json.dumps(k) + ":" + _dumps(v) for k, v in raw.items())
    extra = {
        "nul": ',"other":"\\u0000"',
        "surrogate": ',"other":"\\ud800"',
        "dup": ',"event_id":"second"',
        "deep": ',"other":' + "[" * 2000 + "]" * 2000,
    }.get(text_change, "")
    line = (text + extra + "}" + ("\r\n" if text_change == "crlf" else "\n")).encode()
    if text_change == "bom":
        line = b"\xef\xbb\xbf" + line
    elif text_change == "latin1":
        line = line[:-2] + b',"other":"\xe9"}\n'
    elif text_change == "trailing":
        line = line[:-1] + b" x\n"
    typed, expected = _typed_event(line), _slow(line)
    if expected is None:
        assert typed is None
    elif typed is not None:
        assert repr(typed) == repr(expected)
