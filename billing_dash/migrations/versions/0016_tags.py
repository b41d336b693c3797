"""Event tags: a JSON text column on usage_events, the pre-aggregated keys, their values and aggregates.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30

Existing events have no tags (NULL) and no organization pre-aggregates a key, so the new tables
start empty. tag_value(tags, key) reads one key of an event's tags: on PostgreSQL an SQL function
(inlined by the planner), on SQLite a function the application registers (db.py).
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

# The lengths of limits.py when this revision was written.
MAX_ID = 200
MAX_TAG_KEY = 40
MAX_TAG_VALUE = 200
# models.Money when this revision was written: NUMERIC(38,10), on SQLite 64-bit integers of 1e-10 dollars.
Money = sa.Numeric(38, 10).with_variant(sa.BigInteger(), "sqlite")
SUMS = (
    ("prompt_tokens", sa.BigInteger()),
    ("completion_tokens", sa.BigInteger()),
    ("cost", Money),
    ("message_count", sa.BigInteger()),
    ("unpriced_count", sa.BigInteger()),
    ("cache_read_tokens", sa.BigInteger()),
    ("cache_write_tokens", sa.BigInteger()),
    ("reasoning_tokens", sa.BigInteger()),
    ("cache_savings", Money),
)
TAG_VALUE_PG = """
CREATE OR REPLACE FUNCTION tag_value(tags text, key text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT (tags::jsonb) ->> key $$
"""


def upgrade() -> None:
    # A plain ADD COLUMN of a nullable column: no table copy on SQLite, no row written on PostgreSQL.
    op.add_column("usage_events", sa.Column("tags", sa.Text()))
    op.create_table(
        "tag_keys",
        sa.Column("organization_id", sa.Integer(), sa.ForeignKey("organizations.id"), nullable=False),
        sa.Column("tag_key", sa.String(MAX_TAG_KEY), nullable=False),
        sa.PrimaryKeyConstraint("organization_id", "tag_key", name="pk_tag_keys"),
    )
    op.create_table(
        "tag_values",
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("tag_key", sa.String(MAX_TAG_KEY), nullable=False),
        sa.Column("tag_value", sa.String(MAX_TAG_VALUE), nullable=False),
        sa.PrimaryKeyConstraint("organization_id", "tag_key", "tag_value", name="pk_tag_values"),
    )
    op.create_table(
        "tag_daily",
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("tag_key", sa.String(MAX_TAG_KEY), nullable=False),
        sa.Column("tag_value", sa.String(MAX_TAG_VALUE), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("agent_id", sa.String(MAX_ID), nullable=False),
        sa.Column("model", sa.String(MAX_ID), nullable=False),
        *(sa.Column(name, kind, nullable=False) for name, kind in SUMS),
        sa.PrimaryKeyConstraint(
            "organization_id", "tag_key", "tag_value", "day", "agent_id", "model", name="pk_tag_daily"
        ),
    )
    op.create_index("ix_tag_daily_key_day", "tag_daily", ["organization_id", "tag_key", "day"])
    op.create_table(
        "tag_conversation_daily",
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("tag_key", sa.String(MAX_TAG_KEY), nullable=False),
        sa.Column("tag_value", sa.String(MAX_TAG_VALUE), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("conversation_id", sa.String(MAX_ID), nullable=False),
        sa.Column("agent_id", sa.String(MAX_ID), nullable=False),
        sa.Column("model", sa.String(MAX_ID), nullable=False),
        sa.Column("total_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cost", Money, nullable=False),
        sa.Column("message_count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "organization_id",
            "tag_key",
            "tag_value",
            "day",
            "conversation_id",
            "agent_id",
            "model",
            name="pk_tag_conversation_daily",
        ),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(TAG_VALUE_PG)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS tag_value(text, text)")
    op.drop_table("tag_conversation_daily")
    op.drop_index("ix_tag_daily_key_day", "tag_daily")
    op.drop_table("tag_daily")
    op.drop_table("tag_values")
    op.drop_table("tag_keys")
    op.drop_column("usage_events", "tags")
