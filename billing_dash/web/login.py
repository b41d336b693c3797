"""Login, logout and the guard in front of every page (flask-login sessions, CSRF-protected forms)."""

from __future__ import annotations

from urllib.parse import quote, urlsplit

import flask_login
from flask import Blueprint, Flask, Response, make_response, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_limiter import Limiter, RequestLimit
from flask_limiter.util import get_remote_address
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response as BaseResponse
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from ..auth import User, authenticate, end_sessions, load_user
from ..limits import MAX_EMAIL, MAX_PASSWORD
from ..pages import DASHBOARD_PATH
from .context import get_engine
from .errors import error_response, is_api

bp = Blueprint("login", __name__)
# Exact paths anyone may fetch (the login page and what it loads); everything else needs a login.
# The /api/ blueprint checks its own bearer tokens.
PUBLIC_PATHS = frozenset({"/login", "/logout", "/healthz", "/assets/login.css"})


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=MAX_EMAIL)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=MAX_PASSWORD)])


def safe_next(target: str | None) -> str:
    """Only a local path may follow a login: anything with a scheme or host is an open redirect."""
    if not target:
        return DASHBOARD_PATH
    parts = urlsplit(target)
    # Control characters (a newline) cannot go into a Location header at all.
    if (
        parts.scheme
        or parts.netloc
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or not target.isprintable()
    ):
        return DASHBOARD_PATH
    return target


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        with get_engine().connect() as conn:
            # DataRequired passed, so neither is None (wtforms types every field's data as optional).
            user = authenticate(conn, form.email.data or "", form.password.data or "")
        if user is not None:
            flask_login.login_user(user)
            return redirect(safe_next(request.args.get("next")))
        error = "Wrong email or password."
    elif request.method == "POST":
        error = "Wrong email or password." if not form.csrf_token.errors else "The form expired; please try again."
    status = 401 if error else 200
    return render_template("login.html", form=form, error=error), status


def _account_key() -> str:
    return "account:" + (request.form.get("email") or "").strip().lower()[:MAX_EMAIL]


def _too_many(_limit: RequestLimit) -> Response:
    page = render_template("login.html", form=LoginForm(), error="Too many login attempts; try again in a minute.")
    return make_response(page, 429)


def init_rate_limits(server: Flask, storage_uri: str, account_limit: str, ip_limit: str) -> Limiter:
    """Limit login attempts per account and per client IP (flask-limiter; Redis when configured,
    so every gunicorn worker shares the counts).

    Every attempt is counted before the password is checked, by the storage's atomic
    test-and-increment of the moving window: counting only failures, after the response, let
    simultaneous attempts all pass the check before any of them was counted.
    """
    limiter = Limiter(
        get_remote_address,
        app=server,
        storage_uri=storage_uri or "memory://",
        strategy="moving-window",
        headers_enabled=False,
    )
    per_ip = limiter.limit(ip_limit, methods=["POST"], on_breach=_too_many)
    per_account = limiter.limit(
        account_limit, key_func=_account_key, scope="login-account", methods=["POST"], on_breach=_too_many
    )
    server.view_functions["login.login"] = per_account(per_ip(login))  # the blueprint's view, wrapped
    return limiter


class LogoutForm(FlaskForm):
    """Only the CSRF token: a link or another site's form must not end anyone's session."""


@bp.route("/logout", methods=["GET", "POST"])
def logout() -> ResponseReturnValue:
    form = LogoutForm()
    if form.validate_on_submit():
        user = flask_login.current_user
        if user.is_authenticated:
            with get_engine().begin() as conn:
                end_sessions(conn, user.id)
        flask_login.logout_user()
        return redirect(url_for("login.login"))
    # A GET (an old link) or an expired token: ask, with a fresh token, rather than fail.
    return render_template("logout.html", form=form), 400 if request.method == "POST" else 200


@bp.route("/")
def index() -> ResponseReturnValue:
    return redirect(DASHBOARD_PATH)


def load_session_user(session_id: str) -> User | None:
    """flask-login's user loader: the user a session cookie names, while that session is live."""
    with get_engine().connect() as conn:
        return load_user(conn, session_id)


def require_login() -> BaseResponse | None:
    """The guard in front of everything but the public paths and the API (a before_request hook):
    anonymous page requests go to the login page, anonymous Dash requests get 401."""
    path = request.path
    if is_api(path) and request.blueprint not in ("api", "health"):
        # Dash's catch-all page route would otherwise answer unknown API paths with HTML.
        return error_response(404, "not_found", f"No API endpoint at {path}.")
    if path in PUBLIC_PATHS or request.blueprint == "api" or flask_login.current_user.is_authenticated:
        return None
    if path.startswith("/_dash") or path.startswith("/_reload"):
        return error_response(401, "unauthorized", "Log in first.")
    # Quoted, so a deep link's own query (&startDate=...) survives the trip through login.
    return redirect("/login?next=" + quote(request.full_path.rstrip("?"), safe="/?="))
