"""The app factory: `create_app` builds the Flask server with the API, login and the Dash dashboard on top."""

from __future__ import annotations

import logging
import sys
from urllib.parse import quote

import dash
import flask_login
from flask import Flask, jsonify, redirect, request
from flask_compress import Compress
from flask_cors import CORS
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, ProgrammingError
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from .. import config
from ..config import Settings
from ..db import SchemaNotReady, check_schema
from . import context, security
from .callback_requests import callback_request_problem

log = logging.getLogger(__name__)
# Flask and Dash find templates/, pages/ and assets/ relative to the package named here, not web/.
PACKAGE = "billing_dash"

# Exact paths anyone may fetch (the login page and what it loads); everything else needs a login.
# The /api/ blueprint checks its own bearer tokens.
PUBLIC_PATHS = frozenset({"/login", "/logout", "/healthz", "/assets/login.css"})
# Bodies larger than this are refused before parsing (a full 10,000-event batch is ~3 MB).
MAX_BODY_BYTES = 32 * 1024 * 1024


def _is_api(path: str) -> bool:
    return path.startswith("/api/") or path == "/healthz"


def _schema_ready(engine: Engine) -> bool:
    try:
        check_schema(engine)
    except SchemaNotReady as exc:
        log.error("%s", exc)
        return False
    except DBAPIError as exc:
        log.warning(
            "database unreachable at start (%s); its schema is checked on the next requests", exc.__class__.__name__
        )
        return False
    return True


def _missing_table_or_column(exc: DBAPIError) -> bool:
    # PostgreSQL's undefined_table / undefined_column; SQLite says it in words.
    return getattr(exc.orig, "sqlstate", None) in ("42P01", "42703") or str(exc.orig).startswith(
        ("no such table", "no such column")
    )


def create_app(settings: Settings | None = None, *, dev: bool = False) -> dash.Dash:
    """Build the Flask server with the API, login and the Dash dashboard on top.

    `dev=True` (used by `billing-dash serve`) allows running without SECRET_KEY: the instance's own
    random key is used instead.
    """
    from ..auth import load_user
    from ..components.shell import shell_layout
    from ..db import make_engine
    from . import api, login

    settings = settings or Settings.from_env()
    secret = settings.secret_key or (config.instance_secret_key() if dev else "")
    if not secret:
        raise RuntimeError("SECRET_KEY is not set: the production app refuses to start without one.")
    logging.basicConfig(level=settings.log_level)

    server = Flask(PACKAGE)
    server.config.update(
        SECRET_KEY=secret,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
    )
    server.json = api.DecimalJSONProvider(server)
    server.json.sort_keys = False
    if settings.trust_proxy:
        hops = settings.trust_proxy
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    engine = make_engine(settings.database_url)
    server.extensions[context.ENGINE] = engine
    server.extensions[context.SETTINGS] = settings
    # Checked once here, then again only while not ready or after an error a missing table
    # explains, so a migrated database costs requests nothing.
    schema = {"ready": _schema_ready(engine)}

    @server.before_request
    def require_schema():
        if not schema["ready"] and request.blueprint != "health":
            check_schema(engine)
            schema["ready"] = True

    login_manager = flask_login.LoginManager(server)
    login_manager.session_protection = "strong"

    @login_manager.user_loader
    def _load_user(user_id: str):
        with engine.connect() as conn:
            return load_user(conn, user_id)

    server.register_blueprint(api.bp)
    server.register_blueprint(api.health_bp)
    server.register_blueprint(login.bp)
    login.init_rate_limits(server, settings.redis_url, settings.login_rate_limit, settings.login_ip_rate_limit)
    CORS(server, resources={r"/api/*": {"origins": settings.cors_origin_list}}, supports_credentials=False)
    Compress(server)  # zstd, br or gzip as the client accepts: the page's code is 8.6 MB uncompressed

    @server.before_request
    def require_login():
        path = request.path
        if _is_api(path) and request.blueprint not in ("api", "health"):
            # Dash's catch-all page route would otherwise answer unknown API paths with HTML.
            return api.error_response(404, "not_found", f"No API endpoint at {path}.")
        if path in PUBLIC_PATHS or request.blueprint == "api" or flask_login.current_user.is_authenticated:
            return None
        if path.startswith("/_dash") or path.startswith("/_reload"):
            return jsonify({"error": {"code": "unauthorized", "message": "Log in first."}}), 401
        # Quoted, so a deep link's own query (&startDate=...) survives the trip through login.
        return redirect("/login?next=" + quote(request.full_path.rstrip("?"), safe="/?="))

    @server.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if _is_api(request.path):
            code = (exc.name or "error").lower().replace(" ", "_")
            return api.error_response(exc.code or 500, code, exc.description or exc.name)
        return exc

    @server.errorhandler(SchemaNotReady)
    def schema_not_ready(exc: SchemaNotReady):
        if schema["ready"]:
            log.error("%s", exc)  # once, not on every request until someone migrates
        schema["ready"] = False
        if _is_api(request.path) or request.path.startswith("/_dash"):
            return api.error_response(503, exc.code, str(exc))
        return str(exc), 503, {"Content-Type": "text/plain; charset=utf-8"}

    def schema_lost(exc: DBAPIError) -> SchemaNotReady | None:
        if not _missing_table_or_column(exc):
            return None
        try:
            check_schema(engine)
        except SchemaNotReady as lost:
            return lost
        except DBAPIError:
            pass
        return None

    @server.errorhandler(ProgrammingError)
    def programming_error(exc: ProgrammingError):
        lost = schema_lost(exc)
        return schema_not_ready(lost) if lost else unexpected_error(exc)

    # Connection failures (and SQLite's "database is locked") are worth a retry; any other
    # database error is a bug and goes to the 500 handler below.
    @server.errorhandler(OperationalError)
    @server.errorhandler(InterfaceError)
    def database_error(exc: DBAPIError):
        lost = schema_lost(exc)
        if lost:
            return schema_not_ready(lost)
        log.warning("database error on %s: %s", request.path, exc.__class__.__name__)
        return api.error_response(
            503, "database_unavailable", "The database is unavailable; retry shortly.", headers={"Retry-After": "5"}
        )

    @server.errorhandler(Exception)
    def unexpected_error(exc: Exception):
        log.exception("unhandled error on %s", request.path)
        if _is_api(request.path):
            return api.error_response(500, "internal_error", "Something went wrong on our side.")
        return "Something went wrong on our side.", 500

    app = dash.Dash(
        PACKAGE,
        server=server,
        use_pages=True,
        pages_folder="pages",
        # Bootstrap's CSS is served from assets/ (00_bootstrap.min.css), not a CDN: the app works
        # offline and a strict Content-Security-Policy can stay 'self'.
        assets_folder="assets",
        # assets/vendor/ is fetched when needed (plotly.js, by billing.js), not by every page up front.
        assets_path_ignore=["vendor"],
        serve_locally=True,
        suppress_callback_exceptions=True,
        title="billing-dash",
        update_title=None,
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
    )
    app.layout = shell_layout

    @server.before_request
    def check_callback_request():
        # After require_login: anonymous callers get their 401 first.
        if request.path == app.config.routes_pathname_prefix + "_dash-update-component":
            problem = callback_request_problem(app, request.get_json(silent=True))
            if problem:
                return api.error_response(400, "bad_callback", problem)
        return None

    for page in dash.page_registry.values():
        # Dash has just imported the page modules for this app; each binds its own callbacks.
        register = getattr(sys.modules[page["module"]], "register_callbacks", None)
        if register:
            register(app)
    security.init_security(app)
    return app
