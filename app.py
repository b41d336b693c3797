"""WSGI entry point: `gunicorn app:server`."""

from billing_dash import create_app

app = create_app()
server = app.server
