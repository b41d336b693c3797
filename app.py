"""WSGI entry point: `gunicorn app:server`."""

from gunicorn.errors import AppImportError

from billing_dash.config import ConfigError
from billing_dash.web.app import create_app

try:
    app = create_app()
except ConfigError as exc:
    # gunicorn prints this one line and stops, instead of a traceback per worker it boots.
    raise AppImportError(str(exc)) from None
server = app.server
