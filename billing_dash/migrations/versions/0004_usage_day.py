"""Usage per day of the organization's zone, so a year's daily chart reads 365 rows.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26

The daily series used to sum quarter-hour buckets into local days on every request (35,000
rows for a year). Those stay for other zones; the organization's own zone reads this table.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# models.Money when this revision was written: NUMERIC(20,10), on SQLite 64-bit integers of 1e-10 dollars.
Money = sa.Numeric(20, 10).with_variant(sa.BigInteger(), "sqlite")
# The aggregates of 0002 of one organization (:org, in its zone :tz), from its events.
AGGREGATE = (
    "INSERT INTO usage_quarter (organization_id, bucket, prompt_tokens, completion_tokens, cost, message_count, "
    "unpriced_count) SELECT organization_id, quarter_start(ts), SUM(prompt_tokens), SUM(completion_tokens), "
    "SUM(cost), COUNT(*), SUM(CASE WHEN priced THEN 0 ELSE 1 END) FROM usage_events WHERE organization_id = :org "
    "GROUP BY organization_id, quarter_start(ts)",
    "INSERT INTO usage_daily (organization_id, day, agent_id, model, prompt_tokens, completion_tokens, cost, "
    "message_count, unpriced_count) SELECT organization_id, local_date(ts, :tz), agent_id, model, SUM(prompt_tokens), "
    "SUM(completion_tokens), SUM(cost), COUNT(*), SUM(CASE WHEN priced THEN 0 ELSE 1 END) FROM usage_events "
    "WHERE organization_id = :org GROUP BY organization_id, local_date(ts, :tz), agent_id, model",
    "INSERT INTO conversation_daily (organization_id, day, conversation_id, agent_id, total_tokens, cost, "
    "message_count) SELECT organization_id, local_date(ts, :tz), conversation_id, agent_id, "
    "SUM(prompt_tokens + completion_tokens), SUM(cost), COUNT(*) FROM usage_events WHERE organization_id = :org "
    "GROUP BY organization_id, local_date(ts, :tz), conversation_id, agent_id",
    "INSERT INTO conversation_totals (organization_id, conversation_id, agent_id, first_ts, last_ts, total_tokens, "
    "cost, message_count) SELECT organization_id, conversation_id, '', MIN(ts), MAX(ts), "
    "SUM(prompt_tokens + completion_tokens), SUM(cost), COUNT(*) FROM usage_events WHERE organization_id = :org "
    "GROUP BY organization_id, conversation_id",
    "INSERT INTO conversation_totals (organization_id, conversation_id, agent_id, first_ts, last_ts, total_tokens, "
    "cost, message_count) SELECT organization_id, conversation_id, agent_id, MIN(ts), MAX(ts), "
    "SUM(prompt_tokens + completion_tokens), SUM(cost), COUNT(*) FROM usage_events WHERE organization_id = :org "
    "GROUP BY organization_id, conversation_id, agent_id",
    "INSERT INTO conversation_starts (organization_id, day, agent_id, started) "
    "SELECT organization_id, local_date(first_ts, :tz), agent_id, COUNT(*) FROM conversation_totals "
    "WHERE organization_id = :org GROUP BY organization_id, local_date(first_ts, :tz), agent_id",
)
# For the longest conversation: instants as each database returns them (SQLite: naive UTC).
_totals = sa.table(
    "conversation_totals",
    sa.column("organization_id", sa.Integer),
    sa.column("agent_id", sa.String),
    sa.column("first_ts", sa.DateTime(timezone=True)),
    sa.column("last_ts", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    op.create_table(
        "usage_day",
        sa.Column("organization_id", sa.Integer, primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("prompt_tokens", sa.BigInteger, nullable=False),
        sa.Column("completion_tokens", sa.BigInteger, nullable=False),
        sa.Column("cost", Money, nullable=False),
        sa.Column("message_count", sa.BigInteger, nullable=False),
        sa.Column("unpriced_count", sa.BigInteger, nullable=False),
    )
    bind = op.get_bind()
    # Events stored before 0002 have no aggregates yet: build them from the events (usage_day
    # with the others, below).
    unaggregated = bind.execute(
        sa.text(
            "SELECT o.id, o.timezone FROM organizations o WHERE EXISTS "
            "(SELECT 1 FROM usage_events e WHERE e.organization_id = o.id) AND NOT EXISTS "
            "(SELECT 1 FROM usage_quarter q WHERE q.organization_id = o.id)"
        )
    ).all()
    for org_id, tz in unaggregated:
        for statement in AGGREGATE:
            bind.execute(sa.text(statement), {"org": org_id, "tz": tz})
        spans = bind.execute(
            sa.select(_totals.c.first_ts, _totals.c.last_ts).where(
                _totals.c.organization_id == org_id, _totals.c.agent_id == ""
            )
        ).all()
        longest = max((int((last - first).total_seconds()) + 1 for first, last in spans), default=0)
        bind.execute(
            sa.text("UPDATE organizations SET max_conversation_seconds = :s WHERE id = :org"),
            {"s": longest, "org": org_id},
        )
    # Every organization: usage_daily is kept in its zone too, usage_day sums it over agents and models.
    bind.execute(
        sa.text(
            "INSERT INTO usage_day (organization_id, day, prompt_tokens, completion_tokens, cost, message_count, "
            "unpriced_count) SELECT organization_id, day, SUM(prompt_tokens), SUM(completion_tokens), SUM(cost), "
            "SUM(message_count), SUM(unpriced_count) FROM usage_daily "
            "WHERE organization_id NOT IN (SELECT organization_id FROM usage_day) GROUP BY organization_id, day"
        )
    )


def downgrade() -> None:
    op.drop_table("usage_day")
