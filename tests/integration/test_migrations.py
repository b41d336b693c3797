"""The migrations build exactly the schema models.py declares, on both databases, and keep the data."""

import ast
import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from billing_dash.db import make_engine, upgrade
from billing_dash.models import agents, conversation_totals, conversations, metadata


def test_migrated_schema_matches_the_models(engine):
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}), metadata)
    assert diff == []


def test_migrated_money_columns_have_the_models_precision(engine):
    # compare_metadata above ignores types; a money column narrower than the model's overflows.
    from sqlalchemy import inspect

    from billing_dash.models import Money

    inspector = inspect(engine)
    for table in metadata.sorted_tables:
        declared = {
            c.name: c.type.load_dialect_impl(engine.dialect) for c in table.columns if isinstance(c.type, Money)
        }
        if not declared:
            continue
        migrated = {c["name"]: c["type"] for c in inspector.get_columns(table.name) if c["name"] in declared}
        for name, kind in declared.items():
            got = migrated[name]
            assert got._type_affinity is kind._type_affinity, (table.name, name, got)
            assert (getattr(got, "precision", None), getattr(got, "scale", None)) == (
                getattr(kind, "precision", None),
                getattr(kind, "scale", None),
            ), (table.name, name, got)


def test_existing_names_count_as_new_as_their_newest_event(empty_database_url):
    """0005 gives existing names, titles and owners the time of their newest stored event."""
    engine = make_engine(empty_database_url)
    upgrade(engine, "0004")
    newest = datetime(2026, 5, 1, 9, 30, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO organizations (id, name, timezone, created_at) VALUES (1, 'o', 'UTC', :t)"),
            {"t": newest},
        )
        conn.execute(
            sa.text(
                "INSERT INTO agents (organization_id, id, name) VALUES "
                "(1, 'named', 'A name'), (1, 'unnamed', 'unnamed')"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO conversations (organization_id, id, title, agent_id) VALUES "
                "(1, 'c1', 'A title', 'named'), (1, 'c2', 'c2', 'unnamed')"
            )
        )
        for conversation, agent, last in (
            ("c1", "", newest),
            ("c1", "named", newest),
            ("c2", "", newest - timedelta(days=1)),
            ("c2", "unnamed", newest - timedelta(days=1)),
        ):
            conn.execute(
                conversation_totals.insert().values(
                    organization_id=1,
                    conversation_id=conversation,
                    agent_id=agent,
                    first_ts=last - timedelta(hours=1),
                    last_ts=last,
                    total_tokens=1,
                    cost=0,
                    message_count=1,
                )
            )
    upgrade(engine)
    with engine.connect() as conn:
        named = {r.id: r.name_ts for r in conn.execute(sa.select(agents))}
        convs = {r.id: (r.agent_ts, r.title_ts) for r in conn.execute(sa.select(conversations))}
    engine.dispose()
    assert named == {"named": newest, "unnamed": None}
    assert convs == {"c1": (newest, newest), "c2": (newest - timedelta(days=1), None)}


MIGRATION_FILES = sorted((Path(__file__).parents[2] / "billing_dash" / "migrations" / "versions").glob("*.py"))


@pytest.mark.parametrize("path", MIGRATION_FILES, ids=lambda p: p.stem)
def test_migrations_do_not_import_live_application_code(path):
    """A migration runs as written: a later change to models or aggregates must not change what it does."""
    imported = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    assert not {m for m in imported if m.split(".")[0] == "billing_dash"}


def test_events_stored_before_the_aggregates_get_them_when_migrating(empty_database_url):
    """0004 builds the aggregates of events stored before 0002: the same rows a rebuild makes today."""
    from billing_dash.aggregates import rebuild
    from billing_dash.models import AGGREGATES, organizations, usage_events

    engine = make_engine(empty_database_url)
    upgrade(engine, "0001")
    rng = random.Random(4)
    start = datetime(2026, 3, 1, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO organizations (id, name, timezone, created_at) "
                "VALUES (1, 'old', 'Asia/Kolkata', :t), (2, 'other', 'UTC', :t)"
            ),
            {"t": start},
        )
        conn.execute(
            usage_events.insert(),
            [
                {
                    "organization_id": rng.choice((1, 1, 2)),
                    "event_id": f"e{i}",
                    "ts": start + timedelta(minutes=rng.randrange(60 * 24 * 20)),
                    "agent_id": rng.choice("ab"),
                    "conversation_id": f"c{rng.randrange(15)}",
                    "model": rng.choice(("m1", "m2")),
                    "prompt_tokens": rng.randrange(5000),
                    "completion_tokens": rng.randrange(900),
                    "cost": Decimal(rng.randrange(10**8)).scaleb(-10),
                    "priced": rng.random() < 0.8,
                }
                for i in range(400)
            ],
        )
    upgrade(engine)

    def snapshot(conn, org_id):
        snap = {
            t.name: sorted(tuple(r) for r in conn.execute(sa.select(t).where(t.c.organization_id == org_id)))
            for t in AGGREGATES
        }
        snap["conversation_starts"] = [r for r in snap["conversation_starts"] if r[3] != 0]
        snap["conversation_part_starts"] = [r for r in snap["conversation_part_starts"] if r[-1] != 0]
        snap["span"] = conn.execute(
            sa.select(organizations.c.max_conversation_seconds).where(organizations.c.id == org_id)
        ).scalar_one()
        return snap

    with engine.begin() as conn:
        migrated = {org_id: snapshot(conn, org_id) for org_id in (1, 2)}
        rebuild(conn)
        rebuilt = {org_id: snapshot(conn, org_id) for org_id in (1, 2)}
    engine.dispose()
    assert all(migrated[1].values()) and all(migrated[2].values())
    assert migrated == rebuilt


def test_stored_events_get_their_conversation_parts_when_migrating(empty_database_url):
    """0019 fills conversation_parts and conversation_part_starts from the stored events, per model
    and per value of the pre-aggregated tag keys: the same rows a rebuild makes today."""
    from billing_dash.aggregates import rebuild
    from billing_dash.models import conversation_part_starts, conversation_parts, usage_events

    engine = make_engine(empty_database_url)
    upgrade(engine, "0018")
    rng = random.Random(5)
    start = datetime(2026, 3, 1, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO organizations (id, name, timezone, created_at, max_conversation_seconds) "
                "VALUES (1, 'old', 'Asia/Kolkata', :t, 0)"
            ),
            {"t": start},
        )
        conn.execute(sa.text("INSERT INTO tag_keys (organization_id, tag_key) VALUES (1, 'customer'), (1, 'env')"))
        conn.execute(
            usage_events.insert(),
            [
                {
                    "organization_id": 1,
                    "event_id": f"e{i}",
                    "ts": start + timedelta(minutes=rng.randrange(60 * 24 * 20)),
                    "agent_id": rng.choice("ab"),
                    "conversation_id": f"c{rng.randrange(15)}",
                    "model": rng.choice(("m1", "m2")),
                    "prompt_tokens": rng.randrange(5000),
                    "completion_tokens": rng.randrange(900),
                    "cost": Decimal(rng.randrange(10**8)).scaleb(-10),
                    "priced": True,
                    "tags": rng.choice((None, '{"customer":"acme"}', '{"customer":"globex","env":"prod"}')),
                }
                for i in range(400)
            ],
        )
    upgrade(engine)

    def snapshot(conn):
        return {
            t.name: sorted(
                tuple(r) for r in conn.execute(sa.select(t)) if not (t is conversation_part_starts and r[-1] == 0)
            )
            for t in (conversation_parts, conversation_part_starts)
        }

    with engine.begin() as conn:
        migrated = snapshot(conn)
        rebuild(conn)
        rebuilt = snapshot(conn)
    engine.dispose()
    dimensions = {r[2] for r in migrated["conversation_parts"]}
    assert dimensions == {"model", "tag.customer", "tag.env"}
    assert migrated == rebuilt


def test_tag_days_stored_before_0020_are_summed_into_months(empty_database_url):
    """0020 fills tag_month from the stored tag_day rows: each value's days summed per calendar month."""
    from billing_dash.models import tag_day, tag_month

    engine = make_engine(empty_database_url)
    upgrade(engine, "0019")
    rng = random.Random(6)
    names = [c.name for c in tag_day.columns][4:]
    rows = {}
    for _ in range(300):
        day = date(2025, 11, 1) + timedelta(days=rng.randrange(120))
        key = (rng.choice((1, 2)), rng.choice(("customer", "env")), rng.choice(("acme", "globex", "ünï")), day)
        rows[key] = {
            n: (Decimal(rng.randrange(10**9)).scaleb(-10) if "cost" in n or "saving" in n else rng.randrange(10**6))
            for n in names
        }
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO organizations (id, name, timezone, created_at) VALUES (1, 'a', 'UTC', :t), (2, 'b', 'UTC', :t)"
            ),
            {"t": datetime(2025, 11, 1, tzinfo=UTC)},
        )
        conn.execute(
            tag_day.insert(),
            [
                dict(zip(("organization_id", "tag_key", "tag_value", "day"), k, strict=True)) | v
                for k, v in rows.items()
            ],
        )
    upgrade(engine)
    expected: dict = {}
    for (org_id, key, value, day), sums in rows.items():
        month = expected.setdefault((org_id, key, value, day.replace(day=1)), dict.fromkeys(names, 0))
        for n in names:
            month[n] += sums[n]
    with engine.connect() as conn:
        stored = {
            (r.organization_id, r.tag_key, r.tag_value, r.month): {n: getattr(r, n) for n in names}
            for r in conn.execute(sa.select(tag_month))
        }
    engine.dispose()
    assert len({k[3] for k in expected}) >= 4
    assert stored == expected


def test_agent_monthly_token_budgets_become_budget_rows_and_back(empty_database_url):
    """0010 moves agents.monthly_token_budget into budgets (agent, month, tokens); its downgrade returns them."""
    engine = make_engine(empty_database_url)
    upgrade(engine, "0009")
    with engine.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO organizations (id, name, timezone, created_at) VALUES (1, 'o', 'UTC', :t)"),
            {"t": datetime(2026, 5, 1, tzinfo=UTC)},
        )
        conn.execute(
            sa.text(
                "INSERT INTO agents (organization_id, id, name, monthly_token_budget) VALUES "
                "(1, 'capped', 'Capped', 5000000000), (1, 'free', 'Free', NULL)"
            )
        )
    upgrade(engine)
    with engine.connect() as conn:
        rows = [
            tuple(r)
            for r in conn.execute(
                sa.text(
                    "SELECT organization_id, scope, scope_id, period, limit_usd, limit_tokens, thresholds FROM budgets"
                )
            )
        ]
    assert rows == [(1, "agent", "capped", "month", None, 5_000_000_000, "50,80,100")]
    from alembic import command

    from billing_dash.db import alembic_config

    command.downgrade(alembic_config(engine), "0009")
    with engine.connect() as conn:
        back = dict(conn.execute(sa.text("SELECT id, monthly_token_budget FROM agents")).all())
    upgrade(engine)
    engine.dispose()
    assert back == {"capped": 5_000_000_000, "free": None}
