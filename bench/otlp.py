"""The OTLP case of the benchmark: GenAI spans in protobuf batches posted to /api/v1/otel/v1/traces, in spans per second."""

from __future__ import annotations

import random
import statistics
import time
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from .generate import MODELS

_MODEL_NAMES = sorted(MODELS)

PATH = "/api/v1/otel/v1/traces"
# The OpenTelemetry SDK's BatchSpanProcessor exports at most 512 spans a request (its default
# OTEL_BSP_MAX_EXPORT_BATCH_SIZE).
SPANS_PER_REQUEST = 512
# Per gunicorn worker: the client sends one request at a time, so one worker works at a time.
OTLP_SPANS_PER_S = 5000.0
# A trace as agents send it: one invoke_agent span above CHATS_PER_AGENT chat spans and one tool
# span (the agent and tool spans are decoded and skipped, the chats stored).
CHATS_PER_AGENT = 6


def _kv(key: str, value: str | int) -> KeyValue:
    kv = KeyValue(key=key)
    if isinstance(value, int):
        kv.value.int_value = value
    else:
        kv.value.string_value = value
    return kv


def build_batches(requests: int, seed: int = 1, spans_per_request: int = SPANS_PER_REQUEST) -> tuple[list[bytes], int]:
    """`requests` ExportTraceServiceRequest bodies of `spans_per_request` spans each, and how many
    of all their spans are chats with usage (the events they should store)."""
    rng = random.Random(seed)
    now = time.time_ns()
    bodies, chats = [], 0
    for r in range(requests):
        request = ExportTraceServiceRequest()
        resource_spans = request.resource_spans.add()
        resource_spans.resource.attributes.append(_kv("service.name", "bench-agents"))
        scope = resource_spans.scope_spans.add()
        scope.scope.name = "opentelemetry.instrumentation.openai"
        spans = scope.spans
        while len(spans) < spans_per_request:
            trace = rng.randbytes(16)
            agent_id = rng.randbytes(8)
            end = now - rng.randrange(86_400) * 10**9
            agent = spans.add(
                trace_id=trace, span_id=agent_id, name="invoke_agent support", kind=Span.SPAN_KIND_INTERNAL
            )
            agent.start_time_unix_nano, agent.end_time_unix_nano = end - 60 * 10**9, end
            n = rng.randrange(8)
            agent.attributes.extend(
                [
                    _kv("gen_ai.operation.name", "invoke_agent"),
                    _kv("gen_ai.agent.id", f"agent-{n}"),
                    _kv("gen_ai.agent.name", f"Agent {n}"),
                    _kv("gen_ai.conversation.id", f"conv-{r}-{len(spans)}"),
                ]
            )
            tool = spans.add(trace_id=trace, span_id=rng.randbytes(8), parent_span_id=agent_id, name="execute_tool")
            tool.start_time_unix_nano, tool.end_time_unix_nano = end - 30 * 10**9, end - 29 * 10**9
            tool.attributes.extend([_kv("gen_ai.operation.name", "execute_tool"), _kv("gen_ai.tool.name", "search")])
            for c in range(CHATS_PER_AGENT):
                if len(spans) >= spans_per_request:
                    break
                model = rng.choice(_MODEL_NAMES)
                prompt = rng.randrange(200, 20_000)
                read = rng.randrange(prompt // 2)
                completion = rng.randrange(20, 2000)
                chat = spans.add(
                    trace_id=trace,
                    span_id=rng.randbytes(8),
                    parent_span_id=agent_id,
                    name=f"chat {model}",
                    kind=Span.SPAN_KIND_CLIENT,
                )
                chat.start_time_unix_nano = end - (50 - c) * 10**9
                chat.end_time_unix_nano = chat.start_time_unix_nano + rng.randrange(10**8, 5 * 10**9)
                chat.attributes.extend(
                    [
                        _kv("gen_ai.operation.name", "chat"),
                        _kv("gen_ai.provider.name", "openai"),
                        _kv("gen_ai.request.model", model),
                        _kv("gen_ai.response.model", model),
                        _kv("gen_ai.response.id", f"chatcmpl-{rng.getrandbits(64):x}"),
                        _kv("gen_ai.response.finish_reasons", "stop"),
                        _kv("server.address", "api.openai.com"),
                        _kv("gen_ai.usage.input_tokens", prompt),
                        _kv("gen_ai.usage.output_tokens", completion),
                        _kv("gen_ai.usage.cache_read.input_tokens", read),
                    ]
                )
                chats += 1
        bodies.append(request.SerializeToString())
    return bodies, chats


def time_otlp(send: Any, bodies: list[bytes], warmups: int) -> dict[str, Any]:
    """Post `bodies` one after another through `send(body) -> (status, data, ms)`: the first
    `warmups` untimed (their spans stored all the same). Spans per second = spans of the timed
    requests / their summed time."""
    times = []
    for i, body in enumerate(bodies):
        status, data, ms = send(body)
        if status != 200:
            raise SystemExit(f"bench: OTLP export answered {status}: {data[:500]!r}")
        answer = ExportTraceServiceResponse.FromString(data)
        if answer.partial_success.rejected_spans:
            raise SystemExit(f"bench: OTLP export refused spans: {answer.partial_success.error_message}")
        if i >= warmups:
            times.append(ms)
    spans = SPANS_PER_REQUEST * len(times)
    return {
        "requests": len(times),
        "spans_per_request": SPANS_PER_REQUEST,
        "p50_ms": round(statistics.median(times), 2),
        "p95_ms": round(sorted(times)[max(0, -(-95 * len(times) // 100) - 1)], 2),
        "spans_per_s": round(spans / (sum(times) / 1000), 0),
    }
