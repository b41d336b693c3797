"""Prices: the genai-prices catalogue, name resolution, organization prices and re-pricing, on both databases."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from genai_prices import Usage, calc_price
from genai_prices.data import providers
from genai_prices.types import StartDateConstraint

from billing_dash.auth import create_org
from billing_dash.db import make_engine, upgrade
from billing_dash.ingest import ingest
from billing_dash.models import model_prices, usage_events
from billing_dash.pricing import Price, PriceBook, set_org_price
from billing_dash.pricing.reprice import reprice

from ..factories import cli_event, failed_cleanly, get, ok, project, run, stored_event, write_jsonl
from .reference import Scenario, tokens_of

TEN = Decimal("1e-10")


def catalogue_model(provider_id: str, model_id: str):
    provider = next(p for p in providers if p.id == provider_id)
    return next(m for m in provider.models if m.id == model_id)


@pytest.fixture
def fresh(empty_database_url):
    """A new database migrated by the CLI (which loads the catalogue), with an organization."""
    result = run(empty_database_url, "db", "upgrade")
    ok(result)
    assert "loaded" in result.stdout and "catalogue prices" in result.stdout
    ok(run(empty_database_url, "create-org", "Acme", "--timezone", "Europe/Berlin"))
    engine = make_engine(empty_database_url)
    yield empty_database_url, engine
    engine.dispose()


def test_db_upgrade_loads_the_catalogue_once_with_its_dated_history(fresh):
    url, engine = fresh
    again = run(url, "db", "upgrade")
    ok(again)
    assert "loaded" not in again.stdout
    # o3's price history in the package: the price without a date, then the one from its start date.
    o3 = catalogue_model("openai", "o3")
    expected = [
        (
            datetime(1980, 1, 1, tzinfo=UTC)
            if c.constraint is None
            else datetime.combine(c.constraint.start_date, time(), UTC),
            c.prices.input_mtok,
            c.prices.output_mtok,
            c.prices.cache_read_mtok,
        )
        for c in o3.prices
        if c.constraint is None or isinstance(c.constraint, StartDateConstraint)
    ]
    assert len(expected) >= 2
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                model_prices.c.effective_from,
                model_prices.c.prompt_per_million,
                model_prices.c.completion_per_million,
                model_prices.c.cache_read_per_million,
            )
            .where(
                model_prices.c.source == "catalogue",
                model_prices.c.provider == "openai",
                model_prices.c.model == "o3",
            )
            .order_by(model_prices.c.effective_from)
        ).all()
    assert [tuple(r) for r in rows] == expected
    # Anthropic's cache prices: reads and (five-minute) writes.
    sonnet = catalogue_model("anthropic", "claude-sonnet-4-0").prices
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(model_prices).where(
                model_prices.c.provider == "anthropic", model_prices.c.model == "claude-sonnet-4-0"
            )
        ).one()
    assert (row.cache_read_per_million, row.cache_write_per_million) == (
        sonnet.cache_read_mtok,
        sonnet.cache_write_mtok,
    )


def test_prices_update_restores_changed_catalogue_prices_and_keeps_their_rows(fresh):
    url, engine = fresh
    with engine.begin() as conn:
        row = conn.execute(
            sa.select(model_prices.c.id, model_prices.c.prompt_per_million).where(
                model_prices.c.provider == "openai", model_prices.c.model == "gpt-4o"
            )
        ).one()
        conn.execute(sa.update(model_prices).where(model_prices.c.id == row.id).values(prompt_per_million=Decimal(99)))
    result = run(url, "prices", "update")
    ok(result)
    assert "(0 added, 1 changed, 0 removed)" in result.stdout
    with engine.connect() as conn:
        after = conn.execute(sa.select(model_prices.c.prompt_per_million).where(model_prices.c.id == row.id)).scalar()
    assert after == row.prompt_per_million
    ok(result := run(url, "prices", "update"))
    assert "(0 added, 0 changed, 0 removed)" in result.stdout


# name as events carry it, the name and provider genai-prices is asked with, when, tokens
NAMES = [
    ("gpt-4o-2024-08-06", "gpt-4o", None, datetime(2026, 3, 1, 12, tzinfo=UTC), 12345, 678),
    ("claude-sonnet-4-5-20250929", "claude-sonnet-4-5", None, datetime(2026, 3, 1, 12, tzinfo=UTC), 150_000, 2000),
    ("models/gemini-2.5-flash", "gemini-2.5-flash", None, datetime(2026, 3, 1, 12, tzinfo=UTC), 5000, 700),
    ("openai/gpt-4o", "gpt-4o", "openai", datetime(2026, 3, 1, 12, tzinfo=UTC), 1000, 1000),
    ("o3", "o3", None, datetime(2025, 1, 15, 12, tzinfo=UTC), 1000, 500),  # before its price cut
    ("O3", "o3", None, datetime(2025, 7, 15, 12, tzinfo=UTC), 1000, 500),  # after it
]


def test_dated_prefixed_and_aliased_names_cost_what_genai_prices_computes(fresh, tmp_path):
    url, engine = fresh
    events = [
        cli_event(i, model=name, timestamp=ts.isoformat(), cost=None, prompt_tokens=p, completion_tokens=c)
        for i, (name, _, _, ts, p, c) in enumerate(NAMES)
    ]
    ok(result := run(url, "import", "--org", "Acme", str(write_jsonl(tmp_path, events))))
    assert "unpriced" not in result.stdout
    org_id = _org_id(engine, "Acme")
    for i, (name, ref, provider, ts, p, c) in enumerate(NAMES):
        expected = calc_price(
            Usage(input_tokens=p, output_tokens=c), ref, provider_id=provider, genai_request_timestamp=ts
        ).total_price.quantize(TEN)
        row = stored_event(engine, org_id, f"ev-{i}")
        assert (row.cost, row.priced, row.cost_given) == (expected, True, False), name
        assert row.priced_as == ref and row.price_id is not None, name


def test_a_batch_held_in_memory_costs_what_genai_prices_computes(fresh):
    """An API or OTLP batch (records in a list) reads only the catalogue rows its names can
    resolve to: the same costs as the import's whole catalogue."""
    _, engine = fresh
    records = [
        (i, cli_event(i, model=name, timestamp=ts.isoformat(), cost=None, prompt_tokens=p, completion_tokens=c))
        for i, (name, _, _, ts, p, c) in enumerate(NAMES)
    ]
    with engine.begin() as conn:
        org = create_org(conn, "Batch", "UTC")
        assert ingest(conn, org.id, records).inserted == len(NAMES)
    for i, (name, ref, provider, ts, p, c) in enumerate(NAMES):
        expected = calc_price(
            Usage(input_tokens=p, output_tokens=c), ref, provider_id=provider, genai_request_timestamp=ts
        ).total_price.quantize(TEN)
        row = stored_event(engine, org.id, f"ev-{i}")
        assert (row.cost, row.priced, row.priced_as) == (expected, True, ref), name


def test_a_price_book_of_some_models_reads_the_whole_catalogue_for_another(fresh):
    _, engine = fresh

    def described(entry):
        return entry and (entry.source, entry.provider, entry.name, entry.starts, [c.price for c in entry.charges])

    names = [name for name, *_ in NAMES] + ["no-such-model", "models/gemini-2.5-flash"]
    with engine.connect() as conn:
        full = PriceBook(conn)
        some = PriceBook(conn, models=["gpt-4o-2024-08-06"])
        assert described(some.resolve("gpt-4o-2024-08-06")) == described(full.resolve("gpt-4o-2024-08-06"))
        assert [described(some.resolve(n)) for n in names] == [described(full.resolve(n)) for n in names]
        none = PriceBook(conn, models=[])  # a batch whose events name no model (all refused)
        assert [described(none.resolve(n)) for n in names] == [described(full.resolve(n)) for n in names]


def test_names_of_one_model_share_its_entry_read_once(fresh):
    _, engine = fresh
    with engine.connect() as conn:
        book = PriceBook(conn)
        entries = [book.resolve(name) for name in ("o3", "O3", "openai/o3", "o3-2025-04-16")]
    assert all(e is entries[0] for e in entries)
    assert len(entries[0].starts) >= 2 and entries[0].starts == sorted(set(entries[0].starts))


def _org_id(engine, name: str) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT id FROM organizations WHERE name = :n"), {"n": name}).scalar()


def test_an_organization_price_overrides_from_its_first_local_day_for_that_organization_only(
    database_url, engine, org, tmp_path
):
    model = f"own-model-{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        conn.execute(
            model_prices.insert().values(
                model=model,
                effective_from=datetime(2020, 1, 1, tzinfo=UTC),
                prompt_per_million=Decimal(2),
                completion_per_million=Decimal(8),
            )
        )
        other = create_org(conn, f"other-{uuid.uuid4().hex[:8]}", "UTC")
    result = run(
        database_url, "prices", "set", "--org", org.name, model, "--input", "1", "--output", "4",
        "--cache-read", "0.1", "--cache-write", "1.25", "--from", "2026-01-10",
    )  # fmt: skip
    ok(result)
    # Europe/Berlin: 2026-01-10 begins at 2026-01-09T23:00Z.
    before, after = "2026-01-09T22:30:00Z", "2026-01-09T23:30:00Z"
    events = [
        cli_event(1, model=model, timestamp=before, cost=None, prompt_tokens=1000, completion_tokens=100),
        cli_event(2, model=model, timestamp=after, cost=None, prompt_tokens=1000, completion_tokens=100),
    ]
    for name in (org.name, other.name):
        ok(run(database_url, "import", "--org", name, str(write_jsonl(tmp_path, events))))
    list_model = run(database_url, "prices", "list", "--org", org.name, "--model", model)
    ok(list_model)
    own = [line.split() for line in list_model.stdout.splitlines() if line.startswith("organization")]
    assert own == [["organization", model, "2026-01-10", "1", "4", "0.1", "1.25"]]
    old = (1000 * Decimal(2) + 100 * Decimal(8)) / 1_000_000
    new = (1000 * Decimal(1) + 100 * Decimal(4)) / 1_000_000
    assert stored_event(engine, org.id, "ev-1").cost == old
    assert stored_event(engine, org.id, "ev-2").cost == new
    assert stored_event(engine, other.id, "ev-2").cost == old


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--input", "abc", "--output", "1"], "--input"),
        (["--input", "1", "--output", "-2"], "--output"),
        (["--input", "1", "--output", "2", "--cache-read", "1e99"], "--cache-read"),
        (["--input", "1", "--output", "2", "--cache-write", "NaN"], "--cache-write"),
        (["--input", "1", "--output", "2", "--from", "2026-02-30"], "--from"),
        (["--output", "2"], "--input"),
    ],
)
def test_bad_prices_name_the_option(database_url, org, args, option):
    result = run(database_url, "prices", "set", "--org", org.name, "some-model", *args)
    assert result.exit_code == 2, result.output
    assert option in result.output and "Traceback" not in result.output


def test_import_and_ingest_name_the_unpriced_models(database_url, org, client, auth_headers, tmp_path):
    model = f"no-price-{uuid.uuid4().hex[:8]}"
    events = [cli_event(i, model=model, cost=None) for i in range(3)] + [cli_event(3, cost=None)]
    result = run(database_url, "import", "--org", org.name, str(write_jsonl(tmp_path, events)))
    ok(result)
    assert f"3 unpriced (no price for their model): {model} (3)" in result.stdout
    assert f"billing-dash prices set --org {org.name} {model} --input X --output Y" in result.stdout
    batch = [cli_event(f"api-{i}", model=model, cost=None) for i in range(2)] + [cli_event("api-x", model=model)]
    body = client.post("/api/v1/usage", json={"events": batch}, headers=auth_headers).get_json()
    assert body == {"inserted": 3, "skipped": 0, "unpriced": 2, "unpricedModels": [{"model": model, "messages": 2}]}


def test_prices_for_an_unknown_organization_fail_cleanly(database_url):
    failed_cleanly(run(database_url, "prices", "set", "--org", "no-such-org", "m", "--input", "1", "--output", "1"))
    failed_cleanly(run(database_url, "reprice", "--org", "no-such-org"))


def _events_snapshot(engine, org_id: int) -> list[tuple]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                sa.select(usage_events)
                .where(usage_events.c.organization_id == org_id)
                .order_by(usage_events.c.event_id)
            )
        ]


def _unpriced_models(scenario, start, end, tz: str) -> list[dict]:
    """The models of the events of local days start..end in tz that had no price, independently."""
    found: dict[str, list[int]] = {}
    for e in scenario.events:
        local = datetime.fromisoformat(e["timestamp"]).astimezone(ZoneInfo(tz)).date()
        if start <= local <= end and not scenario.cost(e)[1]:
            sums = found.setdefault(e["model"], [0, 0])
            sums[0] += 1
            prompt, completion, *_ = tokens_of(e)
            sums[1] += prompt + completion
    return [
        {"model": m, "messages": n, "tokens": t} for m, (n, t) in sorted(found.items(), key=lambda i: (-i[1][0], i[0]))
    ]


def _assert_report(client, auth_headers, scenario, tz: str) -> None:
    today = datetime.now(UTC).astimezone(ZoneInfo(tz)).date()
    for start, end in ((today - timedelta(days=419), today), (today - timedelta(days=70), today - timedelta(days=50))):
        api = get(
            client, auth_headers, period="custom", startDate=start.isoformat(), endDate=end.isoformat(), tz=tz, limit=25
        )
        expected = scenario.report(start, end, tz, limit=25)
        assert project(api, expected) == expected, (start, end, f"seed {scenario.seed}")
        assert api["unpricedModels"] == _unpriced_models(scenario, start, end, tz)


def test_reprice_gives_the_report_of_the_new_prices(database_url, engine, org, client, auth_headers):
    scenario = Scenario(seed=3, n=900, now=datetime.now(UTC))
    with engine.begin() as conn:
        scenario.store_prices(conn)
        ingest(conn, org.id, enumerate(scenario.events), batch_size=250)
    _assert_report(client, auth_headers, scenario, org.timezone)
    ref_a, unpriced = next(iter(scenario.prices)), scenario.unpriced_model
    assert get(client, auth_headers, period="year")["unpricedModels"][0]["model"] == unpriced
    since = datetime.now(UTC).astimezone(ZoneInfo(org.timezone)).date() - timedelta(days=60)
    since_instant = datetime.combine(since, time(), ZoneInfo(org.timezone)).astimezone(UTC)
    ok(
        run(
            database_url,
            "prices",
            "set",
            "--org",
            org.name,
            ref_a,
            "--input",
            "0.5",
            "--output",
            "1.5",
            "--from",
            str(since),
        )
    )
    ok(run(database_url, "prices", "set", "--org", org.name, unpriced, "--input", "3", "--output", "7"))

    # Only the unpriced model's events from `since` on: the others keep their cost.
    result = run(database_url, "reprice", "--org", org.name, "--since", str(since), "--model", unpriced)
    ok(result)
    assert unpriced in result.stdout and ref_a not in result.stdout
    scenario.prices[unpriced] = [(since_instant, Decimal(3), Decimal(7), None, None)]
    _assert_report(client, auth_headers, scenario, "UTC")

    before = _events_snapshot(engine, org.id)
    dry = run(database_url, "reprice", "--org", org.name, "--dry-run")
    ok(dry)
    assert "dry run: nothing written" in dry.stdout and ref_a in dry.stdout and unpriced in dry.stdout
    assert _events_snapshot(engine, org.id) == before
    _assert_report(client, auth_headers, scenario, "UTC")

    ok(run(database_url, "reprice", "--org", org.name))
    scenario.prices[unpriced] = [(datetime(1980, 1, 1, tzinfo=UTC), Decimal(3), Decimal(7), None, None)]
    scenario.prices[ref_a] = [*scenario.prices[ref_a], (since_instant, Decimal("0.5"), Decimal("1.5"), None, None)]
    _assert_report(client, auth_headers, scenario, org.timezone)
    _assert_report(client, auth_headers, scenario, "Asia/Kolkata")
    assert get(client, auth_headers, period="year")["unpricedModels"] == []
    # Events that came with a cost kept it.
    given = {e["event_id"]: Decimal(e["cost"]).quantize(TEN) for e in scenario.events if "cost" in e}
    after = {r.event_id: r for r in _events_snapshot_rows(engine, org.id)}
    assert all(after[i].cost == c and after[i].cost_given for i, c in given.items())
    assert not any(r.cost_given for i, r in after.items() if i not in given)


def test_reprice_in_chunks_reaches_every_event(engine, org, client, auth_headers):
    scenario = Scenario(seed=4, n=200, now=datetime.now(UTC))
    with engine.begin() as conn:
        scenario.store_prices(conn)
        ingest(conn, org.id, enumerate(scenario.events))
        for model in [*scenario.prices, scenario.unpriced_model]:
            set_org_price(conn, org.id, model, Price(Decimal("0.7"), Decimal("2.1")), datetime(1980, 1, 1, tzinfo=UTC))
        changes = reprice(conn, org.id, chunk=7)
    computed = [e for e in scenario.events if "cost" not in e]
    assert sum(c.events for c in changes) == len(computed)
    for model in [*scenario.prices, scenario.unpriced_model]:
        scenario.prices[model] = [(datetime(1980, 1, 1, tzinfo=UTC), Decimal("0.7"), Decimal("2.1"), None, None)]
    _assert_report(client, auth_headers, scenario, org.timezone)


def _events_snapshot_rows(engine, org_id: int) -> list:
    with engine.connect() as conn:
        return conn.execute(sa.select(usage_events).where(usage_events.c.organization_id == org_id)).all()


def test_migration_0011_tells_computed_costs_from_given_ones(empty_database_url):
    engine = make_engine(empty_database_url)
    upgrade(engine, "0009")
    ts = datetime(2026, 5, 1, 9, 30, tzinfo=UTC)
    computed = (1000 * Decimal("2.5") + 500 * Decimal(10)) / 1_000_000  # gpt-4o's seeded price
    columns = ["organization_id", "event_id", "ts", "agent_id", "conversation_id", "model", "prompt_tokens",
               "completion_tokens", "cost", "priced"]  # fmt: skip
    old_events = sa.Table(
        "usage_events", sa.MetaData(), *(sa.Column(c.name, c.type) for c in usage_events.columns if c.name in columns)
    )
    with engine.begin() as conn:
        conn.execute(
            old_events.insert(),
            [
                dict(zip(columns, (1, "computed", ts, "a", "c", "gpt-4o", 1000, 500, computed, True), strict=True)),
                dict(zip(columns, (1, "given", ts, "a", "c", "gpt-4o", 1000, 500, Decimal("0.5"), True), strict=True)),
                dict(zip(columns, (1, "unpriced", ts, "a", "c", "nope", 1000, 500, Decimal(0), False), strict=True)),
            ],
        )
    upgrade(engine)
    with engine.connect() as conn:
        rows = {
            r.event_id: (r.cost_given, r.priced_as, r.price_id is not None)
            for r in conn.execute(sa.select(usage_events))
        }
    engine.dispose()
    assert rows == {
        "computed": (False, "gpt-4o", True),
        "given": (True, None, False),
        "unpriced": (False, None, False),
    }


def test_reprice_dates_are_checked(database_url, org):
    result = run(database_url, "reprice", "--org", org.name, "--since", "yesterday")
    assert result.exit_code == 2 and "--since" in result.output


def test_reprice_at_equal_prices_changes_no_cost_but_records_the_new_price_row(database_url, engine, org, tmp_path):
    model = f"same-price-{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        conn.execute(
            model_prices.insert().values(
                model=model,
                effective_from=datetime(2020, 1, 1, tzinfo=UTC),
                prompt_per_million=Decimal(1),
                completion_per_million=Decimal(2),
            )
        )
    ok(
        run(
            database_url,
            "import",
            "--org",
            org.name,
            str(write_jsonl(tmp_path, [cli_event(1, model=model, cost=None)])),
        )
    )
    before = stored_event(engine, org.id, "ev-1")
    ok(run(database_url, "prices", "set", "--org", org.name, model, "--input", "1", "--output", "2"))
    result = run(database_url, "reprice", "--org", org.name)
    ok(result)
    assert "changed 0 of 1 events" in result.stdout
    after = stored_event(engine, org.id, "ev-1")
    assert after.cost == before.cost and after.priced_as == model
    with engine.connect() as conn:
        source = conn.execute(sa.select(model_prices.c.source).where(model_prices.c.id == after.price_id)).scalar()
    assert (before.price_id != after.price_id, source) == (True, "organization")
