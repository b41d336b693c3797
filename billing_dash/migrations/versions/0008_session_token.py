"""Users get a session token, so logout and a password change end their sessions on the server.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29

Flask's sessions are signed cookies: without something the server can change, a copied cookie
stayed valid after logout. Each existing user gets a random token of its own.
"""

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("session_token", sa.String(64), nullable=True))
    bind = op.get_bind()
    users = sa.table("users", sa.column("id", sa.Integer), sa.column("session_token", sa.String(64)))
    for (user_id,) in bind.execute(sa.select(users.c.id)).all():
        bind.execute(users.update().where(users.c.id == user_id).values(session_token=secrets.token_hex(32)))
    with op.batch_alter_table("users") as batch:
        batch.alter_column("session_token", existing_type=sa.String(64), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("session_token")
