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
    # Events stored before 0002 have no aggregates yet: build them all (the newest migration that
    # adds an aggregate table makes this call, since rebuild() writes every aggregate table).
    unaggregated = [org_id for (org_id,) in bind.execute(sa.text(
        "SELECT DISTINCT e.organization_id FROM usage_events e WHERE NOT EXISTS "
        "(SELECT 1 FROM usage_quarter q WHERE q.organization_id = e.organization_id)"))]
    if unaggregated:
        from billing_dash.aggregates import rebuild

        rebuild(bind, unaggregated)
    # The others: usage_daily is kept in the organization's zone too, summed over agents and models.
    bind.execute(sa.text(
        "INSERT INTO usage_day (organization_id, day, prompt_tokens, completion_tokens, cost, message_count, "
        "unpriced_count) SELECT organization_id, day, SUM(prompt_tokens), SUM(completion_tokens), SUM(cost), "
        "SUM(message_count), SUM(unpriced_count) FROM usage_daily "
        "WHERE organization_id NOT IN (SELECT organization_id FROM usage_day) GROUP BY organization_id, day"))


def downgrade() -> None:
    op.drop_table("usage_day")
