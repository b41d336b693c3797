"""Initial schema: organizations, users, tokens, agents, conversations, usage events, prices.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from datetime import UTC, datetime
from decimal import Decimal

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# models.Money when this revision was written: NUMERIC(20,10), on SQLite 64-bit integers of 1e-10 dollars.
Money = sa.Numeric(20, 10).with_variant(sa.BigInteger(), "sqlite")
# models.UTCDateTime's column: timestamptz on PostgreSQL; on SQLite naive UTC text (see the seed below).
UTCDateTime = sa.DateTime(timezone=True)

# USD per million tokens (prompt, completion), list prices of late 2025.
SEED_PRICES = {
    "gpt-4o": ("2.50", "10.00"),
    "gpt-4o-mini": ("0.15", "0.60"),
    "gpt-4.1": ("2.00", "8.00"),
    "gpt-4.1-mini": ("0.40", "1.60"),
    "gpt-4.1-nano": ("0.10", "0.40"),
    "gpt-5": ("1.25", "10.00"),
    "gpt-5-mini": ("0.25", "2.00"),
    "o3": ("2.00", "8.00"),
    "o4-mini": ("1.10", "4.40"),
    "gpt-4": ("30.00", "60.00"),
    "gpt-4-turbo": ("10.00", "30.00"),
    "gpt-3.5-turbo": ("0.50", "1.50"),
    "claude-opus-4": ("15.00", "75.00"),
    "claude-sonnet-4": ("3.00", "15.00"),
    "claude-3-5-sonnet": ("3.00", "15.00"),
    "claude-3-5-haiku": ("0.80", "4.00"),
    "claude-3-haiku": ("0.25", "1.25"),
    "gemini-2.5-pro": ("1.25", "10.00"),
    "gemini-2.5-flash": ("0.30", "2.50"),
    "gemini-2.0-flash": ("0.10", "0.40"),
    "gemini-1.5-flash": ("0.075", "0.30"),
    "mistral-large": ("2.00", "6.00"),
    "mistral-small": ("0.20", "0.60"),
}
SEED_FROM = datetime(2020, 1, 1, tzinfo=UTC)

LOCAL_DATE_PG = """
CREATE OR REPLACE FUNCTION local_date(ts timestamptz, tz text) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT (ts AT TIME ZONE tz)::date $$
"""


def upgrade() -> None:
    op.create_table(
        "organizations",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("timezone", sa.String(64), nullable=False, server_default="UTC"),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("organization_id", sa.Integer, sa.ForeignKey("organizations.id"), nullable=False),
        sa.Column("email", sa.String(320), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("organization_id", sa.Integer, sa.ForeignKey("organizations.id"), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("scopes", sa.String(100), nullable=False, server_default="read ingest"),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("last_used_at", UTCDateTime),
        sa.Column("revoked_at", UTCDateTime),
        sa.UniqueConstraint("organization_id", "name"),
    )
    op.create_table(
        "agents",
        sa.Column("organization_id", sa.Integer, sa.ForeignKey("organizations.id"), primary_key=True),
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("monthly_token_budget", sa.BigInteger),
    )
    op.create_table(
        "conversations",
        sa.Column("organization_id", sa.Integer, sa.ForeignKey("organizations.id"), primary_key=True),
        sa.Column("id", sa.String(200), primary_key=True),
        sa.Column("title", sa.String(1000), nullable=False),
        sa.Column("agent_id", sa.String(200), nullable=False),
        sa.ForeignKeyConstraint(["organization_id", "agent_id"], ["agents.organization_id", "agents.id"]),
    )
    op.create_table(
        "usage_events",
        # No foreign key: its per-row check halves the import rate, and the organization id
        # always comes from an authenticated caller, never from the input.
        sa.Column("organization_id", sa.Integer, primary_key=True),
        sa.Column("event_id", sa.String(200), primary_key=True),
        sa.Column("ts", UTCDateTime, nullable=False),
        sa.Column("agent_id", sa.String(200), nullable=False),
        sa.Column("conversation_id", sa.String(200), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("prompt_tokens", sa.BigInteger, nullable=False),
        sa.Column("completion_tokens", sa.BigInteger, nullable=False),
        sa.Column("cost", Money, nullable=False),
        sa.Column("priced", sa.Boolean, nullable=False),
    )
    op.create_index("ix_usage_events_org_ts", "usage_events", ["organization_id", "ts"])
    prices = op.create_table(
        "model_prices",
        sa.Column("model", sa.String(200), primary_key=True),
        sa.Column("effective_from", UTCDateTime, primary_key=True),
        sa.Column("prompt_per_million", Money, nullable=False),
        sa.Column("completion_per_million", Money, nullable=False),
    )
    sqlite = op.get_bind().dialect.name == "sqlite"

    def money(text: str):
        return int(Decimal(text).scaleb(10)) if sqlite else Decimal(text)

    seed_from = SEED_FROM.replace(tzinfo=None) if sqlite else SEED_FROM

    op.bulk_insert(
        prices,
        [
            {
                "model": model,
                "effective_from": seed_from,
                "prompt_per_million": money(prompt),
                "completion_per_million": money(completion),
            }
            for model, (prompt, completion) in SEED_PRICES.items()
        ],
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(LOCAL_DATE_PG)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS local_date(timestamptz, text)")
    for table in ("model_prices", "usage_events", "conversations", "agents", "api_tokens", "users", "organizations"):
        op.drop_table(table)
