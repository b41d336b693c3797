"""OpenTelemetry GenAI spans over OTLP/HTTP into billing, on both databases, through a running server:
the real SDK's exporter (protobuf), hand-written OTLP/JSON with gzip, retries, agent spans, errors."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from decimal import Decimal

import pytest
import requests
import sqlalchemy as sa
from google.rpc.status_pb2 import Status
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import set_span_in_context

from billing_dash.auth import create_org, create_token
from billing_dash.config import Settings
from billing_dash.db import make_engine, upgrade
from billing_dash.models import usage_events
from billing_dash.web.app import create_app
from tests import ROOT

from ..factories import ok, priced_model, run, running_server

TRACES = "/api/v1/otel/v1/traces"
DAY = "2026-02-10"
# USD per million: input, output, cache read, cache write.
PRICE = (Decimal("2.5"), Decimal("10"), Decimal("1.25"), Decimal("3.125"))


@pytest.fixture(scope="module")
def server(database_url):
    with running_server(database_url) as base:
        yield base


@pytest.fixture
def model(engine) -> str:
    """A model with a price of its own, so the expected cost is computed here from PRICE."""
    return priced_model(engine, PRICE, "otel-model")


def by_hand(prompt: int, completion: int, read: int, write: int) -> Decimal:
    """(prompt - reads - writes) x input + reads x read price + writes x write price + completion x output."""
    inp, out, rd, wr = PRICE
    return ((prompt - read - write) * inp + read * rd + write * wr + completion * out) / 1_000_000


def ns(hour: int, minute: int = 0, second: int = 0) -> int:
    return int(datetime.fromisoformat(f"{DAY}T{hour:02d}:{minute:02d}:{second:02d}+00:00").timestamp()) * 10**9


def report(server: str, token: str) -> dict:
    response = requests.get(
        server + "/api/v1/analytics/billing",
        params={"period": "custom", "startDate": DAY, "endDate": DAY, "tz": "UTC"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()


def conversation(server: str, token: str, conversation_id: str) -> dict:
    response = requests.get(
        f"{server}/api/v1/conversations/{conversation_id}", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert response.status_code == 200, response.text
    return response.json()


def stored(engine, org_id: int) -> list:
    with engine.connect() as conn:
        return conn.execute(
            sa.select(usage_events).where(usage_events.c.organization_id == org_id).order_by(usage_events.c.event_id)
        ).all()


# --- the real SDK -------------------------------------------------------------------------------


def test_the_sdk_exporter_delivers_genai_spans_to_billing(server, engine, org, token, model, monkeypatch):
    # Configured only as the issue says an application would be: endpoint and header variables.
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", server + "/api/v1/otel")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", f"Authorization=Bearer%20{token}")
    provider = TracerProvider(resource=Resource.create({"service.name": "support-service"}))
    # Batched, as in production: the agent span and its chats then travel in one request.
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    tracer = provider.get_tracer("test")

    chats = [  # input includes the cache reads and writes (GenAI semconv); reasoning is part of output
        {"input": 12_000, "output": 800, "read": 9000, "write": 1000, "reasoning": 300},
        {"input": 4000, "output": 200, "read": 0, "write": 2500, "reasoning": 0},
    ]
    agent = tracer.start_span(
        "invoke_agent Planner",
        start_time=ns(9),
        attributes={
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.id": "planner",
            "gen_ai.agent.name": "Planner",
            "gen_ai.conversation.id": "conv-sdk",
            # The sums of its children: must not count again.
            "gen_ai.usage.input_tokens": 16_000,
            "gen_ai.usage.output_tokens": 1000,
        },
    )
    for i, c in enumerate(chats):
        span = tracer.start_span(
            f"chat {model}",
            context=set_span_in_context(agent),
            start_time=ns(9, i),
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "something-requested",
                "gen_ai.response.model": model,
                "gen_ai.conversation.id": "conv-sdk",
                "gen_ai.usage.input_tokens": c["input"],
                "gen_ai.usage.output_tokens": c["output"],
                "gen_ai.usage.cache_read.input_tokens": c["read"],
                "gen_ai.usage.cache_creation.input_tokens": c["write"],
                "gen_ai.usage.reasoning.output_tokens": c["reasoning"],
            },
        )
        span.end(end_time=ns(9, i, 30))
    # A tool call and an HTTP span: not inference, ignored.
    tracer.start_span("execute_tool search", context=set_span_in_context(agent), start_time=ns(9, 3)).end(ns(9, 4))
    agent.end(end_time=ns(9, 5))
    # OpenInference attributes, no agent anywhere: the resource's service.name names the agent,
    # the trace id the conversation.
    lone = tracer.start_span(
        "llm",
        start_time=ns(11),
        attributes={
            "openinference.span.kind": "LLM",
            "llm.model_name": model,
            "llm.token_count.prompt": 500,
            "llm.token_count.completion": 40,
            "llm.token_count.prompt_details.cache_read": 100,
            "llm.token_count.prompt_details.cache_write": 50,
            "llm.token_count.completion_details.reasoning": 10,
        },
    )
    lone.end(end_time=ns(11, 1))
    assert provider.force_flush()
    provider.shutdown()

    body = report(server, token)
    expected_cost = sum(by_hand(c["input"], c["output"], c["read"], c["write"]) for c in chats)
    lone_cost = by_hand(500, 40, 100, 50)
    summary = body["summary"]
    assert summary["totalMessages"] == 3
    assert summary["promptTokens"] == sum(c["input"] for c in chats) + 500
    assert summary["completionTokens"] == sum(c["output"] for c in chats) + 40
    assert Decimal(str(summary["totalCost"])) == (expected_cost + lone_cost).quantize(Decimal("0.000001"))
    agents = {a["agentId"]: a for a in body["usageByAgent"]}
    assert set(agents) == {"planner", "support-service"}
    planner = agents["planner"]
    assert planner["agentName"] == "Planner"
    assert planner["messageCount"] == 2  # two chats, the agent span not counted
    assert planner["cacheReadTokens"] == 9000 and planner["cacheWriteTokens"] == 3500
    assert planner["reasoningTokens"] == 300
    assert Decimal(str(planner["cost"])) == expected_cost.quantize(Decimal("0.000001"))
    service = agents["support-service"]
    assert (service["cacheReadTokens"], service["cacheWriteTokens"], service["reasoningTokens"]) == (100, 50, 10)
    assert [m["model"] for m in body["usageByModel"]] == [model]

    detail = conversation(server, token, "conv-sdk")
    assert detail["agentId"] == "planner"
    assert len(detail["messages"]) == 2
    rows = stored(engine, org.id)
    lone_row = next(r for r in rows if r.agent_id == "support-service")
    assert lone_row.conversation_id == format(lone.get_span_context().trace_id, "032x")
    assert lone_row.event_id == lone_row.conversation_id + format(lone.get_span_context().span_id, "016x")
    assert lone_row.ts == datetime(2026, 2, 10, 11, 1, tzinfo=UTC)


# --- hand-written OTLP/JSON ---------------------------------------------------------------------


def attr(key: str, value) -> dict:
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}  # 64-bit integers as strings, as OTLP/JSON allows
    if isinstance(value, float):
        return {"key": key, "value": {"doubleValue": value}}
    return {"key": key, "value": {"stringValue": value}}


def json_span(trace: str, span: str, end: int, parent: str = "", **attributes) -> dict:
    return {
        "traceId": trace,
        "spanId": span,
        "parentSpanId": parent,
        "name": "chat",
        "kind": 3,  # enums as integers: SPAN_KIND_CLIENT
        "startTimeUnixNano": str(end - 10**9),
        "endTimeUnixNano": str(end),
        "attributes": [attr(k.replace("__", "."), v) for k, v in attributes.items()],
    }


def json_body(spans: list[dict], service: str = "json-service") -> dict:
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": [attr("service.name", service)]},
                "scopeSpans": [{"scope": {"name": "hand"}, "spans": spans}],
            }
        ]
    }


def post_json(server: str, token: str, body, gzipped: bool = True) -> requests.Response:
    data = json.dumps(body).encode() if not isinstance(body, bytes) else body
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    if gzipped:
        data = gzip.compress(data)
        headers["Content-Encoding"] = "gzip"
    return requests.post(server + TRACES, data=data, headers=headers, timeout=60)


TRACE = "5b8efff798038103d269b633813fc60c"


def chat(span: str, end: int, model: str, prompt: int = 1000, completion: int = 100, **more) -> dict:
    return json_span(
        TRACE,
        span,
        end,
        gen_ai__operation__name="chat",
        gen_ai__request__model=model,
        gen_ai__usage__input_tokens=prompt,
        gen_ai__usage__output_tokens=completion,
        **more,
    )


def test_otlp_json_with_gzip_is_stored_once_and_answers_in_json(server, engine, org, token, model):
    spans = [
        chat("eee19b7ec3c1b174", ns(10), model, gen_ai__conversation__id="conv-json", session__id="ignored"),
        chat("eee19b7ec3c1b175", ns(10, 1), model, 2000, 10, session__id="session-7", agent__name="helper"),
        # Deprecated names still count.
        json_span(
            TRACE,
            "eee19b7ec3c1b176",
            ns(10, 2),
            gen_ai__operation__name="text_completion",
            gen_ai__request__model=model,
            gen_ai__usage__prompt_tokens=300,
            gen_ai__usage__completion_tokens=30,
            gen_ai__conversation__id="conv-json",
            gen_ai__conversation__title="Refund question",
        ),
        # An inference span without usage: ignored, not refused.
        json_span(TRACE, "eee19b7ec3c1b177", ns(10, 3), gen_ai__operation__name="chat", gen_ai__request__model=model),
    ]
    first = post_json(server, token, json_body(spans))
    assert first.status_code == 200, first.text
    assert first.headers["Content-Type"].startswith("application/json")
    answer = first.json()
    # Nothing refused: rejectedSpans 0, the message tells what was ignored.
    assert int(answer["partialSuccess"].get("rejectedSpans", 0)) == 0
    assert "1 without token usage" in answer["partialSuccess"]["errorMessage"]

    again = post_json(server, token, json_body(spans))  # the exporter's retry
    assert again.status_code == 200, again.text
    rows = stored(engine, org.id)
    assert len(rows) == 3
    by_id = {r.event_id: r for r in rows}
    assert set(by_id) == {TRACE + s["spanId"] for s in spans[:3]}
    assert by_id[TRACE + "eee19b7ec3c1b174"].conversation_id == "conv-json"
    assert by_id[TRACE + "eee19b7ec3c1b175"].conversation_id == "session-7"
    assert by_id[TRACE + "eee19b7ec3c1b175"].agent_id == "helper"
    assert by_id[TRACE + "eee19b7ec3c1b174"].agent_id == "json-service"
    assert by_id[TRACE + "eee19b7ec3c1b176"].prompt_tokens == 300
    total = by_hand(1000, 100, 0, 0) + by_hand(2000, 10, 0, 0) + by_hand(300, 30, 0, 0)
    assert sum(r.cost for r in rows) == total
    assert conversation(server, token, "conv-json")["title"] == "Refund question"


def test_refused_spans_are_counted_in_partial_success_and_the_valid_ones_stored(server, engine, org, token, model):
    spans = [
        chat("aaa19b7ec3c1b174", ns(12), model),
        # A part larger than its total.
        chat("aaa19b7ec3c1b175", ns(12, 1), model, 100, 10, gen_ai__usage__cache_read__input_tokens=500),
        # No model anywhere.
        json_span(TRACE, "aaa19b7ec3c1b176", ns(12, 2), gen_ai__operation__name="chat", gen_ai__usage__input_tokens=5),
    ]
    response = post_json(server, token, json_body(spans), gzipped=False)
    assert response.status_code == 200, response.text
    partial = response.json()["partialSuccess"]
    assert int(partial["rejectedSpans"]) == 2
    assert "aaa19b7ec3c1b175" in partial["errorMessage"] and "cache_read" in partial["errorMessage"]
    assert [r.event_id for r in stored(engine, org.id)] == [TRACE + "aaa19b7ec3c1b174"]


def test_an_agent_span_above_two_chats_counts_two_messages_named_after_the_agent(server, engine, org, token, model):
    agent = json_span(
        TRACE,
        "bbb19b7ec3c1b170",
        ns(13, 5),
        gen_ai__operation__name="invoke_agent",
        gen_ai__agent__id="triage",
        gen_ai__agent__name="Triage",
        gen_ai__usage__input_tokens=3000,
        gen_ai__usage__output_tokens=300,
        gen_ai__request__model=model,
    )
    workflow = json_span(
        TRACE,
        "bbb19b7ec3c1b171",
        ns(13, 4),
        parent="bbb19b7ec3c1b170",
        openinference__span__kind="CHAIN",
        llm__token_count__prompt=3000,
        llm__token_count__completion=300,
        llm__model_name=model,
    )
    children = [
        chat("bbb19b7ec3c1b172", ns(13, 1), model, 1000, 100) | {"parentSpanId": "bbb19b7ec3c1b171"},
        chat("bbb19b7ec3c1b173", ns(13, 2), model, 2000, 200) | {"parentSpanId": "bbb19b7ec3c1b171"},
    ]
    # Children before their parents, as a batch may hold them.
    response = post_json(server, token, json_body([*children, workflow, agent]))
    assert response.status_code == 200, response.text
    rows = stored(engine, org.id)
    assert len(rows) == 2
    assert {r.agent_id for r in rows} == {"triage"}
    assert sum(r.prompt_tokens for r in rows) == 3000


def test_explicit_span_cost_counts_only_when_the_organization_opts_in(server, database_url, engine, org, token, model):
    span = chat("ccc19b7ec3c1b174", ns(14), model, llm__cost__total=0.5)
    assert post_json(server, token, json_body([span])).status_code == 200
    assert stored(engine, org.id)[0].cost == by_hand(1000, 100, 0, 0)

    ok(run(database_url, "set-span-cost", "--org", org.name, "on"))
    span = chat("ccc19b7ec3c1b175", ns(14, 1), model, llm__cost__total=0.5)
    assert post_json(server, token, json_body([span])).status_code == 200
    assert stored(engine, org.id)[1].cost == Decimal("0.5")


# --- errors ---------------------------------------------------------------------------------------


def post_raw(server: str, data: bytes, content_type: str, token: str | None, **headers: str) -> requests.Response:
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return requests.post(server + TRACES, data=data, headers={"Content-Type": content_type, **headers}, timeout=60)


def status_of(response: requests.Response) -> Status:
    """The google.rpc.Status an OTLP/HTTP error answers a protobuf request with."""
    assert response.headers["Content-Type"] == "application/x-protobuf", response.headers
    status = Status()
    status.ParseFromString(response.content)
    assert status.message
    return status


def test_undecodable_bodies_are_400(server, engine, org, token):
    protobuf = post_raw(server, b"\xff\xff\xff not protobuf", "application/x-protobuf", token)
    assert protobuf.status_code == 400
    status_of(protobuf)
    as_json = post_raw(server, b"{not json", "application/json", token)
    assert as_json.status_code == 400
    assert as_json.json()["error"]["code"] == "invalid_body"
    wrong_shape = post_raw(server, b'{"resourceSpans": 5}', "application/json", token)
    assert wrong_shape.status_code == 400, wrong_shape.text
    bad_id = post_raw(server, json.dumps(json_body([chat("not-hex", ns(1), "m")])).encode(), "application/json", token)
    assert bad_id.status_code == 400, bad_id.text
    garbage = post_raw(server, b"not gzip at all", "application/x-protobuf", token, **{"Content-Encoding": "gzip"})
    assert garbage.status_code == 400
    status_of(garbage)
    other = post_raw(server, b"x", "text/plain", token)
    assert other.status_code == 415
    assert stored(engine, org.id) == []


def test_an_empty_export_succeeds(server, token):
    response = post_raw(server, b"", "application/x-protobuf", token)
    assert response.status_code == 200
    answer = ExportTraceServiceResponse()
    answer.ParseFromString(response.content)
    assert not answer.HasField("partial_success")


def test_too_large_bodies_are_413(server, token):
    # 40 MiB of zeros is 40 KB gzipped: the limit holds for what the body inflates to.
    bomb = gzip.compress(b"\0" * (40 * 1024 * 1024))
    response = post_raw(server, bomb, "application/x-protobuf", token, **{"Content-Encoding": "gzip"})
    assert response.status_code == 413
    status_of(response)
    plain = post_raw(server, b"\0" * (40 * 1024 * 1024), "application/x-protobuf", token)
    assert plain.status_code == 413


def test_tokens_are_checked(server, engine, org, token):
    body = ExportTraceServiceRequest().SerializeToString()
    missing = post_raw(server, body, "application/x-protobuf", None)
    assert missing.status_code == 401
    status_of(missing)
    unknown = post_raw(server, body, "application/json", "bd_unknown")
    assert unknown.status_code == 401
    assert unknown.json()["error"]["code"] == "unauthorized"
    with engine.begin() as conn:
        reader = create_token(conn, org, "reader", ("read",))
    forbidden = post_raw(server, body, "application/x-protobuf", reader)
    assert forbidden.status_code == 403
    assert "ingest" in status_of(forbidden).message


def test_503_with_retry_after_while_the_database_is_down(postgres_url, proxy):
    engine = make_engine(postgres_url)
    try:
        upgrade(engine)
        with engine.begin() as conn:
            org = create_org(conn, f"otlp-outage-{uuid.uuid4().hex[:12]}", "UTC")
            token = create_token(conn, org, "outage")
    finally:
        engine.dispose()
    proxied = sa.engine.make_url(postgres_url).set(host="127.0.0.1", port=proxy.port)
    app = create_app(Settings.from_env({}, database_url=proxied.render_as_string(hide_password=False), secret_key="s"))
    client = app.server.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    body = ExportTraceServiceRequest().SerializeToString()
    try:
        assert client.post(TRACES, data=body, headers=headers, content_type="application/x-protobuf").status_code == 200
        proxy.down()
        down = client.post(TRACES, data=body, headers=headers, content_type="application/x-protobuf")
        assert down.status_code == 503
        assert int(down.headers["Retry-After"]) > 0
        assert down.mimetype == "application/x-protobuf"
        status = Status()
        status.ParseFromString(down.data)
        assert "unavailable" in status.message
        as_json = client.post(TRACES, data=b"{}", headers=headers, content_type="application/json")
        assert as_json.status_code == 503 and as_json.headers["Retry-After"]
        assert as_json.get_json()["error"]["code"] == "database_unavailable"
    finally:
        proxy.up()
        app.server.extensions["billing_dash.engine"].dispose()


def test_the_readme_example_reaches_billing(server, engine, org, token):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- otlp-example -->\n```python\n", 1)[1].split("```\n<!-- /otlp-example -->", 1)[0]
    assert len(block.strip().splitlines()) <= 12
    env = {
        **os.environ,
        "OTEL_EXPORTER_OTLP_ENDPOINT": server + "/api/v1/otel",
        "OTEL_EXPORTER_OTLP_HEADERS": f"Authorization=Bearer%20{token}",
        "OTEL_SERVICE_NAME": "readme-example",
    }
    done = subprocess.run([sys.executable, "-c", block], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    (row,) = stored(engine, org.id)
    assert (row.agent_id, row.conversation_id, row.model) == ("support", "c-77", "gpt-4o-mini")
    assert (row.prompt_tokens, row.completion_tokens) == (1200, 310)
    assert row.priced  # gpt-4o-mini is in the catalogue


def test_more_spans_with_usage_than_a_batch_may_hold_is_413(database_url, engine, org, token, model):
    app = create_app(Settings.from_env({}, database_url=database_url, secret_key="s", max_ingest_events=2))
    try:
        client = app.server.test_client()
        spans = [chat(f"ddd19b7ec3c1b17{i}", ns(15, i), model) for i in range(3)]
        headers = {"Authorization": f"Bearer {token}"}
        response = client.post(
            TRACES, data=json.dumps(json_body(spans)), headers=headers, content_type="application/json"
        )
        assert response.status_code == 413
        assert response.get_json()["error"]["code"] == "batch_too_large"
        # Spans without usage do not count against it.
        spans[2] = json_span(TRACE, "ddd19b7ec3c1b179", ns(15, 9), gen_ai__operation__name="invoke_agent")
        response = client.post(
            TRACES, data=json.dumps(json_body(spans)), headers=headers, content_type="application/json"
        )
        assert response.status_code == 200, response.data
        assert len(stored(engine, org.id)) == 2
    finally:
        app.server.extensions["billing_dash.engine"].dispose()


def test_spans_crossing_a_budget_send_its_alert_as_any_ingest_does(server, engine, org, token, model):
    from billing_dash.alerts.budgets import set_budget
    from billing_dash.alerts.webhooks import add_webhook

    from ..receiver import Receiver

    receiver = Receiver()
    try:
        with engine.begin() as conn:
            add_webhook(conn, org.id, receiver.url, "a-secret-of-sixteen+", "json")
            set_budget(conn, org.id, "organization", "", "day", None, 1000, (100,))
        now = int((datetime.now(UTC).timestamp() - 1) * 1e9)
        answer = post_json(server, token, json_body([chat("aaa19b7ec3c1b174", now, model, 900, 200)]))
        assert answer.status_code == 200, answer.text
        (request,) = receiver.wait_for(1)
        body = json.loads(request.body)
        assert (body["kind"], body["threshold"], body["unit"], body["used"]) == ("threshold", 100, "tokens", 1100)
    finally:
        receiver.stop()
