"""Every zone Python accepts books the same local days on both databases as Python's zoneinfo."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

import pytest
import sqlalchemy as sa
from alembic import command
from click.testing import CliRunner

from billing_dash.aggregates import rebuild
from billing_dash.auth import create_org, create_token
from billing_dash.cli import main
from billing_dash.db import alembic_config, make_engine, upgrade
from billing_dash.ingest import FIRST_INSTANT, ingest
from billing_dash.models import AGGREGATES

REPORT = "/api/v1/analytics/billing"
# A winter and a summer day: zones with summer time differ from a fixed offset in one of them.
DAYS = (date(2026, 1, 15), date(2026, 7, 2))


def _instants(tz: str) -> list[datetime]:
    """Each day's first local instant in `tz` and the instant before it: a day off by any offset shows."""
    zone = ZoneInfo(tz)
    out = []
    for day in DAYS:
        midnight = datetime.combine(day, datetime.min.time(), tzinfo=zone).astimezone(UTC)
        out += [midnight, midnight - timedelta(microseconds=1)]
    return out


def _local_dates(conn: sa.Connection, cases: list[tuple[str, datetime]]) -> list[str]:
    """local_date(ts, tz) of every case, in one round trip."""
    if conn.dialect.name == "postgresql":
        sql = (
            "SELECT local_date((c ->> 1)::timestamptz, c ->> 0) FROM jsonb_array_elements(CAST(:cases AS jsonb)) "
            "WITH ORDINALITY AS x(c, n) ORDER BY n"
        )
        payload = [[tz, ts.isoformat()] for tz, ts in cases]
    else:  # as SQLite stores instants: naive UTC text
        sql = "SELECT local_date(json_extract(value, '$[1]'), json_extract(value, '$[0]')) FROM json_each(:cases) ORDER BY key"
        payload = [[tz, ts.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")] for tz, ts in cases]
    return [str(day) for day in conn.execute(sa.text(sql), {"cases": json.dumps(payload)}).scalars()]


def test_local_date_gives_zoneinfo_days_in_every_zone(engine):
    cases = [(tz, ts) for tz in sorted(available_timezones()) for ts in _instants(tz)]
    with engine.connect() as conn:
        got = _local_dates(conn, cases)
    wrong = [
        (tz, ts.isoformat(), day, ts.astimezone(ZoneInfo(tz)).date().isoformat())
        for (tz, ts), day in zip(cases, got, strict=True)
        if day != ts.astimezone(ZoneInfo(tz)).date().isoformat()
    ]
    assert wrong == [], f"{len(wrong)} (zone, instant, database day, zoneinfo day) differ: {wrong[:12]}"


SUMMER_EVENT = {
    "event_id": "cet-1",
    "timestamp": "2026-07-02T00:30:00+02:00",
    "agent_id": "bot",
    "conversation_id": "c-1",
    "model": "gpt-4o-mini",
    "prompt_tokens": 100,
    "completion_tokens": 20,
    "cost": "0.5",
}


def _local_day(event: dict, tz: str) -> date:
    return datetime.fromisoformat(event["timestamp"]).astimezone(ZoneInfo(tz)).date()


def _report(client, headers, day: date, **params) -> dict:
    response = client.get(
        REPORT,
        headers=headers,
        query_string={"period": "custom", "startDate": day.isoformat(), "endDate": day.isoformat(), **params},
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def _counts(report: dict) -> dict[str, int]:
    return {
        "summary": report["summary"]["totalMessages"],
        "days": sum(d["messageCount"] for d in report["usageByDay"]),
        "agents": sum(a["messageCount"] for a in report["usageByAgent"]),
        "models": sum(m["messageCount"] for m in report["usageByModel"]),
        "conversations": report["summary"]["totalConversations"],
    }


def test_organization_in_cet_books_a_summer_event_on_its_local_day(client, engine):
    with engine.begin() as conn:
        org = create_org(conn, f"org-{uuid.uuid4().hex[:12]}", "CET")
        headers = {"Authorization": f"Bearer {create_token(conn, org, 'test')}"}
    assert client.post("/api/v1/usage", json={"events": [SUMMER_EVENT]}, headers=headers).status_code == 200
    day = _local_day(SUMMER_EVENT, "CET")
    assert _counts(_report(client, headers, day)) == dict.fromkeys(
        ["summary", "days", "agents", "models", "conversations"], 1
    )
    assert _counts(_report(client, headers, day - timedelta(days=1)))["summary"] == 0


def test_report_in_cet_for_another_zone_organization_agrees_with_itself(client, org, auth_headers):
    assert org.timezone != "CET"
    assert client.post("/api/v1/usage", json={"events": [SUMMER_EVENT]}, headers=auth_headers).status_code == 200
    day = _local_day(SUMMER_EVENT, "CET")
    assert _counts(_report(client, auth_headers, day, tz="CET")) == dict.fromkeys(
        ["summary", "days", "agents", "models", "conversations"], 1
    )


def _day_aggregates(conn: sa.Connection, org_id: int) -> dict[str, list[tuple]]:
    return {
        t.name: sorted(tuple(r) for r in conn.execute(sa.select(t).where(t.c.organization_id == org_id)))
        for t in AGGREGATES
        if "day" in t.c
    }


def test_upgrade_rebuilds_the_days_of_organizations_in_an_abbreviation_zone(make_postgres_database):
    """Aggregates PostgreSQL stored under the abbreviation's fixed offset are rebooked by the migration."""
    engine = make_engine(make_postgres_database())
    try:
        upgrade(engine)
        with engine.begin() as conn:
            org = create_org(conn, f"org-{uuid.uuid4().hex[:12]}", "CET")
            ingest(conn, org.id, [(1, SUMMER_EVENT)])
        command.downgrade(alembic_config(engine), "0006-1")  # local_date as it was before the fix
        with engine.begin() as conn:
            # Stored as the old code did (the live ingest needs today's schema): CET read as the
            # abbreviation's fixed +01:00 put 00:30+02:00 on the day before.
            for table in ("usage_day", "usage_daily", "conversation_daily", "conversation_starts"):
                conn.execute(sa.text(f"UPDATE {table} SET day = day - 1 WHERE organization_id = :o"), {"o": org.id})
            booked = conn.execute(sa.text("SELECT day FROM usage_day WHERE organization_id = :o"), {"o": org.id})
            assert [str(d) for d in booked.scalars()] != [_local_day(SUMMER_EVENT, "CET").isoformat()]
        upgrade(engine)
        with engine.begin() as conn:
            migrated = _day_aggregates(conn, org.id)
            assert [str(r[1]) for r in migrated["usage_day"]] == [_local_day(SUMMER_EVENT, "CET").isoformat()]
            rebuild(conn, [org.id])
            assert migrated == _day_aggregates(conn, org.id)
    finally:
        engine.dispose()


# Zones whose offset was once not a whole number of quarter hours (-10:40 and -0:44:30).
ODD_ZONES = ("Pacific/Kiritimati", "Africa/Monrovia")


def _event(event_id: str, instant: datetime) -> dict:
    return {**SUMMER_EVENT, "event_id": event_id, "timestamp": instant.isoformat()}


def test_events_before_the_first_instant_are_refused_by_the_api(client, engine, org, auth_headers):
    before = FIRST_INSTANT - timedelta(seconds=1)
    response = client.post(
        "/api/v1/usage", json={"events": [_event("ok", FIRST_INSTANT), _event("early", before)]}, headers=auth_headers
    )
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "invalid_events"
    assert [(d["index"], d["field"]) for d in error["details"]] == [(1, "timestamp")]
    assert FIRST_INSTANT.strftime("%Y-%m-%dT%H:%M:%SZ") in error["details"][0]["message"]
    with engine.connect() as conn:
        assert (
            conn.execute(
                sa.text("SELECT COUNT(*) FROM usage_events WHERE organization_id = :o"), {"o": org.id}
            ).scalar_one()
            == 0
        )


def test_events_before_the_first_instant_are_refused_by_the_import(database_url, org, tmp_path):
    path = tmp_path / "early.jsonl"
    path.write_text(
        "\n".join(
            json.dumps(_event(f"e{i}", instant))
            for i, instant in enumerate([FIRST_INSTANT, datetime(1975, 6, 1, tzinfo=UTC)])
        )
        + "\n"
    )
    result = CliRunner().invoke(main, ["import", "--org", org.name, str(path)], env={"DATABASE_URL": database_url})
    assert result.exit_code == 1, result.output
    assert "line 2: timestamp: must be at or after 1980-01-01T00:00:00Z" in result.output
    assert "line 1" not in result.output


@pytest.mark.parametrize("tz", ODD_ZONES)
def test_reports_in_zones_once_off_the_quarter_hour_agree_with_themselves(client, org, auth_headers, tz):
    """Events from the first instant on: every day's figures sum to the same totals, also for days
    before it (empty)."""
    # Every 173 seconds for two days: some fall between a local midnight and the next quarter hour.
    events = [_event(f"q{i}", FIRST_INSTANT + timedelta(seconds=173 * i)) for i in range(1000)]
    assert client.post("/api/v1/usage", json={"events": events}, headers=auth_headers).status_code == 200
    first = FIRST_INSTANT.astimezone(ZoneInfo(tz)).date()
    for start, end in (
        (first - timedelta(days=1), first + timedelta(days=3)),
        (first, first),
        (first - timedelta(days=120), first - timedelta(days=1)),
    ):
        response = client.get(
            REPORT,
            headers=auth_headers,
            query_string={"period": "custom", "startDate": start.isoformat(), "endDate": end.isoformat(), "tz": tz},
        )
        assert response.status_code == 200
        counts = _counts(response.get_json())
        in_period = [e for e in events if start <= _local_day(e, tz) <= end]
        assert counts == {
            "summary": len(in_period),
            "days": len(in_period),
            "agents": len(in_period),
            "models": len(in_period),
            "conversations": int(bool(in_period)),
        }, (tz, start, end)
