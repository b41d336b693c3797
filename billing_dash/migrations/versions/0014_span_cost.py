"""Organizations' choice to take OTLP spans' own cost (llm.cost.total) instead of pricing their tokens.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30

False for every existing organization: their usage keeps being priced by the catalogue until
someone opts in with `billing-dash set-span-cost`.
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN, not batch mode: on SQLite batch mode would copy organizations, which
    # every other table references.
    op.add_column("organizations", sa.Column("span_cost", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    op.drop_column("organizations", "span_cost")  # SQLite has DROP COLUMN since 3.35
