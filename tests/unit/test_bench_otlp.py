"""The bench's OTLP exports are what the endpoint counts: every chat span an event, nothing refused."""

from bench.otlp import SPANS_PER_REQUEST, build_batches
from billing_dash.ingest.otlp import decode_traces, span_events


def test_bench_exports_map_to_one_event_per_chat_span():
    bodies, chats = build_batches(3, seed=7)
    events = [span_events(decode_traces(body, as_json=False)) for body in bodies]
    assert all(e.spans == SPANS_PER_REQUEST for e in events)
    assert sum(len(e.records) for e in events) == chats
    assert not any(e.refused for e in events)
    # Each chat is named after its invoke_agent parent, not the service.
    assert {event.agent_id for e in events for _, event in e.records} <= {f"agent-{n}" for n in range(8)}
