"""Event tags: ingest (JSON API, JSONL and CSV), storage, the pre-aggregated keys (`tags set`),
tag_daily maintained by imports, rebuilds and the cardinality limit, on both databases; expected
figures are computed over the raw events."""

from __future__ import annotations

import csv
import io
import json
import random
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from billing_dash.aggregates import rebuild
from billing_dash.ingest import IngestError, ingest
from billing_dash.limits import MAX_TAG_KEYS, MAX_TAG_VALUE, MAX_TAGS
from billing_dash.models import tag_daily, tag_values, usage_events
from billing_dash.tags import TagError, list_keys, set_keys

from ..factories import cli_event, count, failed_cleanly, nothing_stored, ok, post, run, stored_event, write_jsonl
from .reference import Scenario, tokens_of

NOW = datetime.now(UTC)
CUSTOMERS = ("acme", "globex", "initech", "umbrella", "Ünïcode ☃", "hooli")


def tag_events(sc: Scenario, seed: int = 3) -> None:
    """Give the scenario's events tags: most a customer, many an env, some a feature no one aggregates."""
    rng = random.Random(seed)
    for e in sc.events:
        tags = {}
        if rng.random() < 0.8:
            tags["customer"] = rng.choice(CUSTOMERS)
        if rng.random() < 0.5:
            tags["env"] = rng.choice(("prod", "staging"))
        if rng.random() < 0.3:
            tags["feature.x-y_z"] = f"f{rng.randint(0, 50)}"
        if tags:
            e["tags"] = tags


@pytest.fixture
def tagged(engine, org):
    sc = Scenario(seed=21, n=900, now=NOW)
    tag_events(sc)
    with engine.begin() as conn:
        sc.store_prices(conn)
        ingest(conn, org.id, enumerate(sc.events), batch_size=200)
    return sc


def reference_tag_daily(sc: Scenario, tz: str, keys: tuple[str, ...]) -> dict:
    """tag_daily computed from the raw events: (key, value, day, agent, model) -> sums."""
    zone = ZoneInfo(tz)
    rows: dict = defaultdict(lambda: [0, 0, Decimal(0), 0, 0, 0, 0, 0, Decimal(0)])
    for e in sc.events:
        for key in keys:
            value = e.get("tags", {}).get(key)
            if value is None:
                continue
            day = datetime.fromisoformat(e["timestamp"]).astimezone(zone).date().isoformat()
            cost, priced, savings = sc.cost(e)
            prompt, completion, read, write, reasoning = tokens_of(e)
            r = rows[(key, value, day, e["agent_id"], e["model"])]
            for i, v in enumerate((prompt, completion, cost, 1, 0 if priced else 1, read, write, reasoning, savings)):
                r[i] += v
    return {k: tuple(v) for k, v in rows.items()}


def stored_tag_daily(engine, org_id: int) -> dict:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(tag_daily).where(tag_daily.c.organization_id == org_id)).all()
    return {
        (r.tag_key, r.tag_value, str(r.day), r.agent_id, r.model): (
            r.prompt_tokens,
            r.completion_tokens,
            r.cost,
            r.message_count,
            r.unpriced_count,
            r.cache_read_tokens,
            r.cache_write_tokens,
            r.reasoning_tokens,
            r.cache_savings,
        )
        for r in rows
    }


# ---------------------------------------------------------------- ingest and storage


def test_api_stores_tags_as_canonical_json(client, auth_headers, engine, org):
    tags = {"z": "last", "customer": 'Ünïcode ☃ "quoted"', "a.b-c_d": "x" * MAX_TAG_VALUE}
    response = post(client, auth_headers, [cli_event(1, tags=tags), cli_event(2), cli_event(3, tags={})])
    assert response.status_code == 200, response.get_json()
    stored = stored_event(engine, org.id, "ev-1").tags
    # Keys sorted, no spaces: one text per set of tags.
    assert stored == json.dumps(tags, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert stored_event(engine, org.id, "ev-2").tags is None
    assert stored_event(engine, org.id, "ev-3").tags is None
    # The same id again, other tags: a no-op, as for every field.
    again = post(client, auth_headers, [cli_event(1, tags={"customer": "other"})])
    assert again.get_json()["skipped"] == 1
    assert json.loads(stored_event(engine, org.id, "ev-1").tags) == tags


BAD_TAGS = [
    ("not an object", "must be a JSON object"),
    (["customer", "acme"], "must be a JSON object"),
    ("[1]", "must be a JSON object"),
    ({f"k{i}": "v" for i in range(MAX_TAGS + 1)}, f"at most {MAX_TAGS} tags"),
    ({"Customer": "acme"}, "must match"),
    ({"": "acme"}, "must match"),
    ({"k" * 41: "acme"}, "must match"),
    ({"customer id": "acme"}, "must match"),
    ({"customer": ""}, "1 to 200 characters"),
    ({"customer": "x" * (MAX_TAG_VALUE + 1)}, "1 to 200 characters"),
    ({"customer": 7}, "1 to 200 characters"),
    ({"customer": None}, "1 to 200 characters"),
    ({"customer": "a\x00b"}, "without NUL"),
]


@pytest.mark.parametrize(("tags", "message"), BAD_TAGS)
def test_api_refuses_bad_tags_naming_the_field(client, auth_headers, engine, org, tags, message):
    response = post(client, auth_headers, [cli_event(1), cli_event(2, tags=tags)])
    assert response.status_code == 400
    body = response.get_json()["error"]
    assert body["code"] == "invalid_events"
    assert body["details"] == [{"index": 1, "field": "tags", "message": body["details"][0]["message"]}]
    assert message in body["details"][0]["message"]
    nothing_stored(engine, org.id)


def test_jsonl_import_takes_tags_and_names_line_and_field(database_url, engine, org, tmp_path):
    path = write_jsonl(tmp_path, [cli_event(1, tags={"customer": "acme"}), cli_event(2, tags={"Bad": "x"})])
    result = run(database_url, "import", "--org", org.name, str(path))
    failed_cleanly(result)
    assert "line 2: tags:" in result.output
    nothing_stored(engine, org.id)
    path = write_jsonl(tmp_path, [cli_event(1, tags={"customer": "acme"}), cli_event(2)])
    ok(run(database_url, "import", "--org", org.name, str(path)))
    assert json.loads(stored_event(engine, org.id, "ev-1").tags) == {"customer": "acme"}


def test_csv_tags_column_holds_a_json_object(database_url, engine, org, tmp_path):
    rows = [
        cli_event(1, tags=json.dumps({"customer": "acme, inc", "env": "prod"})),
        cli_event(2, tags=""),
        cli_event(3),
    ]
    fields = list(dict.fromkeys(k for r in rows for k in r))
    out = io.StringIO()
    writer = csv.DictWriter(out, fields)
    writer.writeheader()
    writer.writerows(rows)
    path = tmp_path / "usage.csv"
    path.write_text(out.getvalue(), encoding="utf-8")
    ok(run(database_url, "import", "--org", org.name, str(path)))
    assert json.loads(stored_event(engine, org.id, "ev-1").tags) == {"customer": "acme, inc", "env": "prod"}
    assert stored_event(engine, org.id, "ev-2").tags is None
    assert stored_event(engine, org.id, "ev-3").tags is None
    bad = out.getvalue().replace("ev-3", "ev-4").replace("ev-1", "ev-5").replace('""env""', '""Env""')
    path.write_text(bad, encoding="utf-8")
    result = run(database_url, "import", "--org", org.name, str(path))
    failed_cleanly(result)
    assert "line 2: tags:" in result.output
    path.write_text(out.getvalue().replace("ev-1", "ev-6").replace('{""customer""', '[""customer""'), encoding="utf-8")
    result = run(database_url, "import", "--org", org.name, str(path))
    failed_cleanly(result)
    assert "line 2: tags:" in result.output
    assert count(engine, usage_events, org.id) == 3


# ---------------------------------------------------------------- pre-aggregated keys


def test_tags_set_builds_aggregates_from_stored_events_and_imports_keep_them(database_url, engine, org, tagged):
    assert stored_tag_daily(engine, org.id) == {}  # no key set: nothing aggregated
    ok(run(database_url, "tags", "set", "--org", org.name, "env", "customer"))
    listed = run(database_url, "tags", "list", "--org", org.name)
    ok(listed)
    assert listed.output.split() == ["customer", "env"]
    assert stored_tag_daily(engine, org.id) == reference_tag_daily(tagged, org.timezone, ("customer", "env"))
    with engine.connect() as conn:
        values = set(conn.execute(sa.select(tag_values.c.tag_key, tag_values.c.tag_value)).all())
    assert {v for v in values if True} >= {("customer", c) for c in CUSTOMERS}
    # Imports add to them (a second scenario's events, some of them sent twice).
    more = Scenario(seed=22, n=400, now=NOW)
    tag_events(more, seed=4)
    with engine.begin() as conn:
        more.store_prices(conn)
        ingest(conn, org.id, enumerate(more.events[:250]), batch_size=100)
        ingest(conn, org.id, enumerate(more.events), batch_size=100)
    both = Scenario(seed=22, n=0, now=NOW)
    both.prices = {**tagged.prices, **more.prices}
    both.events = tagged.events + more.events
    expected = reference_tag_daily(both, org.timezone, ("customer", "env"))
    assert stored_tag_daily(engine, org.id) == expected
    # A rebuild makes the same rows; fewer keys drop the others' rows.
    with engine.begin() as conn:
        rebuild(conn, [org.id])
    assert stored_tag_daily(engine, org.id) == expected
    ok(run(database_url, "tags", "set", "--org", org.name, "customer"))
    assert stored_tag_daily(engine, org.id) == reference_tag_daily(both, org.timezone, ("customer",))
    ok(run(database_url, "tags", "set", "--org", org.name))
    assert stored_tag_daily(engine, org.id) == {}
    assert count(engine, tag_values, org.id) == 0


@pytest.mark.parametrize(
    ("keys", "message"),
    [(("Customer",), "must match"), (tuple(f"k{i}" for i in range(MAX_TAG_KEYS + 1)), f"at most {MAX_TAG_KEYS}")],
)
def test_tags_set_refuses_bad_keys(database_url, engine, org, keys, message):
    result = run(database_url, "tags", "set", "--org", org.name, *keys)
    failed_cleanly(result)
    assert message in result.output
    with engine.connect() as conn:
        assert list_keys(conn, org.id) == []


def test_values_past_the_limit_are_refused(engine, org, monkeypatch):
    monkeypatch.setattr("billing_dash.aggregates.MAX_TAG_VALUES", 3)
    events = [cli_event(i, tags={"customer": f"c{i % 3}"}) for i in range(6)]
    with engine.begin() as conn:
        ingest(conn, org.id, enumerate(events))
        set_keys(conn, org.id, ["customer"])
    # A fourth value: the whole import is refused, naming the first event that brought it.
    late = [cli_event(10, tags={"customer": "c1"}), cli_event(11, tags={"customer": "c9"}), cli_event(12)]
    with pytest.raises(IngestError) as refused, engine.begin() as conn:
        ingest(conn, org.id, enumerate(late, start=1))
    assert [(e.position, e.field) for e in refused.value.errors] == [(2, "tags")]
    assert "more than 3 distinct values" in refused.value.errors[0].message
    assert count(engine, usage_events, org.id) == 6
    # Stored events past the limit: `tags set` refuses the key.
    with engine.begin() as conn:
        set_keys(conn, org.id, [])
        ingest(conn, org.id, enumerate(late, start=1))
    with pytest.raises(TagError, match="more than 3 distinct values"), engine.begin() as conn:
        set_keys(conn, org.id, ["customer"])
    with engine.connect() as conn:
        assert list_keys(conn, org.id) == []
