"""Cancelling line quantities and short-closing orders, on every backend.

The defect: an order with part shipped and the rest unfillable could never be closed
(``complete`` and ``cancel`` both refused a partially shipped order). Now the unshipped rest
can be cancelled, what it held is given back, and the order completes.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from omskit import ManualCarriers, Oms
from omskit.domain.errors import (
    IdempotencyKeyConflict,
    InvalidCommand,
    LineNotFound,
    OrderNotFound,
    QuantityAlreadyShipped,
    QuantityNotCancellable,
)
from omskit.domain.events import CancelledQuantity, OrderLinesCancelled, OrderShortClosed
from omskit.domain.lifecycle import FulfillmentStatus, OrderStatus
from omskit.domain.order import Order
from omskit.domain.values import LineQuantity
from omskit.testing import location, order_command, table_contents
from tests.support import MILAN, ROME, active_reservations, reservation_statuses, stock_rows

O = OrderStatus  # noqa: E741
F = FulfillmentStatus


@pytest.fixture
def network(make_oms: Callable[..., Oms]) -> Oms:
    oms = make_oms(plugins=[ManualCarriers("brt")])
    for code, (lat, lon) in (("milan", MILAN), ("rome", ROME)):
        oms.inventory.save_location(location(code, lat, lon))
    return oms


def in_milan(oms: Oms, external_id: str, lines: dict[str, int]) -> Order:
    return oms.orders.place(order_command(external_id, lines, lat=MILAN[0], lon=MILAN[1]))


def ship(oms: Oms, fo_id: str, *, deliver: bool = False) -> None:
    ff = oms.fulfillment
    ff.accept(fo_id)
    ff.pick(fo_id)
    ff.pack(fo_id)
    ff.ship(fo_id, carrier="brt", tracking_number=f"T-{fo_id}")
    if deliver:
        ff.deliver(fo_id)


def event_types(oms: Oms, order_id: str) -> list[str]:
    return [e.event_type for e in oms.orders.timeline(order_id)]


def test_part_shipped_and_the_rest_unfillable_can_be_closed(network: Oms) -> None:
    # The reported defect: 1 of 3 in stock, shipped and delivered; the other 2 never come.
    network.inventory.receive("milan", "A", 1)
    order = in_milan(network, "E-1", {"A": 3})
    network.fulfillment.release(order.id)
    ship(network, order.fulfillment_orders[0].id, deliver=True)
    assert network.orders.get(order.id).status is O.PARTIALLY_SHIPPED

    closed = network.orders.short_close(order.id, reason="supplier discontinued A")
    assert closed.status is O.DELIVERED
    assert closed.lines[0].cancelled_quantity == 2
    assert closed.backordered() == ()
    assert network.orders.complete(order.id).status is O.COMPLETED
    # Nothing is waiting for A any more.
    assert network.orders.waiting(["A"]) == []
    timeline = network.orders.timeline(order.id)
    cancelled = [e.event for e in timeline if e.event_type == "order.lines_cancelled"]
    assert cancelled == [OrderLinesCancelled(
        event_id=cancelled[0].event_id, occurred_at=cancelled[0].occurred_at, order=order.id,
        reason="supplier discontinued A",
        lines=(LineQuantity(line_id="1", sku="A", quantity=2),),
        released=(CancelledQuantity(line_id="1", sku="A", quantity=2),))]
    short = [e.event for e in timeline if isinstance(e.event, OrderShortClosed)]
    assert [(s.reason, s.lines) for s in short] == [
        ("supplier discontinued A", (LineQuantity(line_id="1", sku="A", quantity=2),))]
    assert [e.event_type for e in timeline][-4:] == [
        "order.lines_cancelled", "order.short_closed",
        "order.status_changed",  # partially_shipped -> delivered
        "order.status_changed"]  # delivered -> completed
    assert network.inventory.ledger_mismatches() == []


def test_short_close_ends_shipped_when_the_shipped_part_is_on_its_way(network: Oms) -> None:
    network.inventory.receive("milan", "A", 1)
    order = in_milan(network, "E-1", {"A": 2, "B": 1})  # B unknown: held
    order = network.orders.release_hold(order.id, "unknown_sku")
    network.fulfillment.release(order.id)
    ship(network, order.fulfillment_orders[0].id)
    closed = network.orders.short_close(order.id)
    assert closed.status is O.SHIPPED
    assert [(x.line_id, x.cancelled_quantity) for x in closed.lines] == [("1", 1), ("2", 1)]
    network.fulfillment.deliver(order.fulfillment_orders[0].id)
    assert network.orders.complete(order.id).status is O.COMPLETED


def test_cancelling_takes_backordered_units_first_then_shrinks(network: Oms) -> None:
    network.inventory.receive("milan", "A", 4)
    order = in_milan(network, "E-1", {"A": 6})  # 4 reserved at milan, 2 backordered
    fo_id = order.fulfillment_orders[0].id

    first = network.orders.cancel_lines(order.id, {"1": 3}, reason="customer asked")
    # 2 backordered units, then 1 unit off the fulfilment order (which shrinks to 3).
    assert first.status is O.ALLOCATED
    assert first.backordered() == ()
    assert first.fulfillment_order(fo_id).lines == (
        LineQuantity(line_id="1", sku="A", quantity=3),)
    assert first.fulfillment_order(fo_id).status is F.CREATED
    assert stock_rows(network)[("milan", "A")].reserved == 3
    assert active_reservations(network) == {("milan", "A"): 3}
    assert network.inventory.available("A") == 1
    [event] = [e.event for e in network.orders.timeline(order.id)
               if isinstance(e.event, OrderLinesCancelled)]
    assert event.released == (
        CancelledQuantity(line_id="1", sku="A", quantity=2),
        CancelledQuantity(line_id="1", sku="A", quantity=1, fulfillment_order_id=fo_id,
                          location="milan"))

    # Cancelling the rest cancels the fulfilment order and then the order itself.
    rest = network.orders.cancel_lines(order.id, {"1": 3}, reason="customer asked")
    assert rest.status is O.CANCELLED
    assert rest.fulfillment_order(fo_id).status is F.CANCELLED
    assert rest.fulfillment_order(fo_id).lines == (
        LineQuantity(line_id="1", sku="A", quantity=3),)  # what it held when cancelled
    assert active_reservations(network) == {}
    assert reservation_statuses(network, order.id) == [("milan", "A", 3, "released")]
    assert network.inventory.available("A") == 4
    assert event_types(network, order.id)[-5:] == [
        "order.lines_cancelled", "fulfillment_order.status_changed",
        "order.status_changed", "order.cancelled", "stock.reservation_released"]
    assert network.inventory.ledger_mismatches() == []


def test_a_fulfilment_order_line_taken_whole_is_removed(network: Oms) -> None:
    network.inventory.receive("milan", "A", 5)
    network.inventory.receive("milan", "B", 5)
    order = in_milan(network, "E-1", {"A": 2, "B": 1})
    fo_id = order.fulfillment_orders[0].id
    changed = network.orders.cancel_lines(order.id, {"2": 1})
    assert changed.fulfillment_order(fo_id).lines == (
        LineQuantity(line_id="1", sku="A", quantity=2),)
    again = network.orders.get(order.id)  # read back from the database
    assert again.fulfillment_order(fo_id).lines == (
        LineQuantity(line_id="1", sku="A", quantity=2),)
    assert [(x.line_id, x.cancelled_quantity) for x in again.lines] == [("1", 0), ("2", 1)]
    assert active_reservations(network) == {("milan", "A"): 2}
    # The shrunken fulfilment order still ships what is left.
    network.fulfillment.release(order.id)
    ship(network, fo_id, deliver=True)
    assert network.orders.get(order.id).status is O.DELIVERED
    assert stock_rows(network)[("milan", "A")].on_hand == 3
    assert stock_rows(network)[("milan", "B")].on_hand == 5
    assert network.inventory.ledger_mismatches() == []


def test_the_least_progressed_fulfilment_order_gives_first(network: Oms) -> None:
    network.inventory.receive("milan", "A", 2)
    network.inventory.receive("rome", "A", 2)
    order = in_milan(network, "E-1", {"A": 4})
    milan = next(fo.id for fo in order.fulfillment_orders if fo.location == "milan")
    rome = next(fo.id for fo in order.fulfillment_orders if fo.location == "rome")
    network.fulfillment.release(order.id)
    network.fulfillment.accept(milan)  # milan started work; rome has not
    changed = network.orders.cancel_lines(order.id, {"1": 3})
    assert changed.fulfillment_order(rome).status is F.CANCELLED
    assert changed.fulfillment_order(milan).lines[0].quantity == 1
    assert changed.fulfillment_order(milan).status is F.ACCEPTED
    assert changed.status is O.RELEASED
    assert active_reservations(network) == {("milan", "A"): 1}


def test_picked_and_packed_units_are_left_to_ship(network: Oms) -> None:
    network.inventory.receive("milan", "A", 2)
    order = in_milan(network, "E-1", {"A": 5})  # 2 reserved, 3 backordered
    fo_id = order.fulfillment_orders[0].id
    network.fulfillment.release(order.id)
    network.fulfillment.accept(fo_id)
    network.fulfillment.pick(fo_id)

    before = table_contents(network)
    with pytest.raises(QuantityNotCancellable) as caught:
        network.orders.cancel_lines(order.id, {"1": 4})
    assert (caught.value.requested, caught.value.cancellable) == (4, 3)
    assert "2 picked or packed" in str(caught.value)
    assert not isinstance(caught.value, QuantityAlreadyShipped)
    assert table_contents(network) == before

    closed = network.orders.short_close(order.id, reason="end of season")
    assert closed.status is O.RELEASED  # the picked part is still to ship
    assert closed.fulfillment_order(fo_id).status is F.PICKED
    assert closed.lines[0].cancelled_quantity == 3
    network.fulfillment.pack(fo_id)
    network.fulfillment.ship(fo_id, carrier="brt", tracking_number="T-1")
    assert network.orders.get(order.id).status is O.SHIPPED


def test_refusals_are_typed_and_change_nothing(network: Oms) -> None:
    network.inventory.receive("milan", "A", 2)
    order = in_milan(network, "E-1", {"A": 3, "B": 1})
    order = network.orders.release_hold(order.id, "unknown_sku")
    network.fulfillment.release(order.id)
    ship(network, order.fulfillment_orders[0].id)  # 2 of A shipped, 1 backordered
    before = table_contents(network)

    with pytest.raises(LineNotFound) as unknown:
        network.orders.cancel_lines(order.id, {"9": 1})
    assert (unknown.value.order_id, unknown.value.key) == (order.id, "9")
    with pytest.raises(QuantityAlreadyShipped) as shipped:
        network.orders.cancel_lines(order.id, {"1": 2})
    assert (shipped.value.requested, shipped.value.cancellable,
            shipped.value.shipped) == (2, 1, 2)
    with pytest.raises(QuantityNotCancellable) as too_many:
        network.orders.cancel_lines(order.id, {"2": 2})
    assert (too_many.value.line_id, too_many.value.cancellable) == ("2", 1)
    # One bad line refuses the whole request, the good lines included.
    with pytest.raises(QuantityAlreadyShipped):
        network.orders.cancel_lines(order.id, {"2": 1, "1": 3})
    with pytest.raises(OrderNotFound):
        network.orders.cancel_lines("no-such-order", {"1": 1})
    bad_calls: list[tuple[object, ...]] = [
        ({},), ([("1", 1)],), ({"1": 0},), ({"1": -1},), ({"1": 1.5},), ({"1": True},),
        ({"1": "1"},), ({"": 1},), ({1: 1},), ({"\x00": 1},), ({"1": 10**12},)]
    for (quantities,) in bad_calls:
        with pytest.raises(InvalidCommand):
            network.orders.cancel_lines(order.id, quantities)  # type: ignore[arg-type]
    with pytest.raises(InvalidCommand):
        network.orders.cancel_lines(order.id, {"1": 1}, reason=5)  # type: ignore[arg-type]
    with pytest.raises(InvalidCommand):
        network.orders.cancel_lines(order.id, {"1": 1}, idempotency_key="\x00")
    with pytest.raises(InvalidCommand):
        network.orders.short_close(order.id, reason=None)  # type: ignore[arg-type]
    with pytest.raises(InvalidCommand):
        network.orders.short_close("\x00")
    assert table_contents(network) == before


def test_a_cancelled_order_has_nothing_to_cancel(network: Oms) -> None:
    network.inventory.receive("milan", "A", 2)
    order = in_milan(network, "E-1", {"A": 1})
    network.orders.cancel(order.id)
    before = table_contents(network)
    with pytest.raises(QuantityNotCancellable, match="cancelled"):
        network.orders.cancel_lines(order.id, {"1": 1})
    assert network.orders.short_close(order.id).status is O.CANCELLED
    assert table_contents(network) == before


def test_repeats_are_harmless(network: Oms) -> None:
    network.inventory.receive("milan", "A", 10)
    order = in_milan(network, "E-1", {"A": 6})
    first = network.orders.cancel_lines(order.id, {"1": 2}, reason="r", idempotency_key="k-1")
    before = table_contents(network)
    again = network.orders.cancel_lines(order.id, {"1": 2}, reason="r", idempotency_key="k-1")
    assert again.lines[0].cancelled_quantity == first.lines[0].cancelled_quantity == 2
    assert table_contents(network) == before
    with pytest.raises(IdempotencyKeyConflict):
        network.orders.cancel_lines(order.id, {"1": 3}, reason="r", idempotency_key="k-1")
    assert table_contents(network) == before
    # Another key is another cancellation.
    assert network.orders.cancel_lines(order.id, {"1": 2}, reason="r",
                                       idempotency_key="k-2").lines[0].cancelled_quantity == 4

    closed = network.orders.short_close(order.id)
    assert closed.status is O.CANCELLED  # nothing had shipped: everything is cancelled
    before = table_contents(network)
    assert network.orders.short_close(order.id).status is O.CANCELLED
    assert table_contents(network) == before
    assert network.inventory.available("A") == 10


def test_units_given_back_go_to_waiting_orders(network: Oms) -> None:
    network.inventory.receive("milan", "A", 3)
    first = in_milan(network, "E-1", {"A": 3})
    waiting = in_milan(network, "E-2", {"A": 2})
    assert waiting.status is O.BACKORDERED
    network.orders.cancel_lines(first.id, {"1": 2})
    assert network.orders.get(waiting.id).status is O.ALLOCATED
    assert network.inventory.available("A") == 0


def test_holds_stay_on_a_line_cancellation_and_end_with_a_short_close(network: Oms) -> None:
    network.inventory.receive("milan", "A", 1)
    order = in_milan(network, "E-1", {"A": 3})
    network.fulfillment.release(order.id)
    # Held while backordered; the released part ships anyway (holds stop releases only).
    held = network.orders.place_hold(order.id, "fraud", "check")
    assert held.status is O.ON_HOLD
    ship(network, order.fulfillment_orders[0].id, deliver=True)
    partly = network.orders.cancel_lines(order.id, {"1": 1})
    assert partly.status is O.ON_HOLD
    assert [h.code for h in partly.active_holds] == ["fraud"]
    closed = network.orders.short_close(order.id, reason="fraud confirmed")
    assert closed.active_holds == ()
    assert closed.status is O.DELIVERED
    assert event_types(network, order.id)[-4:] == [
        "order.lines_cancelled", "order.short_closed", "order.hold_released",
        "order.status_changed"]


def test_a_held_order_whose_wait_was_cancelled_lands_where_its_parts_are(network: Oms) -> None:
    network.inventory.receive("milan", "A", 1)
    order = in_milan(network, "E-1", {"A": 2})
    network.fulfillment.release(order.id)
    network.orders.place_hold(order.id, "fraud", "check")
    ship(network, order.fulfillment_orders[0].id)
    network.orders.cancel_lines(order.id, {"1": 1})
    assert network.orders.release_hold(order.id, "fraud").status is O.SHIPPED
