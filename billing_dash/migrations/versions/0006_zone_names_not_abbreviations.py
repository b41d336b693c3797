"""local_date() reads a zone name from the time zone database only, never as an abbreviation.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29

PostgreSQL's AT TIME ZONE looks a name up in the abbreviations (pg_timezone_abbrevs) before the
time zone database, so 'CET', 'EET', 'MET' and 'WET' meant fixed offsets without summer time. A
name starting with ':' is loaded from the time zone database or refused (pg_tzset), never read as
an abbreviation or a POSIX rule. Organizations in such a zone get their per-day aggregates rebuilt.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

LOCAL_DATE = """
CREATE OR REPLACE FUNCTION local_date(ts timestamptz, tz text) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT (ts AT TIME ZONE {zone})::date $$
"""
# The per-day aggregates, recomputed from the events and the conversation totals.
REBOOK = (
    "DELETE FROM usage_day WHERE organization_id = :org",
    "DELETE FROM usage_daily WHERE organization_id = :org",
    "DELETE FROM conversation_daily WHERE organization_id = :org",
    "DELETE FROM conversation_starts WHERE organization_id = :org",
    "INSERT INTO usage_daily (organization_id, day, agent_id, model, prompt_tokens, completion_tokens, cost, "
    "message_count, unpriced_count) SELECT organization_id, local_date(ts, :tz), agent_id, model, SUM(prompt_tokens), "
    "SUM(completion_tokens), SUM(cost), COUNT(*), SUM(CASE WHEN priced THEN 0 ELSE 1 END) FROM usage_events "
    "WHERE organization_id = :org GROUP BY organization_id, local_date(ts, :tz), agent_id, model",
    "INSERT INTO usage_day (organization_id, day, prompt_tokens, completion_tokens, cost, message_count, "
    "unpriced_count) SELECT organization_id, day, SUM(prompt_tokens), SUM(completion_tokens), SUM(cost), "
    "SUM(message_count), SUM(unpriced_count) FROM usage_daily WHERE organization_id = :org "
    "GROUP BY organization_id, day",
    "INSERT INTO conversation_daily (organization_id, day, conversation_id, agent_id, total_tokens, cost, "
    "message_count) SELECT organization_id, local_date(ts, :tz), conversation_id, agent_id, "
    "SUM(prompt_tokens + completion_tokens), SUM(cost), COUNT(*) FROM usage_events WHERE organization_id = :org "
    "GROUP BY organization_id, local_date(ts, :tz), conversation_id, agent_id",
    "INSERT INTO conversation_starts (organization_id, day, agent_id, started) "
    "SELECT organization_id, local_date(first_ts, :tz), agent_id, COUNT(*) FROM conversation_totals "
    "WHERE organization_id = :org GROUP BY organization_id, local_date(first_ts, :tz), agent_id",
)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return  # SQLite's local_date is zoneinfo itself
    op.execute(LOCAL_DATE.format(zone="(':' || tz)"))
    # Only a name that is also an abbreviation was ever read as one.
    orgs = bind.execute(
        sa.text(
            "SELECT id, timezone FROM organizations "
            "WHERE lower(timezone) IN (SELECT lower(abbrev) FROM pg_timezone_abbrevs)"
        )
    ).all()
    for org_id, tz in orgs:
        for statement in REBOOK:
            bind.execute(sa.text(statement), {"org": org_id, "tz": tz})


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(LOCAL_DATE.format(zone="tz"))
