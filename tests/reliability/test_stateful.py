"""A hypothesis state machine drives the whole stock lifecycle in random order and checks
stock conservation after every step.

Rules: receipts, adjustments (both signs), safety stock, orders (also for SKUs never received,
which are held), hold releases, backorder allocation, cancellations, line cancellations, short
closes, releases, rejections,
fulfilment steps (accept, pick, pack, ship, deliver), cart holds, cart releases and the clock
passing so that holds expire. The model keeps, per stock row, what was received, adjusted and
shipped. After every step, for every stock row of the example:

- ``on_hand = received + adjustments − shipped`` (from the model, not from omskit);
- ``reserved`` = active order reservations + active cart holds, and ``0 ≤ reserved ≤ on_hand``;
- what live fulfilment orders hold equals the active order reservations;
- availability is never negative; the ledger sums to the stock rows;
- each location's daily load counts exactly the fulfilment orders holding a slot of that day
  (those rejected or cancelled before picking gave theirs back).

Runs on SQLite and PostgreSQL, one database per backend, each example on its own SKUs.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from omskit import ManualCarriers, Oms
from omskit.builtin.validation import UNKNOWN_SKU
from omskit.domain.errors import CartNotFound, IllegalTransition, InsufficientStock, OrderOnHold
from omskit.domain.inventory import ReservationStatus
from omskit.domain.lifecycle import FulfillmentStatus, OrderStatus
from omskit.domain.values import Coordinates
from omskit.testing import location, order_command
from tests.reliability.conftest import scaled
from tests.support import MILAN, NAPLES, ROME

F = FulfillmentStatus
O = OrderStatus  # noqa: E741
PLACES = {"milan": MILAN, "rome": ROME, "naples": NAPLES}
SKUS = ("A", "B", "C")
NEXT = {F.RELEASED: F.ACCEPTED, F.ACCEPTED: F.PICKED, F.PICKED: F.PACKED, F.PACKED: F.SHIPPED,
        F.SHIPPED: F.DELIVERED}
LIVE = (F.CREATED, F.RELEASED, F.ACCEPTED, F.PICKED, F.PACKED)
EXAMPLES = scaled(12)
STEPS = scaled(40)
_runs = itertools.count()

locations = st.sampled_from(sorted(PLACES))
skus = st.sampled_from(SKUS)
lines = st.dictionaries(skus, st.integers(1, 4), min_size=1, max_size=3)


class Clock:
    """A clock the machine moves forward (cart holds expire by it)."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class StockLifecycle(RuleBasedStateMachine):
    orders = Bundle("orders")
    carts = Bundle("carts")

    def __init__(self, oms: Oms, clock: Clock, tally: dict[str, int]) -> None:
        super().__init__()
        self.oms, self.clock, self.tally = oms, clock, tally
        self.prefix = f"s{next(_runs)}-"
        self.received: dict[tuple[str, str], int] = defaultdict(int)
        self.adjusted: dict[tuple[str, str], int] = defaultdict(int)
        self.shipped: dict[tuple[str, str], int] = defaultdict(int)
        self.count = 0
        self.empty_carts: set[str] = set()
        tally["examples"] += 1

    def sku(self, name: str) -> str:
        return self.prefix + name

    def step(self, name: str) -> None:
        self.tally["steps"] += 1
        self.tally[name] += 1

    # -- rules ----------------------------------------------------------------------------------

    @initialize(target=orders, loc=locations, quantity=st.integers(1, 6), wanted=lines)
    def first_order(self, loc: str, quantity: int, wanted: dict[str, int]) -> str:
        for sku in SKUS:
            self.receive(loc, sku, quantity)
        return self.place(loc, wanted)

    @rule(loc=locations, sku=skus, quantity=st.integers(1, 6))
    def receive(self, loc: str, sku: str, quantity: int) -> None:
        self.step("receive")
        self.oms.inventory.receive(loc, self.sku(sku), quantity)
        self.received[(loc, self.sku(sku))] += quantity

    @rule(loc=locations, sku=skus, delta=st.sampled_from([-4, -2, -1, 1, 3]))
    def adjust(self, loc: str, sku: str, delta: int) -> None:
        self.step("adjust")
        key = (loc, self.sku(sku))
        row = self.oms.inventory.stock_item(*key)
        removable = row.on_hand - row.reserved if row else 0
        try:
            self.oms.inventory.adjust(*key, delta, reason="count")
        except InsufficientStock:
            assert delta < 0
            assert removable < -delta
            return
        assert delta > 0 or removable >= -delta
        self.adjusted[key] += delta

    @rule(loc=locations, sku=skus, quantity=st.integers(0, 3))
    def safety_stock(self, loc: str, sku: str, quantity: int) -> None:
        self.step("safety_stock")
        self.oms.inventory.set_safety_stock(loc, self.sku(sku), quantity)

    @rule(target=orders, where=locations, wanted=lines, unknown=st.booleans())
    def place(self, where: str, wanted: dict[str, int], unknown: bool = False) -> str:
        self.step("place")
        self.count += 1
        items = {self.sku(s): q for s, q in wanted.items()}
        if unknown:  # a SKU nobody stocks: the order is held
            items[self.sku("never-stocked")] = 1
        lat, lon = PLACES[where]
        order = self.oms.orders.place(order_command(f"{self.prefix}{self.count}", items,
                                                    lat=lat, lon=lon))
        return order.id

    @rule(order_id=orders)
    def release_hold(self, order_id: str) -> None:
        self.step("release_hold")
        if any(h.code == UNKNOWN_SKU for h in self.oms.orders.get(order_id).active_holds):
            self.oms.orders.release_hold(order_id, UNKNOWN_SKU)

    @rule(order_id=orders)
    def allocate_backorders(self, order_id: str) -> None:
        self.step("allocate_backorders")
        order = self.oms.orders.get(order_id)
        if order.active_holds or order.status is O.CANCELLED:
            return
        try:
            self.oms.orders.allocate_backorders(order_id)
        except IllegalTransition:
            assert order.status in (O.SHIPPED, O.DELIVERED, O.COMPLETED)

    @rule(order_id=orders)
    def cancel(self, order_id: str) -> None:
        self.step("cancel")
        order = self.oms.orders.get(order_id)
        shipped = any(fo.status in (F.SHIPPED, F.DELIVERED) for fo in order.fulfillment_orders)
        try:
            after = self.oms.orders.cancel(order_id, "changed mind")
        except IllegalTransition:
            assert shipped
            return
        assert not shipped
        assert after.status is O.CANCELLED

    @rule(order_id=orders, data=st.data())
    def cancel_lines(self, order_id: str, data: st.DataObject) -> None:
        self.step("cancel_lines")
        cancellable = self.oms.orders.get(order_id).cancellable()
        if not cancellable:
            return
        line_id = data.draw(st.sampled_from(sorted(cancellable)))
        units = data.draw(st.integers(1, cancellable[line_id]))
        after = self.oms.orders.cancel_lines(order_id, {line_id: units}, reason="fewer")
        assert after.cancellable().get(line_id, 0) == cancellable[line_id] - units
        self.tally["lines_cancelled"] += 1

    @rule(order_id=orders)
    def short_close(self, order_id: str) -> None:
        self.step("short_close")
        after = self.oms.orders.short_close(order_id, reason="unfillable")
        assert after.cancellable() == {}
        assert after.backordered() == () or after.status is O.CANCELLED

    @rule(order_id=orders)
    def release(self, order_id: str) -> None:
        self.step("release")
        order = self.oms.orders.get(order_id)
        if order.status is O.CANCELLED or not any(fo.status is F.CREATED
                                                  for fo in order.fulfillment_orders):
            return
        try:
            self.oms.fulfillment.release(order_id)
        except OrderOnHold:
            assert order.active_holds

    @rule(order_id=orders, data=st.data())
    def reject(self, order_id: str, data: st.DataObject) -> None:
        self.step("reject")
        released = [fo for fo in self.oms.orders.get(order_id).fulfillment_orders
                    if fo.status is F.RELEASED]
        if released:
            fo = data.draw(st.sampled_from(released))
            self.oms.fulfillment.reject(fo.id, "shelf empty")

    @rule(order_id=orders, data=st.data(), steps=st.integers(1, 5))
    def advance(self, order_id: str, data: st.DataObject, steps: int) -> None:
        """Up to ``steps`` fulfilment steps of one fulfilment order (releasing the order first
        when it has to): accept, pick, pack, ship, deliver."""
        self.step("advance")
        order = self.oms.orders.get(order_id)
        if any(fo.status is F.CREATED for fo in order.fulfillment_orders) \
                and not order.active_holds and order.status is not O.CANCELLED:
            order = self.oms.fulfillment.release(order_id)
        movable = [fo for fo in order.fulfillment_orders if fo.status in NEXT]
        if not movable:
            return
        fo = data.draw(st.sampled_from(movable))
        service = self.oms.fulfillment
        status = fo.status
        for _ in range(steps):
            target = NEXT.get(status)
            if target is None:
                break
            if target is F.SHIPPED:
                service.ship(fo.id, carrier="brt", tracking_number=f"T-{fo.id}")
                for line in fo.lines:
                    self.shipped[(fo.location, line.sku)] += line.quantity
                self.tally["shipped"] += 1
            else:
                {F.ACCEPTED: service.accept, F.PICKED: service.pick, F.PACKED: service.pack,
                 F.DELIVERED: service.deliver}[target](fo.id)
            status = target

    @rule(target=carts, wanted=lines, minutes=st.integers(1, 30), where=locations)
    def hold_cart(self, wanted: dict[str, int], minutes: int, where: str) -> str:
        self.step("hold_cart")
        self.count += 1
        cart_id = f"{self.prefix}cart-{self.count}"
        lat, lon = PLACES[where]
        hold = self.oms.carts.hold(cart_id, {self.sku(s): q for s, q in wanted.items()},
                                   ttl=timedelta(minutes=minutes), channel="web",
                                   destination=Coordinates(lat=lat, lon=lon))
        if not hold.held:
            self.empty_carts.add(cart_id)
        return cart_id

    @rule(cart_id=consumes(carts))
    def release_cart(self, cart_id: str) -> None:
        self.step("release_cart")
        try:
            self.oms.carts.release(cart_id)
        except CartNotFound:  # documented: a cart that never held anything
            assert cart_id in self.empty_carts

    @rule(minutes=st.integers(1, 40))
    def time_passes(self, minutes: int) -> None:
        self.step("time_passes")
        self.clock.now += timedelta(minutes=minutes)
        self.tally["holds_expired"] += self.oms.carts.expire()

    # -- the invariant --------------------------------------------------------------------------

    @invariant()
    def stock_is_conserved(self) -> None:
        oms, like = self.oms, self.prefix + "%"
        s, r, soft = oms.tables.stock_items, oms.tables.reservations, oms.tables.soft_reservations
        fo_t, fol = oms.tables.fulfillment_orders, oms.tables.fulfillment_order_lines
        with oms.engine.connect() as conn:
            rows = {(x.location, x.sku): x for x in conn.execute(
                sa.select(s).where(s.c.sku.like(like)))}
            held = self._sums(conn, sa.select(r.c.location, r.c.sku, r.c.quantity).where(
                r.c.sku.like(like), r.c.status == ReservationStatus.ACTIVE.value))
            carts = self._sums(conn, sa.select(soft.c.location, soft.c.sku, soft.c.quantity)
                               .where(soft.c.sku.like(like), soft.c.status == "active"))
            live = self._sums(conn, sa.select(fo_t.c.location, fol.c.sku, fol.c.quantity)
                              .select_from(fol.join(fo_t, fol.c.fulfillment_order_id
                                                    == fo_t.c.id))
                              .where(fol.c.sku.like(like),
                                     fo_t.c.status.in_([f.value for f in LIVE])))
        assert set(self.received) <= set(rows)
        for key, row in rows.items():
            expected = self.received[key] + self.adjusted[key] - self.shipped[key]
            assert row.on_hand == expected, (key, row.on_hand, expected)
            assert row.reserved == held.get(key, 0) + carts.get(key, 0), key
            assert 0 <= row.reserved <= row.on_hand, key
            assert held.get(key, 0) == live.get(key, 0), key
            assert oms.inventory.available(key[1], location=key[0]) >= 0, key
        assert oms.inventory.ledger_mismatches() == []
        self.capacity_is_counted()
        self.tally["checks"] += 1

    def capacity_is_counted(self) -> None:
        """Each location's load per day = its fulfilment orders holding a slot of that day
        (every example shares the locations, so this is checked over the whole database)."""
        oms = self.oms
        load, fo_t = oms.tables.location_load, oms.tables.fulfillment_orders
        with oms.engine.connect() as conn:
            counted = {(r.location, r.day): r.fulfillment_orders
                       for r in conn.execute(sa.select(load)) if r.fulfillment_orders}
            holding = {(loc, day): int(n) for loc, day, n in conn.execute(
                sa.select(fo_t.c.location, fo_t.c.capacity_day, sa.func.count())
                .where(fo_t.c.capacity_day.is_not(None))
                .group_by(fo_t.c.location, fo_t.c.capacity_day))}
        assert counted == holding

    @staticmethod
    def _sums(conn: sa.Connection, stmt: Any) -> dict[tuple[str, str], int]:
        totals: dict[tuple[str, str], int] = defaultdict(int)
        for loc, sku, quantity in conn.execute(stmt):
            totals[(loc, sku)] += quantity
        return dict(totals)


def test_stock_is_conserved_through_random_lifecycles(
        make_oms: Callable[..., Oms], figures: dict[str, Any]) -> None:
    clock = Clock()
    oms = make_oms(clock=clock, plugins=[ManualCarriers("brt")])
    for code, (lat, lon) in PLACES.items():
        # A capacity never reached: every fulfilment order takes a slot, so the invariant
        # can check that rejections and cancellations give back exactly the right ones.
        oms.inventory.save_location(location(code, lat, lon, daily_capacity=100_000))
    tally: dict[str, int] = defaultdict(int)
    run_state_machine_as_test(
        lambda: StockLifecycle(oms, clock, tally),
        settings=settings(max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow,
                                                 HealthCheck.filter_too_much]))
    figures.update(examples=tally.pop("examples"), steps=tally.pop("steps"),
                   invariant_checks=tally.pop("checks"), **dict(sorted(tally.items())))
