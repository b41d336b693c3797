"""Pre-aggregated usage: per quarter hour, per local day x agent x model, per day x conversation.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# models.Money when this revision was written: NUMERIC(20,10), on SQLite 64-bit integers of 1e-10 dollars.
Money = sa.Numeric(20, 10).with_variant(sa.BigInteger(), "sqlite")
# models.UTCDateTime's column: timestamptz on PostgreSQL, naive UTC text on SQLite.
UTCDateTime = sa.DateTime(timezone=True)

QUARTER_START_PG = """
CREATE OR REPLACE FUNCTION quarter_start(ts timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT date_bin('15 minutes', ts, TIMESTAMPTZ '2000-01-01 00:00:00+00') $$
"""


def _sums(*extra: sa.Column) -> list[sa.Column]:
    return [
        *extra,
        sa.Column("cost", Money, nullable=False),
        sa.Column("message_count", sa.BigInteger, nullable=False),
    ]


def upgrade() -> None:
    # Derived data without foreign keys: their per-row checks would slow every import.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(QUARTER_START_PG)
    op.create_table(
        "usage_quarter",
        sa.Column("organization_id", sa.Integer, primary_key=True),
        sa.Column("bucket", UTCDateTime, primary_key=True),
        *_sums(
            sa.Column("prompt_tokens", sa.BigInteger, nullable=False),
            sa.Column("completion_tokens", sa.BigInteger, nullable=False),
        ),
        sa.Column("unpriced_count", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "usage_daily",
        sa.Column("organization_id", sa.Integer, primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("agent_id", sa.String(200), primary_key=True),
        sa.Column("model", sa.String(200), primary_key=True),
        *_sums(
            sa.Column("prompt_tokens", sa.BigInteger, nullable=False),
            sa.Column("completion_tokens", sa.BigInteger, nullable=False),
        ),
        sa.Column("unpriced_count", sa.BigInteger, nullable=False),
    )
    op.create_table(
        "conversation_daily",
        sa.Column("organization_id", sa.Integer, primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("conversation_id", sa.String(200), primary_key=True),
        sa.Column("agent_id", sa.String(200), primary_key=True),
        *_sums(sa.Column("total_tokens", sa.BigInteger, nullable=False)),
    )
    op.create_index(
        "ix_conversation_daily_conversation", "conversation_daily", ["organization_id", "conversation_id", "day"]
    )
    op.create_table(
        "conversation_totals",
        sa.Column("organization_id", sa.Integer, primary_key=True),
        sa.Column("conversation_id", sa.String(200), primary_key=True),
        sa.Column("agent_id", sa.String(200), primary_key=True),
        sa.Column("first_ts", UTCDateTime, nullable=False),
        sa.Column("last_ts", UTCDateTime, nullable=False),
        *_sums(sa.Column("total_tokens", sa.BigInteger, nullable=False)),
    )
    op.create_index(
        "ix_conversation_totals_first", "conversation_totals", ["organization_id", "first_ts", "last_ts", "agent_id"]
    )
    op.create_index("ix_conversation_totals_cost", "conversation_totals", ["organization_id", "agent_id", "cost"])
    op.create_table(
        "conversation_starts",
        sa.Column("organization_id", sa.Integer, primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("agent_id", sa.String(200), primary_key=True),
        sa.Column("started", sa.BigInteger, nullable=False),
    )
    with op.batch_alter_table("organizations") as batch:
        batch.add_column(sa.Column("max_conversation_seconds", sa.BigInteger, nullable=False, server_default="0"))
    # Databases that already hold events get their aggregates in 0004, with usage_day.


def downgrade() -> None:
    with op.batch_alter_table("organizations") as batch:
        batch.drop_column("max_conversation_seconds")
    for table in ("conversation_starts", "conversation_totals", "conversation_daily", "usage_daily", "usage_quarter"):
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS quarter_start(timestamptz)")
