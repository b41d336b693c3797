"""Names, titles and conversation owners remember the time of the event that set them.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29

The newest stored event (by timestamp) decides an agent's name and a conversation's title and
agent, so re-sent or old events cannot undo a rename. Existing rows take the time of their
newest stored event: what they show now counts as that new.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# The newest event of a conversation (whole-conversation rows of conversation_totals).
NEWEST_OF_CONVERSATION = (
    "(SELECT t.last_ts FROM conversation_totals t WHERE t.organization_id = conversations.organization_id "
    "AND t.conversation_id = conversations.id AND t.agent_id = '')"
)
NEWEST_OF_AGENT = (
    "(SELECT MAX(t.last_ts) FROM conversation_totals t WHERE t.organization_id = agents.organization_id "
    "AND t.agent_id = agents.id)"
)


def upgrade() -> None:
    op.add_column("agents", sa.Column("name_ts", sa.DateTime(timezone=True)))
    op.add_column("conversations", sa.Column("title_ts", sa.DateTime(timezone=True)))
    op.add_column("conversations", sa.Column("agent_ts", sa.DateTime(timezone=True)))
    op.execute(f"UPDATE agents SET name_ts = {NEWEST_OF_AGENT} WHERE name <> id")
    op.execute(
        f"UPDATE conversations SET agent_ts = {NEWEST_OF_CONVERSATION}, "
        f"title_ts = CASE WHEN title <> id THEN {NEWEST_OF_CONVERSATION} END"
    )


def downgrade() -> None:
    # Plain ALTER TABLE (SQLite 3.35+ has DROP COLUMN): a batch copy of agents would DROP TABLE
    # agents, which conversations reference, and SQLite refuses that with foreign keys on.
    op.execute("ALTER TABLE conversations DROP COLUMN agent_ts")
    op.execute("ALTER TABLE conversations DROP COLUMN title_ts")
    op.execute("ALTER TABLE agents DROP COLUMN name_ts")
