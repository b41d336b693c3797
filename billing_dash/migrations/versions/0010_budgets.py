"""Budgets of an organization, agent or model, in USD and/or tokens, per month, week or day.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30

An agent's monthly token budget was a column of agents; it becomes a budget row (scope agent,
period month, tokens), so budgets live in one table, and the column goes.
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# models.Money when this revision was written: NUMERIC(38,10), on SQLite 64-bit integers of 1e-10 dollars.
Money = sa.Numeric(38, 10).with_variant(sa.BigInteger(), "sqlite")
DEFAULT_THRESHOLDS = "50,80,100"


def upgrade() -> None:
    op.create_table(
        "budgets",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("organization_id", sa.Integer, sa.ForeignKey("organizations.id"), nullable=False),
        sa.Column("scope", sa.String(20), nullable=False),
        sa.Column("scope_id", sa.String(200), nullable=False),
        sa.Column("period", sa.String(10), nullable=False),
        sa.Column("limit_usd", Money),
        sa.Column("limit_tokens", sa.BigInteger),
        sa.Column("thresholds", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_budgets"),
        sa.UniqueConstraint(
            "organization_id", "scope", "scope_id", "period", name="uq_budgets_organization_id_scope_scope_id_period"
        ),
    )
    op.get_bind().execute(
        sa.text(
            "INSERT INTO budgets (organization_id, scope, scope_id, period, limit_tokens, thresholds, created_at) "
            "SELECT organization_id, 'agent', id, 'month', monthly_token_budget, :thresholds, :now FROM agents "
            "WHERE monthly_token_budget IS NOT NULL"
        ),
        # SQLite stores naive UTC text (models.UTCDateTime).
        {"thresholds": DEFAULT_THRESHOLDS, "now": _now()},
    )
    # Both databases drop a plain column in place (SQLite since 3.35), no table rebuild.
    op.execute("ALTER TABLE agents DROP COLUMN monthly_token_budget")


def _now():
    now = datetime.now(UTC).replace(microsecond=0)
    return now.replace(tzinfo=None) if op.get_bind().dialect.name == "sqlite" else now


def downgrade() -> None:
    op.add_column("agents", sa.Column("monthly_token_budget", sa.BigInteger))
    op.execute(
        "UPDATE agents SET monthly_token_budget = (SELECT b.limit_tokens FROM budgets b "
        "WHERE b.organization_id = agents.organization_id AND b.scope = 'agent' AND b.scope_id = agents.id "
        "AND b.period = 'month')"
    )
    op.drop_table("budgets")
