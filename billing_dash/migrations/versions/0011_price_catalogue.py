"""Price catalogue and organization prices; each event records whether its cost was given and what priced it.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30

model_prices gets a surrogate key (a catalogue row has no organization, so the organization
cannot be part of a primary key), `source` ('manual': hand-written rows like the seed of 0001,
'catalogue': loaded from genai-prices by `billing-dash prices update`, 'organization': set by
`billing-dash prices set`), `provider` and `organization_id` (NULL unless an organization's own).

usage_events gets `cost_given` (the input carried the cost: re-pricing leaves it alone),
`priced_as` (the price entry's model name the cost was computed from) and `price_id` (the
model_prices row charged). Existing events cannot say whether their cost was given: an event
whose stored cost equals its model's price at its time (within the stored precision) is taken
as computed, any other priced event as given.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

# models.Money and models.UTCDateTime when this revision was written.
Money = sa.Numeric(38, 10).with_variant(sa.BigInteger(), "sqlite")
UTCDateTime = sa.DateTime(timezone=True)

PRICE_COLUMNS = (
    "model",
    "effective_from",
    "prompt_per_million",
    "completion_per_million",
    "cache_read_per_million",
    "cache_write_per_million",
)

# Stored cost within one unit of the stored precision of the price in effect: computed, not given.
# SQLite stores money as integers of 1e-10 dollars, PostgreSQL as NUMERIC dollars.
COMPUTED_MATCH = {
    "sqlite": "ABS(e.cost - (e.prompt_tokens * p.prompt_per_million"
    " + e.completion_tokens * p.completion_per_million) / 1000000.0) <= 1",
    "postgresql": "ABS(e.cost - (e.prompt_tokens * p.prompt_per_million"
    " + e.completion_tokens * p.completion_per_million) / 1000000) <= 0.0000000001",
}


def upgrade() -> None:
    bind = op.get_bind()
    names = ", ".join(PRICE_COLUMNS)
    # Small (hand-written prices only): held in memory while the table is made anew.
    old = bind.execute(sa.text(f"SELECT {names} FROM model_prices")).mappings().all()
    op.drop_table("model_prices")
    op.create_table(
        "model_prices",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("source", sa.String(16), nullable=False, server_default="manual"),
        sa.Column("organization_id", sa.Integer, nullable=True),
        sa.Column("provider", sa.String(64), nullable=False, server_default=""),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("effective_from", UTCDateTime, nullable=False),
        sa.Column("prompt_per_million", Money, nullable=False),
        sa.Column("completion_per_million", Money, nullable=False),
        sa.Column("cache_read_per_million", Money),
        sa.Column("cache_write_per_million", Money),
    )
    op.create_index("ix_model_prices_model", "model_prices", ["model"])
    if old:
        bind.execute(
            sa.text(f"INSERT INTO model_prices ({names}) VALUES ({', '.join(':' + c for c in PRICE_COLUMNS)})"),
            [dict(row) for row in old],
        )

    # The report names the models of a period's unpriced events: they are few, read by this index.
    op.create_index(
        "ix_usage_events_unpriced",
        "usage_events",
        ["organization_id", "ts"],
        postgresql_where=sa.text("NOT priced"),
        sqlite_where=sa.text("NOT priced"),
    )
    op.add_column("usage_events", sa.Column("cost_given", sa.Boolean, nullable=False, server_default=sa.false()))
    op.add_column("usage_events", sa.Column("priced_as", sa.String(200)))
    op.add_column("usage_events", sa.Column("price_id", sa.Integer))
    in_effect = (
        "SELECT p.id FROM model_prices p WHERE p.model = e.model AND p.effective_from <= e.ts"
        " ORDER BY p.effective_from DESC LIMIT 1"
    )
    match = COMPUTED_MATCH[bind.dialect.name]
    bind.execute(
        sa.text(
            f"UPDATE usage_events AS e SET cost_given = true WHERE e.priced AND NOT EXISTS ("
            f"SELECT 1 FROM model_prices p WHERE p.id = ({in_effect}) AND {match})"
        )
    )
    bind.execute(
        sa.text(
            f"UPDATE usage_events AS e SET priced_as = e.model, price_id = ({in_effect}) WHERE e.priced AND NOT e.cost_given"
        )
    )


def downgrade() -> None:
    op.drop_index("ix_usage_events_unpriced", table_name="usage_events")
    for column in ("price_id", "priced_as", "cost_given"):
        with op.batch_alter_table("usage_events") as batch:
            batch.drop_column(column)
    bind = op.get_bind()
    names = ", ".join(PRICE_COLUMNS)
    old = bind.execute(sa.text(f"SELECT {names} FROM model_prices WHERE source = 'manual'")).mappings().all()
    op.drop_table("model_prices")
    op.create_table(
        "model_prices",
        sa.Column("model", sa.String(200), primary_key=True),
        sa.Column("effective_from", UTCDateTime, primary_key=True),
        sa.Column("prompt_per_million", Money, nullable=False),
        sa.Column("completion_per_million", Money, nullable=False),
        sa.Column("cache_read_per_million", Money),
        sa.Column("cache_write_per_million", Money),
    )
    if old:
        bind.execute(
            sa.text(f"INSERT INTO model_prices ({names}) VALUES ({', '.join(':' + c for c in PRICE_COLUMNS)})"),
            [dict(row) for row in old],
        )
