"""omskit.testing's reuse of PostgreSQL schemas between tests (decision 49).

A reused schema must look to the next test exactly like a fresh one: its own name, the same
tables, no rows, every sequence at its start; anything else is dropped, never reused.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from omskit import Oms, bootstrap
from omskit.testing import TestDatabase, location
from omskit.testing._schemas import SchemaPool, table_set_key

pytestmark = pytest.mark.postgres_only


@pytest.fixture
def pool(omskit_database: TestDatabase) -> Iterator[SchemaPool]:
    made = SchemaPool(prefix=f"omskit_pool_t{uuid.uuid4().hex[:8]}_")
    yield made
    made.close()


def _schemas(url: str, like: str) -> set[str]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        names = conn.exec_driver_sql(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE %(like)s", {"like": like})
        found = {str(n) for (n,) in names}
    engine.dispose()
    return found


class _Test:
    """What ``omskit_database`` and ``make_oms`` do around one test, on one pool."""

    def __init__(self, pool: SchemaPool, url: str) -> None:
        self.pool, self.url = pool, url
        self.schema = f"omskit_test_pool_{uuid.uuid4().hex[:12]}"
        pool.create_empty(url, self.schema)

    def make_oms(self) -> tuple[Oms, str]:
        oms = bootstrap(self.url, schema=self.schema, load_entrypoints=False)
        key = table_set_key(oms.metadata, oms.engine.dialect, self.schema)
        outcome = self.pool.take(self.url, self.schema, key)
        if outcome != "taken":
            oms.create_schema()
        if outcome == "empty":
            self.pool.created(self.url, self.schema, key)
        return oms, outcome

    def sql(self, statement: str) -> list[tuple[object, ...]]:
        engine = sa.create_engine(self.url, poolclass=sa.pool.NullPool)
        with engine.begin() as conn:
            result = conn.exec_driver_sql(statement.replace("{s}", f'"{self.schema}"'))
            rows = [tuple(r) for r in result] if result.returns_rows else []
        engine.dispose()
        return rows

    def end(self, *, passed: bool = True) -> None:
        self.pool.release(self.url, self.schema, reusable=passed)


def _fill(oms: Oms) -> None:
    """Rows in several tables and a used sequence (the inventory ledger's id)."""
    oms.inventory.save_location(location("dc-1", 45.46, 9.19))
    oms.inventory.receive("dc-1", "SKU-1", 5)
    oms.close()


def test_a_passed_test_s_tables_come_back_empty_with_sequences_restarted(
        omskit_database: TestDatabase, pool: SchemaPool) -> None:
    first = _Test(pool, omskit_database.url)
    oms, outcome = first.make_oms()
    assert outcome == "empty"
    _fill(oms)
    used_id = first.sql("SELECT max(id) FROM {s}.omskit_inventory_ledger")[0][0]
    first.end()
    assert not _schemas(omskit_database.url, first.schema)  # renamed into the pool

    second = _Test(pool, omskit_database.url)
    oms, outcome = second.make_oms()
    assert outcome == "taken"
    for table in oms.tables.all():
        assert second.sql(f'SELECT count(*) FROM {{s}}."{table.name}"') == [(0,)]
    _fill(oms)
    # The first row of the reused ledger gets the id a fresh table gives its first row.
    assert second.sql("SELECT min(id) FROM {s}.omskit_inventory_ledger")[0][0] == used_id
    second.end()


@pytest.mark.parametrize("change", [
    "ALTER TABLE {s}.omskit_locations ADD COLUMN extra integer",
    "CREATE TABLE {s}.host_table (id integer)",
    "CREATE INDEX extra_index ON {s}.omskit_locations (name)",
    "DROP INDEX {s}.ix_omskit_outbox_dispatched_at",
    "CREATE VIEW {s}.host_view AS SELECT 1 AS one",
    "CREATE FUNCTION {s}.f() RETURNS integer LANGUAGE sql AS 'SELECT 1'",
    "ALTER TABLE {s}.omskit_locations ALTER COLUMN name DROP NOT NULL",
    "ALTER TABLE {s}.omskit_outbox DROP CONSTRAINT a_unique_constraint",
    "GRANT SELECT ON {s}.omskit_locations TO PUBLIC",
])
def test_a_schema_a_test_changed_is_dropped_not_reused(
        omskit_database: TestDatabase, pool: SchemaPool, change: str) -> None:
    first = _Test(pool, omskit_database.url)
    first.make_oms()[0].close()
    if "ix_omskit_outbox_dispatched_at" in change:
        indexes = first.sql("SELECT c.relname FROM pg_index i JOIN pg_class c "
                            "ON c.oid = i.indexrelid WHERE NOT i.indisunique "
                            "AND i.indrelid = '{s}.omskit_outbox'::regclass")
        change = change.replace("ix_omskit_outbox_dispatched_at", str(indexes[0][0]))
    if "DROP CONSTRAINT" in change:
        unique = first.sql("SELECT conname FROM pg_constraint WHERE contype = 'u' "
                           "AND conrelid = '{s}.omskit_outbox'::regclass")
        change = change.replace("a_unique_constraint", str(unique[0][0]))
    first.sql(change)
    first.end()
    assert not _schemas(omskit_database.url, first.schema)

    second = _Test(pool, omskit_database.url)
    oms, outcome = second.make_oms()
    assert outcome == "empty"
    oms.close()
    second.end()


def test_a_failed_test_s_schema_is_dropped_not_reused(
        omskit_database: TestDatabase, pool: SchemaPool) -> None:
    first = _Test(pool, omskit_database.url)
    first.make_oms()[0].close()
    first.end(passed=False)
    second = _Test(pool, omskit_database.url)
    oms, outcome = second.make_oms()
    assert outcome == "empty"
    oms.close()
    second.end()


@pytest.mark.parametrize("writes", ["rows", "sequence"])
def test_writes_into_a_pooled_schema_keep_it_from_being_handed_over(
        omskit_database: TestDatabase, pool: SchemaPool, writes: str) -> None:
    first = _Test(pool, omskit_database.url)
    first.make_oms()[0].close()
    first.end()
    (pooled,) = _schemas(omskit_database.url, f"{pool.prefix}%")
    # A writer the first test left running, which found the tables after they were emptied.
    if writes == "rows":
        _fill(bootstrap(omskit_database.url, schema=pooled, load_entrypoints=False))
    else:
        first.schema = pooled
        first.sql("SELECT nextval('{s}.omskit_outbox_seq_seq')")

    second = _Test(pool, omskit_database.url)
    oms, outcome = second.make_oms()
    assert outcome == "empty"  # the pooled schema was refused and dropped
    assert not _schemas(omskit_database.url, pooled)
    oms.close()
    second.end()


def test_a_test_s_own_objects_are_kept_and_its_schema_not_swapped(
        omskit_database: TestDatabase, pool: SchemaPool) -> None:
    first = _Test(pool, omskit_database.url)
    first.make_oms()[0].close()
    first.end()
    second = _Test(pool, omskit_database.url)
    second.sql("CREATE TABLE {s}.host_table (id integer)")
    oms, outcome = second.make_oms()
    assert outcome == "occupied"
    assert second.sql("SELECT count(*) FROM {s}.host_table") == [(0,)]
    oms.close()
    second.end()
    assert not _schemas(omskit_database.url, second.schema)
    assert len(_schemas(omskit_database.url, f"{pool.prefix}%")) == 1  # still pooled


def test_the_pool_is_dropped_when_the_session_ends(omskit_database: TestDatabase) -> None:
    pool = SchemaPool(prefix=f"omskit_pool_t{uuid.uuid4().hex[:8]}_")
    first = _Test(pool, omskit_database.url)
    first.make_oms()[0].close()
    first.end()
    (pooled,) = _schemas(omskit_database.url, f"{pool.prefix}%")
    pool.close()
    assert not _schemas(omskit_database.url, pooled)
