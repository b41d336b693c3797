"""Security response headers (CSP, nosniff, referrer, framing) and Secure session cookies over HTTPS.

Deployment note: the session cookie gets `Secure` when `request.is_secure`, i.e. when the WSGI
request's scheme is https. Behind a TLS-terminating reverse proxy (nginx, a load balancer) the app
itself sees plain http, so the proxy must send `X-Forwarded-Proto` and the WSGI app must be wrapped
in werkzeug's ProxyFix, e.g. `server.wsgi_app = ProxyFix(server.wsgi_app, x_proto=1)` with one
trusted proxy hop. That is left to the deployment on purpose: trusting X-Forwarded-* from clients
that reach the app directly would let them spoof their address (which the login rate limit keys on).
"""

from __future__ import annotations

from collections.abc import Mapping

import dash
from dash.fingerprint import check_fingerprint
from flask import Flask, Response, has_request_context, request
from flask.sessions import SecureCookieSessionInterface

# Every directive except script-src, which gets Dash's inline-script hashes per response.
_POLICY = {
    "default-src": "'self'",
    # Plotly.js adds <style> elements at runtime (modebar, hover labels, cursors) and Dash /
    # dash-bootstrap-components / AG Grid set inline styles; CSP hashes or nonces cannot cover
    # styles created by script, so inline styles stay allowed. Styles cannot run code.
    "style-src": "'self' 'unsafe-inline'",
    # data: for the SVG icons that Bootstrap's and AG Grid's CSS embed as data: URIs.
    "img-src": "'self' data:",
    "font-src": "'self' data:",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}

STATIC_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    # frame-ancestors 'none' says the same to current browsers; this is for older ones.
    "X-Frame-Options": "DENY",
}
# Code and styles may be cached; pages and data never: a cache (the browser's Back included)
# would show them after logout, or an old period's numbers as if current.
CACHEABLE_PREFIXES = ("/assets/", "/_dash-component-suites/")
# For a fingerprinted URL, which names one version of a file: kept by the browser (not by shared
# caches: the code is only served to logged-in users) and never asked for again.
FOREVER = "private, max-age=31536000, immutable"


def fingerprinted(path: str, args: Mapping[str, str]) -> bool:
    """Whether a request names one version of a file: Dash adds `?m=<mtime>` to assets and
    `.v<version>m<mtime>` to component suites in the page, and changes it with the file."""
    if path.startswith("/assets/"):
        return "m" in args
    return path.startswith("/_dash-component-suites/") and check_fingerprint(path)[1]


def content_security_policy(app: dash.Dash) -> str:
    """The Content-Security-Policy for `app`: only same-origin code plus Dash's own inline scripts.

    Dash's index page runs one inline script (`var renderer = new DashRenderer(...)`) and one per
    inline clientside callback; `app.csp_hashes()` gives their hashes. No 'unsafe-inline' and no
    'unsafe-eval' for scripts: dash-ag-grid evaluates `{"function": ...}` strings with its own
    parser (no eval), and the plotly.js bundle only reaches `new Function` for WebGL traces we do
    not draw (tests/e2e/test_csp.py checks the console for violations).
    """
    # Asked per response, not once at start-up: Dash pages adds its inline clientside callback
    # (the page-title one) only on the first request, so hashes taken in create_app would miss it
    # and the dashboard would not render. Hashing two short strings per response costs nothing.
    directives = [f"{name} {value}" for name, value in _POLICY.items()]
    directives.insert(1, " ".join(["script-src 'self'", *app.csp_hashes()]))
    return "; ".join(directives)


class HttpsAwareSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, marked `Secure` whenever the request came over HTTPS.

    A fixed SESSION_COOKIE_SECURE=True would break plain-http development and tests (the browser
    would never send the cookie back); this way HTTPS deployments get it without a setting.
    """

    def get_cookie_secure(self, app: Flask) -> bool:
        return super().get_cookie_secure(app) or (has_request_context() and request.is_secure)


def init_security(app: dash.Dash) -> None:
    """Send the security headers on every response of `app.server` and make session cookies
    Secure over HTTPS. Call after the layout, pages and callbacks are set up.

    flask-login's remember-me cookie is not used (login_user is called without remember=True);
    if it ever is, REMEMBER_COOKIE_SECURE needs the same treatment.
    """
    server = app.server
    server.session_interface = HttpsAwareSessionInterface()

    @server.after_request
    def add_security_headers(response: Response) -> Response:
        # setdefault: a view that needs a different value for one response can still set its own.
        response.headers.setdefault("Content-Security-Policy", content_security_policy(app))
        for name, value in STATIC_HEADERS.items():
            response.headers.setdefault(name, value)
        if not request.path.startswith(CACHEABLE_PREFIXES):
            response.headers.setdefault("Cache-Control", "no-store")
        elif response.status_code == 200 and fingerprinted(request.path, request.args):
            response.headers["Cache-Control"] = FOREVER
        return response
