"""Errors as the app answers them: one JSON envelope for every API error, and the app-wide handlers."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, ProgrammingError
from werkzeug.exceptions import HTTPException

from ..db import SchemaNotReady, check_schema

log = logging.getLogger(__name__)

# How long a client should wait before retrying while the database is unavailable.
RETRY_AFTER_SECONDS = 5


class ApiError(Exception):
    """An error answered as `{"error": {"code", "message"}}` with an HTTP status."""

    def __init__(
        self, status: int, code: str, message: str, details: list | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details, self.headers = status, code, message, details, headers


def error_response(
    status: int, code: str, message: str, details: list | None = None, headers: dict[str, str] | None = None
) -> Response:
    """The one JSON error body of the app: `{"error": {"code", "message"[, "details"]}}`."""
    body: dict = {"error": {"code": code, "message": message}}
    if details is not None:
        body["error"]["details"] = details
    response = jsonify(body)
    response.status_code = status
    response.headers.update(headers or {})
    return response


def unavailable(message: str) -> Response:
    """503 for a database that cannot be reached (or is locked): worth a retry, after Retry-After."""
    return error_response(503, "database_unavailable", message, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def is_api(path: str) -> bool:
    """Whether `path` answers JSON (errors included) rather than pages."""
    return path.startswith("/api/") or path == "/healthz"


def _missing_table_or_column(exc: DBAPIError) -> bool:
    # PostgreSQL's undefined_table / undefined_column; SQLite says it in words.
    return getattr(exc.orig, "sqlstate", None) in ("42P01", "42703") or str(exc.orig).startswith(
        ("no such table", "no such column")
    )


class SchemaGate:
    """Whether the database's schema is the newest migration's, checked at start-up, then again only
    while not ready or after an error a missing table explains: a migrated database costs requests nothing."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.ready = self._check_at_start()

    def _check_at_start(self) -> bool:
        try:
            check_schema(self.engine)
        except SchemaNotReady as exc:
            log.error("%s", exc)
            return False
        except DBAPIError as exc:
            log.warning(
                "database unreachable at start (%s); its schema is checked on the next requests",
                exc.__class__.__name__,
            )
            return False
        return True

    def require(self) -> None:
        """A before_request hook: raise SchemaNotReady until the schema is ready (health checks pass)."""
        if not self.ready and request.blueprint != "health":
            check_schema(self.engine)
            self.ready = True

    def lost(self, exc: DBAPIError) -> SchemaNotReady | None:
        """The SchemaNotReady behind `exc` when the schema changed under the running app, else None."""
        if not _missing_table_or_column(exc):
            return None
        try:
            check_schema(self.engine)
        except SchemaNotReady as lost:
            return lost
        except DBAPIError:
            pass
        return None


def init_error_handlers(server: Flask, schema: SchemaGate) -> None:
    """Answer errors as JSON on API paths and as short text on pages; never a traceback."""

    @server.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> ResponseReturnValue:
        if is_api(request.path):
            code = (exc.name or "error").lower().replace(" ", "_")
            return error_response(exc.code or 500, code, exc.description or exc.name)
        return exc

    @server.errorhandler(SchemaNotReady)
    def schema_not_ready(exc: SchemaNotReady) -> ResponseReturnValue:
        if schema.ready:
            log.error("%s", exc)  # once, not on every request until someone migrates
        schema.ready = False
        if is_api(request.path) or request.path.startswith("/_dash"):
            return error_response(503, exc.code, str(exc))
        return str(exc), 503, {"Content-Type": "text/plain; charset=utf-8"}

    @server.errorhandler(ProgrammingError)
    def programming_error(exc: ProgrammingError) -> ResponseReturnValue:
        lost = schema.lost(exc)
        return schema_not_ready(lost) if lost else unexpected_error(exc)

    # Connection failures (and SQLite's "database is locked") are worth a retry; any other
    # database error is a bug and goes to the 500 handler below.
    @server.errorhandler(OperationalError)
    @server.errorhandler(InterfaceError)
    def database_error(exc: DBAPIError) -> ResponseReturnValue:
        lost = schema.lost(exc)
        if lost:
            return schema_not_ready(lost)
        log.warning("database error on %s: %s", request.path, exc.__class__.__name__)
        return unavailable("The database is unavailable; retry shortly.")

    @server.errorhandler(Exception)
    def unexpected_error(exc: Exception) -> ResponseReturnValue:
        log.exception("unhandled error on %s", request.path)
        if is_api(request.path):
            return error_response(500, "internal_error", "Something went wrong on our side.")
        return "Something went wrong on our side.", 500
