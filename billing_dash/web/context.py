"""The app's engine and settings as a request finds them: one key each, set by the factory."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import Engine

from ..config import Settings

ENGINE = "billing_dash.engine"
SETTINGS = "billing_dash.settings"


def get_engine() -> Engine:
    return current_app.extensions[ENGINE]


def get_settings() -> Settings:
    return current_app.extensions[SETTINGS]
