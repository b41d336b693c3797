"""Prices for cached input: cache reads and cache writes per million tokens.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30

Providers bill cache reads at a discount (OpenAI 50-90% off, Anthropic 0.1x) and cache writes
at a surcharge (Anthropic 1.25x or 2x). Both are nullable: NULL bills those tokens at the input
price, which is what every existing price meant.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# models.Money when this revision was written: NUMERIC(38,10), on SQLite 64-bit integers of 1e-10 dollars.
Money = sa.Numeric(38, 10).with_variant(sa.BigInteger(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("model_prices") as batch:
        batch.add_column(sa.Column("cache_read_per_million", Money, nullable=True))
        batch.add_column(sa.Column("cache_write_per_million", Money, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("model_prices") as batch:
        batch.drop_column("cache_write_per_million")
        batch.drop_column("cache_read_per_million")
