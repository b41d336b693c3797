"""The app factory: `create_app` builds the Flask server with the API, login and the Dash dashboard on top."""

from __future__ import annotations

import logging
import sys

import dash
import flask_login
from flask import Flask
from flask_compress import Compress
from flask_cors import CORS
from werkzeug.middleware.proxy_fix import ProxyFix

from .. import config
from ..config import Settings
from ..limits import MAX_BODY_BYTES
from . import context, errors, security
from .callback_requests import refuse_malformed_callbacks

# Flask and Dash find templates/, pages/ and assets/ relative to the package named here, not web/.
PACKAGE = "billing_dash"


def create_app(settings: Settings | None = None, *, dev: bool = False) -> dash.Dash:
    """Build the Flask server with the API, login and the Dash dashboard on top.

    `dev=True` (used by `billing-dash serve`) allows running without SECRET_KEY: the instance's own
    random key is used instead.
    """
    from ..components.shell import shell_layout
    from ..db import make_engine
    from . import api, login, otlp  # noqa: F401 (importing otlp adds its route to api.bp)

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
        # Werkzeug's documented way to wrap the app in middleware; typeshed sees a method overwritten.
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    engine = make_engine(settings.database_url)
    server.extensions[context.ENGINE] = engine
    server.extensions[context.SETTINGS] = settings
    schema = errors.SchemaGate(engine)
    server.before_request(schema.require)

    login_manager = flask_login.LoginManager(server)
    login_manager.session_protection = "strong"
    login_manager.user_loader(login.load_session_user)

    server.register_blueprint(api.bp)
    server.register_blueprint(api.health_bp)
    server.register_blueprint(login.bp)
    login.init_rate_limits(server, settings.redis_url, settings.login_rate_limit, settings.login_ip_rate_limit)
    CORS(server, resources={r"/api/*": {"origins": settings.cors_origin_list}}, supports_credentials=False)
    Compress(server)  # zstd, br or gzip as the client accepts: the page's code is 8.6 MB uncompressed
    server.before_request(login.require_login)
    errors.init_error_handlers(server, schema)

    app = dash.Dash(
        PACKAGE,
        server=server,  # type: ignore[arg-type]  # Dash's hint omits the Flask server its docs name
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
        update_title=None,  # type: ignore[arg-type]  # documented "None or '' to keep the title"; hint says str
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
    )
    app.layout = shell_layout
    refuse_malformed_callbacks(app)  # after require_login: anonymous callers get their 401 first

    for page in dash.page_registry.values():
        # Dash has just imported the page modules for this app; each binds its own callbacks.
        register = getattr(sys.modules[page["module"]], "register_callbacks", None)
        if register:
            register(app)
    security.init_security(app)
    return app
