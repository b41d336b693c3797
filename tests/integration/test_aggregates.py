"""Pre-aggregated usage: maintained at ingest, equal to a rebuild and to GROUP BY over the events."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from billing_dash.aggregates import rebuild
from billing_dash.cli import main
from billing_dash.ingest import ingest
from billing_dash.models import AGGREGATES, usage_events

from .reference import Scenario


def snapshot(conn, org_id: int) -> dict[str, list[tuple]]:
    snap = {
        t.name: sorted(tuple(r) for r in conn.execute(sa.select(t).where(t.c.organization_id == org_id)))
        for t in AGGREGATES
    }
    # A conversation whose first message moves to an earlier day leaves a 0 on the old day.
    snap["conversation_starts"] = [r for r in snap["conversation_starts"] if r[3] != 0]
    snap["conversation_part_starts"] = [r for r in snap["conversation_part_starts"] if r[-1] != 0]
    return snap


@pytest.fixture
def stored(engine, org):
    scenario = Scenario(seed=11, n=800, now=datetime.now(UTC))
    with engine.begin() as conn:
        scenario.store_prices(conn)
        # Three batches and a repeated one: aggregates must count each event once.
        for chunk in (scenario.events[:300], scenario.events[300:], scenario.events[100:400]):
            ingest(conn, org.id, enumerate(chunk), batch_size=128)
    return scenario


def test_rebuild_reproduces_what_ingest_maintained(engine, org, stored):
    with engine.begin() as conn:
        before = snapshot(conn, org.id)
        assert all(before.values())
        assert rebuild(conn, [org.id]) == len(stored.events)
        assert snapshot(conn, org.id) == before


def test_aggregates_equal_group_by_over_the_events(engine, org, stored):
    e = usage_events.c
    with engine.connect() as conn:
        snap = snapshot(conn, org.id)
        tokens, cost, messages = conn.execute(
            sa.select(sa.func.sum(e.prompt_tokens + e.completion_tokens), sa.func.sum(e.cost), sa.func.count()).where(
                e.organization_id == org.id
            )
        ).one()
        per_model = dict(
            conn.execute(sa.select(e.model, sa.func.count()).where(e.organization_id == org.id).group_by(e.model)).all()
        )
        conversations = conn.execute(
            sa.select(sa.func.count(sa.distinct(e.conversation_id))).where(e.organization_id == org.id)
        ).scalar_one()
        parts = conn.execute(
            sa.select(
                sa.func.sum(e.cache_read_tokens),
                sa.func.sum(e.cache_write_tokens),
                sa.func.sum(e.reasoning_tokens),
                sa.func.sum(e.cache_savings),
            ).where(e.organization_id == org.id)
        ).one()
    quarter = snap["usage_quarter"]
    # After the two keys: prompt, completion, cost, messages, unpriced, then the parts and savings.
    assert [sum((r[i] for r in quarter), 0) for i in range(7, 11)] == list(parts)
    assert parts[0] > 0 and parts[1] > 0 and parts[2] > 0 and parts[3] > 0
    assert sum(r[2] + r[3] for r in quarter) == tokens
    assert sum((r[4] for r in quarter), 0) == cost
    assert sum(r[5] for r in quarter) == messages == len(stored.events)
    daily_models: dict[str, int] = {}
    for r in snap["usage_daily"]:
        daily_models[r[3]] = daily_models.get(r[3], 0) + r[7]
    assert daily_models == per_model
    # usage_day is usage_daily summed over agents and models.
    days: dict = {}
    for r in snap["usage_daily"]:
        sums = days.setdefault(r[1], [0] * len(r[4:]))
        for i, v in enumerate(r[4:]):
            sums[i] += v
    assert {r[1]: list(r[2:]) for r in snap["usage_day"]} == days
    # usage_monthly is usage_daily summed per month.
    months: dict = {}
    for r in snap["usage_daily"]:
        sums = months.setdefault((r[1].replace(day=1), r[2], r[3]), [0] * len(r[4:]))
        for i, v in enumerate(r[4:]):
            sums[i] += v
    assert {(r[1], r[2], r[3]): list(r[4:]) for r in snap["usage_monthly"]} == months
    assert len({r[1] for r in snap["usage_monthly"]}) > 3
    assert len({r[2] for r in snap["conversation_daily"]}) == conversations
    # Quarter buckets start on a quarter hour.
    assert all(r[1].minute % 15 == 0 and r[1].second == 0 for r in quarter)


def test_rebuild_aggregates_command(database_url, engine, org, stored):
    with engine.begin() as conn:
        for table in AGGREGATES:
            conn.execute(sa.delete(table).where(table.c.organization_id == org.id))
    result = CliRunner().invoke(main, ["rebuild-aggregates", "--org", org.name], env={"DATABASE_URL": database_url})
    assert result.exit_code == 0, result.output
    assert f"from {len(stored.events)} events" in result.output
    with engine.connect() as conn:
        assert all(snapshot(conn, org.id).values())


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request, tmp_path):
    """A database with no schema at all, on each backend."""
    from billing_dash.db import make_engine
    from tests import PG_ADMIN_URL

    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
        yield engine
        engine.dispose()
        return
    request.getfixturevalue("postgres_url")  # skips, or fails under CI, without a server
    admin = make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"billing_dash_mig_{tmp_path.name[-8:].replace('-', '_')}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(sa.engine.make_url(PG_ADMIN_URL).set(database=name).render_as_string(False))
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_upgrading_a_database_with_events_builds_its_aggregates(empty_database):
    from billing_dash.auth import create_org
    from billing_dash.db import upgrade

    engine = empty_database
    upgrade(engine, "0001")
    scenario = Scenario(seed=5, n=200, now=datetime.now(UTC), token_parts=False)  # 0001 knew no parts
    with engine.begin() as conn:
        org = create_org(conn, "old", "Asia/Kolkata")
        rows = [
            {
                "organization_id": org.id,
                "event_id": ev["event_id"],
                "ts": datetime.fromisoformat(ev["timestamp"]),
                "agent_id": ev["agent_id"],
                "conversation_id": ev["conversation_id"],
                "model": ev["model"],
                "prompt_tokens": ev["prompt_tokens"],
                "completion_tokens": ev["completion_tokens"],
                "cost": 1,
                "priced": True,
            }
            for ev in scenario.events
        ]
        conn.execute(usage_events.insert(), rows)
    upgrade(engine)
    with engine.connect() as conn:
        quarter = snapshot(conn, org.id)["usage_quarter"]
    assert sum(r[5] for r in quarter) == 200 and sum(r[4] for r in quarter) == 200


def test_two_transactions_adding_to_one_new_conversation_count_it_once(engine, org):
    """The second import must wait for the first to commit before counting the conversation's
    start (on SQLite the database's single writer already guarantees it)."""
    import threading

    from billing_dash.models import conversation_starts

    from ..factories import event

    first = engine.connect()
    first.begin()
    ingest(first, org.id, [(0, event(0, conversation_id="shared", timestamp="2026-01-10T10:00:00Z"))])
    errors = []

    def second():
        try:
            with engine.begin() as conn:
                ingest(conn, org.id, [(0, event(1, conversation_id="shared", timestamp="2026-01-10T09:00:00Z"))])
        except Exception as exc:  # reported below, in the test's thread
            errors.append(exc)

    if engine.dialect.name == "sqlite":
        first.commit()  # SQLite would make the second writer wait for the lock; commit first
    worker = threading.Thread(target=second)
    worker.start()
    worker.join(timeout=1.0)
    if engine.dialect.name == "postgresql":
        assert worker.is_alive(), "the second import did not wait for the first"
        first.commit()
    worker.join(timeout=30)
    first.close()
    assert not errors and not worker.is_alive()
    with engine.begin() as conn:
        starts = conn.execute(
            sa.select(sa.func.sum(conversation_starts.c.started)).where(
                conversation_starts.c.organization_id == org.id, conversation_starts.c.agent_id == ""
            )
        ).scalar_one()
        assert starts == 1
        before = snapshot(conn, org.id)
        rebuild(conn, [org.id])
        assert snapshot(conn, org.id) == before


def test_upgrading_to_usage_day_sums_the_stored_daily_aggregates(empty_database):
    """Migration 0004 fills usage_day from usage_daily: the same rows ingest maintains."""
    from alembic import command

    from billing_dash.auth import create_org
    from billing_dash.db import alembic_config, upgrade

    engine = empty_database
    upgrade(engine)
    # Without token parts: downgrading past the token-parts migration (0012) drops them, and they cannot come back.
    scenario = Scenario(seed=7, n=300, now=datetime.now(UTC), token_parts=False)
    with engine.begin() as conn:
        org = create_org(conn, "kept", "Asia/Kolkata")
        scenario.store_prices(conn)
        ingest(conn, org.id, enumerate(scenario.events))
        before = snapshot(conn, org.id)
    assert before["usage_day"]
    command.downgrade(alembic_config(engine), "0003")
    upgrade(engine)
    with engine.connect() as conn:
        assert snapshot(conn, org.id) == before


def test_a_small_import_looks_up_its_stored_conversations_by_index(postgres_url):
    """PostgreSQL: the start counts of a small import (an API batch, an OTLP export) read the stored
    conversation totals by index, not by hashing the whole table (all organizations' conversations),
    and leave the transaction's join methods as they were."""
    import uuid

    from billing_dash.auth import create_org
    from billing_dash.db import make_engine, upgrade

    from ..factories import event

    engine = make_engine(postgres_url)
    try:
        upgrade(engine)
        with engine.begin() as conn:
            org = create_org(conn, f"lookups-{uuid.uuid4().hex[:12]}", "Europe/Berlin")
            ingest(conn, org.id, enumerate(event(i, conversation_id=f"c-{i}") for i in range(300)))
        with engine.begin() as conn:
            conn.execute(sa.text("ANALYZE conversation_totals"))
        with engine.begin() as conn:
            scans = sa.text("SELECT seq_scan FROM pg_stat_xact_user_tables WHERE relname = 'conversation_totals'")
            before = conn.execute(scans).scalar_one()
            # Earlier messages of stored conversations: their starts move, so the stored rows are read.
            earlier = (
                event(1000 + i, conversation_id=f"c-{i}", timestamp="2026-01-14T10:00:00Z") for i in range(0, 300, 3)
            )
            assert ingest(conn, org.id, enumerate(earlier)).inserted == 100
            assert conn.execute(scans).scalar_one() == before
            joins = sa.text("SELECT setting FROM pg_settings WHERE name IN ('enable_hashjoin', 'enable_mergejoin')")
            assert conn.execute(joins).scalars().all() == ["on", "on"]
    finally:
        engine.dispose()


def test_statements_are_planned_for_their_own_parameters_every_time(postgres_url):
    """psycopg prepares a statement from its sixth run on a connection, and a prepared statement's
    generic plan cannot reduce `(:all_agents = 1 OR agent_id IN :agents)` to an index range: the
    app's engine never prepares, so a report repeated on a pooled connection keeps its plan."""
    from billing_dash.db import make_engine

    engine = make_engine(postgres_url)
    try:
        with engine.connect() as conn:
            for i in range(10):
                assert conn.execute(sa.text("SELECT 1 + :i"), {"i": i}).scalar_one() == 1 + i
            prepared = conn.exec_driver_sql("SELECT count(*) FROM pg_prepared_statements").scalar_one()
        assert prepared == 0
    finally:
        engine.dispose()
