"""The migrations build exactly the schema models.py declares, on both databases."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from billing_dash.models import metadata


def test_migrated_schema_matches_the_models(engine):
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": False}), metadata)
    assert diff == []


def test_migrated_money_columns_have_the_models_precision(engine):
    # compare_metadata above ignores types; a money column narrower than the model's overflows.
    from sqlalchemy import inspect

    from billing_dash.models import Money

    inspector = inspect(engine)
    for table in metadata.sorted_tables:
        declared = {c.name: c.type.load_dialect_impl(engine.dialect) for c in table.columns
                    if isinstance(c.type, Money)}
        if not declared:
            continue
        migrated = {c["name"]: c["type"] for c in inspector.get_columns(table.name) if c["name"] in declared}
        for name, kind in declared.items():
            got = migrated[name]
            assert got._type_affinity is kind._type_affinity, (table.name, name, got)
            assert (getattr(got, "precision", None), getattr(got, "scale", None)) == \
                (getattr(kind, "precision", None), getattr(kind, "scale", None)), (table.name, name, got)
