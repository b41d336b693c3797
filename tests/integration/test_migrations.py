"""The migrations build exactly the schema models.py declares, on both databases."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from billing_dash.models import metadata


def test_migrated_schema_matches_the_models(engine):
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}), metadata)
    assert diff == []
