"""The API against its own OpenAPI document: no 5xx, and every answer as the document says.

schemathesis generates requests for every operation of /api/v1/openapi.json, valid ones
(positive) and invalid ones (negative), and sends them through the WSGI app with a read+ingest
bearer token; its checks then judge each answer: status code, content type, headers and body
against the document, no 5xx, a 401 without authentication, and (for positive data) no 4xx.
The operations come from the document, so a new endpoint is fuzzed as soon as it is documented.

Two of schemathesis's checks need judgment here, and what replaces them is spelled out below:
- Negative data: the report endpoints ignore unknown parameters, read startDate/endDate only
  for period=custom and take an empty value as absent; ingestion takes integers for ids and
  digit strings for token counts (the CSV import shares its parser). Such requests are lenient,
  not broken, so `negative_data_rejection` is off; test_api.py pins every documented 400.
- Positive data on the report endpoints: OpenAPI cannot say "an IANA zone name", "both dates
  when period=custom", "startDate <= endDate, at most 3660 days", "hour for at most 7 days" or
  "stackBy with a granularity". A schema-valid request may get a 400 with exactly those codes
  (invalid_timezone, missing_date, invalid_range, invalid_granularity, invalid_stack) and no other.

`test_document_and_server_agree` and `test_valid_input_is_never_a_server_error` pin, as
fixed examples, what the generated runs found; they fail until document or server is fixed.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import schemathesis
import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from billing_dash.models import usage_events

from ..factories import DOCUMENT, event, valid

OPERATIONS = [(method.upper(), path) for path, item in DOCUMENT["paths"].items() for method in item]
# Operations without any input have no negative variant to generate.
WITH_INPUT = {
    (m, p)
    for m, p in OPERATIONS
    if DOCUMENT["paths"][p][m.lower()].get("parameters") or DOCUMENT["paths"][p][m.lower()].get("requestBody")
}
REPORTS = {
    ("GET", "/api/v1/analytics/billing"),
    ("GET", "/api/v1/analytics/billing.csv"),
    ("GET", "/api/v1/conversations"),
}
INGEST = ("POST", "/api/v1/usage")
# OpenAPI cannot describe a protobuf body (nor OTLP/JSON's hex ids): a schema-valid request may
# well be undecodable, answered 400. Its no-5xx and conformance of every answer still hold.
OTLP = ("POST", "/api/v1/otel/v1/traces")
# 400s a schema-valid report request may get: constraints OpenAPI cannot express (granularity=hour
# only for periods of at most 7 days, stackBy only with a granularity). tag_key_not_aggregated:
# whether a key is pre-aggregated is the organization's setting, not the request's. missing_group_by:
# the CSV's section=tags requires groupBy, which its other sections ignore.
UNDOCUMENTABLE_400 = {
    "invalid_timezone",
    "missing_date",
    "invalid_range",
    "invalid_granularity",
    "invalid_stack",
    "tag_key_not_aggregated",
    "missing_group_by",
}
# Event errors a schema-valid batch may get: a token part larger than its total, a provider's
# usage whose input or output sums past the limit (JSON Schema cannot compare two numbers).
UNDOCUMENTABLE_EVENT_ERRORS = ("more than the", "tokens must be at most")
MAX_EXAMPLES = 50

CASES = [
    (m, p, mode)
    for m, p in OPERATIONS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    if mode is GenerationMode.POSITIVE or (m, p) in WITH_INPUT
]


@pytest.fixture
def api_schema(app):
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app.server)


@pytest.fixture
def usage(client, auth_headers):
    """Usage today, this year and in January 2026, so the reports have rows to conform."""
    now = datetime.now(UTC).replace(microsecond=0)
    stamps = [now - timedelta(hours=h) for h in (0, 1, 30, 24 * 40)] + [datetime(2026, 1, 15, 12, tzinfo=UTC)]
    events = [
        event(i, timestamp=ts.isoformat().replace("+00:00", "Z"), agent_id=f"a{i % 3}", model=m)
        for i, (ts, m) in enumerate((ts, m) for ts in stamps for m in ("gpt-4o-mini", "no-price-model"))
    ]
    for e in events[1::2]:
        del e["cost"]
    response = client.post("/api/v1/usage", json={"events": events}, headers=auth_headers)
    assert response.status_code == 200, response.data


def _stored(engine, org_id: int) -> int:
    with engine.connect() as conn:
        return conn.execute(
            sa.select(sa.func.count()).select_from(usage_events).where(usage_events.c.organization_id == org_id)
        ).scalar_one()


def _sent_events(case) -> int | None:
    """How many events the request carried, when its body has the documented shape."""
    body = case.body
    if isinstance(body, (bytes, str)):
        try:
            body = json.loads(body)
        except ValueError:
            return None
    if isinstance(body, dict) and isinstance(body.get("events"), list):
        return len(body["events"])
    return None


@pytest.mark.parametrize("method, path, mode", CASES, ids=[f"{m} {p} {mode.value}" for m, p, mode in CASES])
def test_operation_conforms_to_the_document(api_schema, auth_headers, engine, org, usage, method, path, mode):
    operation = api_schema[path][method]
    excluded = [negative_data_rejection]
    if (method, path) in REPORTS or (method, path) in (INGEST, OTLP):
        excluded.append(positive_data_acceptance)

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
    )  # unshrunk: each failure prints a curl to reproduce it
    def check(case):
        before = _stored(engine, org.id)
        # Uncompressed: schemathesis asks for gzip, and over WSGI nothing would decode it for the
        # checks (HTTP clients do; test_compression.py checks the compressed answers).
        response = case.call_and_validate(
            headers={**auth_headers, "Accept-Encoding": "identity"}, excluded_checks=excluded
        )
        assert response.status_code < 500, f"{method} {path} answered {response.status_code}: {response.text[:500]}"
        if (method, path) in REPORTS and mode is GenerationMode.POSITIVE and response.status_code == 400:
            assert response.json()["error"]["code"] in UNDOCUMENTABLE_400, (case.query, response.text[:500])
        if (method, path) == INGEST and mode is GenerationMode.POSITIVE and response.status_code >= 400:
            # positive_data_acceptance, except for what the document cannot express.
            details = response.json()["error"].get("details") or [{"message": ""}]
            assert all(any(m in d["message"] for m in UNDOCUMENTABLE_EVENT_ERRORS) for d in details), (
                response.status_code,
                response.text[:500],
            )
        after = _stored(engine, org.id)
        if (method, path) == OTLP and response.status_code == 200:
            return  # how many spans became events is test_otlp.py's to check
        if (method, path) != INGEST or response.status_code != 200:
            # Reading never writes; a refused batch (or a negative case's bad token) stores nothing.
            assert after == before, (response.status_code, response.text[:500])
            return
        # An accepted batch is all in: inserted + skipped is every event sent.
        result = response.json()
        assert after - before == result["inserted"]
        sent = _sent_events(case)
        if sent is not None:
            assert result["inserted"] + result["skipped"] == sent

    check()


def _query_valid(params: dict[str, str]) -> bool:
    declared = DOCUMENT["components"]["parameters"]
    return all(valid(declared[name]["schema"], value) for name, value in params.items())


def _raw_event(**fields: str) -> bytes:
    """One event as raw JSON text, so numbers like 5.0 and escapes like \\ud800 reach the server verbatim."""
    raw = {k: json.dumps(v) for k, v in event(1).items()}
    raw.update(fields)
    return ('{"events": [{' + ", ".join(f'"{k}": {v}' for k, v in raw.items()) + "}]}").encode()


INGEST_DISAGREEMENTS = [
    # The document allows any string; the server refuses NUL (PostgreSQL text cannot hold it).
    pytest.param(_raw_event(event_id=r'"ev\u0000"'), id="nul-in-event-id"),
    pytest.param(_raw_event(agent_name=r'"Bot\u0000"'), id="nul-in-agent-name"),
    # JSON Schema's integer is any number without a fraction: 5.0 and 1e2 are integers.
    pytest.param(_raw_event(prompt_tokens="5.0"), id="integral-float-tokens"),
    pytest.param(_raw_event(completion_tokens="1e2"), id="exponent-tokens"),
]
REPORT_DISAGREEMENTS = [
    # The document says format: date; the server takes years 1970 to 9998 only.
    pytest.param({"period": "custom", "startDate": "1969-12-31", "endDate": "1970-01-01"}, id="date-before-1970"),
    pytest.param({"period": "custom", "startDate": "9999-01-01", "endDate": "9999-01-02"}, id="date-after-9998"),
]


@pytest.mark.parametrize("body", INGEST_DISAGREEMENTS)
def test_document_and_server_agree_on_events(client, auth_headers, body):
    documented = valid(DOCUMENT["components"]["schemas"]["IngestRequest"], json.loads(body))
    response = client.post("/api/v1/usage", data=body, headers={**auth_headers, "Content-Type": "application/json"})
    assert response.status_code in (200, 400), response.data
    assert (response.status_code == 200) == documented, (
        f"document says {'valid' if documented else 'invalid'}, server answered {response.status_code}: "
        f"{response.get_data(as_text=True)[:300]}"
    )


@pytest.mark.parametrize("params", REPORT_DISAGREEMENTS)
def test_document_and_server_agree_on_report_parameters(client, auth_headers, params):
    documented = _query_valid(params)
    response = client.get("/api/v1/analytics/billing", query_string=params, headers=auth_headers)
    assert response.status_code in (200, 400), response.data
    assert (response.status_code == 200) == documented, (
        f"document says {'valid' if documented else 'invalid'}, server answered {response.status_code}: "
        f"{response.get_data(as_text=True)[:300]}"
    )


@pytest.mark.parametrize(
    "bodies",
    [
        # A lone UTF-16 surrogate is legal JSON text but cannot be encoded to UTF-8 for the database.
        pytest.param([_raw_event(conversation_title=r'"\ud800"')], id="lone-surrogate"),
        # The document's pattern allows any hh:mm offset and Python parses up to 23:59;
        # PostgreSQL stores offsets only up to 15:59.
        pytest.param([_raw_event(timestamp='"2026-01-15T10:00:00+23:59"')], id="offset-beyond-15h"),
        # Two documented timestamps in one conversation: then every report of the organization
        # subtracts the conversation's 8,000-year span from the period's start.
        pytest.param(
            [
                _raw_event(event_id='"early"', timestamp='"1980-01-01T00:00:00Z"'),
                _raw_event(event_id='"late"', timestamp='"9998-12-30T00:00:00Z"'),
            ],
            id="conversation-spanning-millennia",
        ),
    ],
)
def test_valid_input_is_never_a_server_error(client, auth_headers, bodies):
    for body in bodies:
        response = client.post("/api/v1/usage", data=body, headers={**auth_headers, "Content-Type": "application/json"})
        assert response.status_code in (200, 400), response.get_data(as_text=True)[:300]
    for params in ({"period": "month"}, {"period": "custom", "startDate": "1970-01-01", "endDate": "1970-01-31"}):
        for path in ("/api/v1/analytics/billing", "/api/v1/analytics/billing.csv"):
            response = client.get(path, query_string={**params, "section": "conversations"}, headers=auth_headers)
            assert response.status_code == 200, (path, params, response.get_data(as_text=True)[:300])
