"""Token parts through ingest on both databases: stored per event, priced exactly, refused when
larger than their totals (API: event and field; CLI: line and field)."""

from __future__ import annotations

import json
from decimal import Decimal

import sqlalchemy as sa

from billing_dash.models import usage_day

from ..factories import failed_cleanly, nothing_stored, ok, priced_model, run, stored_event, write_jsonl

USAGE = "/api/v1/usage"
TS = "2026-02-10T12:00:00Z"
# USD per million: input, output, cache read, cache write.
PRICE = (Decimal("3"), Decimal("15"), Decimal("0.30"), Decimal("3.75"))


def ev(n, model: str, **fields) -> dict:
    base = {"event_id": f"t-{n}", "timestamp": TS, "agent_id": "a", "conversation_id": "c", "model": model}
    return base | fields


def post(client, headers, events):
    return client.post(USAGE, data=json.dumps({"events": events}), content_type="application/json", headers=headers)


def by_hand(prompt, completion, read, write) -> Decimal:
    """(prompt - reads - writes) x input + reads x read price + writes x write price + completion x output."""
    inp, out, rd, wr = PRICE
    return ((prompt - read - write) * inp + read * rd + write * wr + completion * out) / 1_000_000


def test_an_event_with_every_part_is_stored_and_priced_exactly(client, auth_headers, engine, org):
    model = priced_model(engine, PRICE, "tok-model")
    event = ev(
        1,
        model,
        prompt_tokens=10_000,
        cache_read_tokens=6000,
        cache_write_tokens=3000,
        completion_tokens=2000,
        reasoning_tokens=1500,
    )
    assert post(client, auth_headers, [event]).status_code == 200
    row = stored_event(engine, org.id, "t-1")
    assert (row.prompt_tokens, row.cache_read_tokens, row.cache_write_tokens) == (10_000, 6000, 3000)
    assert (row.completion_tokens, row.reasoning_tokens) == (2000, 1500)
    # 1,000 x 3 + 6,000 x 0.30 + 3,000 x 3.75 + 2,000 x 15 = 46,050 per million.
    assert row.cost == by_hand(10_000, 2000, 6000, 3000) == Decimal("0.04605")
    assert row.cache_savings == Decimal(6000) * (PRICE[0] - PRICE[2]) / 1_000_000 == Decimal("0.0162")
    assert row.priced is True
    with engine.connect() as conn:
        day = conn.execute(sa.select(usage_day).where(usage_day.c.organization_id == org.id)).one()
    assert (day.cache_read_tokens, day.cache_write_tokens, day.reasoning_tokens) == (6000, 3000, 1500)
    assert day.cache_savings == Decimal("0.0162")


def test_a_provider_usage_object_is_stored_normalized(client, auth_headers, engine, org):
    model = priced_model(engine, PRICE, "tok-model")
    usage = {
        "input_tokens": 5,
        "cache_read_input_tokens": 128_955,
        "cache_creation_input_tokens": 1253,
        "output_tokens": 9,
    }
    assert post(client, auth_headers, [ev(1, model, provider="anthropic", usage=usage)]).status_code == 200
    row = stored_event(engine, org.id, "t-1")
    assert (row.prompt_tokens, row.cache_read_tokens, row.cache_write_tokens) == (130_213, 128_955, 1253)
    assert row.cost == by_hand(130_213, 9, 128_955, 1253)


def test_an_explicit_cost_stays_and_the_savings_come_from_the_price(client, auth_headers, engine, org):
    model = priced_model(engine, PRICE, "tok-model")
    event = ev(1, model, prompt_tokens=1000, cache_read_tokens=1000, completion_tokens=0, cost="0.5")
    assert post(client, auth_headers, [event]).status_code == 200
    row = stored_event(engine, org.id, "t-1")
    assert row.cost == Decimal("0.5")
    assert row.cache_savings == Decimal(1000) * (PRICE[0] - PRICE[2]) / 1_000_000


def test_no_cache_price_and_no_price_save_nothing(client, auth_headers, engine, org):
    flat_model = priced_model(engine, (*PRICE[:2], None, None), "tok-model")
    events = [
        ev(1, flat_model, prompt_tokens=1000, cache_read_tokens=800, completion_tokens=10),
        ev(2, "no-such-model", prompt_tokens=1000, cache_read_tokens=800, completion_tokens=10),
    ]
    assert post(client, auth_headers, events).status_code == 200
    flat_row, unpriced = stored_event(engine, org.id, "t-1"), stored_event(engine, org.id, "t-2")
    assert flat_row.cost == by_hand(1000, 10, 0, 0) and flat_row.cache_savings == 0
    assert unpriced.priced is False and unpriced.cost == 0 and unpriced.cache_savings == 0


def test_api_refuses_a_part_larger_than_its_total_naming_event_and_field(client, auth_headers, engine, org):
    events = [
        ev(0, "m", prompt_tokens=10, completion_tokens=5),
        ev(1, "m", prompt_tokens=10, completion_tokens=5, cache_read_tokens=6, cache_write_tokens=5),
        ev(2, "m", prompt_tokens=10, completion_tokens=5, reasoning_tokens=6),
        ev(3, "m", provider="openai", usage={"prompt_tokens": 1, "completion_tokens": 1}, prompt_tokens=1),
    ]
    response = post(client, auth_headers, events)
    assert response.status_code == 400
    body = response.get_json()["error"]
    assert [(d["index"], d["field"]) for d in body["details"]] == [
        (1, "cache_write_tokens"),
        (2, "reasoning_tokens"),
        (3, "usage"),
    ]
    assert "event 1: cache_write_tokens" in body["message"]
    nothing_stored(engine, org.id)


def test_import_names_line_and_field_of_a_part_larger_than_its_total(database_url, engine, org, tmp_path):
    events = [
        ev(0, "m", prompt_tokens=10, completion_tokens=5, cache_read_tokens=10),
        ev(1, "m", prompt_tokens=10, completion_tokens=5, cache_read_tokens=11),
    ]
    result = run(database_url, "import", "--org", org.name, str(write_jsonl(tmp_path, events)))
    failed_cleanly(result)
    assert "line 2: cache_read_tokens" in result.stderr
    nothing_stored(engine, org.id)


def test_import_csv_with_parts(database_url, engine, org, tmp_path):
    model = priced_model(engine, PRICE, "tok-model")
    path = tmp_path / "usage.csv"
    path.write_text(
        "event_id,timestamp,agent_id,conversation_id,model,prompt_tokens,completion_tokens,"
        "cache_read_tokens,cache_write_tokens,reasoning_tokens\n"
        f"t-1,{TS},a,c,{model},10000,2000,6000,3000,1500\n",
        encoding="utf-8",
    )
    ok(run(database_url, "import", "--org", org.name, str(path)))
    row = stored_event(engine, org.id, "t-1")
    assert (row.cache_read_tokens, row.cache_write_tokens, row.reasoning_tokens) == (6000, 3000, 1500)
    assert row.cost == by_hand(10_000, 2000, 6000, 3000)
