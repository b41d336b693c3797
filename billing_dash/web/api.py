"""The JSON and CSV API: billing report, usage ingestion, health and the OpenAPI document."""

from __future__ import annotations

from typing import Any

import flask_login
import simplejson
from flask import Blueprint, Response, jsonify, request
from flask.json.provider import DefaultJSONProvider
from sqlalchemy.exc import DBAPIError

from ..alerts.budgets import evaluate
from ..auth import Caller, caller_for_token
from ..db import check_schema
from ..ingest import IngestError, ingest, loads_json
from ..openapi import openapi_document
from ..periods import Period, PeriodError, resolve_period
from ..queries import load
from ..services.billing import DEFAULT_TOP, MAX_TOP, BillingReport, billing_report
from ..services.export import SECTIONS, budget_status_json, csv_filename, period_json, report_json, section_csv
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


def _report_request(caller: Caller) -> tuple[Period, int]:
    args = request.args
    try:
        period = resolve_period(
            args.get("period"), args.get("tz") or caller.org.timezone, args.get("startDate"), args.get("endDate")
        )
    except PeriodError as exc:
        raise ApiError(400, exc.code, exc.message) from None
    raw_limit = args.get("limit", str(DEFAULT_TOP))
    # The length first: int() refuses more than 4,300 digits with a ValueError.
    if not (len(raw_limit) <= 10 and raw_limit.isascii() and raw_limit.isdigit() and 1 <= int(raw_limit) <= MAX_TOP):
        raise ApiError(400, "invalid_limit", f"limit must be an integer from 1 to {MAX_TOP}; got {raw_limit[:20]!r}.")
    return period, int(raw_limit)


def _report(caller: Caller) -> BillingReport:
    period, top = _report_request(caller)
    with get_engine().connect() as conn:
        return billing_report(conn, caller.org, period, top)


@bp.get("/analytics/billing")
def get_billing() -> Response:
    return jsonify(report_json(_report(_caller("read"))))


@bp.get("/analytics/billing.csv")
def get_billing_csv() -> Response:
    caller = _caller("read")
    section = request.args.get("section", "")
    if section not in SECTIONS:
        raise ApiError(400, "invalid_section", f"section must be one of {', '.join(SECTIONS)}; got {section!r}.")
    report = _report(caller)
    return Response(
        section_csv(report, section),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{csv_filename(period_json(report), section)}"'},
    )


@bp.get("/budgets")
def get_budgets() -> Response:
    caller = _caller("read")
    with get_engine().connect() as conn:
        statuses = evaluate(conn, caller.org)
    return jsonify({"budgets": [budget_status_json(s, caller.org.timezone) for s in statuses]})


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
            result = ingest(conn, caller.org.id, enumerate(events))
    except IngestError as exc:
        details = [{"index": e.position, "field": e.field, "message": e.message} for e in exc.errors]
        raise ApiError(400, "invalid_events", "No event was stored: " + exc.describe("event"), details) from None
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
