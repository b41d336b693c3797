"""tag_month: each pre-aggregated tag value's usage per local month, and month_start() on PostgreSQL.

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-30

As usage is grouped by tag: a year grouped by 300 customers at 10M events read 57,000 tag_day
rows; whole months come from here (about 3,600 rows) and only the days outside them from tag_day.
Filled from tag_day. month_start(day) names the month of a day on both databases (SQLite's is
registered on each connection).
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

# The lengths of limits.py when this revision was written.
MAX_TAG_KEY = 40
MAX_TAG_VALUE = 200
# models.Money when this revision was written: NUMERIC(38,10), on SQLite 64-bit integers of 1e-10 dollars.
Money = sa.Numeric(38, 10).with_variant(sa.BigInteger(), "sqlite")
SUMS = (
    ("prompt_tokens", sa.BigInteger()),
    ("completion_tokens", sa.BigInteger()),
    ("cost", Money),
    ("message_count", sa.BigInteger()),
    ("unpriced_count", sa.BigInteger()),
    ("cache_read_tokens", sa.BigInteger()),
    ("cache_write_tokens", sa.BigInteger()),
    ("reasoning_tokens", sa.BigInteger()),
    ("cache_savings", Money),
)
# Date arithmetic only: date_trunc would take the date as a timestamp with time zone, which
# depends on the session's TimeZone and so cannot be IMMUTABLE.
MONTH_START_PG = """
CREATE OR REPLACE FUNCTION month_start(day date) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT day - (EXTRACT(DAY FROM day)::int - 1) $$
"""


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute(MONTH_START_PG)
    op.create_table(
        "tag_month",
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("tag_key", sa.String(MAX_TAG_KEY), nullable=False),
        sa.Column("tag_value", sa.String(MAX_TAG_VALUE), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        *(sa.Column(name, kind, nullable=False) for name, kind in SUMS),
        sa.PrimaryKeyConstraint("organization_id", "tag_key", "tag_value", "month", name="pk_tag_month"),
    )
    op.create_index("ix_tag_month_key_month", "tag_month", ["organization_id", "tag_key", "month"])
    names = ", ".join(name for name, _ in SUMS)
    month = "month_start(day)" if postgres else "date(day, 'start of month')"
    op.execute(
        f"INSERT INTO tag_month (organization_id, tag_key, tag_value, month, {names}) "
        f"SELECT organization_id, tag_key, tag_value, {month}, {', '.join(f'SUM({n})' for n, _ in SUMS)} "
        f"FROM tag_day GROUP BY organization_id, tag_key, tag_value, {month}"
    )
    if postgres:
        op.execute("ANALYZE tag_month")


def downgrade() -> None:
    op.drop_index("ix_tag_month_key_month", "tag_month")
    op.drop_table("tag_month")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS month_start(date)")
