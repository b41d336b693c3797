"""conversation_daily keeps the model too, so a report filtered by model needs no scan of the events.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30

A filtered report ranked its conversations by summing the period's events (a year at 10M events:
about two seconds). The table is rebuilt from the events, one organization at a time, with the
model in its key and an index for agent filters; the downgrade sums the models away.
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

# models.Money when this revision was written: NUMERIC(38,10), on SQLite 64-bit integers of 1e-10 dollars.
Money = sa.Numeric(38, 10).with_variant(sa.BigInteger(), "sqlite")
MAX_ID = 200


def _create(name: str, *, model: bool) -> None:
    key = ["organization_id", "day", "conversation_id", "agent_id"] + (["model"] if model else [])
    op.create_table(
        name,
        sa.Column("organization_id", sa.Integer, nullable=False),
        sa.Column("day", sa.Date, nullable=False),
        sa.Column("conversation_id", sa.String(MAX_ID), nullable=False),
        sa.Column("agent_id", sa.String(MAX_ID), nullable=False),
        *([sa.Column("model", sa.String(MAX_ID), nullable=False)] if model else []),
        sa.Column("total_tokens", sa.BigInteger, nullable=False),
        sa.Column("cost", Money, nullable=False),
        sa.Column("message_count", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint(*key, name=f"{name}_pkey"),
    )


def _indexes() -> None:
    op.create_index(
        "ix_conversation_daily_conversation", "conversation_daily", ["organization_id", "conversation_id", "day"]
    )


def upgrade() -> None:
    bind = op.get_bind()
    op.drop_table("conversation_daily")
    _create("conversation_daily", model=True)
    for org_id, tz in bind.execute(sa.text("SELECT id, timezone FROM organizations")).all():
        bind.execute(
            sa.text(
                "INSERT INTO conversation_daily (organization_id, day, conversation_id, agent_id, model, "
                "total_tokens, cost, message_count) SELECT organization_id, local_date(ts, :tz), conversation_id, "
                "agent_id, model, SUM(prompt_tokens + completion_tokens), SUM(cost), COUNT(*) FROM usage_events "
                "WHERE organization_id = :org GROUP BY organization_id, local_date(ts, :tz), conversation_id, "
                "agent_id, model"
            ),
            {"org": org_id, "tz": tz},
        )
    _indexes()
    op.create_index("ix_conversation_daily_agent", "conversation_daily", ["organization_id", "agent_id", "day"])


def downgrade() -> None:
    _create("conversation_daily_old", model=False)
    op.execute(
        "INSERT INTO conversation_daily_old (organization_id, day, conversation_id, agent_id, total_tokens, cost, "
        "message_count) SELECT organization_id, day, conversation_id, agent_id, SUM(total_tokens), SUM(cost), "
        "SUM(message_count) FROM conversation_daily GROUP BY organization_id, day, conversation_id, agent_id"
    )
    op.drop_table("conversation_daily")
    op.rename_table("conversation_daily_old", "conversation_daily")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE conversation_daily RENAME CONSTRAINT conversation_daily_old_pkey TO conversation_daily_pkey"
        )
    _indexes()
