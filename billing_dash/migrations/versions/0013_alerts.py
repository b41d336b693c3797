"""Alerts: webhooks of an organization, alerts created once by their idempotency key, and the delivery outbox.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30

`alerts.idempotency_key` is UNIQUE: every evaluator inserts with ON CONFLICT DO NOTHING, so an
alert (a threshold of a budget's period, an anomaly of a day, ...) exists once however many
processes evaluate at the same time. `alert_deliveries` is the outbox: one row per alert and
webhook, sent at least once by whoever claims it when it is due.
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# models.UTCDateTime when this revision was written.
UTCDateTime = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "webhooks",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("organization_id", sa.Integer, sa.ForeignKey("organizations.id"), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("secret", sa.String(200), nullable=False),
        sa.Column("format", sa.String(10), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_webhooks"),
    )
    op.create_index("ix_webhooks_organization_id", "webhooks", ["organization_id"])
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("organization_id", sa.Integer, sa.ForeignKey("organizations.id"), nullable=False),
        sa.Column("idempotency_key", sa.String(600), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("budget_id", sa.Integer),
        sa.Column("period_start", sa.Date),
        sa.Column("message", sa.String(2000), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
        sa.UniqueConstraint("idempotency_key", name="uq_alerts_idempotency_key"),
    )
    op.create_index("ix_alerts_org_created", "alerts", ["organization_id", "created_at"])
    op.create_table(
        "alert_deliveries",
        sa.Column("id", sa.Integer, nullable=False),
        sa.Column("alert_id", sa.Integer, sa.ForeignKey("alerts.id"), nullable=False),
        sa.Column("webhook_id", sa.Integer, sa.ForeignKey("webhooks.id"), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", UTCDateTime, nullable=False),
        sa.Column("last_error", sa.String(500)),
        sa.Column("delivered_at", UTCDateTime),
        sa.PrimaryKeyConstraint("id", name="pk_alert_deliveries"),
        sa.UniqueConstraint("alert_id", "webhook_id", name="uq_alert_deliveries_alert_id_webhook_id"),
    )
    op.create_index("ix_alert_deliveries_due", "alert_deliveries", ["status", "next_attempt_at"])
    op.create_index("ix_alert_deliveries_webhook_id", "alert_deliveries", ["webhook_id"])


def downgrade() -> None:
    op.drop_table("alert_deliveries")
    op.drop_table("alerts")
    op.drop_table("webhooks")
