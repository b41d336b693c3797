"""The `billing-dash` command line: database, accounts, tokens, budgets, imports and the server."""

from __future__ import annotations

import contextlib
import gc
import ipaddress
import logging
import os
import sys
from collections.abc import Iterable, Iterator
from typing import Any, BinaryIO

import click
from sqlalchemy import Engine, select
from sqlalchemy.exc import DBAPIError
from tqdm import tqdm

from . import auth, db
from .alerts import budgets
from .config import ConfigError, Settings, settings_table
from .ingest import IngestError, IngestResult, ingest, read_csv, read_jsonl
from .models import organizations, users
from .pages import DASHBOARD_PATH
from .periods import PeriodError

DEMO_ORG = "Demo Inc"
DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "demo-password"
# Below this size an import is over before a progress bar would help.
PROGRESS_MIN_BYTES = 4 * 1024 * 1024

log = logging.getLogger(__name__)


class _Group(click.Group):
    """Turns expected failures into one clear line on stderr and exit code 1, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (auth.AccountError, PeriodError, db.SchemaNotReady, ConfigError, budgets.BudgetError) as exc:
            raise click.ClickException(str(exc)) from None
        except DBAPIError as exc:
            raise click.ClickException(f"database error: {exc.orig or exc}".splitlines()[0]) from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.pass_context
def main(ctx: click.Context) -> None:
    """billing-dash: what your AI agents spend, and why. DATABASE_URL selects the database."""
    ctx.obj = Settings.from_env()


def _engine(ctx: click.Context, migrated: bool = True) -> Engine:
    """The database engine; unless `migrated=False`, only once its schema is the newest."""
    engine = db.make_engine(ctx.obj.database_url)
    ctx.call_on_close(engine.dispose)
    if migrated:
        db.check_schema(engine)
    return engine


@main.group("db")
def db_group() -> None:
    """Database schema."""


@db_group.command("upgrade")
@click.pass_context
def db_upgrade(ctx: click.Context) -> None:
    """Create or migrate the schema to the newest version."""
    db.upgrade(_engine(ctx, migrated=False))
    click.echo("database is up to date")


@main.command("config")
def show_config() -> None:
    """Print the settings table (environment variables, defaults, meaning)."""
    click.echo(settings_table())


@main.command("create-org")
@click.argument("name")
@click.option("--timezone", "tz", default="UTC", show_default=True, help="IANA time zone for days and periods.")
@click.pass_context
def create_org(ctx: click.Context, name: str, tz: str) -> None:
    """Create an organization."""
    with _engine(ctx).begin() as conn:
        org = auth.create_org(conn, name, tz)
    click.echo(f"created organization {org.name!r} (time zone {org.timezone})")


@main.command("create-user")
@click.option("--org", required=True, help="Organization name.")
@click.option("--email", required=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True, help="Prompted for when omitted.")
@click.pass_context
def create_user(ctx: click.Context, org: str, email: str, password: str) -> None:
    """Create a dashboard user in an organization."""
    with _engine(ctx).begin() as conn:
        auth.create_user(conn, auth.get_org(conn, org), email, password)
    click.echo(f"created user {email.strip().lower()} in {org!r}")


@main.command("set-password")
@click.option("--email", required=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True, help="Prompted for when omitted.")
@click.pass_context
def set_password(ctx: click.Context, email: str, password: str) -> None:
    """Change a user's password; every session of that user ends."""
    with _engine(ctx).begin() as conn:
        auth.set_password(conn, email, password)
    click.echo(f"password of {email.strip().lower()} changed; their sessions have ended")


@main.command("create-token")
@click.option("--org", required=True, help="Organization name.")
@click.option("--name", default="default", show_default=True, help="A label to find and revoke the token by.")
@click.option(
    "--scope", "scopes", type=click.Choice(auth.SCOPES), multiple=True, help="read and/or ingest; both by default."
)
@click.pass_context
def create_token(ctx: click.Context, org: str, name: str, scopes: tuple[str, ...]) -> None:
    """Create an API token. It is printed once, alone on the last line; only its hash is kept."""
    with _engine(ctx).begin() as conn:
        token = auth.create_token(conn, auth.get_org(conn, org), name, scopes or auth.SCOPES)
    click.echo(
        f"token {name!r} for {org!r} (scopes: {' '.join(scopes or auth.SCOPES)}); store it now, it is not shown again:",
        err=True,
    )
    click.echo(token)


@main.command("revoke-token")
@click.option("--org", required=True, help="Organization name.")
@click.argument("name")
@click.pass_context
def revoke_token(ctx: click.Context, org: str, name: str) -> None:
    """Revoke an API token by its name."""
    with _engine(ctx).begin() as conn:
        auth.revoke_token(conn, auth.get_org(conn, org), name)
    click.echo(f"revoked token {name!r} of {org!r}")


@main.command("set-budget")
@click.option("--org", required=True, help="Organization name.")
@click.argument("agent_id")
@click.argument("tokens", type=click.IntRange(min=0))
@click.pass_context
def set_budget(ctx: click.Context, org: str, agent_id: str, tokens: int) -> None:
    """Set an agent's monthly token budget (0 removes it): `budget set --agent ID --tokens N`."""
    with _engine(ctx).begin() as conn:
        budgets.set_agent_month_tokens(conn, auth.get_org(conn, org).id, agent_id, tokens)
    click.echo(f"budget of {agent_id!r}: {f'{tokens:,} tokens a month' if tokens else 'none'}")


@main.group("budget")
def budget_group() -> None:
    """Budgets of the organization, an agent or a model, in USD and/or tokens."""


@budget_group.command("set")
@click.option("--org", required=True, help="Organization name.")
@click.option("--agent", help="Budget of one agent (by id).")
@click.option("--model", help="Budget of one model.")
@click.option("--usd", help="Limit in USD, e.g. 500 or 12.50.")
@click.option("--tokens", type=click.IntRange(min=1), help="Limit in tokens (prompt + completion).")
@click.option("--period", type=click.Choice(budgets.PERIODS), default="month", show_default=True)
@click.option("--thresholds", default="50,80,100", show_default=True, help="Percents that raise a warning.")
@click.pass_context
def budget_set(
    ctx: click.Context,
    org: str,
    agent: str | None,
    model: str | None,
    usd: str | None,
    tokens: int | None,
    period: str,
    thresholds: str,
) -> None:
    """Create or replace the budget of a scope (the organization without --agent/--model) and period."""
    if agent is not None and model is not None:
        raise click.UsageError("--agent and --model: give at most one")
    scope, scope_id = (
        ("agent", agent) if agent is not None else ("model", model) if model is not None else ("organization", "")
    )
    with _engine(ctx).begin() as conn:
        budget = budgets.set_budget(
            conn,
            auth.get_org(conn, org).id,
            scope,
            scope_id,
            period,
            None if usd is None else budgets.parse_usd(usd),
            tokens,
            budgets.parse_thresholds(thresholds),
        )
    click.echo(f"budget {budget.id}: {_describe(budget)}")


def _describe(budget: budgets.Budget) -> str:
    scope = "organization" if budget.scope == "organization" else f"{budget.scope} {budget.scope_id!r}"
    limits = []
    if budget.limit_usd is not None:
        limits.append(f"${budget.limit_usd.normalize():,f}")
    if budget.limit_tokens is not None:
        limits.append(f"{budget.limit_tokens:,} tokens")
    shown = " and ".join(limits)
    return f"{scope}, {shown} a {budget.period}, thresholds {','.join(map(str, budget.thresholds))}%"


@budget_group.command("list")
@click.option("--org", required=True, help="Organization name.")
@click.pass_context
def budget_list(ctx: click.Context, org: str) -> None:
    """List an organization's budgets with their use in the current period."""
    with _engine(ctx).connect() as conn:
        statuses = budgets.evaluate(conn, auth.get_org(conn, org))
    if not statuses:
        click.echo("no budgets")
    for status in statuses:
        click.echo(
            f"{status.budget.id}\t{_describe(status.budget)}\t{status.start}..{status.end}"
            f"\t{float(status.percent):.1f}% used\t{status.state}"
        )


@budget_group.command("delete")
@click.option("--org", required=True, help="Organization name.")
@click.argument("budget_id", metavar="ID", type=int)
@click.pass_context
def budget_delete(ctx: click.Context, org: str, budget_id: int) -> None:
    """Delete a budget by its id (`budget list` shows it)."""
    with _engine(ctx).begin() as conn:
        budgets.delete_budget(conn, auth.get_org(conn, org).id, budget_id)
    click.echo(f"deleted budget {budget_id}")


def _lines(stream: BinaryIO, bar: tqdm) -> Iterator[bytes]:
    done = 0
    for number, line in enumerate(stream, start=1):
        done += len(line)
        if number % 10000 == 0:  # tqdm per line would cost more than parsing the line
            bar.update(done)
            done = 0
        yield line
    bar.update(done)


def _import(engine: Engine, org_name: str, records: Iterable) -> IngestResult:
    # The import makes millions of short-lived, acyclic objects (reference counting frees them),
    # and the cyclic garbage collector rescanning them took a third of its time.
    gc.disable()
    try:
        with engine.begin() as conn:
            org = auth.get_org(conn, org_name)
            return ingest(conn, org.id, records)
    finally:
        gc.enable()


@main.command("import")
@click.option("--org", required=True, help="Organization name.")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), help="Default: from the file name; - is JSONL.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.pass_context
def import_usage(ctx: click.Context, org: str, fmt: str | None, file: str) -> None:
    """Import usage events from a .jsonl or .csv FILE (or - for JSONL on stdin).

    All or nothing: if any line is invalid nothing is written. Event ids already stored are skipped.
    """
    fmt = fmt or ("csv" if file.lower().endswith(".csv") else "jsonl")
    stream = sys.stdin.buffer if file == "-" else open(file, "rb")  # noqa: SIM115 (the with below closes it)
    size = 0 if file == "-" else os.fstat(stream.fileno()).st_size
    reader = read_csv if fmt == "csv" else read_jsonl
    with (
        stream,
        tqdm(
            total=size or None,
            unit="B",
            unit_scale=True,
            desc="importing",
            file=sys.stderr,
            disable=True if size < PROGRESS_MIN_BYTES else None,
        ) as bar,
    ):
        try:
            result = _import(_engine(ctx), org, reader(_lines(stream, bar)))
        except IngestError as exc:
            bar.close()
            for error in exc.errors:
                click.echo(f"error: {error.describe('line')}", err=True)
            more = " (stopped after the first errors)" if exc.truncated else ""
            raise click.ClickException(
                f"{file}: {len(exc.errors)} invalid line(s){more}; nothing was imported."
            ) from None
    click.echo(
        f"inserted {result.inserted}, skipped {result.skipped} already imported"
        + (f", {result.unpriced} unpriced (no price for their model)" if result.unpriced else "")
    )


@main.command("rebuild-aggregates")
@click.option("--org", help="Organization name (default: all organizations).")
@click.pass_context
def rebuild_aggregates(ctx: click.Context, org: str | None) -> None:
    """Recompute the pre-aggregated usage from the stored events (after a repair or a time zone change)."""
    from .aggregates import rebuild

    with _engine(ctx).begin() as conn:
        events = rebuild(conn, None if org is None else [auth.get_org(conn, org).id])
    click.echo(f"rebuilt aggregates from {events} events")


@main.command("demo-data")
@click.option("--org", required=True, help="Organization name (created when missing).")
@click.option("--days", default=400, show_default=True, type=click.IntRange(1, 3000))
@click.option("--per-day", default=40.0, show_default=True, help="Conversations a day, on average.")
@click.option("--seed", default=7, show_default=True)
@click.pass_context
def demo_data(ctx: click.Context, org: str, days: int, per_day: float, seed: int) -> None:
    """Load realistic demo usage: several agents and models, many conversations, ending now."""
    from .demo import demo_budgets, generate_events

    engine = _engine(ctx)
    with engine.begin() as conn:
        try:
            org_obj = auth.get_org(conn, org)
        except auth.AccountError:
            org_obj = auth.create_org(conn, org, "Europe/Berlin")
        events = enumerate(generate_events(days, per_day, seed))
        result = ingest(conn, org_obj.id, events)
        for agent_id, budget in demo_budgets().items():
            with contextlib.suppress(budgets.BudgetError):  # a short demo may not reach every agent
                budgets.set_agent_month_tokens(conn, org_obj.id, agent_id, budget)
    click.echo(f"demo data for {org!r}: inserted {result.inserted}, skipped {result.skipped}")


@main.command("quickstart")
@click.pass_context
def quickstart(ctx: click.Context) -> None:
    """Migrate, load the demo organization on first run, and print its login (used by `make run`)."""
    engine = _engine(ctx, migrated=False)
    db.upgrade(engine)
    # Each step runs only when its result is missing, so a run interrupted between the demo data
    # (one transaction) and the user is completed by the next one.
    with engine.connect() as conn:
        have_org = conn.execute(select(organizations.c.id).where(organizations.c.name == DEMO_ORG)).first()
    if have_org is None:
        ctx.invoke(demo_data, org=DEMO_ORG)
    with engine.begin() as conn:
        if conn.execute(select(users.c.id).where(users.c.email == DEMO_EMAIL)).first() is None:
            auth.create_user(conn, auth.get_org(conn, DEMO_ORG), DEMO_EMAIL, DEMO_PASSWORD)
    click.echo(f"\n  Demo login: {DEMO_EMAIL} / {DEMO_PASSWORD}\n")


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8050, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Serve the dashboard and API (development server; use gunicorn app:server in production)."""
    from .web.app import create_app

    app = create_app(dev=True)
    if not _is_loopback(host):
        log.warning(
            "serving on %s: other machines can reach this development server; in production run "
            "gunicorn app:server with its own SECRET_KEY",
            host,
        )
    click.echo(f"billing-dash on http://{host}:{port}{DASHBOARD_PATH}")
    app.run(host=host, port=port, debug=False)


def _is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
