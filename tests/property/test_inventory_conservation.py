"""Hypothesis: stock is conserved whatever sequence of receipts, orders, cancellations,
rejections, adjustments and shipments happens.

After every step, for every stock row: ``0 <= reserved <= on_hand``; ``on_hand`` equals what
was received and adjusted minus what shipped; ``reserved`` equals the active reservation
records; the ledger sums to the row. At the end of each run, every order's reservations match
its fulfilment orders.

The main run uses an in-memory SQLite ``Oms`` per example (fast); a shorter run shares one
database per backend (SQLite file and PostgreSQL), each example on its own SKUs.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable

import sqlalchemy as sa
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from omskit import ManualCarriers, Oms, bootstrap
from omskit.builtin.validation import UNKNOWN_SKU
from omskit.domain.errors import IllegalTransition, InsufficientStock
from omskit.domain.inventory import ReservationStatus
from omskit.domain.lifecycle import FULFILLMENT_ACTIVE, FulfillmentStatus, OrderStatus
from omskit.testing import location, order_command
from tests.support import MILAN, NAPLES, ROME

F = FulfillmentStatus
O = OrderStatus  # noqa: E741
PLACES = {"milan": MILAN, "rome": ROME, "naples": NAPLES}
SKUS = ("A", "B", "C")
SHIPPED_ONCE_CANNOT_CANCEL = {O.PARTIALLY_SHIPPED, O.SHIPPED, O.DELIVERED, O.COMPLETED}
_runs = itertools.count()

locations = st.sampled_from(sorted(PLACES))
skus = st.sampled_from(SKUS)


class InventoryConservation(RuleBasedStateMachine):
    orders = Bundle("orders")

    def __init__(self, oms: Oms | None = None) -> None:
        super().__init__()
        if oms is None:  # a fresh in-memory database per example
            oms = bootstrap("sqlite://", load_entrypoints=False,
                            plugins=[ManualCarriers("brt")])
            oms.create_schema()
            self.owned = True
        else:
            self.owned = False
        self.oms = oms
        # Each example works on its own SKUs, so examples can share a database.
        self.prefix = f"r{next(_runs)}-"
        for code, (lat, lon) in PLACES.items():
            oms.inventory.save_location(location(code, lat, lon))
        self.received: dict[tuple[str, str], int] = defaultdict(int)
        self.adjusted: dict[tuple[str, str], int] = defaultdict(int)
        self.shipped: dict[tuple[str, str], int] = defaultdict(int)
        self.order_ids: list[str] = []

    def sku(self, name: str) -> str:
        return self.prefix + name

    def mine(self, key: tuple[str, str]) -> bool:
        return key[1].startswith(self.prefix)

    # -- rules ------------------------------------------------------------------------------

    @initialize(target=orders, loc=locations, quantity=st.integers(1, 6),
                lines=st.dictionaries(skus, st.integers(1, 4), min_size=1, max_size=3))
    def first_order(self, loc: str, quantity: int, lines: dict[str, int]) -> str:
        """Some stock and one order, so that the order rules have something to work on."""
        for sku in SKUS:
            self.receive(loc, sku, quantity)
        return self.place(loc, lines)

    @rule(loc=locations, sku=skus, quantity=st.integers(1, 6))
    def receive(self, loc: str, sku: str, quantity: int) -> None:
        self.oms.inventory.receive(loc, self.sku(sku), quantity)
        self.received[(loc, self.sku(sku))] += quantity

    @rule(loc=locations, sku=skus, delta=st.sampled_from([-4, -3, -2, -1, 1, 2, 3]))
    def adjust(self, loc: str, sku: str, delta: int) -> None:
        key = (loc, self.sku(sku))
        row = self.oms.inventory.stock_item(*key)
        removable = row.on_hand - row.reserved if row else 0
        expect_ok = delta > 0 or removable >= -delta
        try:
            self.oms.inventory.adjust(loc, key[1], delta, reason="count")
        except InsufficientStock:
            assert not expect_ok
            return
        assert expect_ok
        self.adjusted[key] += delta

    @rule(target=orders, where=locations,
          lines=st.dictionaries(skus, st.integers(1, 4), min_size=1, max_size=3))
    def place(self, where: str, lines: dict[str, int]) -> str:
        lat, lon = PLACES[where]
        order = self.oms.orders.place(order_command(
            f"{self.prefix}{len(self.order_ids)}",
            {self.sku(s): q for s, q in lines.items()}, lat=lat, lon=lon))
        self.order_ids.append(order.id)
        return order.id

    @rule(order_id=orders)
    def cancel(self, order_id: str) -> None:
        status = self.oms.orders.get(order_id).status
        try:
            after = self.oms.orders.cancel(order_id)
        except IllegalTransition:
            assert status in SHIPPED_ONCE_CANNOT_CANCEL
            return
        assert status not in SHIPPED_ONCE_CANNOT_CANCEL
        assert after.status is O.CANCELLED

    @rule(order_id=orders)
    def release_hold(self, order_id: str) -> None:
        order = self.oms.orders.get(order_id)
        if any(h.code == UNKNOWN_SKU for h in order.active_holds):
            self.oms.orders.release_hold(order_id, UNKNOWN_SKU)

    @rule(order_id=orders)
    def allocate_backorders(self, order_id: str) -> None:
        self.oms.orders.allocate_backorders(order_id)

    @rule(order_id=orders)
    def reject_one(self, order_id: str) -> None:
        order = self.oms.orders.get(order_id)
        if order.active_holds or order.status is O.CANCELLED:
            return
        order = self.oms.fulfillment.release(order_id)
        released = [fo for fo in order.fulfillment_orders if fo.status is F.RELEASED]
        if released:
            self.oms.fulfillment.reject(released[0].id, "cannot fulfil")

    @rule(order_id=orders)
    def ship_everything(self, order_id: str) -> None:
        order = self.oms.orders.get(order_id)
        if order.active_holds or order.status is O.CANCELLED:
            return
        ff = self.oms.fulfillment
        order = ff.release(order_id)
        for fo in order.fulfillment_orders:
            if fo.status not in FULFILLMENT_ACTIVE:
                continue
            steps = [F.ACCEPTED, F.PICKED, F.PACKED]
            for step in steps[steps.index(fo.status) + 1 if fo.status in steps else 0:]:
                {F.ACCEPTED: ff.accept, F.PICKED: ff.pick, F.PACKED: ff.pack}[step](fo.id)
            ff.ship(fo.id, carrier="brt", tracking_number="T")
            for line in fo.lines:
                self.shipped[(fo.location, line.sku)] += line.quantity

    # -- invariants -------------------------------------------------------------------------

    def rows(self) -> dict[tuple[str, str], tuple[int, int]]:
        s = self.oms.tables.stock_items
        with self.oms.engine.connect() as conn:
            return {(r.location, r.sku): (r.on_hand, r.reserved)
                    for r in conn.execute(sa.select(s)) if r.sku.startswith(self.prefix)}

    def reserved_by_records(self) -> dict[tuple[str, str], int]:
        r = self.oms.tables.reservations
        with self.oms.engine.connect() as conn:
            rows = conn.execute(
                sa.select(r.c.location, r.c.sku, sa.func.sum(r.c.quantity))
                .where(r.c.status == ReservationStatus.ACTIVE.value,
                       r.c.sku.startswith(self.prefix))
                .group_by(r.c.location, r.c.sku))
            return {(a, b): int(c) for a, b, c in rows}

    @invariant()
    def stock_is_conserved(self) -> None:
        rows = self.rows()
        records = self.reserved_by_records()
        keys = set(self.received) | set(self.adjusted) | set(self.shipped)
        assert set(rows) >= keys
        for key, (on_hand, reserved) in rows.items():
            assert 0 <= reserved <= on_hand, key
            assert on_hand == self.received[key] + self.adjusted[key] - self.shipped[key], key
            assert reserved == records.get(key, 0), key
        assert set(records) <= set(rows)
        assert self.oms.inventory.ledger_mismatches() == []

    def teardown(self) -> None:
        try:
            self.check_orders()
        finally:
            if self.owned:
                self.oms.close()

    def check_orders(self) -> None:
        """Every order's reservations are exactly its fulfilment orders' lines."""
        r = self.oms.tables.reservations
        by_order: dict[tuple[str, str], dict[tuple[str, str, str], int]] = defaultdict(
            lambda: defaultdict(int))
        with self.oms.engine.connect() as conn:
            for order_id, fo_id, sku, status, quantity in conn.execute(
                    sa.select(r.c.order_id, r.c.fulfillment_order_id, r.c.sku, r.c.status,
                              r.c.quantity).where(r.c.sku.startswith(self.prefix))):
                by_order[(order_id, status)][(fo_id, sku, "")] += quantity
        for order_id in self.order_ids:
            order = self.oms.orders.get(order_id)
            expected: dict[str, dict[tuple[str, str, str], int]] = {
                "active": defaultdict(int), "consumed": defaultdict(int),
                "released": defaultdict(int)}
            for fo in order.fulfillment_orders:
                bucket = ("active" if fo.status in FULFILLMENT_ACTIVE
                          else "consumed" if fo.status in (F.SHIPPED, F.DELIVERED)
                          else "released")
                for line in fo.lines:
                    expected[bucket][(fo.id, line.sku, "")] += line.quantity
            for status, wanted in expected.items():
                assert dict(by_order.get((order_id, status), {})) == dict(wanted), (
                    order_id, status)
            if order.status is O.CANCELLED:
                assert not expected["active"]


InventoryConservation.TestCase.settings = settings(
    settings.default, max_examples=max(20, settings.default.max_examples // 2),
    stateful_step_count=30)
TestInventoryConservationInMemory = InventoryConservation.TestCase


def test_inventory_conservation_on_each_backend(make_oms: Callable[..., Oms]) -> None:
    """A shorter run on the real backends (SQLite file with WAL, PostgreSQL)."""
    oms = make_oms(plugins=[ManualCarriers("brt")])
    run_state_machine_as_test(
        lambda: InventoryConservation(oms),
        settings=settings(settings.default, max_examples=max(5, settings.default.max_examples // 6),
                          stateful_step_count=20))
