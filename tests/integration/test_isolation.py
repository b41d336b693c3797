"""Tenant isolation: two organizations, every route, whatever ids or parameters the caller sends.

Organizations A and B each have a user, a read+ingest token and usage of their own. Their event
ids, agent ids and conversation ids are the same on purpose ("ev-0", "bot", "c-0"); agent names,
conversation titles, time zones and numbers differ, so any of B's data in an answer to A shows up
as one of B's marker strings or as a wrong number. Every check runs both ways (viewer A and B).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa

from billing_dash.auth import Organization, create_org, create_token, create_user
from billing_dash.models import agents, conversations, usage_events
from billing_dash.pages import DASHBOARD_PATH
from billing_dash.services.billing import MAX_TOP
from billing_dash.services.export import SECTION_KEYS, rows_csv

from ..factories import TEST_PASSWORD, callback_body, event, load_values, login

REPORT = "/api/v1/analytics/billing"
USAGE = "/api/v1/usage"
# Usage "now" (seen by today/week/month/year) and on a fixed day two years back (seen by custom).
NOW = datetime.now(UTC).replace(microsecond=0)
PAST = datetime(NOW.year - 2, 6, 15, 12, tzinfo=UTC)
CUSTOM = {
    "period": "custom",
    "startDate": f"{PAST.year}-06-01",
    "endDate": (NOW + timedelta(days=2)).date().isoformat(),
}
PERIOD_PARAMS = [
    pytest.param({"period": "today"}, id="today"),
    pytest.param({"period": "week"}, id="week"),
    pytest.param({}, id="default-month"),
    pytest.param({"period": "year", "limit": str(MAX_TOP)}, id="year-limit-max"),
    pytest.param(CUSTOM, id="custom"),
    pytest.param({**CUSTOM, "tz": "Pacific/Kiritimati", "limit": str(MAX_TOP)}, id="custom-tz-limit-max"),
    pytest.param({"period": "month", "tz": "UTC", "limit": "1"}, id="month-utc-limit1"),
]


@dataclass
class Tenant:
    key: str
    org: Organization
    token: str
    email: str
    events: list[dict]
    markers: list[str]  # strings only this organization's data contains

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def messages(self, params: dict) -> int:
        """How many of its events a report with these parameters counts."""
        return (
            len(self.events)
            if params.get("period") == "custom"
            else sum(e["timestamp"] != _z(PAST) for e in self.events)
        )


def _z(ts: datetime) -> str:
    return ts.isoformat().replace("+00:00", "Z")


def _make_tenant(engine, client, key: str, tz: str, count: int, tokens: int, cost: str) -> Tenant:
    tag = f"{key}-{uuid.uuid4().hex[:8]}"
    name = {"A": "Alpha", "B": "Bravo"}[key]
    with engine.begin() as conn:
        org = create_org(conn, f"org-{tag}", tz)
        token = create_token(conn, org, "isolation")
        email = f"user-{tag}@example.com"
        create_user(conn, org, email, TEST_PASSWORD)
    agent_names = [f"{name}Agent{i}-{tag}" for i in range(2)]
    titles = [f"{name} chat {i} {tag}" for i in range(3)]
    events = [
        event(
            i,
            timestamp=_z(NOW if i % 2 else PAST),
            agent_id=("bot", "helper")[i % 2],
            agent_name=agent_names[i % 2],
            conversation_id=f"c-{i % 3}",
            conversation_title=titles[i % 3],
            model=f"{name.lower()}-model-{tag}",
            prompt_tokens=tokens + i,
            completion_tokens=tokens,
            cost=cost,
        )
        for i in range(count)
    ]
    response = client.post(USAGE, json={"events": events}, headers={"Authorization": f"Bearer {token}"})
    assert response.get_json() == {"inserted": count, "skipped": 0, "unpriced": 0}
    return Tenant(
        key, org, token, email, events, [org.name, email, f"{name.lower()}-model-{tag}", *agent_names, *titles]
    )


@pytest.fixture
def tenants(engine, client) -> dict[str, Tenant]:
    """A (Berlin, 6 events of ~1000 tokens) and B (New York, 4 events of ~7 tokens), same ids."""
    return {
        "A": _make_tenant(engine, client, "A", "Europe/Berlin", 6, 1000, "0.5"),
        "B": _make_tenant(engine, client, "B", "America/New_York", 4, 7, "0.03"),
    }


def _pair(tenants, viewer: str) -> tuple[Tenant, Tenant]:
    return tenants[viewer], tenants["B" if viewer == "A" else "A"]


def assert_nothing_of(other: Tenant, *bodies: str | bytes) -> None:
    for body in bodies:
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        leaked = [m for m in other.markers if m in text]
        assert not leaked, f"{other.key}'s data in a response: {leaked}"


def assert_only_own(report: dict, me: Tenant, params: dict) -> None:
    """The report's numbers and names are `me`'s events in the period, nothing else."""
    mine = [e for e in me.events if params.get("period") == "custom" or e["timestamp"] != _z(PAST)]
    summary = report["summary"]
    assert summary["totalMessages"] == len(mine) == me.messages(params)
    assert summary["totalTokens"] == sum(e["prompt_tokens"] + e["completion_tokens"] for e in mine)
    assert Decimal(str(summary["totalCost"])) == sum(Decimal(e["cost"]) for e in mine)
    assert sum(d["messageCount"] for d in report["usageByDay"]) == len(mine)
    assert {a["agentName"] for a in report["usageByAgent"]} == {e["agent_name"] for e in mine}
    assert {c["title"] for c in report["topConversations"]} <= {e["conversation_title"] for e in mine}
    assert {m["model"] for m in report["usageByModel"]} == {e["model"] for e in mine}


# --- the JSON and CSV API ---------------------------------------------------------------------


@pytest.mark.parametrize("viewer", ["A", "B"])
@pytest.mark.parametrize("params", PERIOD_PARAMS)
def test_report_shows_only_the_token_organization(client, tenants, viewer, params):
    me, other = _pair(tenants, viewer)
    response = client.get(REPORT, query_string=params, headers=me.headers)
    assert response.status_code == 200, response.data
    assert_only_own(response.get_json(), me, params)
    assert_nothing_of(other, response.data)
    # Naming the other organization, its ids or its names in any parameter changes nothing.
    smuggled = {
        **params,
        "org": other.org.id,
        "org_id": other.org.id,
        "organization": other.org.name,
        "organization_id": str(other.org.id),
        "tenant": other.org.name,
        "agent": other.markers[3],
        "conversationId": "c-0",
        "email": other.email,
    }
    again = client.get(REPORT, query_string=smuggled, headers=me.headers)
    assert again.status_code == 200
    assert again.get_json()["summary"] == response.get_json()["summary"]
    assert_nothing_of(other, again.data)


@pytest.mark.parametrize("viewer", ["A", "B"])
@pytest.mark.parametrize("section", SECTION_KEYS)
def test_csv_shows_only_the_token_organization(client, tenants, viewer, section):
    me, other = _pair(tenants, viewer)
    params = {**CUSTOM, "limit": str(MAX_TOP), "org_id": other.org.id, "organization": other.org.name}
    report = client.get(REPORT, query_string=params, headers=me.headers).get_json()
    response = client.get(REPORT + ".csv", query_string={**params, "section": section}, headers=me.headers)
    assert response.status_code == 200
    assert response.get_data(as_text=True) == rows_csv(section, report[SECTION_KEYS[section]])
    assert_nothing_of(other, response.data, response.headers["Content-Disposition"])


def _snapshot(engine, client, tenant: Tenant) -> tuple:
    """Everything stored for and reported to `tenant`."""
    with engine.connect() as conn:
        rows = [
            tuple(r)
            for r in conn.execute(
                sa.select(usage_events)
                .where(usage_events.c.organization_id == tenant.org.id)
                .order_by(usage_events.c.event_id)
            )
        ]
        names = sorted(
            tuple(r) for r in conn.execute(sa.select(agents).where(agents.c.organization_id == tenant.org.id))
        )
        titles = sorted(
            tuple(r)
            for r in conn.execute(sa.select(conversations).where(conversations.c.organization_id == tenant.org.id))
        )
    reports = [
        client.get(REPORT, query_string=p, headers=tenant.headers).get_json() for p in (CUSTOM, {"period": "year"})
    ]
    return rows, names, titles, reports


@pytest.mark.parametrize("writer", ["A", "B"])
def test_ingesting_with_one_token_never_touches_the_other_organization(engine, client, tenants, writer):
    me, other = _pair(tenants, writer)
    before = _snapshot(engine, client, other)
    mine_before = len(_snapshot(engine, client, me)[0])
    ids_only_other = sorted({e["event_id"] for e in other.events} - {e["event_id"] for e in me.events})
    shared_id = me.events[0]["event_id"]
    # The other's event ids, agent ids and conversation ids, with huge numbers and new names.
    batch = [
        event(
            0,
            event_id=i,
            timestamp=_z(NOW),
            agent_id="bot",
            agent_name=f"Renamed-{i}",
            conversation_id="c-0",
            conversation_title=f"Retitled-{i}",
            prompt_tokens=10**9,
            cost="999",
        )
        for i in [shared_id, *ids_only_other, f"new-{uuid.uuid4().hex[:6]}"]
    ]
    response = client.post(USAGE, json={"events": batch}, headers=me.headers)
    assert response.get_json() == {"inserted": len(batch) - 1, "skipped": 1, "unpriced": 0}
    assert _snapshot(engine, client, other) == before
    # An id that exists only in the other organization is a new event of the writer's.
    with engine.connect() as conn:
        stored = conn.execute(
            sa.select(usage_events.c.event_id, usage_events.c.prompt_tokens).where(
                usage_events.c.organization_id == me.org.id
            )
        ).all()
    assert len(stored) == mine_before + len(batch) - 1
    assert {i: t for i, t in stored if i in ids_only_other} == {i: 10**9 for i in ids_only_other}


# --- sessions and tokens together ---------------------------------------------------------------


def test_a_bearer_token_wins_over_the_session_and_is_never_mixed_with_it(engine, client, tenants):
    a, b = tenants["A"], tenants["B"]
    b_alone = client.get(REPORT, query_string=CUSTOM, headers=b.headers).get_json()
    assert login(client, a.email, TEST_PASSWORD).status_code == 302
    session_only = client.get(REPORT, query_string=CUSTOM)
    assert_only_own(session_only.get_json(), a, CUSTOM)
    # A's session and B's token: the API answers exactly what B's token alone gets.
    both = client.get(REPORT, query_string=CUSTOM, headers=b.headers)
    assert both.get_json() == b_alone
    assert_nothing_of(a, both.data)
    csv = client.get(REPORT + ".csv", query_string={**CUSTOM, "section": "agents"}, headers=b.headers)
    assert_nothing_of(a, csv.data)
    # A bad token is refused even with a good session: no falling back to the session's organization.
    for header in ("Bearer bd_not-a-token", "Bearer", "Basic abc"):
        assert client.get(REPORT, headers={"Authorization": header}).status_code == 401
    # The session reads but cannot ingest; B's token ingests into B only.
    a_before = _snapshot(engine, client, a)
    assert client.post(USAGE, json={"events": [event(99)]}).status_code == 403
    assert client.post(USAGE, json={"events": [event(99)]}, headers=b.headers).get_json()["inserted"] == 1
    assert _snapshot(engine, client, a) == a_before
    # The dashboard knows sessions only: B's token does not change what A's session sees there.
    dash = client.get("/_dash-layout", headers=b.headers)
    assert dash.status_code == 200 and a.org.name in dash.get_data(as_text=True)
    assert_nothing_of(b, dash.data)


def test_a_token_alone_opens_no_dashboard(client, tenants):
    for path in ("/_dash-layout", "/_dash-dependencies"):
        assert client.get(path, headers=tenants["A"].headers).status_code == 401
    assert client.get(DASHBOARD_PATH, headers=tenants["A"].headers).status_code == 302


# --- the dashboard through real HTTP ---------------------------------------------------------------


def assert_dashboard_shows(client, shown: dict, api: dict, params: dict, me: Tenant) -> None:
    """The report callback's answer `shown` holds the API's rows and CSVs for `me`, nothing else."""
    _daily, _share, *rows, _unpriced, _tags = shown["billing-drawings"]["data"]  # figures, grid rows, banner, tags
    assert rows == [api[SECTION_KEYS[section]] for section in ("agents", "models", "conversations")]
    for section in SECTION_KEYS:  # the tenants pre-aggregate no tag keys: no tags section
        csv = client.get(REPORT + ".csv", query_string={**params, "section": section}, headers=me.headers)
        file = shown["billing-downloads"]["data"][section]
        # The conversations CSV is the API's, fetched with the session (the client is logged in as `me`).
        content = client.get(file["url"]).get_data(as_text=True) if "url" in file else file["content"]
        assert content == csv.get_data(as_text=True)


@pytest.mark.parametrize("viewer", ["A", "B"])
def test_dashboard_shows_only_the_session_organization(client, tenants, viewer):
    me, other = _pair(tenants, viewer)
    assert login(client, me.email, TEST_PASSWORD).status_code == 302
    bodies = []

    def get(path: str, **kwargs):
        response = client.get(path, **kwargs)
        bodies.append(response.data)
        return response

    def post(body: dict, **kwargs):
        response = client.post("/_dash-update-component", json=body, **kwargs)
        bodies.append(response.data)
        return response

    assert get(DASHBOARD_PATH, query_string={"period": "custom", "org_id": other.org.id}).status_code == 200
    assert get("/_dash-layout").status_code == 200
    dependencies = get("/_dash-dependencies").get_json()
    load = next(d for d in dependencies if d["output"].startswith("..billing-downloads.data..."))
    pages = next(d for d in dependencies if d["inputs"][0]["id"] == "_pages_location")
    # period, dates, retry, the filter store, the granularity, the stack, the tag card's key
    assert len(load["inputs"]) == 8

    # The page itself, as the browser asks for it, also with the other organization named in the URL.
    for search in ("?period=custom", f"?period=custom&org_id={other.org.id}&organization={other.org.name}"):
        assert post(callback_body(pages, [DASHBOARD_PATH, search])).status_code == 200

    for params in [{"period": p} for p in ("today", "week", "month", "year")] + [CUSTOM]:
        response = post(callback_body(load, load_values(params)))
        assert response.status_code == 200, response.data
        api = client.get(REPORT, query_string=params, headers=me.headers).get_json()
        assert_dashboard_shows(client, response.get_json()["response"], api, params, me)
        assert_only_own(api, me, params)

    # Smuggling the other organization in: as extra inputs or state, in the values, in the URL.
    custom = load_values(CUSTOM)
    smuggled = [
        {"id": "organization", "property": "value", "value": other.org.id},
        {"id": {"type": "org", "name": other.org.name}, "property": "data", "value": other.org.name},
    ]
    for body in (
        callback_body(load, custom, extra_inputs=smuggled),
        callback_body(load, custom, state=smuggled),
        callback_body(load, [other.org.name, other.org.id, other.email, other.org.id]),
        callback_body(load, [{"org_id": other.org.id}, *custom[1:]]),
    ):
        response = post(body)
        # Refused (Dash checks the inputs against the callback) or an answer without a report.
        assert response.status_code != 200 or "billing-downloads" not in response.get_json()["response"], response.data
    response = post(
        callback_body(load, custom),
        query_string={"org_id": other.org.id},
        headers={"X-Organization-Id": str(other.org.id)},
    )
    api = client.get(REPORT, query_string=CUSTOM, headers=me.headers).get_json()
    assert_dashboard_shows(client, response.get_json()["response"], api, CUSTOM, me)
    assert_only_own(api, me, CUSTOM)

    # A conversation row clicked: the id both organizations use opens this organization's.
    opened = next(d for d in dependencies if d["output"].startswith("..billing-conversation.is_open"))
    response = post(callback_body(opened, [{"rowId": "c-1", "colId": "title"}]))
    assert response.status_code == 200, response.data
    assert me.markers[-2] in response.get_data(as_text=True)  # its title

    assert_nothing_of(other, *bodies)
    # The markers do show up for their own organization, so their absence above means something.
    assert all(m in b"".join(bodies).decode() for m in me.markers[:1] + me.markers[3:])
