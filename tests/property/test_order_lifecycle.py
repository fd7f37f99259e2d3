"""Hypothesis: any sequence of operations the services allow keeps the order aggregate
consistent, and never trips over its own lifecycle table (no database).

The operations mirror what the services do: placement routes a validated order;
``allocate_backorders`` routes backordered and partially shipped orders; a rejection always
re-routes (excluding locations that rejected); releasing the last hold of a never-routed order
routes it; fulfilment steps move one fulfilment order forward; line cancellations take any
cancellable quantity, and a short close cancels everything still cancellable.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from omskit.domain import lifecycle
from omskit.domain.errors import IllegalTransition, OrderOnHold, QuantityNotCancellable
from omskit.domain.events import OrderStatusChanged, RoutedQuantity
from omskit.domain.lifecycle import FulfillmentStatus, OrderStatus
from omskit.domain.order import FulfillmentOrder, Order, Shipment
from omskit.domain.values import LineQuantity
from omskit.testing import order_command

F = FulfillmentStatus
O = OrderStatus  # noqa: E741
LOCATIONS = ("milan", "rome", "naples")
HOLDABLE = {O.RECEIVED, O.VALIDATED, O.BACKORDERED, O.ALLOCATED, O.ON_HOLD,
            O.PARTIALLY_SHIPPED}
#: Statuses in which the order's status must equal what its fulfilment orders make true.
DERIVED = {O.VALIDATED, O.BACKORDERED, O.ALLOCATED, O.RELEASED, O.PARTIALLY_SHIPPED,
           O.SHIPPED, O.DELIVERED}
NEXT_STEP = {F.RELEASED: F.ACCEPTED, F.ACCEPTED: F.PICKED, F.PICKED: F.PACKED,
             F.PACKED: F.SHIPPED, F.SHIPPED: F.DELIVERED}


class OrderLifecycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = datetime(2024, 5, 1, tzinfo=UTC)
        self.order = Order.place(order_command("E-1", {"A": 3, "B": 2, "C": 1}),
                                 order_id="o-1", at=self.tick())
        self.order.accept_validation([], self.tick())
        self.ordered = {x.line_id: x.quantity for x in self.order.lines}
        self.holds = 0
        #: Lines of fulfilment orders once picked: cancellations must never touch them.
        self.in_hand: dict[str, tuple[LineQuantity, ...]] = {}

    def tick(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now

    def fos(self, *statuses: FulfillmentStatus) -> list[FulfillmentOrder]:
        return [fo for fo in self.order.fulfillment_orders if fo.status in statuses]

    def route(self, data: st.DataObject) -> None:
        """Allocate a random part of what is backordered, as a routing strategy would."""
        excluded = {fo.location for fo in self.fos(F.REJECTED)}
        usable = [loc for loc in LOCATIONS if loc not in excluded]
        allocations: list[RoutedQuantity] = []
        backordered: list[LineQuantity] = []
        for need in self.order.backordered():
            left = need.quantity
            for loc in usable:
                take = data.draw(st.integers(0, left), label=f"{loc} takes of {need.line_id}")
                if take:
                    allocations.append(RoutedQuantity(location=loc, line_id=need.line_id,
                                                      sku=need.sku, quantity=take))
                    left -= take
            if left:
                backordered.append(LineQuantity(line_id=need.line_id, sku=need.sku,
                                                quantity=left))
        self.order.add_fulfillment_orders("random", allocations, backordered, self.tick())

    @initialize(data=st.data())
    def place_routes_the_validated_order(self, data: st.DataObject) -> None:
        assert self.order.status is O.VALIDATED
        self.route(data)

    @precondition(lambda self: self.order.status in (O.BACKORDERED, O.PARTIALLY_SHIPPED))
    @rule(data=st.data())
    def allocate_backorders(self, data: st.DataObject) -> None:
        self.route(data)

    @rule()
    def release(self) -> None:
        created = self.fos(F.CREATED)
        if self.order.active_holds and created:
            try:
                self.order.advance_fulfillment(created[0].id, F.RELEASED, self.tick())
            except OrderOnHold:
                return
            raise AssertionError("a held order's fulfilment order was released")
        if self.order.status is O.CANCELLED:
            return
        for fo in created:
            self.order.advance_fulfillment(fo.id, F.RELEASED, self.tick())

    @rule(data=st.data())
    def step_forward(self, data: st.DataObject) -> None:
        movable = self.fos(*NEXT_STEP)
        if not movable:
            return
        fo = data.draw(st.sampled_from(movable), label="fulfilment order")
        target = NEXT_STEP[fo.status]
        at = self.tick()
        if target is F.SHIPPED:
            self.order.ship_fulfillment(fo.id, Shipment(id=f"s-{fo.id}", carrier="dhl",
                                                        tracking_number="T", shipped_at=at))
        elif target is F.DELIVERED:
            self.order.deliver_fulfillment(fo.id, at)
        else:
            self.order.advance_fulfillment(fo.id, target, at)
        assert fo.status is target

    @rule(data=st.data())
    def ship_one(self, data: st.DataObject) -> None:
        """A warehouse takes one released fulfilment order all the way to shipped."""
        working = self.fos(F.RELEASED, F.ACCEPTED, F.PICKED, F.PACKED)
        if not working:
            return
        fo = data.draw(st.sampled_from(working), label="shipped")
        while fo.status is not F.PACKED:
            self.order.advance_fulfillment(fo.id, NEXT_STEP[fo.status], self.tick())
        at = self.tick()
        self.order.ship_fulfillment(fo.id, Shipment(id=f"s-{fo.id}", carrier="dhl",
                                                    tracking_number="T", shipped_at=at))
        assert fo.status is F.SHIPPED

    @rule(data=st.data())
    def reject_and_reroute(self, data: st.DataObject) -> None:
        released = self.fos(F.RELEASED)
        if not released:
            return
        fo = data.draw(st.sampled_from(released), label="rejected")
        self.order.reject_fulfillment(fo.id, "no staff", self.tick())
        self.route(data)

    @rule()
    def place_hold(self) -> None:
        self.holds += 1
        code = f"hold-{self.holds}"
        if self.order.status in HOLDABLE:
            assert self.order.place_hold(code, "operator", self.tick())
            assert self.order.status is O.ON_HOLD
            return
        before = (self.order.status, self.order.holds, self.order.events)
        try:
            self.order.place_hold(code, "operator", self.tick())
        except IllegalTransition:
            assert (self.order.status, self.order.holds, self.order.events) == before
            return
        raise AssertionError(f"hold placed on a {self.order.status} order")

    @rule(data=st.data())
    def release_hold(self, data: st.DataObject) -> None:
        active = self.order.active_holds
        if not active:
            return
        hold = data.draw(st.sampled_from(active), label="hold")
        assert self.order.release_hold(hold.code, self.tick())
        if not self.order.active_holds:
            assert self.order.status is not O.ON_HOLD
            if self.order.status is O.VALIDATED:  # never routed: the service routes it now
                self.route(data)

    # Cancelling ends an example's interesting life, so it happens on one draw in eight
    # (and shrinking, which moves draws towards 0, removes it first).
    @rule(go=st.integers(0, 7))
    def cancel(self, go: int) -> None:
        if go != 7:
            return
        shipped = self.fos(F.SHIPPED, F.DELIVERED)
        allowed = O.CANCELLED in lifecycle.ORDER_TRANSITIONS[self.order.status]
        if self.order.status is O.CANCELLED:
            return
        if allowed and not shipped:
            self.order.cancel("changed mind", self.tick())
            assert self.order.status is O.CANCELLED
            assert not self.fos(*lifecycle.FULFILLMENT_ACTIVE)
            return
        before = (self.order.status, [fo.status for fo in self.order.fulfillment_orders])
        try:
            self.order.cancel("changed mind", self.tick())
        except IllegalTransition:
            assert (self.order.status,
                    [fo.status for fo in self.order.fulfillment_orders]) == before
            return
        raise AssertionError("an order with shipped goods was cancelled")

    @rule(data=st.data())
    def cancel_some_units(self, data: st.DataObject) -> None:
        cancellable = self.order.cancellable()
        if not cancellable:
            return
        line_id = data.draw(st.sampled_from(sorted(cancellable)), label="line")
        units = data.draw(st.integers(1, cancellable[line_id]), label="units")
        released = self.order.cancel_lines({line_id: units}, "changed mind", self.tick())
        assert sum(c.quantity for c in released) == units
        assert self.order.cancellable().get(line_id, 0) == cancellable[line_id] - units
        if all(x.cancelled_quantity == x.quantity for x in self.order.lines):
            assert self.order.status is O.CANCELLED

    @rule(data=st.data())
    def cancel_too_many_units(self, data: st.DataObject) -> None:
        line_id = data.draw(st.sampled_from(sorted(self.ordered)), label="line")
        units = self.order.cancellable().get(line_id, 0) + 1
        before = (self.order.status, [(fo.status, fo.lines) for fo in
                                      self.order.fulfillment_orders],
                  [x.cancelled_quantity for x in self.order.lines], self.order.events)
        try:
            self.order.cancel_lines({line_id: units}, "too many", self.tick())
        except QuantityNotCancellable:
            assert before == (
                self.order.status, [(fo.status, fo.lines) for fo in
                                    self.order.fulfillment_orders],
                [x.cancelled_quantity for x in self.order.lines], self.order.events)
            return
        raise AssertionError("more units were cancelled than cancellable()")

    # Like cancelling the order, closing it short ends most of its interesting life.
    @rule(go=st.integers(0, 7))
    def short_close(self, go: int) -> None:
        if go != 7:
            return
        self.order.short_close("unfillable", self.tick())
        assert self.order.cancellable() == {}
        assert self.order.backordered() == () or self.order.status is O.CANCELLED
        assert not self.order.active_holds
        assert not self.fos(F.CREATED, F.RELEASED, F.ACCEPTED)

    @precondition(lambda self: self.order.status is O.DELIVERED)
    @rule()
    def complete(self) -> None:
        self.order.complete(self.tick())
        assert self.order.status is O.COMPLETED

    @invariant()
    def status_follows_the_fulfilment_orders(self) -> None:
        if self.order.status in DERIVED:
            assert self.order.status is self.order.derived_status()
        if self.order.active_holds:  # a held order may still be cancelled
            assert self.order.status in (O.ON_HOLD, O.CANCELLED)

    @invariant()
    def never_more_covered_than_ordered(self) -> None:
        covered: dict[str, int] = defaultdict(int)
        for fo in self.order.fulfillment_orders:
            if fo.status not in (F.REJECTED, F.CANCELLED):
                for line in fo.lines:
                    covered[line.line_id] += line.quantity
        cancelled = {x.line_id: x.cancelled_quantity for x in self.order.lines}
        assert all(covered[k] + cancelled[k] <= q for k, q in self.ordered.items())
        waiting = {b.line_id: b.quantity for b in self.order.backordered()}
        assert all(covered[k] + waiting.get(k, 0) + cancelled[k] == q
                   for k, q in self.ordered.items())

    @invariant()
    def goods_in_hand_are_never_cancelled(self) -> None:
        for fo in self.order.fulfillment_orders:
            if fo.status in (F.PICKED, F.PACKED, F.SHIPPED, F.DELIVERED):
                assert self.in_hand.setdefault(fo.id, fo.lines) == fo.lines

    @invariant()
    def every_status_change_is_in_the_table(self) -> None:
        for event in self.order.events:
            if isinstance(event, OrderStatusChanged):
                source, target = O(event.from_status), O(event.to_status)
                assert target in lifecycle.ORDER_TRANSITIONS[source]


OrderLifecycle.TestCase.settings = settings(
    settings.default, max_examples=max(150, settings.default.max_examples * 8),
    stateful_step_count=40)
TestOrderLifecycle = OrderLifecycle.TestCase
