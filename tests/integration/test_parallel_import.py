"""A JSONL import parsed by worker processes stores, counts and refuses exactly what one process does."""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from billing_dash import cli
from billing_dash.auth import create_org
from billing_dash.ingest import MAX_ERRORS, IngestError, ingest, ingest_jsonl, read_jsonl, store
from billing_dash.models import AGGREGATES, TAG_AGGREGATES, agents, conversations, usage_events
from billing_dash.tags import set_keys

from ..factories import run
from .reference import Scenario

# Few lines per chunk, so that a small file is many chunks in flight at once.
CHUNK_LINES = 37
# Text COPY must carry every character parse lets through: its separators and escapes included.
AWKWARD = ["tab\there", "new\nline", "back\\slash \\N", "carriage\rreturn", 'quote " and ünï ☃']


def scenario_lines(seed: int) -> tuple[Scenario, list[bytes]]:
    """A scenario's events as JSONL lines with awkward text, tags, blank lines, a byte order mark
    and ids repeated with other contents (later, in other chunks: the first stays)."""
    sc = Scenario(seed=seed, n=700, now=datetime.now(UTC))
    rng = random.Random(seed)
    for i, e in enumerate(sc.events):
        if i % 7 == 0:
            e["conversation_title"] = rng.choice(AWKWARD) + str(i)
            e["agent_name"] = rng.choice(AWKWARD)
        if i % 3:
            e["tags"] = {"customer": rng.choice(AWKWARD), "env": rng.choice(("prod", "staging"))}
    repeated = [dict(e, model=sc.unpriced_model, conversation_title="later") for e in rng.sample(sc.events, 40)]
    lines = [json.dumps(e).encode() + b"\n" for e in [*sc.events, *repeated]]
    for at in sorted(rng.sample(range(len(lines)), 15), reverse=True):
        lines.insert(at, b"   \n")
    lines[0] = "\ufeff".encode() + lines[0]
    return sc, lines


def two_orgs(engine, sc: Scenario):
    with engine.begin() as conn:
        sc.store_prices(conn)
        orgs = [create_org(conn, f"org-{uuid.uuid4().hex[:12]}", "Asia/Kolkata") for _ in range(2)]
        for o in orgs:
            set_keys(conn, o.id, ["customer", "env"])
    return orgs


def stored(engine, org_id: int) -> dict:
    """Everything an import leaves for one organization, without the organization's id."""
    with engine.connect() as conn:
        snap = {}
        for table in (usage_events, agents, conversations, *AGGREGATES, *TAG_AGGREGATES):
            columns = [c for c in table.columns if c.name != "organization_id"]
            rows = conn.execute(sa.select(*columns).where(table.c.organization_id == org_id)).all()
            snap[table.name] = sorted(map(tuple, rows), key=repr)
    return snap


@pytest.mark.parametrize("workers", [2, 3])
def test_workers_store_what_one_process_stores(engine, workers, monkeypatch):
    monkeypatch.setattr(store, "CHUNK_LINES", CHUNK_LINES)
    sc, lines = scenario_lines(seed=31 + workers)
    parallel, single = two_orgs(engine, sc)
    with engine.begin() as conn:
        got = ingest_jsonl(conn, parallel.id, iter(lines), workers=workers)
    with engine.begin() as conn:
        expected = ingest(conn, single.id, read_jsonl(lines))
    assert got == expected
    assert (got.inserted, got.skipped) == (len(sc.events), 40)
    assert stored(engine, parallel.id) == stored(engine, single.id)
    # And against the scenario itself: every event once, as first given, its text intact.
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(usage_events.c.event_id, usage_events.c.model, usage_events.c.cost, usage_events.c.tags).where(
                usage_events.c.organization_id == parallel.id
            )
        ).all()
        titles = dict(
            conn.execute(
                sa.select(conversations.c.id, conversations.c.title).where(
                    conversations.c.organization_id == parallel.id
                )
            ).all()
        )
    by_id = {e["event_id"]: e for e in sc.events}
    assert {r.event_id: r.model for r in rows} == {i: e["model"] for i, e in by_id.items()}
    assert sum((r.cost for r in rows), Decimal(0)) == sum((sc.cost(e)[0] for e in sc.events), Decimal(0))
    assert {r.event_id: r.tags and json.loads(r.tags) for r in rows} == {i: e.get("tags") for i, e in by_id.items()}
    assert set(titles.values()) & {t + str(i) for i in range(0, 700, 7) for t in AWKWARD}


def bad_lines(count: int) -> list[bytes]:
    """Valid events with `count` bad ones spread over the chunks (several kinds of error)."""
    sc = Scenario(seed=41, n=400, now=datetime.now(UTC))
    lines = [json.dumps(e).encode() + b"\n" for e in sc.events]
    rng = random.Random(count)
    for n, at in enumerate(sorted(rng.sample(range(1, len(lines)), count))):
        event = json.loads(lines[at])
        kind = n % 3
        if kind == 0:
            lines[at] = b"{not json\n"
        elif kind == 1:
            lines[at] = json.dumps(dict(event, prompt_tokens=-1)).encode() + b"\n"
        else:
            lines[at] = json.dumps(dict(event, timestamp="yesterday")).encode() + b"\n"
    return lines


@pytest.mark.parametrize("count", [5, MAX_ERRORS + 30])
def test_workers_refuse_what_one_process_refuses(engine, org, count, monkeypatch):
    monkeypatch.setattr(store, "CHUNK_LINES", CHUNK_LINES)
    lines = bad_lines(count)
    with pytest.raises(IngestError) as single, engine.begin() as conn:
        ingest(conn, org.id, read_jsonl(lines))
    with pytest.raises(IngestError) as parallel, engine.begin() as conn:
        ingest_jsonl(conn, org.id, iter(lines), workers=2)
    assert parallel.value.errors == single.value.errors
    assert parallel.value.truncated == single.value.truncated == (count > MAX_ERRORS)
    assert len(parallel.value.errors) == min(count, MAX_ERRORS)
    with engine.connect() as conn:
        assert not conn.execute(
            sa.select(usage_events.c.event_id).where(usage_events.c.organization_id == org.id)
        ).all()


def test_the_import_command_parses_a_large_file_in_worker_processes(database_url, engine, org, tmp_path, monkeypatch):
    """`billing-dash import` of a file past PARALLEL_IMPORT_MIN_BYTES (lowered here) on both databases."""
    monkeypatch.setattr(cli, "PARALLEL_IMPORT_MIN_BYTES", 0)
    monkeypatch.setattr(store, "CHUNK_LINES", CHUNK_LINES)
    sc, lines = scenario_lines(seed=51)
    with engine.begin() as conn:
        sc.store_prices(conn)
    path = tmp_path / "usage.jsonl"
    path.write_bytes(b"".join(lines))
    result = run(database_url, "import", "--org", org.name, str(path))
    assert result.exit_code == 0, result.output
    assert f"inserted {len(sc.events)}, skipped 40 already imported" in result.output
    with engine.connect() as conn:
        cost = conn.execute(
            sa.select(sa.func.sum(usage_events.c.cost)).where(usage_events.c.organization_id == org.id)
        ).scalar_one()
    assert cost == sum((sc.cost(e)[0] for e in sc.events), Decimal(0))
