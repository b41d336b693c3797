"""The JSON and CSV API: billing report, usage ingestion, health and the OpenAPI document."""

from __future__ import annotations

import itertools
import shlex
from collections.abc import Iterator
from typing import Any

import flask_login
import simplejson
from flask import Blueprint, Response, jsonify, request
from flask.json.provider import DefaultJSONProvider
from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from ..alerts.budgets import evaluate
from ..alerts.run import DEFAULT_ALERTS, MAX_ALERTS, after_ingest, alert_json, recent_alerts
from ..auth import Caller, caller_for_token
from ..db import check_schema
from ..filters import (
    AGENT_PARAM,
    GROUP_BY_PARAM,
    GROUP_BY_TAG,
    MODEL_PARAM,
    STACK_PARAM,
    TAG_PARAM_PREFIX,
    FilterError,
    Filters,
    parse_filters,
    parse_group_by,
    parse_stack,
    tag_params,
)
from ..ingest import IngestError, analyze_stale, ingest, loads_json
from ..limits import DEFAULT_TAG_GROUPS, MAX_TAG_GROUPS
from ..openapi import openapi_document
from ..periods import Period, PeriodError, check_granularity, resolve_period
from ..queries import load
from ..services.billing import DEFAULT_TOP, MAX_TOP, BillingReport, billing_report
from ..services.conversations import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE,
    MAX_PAGE_SIZE,
    SORTS,
    all_conversations,
    conversation_detail,
    conversation_page,
)
from ..services.export import (
    SECTIONS,
    budget_status_json,
    conversation_detail_json,
    conversation_json,
    conversation_page_json,
    csv_filename,
    csv_lines,
    period_fields,
    period_json,
    report_json,
    section_csv,
)
from ..tags import list_keys
from .context import get_engine, get_settings
from .errors import ApiError, error_response, unavailable

bp = Blueprint("api", __name__, url_prefix="/api/v1")
health_bp = Blueprint("health", __name__)


class DecimalJSONProvider(DefaultJSONProvider):
    """Flask's JSON, except that a Decimal is written as the number it is: Flask writes it as a
    string, and a float keeps only ~16 significant digits. Money stays exact to the response."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        kwargs.setdefault("default", self.default)
        kwargs.setdefault("ensure_ascii", self.ensure_ascii)
        kwargs.setdefault("sort_keys", self.sort_keys)
        return simplejson.dumps(obj, use_decimal=True, **kwargs)


def _caller(scope: str) -> Caller:
    """The organization a request acts for: from its bearer token, else from the login session."""
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(
                401, "unauthorized", "Use 'Authorization: Bearer <token>'.", headers={"WWW-Authenticate": "Bearer"}
            )
        with get_engine().begin() as conn:
            caller = caller_for_token(conn, token.strip())
        if caller is None:
            raise ApiError(
                401, "unauthorized", "The token is unknown or revoked.", headers={"WWW-Authenticate": "Bearer"}
            )
    elif flask_login.current_user.is_authenticated:
        caller = Caller(flask_login.current_user.org, frozenset({"read"}))
    else:
        raise ApiError(
            401, "unauthorized", "Authentication required: send a bearer token.", headers={"WWW-Authenticate": "Bearer"}
        )
    if scope not in caller.scopes:
        raise ApiError(403, "forbidden", f"This token lacks the {scope!r} scope.")
    return caller


def _period(caller: Caller) -> Period:
    args = request.args
    try:
        return resolve_period(
            args.get("period"), args.get("tz") or caller.org.timezone, args.get("startDate"), args.get("endDate")
        )
    except PeriodError as exc:
        raise ApiError(400, exc.code, exc.message) from None


def _integer(name: str, default: int, highest: int, code: str) -> int:
    """Query parameter `name`: an integer from 1 to `highest`, else a 400 with `code`."""
    raw = request.args.get(name, str(default))
    # The length first: int() refuses more than 4,300 digits with a ValueError.
    if not (len(raw) <= 10 and raw.isascii() and raw.isdigit() and 1 <= int(raw) <= highest):
        raise ApiError(400, code, f"{name} must be an integer from 1 to {highest}; got {raw[:20]!r}.")
    return int(raw)


def _filters() -> Filters:
    """The request's agentId, model and tag.<key> filters (each repeatable), else a 400 invalid_filter."""
    try:
        return parse_filters(
            request.args.getlist(AGENT_PARAM),
            request.args.getlist(MODEL_PARAM),
            tag_params(request.args.to_dict(flat=False)),
        )
    except FilterError as exc:
        raise ApiError(400, exc.code, exc.message) from None


def _group_by(filters: Filters) -> str | None:
    """The tag key of the request's groupBy=tag:<key> (None without one), else a 400."""
    try:
        key = parse_group_by(request.args.get(GROUP_BY_PARAM))
    except FilterError as exc:
        raise ApiError(400, "invalid_group_by", exc.message) from None
    if key is not None and filters.tag_values and filters.tag_key != key:
        raise ApiError(
            400,
            "invalid_group_by",
            f"groupBy=tag:{key} takes a tag filter of the same key only; got {TAG_PARAM_PREFIX}{filters.tag_key}.",
        )
    return key


def _check_tag_keys(conn: Connection, caller: Caller, *keys: str | None) -> None:
    """A 400 tag_key_not_aggregated naming the command that enables a key the organization does not pre-aggregate."""
    aggregated = set(list_keys(conn, caller.org.id))
    for key in keys:
        if key and key not in aggregated:
            raise ApiError(
                400,
                "tag_key_not_aggregated",
                f"Tag key {key!r} is not pre-aggregated for this organization, so it cannot filter or group: "
                f"run `billing-dash tags set --org {shlex.quote(caller.org.name)} <keys...> {key}` (the keys listed by `billing-dash tags list`"
                " plus this one).",
            )


def _granularity(period: Period) -> str | None:
    """The request's granularity (none: no series), checked against the period."""
    value = request.args.get("granularity")
    if value is None:
        return None
    try:
        return check_granularity(value, period)
    except PeriodError as exc:
        raise ApiError(400, exc.code, exc.message) from None


def _report(caller: Caller, series: bool = False, group: bool = False) -> BillingReport:
    """The report the request asks for; with `series` (the JSON), its granularity's series too; with
    `group` (the JSON, the CSV's tags section), its groupBy's usage per tag value."""
    period = _period(caller)
    top = _integer("limit", DEFAULT_TOP, MAX_TOP, "invalid_limit")
    filters = _filters()
    granularity = _granularity(period) if series else None
    try:
        stack_by = parse_stack(request.args.get(STACK_PARAM), granularity) if series else None
    except FilterError as exc:
        raise ApiError(400, exc.code, exc.message) from None
    group_key = _group_by(filters) if group else None
    group_top = _integer("groupLimit", DEFAULT_TAG_GROUPS, MAX_TAG_GROUPS, "invalid_limit")
    with get_engine().connect() as conn:
        _check_tag_keys(conn, caller, filters.tag_key, group_key)
        return billing_report(conn, caller.org, period, top, filters, granularity, stack_by, group_key, group_top)


@bp.get("/analytics/billing")
def get_billing() -> Response:
    return jsonify(report_json(_report(_caller("read"), series=True, group=True)))


@bp.get("/analytics/billing.csv")
def get_billing_csv() -> Response:
    caller = _caller("read")
    section = request.args.get("section", "")
    if section not in SECTIONS:
        raise ApiError(400, "invalid_section", f"section must be one of {', '.join(SECTIONS)}; got {section!r}.")
    if section == "conversations":
        return _conversations_csv(caller)
    if section == "tags" and request.args.get(GROUP_BY_PARAM) is None:
        raise ApiError(
            400,
            "missing_group_by",
            f"section=tags is the usage per value of one tag key: add {GROUP_BY_PARAM}={GROUP_BY_TAG}<key> "
            "(a key of `billing-dash tags list`).",
        )
    report = _report(caller, group=section == "tags")
    filename = csv_filename(period_json(report), section, report.group_key)
    return Response(
        section_csv(report, section),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.get("/budgets")
def get_budgets() -> Response:
    caller = _caller("read")
    with get_engine().connect() as conn:
        statuses = evaluate(conn, caller.org)
    return jsonify({"budgets": [budget_status_json(s, caller.org.timezone) for s in statuses]})


@bp.get("/alerts")
def get_alerts() -> Response:
    caller = _caller("read")
    limit = _integer("limit", DEFAULT_ALERTS, MAX_ALERTS, "invalid_limit")
    with get_engine().connect() as conn:
        rows = recent_alerts(conn, caller.org.id, limit)
    return jsonify({"alerts": [alert_json(r) for r in rows]})


def _conversations_csv(caller: Caller) -> Response:
    """Every conversation of the period, costliest first, streamed: the rows leave as the
    database's cursor gives them, so memory stays the same however many there are."""
    _integer("limit", DEFAULT_TOP, MAX_TOP, "invalid_limit")  # refused as in the other sections
    period = _period(caller)
    filters = _filters()

    conn = get_engine().connect()
    try:
        _check_tag_keys(conn, caller, filters.tag_key)
        rows = all_conversations(conn, caller.org, period, filters=filters)
        # The query runs here, so that a database error still answers 503 rather than a cut stream.
        first = list(itertools.islice(rows, 1))
    except BaseException:
        conn.close()
        raise

    def lines() -> Iterator[str]:
        try:
            yield from csv_lines("conversations", map(conversation_json, itertools.chain(first, rows)))
        finally:
            conn.close()

    filename = csv_filename(period_fields(period), "conversations")
    return Response(
        lines(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.get("/conversations")
def get_conversations() -> Response:
    caller = _caller("read")
    period = _period(caller)
    sort = request.args.get("sort", "cost")
    if sort not in SORTS:
        raise ApiError(400, "invalid_sort", f"sort must be one of {', '.join(SORTS)}; got {sort[:20]!r}.")
    page = _integer("page", 1, MAX_PAGE, "invalid_page")
    page_size = _integer("pageSize", DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, "invalid_page_size")
    filters = _filters()
    with get_engine().connect() as conn:
        _check_tag_keys(conn, caller, filters.tag_key)
        page_of = conversation_page(conn, caller.org, period, sort, page, page_size, filters)
    return jsonify(conversation_page_json(page_of))


@bp.get("/conversations/<path:conversation_id>")
def get_conversation(conversation_id: str) -> Response:
    caller = _caller("read")
    with get_engine().connect() as conn:
        detail = conversation_detail(conn, caller.org, conversation_id)
    if detail is None:
        raise ApiError(404, "not_found", "No conversation with this id in your organization.")
    return jsonify(conversation_detail_json(detail))


@bp.post("/usage")
def post_usage() -> tuple[Response, int]:
    caller = _caller("ingest")
    try:
        body = loads_json(request.get_data(cache=False))
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "invalid_json", 'The body must be JSON: {"events": [...]}.') from None
    events = body.get("events") if isinstance(body, dict) else None
    if not isinstance(events, list):
        raise ApiError(400, "invalid_body", "The body must be a JSON object with an 'events' array.")
    limit = get_settings().max_ingest_events
    if len(events) > limit:
        raise ApiError(413, "batch_too_large", f"At most {limit} events per request; got {len(events)}.")
    try:
        with get_engine().begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(load("lock_timeout_pg"))
            result = ingest(conn, caller.org.id, list(enumerate(events)))
    except IngestError as exc:
        details = [{"index": e.position, "field": e.field, "message": e.message} for e in exc.errors]
        raise ApiError(400, "invalid_events", "No event was stored: " + exc.describe("event"), details) from None
    if result.inserted:
        # Committed: the statistics it left stale are refreshed, and the thresholds it crossed
        # become alerts now; a background thread sends them, so the answer does not wait for the
        # receivers.
        analyze_stale(get_engine())
        after_ingest(get_engine(), get_settings(), caller.org, background=True)
    return jsonify(result.as_dict()), 200


@bp.get("/openapi.json")
def get_openapi() -> Response:
    return jsonify(openapi_document(get_settings()))


@bp.errorhandler(ApiError)
def handle_api_error(exc: ApiError) -> Response:
    return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)


@health_bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    try:
        check_schema(get_engine())
    except DBAPIError:
        return unavailable("The database is unreachable."), 503
    return jsonify({"status": "ok"}), 200
