"""OTLP/HTTP trace ingestion: POST /api/v1/otel/v1/traces turns GenAI spans into usage events."""

from __future__ import annotations

import functools

from flask import Response, json, request
from sqlalchemy import select

from ..alerts.run import after_ingest
from ..ingest import IngestError, IngestResult, analyze_stale, ingest
from ..ingest.otlp import OtlpDecodeError, OtlpTooLarge, decode_traces, export_response, inflate, span_events
from ..limits import MAX_BODY_BYTES
from ..models import organizations
from ..queries import load
from .api import _caller, bp
from .context import get_engine, get_settings
from .errors import ApiError

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
ENDPOINT = "api.post_otel_traces"
# google.rpc.Status codes for the HTTP statuses this endpoint answers (OTLP/HTTP says clients go by
# the HTTP status and may only log the code).
_GRPC_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 413: 8, 415: 3, 429: 8, 500: 13, 503: 14}


def _as_json() -> bool:
    """Whether the request is OTLP/JSON (else binary protobuf); refuses other media types."""
    mimetype = request.mimetype
    if mimetype == PROTOBUF:
        return False
    if mimetype == JSON:
        return True
    raise ApiError(415, "unsupported_media_type", f"Send {PROTOBUF} or {JSON} (OTLP/HTTP); got {mimetype!r}.")


def _body() -> bytes:
    body = request.get_data(cache=False)  # MAX_CONTENT_LENGTH answers 413 for larger bodies
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding == "gzip":
        try:
            return inflate(body, MAX_BODY_BYTES)
        except OtlpTooLarge as exc:
            raise ApiError(413, "body_too_large", f"The request is too large: {exc}.") from None
        except OtlpDecodeError as exc:
            raise ApiError(400, "invalid_body", f"The body cannot be decoded: {exc}.") from None
    if encoding != "identity":
        raise ApiError(415, "unsupported_encoding", f"Content-Encoding must be gzip or absent; got {encoding!r}.")
    return body


def _store(org_id: int, records: list, span_ids: list[str], refused: list[str]) -> IngestResult:
    """Store the events in one transaction. An event the store refuses (its cost at our price past
    the limit, a total past what a sum may hold) is refused alone: the transaction is rolled back
    and the rest stored in a new one, so the answer's count of refused spans is exact."""
    while records:
        try:
            with get_engine().begin() as conn:
                if conn.dialect.name == "postgresql":
                    conn.execute(load("lock_timeout_pg"))
                return ingest(conn, org_id, records)
        except IngestError as exc:
            bad = {e.position for e in exc.errors}
            kept = [r for r in records if r[0] not in bad]
            if len(kept) == len(records):  # an error no span explains: refusing none would loop
                raise
            refused.extend(f"span {span_ids[e.position]}: {e.field}: {e.message}" for e in exc.errors)
            records = kept
    return IngestResult(0, 0, 0)


def _span_cost(org_id: int) -> bool:
    with get_engine().connect() as conn:
        return bool(conn.execute(select(organizations.c.span_cost).where(organizations.c.id == org_id)).scalar_one())


@bp.post("/otel/v1/traces")
def post_otel_traces() -> Response:
    caller = _caller("ingest")
    as_json = _as_json()
    try:
        traces = decode_traces(_body(), as_json)
    except OtlpDecodeError as exc:
        raise ApiError(400, "invalid_body", f"The body cannot be decoded: {exc}.") from None
    events = span_events(traces, span_cost=functools.cache(lambda: _span_cost(caller.org.id)))
    limit = get_settings().max_ingest_events
    if len(events.records) > limit:
        raise ApiError(
            413, "batch_too_large", f"At most {limit} spans with usage per request; got {len(events.records)}."
        )
    result = _store(caller.org.id, events.records, events.span_ids, events.refused)
    if result.inserted:  # committed: as after any ingest, stale statistics and threshold alerts
        analyze_stale(get_engine())
        after_ingest(get_engine(), get_settings(), caller.org, background=True)
    body = export_response(len(events.refused), events.message(result.skipped), as_json)
    return Response(body, status=200, mimetype=JSON if as_json else PROTOBUF)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def status_protobuf(code: int, message: str) -> bytes:
    """A google.rpc.Status {code = 1, message = 2} in protobuf, written by hand: its generated
    class lives in googleapis-common-protos, a dependency for two fields."""
    text = message.encode()
    return b"\x08" + _varint(code) + b"\x12" + _varint(len(text)) + text


@bp.after_request
def otlp_errors(response: Response) -> Response:
    """Errors of the OTLP endpoint as OTLP/HTTP says: a google.rpc.Status in the request's encoding
    (protobuf requests get it in protobuf; JSON ones get the app's error body with the Status's
    code and message beside it). Status and headers (Retry-After on 503) stay as they were."""
    if request.endpoint != ENDPOINT or response.status_code < 400 or response.mimetype != JSON:
        return response
    body = response.get_json(silent=True)
    error = body.get("error") if isinstance(body, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    message = message if isinstance(message, str) else response.status
    code = _GRPC_CODES.get(response.status_code, 2)  # 2: UNKNOWN
    if request.mimetype == JSON:
        response.set_data(_json_status(body, code, message))
        return response
    response.set_data(status_protobuf(code, message))
    response.mimetype = PROTOBUF
    return response


def _json_status(body: object, code: int, message: str) -> bytes:
    document = dict(body) if isinstance(body, dict) else {}
    document.update(code=code, message=message)
    return json.dumps(document).encode()
