"""The costliest-conversations index covers only whole-conversation rows (agent_id '').

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26

Only top_conversations reads it, always for agent_id ''. Over all rows it also matched the
import's join of a batch to conversation_totals by (organization_id, agent_id), and PostgreSQL,
without statistics on a table growing inside one long import transaction, chose it over the
primary key: seconds per batch instead of milliseconds. Partial, it cannot serve that join and
is half the size to maintain.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

WHOLE = sa.text("agent_id = ''")


def upgrade() -> None:
    op.drop_index("ix_conversation_totals_cost", table_name="conversation_totals")
    op.create_index(
        "ix_conversation_totals_cost",
        "conversation_totals",
        ["organization_id", "cost"],
        postgresql_where=WHOLE,
        sqlite_where=WHOLE,
    )


def downgrade() -> None:
    op.drop_index("ix_conversation_totals_cost", table_name="conversation_totals")
    op.create_index("ix_conversation_totals_cost", "conversation_totals", ["organization_id", "agent_id", "cost"])
