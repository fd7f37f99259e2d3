"""The shipped Alembic migrations build exactly the tables that ``build_metadata`` describes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from omskit import bootstrap
from omskit.store import migrate
from omskit.store.tables import build_metadata
from omskit.testing import TestDatabase


def _schema_diff(engine: sa.Engine, prefix: str, schema: str | None) -> list[Any]:
    def ours(name: str | None, type_: str, _parent: Any) -> bool:
        if type_ == "schema":
            return name == schema
        if type_ == "table":
            return bool(name) and name.startswith(prefix) and not name.endswith("alembic_version")
        return True

    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_schemas": schema is not None, "include_name": ours})
        return list(compare_metadata(context, build_metadata(prefix, schema).metadata))


@pytest.mark.parametrize("prefix", ["omskit_", "shop_oms_"])
def test_upgrade_builds_the_metadata_tables(omskit_database: TestDatabase, prefix: str) -> None:
    engine = omskit_database.engine()
    try:
        assert migrate.current(engine, prefix=prefix, schema=omskit_database.schema) is None
        migrate.upgrade(engine, prefix=prefix, schema=omskit_database.schema)
        assert (migrate.current(engine, prefix=prefix, schema=omskit_database.schema)
                == migrate.head())
        assert _schema_diff(engine, prefix, omskit_database.schema) == []
        # compare_metadata ignores constraint names; hosts' own migrations rely on them.
        inspector = sa.inspect(engine)
        expected = build_metadata(prefix, omskit_database.schema)
        for table in expected.all():
            found = {fk["name"] for fk in inspector.get_foreign_keys(
                table.name, schema=omskit_database.schema)}
            wanted = {fk.name for fk in table.foreign_key_constraints}
            assert found == wanted, table.name
            found_ix = {ix["name"] for ix in inspector.get_indexes(
                table.name, schema=omskit_database.schema)}
            assert {ix.name for ix in table.indexes} <= found_ix, table.name
        # Upgrading again is a no-op, not an error.
        migrate.upgrade(engine, prefix=prefix, schema=omskit_database.schema)
        inspector = sa.inspect(engine)
        tables = inspector.get_table_names(schema=omskit_database.schema)
        assert f"{prefix}alembic_version" in tables
    finally:
        engine.dispose()


def test_oms_upgrade_then_place_an_order(omskit_database: TestDatabase) -> None:
    from omskit.testing import location, order_command

    with bootstrap(omskit_database.url, schema=omskit_database.schema,
                   load_entrypoints=False) as oms:
        oms.upgrade()
        oms.inventory.save_location(location("dc-1", 45.0, 9.0))
        oms.inventory.receive("dc-1", "SKU-1", 4)
        order = oms.orders.place(order_command("M-1", {"SKU-1": 3}))
        assert order.status.value == "allocated"
        assert oms.inventory.stock_item("dc-1", "SKU-1").reserved == 3  # type: ignore[union-attr]


def test_migrations_are_one_gapless_numbered_chain() -> None:
    folder = Path(migrate.__file__).parent / "migrations" / "versions"
    versions = sorted(p.name for p in folder.glob("[0-9]*.py"))
    numbers = [name[:4] for name in versions]
    assert numbers == [f"{n:04d}" for n in range(1, len(numbers) + 1)]
    assert migrate.head() == numbers[-1]
