"""Fulfilment on every backend: release, accept, pick, pack, ship, deliver, reject."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from omskit import ManualCarriers, Oms
from omskit.domain.errors import (
    FulfillmentOrderNotFound,
    IllegalTransition,
    InvalidCommand,
    OrderOnHold,
)
from omskit.domain.lifecycle import FulfillmentStatus, OrderStatus
from omskit.domain.order import Order
from omskit.domain.values import LineQuantity
from omskit.testing import location, order_command, table_contents
from tests.support import MILAN, NAPLES, ROME, active_reservations, stock_rows

O = OrderStatus  # noqa: E741
F = FulfillmentStatus


@pytest.fixture
def network(make_oms: Callable[..., Oms]) -> Oms:
    # The carrier a shipment names must be installed (issue 11).
    oms = make_oms(plugins=[ManualCarriers("brt")])
    for code, (lat, lon) in (("milan", MILAN), ("rome", ROME), ("naples", NAPLES)):
        oms.inventory.save_location(location(code, lat, lon))
    return oms


def place_in_rome(oms: Oms, external_id: str, lines: dict[str, int]) -> Order:
    return oms.orders.place(order_command(external_id, lines, lat=ROME[0], lon=ROME[1]))


def fo_at(order: Order, loc: str) -> str:
    (found,) = [fo.id for fo in order.fulfillment_orders
                if fo.location == loc and fo.status not in (F.REJECTED, F.CANCELLED)]
    return found


def test_the_whole_path(network: Oms) -> None:
    network.inventory.receive("rome", "A", 10)
    network.inventory.receive("rome", "B", 5)
    order = place_in_rome(network, "E-1", {"A": 3, "B": 2})
    fo_id = fo_at(order, "rome")
    ff = network.fulfillment

    assert ff.release(order.id).status is O.RELEASED
    assert ff.accept(fo_id).status is F.ACCEPTED
    assert ff.pick(fo_id).status is F.PICKED
    assert ff.pack(fo_id).status is F.PACKED
    assert stock_rows(network)[("rome", "A")].reserved == 3

    shipped = ff.ship(fo_id, carrier="brt", tracking_number="BRT-123")
    assert shipped.status is F.SHIPPED
    assert shipped.shipment is not None
    assert (shipped.shipment.carrier, shipped.shipment.tracking_number) == ("brt", "BRT-123")
    rows = stock_rows(network)
    # Shipping takes the units out of both on-hand and reserved.
    assert (rows[("rome", "A")].on_hand, rows[("rome", "A")].reserved) == (7, 0)
    assert (rows[("rome", "B")].on_hand, rows[("rome", "B")].reserved) == (3, 0)
    assert active_reservations(network) == {}
    assert network.orders.get(order.id).status is O.SHIPPED

    delivered = ff.deliver(fo_id)
    assert delivered.status is F.DELIVERED
    assert delivered.shipment is not None
    assert delivered.shipment.delivered_at is not None
    assert network.orders.get(order.id).status is O.DELIVERED
    assert network.orders.complete(order.id).status is O.COMPLETED
    assert network.inventory.ledger_mismatches() == []


def test_every_step_is_idempotent(network: Oms) -> None:
    network.inventory.receive("rome", "A", 10)
    order = place_in_rome(network, "E-1", {"A": 3})
    fo_id = fo_at(order, "rome")
    ff = network.fulfillment
    steps = [
        lambda: ff.release(order.id),
        lambda: ff.accept(fo_id),
        lambda: ff.pick(fo_id),
        lambda: ff.pack(fo_id),
        lambda: ff.ship(fo_id, carrier="brt", tracking_number="T-1"),
        lambda: ff.deliver(fo_id),
        lambda: network.orders.complete(order.id),
    ]
    for step in steps:
        step()
        before = table_contents(network)
        step()  # a retried call from the warehouse system
        assert table_contents(network) == before
    final = network.orders.get(order.id)
    assert final.status is O.COMPLETED
    assert stock_rows(network)[("rome", "A")].on_hand == 7  # shipped once, not twice


def test_steps_out_of_order_are_refused(network: Oms) -> None:
    network.inventory.receive("rome", "A", 10)
    order = place_in_rome(network, "E-1", {"A": 3})
    fo_id = fo_at(order, "rome")
    before = table_contents(network)
    with pytest.raises(IllegalTransition):
        network.fulfillment.pick(fo_id)  # not released, not accepted
    with pytest.raises(IllegalTransition):
        network.fulfillment.ship(fo_id, carrier="brt", tracking_number="T")
    with pytest.raises(IllegalTransition):
        network.fulfillment.deliver(fo_id)
    assert table_contents(network) == before


def test_a_held_order_is_not_released(network: Oms) -> None:
    network.inventory.receive("rome", "A", 10)
    order = place_in_rome(network, "E-1", {"A": 3})
    network.orders.place_hold(order.id, "fraud", "check")
    before = table_contents(network)
    with pytest.raises(OrderOnHold):
        network.fulfillment.release(order.id)
    assert table_contents(network) == before


def test_unknown_fulfilment_order(network: Oms) -> None:
    with pytest.raises(FulfillmentOrderNotFound):
        network.fulfillment.accept("nope")


def test_shipment_needs_a_carrier(network: Oms) -> None:
    with pytest.raises(InvalidCommand, match="carrier"):
        network.fulfillment.ship("whatever", carrier="", tracking_number="T")


def test_reject_reroutes_elsewhere(network: Oms) -> None:
    network.inventory.receive("rome", "A", 5)
    network.inventory.receive("naples", "A", 5)
    order = place_in_rome(network, "E-1", {"A": 3})
    rome_fo = fo_at(order, "rome")
    network.fulfillment.release(order.id)
    after = network.fulfillment.reject(rome_fo, "shelf is empty")
    assert after.status is O.ALLOCATED
    rejected = after.fulfillment_order(rome_fo)
    assert (rejected.status, rejected.rejection_reason) == (F.REJECTED, "shelf is empty")
    naples_fo = after.fulfillment_order(fo_at(after, "naples"))
    assert (naples_fo.status, naples_fo.lines) == (
        F.CREATED, (LineQuantity(line_id="1", sku="A", quantity=3),))
    assert active_reservations(network) == {("naples", "A"): 3}
    assert stock_rows(network)[("rome", "A")].reserved == 0
    # Rejecting twice changes nothing.
    before = table_contents(network)
    network.fulfillment.reject(rome_fo, "shelf is empty")
    assert table_contents(network) == before


def test_reject_excludes_every_location_that_rejected(network: Oms) -> None:
    network.inventory.receive("rome", "A", 5)
    network.inventory.receive("naples", "A", 5)
    order = place_in_rome(network, "E-1", {"A": 3})
    network.fulfillment.release(order.id)
    order = network.fulfillment.reject(fo_at(order, "rome"), "closed")
    network.fulfillment.release(order.id)
    order = network.fulfillment.reject(fo_at(order, "naples"), "closed too")
    # rome has stock again (its reservation was released) but it already refused.
    assert order.status is O.BACKORDERED
    assert order.backordered() == (LineQuantity(line_id="1", sku="A", quantity=3),)
    assert active_reservations(network) == {}
    assert network.inventory.available("A") == 10
    # New stock elsewhere: the backorder goes there, never back to rome or naples.
    network.inventory.receive("milan", "A", 3)
    after = network.orders.allocate_backorders(order.id)
    assert after.status is O.ALLOCATED
    assert fo_at(after, "milan")
    assert active_reservations(network) == {("milan", "A"): 3}


def test_partial_shipment_then_the_rest(network: Oms) -> None:
    network.inventory.receive("rome", "A", 2)
    network.inventory.receive("naples", "B", 2)
    order = place_in_rome(network, "E-1", {"A": 2, "B": 2})
    ff = network.fulfillment
    ff.release(order.id)
    for loc in ("rome", "naples"):
        fo_id = fo_at(order, loc)
        ff.accept(fo_id)
        ff.pick(fo_id)
        ff.pack(fo_id)
    ff.ship(fo_at(order, "rome"), carrier="brt", tracking_number="1")
    assert network.orders.get(order.id).status is O.PARTIALLY_SHIPPED
    with pytest.raises(IllegalTransition):
        network.orders.cancel(order.id)
    ff.ship(fo_at(order, "naples"), carrier="brt", tracking_number="2")
    assert network.orders.get(order.id).status is O.SHIPPED
    ff.deliver(fo_at(order, "rome"))
    assert network.orders.get(order.id).status is O.SHIPPED
    ff.deliver(fo_at(order, "naples"))
    assert network.orders.get(order.id).status is O.DELIVERED


def test_ship_after_a_rejection_was_rerouted(network: Oms) -> None:
    # rome fills A, milan fills B; milan rejects and B goes to naples. rome ships before
    # naples' new fulfilment order is even released: the order is partially shipped.
    network.inventory.receive("rome", "A", 2)
    network.inventory.receive("milan", "B", 2)
    network.inventory.receive("naples", "B", 2)
    order = network.orders.place(order_command("E-1", {"A": 2, "B": 2}, lat=44.5, lon=11.3))
    assert sorted(fo.location for fo in order.fulfillment_orders) == ["milan", "rome"]
    ff = network.fulfillment
    ff.release(order.id)
    rome = fo_at(order, "rome")
    ff.accept(rome)
    after = ff.reject(fo_at(order, "milan"), "forklift broken")
    assert after.status is O.ALLOCATED
    ff.pick(rome)
    ff.pack(rome)
    ff.ship(rome, carrier="brt", tracking_number="1")
    assert network.orders.get(order.id).status is O.PARTIALLY_SHIPPED
    naples = fo_at(after, "naples")
    ff.release(order.id)
    for step in (ff.accept, ff.pick, ff.pack):
        step(naples)
    ff.ship(naples, carrier="brt", tracking_number="2")
    assert network.orders.get(order.id).status is O.SHIPPED
    assert network.inventory.ledger_mismatches() == []


def test_backordered_part_ships_then_the_rest_is_allocated(network: Oms) -> None:
    network.inventory.receive("rome", "A", 1)
    order = place_in_rome(network, "E-1", {"A": 3})
    assert order.status is O.BACKORDERED
    ff = network.fulfillment
    ff.release(order.id)
    first = fo_at(order, "rome")
    for step in (ff.accept, ff.pick, ff.pack):
        step(first)
    ff.ship(first, carrier="brt", tracking_number="1")
    assert network.orders.get(order.id).status is O.PARTIALLY_SHIPPED
    network.inventory.receive("naples", "A", 2)
    after = network.orders.allocate_backorders(order.id)
    assert after.status is O.PARTIALLY_SHIPPED
    assert after.backordered() == ()
    second = fo_at(after, "naples")
    ff.release(order.id)
    for step in (ff.accept, ff.pick, ff.pack):
        step(second)
    ff.ship(second, carrier="brt", tracking_number="2")
    assert network.orders.get(order.id).status is O.SHIPPED


def test_released_part_ships_after_the_backorder_was_allocated(network: Oms) -> None:
    network.inventory.receive("rome", "A", 1)
    order = place_in_rome(network, "E-1", {"A": 3})
    ff = network.fulfillment
    ff.release(order.id)
    first = fo_at(order, "rome")
    ff.accept(first)
    network.inventory.receive("naples", "A", 2)
    assert network.orders.allocate_backorders(order.id).status is O.ALLOCATED
    ff.pick(first)
    ff.pack(first)
    ff.ship(first, carrier="brt", tracking_number="1")
    assert network.orders.get(order.id).status is O.PARTIALLY_SHIPPED
    assert active_reservations(network) == {("naples", "A"): 2}


def test_the_old_spelling_is_a_deprecated_alias(make_oms: Callable[..., Oms]) -> None:
    oms = make_oms()
    with pytest.warns(DeprecationWarning, match="oms.fulfillment"):
        assert oms.fulfilment is oms.fulfillment


def test_a_location_work_queue_lists_its_open_fulfilment_orders_oldest_first(
        network: Oms) -> None:
    network.inventory.receive("rome", "SKU-1", 10)
    network.inventory.receive("milan", "SKU-2", 10)
    first = place_in_rome(network, "Q-1", {"SKU-1": 1})
    second = place_in_rome(network, "Q-2", {"SKU-1": 2})
    elsewhere = place_in_rome(network, "Q-3", {"SKU-2": 1})
    assert network.fulfillment.at_location("rome") == []  # nothing released yet
    for order in (first, second, elsewhere):
        network.fulfillment.release(order.id)
    rome_ids = [fo_at(first, "rome"), fo_at(second, "rome")]
    assert [fo.id for fo in network.fulfillment.at_location("rome")] == rome_ids
    network.fulfillment.accept(rome_ids[0])
    network.fulfillment.pick(rome_ids[0])
    assert [fo.status for fo in network.fulfillment.at_location("rome")] == [F.PICKED,
                                                                             F.RELEASED]
    assert [fo.id for fo in network.fulfillment.at_location(
        "rome", [F.RELEASED])] == rome_ids[1:]
    assert [fo.id for fo in network.fulfillment.at_location("rome", limit=1)] == rome_ids[:1]
    assert network.fulfillment.get(rome_ids[1]).order_id == second.id
    with pytest.raises(FulfillmentOrderNotFound):
        network.fulfillment.get("no-such-fo")
    with pytest.raises(InvalidCommand):
        network.fulfillment.at_location("rome", limit=0)
