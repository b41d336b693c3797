"""Tests of billing-dash: the checkout they run from, and where they run (CI, the PostgreSQL server)."""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PG_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def unavailable(reason: str):
    """Skip a test whose service or tool is missing; in CI, fail it instead."""
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: PostgreSQL tests must run, not skip)", pytrace=False)
    pytest.skip(reason)
