"""The `billing-dash` command line: database, accounts, tokens, budgets, imports and the server."""

from __future__ import annotations

import contextlib
import gc
import ipaddress
import logging
import os
import shlex
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

import click
from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import DBAPIError
from tqdm import tqdm

from . import auth, db
from .alerts import budgets
from .alerts.webhooks import FORMATS as WEBHOOK_FORMATS
from .alerts.webhooks import WebhookError
from .config import ConfigError, Settings, settings_table
from .ingest import (
    IngestError,
    IngestResult,
    analyze_after_writing,
    ingest,
    ingest_jsonl,
    read_csv,
    refresh_statistics,
)
from .models import MONEY_SCALE, organizations, users
from .pages import DASHBOARD_PATH
from .periods import PeriodError, local_midnight_utc
from .pricing import Price
from .tags import TagError

DEMO_ORG = "Demo Inc"
DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "demo-password"
# Below this size an import is over before a progress bar would help.
PROGRESS_MIN_BYTES = 4 * 1024 * 1024
# From this size on a JSONL import is parsed by worker processes, one per CPU (up to
# MAX_IMPORT_WORKERS); below it starting them (about a second) would cost more than it saves.
PARALLEL_IMPORT_MIN_BYTES = 32 * 1024 * 1024
MAX_IMPORT_WORKERS = 4
# The highest price per million tokens `prices set` takes (list prices are at most a few hundred).
MAX_PRICE = Decimal(1_000_000)

log = logging.getLogger(__name__)


class _Group(click.Group):
    """Turns expected failures into one clear line on stderr and exit code 1, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (
            auth.AccountError,
            PeriodError,
            db.SchemaNotReady,
            ConfigError,
            budgets.BudgetError,
            WebhookError,
            TagError,
        ) as exc:
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
    engine = _engine(ctx, migrated=False)
    db.upgrade(engine)
    click.echo("database is up to date")
    _load_catalogue_once(engine)


def _load_catalogue_once(engine: Engine) -> None:
    """Load the price catalogue into a database that has none (a new one, or one migrated from
    before the catalogue); later updates are `billing-dash prices update`'s."""
    from .pricing.catalogue import has_catalogue, load_catalogue, package_version

    with engine.begin() as conn:
        if has_catalogue(conn):
            return
        result = load_catalogue(conn)
    click.echo(f"loaded {result.total} catalogue prices (genai-prices {package_version()})")


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


@main.command("set-span-cost")
@click.option("--org", required=True, help="Organization name.")
@click.argument("state", type=click.Choice(["on", "off"]))
@click.pass_context
def set_span_cost(ctx: click.Context, org: str, state: str) -> None:
    """Take OTLP spans' own llm.cost.total as their cost (on), or price their tokens (off, the default)."""
    with _engine(ctx).begin() as conn:
        auth.set_span_cost(conn, auth.get_org(conn, org), state == "on")
    how = "their own llm.cost.total" if state == "on" else "the price catalogue"
    click.echo(f"OTLP spans of {org!r} now cost {how}")


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


@main.group("webhook")
def webhook_group() -> None:
    """Webhooks that receive the organization's alerts (signed JSON or Slack messages)."""


@webhook_group.command("add")
@click.option("--org", required=True, help="Organization name.")
@click.argument("url")
@click.option("--secret", help="Signing secret (16 to 200 characters); generated and printed when omitted.")
@click.option("--format", "fmt", type=click.Choice(WEBHOOK_FORMATS), default="json", show_default=True)
@click.pass_context
def webhook_add(ctx: click.Context, org: str, url: str, secret: str | None, fmt: str) -> None:
    """Send the organization's alerts to URL from now on (alerts created before are not sent)."""
    from .alerts.webhooks import add_webhook

    with _engine(ctx).begin() as conn:
        hook, used_secret = add_webhook(conn, auth.get_org(conn, org).id, url, secret, fmt)
    click.echo(f"webhook {hook.id}: {hook.url} ({hook.format})")
    if secret is None:
        click.echo("signing secret (store it now, it is not shown again):", err=True)
        click.echo(used_secret)


@webhook_group.command("list")
@click.option("--org", required=True, help="Organization name.")
@click.pass_context
def webhook_list(ctx: click.Context, org: str) -> None:
    """List the organization's webhooks (their secrets are not shown)."""
    from .alerts.webhooks import list_webhooks

    with _engine(ctx).connect() as conn:
        hooks = list_webhooks(conn, auth.get_org(conn, org).id)
    if not hooks:
        click.echo("no webhooks")
        return
    rows = [[str(h.id), h.format, h.created_at.isoformat(timespec="seconds"), h.url] for h in hooks]
    click.echo(_table(["id", "format", "created", "url"], rows))


@webhook_group.command("delete")
@click.option("--org", required=True, help="Organization name.")
@click.argument("webhook_id", metavar="ID", type=int)
@click.pass_context
def webhook_delete(ctx: click.Context, org: str, webhook_id: int) -> None:
    """Delete a webhook by its id (`webhook list` shows it) and its pending deliveries."""
    from .alerts.webhooks import delete_webhook

    with _engine(ctx).begin() as conn:
        delete_webhook(conn, auth.get_org(conn, org).id, webhook_id)
    click.echo(f"deleted webhook {webhook_id}")


@webhook_group.command("log")
@click.option("--org", required=True, help="Organization name.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000))
@click.pass_context
def webhook_log(ctx: click.Context, org: str, limit: int) -> None:
    """The newest deliveries: alert, webhook URL, attempts, status, last error, when delivered."""
    from .alerts.webhooks import delivery_log

    with _engine(ctx).connect() as conn:
        deliveries = delivery_log(conn, auth.get_org(conn, org).id, limit)
    if not deliveries:
        click.echo("no deliveries")
        return
    rows = [
        [
            d.alert_key,
            d.url,
            str(d.attempts),
            d.status,
            d.last_error or "",
            "" if d.delivered_at is None else d.delivered_at.isoformat(timespec="seconds"),
            d.next_attempt_at.isoformat(timespec="seconds") if d.status == "pending" else "",
        ]
        for d in deliveries
    ]
    click.echo(_table(["alert", "url", "attempts", "status", "last error", "delivered at", "next attempt"], rows))


@main.group("alerts")
def alerts_group() -> None:
    """Budget, forecast, anomaly and runaway alerts."""


@alerts_group.command("run")
@click.option("--org", help="Organization name (default: all organizations).")
@click.option(
    "--every",
    type=click.IntRange(min=1),
    help="Run again every SECONDS until stopped (what `make run` does in the background); default: once.",
)
@click.pass_context
def alerts_run(ctx: click.Context, org: str | None, every: int | None) -> None:
    """Evaluate every kind of alert and send the due webhook deliveries (idempotent; cron-friendly)."""
    from .alerts.run import run_alerts

    engine = _engine(ctx)
    while True:
        try:
            with engine.connect() as conn:
                org_obj = None if org is None else auth.get_org(conn, org)
            result = run_alerts(engine, ctx.obj, org_obj)
            d = result.delivery
            click.echo(
                f"{len(result.created)} new alert(s); deliveries: {d.delivered} delivered, "
                f"{d.retrying} to retry, {d.failed} failed"
            )
        except DBAPIError as exc:
            if every is None:
                raise
            # A loop outlives a database restart: report it and try again at the next round.
            log.warning("alerts run failed: %s", str(exc.orig or exc).splitlines()[0])
        if every is None:
            return
        time.sleep(every)


def _lines(stream: BinaryIO, bar: tqdm) -> Iterator[bytes]:
    done = 0
    for number, line in enumerate(stream, start=1):
        done += len(line)
        if number % 10000 == 0:  # tqdm per line would cost more than parsing the line
            bar.update(done)
            done = 0
        yield line
    bar.update(done)


def _import(
    engine: Engine, settings: Settings, org_name: str, store: Callable[[Connection, int], IngestResult]
) -> tuple[IngestResult, list[str]]:
    """Store the records (`store(conn, org_id)`) in one transaction, then (committed) create and
    send the threshold alerts they caused; returns the result and those alerts' keys."""
    # The import makes millions of short-lived, acyclic objects (reference counting frees them),
    # and the cyclic garbage collector rescanning them took a third of its time.
    gc.disable()
    try:
        with engine.begin() as conn:
            org = auth.get_org(conn, org_name)
            result = store(conn, org.id)
    finally:
        gc.enable()
    analyze_after_writing(engine, result.inserted)
    created: list[str] = []
    if result.inserted:
        from .alerts.run import after_ingest

        # After the commit: the thresholds this import crossed, sent now (a CLI has time to wait).
        created = after_ingest(engine, settings, org, background=False)
    return result, created


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
            lines = _lines(stream, bar)
            if fmt == "csv":
                result, alerts = _import(
                    _engine(ctx), ctx.obj, org, lambda conn, org_id: ingest(conn, org_id, read_csv(lines))
                )
            else:
                workers = min(os.cpu_count() or 1, MAX_IMPORT_WORKERS) if size >= PARALLEL_IMPORT_MIN_BYTES else 1
                result, alerts = _import(
                    _engine(ctx), ctx.obj, org, lambda conn, org_id: ingest_jsonl(conn, org_id, lines, workers)
                )
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
        + (f", {result.unpriced_line()}" if result.unpriced else "")
    )
    if alerts:
        click.echo(
            f"{len(alerts)} new alert(s): {', '.join(alerts)} (billing-dash webhook log --org {shlex.quote(org)})"
        )
    if result.unpriced:
        model = shlex.quote(min(result.unpriced_models))
        click.echo(
            "their cost counts as 0 until their model has a price: "
            f"billing-dash prices set --org {shlex.quote(org)} {model} --input X --output Y"
            f" && billing-dash reprice --org {shlex.quote(org)} --model {model}"
        )


@main.command("rebuild-aggregates")
@click.option("--org", help="Organization name (default: all organizations).")
@click.pass_context
def rebuild_aggregates(ctx: click.Context, org: str | None) -> None:
    """Recompute the pre-aggregated usage from the stored events (after a repair or a time zone change)."""
    from .aggregates import rebuild

    engine = _engine(ctx)
    with engine.begin() as conn:
        events = rebuild(conn, None if org is None else [auth.get_org(conn, org).id])
    analyze_after_writing(engine, events)
    click.echo(f"rebuilt aggregates from {events} events")


@main.group("tags")
def tags_group() -> None:
    """Tag keys to pre-aggregate: only those can filter (tag.<key>=<value>) and group (groupBy=tag:<key>) reports."""


@tags_group.command("set")
@click.option("--org", required=True, help="Organization name.")
@click.argument("keys", nargs=-1)
@click.pass_context
def tags_set(ctx: click.Context, org: str, keys: tuple[str, ...]) -> None:
    """Pre-aggregate exactly KEYS (none: no key), rebuilding their aggregates from the stored events."""
    from .tags import set_keys

    with _engine(ctx).begin() as conn:
        wanted = set_keys(conn, auth.get_org(conn, org).id, keys)
    click.echo(f"tag keys of {org!r}: {', '.join(wanted) if wanted else 'none'}")


@tags_group.command("list")
@click.option("--org", required=True, help="Organization name.")
@click.pass_context
def tags_list(ctx: click.Context, org: str) -> None:
    """The tag keys the organization pre-aggregates, one a line."""
    from .tags import list_keys

    with _engine(ctx).connect() as conn:
        for key in list_keys(conn, auth.get_org(conn, org).id):
            click.echo(key)


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
    analyze_after_writing(engine, result.inserted)
    click.echo(f"demo data for {org!r}: inserted {result.inserted}, skipped {result.skipped}")
    if result.unpriced:
        click.echo(f"  {result.unpriced_line()}")


def _money_option(ctx: click.Context, param: click.Parameter, value: str | None) -> Decimal | None:
    """A price in USD per million tokens: a decimal from 0 to 1,000,000."""
    if value is None:
        return None
    try:
        amount = Decimal(value.strip())
    except InvalidOperation:
        raise click.BadParameter(f"must be a decimal number of USD per million tokens, got {value!r}") from None
    if not amount.is_finite() or not 0 <= amount <= MAX_PRICE:
        raise click.BadParameter(f"must be from 0 to {MAX_PRICE:,} USD per million tokens, got {value!r}")
    if amount != amount.quantize(Decimal(1).scaleb(-MONEY_SCALE), rounding=ROUND_DOWN):
        raise click.BadParameter(f"has more than {MONEY_SCALE} decimal places: {value!r}")
    return amount


def _date_option(ctx: click.Context, param: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"must be a date YYYY-MM-DD, got {value!r}") from None


@main.group("prices")
def prices_group() -> None:
    """Model prices: the catalogue (genai-prices) and organizations' own prices."""


@prices_group.command("update")
@click.pass_context
def prices_update(ctx: click.Context) -> None:
    """Reload the price catalogue from the installed genai-prices package (no network).

    Events keep their cost; `billing-dash reprice` charges them at the new prices."""
    from .pricing.catalogue import load_catalogue, package_version

    with _engine(ctx).begin() as conn:
        result = load_catalogue(conn)
    click.echo(
        f"catalogue of genai-prices {package_version()}: {result.total} prices "
        f"({result.added} added, {result.changed} changed, {result.removed} removed)"
    )


@prices_group.command("set")
@click.option("--org", required=True, help="Organization name.")
@click.argument("model")
@click.option("--input", "input_", required=True, callback=_money_option, help="USD per million input tokens.")
@click.option("--output", required=True, callback=_money_option, help="USD per million output tokens.")
@click.option("--cache-read", callback=_money_option, help="USD per million cache-read tokens (default: input).")
@click.option("--cache-write", callback=_money_option, help="USD per million cache-write tokens (default: input).")
@click.option(
    "--from", "start", callback=_date_option, help="First day (organization's zone) it applies; default: always."
)
@click.pass_context
def prices_set(
    ctx: click.Context,
    org: str,
    model: str,
    input_: Decimal,
    output: Decimal,
    cache_read: Decimal | None,
    cache_write: Decimal | None,
    start: date | None,
) -> None:
    """Set an organization's own price for MODEL (overrides the catalogue for it from --from on).

    Events already stored keep their cost until `billing-dash reprice`."""
    from .pricing import Price, set_org_price
    from .pricing.catalogue import FIRST_INSTANT

    model = model.strip()
    if not model or len(model) > 200:
        raise click.BadParameter("must be 1 to 200 characters", param_hint="MODEL")
    with _engine(ctx).begin() as conn:
        org_obj = auth.get_org(conn, org)
        instant = FIRST_INSTANT if start is None else max(local_midnight_utc(start, org_obj.timezone), FIRST_INSTANT)
        replaced = set_org_price(conn, org_obj.id, model, Price(input_, output, cache_read, cache_write), instant)
    since = "always" if start is None else f"from {start.isoformat()}"
    click.echo(
        f"{'replaced' if replaced else 'set'} the price of {model!r} for {org!r} ({since}): input {input_}, "
        f"output {output}, cache read {cache_read if cache_read is not None else input_}, "
        f"cache write {cache_write if cache_write is not None else input_} USD per million tokens"
    )
    click.echo(
        f"stored events keep their cost: billing-dash reprice --org {shlex.quote(org)} --model {shlex.quote(model)}"
    )


def _usd(amount: Decimal) -> str:
    return format(amount.normalize(), "f")


def _price_cells(price: Price) -> list[str]:
    return [
        _usd(price.input),
        _usd(price.output),
        "=input" if price.cache_read is None else _usd(price.cache_read),
        "=input" if price.cache_write is None else _usd(price.cache_write),
    ]


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in [header, *rows])


@prices_group.command("list")
@click.option("--org", help="Organization name: its own prices, and what its models resolve to.")
@click.option("--model", help="A model name as events carry it: the price entry it resolves to, by date.")
@click.pass_context
def prices_list(ctx: click.Context, org: str | None, model: str | None) -> None:
    """Show the prices that apply (USD per million tokens), newest first per model."""
    from .models import model_prices
    from .pricing import PriceBook

    header = ["source", "provider", "model", "from", "input", "output", "cache read", "cache write"]
    with _engine(ctx).connect() as conn:
        org_obj = None if org is None else auth.get_org(conn, org)
        org_id = None if org_obj is None else org_obj.id

        def day(source: str, start: datetime) -> str:
            # An organization's price starts on a local day of its zone; the catalogue's on UTC days.
            zone = ZoneInfo(org_obj.timezone) if org_obj is not None and source == "organization" else UTC
            return start.astimezone(zone).date().isoformat()

        if model is not None:
            entries = PriceBook(conn, org_id).entries(model)
            if not entries:
                raise click.ClickException(
                    f"{model!r} has no price{f' for {org!r}' if org else ''}: its events count as unpriced. "
                    f"Set one: billing-dash prices set --org {shlex.quote(org or 'ORG')} {shlex.quote(model)}"
                    " --input X --output Y"
                )
            rows = [
                [entry.source, entry.provider, entry.name, day(entry.source, start), *_price_cells(price)]
                for entry in entries
                for start, price in reversed([(s, c.price) for s, c in zip(entry.starts, entry.charges, strict=True)])
            ]
            shown = " then ".join(f"{e.source} price {e.name!r}" for e in entries)
            click.echo(f"{model!r} resolves to {shown} (each from its first date)")
            click.echo(_table(header, rows))
            return
        query = select(model_prices).order_by(
            model_prices.c.source.desc(),
            model_prices.c.provider,
            model_prices.c.model,
            model_prices.c.effective_from.desc(),
        )
        query = query.where(
            model_prices.c.organization_id.is_(None) if org_id is None else model_prices.c.organization_id == org_id
        )
        rows = [
            [
                r.source,
                r.provider,
                r.model,
                day(r.source, r.effective_from),
                *_price_cells(
                    Price(
                        r.prompt_per_million,
                        r.completion_per_million,
                        r.cache_read_per_million,
                        r.cache_write_per_million,
                    )
                ),
            ]
            for r in conn.execute(query)
        ]
    if org is not None and not rows:
        click.echo(f"{org!r} has no prices of its own; the catalogue applies (billing-dash prices list)")
        return
    click.echo(_table(header, rows))


@main.command("reprice")
@click.option("--org", required=True, help="Organization name.")
@click.option("--since", callback=_date_option, help="First day (organization's zone) to re-price; default: all.")
@click.option("--model", help="Only events of this model (as they name it, or as priced).")
@click.option("--dry-run", is_flag=True, help="Show what would change; write nothing.")
@click.pass_context
def reprice_command(ctx: click.Context, org: str, since: date | None, model: str | None, dry_run: bool) -> None:
    """Charge the events that came without a cost at the prices in effect now, and update the
    aggregates in the same transaction. Events whose cost was given keep it."""
    from .pricing.reprice import RepriceError, reprice

    engine = _engine(ctx)
    with engine.connect() as conn, conn.begin() as transaction:
        org_obj = auth.get_org(conn, org)
        start = None if since is None else local_midnight_utc(since, org_obj.timezone)
        try:
            changes = reprice(conn, org_obj.id, start, model, write=not dry_run)
        except RepriceError as exc:
            raise click.ClickException(f"{exc}; nothing was changed") from None
        if dry_run:  # it wrote nothing, and releases the organization's lock now
            transaction.rollback()
    if not dry_run and any(c.changed for c in changes):
        # A re-pricing that changed a cost rebuilt the organization's aggregates (pricing.reprice).
        refresh_statistics(engine)
    six = Decimal("0.000001")
    rows = [
        [
            c.model,
            str(c.events),
            str(c.changed),
            str(c.old_cost.quantize(six)),
            str(c.new_cost.quantize(six)),
            str(c.unpriced_after),
        ]
        for c in changes
    ]
    click.echo(_table(["model", "events", "changed", "old cost", "new cost", "unpriced"], rows))
    changed = sum(c.changed for c in changes)
    old = sum((c.old_cost for c in changes), Decimal(0)).quantize(six)
    new = sum((c.new_cost for c in changes), Decimal(0)).quantize(six)
    verb = "would change" if dry_run else "changed"
    click.echo(
        f"{verb} {changed} of {sum(c.events for c in changes)} events: cost {old} -> {new} USD"
        + (" (dry run: nothing written)" if dry_run else "")
    )


@main.command("quickstart")
@click.pass_context
def quickstart(ctx: click.Context) -> None:
    """Migrate, load the demo organization on first run, and print its login (used by `make run`)."""
    engine = _engine(ctx, migrated=False)
    db.upgrade(engine)
    _load_catalogue_once(engine)
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
@click.option(
    "--alerts-every",
    default=60,
    show_default=True,
    type=click.IntRange(min=0),
    help="Run `alerts run` every SECONDS in a background thread (0: never).",
)
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, alerts_every: int) -> None:
    """Serve the dashboard and API (development server; use gunicorn app:server in production)."""
    from .web.app import create_app

    app = create_app(dev=True)
    if alerts_every:
        # One process (no reloader), so one loop; a cron job or a second server running alerts
        # at the same time is harmless: the database makes each alert and each delivery once.
        threading.Thread(target=_alerts_loop, args=(ctx.obj, alerts_every), name="alerts-run", daemon=True).start()
    if not _is_loopback(host):
        log.warning(
            "serving on %s: other machines can reach this development server; in production run "
            "gunicorn app:server with its own SECRET_KEY",
            host,
        )
    click.echo(f"billing-dash on http://{host}:{port}{DASHBOARD_PATH}")
    app.run(host=host, port=port, debug=False)


def _alerts_loop(settings: Settings, every: int) -> None:
    """`alerts run` every `every` seconds until the process ends; a failure is logged and the
    next round tries again (the outbox keeps what was not sent)."""
    from .alerts.run import run_alerts

    engine = db.make_engine(settings.database_url)
    while True:
        try:
            result = run_alerts(engine, settings)
            if result.created or result.delivery.attempted:
                d = result.delivery
                log.info(
                    "alerts: %d new; deliveries: %d delivered, %d to retry, %d failed",
                    len(result.created),
                    d.delivered,
                    d.retrying,
                    d.failed,
                )
        except Exception:
            log.exception("alerts run failed; trying again in %d s", every)
        time.sleep(every)


def _is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
