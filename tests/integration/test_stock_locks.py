"""The one global lock order (decision 26): what ``InventoryRepository.lock_stock`` locks,
that locking again costs nothing, that SQLite's path sends nothing, and that a rejection's
re-route still reads its stock rows once. ``tests/concurrency/test_lock_order.py`` races
every write path together on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import attrs
import pytest
import sqlalchemy as sa

from omskit import Oms
from omskit.domain.values import Coordinates
from omskit.store.backends import backend_for
from omskit.store.inventory import InventoryRepository
from omskit.store.pending import PendingRows
from omskit.store.statements import Statements
from omskit.testing import location, order_command
from tests.support import MILAN, ROME

SKUS = ("A", "B", "C")


def stocked(oms: Oms) -> None:
    for code, (lat, lon) in (("milan", MILAN), ("rome", ROME)):
        oms.inventory.save_location(location(code, lat, lon))
        for sku in SKUS:
            oms.inventory.receive(code, sku, 10)


class SentStatements:
    """Every statement the engine sends while it is listening."""

    def __init__(self, engine: sa.Engine) -> None:
        self.sent: list[str] = []
        self._engine = engine
        sa.event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        self.sent.append(statement)

    def close(self) -> None:
        sa.event.remove(self._engine, "before_cursor_execute", self._seen)


@pytest.fixture
def sent(oms: Oms) -> Iterator[SentStatements]:
    log = SentStatements(oms.engine)
    yield log
    log.close()


def locked_elsewhere(oms: Oms, row: tuple[str, str]) -> bool:
    """Whether another transaction holds ``row`` locked (PostgreSQL: ``NOWAIT`` fails)."""
    s = oms.tables.stock_items
    with oms.engine.connect() as other, other.begin():
        try:
            other.execute(sa.select(s.c.location)
                          .where(s.c.location == row[0], s.c.sku == row[1])
                          .with_for_update(nowait=True))
        except sa.exc.OperationalError:
            return True
    return False


def test_locking_takes_every_row_of_the_skus_and_of_the_carts_holdings_once(
        oms: Oms, sent: SentStatements, omskit_backend: str) -> None:
    stocked(oms)
    hold = oms.carts.hold("cart-1", {"C": 2}, ttl=timedelta(minutes=10), channel="web",
                          destination=Coordinates(lat=ROME[0], lon=ROME[1]))
    assert [(r.location, r.sku) for r in hold.held] == [("rome", "C")]
    with oms.engine.connect() as conn, conn.begin():
        statements = Statements(oms.tables)
        backend = backend_for(conn.dialect)
        repo = InventoryRepository(conn, oms.tables, oms.converter, statements=statements,
                                   pending=PendingRows(conn, statements, backend),
                                   backend=backend)
        sent.sent.clear()
        repo.lock_stock(["A"], carts=["cart-1"])
        first = list(sent.sent)
        repo.lock_stock(["A"], carts=["cart-1"])
        assert sent.sent == first  # already locked: nothing more is sent
        if omskit_backend == "sqlite":
            # The write lock already excludes every other writer: nothing to lock.
            assert first == []
            return
        # The cart's advisory lock, its soft reservations, then every row of A and of C
        # (the SKU the cart holds) in one ordered read that also fills the stock cache.
        assert len(first) == 3
        assert "ORDER BY" in first[2]
        assert "FOR UPDATE" in first[2]
        assert repo.stock_cache.skus() == ["A", "C"]
        locked = {(code, sku) for code in ("milan", "rome") for sku in SKUS
                  if locked_elsewhere(oms, (code, sku))}
        assert locked == {("milan", "A"), ("rome", "A"), ("milan", "C"), ("rome", "C")}
        conn.rollback()
    assert not locked_elsewhere(oms, ("milan", "A"))  # held until the transaction ended


def test_a_rejection_reads_its_stock_rows_once(oms: Oms, sent: SentStatements,
                                              omskit_backend: str) -> None:
    stocked(oms)
    order = oms.orders.place(order_command("R-1", {"A": 2, "B": 1}, lat=MILAN[0],
                                           lon=MILAN[1]))
    released = oms.fulfillment.release(order.id)
    [fo] = released.fulfillment_orders
    assert fo.location == "milan"
    sent.sent.clear()
    after = oms.fulfillment.reject(fo.id, "no stock on the shelf")
    assert [f.location for f in after.fulfillment_orders if f.active] == ["rome"]
    # The stock cache's reads (rows with their location's version); the after-commit
    # handler offering the released units to waiting orders reads availability apart.
    reads = [s for s in sent.sent if s.lstrip().upper().startswith("SELECT")
             and "omskit_stock_items" in s and "updated_at" in s]
    # PostgreSQL: the locked read before the release, which the re-route plans from (the
    # units given back are applied to the cache). SQLite: the re-route's read.
    assert len(reads) == 1
    assert ("FOR UPDATE" in reads[0]) is (omskit_backend == "postgresql")


def test_a_placements_look_up_locks_its_stock_rows_in_the_same_statement(
        oms: Oms, sent: SentStatements, omskit_backend: str) -> None:
    stocked(oms)
    placed = oms.orders.place(order_command("L-1", {"A": 1}))
    for external_id, expected in (("L-1", placed.id), ("L-2", None)):
        with oms._db.uow() as uow:
            sent.sent.clear()
            found = uow.placed_for_external("web", external_id, locking=["B", "A", "B"])
            assert (found[0] if found else None) == expected
            if omskit_backend == "sqlite":
                # The write lock excludes other writers: the look-up alone, nothing locked.
                assert len(sent.sent) == 1
                assert uow.inventory.stock_cache.skus() == []
                continue
            # One statement found the order (or not) and read every row of A and B locked,
            # in the lock order, into the stock cache; locking them again sends nothing.
            assert len(sent.sent) == 1
            assert "FOR UPDATE" in sent.sent[0]
            assert "ORDER BY" in sent.sent[0]
            assert uow.inventory.stock_cache.skus() == ["A", "B"]
            assert uow.inventory.stock_cache.available("milan", "B") == 10
            locked = {(code, sku) for code in ("milan", "rome") for sku in SKUS
                      if locked_elsewhere(oms, (code, sku))}
            assert locked == {(code, sku) for code in ("milan", "rome") for sku in "AB"}
            seen = len(sent.sent)  # with the other connection's probes
            uow.inventory.lock_stock(["A", "B"])
            assert len(sent.sent) == seen
        assert not locked_elsewhere(oms, ("milan", "A"))  # held until the transaction ended


def test_a_placement_with_a_cart_locks_the_cart_before_its_stock_rows(
        oms: Oms, sent: SentStatements, omskit_backend: str) -> None:
    stocked(oms)
    oms.carts.hold("cart-2", {"C": 1}, ttl=timedelta(minutes=10), channel="web",
                   destination=Coordinates(lat=ROME[0], lon=ROME[1]))
    sent.sent.clear()
    order = oms.orders.place(attrs.evolve(order_command("L-3", {"C": 1, "A": 1}),
                                          cart_id="cart-2"))
    assert order.status.value == "allocated"
    if omskit_backend == "postgresql":
        # The look-up alone, then the cart's advisory lock, then the locked stock read.
        assert sent.sent[0].lstrip().startswith("SELECT")
        assert "FOR UPDATE" not in sent.sent[0]
        assert "pg_advisory_xact_lock" in sent.sent[1]
