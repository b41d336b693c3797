"""Agent names, conversation titles and owners: only stored events set them, and the newest wins."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from billing_dash.models import agents, conversations

USAGE = "/api/v1/usage"
T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)


def event(n: int, minutes: int = 0, **overrides) -> dict:
    e = {
        "event_id": f"ev-{n}",
        "timestamp": (T0 + timedelta(minutes=minutes)).isoformat(),
        "agent_id": "bot",
        "agent_name": "Bot",
        "conversation_id": "c-1",
        "conversation_title": "Chat",
        "model": "gpt-4o-mini",
        "prompt_tokens": 100,
        "completion_tokens": 50,
        "cost": "0.01",
    }
    e.update(overrides)
    return {k: v for k, v in e.items() if v is not None}


def send(client, headers, events: list[dict]) -> dict:
    response = client.post(USAGE, json={"events": events}, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def names(engine, org_id: int) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    """{agent id: name} and {conversation id: (agent id, title)} as stored."""
    with engine.connect() as conn:
        agent_names = dict(
            conn.execute(sa.select(agents.c.id, agents.c.name).where(agents.c.organization_id == org_id)).all()
        )
        convs = {
            r.id: (r.agent_id, r.title)
            for r in conn.execute(sa.select(conversations).where(conversations.c.organization_id == org_id))
        }
    return agent_names, convs


def test_a_resent_event_changes_no_name_title_or_owner(client, engine, org, auth_headers):
    send(client, auth_headers, [event(1)])
    before = names(engine, org.id)
    answer = send(
        client,
        auth_headers,
        [event(1, minutes=60, agent_id="other-bot", agent_name="Renamed", conversation_title="Retitled")],
    )
    assert answer["skipped"] == 1
    assert names(engine, org.id) == before == ({"bot": "Bot"}, {"c-1": ("bot", "Chat")})


def test_duplicates_in_one_batch_take_numbers_and_names_from_the_same_first_event(client, engine, org, auth_headers):
    send(
        client,
        auth_headers,
        [
            event(1, agent_name="First", conversation_title="First title"),
            event(1, minutes=5, agent_name="Second", conversation_title="Second title"),
        ],
    )
    assert names(engine, org.id) == ({"bot": "First"}, {"c-1": ("bot", "First title")})


def test_an_old_file_imported_again_does_not_undo_a_rename(client, engine, org, auth_headers):
    send(client, auth_headers, [event(1, agent_name="Old", conversation_title="Old title")])
    send(
        client, auth_headers, [event(2, minutes=10, agent_name="New", conversation_title="New title", agent_id="bot-2")]
    )
    # Older events with new ids (a backfill) keep the newer names and the newer owner.
    send(
        client,
        auth_headers,
        [
            event(3, minutes=-10, agent_name="Old", conversation_title="Old title"),
            event(4, minutes=5, agent_id="bot-2", agent_name="Older name"),
        ],
    )
    agent_names, convs = names(engine, org.id)
    assert agent_names["bot"] == "Old" and agent_names["bot-2"] == "New"
    assert convs == {"c-1": ("bot-2", "New title")}


def test_events_without_names_never_hide_a_known_name(client, engine, org, auth_headers):
    send(client, auth_headers, [event(1, minutes=0, agent_name="Named", conversation_title="Titled")])
    send(client, auth_headers, [event(2, minutes=30, agent_name=None, conversation_title=None)])
    assert names(engine, org.id) == ({"bot": "Named"}, {"c-1": ("bot", "Titled")})


def _expected(events: list[dict]) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    """The rule, computed straight from the events (a stable sort: of equal timestamps the later one wins)."""
    newest = sorted(events, key=lambda e: e["timestamp"])
    agent_names: dict[str, str] = {}
    convs: dict[str, list[str]] = {}
    for e in newest:
        agent_names.setdefault(e["agent_id"], e["agent_id"])
        if "agent_name" in e:
            agent_names[e["agent_id"]] = e["agent_name"]
        conv = convs.setdefault(e["conversation_id"], [e["agent_id"], e["conversation_id"]])
        conv[0] = e["agent_id"]
        if "conversation_title" in e:
            conv[1] = e["conversation_title"]
    return agent_names, {c: tuple(v) for c, v in convs.items()}


@pytest.mark.parametrize("seed", [1, 2])
def test_names_do_not_depend_on_the_order_events_arrive_in(client, engine, auth_headers, org, seed):
    rng = random.Random(seed)
    events = []
    for n, minute in enumerate(rng.sample(range(10_000), 300)):
        events.append(
            event(
                n,
                minutes=minute,
                agent_id=f"a{rng.randrange(4)}",
                agent_name=rng.choice([None, f"name-{n}"]),
                conversation_id=f"c{rng.randrange(20)}",
                conversation_title=rng.choice([None, f"title-{n}"]),
            )
        )
    rng.shuffle(events)
    for start in range(0, len(events), 37):  # many batches, each in random order
        send(client, auth_headers, events[start : start + 37])
    # Re-sending everything, with other names, changes nothing.
    send(client, auth_headers, [{**e, "agent_name": "resent", "conversation_title": "resent"} for e in events])
    assert names(engine, org.id) == _expected(events)


@pytest.mark.parametrize("seed", [3, 4])
def test_one_import_names_from_its_newest_event_whatever_its_batches(engine, org, seed):
    """Within one import, names are applied once from all its batches: the newest event wins, of
    equal timestamps the later one in the input, and an id repeated in a later batch (skipped,
    the first stays) names nothing."""
    from billing_dash.ingest.store import ingest

    rng = random.Random(seed)
    events = [
        event(
            rng.randrange(150),  # repeated ids, within and across batches, with other names each time
            minutes=rng.randrange(6),  # many equal timestamps
            agent_id=f"a{rng.randrange(3)}",
            agent_name=rng.choice([None, f"name-{n}"]),
            conversation_id=f"c{rng.randrange(8)}",
            conversation_title=rng.choice([None, f"title-{n}"]),
        )
        for n in range(400)
    ]
    first: dict[str, dict] = {}
    for e in events:
        first.setdefault(e["event_id"], e)
    # Independently: the first occurrence of each id is what is stored; a stable sort by time then
    # puts equal timestamps in input order, so the last to apply wins, as the rule says.
    stored = sorted(first.values(), key=lambda e: e["timestamp"])
    with engine.begin() as conn:
        result = ingest(conn, org.id, enumerate(events, start=1), batch_size=9)
    assert (result.inserted, result.skipped) == (len(first), len(events) - len(first))
    assert names(engine, org.id) == _expected(stored)


@pytest.mark.parametrize("parallel", [False, True])
@pytest.mark.parametrize("seed", [5, 6])
def test_an_import_storing_all_it_staged_names_from_its_newest_events(engine, org, seed, parallel, monkeypatch):
    """No id repeated or stored before. Many small batches (or worker chunks) in random order,
    many equal timestamps, names and titles often missing, conversations over several days: still
    the newest stored event wins, the later line on a tie."""
    import json

    from billing_dash.ingest import ingest, ingest_jsonl, read_jsonl, store

    monkeypatch.setattr(store, "CHUNK_LINES", 11)
    rng = random.Random(seed)
    events = [
        event(
            n,
            minutes=rng.randrange(8) * 500,  # 8 instants over three days: many ties
            agent_id=f"a{rng.randrange(3)}",
            model=rng.choice(["gpt-4o-mini", "gpt-4o"]),
            agent_name=rng.choice([None, None, f"name-{n}"]),
            conversation_id=f"c{rng.randrange(9)}",
            conversation_title=rng.choice([None, None, f"title-{n}"]),
        )
        for n in range(300)
    ]
    lines = [json.dumps(e).encode() + b"\n" for e in events]
    with engine.begin() as conn:
        if parallel:
            result = ingest_jsonl(conn, org.id, lines, workers=2)
        else:
            result = ingest(conn, org.id, read_jsonl(lines), batch_size=11)
    assert (result.inserted, result.skipped) == (300, 0)
    # Independently: a stable sort by time puts equal timestamps in input order; the last applies.
    assert names(engine, org.id) == _expected(sorted(events, key=lambda e: e["timestamp"]))
