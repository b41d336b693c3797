"""Table definitions shared by the migrations, the query layer and the ingest path."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine

from .filters import TAG_PARAM_PREFIX
from .limits import MAX_EMAIL, MAX_ID, MAX_NAME, MAX_ORG_NAME, MAX_TAG_KEY, MAX_TAG_VALUE, MAX_TITLE, MAX_TOKEN_NAME

# Money keeps 10 decimal places: a price of $0.075 per million tokens is $7.5e-8 a token.
MONEY_SCALE = 10
_QUANTUM = Decimal(1).scaleb(-MONEY_SCALE)


class Money(TypeDecorator[Decimal]):
    """Exact money: NUMERIC on PostgreSQL, a scaled integer on SQLite (which has no decimal type).

    SQLite would otherwise store floats and sum them with rounding error; as integers of
    1e-10 dollars its SUM() stays exact and the same SQL text serves both databases.
    """

    impl = Numeric(38, MONEY_SCALE)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(38, MONEY_SCALE, asdecimal=True))

    def process_bind_param(self, value: Decimal | int | str | None, dialect: Dialect) -> Decimal | int | None:
        if value is None:
            return None
        value = Decimal(value).quantize(_QUANTUM)
        if dialect.name == "sqlite":
            return int(value.scaleb(MONEY_SCALE))
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return Decimal(int(value)).scaleb(-MONEY_SCALE)
        return Decimal(value)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC instants on both databases (SQLite stores naive UTC text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: billing timestamps must carry a UTC offset")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | str | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

organizations = Table(
    "organizations",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(MAX_ORG_NAME), nullable=False, unique=True),
    Column("timezone", String(64), nullable=False, server_default="UTC"),
    Column("created_at", UTCDateTime, nullable=False),
    # The longest time between a conversation's first and last message: conversations that
    # cross a period's start began at most this long before it.
    Column("max_conversation_seconds", BigInteger, nullable=False, server_default="0"),
    # Whether OTLP spans' own llm.cost.total is taken as their cost (else their tokens are priced
    # by the catalogue, as events without a cost are): `billing-dash set-span-cost`.
    Column("span_cost", Boolean, nullable=False, server_default=false()),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("organization_id", Integer, ForeignKey("organizations.id"), nullable=False),
    Column("email", String(MAX_EMAIL), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    # Part of every login session (flask-login's user id is "id:token"): a new token at logout and
    # at a password change ends every session of the user, copies of the cookie included.
    Column("session_token", String(64), nullable=False),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("organization_id", Integer, ForeignKey("organizations.id"), nullable=False),
    Column("name", String(MAX_TOKEN_NAME), nullable=False),
    # SHA-256 of the token: tokens are 256 random bits, so a fast hash is enough.
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("scopes", String(100), nullable=False, server_default="read ingest"),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_used_at", UTCDateTime),
    Column("revoked_at", UTCDateTime),
    UniqueConstraint("organization_id", "name"),
)

agents = Table(
    "agents",
    metadata,
    Column("organization_id", Integer, ForeignKey("organizations.id"), primary_key=True),
    Column("id", String(MAX_ID), primary_key=True),
    Column("name", String(MAX_NAME), nullable=False),
    # When the event that gave the name happened (None: no event named the agent; name is its id).
    Column("name_ts", UTCDateTime),
)

conversations = Table(
    "conversations",
    metadata,
    Column("organization_id", Integer, ForeignKey("organizations.id"), primary_key=True),
    Column("id", String(MAX_ID), primary_key=True),
    Column("title", String(MAX_TITLE), nullable=False),
    Column("agent_id", String(MAX_ID), nullable=False),
    # When the events that set the title and the agent happened: the newest stored event wins.
    Column("title_ts", UTCDateTime),
    Column("agent_ts", UTCDateTime),
    ForeignKeyConstraint(["organization_id", "agent_id"], ["agents.organization_id", "agents.id"]),
)


def usage_event_columns() -> list[Column]:
    """Columns of one stored event; also those of the temporary tables the ingest stages in."""
    return [
        Column("organization_id", Integer, nullable=False),
        Column("event_id", String(MAX_ID), nullable=False),
        Column("ts", UTCDateTime, nullable=False),
        Column("agent_id", String(MAX_ID), nullable=False),
        Column("conversation_id", String(MAX_ID), nullable=False),
        Column("model", String(MAX_ID), nullable=False),
        Column("prompt_tokens", BigInteger, nullable=False),
        Column("completion_tokens", BigInteger, nullable=False),
        Column("cost", Money, nullable=False),
        # False when the model had no price at the event's time: cost is 0 and reported as unpriced.
        Column("priced", Boolean, nullable=False),
        # The input carried the cost: re-pricing leaves it as sent.
        Column("cost_given", Boolean, nullable=False, server_default=false()),
        # What computed the cost (None when given or unpriced): the price entry's model name and
        # the model_prices row charged, so a re-pricing can say what changed.
        Column("priced_as", String(200)),
        Column("price_id", Integer),
        # Parts of prompt_tokens (cache reads, cache writes) and of completion_tokens (reasoning).
        Column("cache_read_tokens", BigInteger, nullable=False, server_default="0"),
        Column("cache_write_tokens", BigInteger, nullable=False, server_default="0"),
        Column("reasoning_tokens", BigInteger, nullable=False, server_default="0"),
        # What the cache reads cost less than at the input price, at the price in effect at the
        # event's time (0 without one); also for events that came with their own cost.
        Column("cache_savings", Money, nullable=False, server_default="0"),
        # The event's tags as canonical JSON (keys sorted, no spaces; ingest.parse), None without tags.
        Column("tags", Text),
    ]


usage_events = Table(
    "usage_events",
    metadata,
    *usage_event_columns(),
    # No foreign key to organizations: its per-row check halves the import rate, and the
    # organization id always comes from an authenticated caller, never from the input.
    PrimaryKeyConstraint("organization_id", "event_id"),
    Index("ix_usage_events_org_ts", "organization_id", "ts"),
    # The unpriced events of a period (the report names their models); partial, see migration 0011.
    Index(
        "ix_usage_events_unpriced",
        "organization_id",
        "ts",
        postgresql_where=text("NOT priced"),
        sqlite_where=text("NOT priced"),
    ),
)

# Pre-aggregated usage, maintained in the transaction that stores the events, so a report
# reads rows whose number does not grow with the number of messages.


class UsageSum(NamedTuple):
    """A sum that every usage aggregate keeps: its column, its type, and what one event adds to
    it (SQL over an event row, `{e}` standing for its alias). queries.py expands the lists of the
    SQL files from these, so a new kind of tokens is one line here plus its migration."""

    name: str
    type: type
    per_event: str


USAGE_SUMS = (
    UsageSum("prompt_tokens", BigInteger, "{e}.prompt_tokens"),
    UsageSum("completion_tokens", BigInteger, "{e}.completion_tokens"),
    UsageSum("cost", Money, "{e}.cost"),
    UsageSum("message_count", BigInteger, "1"),
    UsageSum("unpriced_count", BigInteger, "CASE WHEN {e}.priced THEN 0 ELSE 1 END"),
    UsageSum("cache_read_tokens", BigInteger, "{e}.cache_read_tokens"),
    UsageSum("cache_write_tokens", BigInteger, "{e}.cache_write_tokens"),
    UsageSum("reasoning_tokens", BigInteger, "{e}.reasoning_tokens"),
    UsageSum("cache_savings", Money, "{e}.cache_savings"),
)


def _usage_sums() -> list[Column]:
    """The sums an aggregate of usage keeps per key."""
    return [Column(s.name, s.type, nullable=False) for s in USAGE_SUMS]


# Per 15 minutes (UTC): every IANA zone's offset since ingest.FIRST_INSTANT (1980), the earliest
# event, is a whole number of quarter hours, so local days of any zone are exact sums of these buckets.
usage_quarter = Table(
    "usage_quarter",
    metadata,
    Column("organization_id", Integer, primary_key=True),
    Column("bucket", UTCDateTime, primary_key=True),
    *_usage_sums(),
)

# Per local day of the organization's time zone: its own daily chart, a row a day.
usage_day = Table(
    "usage_day",
    metadata,
    Column("organization_id", Integer, primary_key=True),
    Column("day", Date, primary_key=True),
    *_usage_sums(),
)


def _agent_model_totals(name: str, period: str) -> Table:
    """Usage per `period` (a local day or month of the organization's zone, as a date), agent and model."""
    return Table(
        name,
        metadata,
        Column("organization_id", Integer, primary_key=True),
        Column(period, Date, primary_key=True),
        Column("agent_id", String(MAX_ID), primary_key=True),
        Column("model", String(MAX_ID), primary_key=True),
        *_usage_sums(),
    )


usage_daily = _agent_model_totals("usage_daily", "day")
# usage_daily summed per month (`month` is its first day): a report's agents and models read whole
# months here and only the other days from usage_daily (a year of 50 agents and 8 models: about
# 4,400 rows instead of 146,000).
usage_monthly = _agent_model_totals("usage_monthly", "month")

# Per local day of the organization's time zone, conversation, agent and model: distinct counts and
# the costliest conversations stay exact, also for a report filtered by agent or model.
conversation_daily = Table(
    "conversation_daily",
    metadata,
    Column("organization_id", Integer, primary_key=True),
    Column("day", Date, primary_key=True),
    Column("conversation_id", String(MAX_ID), primary_key=True),
    Column("agent_id", String(MAX_ID), primary_key=True),
    Column("model", String(MAX_ID), primary_key=True),
    Column("total_tokens", BigInteger, nullable=False),
    Column("cost", Money, nullable=False),
    Column("message_count", BigInteger, nullable=False),
    Index("ix_conversation_daily_conversation", "organization_id", "conversation_id", "day"),
    # An agent filter reads its agents' days only (migration 0015).
    Index("ix_conversation_daily_agent", "organization_id", "agent_id", "day"),
)

# Per conversation: its whole-life totals and first and last message, once for the conversation
# (agent_id ALL_AGENTS) and once per agent in it. A conversation that lies inside a period adds
# its totals as they are; only the few that cross the period's edges are summed from days.
ALL_AGENTS = ""
conversation_totals = Table(
    "conversation_totals",
    metadata,
    Column("organization_id", Integer, primary_key=True),
    Column("conversation_id", String(MAX_ID), primary_key=True),
    Column("agent_id", String(MAX_ID), primary_key=True),
    Column("first_ts", UTCDateTime, nullable=False),
    Column("last_ts", UTCDateTime, nullable=False),
    Column("total_tokens", BigInteger, nullable=False),
    Column("cost", Money, nullable=False),
    Column("message_count", BigInteger, nullable=False),
    Index("ix_conversation_totals_first", "organization_id", "first_ts", "last_ts", "agent_id"),
    # The costliest conversations, whole (agent_id '') or one agent's (top_conversations).
    Index("ix_conversation_totals_cost", "organization_id", "agent_id", "cost"),
    # The latest conversations (conversation_list, sort 'last').
    Index("ix_conversation_totals_last", "organization_id", "agent_id", "last_ts"),
)

# Per local day of the organization's zone and agent (ALL_AGENTS too): conversations whose first
# message fell on that day, so counting a year's conversations reads a year of days.
conversation_starts = Table(
    "conversation_starts",
    metadata,
    Column("organization_id", Integer, primary_key=True),
    Column("day", Date, primary_key=True),
    Column("agent_id", String(MAX_ID), primary_key=True),
    Column("started", BigInteger, nullable=False),
)

# Per conversation, as conversation_totals, but of its messages of one model (dimension `model`)
# or of one value of a pre-aggregated tag key (dimension `tag.<key>`, the filter's parameter), once
# for the conversation (agent_id ALL_AGENTS) and once per agent: a report filtered to one model or
# one tag value (and at most one agent) ranks and counts these parts as an unfiltered one does
# whole conversations, instead of summing every kept conversation's days.
MAX_DIMENSION = len(TAG_PARAM_PREFIX) + MAX_TAG_KEY
conversation_parts = Table(
    "conversation_parts",
    metadata,
    Column("organization_id", Integer, primary_key=True),
    Column("conversation_id", String(MAX_ID), primary_key=True),
    Column("dimension", String(MAX_DIMENSION), primary_key=True),
    Column("value", String(max(MAX_ID, MAX_TAG_VALUE)), primary_key=True),
    Column("agent_id", String(MAX_ID), primary_key=True),
    Column("first_ts", UTCDateTime, nullable=False),
    Column("last_ts", UTCDateTime, nullable=False),
    Column("total_tokens", BigInteger, nullable=False),
    Column("cost", Money, nullable=False),
    Column("message_count", BigInteger, nullable=False),
    Index("ix_conversation_parts_first", "organization_id", "dimension", "value", "first_ts", "last_ts", "agent_id"),
    Index("ix_conversation_parts_cost", "organization_id", "dimension", "value", "agent_id", "cost"),
)

# Per local day of the organization's zone, model or tag value, and agent (ALL_AGENTS too): the
# conversation parts whose first message fell on that day, as conversation_starts counts whole ones.
conversation_part_starts = Table(
    "conversation_part_starts",
    metadata,
    Column("organization_id", Integer, primary_key=True),
    Column("dimension", String(MAX_DIMENSION), primary_key=True),
    Column("value", String(max(MAX_ID, MAX_TAG_VALUE)), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("agent_id", String(MAX_ID), primary_key=True),
    Column("started", BigInteger, nullable=False),
)

AGGREGATES = (
    usage_quarter,
    usage_day,
    usage_daily,
    usage_monthly,
    conversation_daily,
    conversation_totals,
    conversation_starts,
    conversation_parts,
    conversation_part_starts,
)

# The tag keys an organization pre-aggregates (`billing-dash tags set`); other keys stay in the
# events only and cannot be filtered or grouped by.
tag_keys = Table(
    "tag_keys",
    metadata,
    Column("organization_id", Integer, ForeignKey("organizations.id"), primary_key=True),
    Column("tag_key", String(MAX_TAG_KEY), primary_key=True),
)

# The distinct values of each pre-aggregated key: their number is limited (limits.MAX_TAG_VALUES).
tag_values = Table(
    "tag_values",
    metadata,
    Column("organization_id", Integer, primary_key=True),
    Column("tag_key", String(MAX_TAG_KEY), primary_key=True),
    Column("tag_value", String(MAX_TAG_VALUE), primary_key=True),
)

# Per pre-aggregated key and value, local day of the organization's zone, agent and model: a tag
# filter or grouping reads these as an unfiltered report reads usage_daily. Events without the key
# have no row (their usage is usage_daily's minus these rows').
tag_daily = Table(
    "tag_daily",
    metadata,
    Column("organization_id", Integer, primary_key=True),
    Column("tag_key", String(MAX_TAG_KEY), primary_key=True),
    Column("tag_value", String(MAX_TAG_VALUE), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("agent_id", String(MAX_ID), primary_key=True),
    Column("model", String(MAX_ID), primary_key=True),
    *_usage_sums(),
    Index("ix_tag_daily_key_day", "organization_id", "tag_key", "day"),
)


def _tag_totals(name: str, period: str) -> Table:
    """Per pre-aggregated key and value and `period` (a local day or month of the organization's
    zone, as a date), summed over agents and models."""
    return Table(
        name,
        metadata,
        Column("organization_id", Integer, primary_key=True),
        Column("tag_key", String(MAX_TAG_KEY), primary_key=True),
        Column("tag_value", String(MAX_TAG_VALUE), primary_key=True),
        Column(period, Date, primary_key=True),
        *_usage_sums(),
        Index(f"ix_{name}_key_{period}", "organization_id", "tag_key", period),
    )


# tag_daily summed over agents and models, as usage_day is usage_daily, for a tag grouping or filter
# of all agents and models.
tag_day = _tag_totals("tag_day", "day")
# tag_day summed per month (`month` is its first day): a tag grouping of a year reads a row per
# value and whole month, and tag_day only for the days before the first and after the last.
tag_month = _tag_totals("tag_month", "month")
# Per pre-aggregated key and value, local day of the organization's zone, conversation, agent and
# model: the conversation figures of a tag filter, read as a filter without one reads conversation_daily.
tag_conversation_daily = Table(
    "tag_conversation_daily",
    metadata,
    Column("organization_id", Integer, primary_key=True),
    Column("tag_key", String(MAX_TAG_KEY), primary_key=True),
    Column("tag_value", String(MAX_TAG_VALUE), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("conversation_id", String(MAX_ID), primary_key=True),
    Column("agent_id", String(MAX_ID), primary_key=True),
    Column("model", String(MAX_ID), primary_key=True),
    Column("total_tokens", BigInteger, nullable=False),
    Column("cost", Money, nullable=False),
    Column("message_count", BigInteger, nullable=False),
)
TAG_AGGREGATES = (tag_daily, tag_day, tag_month, tag_conversation_daily, tag_values)
# What an import, a rebuild of the aggregates or a re-pricing writes: ANALYZEd after it commits,
# and on PostgreSQL the tables reports read (all but the events) vacuumed too (sql/analyze_pg).
READ_BY_REPORTS = (agents, conversations, *AGGREGATES, *TAG_AGGREGATES)
WRITTEN_BY_IMPORT = (usage_events, *READ_BY_REPORTS)

# Where a price comes from: hand-written rows (the seed of migration 0001, tests' own), the
# catalogue loaded from genai-prices (`billing-dash prices update`) and an organization's own
# (`billing-dash prices set`), which only that organization sees.
PRICE_SOURCES = ("manual", "catalogue", "organization")

model_prices = Table(
    "model_prices",
    metadata,
    # A surrogate key: catalogue rows have no organization, so it cannot be part of the key.
    Column("id", Integer, primary_key=True),
    Column("source", String(16), nullable=False, server_default="manual"),
    Column("organization_id", Integer),
    Column("provider", String(64), nullable=False, server_default=""),
    Column("model", String(MAX_ID), nullable=False, index=True),
    Column("effective_from", UTCDateTime, nullable=False),
    Column("prompt_per_million", Money, nullable=False),
    Column("completion_per_million", Money, nullable=False),
    # None: the model bills cached input at the input price (no discount, no surcharge).
    Column("cache_read_per_million", Money),
    Column("cache_write_per_million", Money),
)

# Spending limits of the organization, one agent or one model, in USD and/or tokens, per calendar
# month, week (from Monday) or day of the organization's zone (alerts/budgets.py). One row per
# scope and period: scope_id is '' for the organization. Thresholds are percents ("50,80,100");
# the id and a period's start name a period of a budget, so a crossing can be recorded once.
budgets = Table(
    "budgets",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("organization_id", Integer, ForeignKey("organizations.id"), nullable=False),
    Column("scope", String(20), nullable=False),
    Column("scope_id", String(200), nullable=False),
    Column("period", String(10), nullable=False),
    Column("limit_usd", Money),
    Column("limit_tokens", BigInteger),
    Column("thresholds", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("organization_id", "scope", "scope_id", "period"),
)

# Where alerts go: an organization's webhook URLs, each with its signing secret and payload
# format (json or slack). See alerts/webhooks.py.
webhooks = Table(
    "webhooks",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("organization_id", Integer, ForeignKey("organizations.id"), nullable=False, index=True),
    Column("url", String(2000), nullable=False),
    Column("secret", String(200), nullable=False),
    Column("format", String(10), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

# One row per alert: the UNIQUE idempotency key (e.g. threshold:<budget>:<period start>:<percent>)
# makes concurrent or repeated evaluations create it once. The payload is the JSON sent, as it
# was when the alert was created.
alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("organization_id", Integer, ForeignKey("organizations.id"), nullable=False),
    Column("idempotency_key", String(600), nullable=False, unique=True),
    Column("kind", String(20), nullable=False),
    Column("budget_id", Integer),
    Column("period_start", Date),
    Column("message", String(2000), nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_alerts_org_created", "organization_id", "created_at"),
)

# The outbox: an alert's delivery to one webhook, sent at least once (status pending, delivered
# or failed after the last attempt); next_attempt_at is both the backoff and a claim's lease.
alert_deliveries = Table(
    "alert_deliveries",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("alert_id", Integer, ForeignKey("alerts.id"), nullable=False),
    Column("webhook_id", Integer, ForeignKey("webhooks.id"), nullable=False, index=True),
    Column("status", String(10), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("last_error", String(500)),
    Column("delivered_at", UTCDateTime),
    UniqueConstraint("alert_id", "webhook_id"),
    Index("ix_alert_deliveries_due", "status", "next_attempt_at"),
)

__all__ = [
    "AGGREGATES",
    "ALL_AGENTS",
    "PRICE_SOURCES",
    "TAG_AGGREGATES",
    "USAGE_SUMS",
    "Money",
    "UTCDateTime",
    "agents",
    "alert_deliveries",
    "alerts",
    "api_tokens",
    "budgets",
    "conversation_daily",
    "conversation_starts",
    "conversation_totals",
    "conversations",
    "metadata",
    "model_prices",
    "organizations",
    "tag_conversation_daily",
    "tag_daily",
    "tag_keys",
    "tag_values",
    "usage_daily",
    "usage_day",
    "usage_events",
    "usage_quarter",
    "users",
    "webhooks",
]
