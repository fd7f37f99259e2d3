"""The order aggregate on its own: placement, holds, routing, derived status, cancellation."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from omskit.domain.errors import FulfillmentOrderNotFound, IllegalTransition, OrderOnHold
from omskit.domain.events import (
    FulfillmentOrderCreated,
    OrderHoldPlaced,
    OrderPlaced,
    OrderRouted,
    OrderStatusChanged,
    RoutedQuantity,
)
from omskit.domain.lifecycle import FulfillmentStatus, OrderStatus
from omskit.domain.order import FulfillmentOrder, Order, Shipment
from omskit.domain.values import LineQuantity, Problem
from omskit.testing import order_command

F = FulfillmentStatus
O = OrderStatus  # noqa: E741
T0 = datetime(2024, 5, 1, 9, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def new_order(lines: dict[str, int] | None = None) -> Order:
    """A placed order (status received) for ``lines`` (default A x3, B x2), events dropped."""
    order = Order.place(order_command("E-1", lines or {"A": 3, "B": 2}, unit_price="2.50"),
                        order_id="o-1", at=T0)
    order.collect_events()
    return order


def routed(*parts: tuple[str, str, str, int]) -> list[RoutedQuantity]:
    return [RoutedQuantity(location=loc, line_id=line, sku=sku, quantity=q)
            for loc, line, sku, q in parts]


def validated_and_routed(*parts: tuple[str, str, str, int]) -> Order:
    order = new_order()
    order.accept_validation([], T0)
    order.add_fulfillment_orders("test", routed(*parts), (), T0)
    order.collect_events()
    return order


def fo_at(order: Order, location: str) -> FulfillmentOrder:
    (found,) = [fo for fo in order.fulfillment_orders if fo.location == location
                and fo.status not in (F.REJECTED, F.CANCELLED)]
    return found


def ship(order: Order, fo: FulfillmentOrder, minute: int = 5) -> None:
    order.ship_fulfillment(fo.id, Shipment(id=f"s-{fo.location}", carrier="dhl",
                                           tracking_number="T1", shipped_at=at(minute)))


def to_packed(order: Order, fo: FulfillmentOrder) -> None:
    for step in (F.ACCEPTED, F.PICKED, F.PACKED):
        order.advance_fulfillment(fo.id, step, at(1))


class TestPlacement:
    def test_place_builds_lines_and_total(self) -> None:
        order = Order.place(order_command("E-9", {"A": 3, "B": 2}, unit_price="2.50"),
                            order_id="o-9", at=T0)
        assert order.status is O.RECEIVED
        assert [(x.line_id, x.sku, x.quantity) for x in order.lines] == [
            ("1", "A", 3), ("2", "B", 2)]
        # 3 x 2.50 + 2 x 2.50 = 12.50
        assert order.total.amount == Decimal("12.50")
        assert order.placed_at == T0
        (event,) = order.events
        assert isinstance(event, OrderPlaced)
        assert (event.order, event.channel, event.external_id, event.total) == (
            "o-9", "web", "E-9", Decimal("12.50"))
        assert event.lines == (LineQuantity(line_id="1", sku="A", quantity=3),
                               LineQuantity(line_id="2", sku="B", quantity=2))

    def test_collect_events_empties_the_list(self) -> None:
        order = Order.place(order_command("E-9", {"A": 1}), order_id="o-9", at=T0)
        assert len(order.collect_events()) == 1
        assert order.events == ()
        assert order.collect_events() == []

    def test_validation_without_problems(self) -> None:
        order = new_order()
        order.accept_validation([], T0)
        assert order.status is O.VALIDATED
        assert [(e.from_status, e.to_status) for e in order.events
                if isinstance(e, OrderStatusChanged)] == [("received", "validated")]

    def test_unknown_line_and_fulfilment_order(self) -> None:
        order = new_order()
        with pytest.raises(KeyError):
            order.line("99")
        with pytest.raises(FulfillmentOrderNotFound):
            order.fulfillment_order("nope")


class TestHolds:
    def test_problems_become_holds(self) -> None:
        order = new_order()
        order.accept_validation([Problem(code="fraud", message="score 97"),
                                 Problem(code="address", message="PO box")], at(1))
        assert order.status is O.ON_HOLD
        assert [(h.code, h.reason, h.placed_at) for h in order.active_holds] == [
            ("fraud", "score 97", at(1)), ("address", "PO box", at(1))]
        # One status change (received -> on_hold), then one event per hold.
        assert [e.event_type for e in order.events] == [
            "order.status_changed", "order.hold_placed", "order.hold_placed"]

    def test_placing_an_active_hold_again_changes_nothing(self) -> None:
        order = new_order()
        assert order.place_hold("fraud", "score 97", at(1))
        events = order.events
        assert not order.place_hold("fraud", "again", at(2))
        assert order.events == events
        assert len(order.holds) == 1

    def test_release_of_last_hold_returns_a_never_routed_order_to_validated(self) -> None:
        order = new_order()
        order.accept_validation([Problem(code="a", message="x"),
                                 Problem(code="b", message="y")], at(1))
        assert order.release_hold("a", at(2))
        assert order.status is O.ON_HOLD  # "b" is still active
        assert order.release_hold("b", at(3))
        assert order.status is O.VALIDATED
        assert [h.released_at for h in order.holds] == [at(2), at(3)]
        assert order.active_holds == ()

    def test_release_of_unknown_or_released_hold_returns_false(self) -> None:
        order = new_order()
        order.place_hold("fraud", "score", at(1))
        order.release_hold("fraud", at(2))
        events = order.events
        assert not order.release_hold("fraud", at(3))
        assert not order.release_hold("never", at(3))
        assert order.events == events

    def test_release_returns_a_routed_order_to_its_derived_status(self) -> None:
        order = validated_and_routed(("dc", "1", "A", 3), ("dc", "2", "B", 2))
        assert order.status is O.ALLOCATED
        order.place_hold("fraud", "review", at(1))
        assert order.status is O.ON_HOLD
        order.release_hold("fraud", at(2))
        assert order.status is O.ALLOCATED

    def test_a_held_order_cannot_be_released_to_the_warehouse(self) -> None:
        order = validated_and_routed(("dc", "1", "A", 3), ("dc", "2", "B", 2))
        order.place_hold("fraud", "review", at(1))
        fo = fo_at(order, "dc")
        with pytest.raises(OrderOnHold) as caught:
            order.advance_fulfillment(fo.id, F.RELEASED, at(2))
        assert caught.value.codes == ("fraud",)
        assert fo.status is F.CREATED

    def test_released_order_cannot_be_held(self) -> None:
        order = validated_and_routed(("dc", "1", "A", 3), ("dc", "2", "B", 2))
        order.advance_fulfillment(fo_at(order, "dc").id, F.RELEASED, at(1))
        assert order.status is O.RELEASED
        events = order.events
        with pytest.raises(IllegalTransition):
            order.place_hold("fraud", "too late", at(2))
        assert order.status is O.RELEASED
        assert order.holds == ()
        assert order.events == events

    def test_hold_released_after_a_shipment_made_while_held(self) -> None:
        # A backordered order whose first part was already at the warehouse is held; the
        # warehouse ships that part anyway (holds stop releases, not shipments). Releasing
        # the hold must land on partially_shipped, not leave the order stuck on hold.
        order = validated_and_routed(("dc", "1", "A", 3))
        assert order.status is O.BACKORDERED
        fo = fo_at(order, "dc")
        order.advance_fulfillment(fo.id, F.RELEASED, at(1))
        order.place_hold("fraud", "review", at(2))
        to_packed(order, fo)
        ship(order, fo)
        assert order.status is O.ON_HOLD
        with pytest.raises(IllegalTransition):
            order.cancel("fraud confirmed", at(6))  # goods have left: too late to cancel
        assert order.status is O.ON_HOLD
        order.release_hold("fraud", at(7))
        assert order.status is O.PARTIALLY_SHIPPED


class TestRouting:
    def test_routing_creates_one_fulfilment_order_per_location(self) -> None:
        order = new_order()
        order.accept_validation([], T0)
        order.collect_events()
        created = order.add_fulfillment_orders(
            "nearest", routed(("rome", "1", "A", 2), ("milan", "1", "A", 1),
                              ("rome", "2", "B", 2)), (), at(1))
        assert [(fo.location, fo.lines) for fo in created] == [
            ("rome", (LineQuantity(line_id="1", sku="A", quantity=2),
                      LineQuantity(line_id="2", sku="B", quantity=2))),
            ("milan", (LineQuantity(line_id="1", sku="A", quantity=1),)),
        ]
        assert order.status is O.ALLOCATED
        types = [type(e) for e in order.events]
        assert types == [FulfillmentOrderCreated, FulfillmentOrderCreated, OrderRouted,
                         OrderStatusChanged]
        routed_event = order.events[2]
        assert isinstance(routed_event, OrderRouted)
        assert routed_event.strategy == "nearest"
        assert routed_event.backordered == ()

    def test_partial_routing_is_backordered(self) -> None:
        order = new_order()
        order.accept_validation([], T0)
        backorder = [LineQuantity(line_id="1", sku="A", quantity=1),
                     LineQuantity(line_id="2", sku="B", quantity=2)]
        order.add_fulfillment_orders("nearest", routed(("rome", "1", "A", 2)), backorder, at(1))
        assert order.status is O.BACKORDERED
        assert order.backordered() == tuple(backorder)

    def test_routing_nothing_is_backordered(self) -> None:
        order = new_order()
        order.accept_validation([], T0)
        assert order.add_fulfillment_orders("nearest", [], order.backordered(), at(1)) == []
        assert order.status is O.BACKORDERED
        assert order.fulfillment_orders == ()

    def test_reject_makes_the_lines_backordered_again(self) -> None:
        order = validated_and_routed(("rome", "1", "A", 3), ("milan", "2", "B", 2))
        rome = fo_at(order, "rome")
        order.advance_fulfillment(rome.id, F.RELEASED, at(1))
        order.reject_fulfillment(rome.id, "shelf empty", at(2))
        assert rome.status is F.REJECTED
        assert rome.rejection_reason == "shelf empty"
        assert order.backordered() == (LineQuantity(line_id="1", sku="A", quantity=3),)
        assert order.status is O.BACKORDERED
        assert [e.event_type for e in order.events][-3:] == [
            "fulfillment_order.status_changed", "fulfillment_order.rejected",
            "order.status_changed"]

    def test_only_a_released_fulfilment_order_can_be_rejected(self) -> None:
        order = validated_and_routed(("rome", "1", "A", 3), ("rome", "2", "B", 2))
        rome = fo_at(order, "rome")
        with pytest.raises(IllegalTransition):
            order.reject_fulfillment(rome.id, "no", at(1))
        assert rome.status is F.CREATED
        assert order.backordered() == ()


class TestShippingAndCancelling:
    def test_full_path_to_completed(self) -> None:
        order = validated_and_routed(("rome", "1", "A", 3), ("rome", "2", "B", 2))
        fo = fo_at(order, "rome")
        order.advance_fulfillment(fo.id, F.RELEASED, at(1))
        to_packed(order, fo)
        assert order.status is O.RELEASED
        ship(order, fo, minute=5)
        assert order.status is O.SHIPPED
        assert fo.shipment is not None
        assert fo.shipment.shipped_at == at(5)
        order.deliver_fulfillment(fo.id, at(9))
        assert fo.shipment.delivered_at == at(9)
        assert order.status is O.DELIVERED
        order.complete(at(10))
        assert order.status is O.COMPLETED
        statuses = [(e.from_status, e.to_status) for e in order.events
                    if isinstance(e, OrderStatusChanged)]
        assert statuses == [("allocated", "released"), ("released", "shipped"),
                            ("shipped", "delivered"), ("delivered", "completed")]
        # Events are appended in the order things happened.
        times = [e.occurred_at for e in order.events]
        assert times == sorted(times)

    def test_cancel_cancels_live_fulfilment_orders(self) -> None:
        order = validated_and_routed(("rome", "1", "A", 3), ("milan", "2", "B", 2))
        rome, milan = fo_at(order, "rome"), fo_at(order, "milan")
        order.advance_fulfillment(rome.id, F.RELEASED, at(1))
        order.advance_fulfillment(milan.id, F.RELEASED, at(1))
        order.reject_fulfillment(milan.id, "closed", at(2))
        cancelled = order.cancel("customer changed their mind", at(3))
        assert [fo.id for fo in cancelled] == [rome.id]
        assert (rome.status, milan.status) == (F.CANCELLED, F.REJECTED)
        assert order.status is O.CANCELLED
        assert order.events[-1].event_type == "order.cancelled"

    def test_cancel_is_refused_after_any_shipment(self) -> None:
        order = validated_and_routed(("rome", "1", "A", 3), ("milan", "2", "B", 2))
        rome, milan = fo_at(order, "rome"), fo_at(order, "milan")
        for fo in (rome, milan):
            order.advance_fulfillment(fo.id, F.RELEASED, at(1))
        to_packed(order, rome)
        ship(order, rome)
        assert order.status is O.PARTIALLY_SHIPPED
        events = order.events
        with pytest.raises(IllegalTransition):
            order.cancel("too late", at(6))
        assert order.status is O.PARTIALLY_SHIPPED
        assert (rome.status, milan.status) == (F.SHIPPED, F.RELEASED)
        assert order.events == events

    def test_shipping_after_a_reroute_left_a_new_fulfilment_order(self) -> None:
        # rome is working on line 1; milan rejects line 2, which is re-routed to naples. The
        # order is allocated again (naples' part is new) when rome ships: partially shipped.
        order = validated_and_routed(("rome", "1", "A", 3), ("milan", "2", "B", 2))
        rome, milan = fo_at(order, "rome"), fo_at(order, "milan")
        for fo in (rome, milan):
            order.advance_fulfillment(fo.id, F.RELEASED, at(1))
        order.advance_fulfillment(rome.id, F.ACCEPTED, at(2))
        order.reject_fulfillment(milan.id, "no staff", at(3))
        order.add_fulfillment_orders("nearest", routed(("naples", "2", "B", 2)), (), at(3))
        assert order.status is O.ALLOCATED
        order.advance_fulfillment(rome.id, F.PICKED, at(4))
        order.advance_fulfillment(rome.id, F.PACKED, at(4))
        ship(order, rome)
        assert order.status is O.PARTIALLY_SHIPPED
        naples = fo_at(order, "naples")
        order.advance_fulfillment(naples.id, F.RELEASED, at(6))
        to_packed(order, naples)
        ship(order, naples, minute=7)
        assert order.status is O.SHIPPED


def test_first_part_ships_after_the_backorder_was_allocated() -> None:
    # rome's part is being worked on while line 2 waits; new stock lets naples take line 2
    # (a new, unreleased fulfilment order: the order is allocated again); then rome ships.
    order = validated_and_routed(("rome", "1", "A", 3))
    rome = fo_at(order, "rome")
    order.advance_fulfillment(rome.id, F.RELEASED, at(1))
    order.advance_fulfillment(rome.id, F.ACCEPTED, at(2))
    assert order.status is O.BACKORDERED
    order.add_fulfillment_orders("nearest", routed(("naples", "2", "B", 2)), (), at(3))
    assert order.status is O.ALLOCATED
    order.advance_fulfillment(rome.id, F.PICKED, at(4))
    order.advance_fulfillment(rome.id, F.PACKED, at(4))
    ship(order, rome)
    assert order.status is O.PARTIALLY_SHIPPED


def make_fo(location: str, status: FulfillmentStatus,
            lines: Sequence[tuple[str, str, int]]) -> FulfillmentOrder:
    return FulfillmentOrder(
        id=f"fo-{location}-{status.value}", order_id="o-1", location=location,
        lines=tuple(LineQuantity(line_id=a, sku=b, quantity=c) for a, b, c in lines),
        status=status, created_at=T0, updated_at=T0)


A_ALL = [("1", "A", 3)]
B_ALL = [("2", "B", 2)]
BOTH = [("1", "A", 3), ("2", "B", 2)]


@pytest.mark.parametrize(
    ("fulfilment_orders", "expected"),
    [
        ([], O.BACKORDERED),  # nothing routed yet, everything waits
        ([("x", F.CREATED, BOTH)], O.ALLOCATED),
        ([("x", F.CREATED, A_ALL), ("y", F.CREATED, B_ALL)], O.ALLOCATED),
        ([("x", F.RELEASED, A_ALL), ("y", F.CREATED, B_ALL)], O.ALLOCATED),
        ([("x", F.RELEASED, A_ALL), ("y", F.RELEASED, B_ALL)], O.RELEASED),
        ([("x", F.ACCEPTED, A_ALL), ("y", F.PACKED, B_ALL)], O.RELEASED),
        ([("x", F.SHIPPED, A_ALL), ("y", F.PACKED, B_ALL)], O.PARTIALLY_SHIPPED),
        ([("x", F.SHIPPED, A_ALL), ("y", F.CREATED, B_ALL)], O.PARTIALLY_SHIPPED),
        ([("x", F.SHIPPED, A_ALL), ("y", F.SHIPPED, B_ALL)], O.SHIPPED),
        ([("x", F.DELIVERED, A_ALL), ("y", F.SHIPPED, B_ALL)], O.SHIPPED),
        ([("x", F.DELIVERED, A_ALL), ("y", F.DELIVERED, B_ALL)], O.DELIVERED),
        ([("x", F.DELIVERED, BOTH)], O.DELIVERED),
        # partial allocation: 2 of line 1's 3 units are routed, the rest waits
        ([("x", F.CREATED, [("1", "A", 2), ("2", "B", 2)])], O.BACKORDERED),
        ([("x", F.RELEASED, [("1", "A", 2), ("2", "B", 2)])], O.BACKORDERED),
        ([("x", F.SHIPPED, [("1", "A", 2), ("2", "B", 2)])], O.PARTIALLY_SHIPPED),
        ([("x", F.DELIVERED, A_ALL)], O.PARTIALLY_SHIPPED),
        # rejected and cancelled fulfilment orders cover nothing
        ([("x", F.REJECTED, BOTH)], O.BACKORDERED),
        ([("x", F.REJECTED, A_ALL), ("y", F.CREATED, BOTH)], O.ALLOCATED),
        ([("x", F.CANCELLED, BOTH), ("y", F.SHIPPED, B_ALL)], O.PARTIALLY_SHIPPED),
        ([("x", F.REJECTED, A_ALL), ("y", F.SHIPPED, B_ALL)], O.PARTIALLY_SHIPPED),
    ],
)
def test_derived_status(fulfilment_orders: list[tuple[str, FulfillmentStatus,
                                                      list[tuple[str, str, int]]]],
                        expected: OrderStatus) -> None:
    order = new_order({"A": 3, "B": 2})
    order = Order(id=order.id, channel=order.channel, external_id=order.external_id,
                  currency=order.currency, customer=order.customer, lines=order.lines,
                  delivery=order.delivery, placed_at=T0, updated_at=T0,
                  fulfillment_orders=[make_fo(*fo) for fo in fulfilment_orders])
    assert order.derived_status() is expected


def test_backordered_over_several_fulfilment_orders() -> None:
    order = new_order({"A": 5, "B": 2})
    order = Order(id=order.id, channel=order.channel, external_id=order.external_id,
                  currency=order.currency, customer=order.customer, lines=order.lines,
                  delivery=order.delivery, placed_at=T0, updated_at=T0,
                  fulfillment_orders=[make_fo("x", F.CREATED, [("1", "A", 2)]),
                                      make_fo("y", F.RELEASED, [("1", "A", 1)]),
                                      make_fo("z", F.REJECTED, [("1", "A", 2), ("2", "B", 2)])])
    # line 1: 5 - (2 + 1) = 2 waiting; line 2: the only cover was rejected, 2 waiting.
    assert order.backordered() == (LineQuantity(line_id="1", sku="A", quantity=2),
                                   LineQuantity(line_id="2", sku="B", quantity=2))


def test_hold_events_carry_code_and_reason() -> None:
    order = new_order()
    order.place_hold("payment", "card declined", at(1))
    hold_events = [e for e in order.events if isinstance(e, OrderHoldPlaced)]
    assert [(e.order, e.code, e.reason, e.occurred_at) for e in hold_events] == [
        ("o-1", "payment", "card declined", at(1))]
