"""Alembic environment: runs migrations on the engine handed over by billing_dash.db.upgrade."""

from alembic import context

from billing_dash.config import Settings
from billing_dash.db import make_engine
from billing_dash.models import metadata

config = context.config
engine = config.attributes.get("engine") or make_engine(Settings.from_env().database_url)

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    context.run_migrations()
