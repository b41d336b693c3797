"""OpenTelemetry GenAI spans (OTLP traces) as usage events: decoding, the attribute mapping, and what is refused."""

from __future__ import annotations

import base64
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from .parse import UsageEvent, _Invalid, parse_event

# Which spans are one call of a model (README, "OpenTelemetry"): the GenAI semantic conventions'
# inference operations, OpenInference's LLM and EMBEDDING span kinds, and OpenLLMetry's older
# llm.request.type. An invoke_agent, workflow or chain span carries the sums of its children
# and is never counted.
INFERENCE_OPERATIONS = frozenset({"chat", "text_completion", "generate_content", "embeddings"})
OPENINFERENCE_KINDS = frozenset({"LLM", "EMBEDDING"})
OPENLLMETRY_REQUEST_TYPES = frozenset({"chat", "completion", "embedding"})
AGENT_OPERATION = "invoke_agent"

# Each of our fields from the first attribute present, in this order. GenAI's input_tokens
# includes the cache reads and writes ("SHOULD include all types of input tokens, including cached
# tokens"; cache_read/cache_creation "SHOULD be included in gen_ai.usage.input_tokens") and
# output_tokens the reasoning tokens, as our prompt and completion tokens do; OpenInference's
# prompt_details and completion_details are breakdowns of its prompt and completion counts.
TOKEN_ATTRIBUTES = {
    "prompt_tokens": ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt"),
    "completion_tokens": (
        "gen_ai.usage.output_tokens",
        "gen_ai.usage.completion_tokens",
        "llm.token_count.completion",
    ),
    "cache_read_tokens": ("gen_ai.usage.cache_read.input_tokens", "llm.token_count.prompt_details.cache_read"),
    "cache_write_tokens": ("gen_ai.usage.cache_creation.input_tokens", "llm.token_count.prompt_details.cache_write"),
    "reasoning_tokens": (
        "gen_ai.usage.reasoning.output_tokens",
        "llm.token_count.completion_details.reasoning",
    ),
}
MODEL_ATTRIBUTES = ("gen_ai.response.model", "gen_ai.request.model", "llm.model_name")
CONVERSATION_ATTRIBUTES = ("gen_ai.conversation.id", "session.id")
TITLE_ATTRIBUTE = "gen_ai.conversation.title"
COST_ATTRIBUTE = "llm.cost.total"
SERVICE_NAME = "service.name"
# The resource's service.name when it has none (the SDKs' own default starts so).
UNKNOWN_SERVICE = "unknown_service"
_KIND_ATTRIBUTES = ("gen_ai.operation.name", "openinference.span.kind", "llm.request.type")
_AGENT_ATTRIBUTES = ("gen_ai.agent.id", "gen_ai.agent.name", "agent.name")
# Only these attributes are read; the others (prompts, tool arguments) are never even converted.
WANTED = frozenset(
    {
        *(name for names in TOKEN_ATTRIBUTES.values() for name in names),
        *MODEL_ATTRIBUTES,
        *CONVERSATION_ATTRIBUTES,
        TITLE_ATTRIBUTE,
        COST_ATTRIBUTE,
        *_KIND_ATTRIBUTES,
        *_AGENT_ATTRIBUTES,
    }
)
# Parents followed to find an agent or conversation: more than any real agent nesting, and a bound
# for a request whose parent ids loop.
MAX_ANCESTORS = 64
MAX_REFUSALS_NAMED = 5


class OtlpDecodeError(ValueError):
    """The body is not an ExportTraceServiceRequest in the encoding it claims."""


class OtlpTooLarge(ValueError):
    """The body inflates past the limit."""


def inflate(body: bytes, limit: int) -> bytes:
    """A gzip body's content, refused past `limit` bytes before more is inflated (a small body may
    inflate to gigabytes)."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        content = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise OtlpDecodeError(f"the body is not valid gzip ({exc})") from None
    if len(content) > limit:
        raise OtlpTooLarge(f"the body inflates to more than {limit:,} bytes")
    if not inflater.eof:
        raise OtlpDecodeError("the gzip body is cut short")
    return content


_ID_KEYS = ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")


def _ids_as_base64(item: dict[str, Any]) -> None:
    # OTLP/JSON writes ids as hex where the protobuf JSON mapping expects base64.
    for key in _ID_KEYS:
        value = item.get(key)
        if isinstance(value, str):
            item[key] = base64.b64encode(bytes.fromhex(value)).decode()


def _list(value: Any) -> list:
    return value if isinstance(value, list) else []


def decode_traces(body: bytes, as_json: bool) -> ExportTraceServiceRequest:
    """The export request in `body`, binary protobuf or OTLP/JSON (hex ids, 64-bit integers as
    numbers or strings, enums as integers, unknown fields ignored as the spec asks)."""
    if not as_json:
        try:
            return ExportTraceServiceRequest.FromString(body)
        except DecodeError as exc:
            raise OtlpDecodeError(f"the body is not an OTLP ExportTraceServiceRequest in protobuf ({exc})") from None
    try:
        document = orjson.loads(body)
        if not isinstance(document, dict):
            raise OtlpDecodeError("the body must be a JSON object (an ExportTraceServiceRequest)")
        for resource_spans in _list(document.get("resourceSpans", document.get("resource_spans"))):
            if not isinstance(resource_spans, dict):
                continue  # ParseDict names the error below
            for scope_spans in _list(resource_spans.get("scopeSpans", resource_spans.get("scope_spans"))):
                if not isinstance(scope_spans, dict):
                    continue
                for span in _list(scope_spans.get("spans")):
                    if isinstance(span, dict):
                        _ids_as_base64(span)
                        for link in _list(span.get("links")):
                            if isinstance(link, dict):
                                _ids_as_base64(link)
        return json_format.ParseDict(document, ExportTraceServiceRequest(), ignore_unknown_fields=True)
    except orjson.JSONDecodeError as exc:
        raise OtlpDecodeError(f"the body is not JSON ({exc})") from None
    except (ValueError, TypeError, RecursionError, json_format.ParseError) as exc:  # a bad hex id, a wrong shape
        raise OtlpDecodeError(f"the body is not OTLP/JSON ({exc})") from None


def export_response(rejected: int, message: str, as_json: bool) -> bytes:
    """An ExportTraceServiceResponse: partial_success only when spans were refused or ignored
    (rejected_spans 0 and a message is the spec's way to warn)."""
    response = ExportTraceServiceResponse()
    if rejected or message:
        response.partial_success.rejected_spans = rejected
        response.partial_success.error_message = message
    if as_json:
        return json_format.MessageToJson(response, indent=None).encode()
    return response.SerializeToString()


def _value(value: AnyValue) -> Any:
    """An attribute's value as parse_event takes it: a double that is a whole number as an int,
    any other as an exact Decimal of its shortest repr (a token count of 2.5 is then refused by name)."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return value.string_value
    if kind == "int_value":
        return value.int_value
    if kind == "double_value":
        number = value.double_value
        return int(number) if number.is_integer() else Decimal(repr(number))
    if kind == "bool_value":
        return value.bool_value
    return None if kind is None else f"<{kind}>"


def _attributes(pairs: Iterable[KeyValue]) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in pairs if kv.key in WANTED}


def _first(attributes: dict[str, Any], names: tuple[str, ...]) -> Any:
    for name in names:
        value = attributes.get(name)
        if value is not None:
            return value
    return None


def _is_inference(attributes: dict[str, Any]) -> bool:
    operation = attributes.get("gen_ai.operation.name")
    if operation is not None:
        return operation in INFERENCE_OPERATIONS
    kind = attributes.get("openinference.span.kind")
    if kind is not None:
        return kind in OPENINFERENCE_KINDS
    return attributes.get("llm.request.type") in OPENLLMETRY_REQUEST_TYPES


def _timestamp(unix_nano: int) -> str:
    seconds, nanos = divmod(unix_nano, 10**9)
    try:
        return datetime.fromtimestamp(seconds, UTC).replace(microsecond=nanos // 1000).isoformat()
    except (OverflowError, OSError, ValueError):
        return str(unix_nano)  # beyond datetime: parse_event refuses it as a timestamp


@dataclass
class SpanEvents:
    """What one export request holds for billing: a validated event per countable span, the rest counted."""

    # (position, validated event) as store.ingest takes them; `span_ids[position]` names the span.
    records: list[tuple[int, UsageEvent]] = field(default_factory=list)
    span_ids: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    not_inference: int = 0
    no_usage: int = 0
    spans: int = 0

    def refuse(self, span_id: str, field_name: str, message: str) -> None:
        where = f"span {span_id}" if span_id else "a span"
        self.refused.append(f"{where}: {field_name}: {message}" if field_name else f"{where}: {message}")

    def message(self, already_stored: int = 0) -> str:
        """The partial_success message: why spans were refused (the first few), what was ignored."""
        parts = []
        if self.refused:
            named = "; ".join(self.refused[:MAX_REFUSALS_NAMED])
            more = (
                f" (and {len(self.refused) - MAX_REFUSALS_NAMED} more)"
                if len(self.refused) > MAX_REFUSALS_NAMED
                else ""
            )
            parts.append(f"refused {len(self.refused)} span(s): {named}{more}")
        ignored = self.not_inference + self.no_usage
        if ignored:
            parts.append(
                f"ignored {ignored} span(s): {self.not_inference} not inference spans, "
                f"{self.no_usage} without token usage"
            )
        if already_stored:
            parts.append(f"{already_stored} span(s) were stored before (a retry) and counted once")
        return ". ".join(parts)


class _Span:
    __slots__ = ("attributes", "parent")

    def __init__(self, attributes: dict[str, Any], parent: bytes) -> None:
        self.attributes, self.parent = attributes, parent


_Inherited = tuple[Any, Any, Any, Any]
_NOTHING: _Inherited = (None, None, None, None)


def _inherited(spans: dict[bytes, _Span], trace: bytes, parent: bytes) -> _Inherited:
    """What a span takes from its ancestors in this request: the agent id and name of the nearest
    invoke_agent span that has one, the nearest conversation id and the nearest title."""
    agent: tuple[Any, Any] | None = None
    conversation = title = None
    for _ in range(MAX_ANCESTORS):
        ancestor = spans.get(trace + parent) if parent else None
        if ancestor is None:
            break
        a = ancestor.attributes
        if agent is None and a.get("gen_ai.operation.name") == AGENT_OPERATION:
            agent_id, agent_name = a.get("gen_ai.agent.id"), a.get("gen_ai.agent.name")
            if agent_id is not None or agent_name is not None:
                agent = (agent_id, agent_name)
        if conversation is None:
            conversation = _first(a, CONVERSATION_ATTRIBUTES)
        if title is None:
            title = a.get(TITLE_ATTRIBUTE)
        if agent is not None and conversation is not None and title is not None:
            break
        parent = ancestor.parent
    return (*(agent or (None, None)), conversation, title)


def _never() -> bool:
    return False


def span_events(request: ExportTraceServiceRequest, span_cost: Callable[[], bool] = _never) -> SpanEvents:
    """The usage events of an export request's inference spans (README, "OpenTelemetry").

    Spans that cannot be an event (no model, a part larger than its total, a bad id or time) are
    refused by name; spans that are not inference or carry no usage are only counted. `span_cost()`:
    whether the organization takes llm.cost.total as the cost instead of pricing the tokens (asked
    only when a span has one: most requests then cost no query for it).
    """
    out = SpanEvents()
    # Every span of the request by trace + span id, with the attributes read: agents and
    # conversations are looked up among ancestors, which may come in any order.
    spans: dict[bytes, _Span] = {}
    found: list[tuple[Any, _Span, str]] = []  # (span, its entry, its resource's service.name)
    for resource_spans in request.resource_spans:
        service = UNKNOWN_SERVICE
        for kv in resource_spans.resource.attributes:
            if kv.key == SERVICE_NAME:
                service = _value(kv.value) or UNKNOWN_SERVICE
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                entry = _Span(_attributes(span.attributes), span.parent_span_id)
                spans[span.trace_id + span.span_id] = entry
                found.append((span, entry, service))
    out.spans = len(found)
    memo: dict[bytes, _Inherited] = {}

    for span, entry, service in found:
        a = entry.attributes
        if not _is_inference(a):
            out.not_inference += 1
            continue
        prompt = _first(a, TOKEN_ATTRIBUTES["prompt_tokens"])
        completion = _first(a, TOKEN_ATTRIBUTES["completion_tokens"])
        if prompt is None and completion is None:
            out.no_usage += 1
            continue
        trace, span_id = span.trace_id, span.span_id
        event_id = trace.hex() + span_id.hex()
        if len(trace) != 16 or len(span_id) != 8 or not any(trace) or not any(span_id):
            out.refuse(event_id, "", "needs a 16-byte trace id and an 8-byte span id, not all zero")
            continue
        raw: dict[str, Any] = {
            "event_id": event_id,
            "timestamp": _timestamp(span.end_time_unix_nano),
            "model": _first(a, MODEL_ATTRIBUTES),
            "prompt_tokens": 0 if prompt is None else prompt,
            "completion_tokens": 0 if completion is None else completion,
            "cache_read_tokens": _first(a, TOKEN_ATTRIBUTES["cache_read_tokens"]),
            "cache_write_tokens": _first(a, TOKEN_ATTRIBUTES["cache_write_tokens"]),
            "reasoning_tokens": _first(a, TOKEN_ATTRIBUTES["reasoning_tokens"]),
        }
        agent_id, agent_name = a.get("gen_ai.agent.id"), a.get("gen_ai.agent.name")
        conversation, title = _first(a, CONVERSATION_ATTRIBUTES), a.get(TITLE_ATTRIBUTE)
        inherited = _NOTHING
        if (agent_id is None and agent_name is None) or conversation is None or title is None:
            # Spans of one agent run share their ancestors: each parent is walked from once.
            key = trace + span.parent_span_id
            inherited = memo.get(key) or memo.setdefault(key, _inherited(spans, trace, span.parent_span_id))
        if agent_id is None and agent_name is None:
            agent_id, agent_name = inherited[0], inherited[1]
        if agent_id is None and agent_name is None:
            agent_id = a.get("agent.name") or service
        raw["agent_id"] = agent_name if agent_id is None else agent_id
        raw["agent_name"] = agent_name
        if conversation is None:
            conversation = inherited[2]
        raw["conversation_id"] = trace.hex() if conversation is None else conversation
        raw["conversation_title"] = inherited[3] if title is None else title
        cost = a.get(COST_ATTRIBUTE)
        if cost is not None and span_cost():
            raw["cost"] = cost
        try:
            event = parse_event(raw)  # refused here, by name; store.ingest takes the event as it is
        except _Invalid as bad:
            out.refuse(event_id, bad.field, bad.message)
            continue
        out.records.append((len(out.span_ids), event))
        out.span_ids.append(event_id)
    return out
