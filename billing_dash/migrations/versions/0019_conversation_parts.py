"""conversation_parts: each conversation's totals per model and per pre-aggregated tag value.

With conversation_part_starts, the parts counted on the local day of their first message.

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-30

As conversation_totals keeps a conversation's totals once whole (agent_id '') and once per agent,
conversation_parts keeps them per model (dimension 'model') and per value of each pre-aggregated
tag key (dimension 'tag.<key>'), whole and per agent, with the part's first and last message. A
report filtered to one model or tag value (and at most one agent) then counts and ranks these as
an unfiltered one does whole conversations (with conversation_part_starts as conversation_starts),
instead of summing a year of every kept conversation's days (at 10M events, ~100 ms). Filled from
the stored events.
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

# The lengths of limits.py when this revision was written: ids, tag keys (with "tag.") and values.
MAX_ID = 200
MAX_DIMENSION = 44
# models.Money when this revision was written: NUMERIC(38,10), on SQLite 64-bit integers of 1e-10 dollars.
Money = sa.Numeric(38, 10).with_variant(sa.BigInteger(), "sqlite")
COLUMNS = (
    "organization_id, conversation_id, dimension, value, agent_id, first_ts, last_ts, total_tokens, cost, message_count"
)
SUMS = "MIN(e.ts), MAX(e.ts), SUM(e.prompt_tokens + e.completion_tokens), SUM(e.cost), COUNT(*)"
MODEL_PARTS = f"""
INSERT INTO conversation_parts ({COLUMNS})
SELECT e.organization_id, e.conversation_id, 'model', e.model, '', {SUMS}
FROM usage_events e
GROUP BY e.organization_id, e.conversation_id, e.model
UNION ALL
SELECT e.organization_id, e.conversation_id, 'model', e.model, e.agent_id, {SUMS}
FROM usage_events e
GROUP BY e.organization_id, e.conversation_id, e.model, e.agent_id
"""
# tag_value() is migration 0016's SQL function on PostgreSQL, the application's on SQLite (db.py).
TAG_PARTS = f"""
INSERT INTO conversation_parts ({COLUMNS})
SELECT e.organization_id, e.conversation_id, 'tag.' || k.tag_key, tag_value(e.tags, k.tag_key), '', {SUMS}
FROM usage_events e JOIN tag_keys k ON k.organization_id = e.organization_id
WHERE e.tags IS NOT NULL AND tag_value(e.tags, k.tag_key) IS NOT NULL
GROUP BY e.organization_id, e.conversation_id, k.tag_key, tag_value(e.tags, k.tag_key)
UNION ALL
SELECT e.organization_id, e.conversation_id, 'tag.' || k.tag_key, tag_value(e.tags, k.tag_key), e.agent_id, {SUMS}
FROM usage_events e JOIN tag_keys k ON k.organization_id = e.organization_id
WHERE e.tags IS NOT NULL AND tag_value(e.tags, k.tag_key) IS NOT NULL
GROUP BY e.organization_id, e.conversation_id, k.tag_key, tag_value(e.tags, k.tag_key), e.agent_id
"""

# local_date() is migration 0006's SQL function on PostgreSQL, the application's on SQLite (db.py).
PART_STARTS = """
INSERT INTO conversation_part_starts (organization_id, dimension, value, day, agent_id, started)
SELECT p.organization_id, p.dimension, p.value, local_date(p.first_ts, o.timezone), p.agent_id, COUNT(*)
FROM conversation_parts p JOIN organizations o ON o.id = p.organization_id
GROUP BY p.organization_id, p.dimension, p.value, local_date(p.first_ts, o.timezone), p.agent_id
"""


def upgrade() -> None:
    op.create_table(
        "conversation_parts",
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(MAX_ID), nullable=False),
        sa.Column("dimension", sa.String(MAX_DIMENSION), nullable=False),
        sa.Column("value", sa.String(MAX_ID), nullable=False),
        sa.Column("agent_id", sa.String(MAX_ID), nullable=False),
        sa.Column("first_ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("total_tokens", sa.BigInteger(), nullable=False),
        sa.Column("cost", Money, nullable=False),
        sa.Column("message_count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "organization_id", "conversation_id", "dimension", "value", "agent_id", name="pk_conversation_parts"
        ),
    )
    op.create_index(
        "ix_conversation_parts_first",
        "conversation_parts",
        ["organization_id", "dimension", "value", "first_ts", "last_ts", "agent_id"],
    )
    op.create_index(
        "ix_conversation_parts_cost",
        "conversation_parts",
        ["organization_id", "dimension", "value", "agent_id", "cost"],
    )
    op.create_table(
        "conversation_part_starts",
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("dimension", sa.String(MAX_DIMENSION), nullable=False),
        sa.Column("value", sa.String(MAX_ID), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("agent_id", sa.String(MAX_ID), nullable=False),
        sa.Column("started", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "organization_id", "dimension", "value", "day", "agent_id", name="pk_conversation_part_starts"
        ),
    )
    op.execute(MODEL_PARTS)
    op.execute(TAG_PARTS)
    op.execute(PART_STARTS)
    if op.get_bind().dialect.name == "postgresql":
        # Planned for their rows from the first report and small import on, not when autovacuum gets there.
        op.execute("ANALYZE conversation_parts, conversation_part_starts")


def downgrade() -> None:
    op.drop_table("conversation_part_starts")
    op.drop_index("ix_conversation_parts_cost", "conversation_parts")
    op.drop_index("ix_conversation_parts_first", "conversation_parts")
    op.drop_table("conversation_parts")
