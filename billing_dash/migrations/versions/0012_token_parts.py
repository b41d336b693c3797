"""Token parts per event and in the usage aggregates: cache reads, cache writes, reasoning, and cache savings.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30

Cache reads and writes are parts of an event's prompt tokens, reasoning tokens part of its
completion tokens; cache_savings is what its cache reads cost less than at the input price.
Every stored event and aggregate row had none of them, so 0 is true for all existing rows.
On PostgreSQL ADD COLUMN ... DEFAULT 0 NOT NULL writes no row; on SQLite batch mode adds the
columns with ALTER TABLE (no table copy).
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# models.Money when this revision was written: NUMERIC(38,10), on SQLite 64-bit integers of 1e-10 dollars.
Money = sa.Numeric(38, 10).with_variant(sa.BigInteger(), "sqlite")
TABLES = ("usage_events", "usage_quarter", "usage_day", "usage_daily")
COLUMNS = (
    ("cache_read_tokens", sa.BigInteger()),
    ("cache_write_tokens", sa.BigInteger()),
    ("reasoning_tokens", sa.BigInteger()),
    ("cache_savings", Money),
)


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            for name, kind in COLUMNS:
                batch.add_column(sa.Column(name, kind, nullable=False, server_default="0"))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            for name, _ in reversed(COLUMNS):
                batch.drop_column(name)
