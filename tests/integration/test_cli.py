"""The `billing-dash` command line, run with CliRunner against real SQLite and PostgreSQL databases."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa

from billing_dash.config import Settings
from billing_dash.models import (
    agents,
    api_tokens,
    budgets,
    conversations,
    model_prices,
    organizations,
    usage_events,
    users,
)
from billing_dash.web.app import create_app

from ..factories import (
    cli_event,
    count,
    failed_cleanly,
    jsonl,
    login,
    nothing_stored,
    ok,
    run,
    stored_event,
    write_jsonl,
)

FIELDS = [
    "event_id",
    "timestamp",
    "agent_id",
    "agent_name",
    "conversation_id",
    "conversation_title",
    "model",
    "prompt_tokens",
    "completion_tokens",
    "cost",
]


# ---------------------------------------------------------------- helpers


def write_csv(tmp_path, events: list[dict], name: str = "usage.csv"):
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    for e in events:
        writer.writerow({k: e.get(k, "") for k in FIELDS})
    path = tmp_path / name
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def agent_row(engine, org_id: int, agent_id: str):
    with engine.connect() as conn:
        return conn.execute(
            sa.select(agents).where(agents.c.organization_id == org_id, agents.c.id == agent_id)
        ).first()


def org_row(engine, name: str):
    with engine.connect() as conn:
        return conn.execute(sa.select(organizations).where(organizations.c.name == name)).first()


def token_row(engine, org_id: int, name: str):
    with engine.connect() as conn:
        return conn.execute(
            sa.select(api_tokens).where(api_tokens.c.organization_id == org_id, api_tokens.c.name == name)
        ).one()


# ---------------------------------------------------------------- import


def test_import_jsonl_inserts_events_with_exact_cost(database_url, engine, org, tmp_path):
    path = write_jsonl(tmp_path, [cli_event(1, cost="0.0123456789"), cli_event(2), cli_event(3, cost="0.5")])
    result = run(database_url, "import", "--org", org.name, str(path))
    ok(result)
    assert "inserted 3, skipped 0" in result.stdout
    assert count(engine, usage_events, org.id) == 3
    row = stored_event(engine, org.id, "ev-1")
    assert isinstance(row.cost, Decimal)
    assert row.cost == Decimal("0.0123456789")
    assert row.priced is True
    assert stored_event(engine, org.id, "ev-3").cost == Decimal("0.5")


def test_import_jsonl_cost_as_json_number_stays_exact(database_url, engine, org, tmp_path):
    path = tmp_path / "numbers.jsonl"
    line = json.dumps(cli_event(1, cost="COST")).replace('"COST"', "0.0123456789")
    path.write_text(line + "\n", encoding="utf-8")
    ok(run(database_url, "import", "--org", org.name, str(path)))
    assert stored_event(engine, org.id, "ev-1").cost == Decimal("0.0123456789")


def test_import_csv_inserts_events(database_url, engine, org, tmp_path):
    path = write_csv(tmp_path, [cli_event(1, cost="0.0123456789"), cli_event(2), cli_event(3, agent_name=None)])
    result = run(database_url, "import", "--org", org.name, str(path))
    ok(result)
    assert "inserted 3, skipped 0" in result.stdout
    assert count(engine, usage_events, org.id) == 3
    row = stored_event(engine, org.id, "ev-1")
    assert row.cost == Decimal("0.0123456789")
    assert row.prompt_tokens == 1000 and row.completion_tokens == 500
    assert row.ts == datetime(2025, 3, 10, 12, tzinfo=UTC)


def test_import_format_option_overrides_extension(database_url, engine, org, tmp_path):
    csv_path = write_csv(tmp_path, [cli_event(1)])
    renamed = tmp_path / "usage.txt"
    renamed.write_bytes(csv_path.read_bytes())
    ok(run(database_url, "import", "--org", org.name, "--format", "csv", str(renamed)))
    assert count(engine, usage_events, org.id) == 1


def test_import_twice_is_idempotent(database_url, engine, org, tmp_path):
    path = write_jsonl(tmp_path, [cli_event(i) for i in range(5)])
    first = run(database_url, "import", "--org", org.name, str(path))
    ok(first)
    assert "inserted 5, skipped 0" in first.stdout
    second = run(database_url, "import", "--org", org.name, str(path))
    ok(second)
    assert "inserted 0, skipped 5" in second.stdout
    assert count(engine, usage_events, org.id) == 5


def test_import_csv_twice_is_idempotent(database_url, engine, org, tmp_path):
    path = write_csv(tmp_path, [cli_event(i) for i in range(4)])
    ok(run(database_url, "import", "--org", org.name, str(path)))
    second = run(database_url, "import", "--org", org.name, str(path))
    ok(second)
    assert "inserted 0, skipped 4" in second.stdout
    assert count(engine, usage_events, org.id) == 4


def test_import_same_event_id_twice_in_one_file_inserts_once(database_url, engine, org, tmp_path):
    path = write_jsonl(tmp_path, [cli_event(1), cli_event(2), cli_event(1, prompt_tokens=7)])
    result = run(database_url, "import", "--org", org.name, str(path))
    ok(result)
    assert "inserted 2, skipped 1" in result.stdout
    assert count(engine, usage_events, org.id) == 2


def test_import_same_event_id_is_per_organization(database_url, engine, org, tmp_path):
    other = f"org-{uuid.uuid4().hex[:12]}"
    ok(run(database_url, "create-org", other))
    path = write_jsonl(tmp_path, [cli_event(1), cli_event(2)])
    ok(run(database_url, "import", "--org", org.name, str(path)))
    result = run(database_url, "import", "--org", other, str(path))
    ok(result)
    assert "inserted 2, skipped 0" in result.stdout
    assert count(engine, usage_events, org_row(engine, other).id) == 2


def test_import_jsonl_with_invalid_line_stores_nothing(database_url, engine, org, tmp_path):
    path = write_jsonl(
        tmp_path,
        [
            cli_event(1, agent_id="agent-new"),
            cli_event(2, agent_id="agent-new"),
            cli_event(3, agent_id="agent-new", prompt_tokens=-5),
            cli_event(4, agent_id="agent-new", conversation_id="conv-9"),
        ],
    )
    result = run(database_url, "import", "--org", org.name, str(path))
    failed_cleanly(result)
    assert "line 3" in result.stderr
    assert "prompt_tokens" in result.stderr
    assert "nothing was imported" in result.stderr
    assert "inserted" not in result.stdout
    nothing_stored(engine, org.id)


def test_import_csv_with_bad_timestamp_on_line_4_stores_nothing(database_url, engine, org, tmp_path):
    # header is line 1, so the third event is line 4
    path = write_csv(tmp_path, [cli_event(1), cli_event(2), cli_event(3, timestamp="not-a-time"), cli_event(4)])
    result = run(database_url, "import", "--org", org.name, str(path))
    failed_cleanly(result)
    assert "line 4" in result.stderr
    assert "timestamp" in result.stderr
    assert "line 3" not in result.stderr
    nothing_stored(engine, org.id)


def test_import_invalid_json_line_stores_nothing(database_url, engine, org, tmp_path):
    path = write_jsonl(tmp_path, [cli_event(1), '{"event_id": "ev-2", "timestamp": ', cli_event(3)])
    result = run(database_url, "import", "--org", org.name, str(path))
    failed_cleanly(result)
    assert "line 2" in result.stderr
    assert "JSON" in result.stderr
    nothing_stored(engine, org.id)


def test_import_error_lists_every_bad_line(database_url, engine, org, tmp_path):
    path = write_jsonl(
        tmp_path, [cli_event(1, model=None), cli_event(2), cli_event(3, timestamp="2025-03-10T12:00:00")]
    )
    result = run(database_url, "import", "--org", org.name, str(path))
    failed_cleanly(result)
    assert "line 1: model" in result.stderr
    assert "line 3: timestamp" in result.stderr
    assert "2 invalid line(s)" in result.stderr
    nothing_stored(engine, org.id)


def test_import_invalid_file_after_valid_import_keeps_previous_data(database_url, engine, org, tmp_path):
    ok(run(database_url, "import", "--org", org.name, str(write_jsonl(tmp_path, [cli_event(1)], "a.jsonl"))))
    bad = write_jsonl(tmp_path, [cli_event(2, agent_name="Renamed"), cli_event(3, completion_tokens="x")], "b.jsonl")
    failed_cleanly(run(database_url, "import", "--org", org.name, str(bad)))
    assert count(engine, usage_events, org.id) == 1
    assert agent_row(engine, org.id, "agent-a").name == "Agent A"


def test_import_from_stdin(database_url, engine, org):
    result = run(
        database_url, "import", "--org", org.name, "-", input=jsonl([cli_event(1, cost="0.0123456789"), cli_event(2)])
    )
    ok(result)
    assert "inserted 2, skipped 0" in result.stdout
    assert count(engine, usage_events, org.id) == 2
    assert stored_event(engine, org.id, "ev-1").cost == Decimal("0.0123456789")


def test_import_from_stdin_invalid_stores_nothing(database_url, engine, org):
    result = run(
        database_url, "import", "--org", org.name, "-", input=jsonl([cli_event(1), cli_event(2, prompt_tokens=-5)])
    )
    failed_cleanly(result)
    assert "line 2" in result.stderr and "prompt_tokens" in result.stderr
    nothing_stored(engine, org.id)


def test_import_unknown_org_fails_cleanly(database_url, tmp_path):
    name = f"missing-{uuid.uuid4().hex[:8]}"
    result = run(database_url, "import", "--org", name, str(write_jsonl(tmp_path, [cli_event(1)])))
    failed_cleanly(result)
    assert name in result.stderr
    assert "No organization" in result.stderr


def test_import_missing_file_is_a_usage_error(database_url, org, tmp_path):
    result = run(database_url, "import", "--org", org.name, str(tmp_path / "nope.jsonl"))
    assert result.exit_code == 2
    assert "Traceback" not in result.output


def _price_in_effect(engine, model: str, ts: datetime) -> tuple[Decimal, Decimal]:
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(model_prices.c.prompt_per_million, model_prices.c.completion_per_million)
            .where(model_prices.c.model == model, model_prices.c.effective_from <= ts)
            .order_by(model_prices.c.effective_from.desc())
            .limit(1)
        ).one()
    return Decimal(row.prompt_per_million), Decimal(row.completion_per_million)


def test_import_computes_cost_from_price_table(database_url, engine, org, tmp_path):
    ts = datetime(2025, 3, 10, 12, tzinfo=UTC)
    prompt_price, completion_price = _price_in_effect(engine, "gpt-4o-mini", ts)
    assert prompt_price > 0
    path = write_jsonl(tmp_path, [cli_event(1, cost=None, prompt_tokens=1234, completion_tokens=5678)])
    result = run(database_url, "import", "--org", org.name, str(path))
    ok(result)
    assert "unpriced" not in result.stdout
    expected = ((1234 * prompt_price + 5678 * completion_price) / Decimal(1_000_000)).quantize(Decimal("1e-10"))
    row = stored_event(engine, org.id, "ev-1")
    assert row.cost == expected
    assert row.priced is True


def test_import_unknown_model_costs_zero_and_is_reported_unpriced(database_url, engine, org, tmp_path):
    model = f"no-such-model-{uuid.uuid4().hex[:8]}"
    path = write_jsonl(tmp_path, [cli_event(1, cost=None, model=model), cli_event(2, cost=None)])
    result = run(database_url, "import", "--org", org.name, str(path))
    ok(result)
    assert "inserted 2, skipped 0" in result.stdout
    assert "1 unpriced" in result.stdout
    row = stored_event(engine, org.id, "ev-1")
    assert row.cost == Decimal(0)
    assert row.priced is False
    assert stored_event(engine, org.id, "ev-2").priced is True


def test_import_unknown_model_with_explicit_cost_is_priced(database_url, engine, org, tmp_path):
    model = f"no-such-model-{uuid.uuid4().hex[:8]}"
    result = run(
        database_url, "import", "--org", org.name, str(write_jsonl(tmp_path, [cli_event(1, model=model, cost="0.25")]))
    )
    ok(result)
    assert "unpriced" not in result.stdout
    row = stored_event(engine, org.id, "ev-1")
    assert row.cost == Decimal("0.25") and row.priced is True


def test_import_agent_name_latest_wins(database_url, engine, org, tmp_path):
    ok(
        run(
            database_url,
            "import",
            "--org",
            org.name,
            str(
                write_jsonl(tmp_path, [cli_event(1, agent_name="Old Name", conversation_title="Old title")], "a.jsonl")
            ),
        )
    )
    assert agent_row(engine, org.id, "agent-a").name == "Old Name"
    ok(
        run(
            database_url,
            "import",
            "--org",
            org.name,
            str(
                write_jsonl(tmp_path, [cli_event(2, agent_name="New Name", conversation_title="New title")], "b.jsonl")
            ),
        )
    )
    assert agent_row(engine, org.id, "agent-a").name == "New Name"
    with engine.connect() as conn:
        title = conn.execute(
            sa.select(conversations.c.title).where(
                conversations.c.organization_id == org.id, conversations.c.id == "conv-1"
            )
        ).scalar_one()
    assert title == "New title"
    # an event without a name keeps the known name
    ok(
        run(
            database_url,
            "import",
            "--org",
            org.name,
            str(write_jsonl(tmp_path, [cli_event(3, agent_name=None, conversation_title=None)], "c.jsonl")),
        )
    )
    assert agent_row(engine, org.id, "agent-a").name == "New Name"


def test_import_agent_name_latest_wins_within_one_file(database_url, engine, org, tmp_path):
    path = write_jsonl(
        tmp_path,
        [
            cli_event(1, agent_name="First"),
            cli_event(2, agent_name=None),
            cli_event(3, agent_name="Last"),
            cli_event(4, agent_name=None),
        ],
    )
    ok(run(database_url, "import", "--org", org.name, str(path)))
    assert agent_row(engine, org.id, "agent-a").name == "Last"


def test_import_event_without_agent_name_uses_agent_id(database_url, engine, org, tmp_path):
    path = write_jsonl(tmp_path, [cli_event(1, agent_id="agent-anon", agent_name=None, conversation_title=None)])
    ok(run(database_url, "import", "--org", org.name, str(path)))
    assert agent_row(engine, org.id, "agent-anon").name == "agent-anon"
    with engine.connect() as conn:
        conv = conn.execute(
            sa.select(conversations).where(conversations.c.organization_id == org.id, conversations.c.id == "conv-1")
        ).one()
    assert conv.title == "conv-1" and conv.agent_id == "agent-anon"


# ---------------------------------------------------------------- organizations and users


def test_create_org_with_timezone(database_url, engine):
    name = f"org-{uuid.uuid4().hex[:12]}"
    result = run(database_url, "create-org", name, "--timezone", "Asia/Kolkata")
    ok(result)
    assert name in result.stdout and "Asia/Kolkata" in result.stdout
    row = org_row(engine, name)
    assert row is not None and row.timezone == "Asia/Kolkata"


def test_create_org_default_timezone_is_utc(database_url, engine):
    name = f"org-{uuid.uuid4().hex[:12]}"
    ok(run(database_url, "create-org", name))
    assert org_row(engine, name).timezone == "UTC"


def test_create_org_bad_timezone_fails_cleanly(database_url, engine):
    name = f"org-{uuid.uuid4().hex[:12]}"
    result = run(database_url, "create-org", name, "--timezone", "Mars/Olympus_Mons")
    failed_cleanly(result)
    assert "Mars/Olympus_Mons" in result.stderr
    assert org_row(engine, name) is None


def test_create_org_duplicate_fails_cleanly(database_url, org):
    result = run(database_url, "create-org", org.name)
    failed_cleanly(result)
    assert "already exists" in result.stderr


def test_create_user_and_duplicate_email(database_url, engine, org):
    email = f"{uuid.uuid4().hex[:10]}@example.com"
    result = run(database_url, "create-user", "--org", org.name, "--email", email, "--password", "pw12345678")
    ok(result)
    assert email in result.stdout
    with engine.connect() as conn:
        row = conn.execute(sa.select(users).where(users.c.email == email)).one()
    assert row.organization_id == org.id
    assert row.password_hash != "pw12345678"
    again = run(database_url, "create-user", "--org", org.name, "--email", email.upper(), "--password", "other-pw-123")
    failed_cleanly(again)
    assert "already exists" in again.stderr


def test_create_user_prompts_for_password(database_url, engine, org):
    email = f"{uuid.uuid4().hex[:10]}@example.com"
    result = run(database_url, "create-user", "--org", org.name, "--email", email, input="pw12345678\npw12345678\n")
    ok(result)
    assert "pw12345678" not in result.output  # hidden input
    from billing_dash.auth import authenticate

    with engine.connect() as conn:
        assert authenticate(conn, email, "pw12345678") is not None


def test_create_user_short_password_and_unknown_org_fail_cleanly(database_url, org):
    email = f"{uuid.uuid4().hex[:10]}@example.com"
    failed_cleanly(run(database_url, "create-user", "--org", org.name, "--email", email, "--password", "short"))
    failed_cleanly(
        run(
            database_url,
            "create-user",
            "--org",
            f"missing-{uuid.uuid4().hex[:8]}",
            "--email",
            email,
            "--password",
            "pw12345678",
        )
    )


# ---------------------------------------------------------------- tokens


def test_create_token_prints_token_last_and_stores_only_its_hash(database_url, engine, org):
    result = run(database_url, "create-token", "--org", org.name, "--name", "ci")
    ok(result)
    token = result.stdout.strip().splitlines()[-1]
    assert token.startswith("bd_")
    assert token == token.strip() and " " not in token
    row = token_row(engine, org.id, "ci")
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert row.token_hash != token
    assert set(row.scopes.split()) == {"read", "ingest"}
    assert row.revoked_at is None
    assert token not in result.stderr


def test_create_token_stdout_is_only_the_token(database_url, org):
    result = run(database_url, "create-token", "--org", org.name, "--name", "pipe")
    ok(result)
    assert result.stdout.strip().startswith("bd_")
    assert len(result.stdout.strip().splitlines()) == 1


def test_create_token_read_scope(database_url, engine, org):
    ok(run(database_url, "create-token", "--org", org.name, "--name", "reader", "--scope", "read"))
    assert token_row(engine, org.id, "reader").scopes == "read"


def test_create_token_duplicate_name_and_bad_scope_fail(database_url, org):
    ok(run(database_url, "create-token", "--org", org.name, "--name", "dup"))
    failed_cleanly(run(database_url, "create-token", "--org", org.name, "--name", "dup"))
    bad_scope = run(database_url, "create-token", "--org", org.name, "--name", "x", "--scope", "admin")
    assert bad_scope.exit_code == 2 and "Traceback" not in bad_scope.output


def test_revoke_token(database_url, engine, org):
    ok(run(database_url, "create-token", "--org", org.name, "--name", "old"))
    result = run(database_url, "revoke-token", "--org", org.name, "old")
    ok(result)
    assert token_row(engine, org.id, "old").revoked_at is not None
    again = run(database_url, "revoke-token", "--org", org.name, "old")
    failed_cleanly(again)
    assert "old" in again.stderr


def test_revoke_unknown_token_fails_cleanly(database_url, org):
    failed_cleanly(run(database_url, "revoke-token", "--org", org.name, "never-created"))


# ---------------------------------------------------------------- budgets


def month_tokens(engine, org_id: int, agent_id: str) -> int | None:
    """The agent's monthly token limit as stored: a budget row of scope agent, period month."""
    with engine.connect() as conn:
        return conn.execute(
            sa.select(budgets.c.limit_tokens).where(
                budgets.c.organization_id == org_id,
                budgets.c.scope == "agent",
                budgets.c.scope_id == agent_id,
                budgets.c.period == "month",
            )
        ).scalar()


def test_set_budget_and_clear_it(database_url, engine, org, tmp_path):
    ok(run(database_url, "import", "--org", org.name, str(write_jsonl(tmp_path, [cli_event(1)]))))
    result = run(database_url, "set-budget", "--org", org.name, "agent-a", "1000000")
    ok(result)
    assert month_tokens(engine, org.id, "agent-a") == 1_000_000
    ok(run(database_url, "set-budget", "--org", org.name, "agent-a", "0"))
    assert month_tokens(engine, org.id, "agent-a") is None
    assert count(engine, budgets, org.id) == 0


def test_set_budget_unknown_agent_fails_cleanly(database_url, engine, org):
    result = run(database_url, "set-budget", "--org", org.name, "agent-ghost", "1000")
    failed_cleanly(result)
    assert "AGENT_ID: no agent 'agent-ghost'" in result.stderr
    failed_cleanly(run(database_url, "set-budget", "--org", org.name, "agent-ghost", "0"))
    assert agent_row(engine, org.id, "agent-ghost") is None


def test_set_budget_too_large_names_the_argument(database_url, engine, org, tmp_path):
    ok(run(database_url, "import", "--org", org.name, str(write_jsonl(tmp_path, [cli_event(1)]))))
    result = run(database_url, "set-budget", "--org", org.name, "agent-a", str(10**15 + 1))
    failed_cleanly(result)
    assert "TOKENS: must be at most" in result.stderr
    assert month_tokens(engine, org.id, "agent-a") is None


def test_set_budget_negative_is_a_usage_error(database_url, org, tmp_path):
    ok(run(database_url, "import", "--org", org.name, str(write_jsonl(tmp_path, [cli_event(1)]))))
    result = run(database_url, "set-budget", "--org", org.name, "agent-a", "--", "-5")
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_set_budget_does_not_touch_other_organizations(database_url, engine, org, tmp_path):
    other = f"org-{uuid.uuid4().hex[:12]}"
    ok(run(database_url, "create-org", other))
    path = write_jsonl(tmp_path, [cli_event(1)])
    ok(run(database_url, "import", "--org", org.name, str(path)))
    ok(run(database_url, "import", "--org", other, str(path)))
    ok(run(database_url, "set-budget", "--org", org.name, "agent-a", "500"))
    assert month_tokens(engine, org_row(engine, other).id, "agent-a") is None


def budget_rows(engine, org_id: int) -> list:
    with engine.connect() as conn:
        return conn.execute(sa.select(budgets).where(budgets.c.organization_id == org_id).order_by(budgets.c.id)).all()


def test_budget_set_list_replace_delete(database_url, engine, org, tmp_path):
    ok(run(database_url, "import", "--org", org.name, str(write_jsonl(tmp_path, [cli_event(1)]))))
    ok(run(database_url, "budget", "set", "--org", org.name, "--usd", "500.1234567891"))
    ok(
        run(
            database_url,
            "budget",
            "set",
            "--org",
            org.name,
            "--agent",
            "agent-a",
            "--tokens",
            "9000",
            "--period",
            "week",
        )
    )
    ok(
        run(
            database_url,
            "budget",
            "set",
            "--org",
            org.name,
            "--model",
            "gpt-4o",
            "--usd",
            "0.1",
            "--tokens",
            "70",
            "--period",
            "day",
            "--thresholds",
            "90, 25,90",
        )
    )
    rows = budget_rows(engine, org.id)
    got = [(r.scope, r.scope_id, r.period, r.limit_usd, r.limit_tokens, r.thresholds) for r in rows]
    assert got == [
        ("organization", "", "month", Decimal("500.1234567891"), None, "50,80,100"),
        ("agent", "agent-a", "week", None, 9000, "50,80,100"),
        ("model", "gpt-4o", "day", Decimal("0.1"), 70, "25,90"),
    ]
    # The same scope and period again replaces its limits, keeping its id.
    ok(run(database_url, "budget", "set", "--org", org.name, "--tokens", "123"))
    again = budget_rows(engine, org.id)
    assert (again[0].id, again[0].limit_usd, again[0].limit_tokens) == (rows[0].id, None, 123)
    listed = run(database_url, "budget", "list", "--org", org.name)
    ok(listed)
    lines = listed.stdout.splitlines()
    assert [line.split("\t")[0] for line in lines] == [str(r.id) for r in rows]
    assert "agent 'agent-a'" in lines[1] and "9,000 tokens a week" in lines[1]
    assert "$0.1 and 70 tokens a day" in lines[2]
    ok(run(database_url, "budget", "delete", "--org", org.name, str(rows[1].id)))
    assert [r.id for r in budget_rows(engine, org.id)] == [rows[0].id, rows[2].id]
    gone = run(database_url, "budget", "delete", "--org", org.name, str(rows[1].id))
    failed_cleanly(gone)
    assert f"no budget {rows[1].id}" in gone.stderr


def test_budget_of_another_organization_cannot_be_deleted(database_url, engine, org):
    other = f"org-{uuid.uuid4().hex[:12]}"
    ok(run(database_url, "create-org", other))
    ok(run(database_url, "budget", "set", "--org", other, "--usd", "5"))
    (row,) = budget_rows(engine, org_row(engine, other).id)
    failed_cleanly(run(database_url, "budget", "delete", "--org", org.name, str(row.id)))
    assert len(budget_rows(engine, org_row(engine, other).id)) == 1


@pytest.mark.parametrize(
    "args, field",
    [
        (["--usd", "abc"], "--usd"),
        (["--usd", "0"], "--usd"),
        (["--usd", "1e3"], "--usd"),
        (["--usd", "1.12345678901"], "--usd"),
        (["--usd", "5", "--thresholds", "50,x"], "--thresholds"),
        (["--usd", "5", "--thresholds", "0,50"], "--thresholds"),
        (["--usd", "5", "--thresholds", ""], "--thresholds"),
        ([], "--usd/--tokens"),
        (["--agent", "agent-ghost", "--usd", "5"], "--agent"),
        (["--model", "", "--usd", "5"], "--model"),
        (["--model", "m" * 201, "--usd", "5"], "--model"),
        (["--usd", "922337204"], "--usd"),
    ],
)
def test_budget_set_bad_input_names_the_option(database_url, engine, org, args, field):
    result = run(database_url, "budget", "set", "--org", org.name, *args)
    failed_cleanly(result)
    assert f"{field}:" in result.stderr
    assert budget_rows(engine, org.id) == []


@pytest.mark.parametrize(
    "args",
    [
        ["--tokens", "0"],
        ["--tokens", "many"],
        ["--period", "year", "--usd", "5"],
        ["--agent", "a", "--model", "m", "--usd", "5"],
    ],
)
def test_budget_set_usage_errors(database_url, engine, org, args):
    result = run(database_url, "budget", "set", "--org", org.name, *args)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert budget_rows(engine, org.id) == []


def test_largest_usd_limit_is_stored_exactly(database_url, engine, org):
    ok(run(database_url, "budget", "set", "--org", org.name, "--usd", "899999999.9999999999"))
    # Above the cap by 1e-10 dollars: refused, not rounded.
    failed_cleanly(run(database_url, "budget", "set", "--org", org.name, "--usd", "900000000.0000000001"))
    (row,) = budget_rows(engine, org.id)
    assert row.limit_usd == Decimal("899999999.9999999999")


def test_set_budget_keeps_the_agents_usd_limit(database_url, engine, org, tmp_path):
    ok(run(database_url, "import", "--org", org.name, str(write_jsonl(tmp_path, [cli_event(1)]))))
    ok(run(database_url, "budget", "set", "--org", org.name, "--agent", "agent-a", "--usd", "20", "--thresholds", "90"))
    ok(run(database_url, "set-budget", "--org", org.name, "agent-a", "1000"))
    (row,) = budget_rows(engine, org.id)
    assert (row.limit_usd, row.limit_tokens, row.thresholds) == (Decimal(20), 1000, "90")
    ok(run(database_url, "set-budget", "--org", org.name, "agent-a", "0"))
    (row,) = budget_rows(engine, org.id)
    assert (row.limit_usd, row.limit_tokens) == (Decimal(20), None)


# ---------------------------------------------------------------- demo data, db, config


def test_demo_data_creates_org_and_is_idempotent(database_url, engine):
    name = f"demo-{uuid.uuid4().hex[:10]}"
    first = run(database_url, "demo-data", "--org", name, "--days", "3", "--per-day", "2")
    ok(first)
    row = org_row(engine, name)
    assert row is not None
    inserted = count(engine, usage_events, row.id)
    assert inserted > 0
    assert f"inserted {inserted}, skipped 0" in first.stdout
    assert count(engine, agents, row.id) > 0
    second = run(database_url, "demo-data", "--org", name, "--days", "3", "--per-day", "2")
    ok(second)
    assert f"inserted 0, skipped {inserted}" in second.stdout
    assert count(engine, usage_events, row.id) == inserted


def test_db_upgrade_twice(database_url):
    for _ in range(2):
        result = run(database_url, "db", "upgrade")
        ok(result)
        assert "up to date" in result.stdout


def test_config_prints_settings_table(database_url):
    result = run(database_url, "config")
    ok(result)
    assert "DATABASE_URL" in result.stdout
    assert "SECRET_KEY" in result.stdout
    assert result.stdout.lstrip().startswith("|")


def test_help_lists_commands(database_url):
    result = run(database_url, "--help")
    ok(result)
    for command in (
        "import",
        "create-org",
        "create-user",
        "create-token",
        "revoke-token",
        "set-budget",
        "demo-data",
        "db",
        "config",
    ):
        assert command in result.stdout


# ---------------------------------------------------------------- edge cases of the import formats


def test_import_largest_valid_cost_is_stored_exactly(database_url, engine, org, tmp_path):
    # ingest accepts costs up to MAX_COST; such an event must be stored exactly, not crash the import
    from billing_dash.ingest import MAX_COST

    just_below = MAX_COST - Decimal("1e-10")
    path = write_jsonl(tmp_path, [cli_event(1, cost=str(MAX_COST)), cli_event(2, cost=str(just_below))])
    result = run(database_url, "import", "--org", org.name, str(path))
    ok(result)
    assert "Traceback" not in result.output
    assert stored_event(engine, org.id, "ev-1").cost == MAX_COST
    assert stored_event(engine, org.id, "ev-2").cost == just_below


def test_import_cost_above_maximum_fails_cleanly(database_url, engine, org, tmp_path):
    from billing_dash.ingest import MAX_COST

    result = run(
        database_url,
        "import",
        "--org",
        org.name,
        str(write_jsonl(tmp_path, [cli_event(1, cost=str(MAX_COST + Decimal("0.01")))])),
    )
    failed_cleanly(result)
    assert "line 1: cost" in result.stderr
    nothing_stored(engine, org.id)


def test_import_timestamp_offset_is_stored_as_utc(database_url, engine, org, tmp_path):
    ok(
        run(
            database_url,
            "import",
            "--org",
            org.name,
            str(
                write_jsonl(
                    tmp_path,
                    [
                        cli_event(1, timestamp="2025-03-10T17:30:00+05:30"),
                        cli_event(2, timestamp="2025-03-10T12:00:00Z"),
                    ],
                )
            ),
        )
    )
    expected = datetime(2025, 3, 10, 12, tzinfo=UTC)
    assert stored_event(engine, org.id, "ev-1").ts == expected
    assert stored_event(engine, org.id, "ev-2").ts == expected


def test_import_csv_with_bom_crlf_and_multiline_title(database_url, engine, org, tmp_path):
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=FIELDS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerow(cli_event(1, conversation_title="two\nlines"))
    writer.writerow(cli_event(2, timestamp="bad"))
    path = tmp_path / "excel.csv"
    path.write_bytes(b"\xef\xbb\xbf" + buf.getvalue().encode())
    result = run(database_url, "import", "--org", org.name, str(path))
    failed_cleanly(result)
    # the first record spans lines 2-3, so the bad one is on line 4
    assert "line 4: timestamp" in result.stderr
    nothing_stored(engine, org.id)
    good = tmp_path / "good.csv"
    good.write_bytes(b"\xef\xbb\xbf" + buf.getvalue().split("\r\nev-2")[0].encode() + b"\r\n")
    ok(run(database_url, "import", "--org", org.name, str(good)))
    assert count(engine, usage_events, org.id) == 1
    with engine.connect() as conn:
        title = conn.execute(
            sa.select(conversations.c.title).where(
                conversations.c.organization_id == org.id, conversations.c.id == "conv-1"
            )
        ).scalar_one()
    assert title == "two\nlines"


def test_import_csv_missing_column_fails_cleanly(database_url, engine, org, tmp_path):
    path = tmp_path / "short.csv"
    path.write_text("event_id,timestamp,agent_id\nev-1,2025-03-10T12:00:00Z,a\n", encoding="utf-8")
    result = run(database_url, "import", "--org", org.name, str(path))
    failed_cleanly(result)
    assert "line 1" in result.stderr and "model" in result.stderr
    nothing_stored(engine, org.id)


def test_import_jsonl_with_crlf_bom_and_blank_lines(database_url, engine, org, tmp_path):
    path = tmp_path / "win.jsonl"
    path.write_bytes(
        b"\xef\xbb\xbf"
        + jsonl([cli_event(1)]).replace("\n", "\r\n").encode()
        + b"\r\n   \r\n"
        + json.dumps(cli_event(2)).encode()
        + b"\r\n"
    )
    result = run(database_url, "import", "--org", org.name, str(path))
    ok(result)
    assert "inserted 2, skipped 0" in result.stdout


def test_import_empty_file(database_url, engine, org, tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_bytes(b"")
    result = run(database_url, "import", "--org", org.name, str(path))
    ok(result)
    assert "inserted 0, skipped 0" in result.stdout
    nothing_stored(engine, org.id)


def test_quickstart_completes_what_an_interrupted_run_left_out(empty_database_url):
    # A run killed after loading the demo organization and before creating its user left this.
    ok(run(empty_database_url, "db", "upgrade"))
    ok(run(empty_database_url, "demo-data", "--org", "Demo Inc", "--days", "1", "--per-day", "1"))
    for _ in range(2):  # the next run completes it; the one after changes nothing
        result = run(empty_database_url, "quickstart")
        ok(result)
        email, password = re.search(r"Demo login: (\S+) / (\S+)", result.stdout).groups()
        app = create_app(Settings.from_env({}, database_url=empty_database_url, secret_key="s"))
        try:
            client = app.server.test_client()
            assert login(client, email, password).status_code == 302
            assert client.get("/api/v1/analytics/billing").status_code == 200
        finally:
            app.server.extensions["billing_dash.engine"].dispose()
