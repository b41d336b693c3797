"""A JSONL import parsed by worker processes (grouped on a side connection) stores and refuses what one process does."""

from __future__ import annotations

import json
import os
import random
import signal
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from billing_dash import aggregates, cli
from billing_dash.aggregates import EventWriter
from billing_dash.auth import create_org
from billing_dash.db import make_engine, upgrade
from billing_dash.ingest import MAX_ERRORS, IngestError, ingest, ingest_jsonl, read_jsonl, store
from billing_dash.ingest.side import SideStage
from billing_dash.models import AGGREGATES, TAG_AGGREGATES, agents, conversations, usage_events
from billing_dash.tags import set_keys

from ..factories import run, side_schemas
from .reference import Scenario

# Few lines per chunk, so that a small file is many chunks in flight at once.
CHUNK_LINES = 37
# Text COPY must carry every character parse lets through: its separators and escapes included.
AWKWARD = ["tab\there", "new\nline", "back\\slash \\N", "carriage\rreturn", 'quote " and ünï ☃']


def scenario_lines(seed: int, repeats: int = 40) -> tuple[Scenario, list[bytes]]:
    """A scenario's events as JSONL lines with awkward text, tags, blank lines, a byte order mark
    and `repeats` ids repeated with other contents (later, in other chunks: the first stays)."""
    sc = Scenario(seed=seed, n=700, now=datetime.now(UTC))
    rng = random.Random(seed)
    for i, e in enumerate(sc.events):
        if i % 7 == 0:
            e["conversation_title"] = rng.choice(AWKWARD) + str(i)
            e["agent_name"] = rng.choice(AWKWARD)
        if i % 3:
            e["tags"] = {"customer": rng.choice(AWKWARD), "env": rng.choice(("prod", "staging"))}
    repeated = [dict(e, model=sc.unpriced_model, conversation_title="later") for e in rng.sample(sc.events, repeats)]
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


# PostgreSQL: without repeated ids the side stage's grouping is kept; with them it is done again.
@pytest.mark.parametrize("workers, repeats", [(2, 0), (2, 40), (3, 40)])
def test_workers_store_what_one_process_stores(engine, workers, repeats, monkeypatch):
    monkeypatch.setattr(store, "CHUNK_LINES", CHUNK_LINES)
    sc, lines = scenario_lines(seed=31 + workers, repeats=repeats)
    parallel, single = two_orgs(engine, sc)
    with engine.begin() as conn:
        got = ingest_jsonl(conn, parallel.id, iter(lines), workers=workers)
    with engine.begin() as conn:
        expected = ingest(conn, single.id, read_jsonl(lines))
    assert got == expected
    assert (got.inserted, got.skipped) == (len(sc.events), repeats)
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


@pytest.fixture
def pg(postgres_url):
    """An engine on PostgreSQL only: side stages are PostgreSQL's."""
    engine = make_engine(postgres_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def test_a_large_import_groups_on_its_side_connection_and_leaves_no_schema(pg, postgres_url, monkeypatch):
    """The grouping runs on the side stage's connection while the import's transaction stores the
    events, and the import drops the side stage's schema as it commits."""
    monkeypatch.setattr(store, "CHUNK_LINES", CHUNK_LINES)
    sc, lines = scenario_lines(seed=61, repeats=0)
    parallel, single = two_orgs(pg, sc)
    pids: dict[str, int] = {}
    group = EventWriter.group

    def spied(writer, conn, names=False):
        pids["group"] = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
        pids["import"] = writer.conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
        group(writer, conn, names)

    monkeypatch.setattr(EventWriter, "group", spied)
    # Another import starting before this one commits must not take its schema for left behind
    # (it would wait for this transaction to drop it: here it fails after 5 s instead).
    impatient = make_engine(postgres_url, connect_args={"options": "-c lock_timeout=5000"})
    with pg.begin() as conn:
        got = ingest_jsonl(conn, parallel.id, iter(lines), workers=2)
        (ours,) = side_schemas(pg)  # dropped by this transaction, not yet committed
        other = SideStage(impatient)
        assert side_schemas(pg) == {ours, other.schema}
        other.close()
    impatient.dispose()
    assert pids["group"] != pids["import"]
    assert side_schemas(pg) == set()
    with pg.begin() as conn:
        assert got == ingest(conn, single.id, read_jsonl(lines))
    assert stored(pg, parallel.id) == stored(pg, single.id)


def test_imports_of_two_organizations_run_their_side_stages_at_once(pg, monkeypatch):
    monkeypatch.setattr(store, "CHUNK_LINES", CHUNK_LINES)
    sc, lines = scenario_lines(seed=71)
    orgs = two_orgs(pg, sc)

    def run_import(org_id: int):
        with pg.begin() as conn:
            return ingest_jsonl(conn, org_id, iter(lines), workers=2)

    with ThreadPoolExecutor(2) as pool:
        first, second = pool.map(run_import, [o.id for o in orgs])
    assert first == second and first.inserted == len(sc.events)
    assert stored(pg, orgs[0].id) == stored(pg, orgs[1].id)
    assert side_schemas(pg) == set()


def test_a_failed_import_leaves_no_side_schema(pg, monkeypatch):
    """Refused while staging, or once its transaction has read the side tables (a tag key past its
    limit), the import's side stage drops its schema as it closes."""
    monkeypatch.setattr(store, "CHUNK_LINES", CHUNK_LINES)
    with pg.begin() as conn:
        tagged = create_org(conn, f"org-{uuid.uuid4().hex[:12]}", "Asia/Kolkata")
        set_keys(conn, tagged.id, ["customer"])
    with pytest.raises(IngestError), pg.begin() as conn:
        ingest_jsonl(conn, tagged.id, iter(bad_lines(5)), workers=2)
    assert side_schemas(pg) == set()
    sc, lines = scenario_lines(seed=81)
    with pg.begin() as conn:
        sc.store_prices(conn)
    monkeypatch.setattr(aggregates, "MAX_TAG_VALUES", 2)
    with pytest.raises(IngestError, match="more than 2 distinct values"), pg.begin() as conn:
        ingest_jsonl(conn, tagged.id, iter(lines), workers=2)
    assert side_schemas(pg) == set()
    monkeypatch.undo()
    monkeypatch.setattr(store, "CHUNK_LINES", CHUNK_LINES)
    with pg.begin() as conn:
        assert ingest_jsonl(conn, tagged.id, iter(lines), workers=2).inserted == len(sc.events)
    assert side_schemas(pg) == set()
    with pg.connect() as conn:  # the failed imports stored nothing
        assert conn.execute(
            sa.select(sa.func.count()).where(usage_events.c.organization_id == tagged.id)
        ).scalar_one() == len(sc.events)


SLEEP = "SELECT pg_sleep(120)"  # the side stage's grouping, made to last


def sleeping(engine) -> list[int]:
    """The server processes running SLEEP."""
    with engine.connect() as conn:
        return list(
            conn.execute(
                sa.text("SELECT pid FROM pg_stat_activity WHERE query = :q AND state = 'active'"), {"q": SLEEP}
            ).scalars()
        )


def test_ctrl_c_while_the_side_stage_groups_stops_the_import_at_once(pg, monkeypatch):
    """A real SIGINT while the side stage's grouping runs: its statement is cancelled in the
    server rather than waited for, nothing is stored, and the stage's schema is dropped."""
    monkeypatch.setattr(store, "CHUNK_LINES", CHUNK_LINES)
    sc, lines = scenario_lines(seed=101, repeats=0)
    org, _ = two_orgs(pg, sc)
    group = EventWriter.group

    def slow(writer, conn, names=False):
        if conn is not writer.conn:  # the side stage's connection
            conn.execute(sa.text(SLEEP))
        group(writer, conn, names)

    monkeypatch.setattr(EventWriter, "group", slow)

    def interrupt() -> bool:
        # Only while the import runs, in its side stage's sleep: a SIGINT after the test's
        # pytest.raises would end the whole test session.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if sleeping(pg):
                os.kill(os.getpid(), signal.SIGINT)
                return True
            time.sleep(0.05)
        return False

    with ThreadPoolExecutor(1) as pool:
        sent = pool.submit(interrupt)
        started = time.monotonic()
        with pytest.raises(KeyboardInterrupt), pg.begin() as conn:
            ingest_jsonl(conn, org.id, iter(lines), workers=2)
        took = time.monotonic() - started
    assert sent.result()
    assert took < 60, f"the import waited {took:.0f} s for its side stage"
    assert sleeping(pg) == []
    assert side_schemas(pg) == set()
    with pg.connect() as conn:
        assert (
            conn.execute(sa.select(sa.func.count()).where(usage_events.c.organization_id == org.id)).scalar_one() == 0
        )


def test_a_side_stage_whose_session_ended_is_dropped_by_the_next(pg):
    live, dead = SideStage(pg), SideStage(pg)
    pid = dead.conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
    dead.conn.invalidate()  # the process died: its session, and the key's lock with it, end
    with pg.connect() as conn:
        for _ in range(100):
            if not conn.execute(sa.text("SELECT 1 FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}).first():
                break
            time.sleep(0.05)
    assert side_schemas(pg) == {live.schema, dead.schema}
    after = SideStage(pg)
    assert side_schemas(pg) == {live.schema, after.schema}
    for stage in (live, after):
        stage.close()
    assert side_schemas(pg) == set()


def test_a_role_that_may_not_create_a_schema_imports_on_one_connection(pg, postgres_url, monkeypatch, caplog):
    """A deployment's role with rights on the tables only (no CREATE on the database) still imports."""
    monkeypatch.setattr(store, "CHUNK_LINES", CHUNK_LINES)
    role = f"importer_{uuid.uuid4().hex[:8]}"
    with pg.connect() as conn:
        conn.execute(sa.text(f"CREATE ROLE {role} LOGIN"))
        conn.execute(sa.text(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}"))
        conn.execute(sa.text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}"))
        conn.commit()
    limited = make_engine(sa.engine.make_url(postgres_url).set(username=role))
    try:
        sc, lines = scenario_lines(seed=91)
        parallel, single = two_orgs(pg, sc)
        with limited.begin() as conn:
            got = ingest_jsonl(conn, parallel.id, iter(lines), workers=2)
        assert "no side stage (permission denied" in caplog.text
        with pg.begin() as conn:
            assert got == ingest(conn, single.id, read_jsonl(lines))
        assert stored(pg, parallel.id) == stored(pg, single.id)
    finally:
        limited.dispose()
        with pg.connect() as conn:
            conn.execute(sa.text(f"DROP OWNED BY {role}"))
            conn.execute(sa.text(f"DROP ROLE {role}"))
            conn.commit()
