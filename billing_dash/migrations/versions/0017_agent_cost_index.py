"""The costliest-conversations index covers every agent's rows, not only whole conversations.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30

A report filtered to one agent ranks that agent's conversations by their own totals, as an
unfiltered one ranks whole conversations (agent_id ''): both walk (organization_id, agent_id,
cost). Migration 0003 had made the index partial because the per-batch import of that time joined
batches to conversation_totals by (organization_id, agent_id) and PostgreSQL picked this index;
the import now joins on the whole primary key (organization_id, conversation_id, agent_id).
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_conversation_totals_cost", table_name="conversation_totals")
    op.create_index("ix_conversation_totals_cost", "conversation_totals", ["organization_id", "agent_id", "cost"])


def downgrade() -> None:
    op.drop_index("ix_conversation_totals_cost", table_name="conversation_totals")
    whole = sa.text("agent_id = ''")
    op.create_index(
        "ix_conversation_totals_cost",
        "conversation_totals",
        ["organization_id", "cost"],
        postgresql_where=whole,
        sqlite_where=whole,
    )
