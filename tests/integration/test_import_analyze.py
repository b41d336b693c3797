"""A bulk CLI import leaves the planner's statistics of the tables it wrote; smaller writes, those they left stale."""

from __future__ import annotations

import re
import time

import sqlalchemy as sa

from billing_dash.auth import create_org, create_token
from billing_dash.config import Settings
from billing_dash.db import make_engine, upgrade
from billing_dash.ingest import ANALYZE_MIN_EVENTS
from billing_dash.web.app import create_app

from ..factories import cli_event, ok, run, write_jsonl


def tables_with_rows(engine) -> set[str]:
    """The database's tables that hold at least one row, whatever the code declares."""
    names = sa.inspect(engine).get_table_names()
    with engine.connect() as conn:
        return {n for n in names if conn.execute(sa.text(f'SELECT 1 FROM "{n}" LIMIT 1')).first()}


def analyzed_tables(engine) -> set[str]:
    """The tables with statistics from an ANALYZE (PostgreSQL: a manual one, not autovacuum's)."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            rows = conn.execute(sa.text("SELECT relname FROM pg_stat_user_tables WHERE last_analyze IS NOT NULL"))
            return {r[0] for r in rows}
        if not conn.execute(sa.text("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'")).first():
            return set()
        return {r[0] for r in conn.execute(sa.text("SELECT DISTINCT tbl FROM sqlite_stat1"))}


def events(first: int, n: int) -> list[dict]:
    return [
        cli_event(
            i,
            conversation_id=f"conv-{i // 50}",
            timestamp=f"2025-03-{10 + i % 15:02d}T12:00:00+00:00",
            tags={"customer": f"c{i // 500}"},
        )
        for i in range(first, first + n)
    ]


def analyses(engine) -> dict[str, object]:
    """What each table's statistics came from: PostgreSQL's count of manual ANALYZEs per table,
    SQLite's stored statistics per index (ANALYZE rewrites them)."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            rows = conn.execute(sa.text("SELECT relname, analyze_count FROM pg_stat_user_tables"))
        else:
            rows = conn.execute(sa.text("SELECT tbl || '.' || COALESCE(idx, ''), stat FROM sqlite_stat1"))
        return dict(rows.all())  # a list: a Result has keys(), so dict() would read it as a mapping


def test_an_import_of_many_events_analyzes_the_tables_it_wrote_a_small_one_what_it_left_stale(
    empty_database_url, tmp_path
):
    engine = make_engine(empty_database_url)
    upgrade(engine)
    try:
        ok(run(empty_database_url, "create-org", "acme"))
        ok(run(empty_database_url, "tags", "set", "--org", "acme", "customer"))
        before = tables_with_rows(engine)
        forget_statistics(engine)  # what the migrations analyzed (0019 its own tables)
        large = write_jsonl(tmp_path, events(0, ANALYZE_MIN_EVENTS), "large.jsonl")
        ok(run(empty_database_url, "import", "--org", "acme", str(large)))
        # Every table the import filled, found from the database rather than from the code's list.
        filled = tables_with_rows(engine) - before
        assert {"usage_events", "tag_daily"} <= filled
        assert filled <= analyzed_tables(engine)
        if engine.dialect.name == "postgresql":
            with engine.connect() as conn:
                estimate = conn.execute(
                    sa.text("SELECT reltuples FROM pg_class WHERE relname = 'usage_events'")
                ).scalar_one()
                # The tables reports read are vacuumed too: every page of each marked all-visible,
                # so that a report's index-only scans read none of them (as after autovacuum).
                rows = conn.execute(
                    sa.text(
                        "SELECT c.relname, c.relallvisible = c.relpages AND s.last_vacuum IS NOT NULL "
                        "FROM pg_class c JOIN pg_stat_user_tables s ON s.relid = c.oid"
                    )
                )
                visible = dict(rows.all())
            assert estimate >= ANALYZE_MIN_EVENTS
            assert {"conversation_daily", "conversation_parts", "tag_daily"} <= filled
            assert all(visible[name] for name in filled - {"usage_events"}), visible
            assert not visible["usage_events"]  # analyzed only: vacuuming it would read all it wrote

        # 100 more events double no table (analyze_stale_pg's rule): nothing is analyzed again.
        analyzed = analyses(engine)
        small = write_jsonl(tmp_path, events(ANALYZE_MIN_EVENTS, 100), "small.jsonl")
        ok(run(empty_database_url, "import", "--org", "acme", str(small)))
        assert analyses(engine) == analyzed
    finally:
        engine.dispose()


def test_batches_through_the_api_analyze_the_tables_they_left_stale(make_postgres_database):
    """An organization fed only by the usage API or OTLP never imports 10,000 events at once: its
    tables are analyzed once they have doubled since their last ANALYZE, whether or not the server's
    autovacuum is on and keeping up (planned from the statistics of when they were nearly empty,
    each OTLP export read its conversations' parts by the wrong index: three times as slow)."""
    url = make_postgres_database()
    engine = make_engine(url)
    upgrade(engine)
    app = create_app(Settings.from_env({}, database_url=url, secret_key="test-secret"))
    try:
        with engine.begin() as conn:
            token = create_token(conn, create_org(conn, "acme"), "ingest")
        client = app.server.test_client()
        forget_statistics(engine)
        batch = 0
        # The writing connection reports its counts to the statistics when idle, at most once a
        # second: the check after a later batch finds them.
        deadline = time.monotonic() + 30
        while not {"usage_events", "conversation_parts"} <= analyzed_tables(engine):
            assert time.monotonic() < deadline, analyses(engine)
            body = {"events": [cli_event(batch * 100 + i, conversation_id=f"conv-{i}") for i in range(100)]}
            answer = client.post("/api/v1/usage", json=body, headers={"Authorization": f"Bearer {token}"})
            assert answer.status_code == 200, answer.get_data(as_text=True)
            batch += 1
            time.sleep(0.3)
    finally:
        app.server.extensions["billing_dash.engine"].dispose()
        engine.dispose()


def test_demo_data_of_many_events_analyzes_the_tables_it_wrote(empty_database_url):
    engine = make_engine(empty_database_url)
    upgrade(engine)
    try:
        before = tables_with_rows(engine)
        result = run(empty_database_url, "demo-data", "--org", "Demo", "--days", "60", "--per-day", "40")
        ok(result)
        inserted = int(re.search(r"inserted (\d+)", result.stdout).group(1))
        assert inserted >= ANALYZE_MIN_EVENTS
        filled = tables_with_rows(engine) - before - {"organizations", "users", "api_tokens", "budgets", "webhooks"}
        assert "usage_events" in filled
        assert filled <= analyzed_tables(engine)
    finally:
        engine.dispose()


def forget_statistics(engine) -> None:
    """Drop what the last ANALYZE left, as if the tables had never been analyzed."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_stat_reset()"))
        elif conn.execute(sa.text("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'")).first():
            conn.execute(sa.text("DELETE FROM sqlite_stat1"))
    assert not analyzed_tables(engine)


def test_a_rebuild_or_a_repricing_of_many_events_analyzes_the_tables_it_wrote(empty_database_url, tmp_path):
    """rebuild-aggregates and reprice rewrite the aggregates as an import does: the next report must
    be planned for what they wrote, too."""
    engine = make_engine(empty_database_url)
    upgrade(engine)
    try:
        ok(run(empty_database_url, "create-org", "acme"))
        ok(run(empty_database_url, "tags", "set", "--org", "acme", "customer"))
        before = tables_with_rows(engine)
        # Without a cost: charged at the price in effect, so a new price changes every one.
        unpriced = [{k: v for k, v in e.items() if k != "cost"} for e in events(0, ANALYZE_MIN_EVENTS)]
        large = write_jsonl(tmp_path, unpriced, "large.jsonl")
        ok(run(empty_database_url, "import", "--org", "acme", str(large)))
        filled = tables_with_rows(engine) - before
        assert {"usage_events", "tag_daily"} <= filled
        forget_statistics(engine)
        ok(run(empty_database_url, "rebuild-aggregates", "--org", "acme"))
        assert filled <= analyzed_tables(engine)

        forget_statistics(engine)
        dry = run(empty_database_url, "reprice", "--org", "acme", "--dry-run")
        ok(dry)
        assert not analyzed_tables(engine)  # a dry run writes nothing
        ok(run(empty_database_url, "prices", "set", "--org", "acme", "gpt-4o-mini", "--input", "7", "--output", "9"))
        repriced = run(empty_database_url, "reprice", "--org", "acme")
        ok(repriced)
        assert f"changed {ANALYZE_MIN_EVENTS} of {ANALYZE_MIN_EVENTS} events" in repriced.stdout
        assert filled <= analyzed_tables(engine)
    finally:
        engine.dispose()
