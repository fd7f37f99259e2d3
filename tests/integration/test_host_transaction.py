"""Embedding: joining the host's transaction, and leaving the host's engine alone."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa

from omskit import Oms, bootstrap
from omskit.domain.errors import InsufficientStock
from omskit.testing import TestDatabase, location, order_command, table_contents
from tests.support import ROME, RecordingHandler, stock_rows


@pytest.fixture
def host_table(oms: Oms, omskit_database: TestDatabase) -> sa.Table:
    """A table of the host application, in the same database (and schema) as omskit's."""
    table = sa.Table("host_invoices", sa.MetaData(schema=omskit_database.schema),
                     sa.Column("id", sa.Integer, primary_key=True),
                     sa.Column("order_id", sa.String(64), nullable=False))
    table.create(oms.engine)
    return table


def host_rows(oms: Oms, table: sa.Table) -> list[tuple[int, str]]:
    with oms.engine.connect() as conn:
        return [(a, b) for a, b in conn.execute(sa.select(table).order_by(table.c.id))]


def test_host_rollback_undoes_everything(oms: Oms, host_table: sa.Table) -> None:
    oms.inventory.save_location(location("rome", *ROME))
    before = table_contents(oms)
    with oms.engine.connect() as conn:
        tx = conn.begin()
        joined = oms.bind(conn)
        joined.inventory.receive("rome", "A", 5)
        order = joined.orders.place(order_command("E-1", {"A": 2}))
        conn.execute(host_table.insert().values(id=1, order_id=order.id))
        # Inside the transaction the host and omskit see the same uncommitted state.
        assert joined.orders.get(order.id).status.value == "allocated"
        assert joined.inventory.available("A") == 3
        tx.rollback()
    assert table_contents(oms) == before
    assert host_rows(oms, host_table) == []


def test_host_commit_persists_and_leaves_events_pending(make_oms: Callable[..., Oms],
                                                        host_table: sa.Table) -> None:
    handler = RecordingHandler()
    oms = make_oms(plugins=[handler])
    oms.inventory.save_location(location("rome", *ROME))
    handler.events.clear()
    with oms.engine.connect() as conn, conn.begin():
        joined = oms.bind(conn)
        joined.inventory.receive("rome", "A", 5)
        order = joined.orders.place(order_command("E-1", {"A": 2}))
        conn.execute(host_table.insert().values(id=1, order_id=order.id))
    assert host_rows(oms, host_table) == [(1, order.id)]
    assert oms.orders.get(order.id).status.value == "allocated"
    assert stock_rows(oms)[("rome", "A")].reserved == 2
    # Joined work never dispatches inline: the host's commit is what makes it true.
    assert handler.events == []
    assert oms.outbox.pending_count() == 7
    assert oms.outbox.dispatch_pending() == 7
    assert handler.types() == [
        "stock.received", "order.placed", "order.status_changed", "fulfillment_order.created",
        "order.routed", "order.status_changed", "stock.reserved"]
    assert oms.outbox.pending_count() == 0


def test_a_failed_call_rolls_back_only_its_savepoint(oms: Oms, host_table: sa.Table) -> None:
    oms.inventory.save_location(location("rome", *ROME))
    with oms.engine.connect() as conn, conn.begin():
        joined = oms.bind(conn)
        joined.inventory.receive("rome", "A", 5)
        with pytest.raises(InsufficientStock):
            joined.inventory.adjust("rome", "A", -6, reason="count")
        conn.execute(host_table.insert().values(id=1, order_id="none"))
    assert stock_rows(oms)[("rome", "A")].on_hand == 5
    assert host_rows(oms, host_table) == [(1, "none")]
    assert oms.inventory.ledger_mismatches() == []


def test_host_engine_is_not_disposed(omskit_database: TestDatabase) -> None:
    engine = omskit_database.engine()
    disposed: list[sa.Engine] = []
    sa.event.listen(engine, "engine_disposed", disposed.append)
    try:
        oms = bootstrap(engine, schema=omskit_database.schema, load_entrypoints=False)
        assert oms.engine is engine
        oms.create_schema()
        oms.inventory.save_location(location("rome", *ROME))
        oms.close()
        assert disposed == []
        with engine.connect() as conn:  # still the host's, still usable
            assert conn.execute(sa.select(sa.func.count())
                                .select_from(oms.tables.locations)).scalar_one() == 1
    finally:
        engine.dispose()
    assert disposed == [engine]


def test_an_engine_omskit_created_is_disposed(make_oms: Callable[..., Oms]) -> None:
    oms = make_oms()
    disposed: list[sa.Engine] = []
    sa.event.listen(oms.engine, "engine_disposed", disposed.append)
    with oms:
        oms.inventory.save_location(location("rome", *ROME))
    assert disposed == [oms.engine]
