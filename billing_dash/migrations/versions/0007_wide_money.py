"""Money columns NUMERIC(38,10) on PostgreSQL, so that no realistic sum overflows.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29

NUMERIC(20,10) held at most $9,999,999,999.9999999999: ten thousand events at the $1,000,000
cap on one day overflowed it (a 500). NUMERIC(38,10) holds 10^28 dollars, 10^22 such events.
Only a precision increase: PostgreSQL neither rewrites the tables nor rebuilds their indexes.
SQLite keeps its 64-bit integers of 1e-10 dollars (see README, "Limits").
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

COLUMNS = {
    "usage_events": ("cost",),
    "usage_quarter": ("cost",),
    "usage_day": ("cost",),
    "usage_daily": ("cost",),
    "conversation_daily": ("cost",),
    "conversation_totals": ("cost",),
    "model_prices": ("prompt_per_million", "completion_per_million"),
}


def _retype(old: sa.Numeric, new: sa.Numeric) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, columns in COLUMNS.items():
        for column in columns:
            op.alter_column(table, column, type_=new, existing_type=old, existing_nullable=False)


def upgrade() -> None:
    _retype(sa.Numeric(20, 10), sa.Numeric(38, 10))


def downgrade() -> None:
    # Fails (numeric field overflow) if some stored amount no longer fits.
    _retype(sa.Numeric(38, 10), sa.Numeric(20, 10))
