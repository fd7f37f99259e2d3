"""A pickup order whose store rejects it, on every backend.

The defect: the store's rejection re-routed the order with the store excluded, and nothing
else may hand over a pickup, so the order stayed backordered for ever, with no hold and no way
out. Now it is held (``pickup_rejected``) with the store and its reason, for an operator, whose
release asks the store again, when no transfer can resupply the store (decision 40; here
ship-to-store is switched off).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from omskit import ManualCarriers, Oms
from omskit.domain.errors import IllegalTransition
from omskit.domain.inventory import Capability, LocationKind
from omskit.domain.lifecycle import FulfillmentStatus, OrderStatus
from omskit.domain.order import Order
from omskit.services.fulfillment import PICKUP_REJECTED
from omskit.testing import location, order_command
from tests.support import MILAN, ROME, active_reservations, stock_rows

O = OrderStatus  # noqa: E741
F = FulfillmentStatus


@pytest.fixture
def network(make_oms: Callable[..., Oms]) -> Oms:
    """A Rome store offering pickup (and shipping), a Milan warehouse with plenty; with
    ship-to-store off, Milan cannot resupply the store (tests/integration/
    test_ship_to_store.py has it on)."""
    oms = make_oms(plugins=[ManualCarriers("counter")],
                   settings={"pickup": {"ship_to_store": False}})
    oms.inventory.save_location(location("store-rome", *ROME, kind=LocationKind.STORE,
                                         capabilities=(Capability.PICKUP, Capability.SHIP)))
    oms.inventory.save_location(location("milan", *MILAN))
    oms.inventory.receive("milan", "A", 50)
    return oms


def pickup(oms: Oms, external_id: str, lines: dict[str, int]) -> Order:
    return oms.orders.place(order_command(external_id, lines, lat=ROME[0], lon=ROME[1],
                                          pickup_at="store-rome"))


def released_fo(oms: Oms, order_id: str) -> str:
    order = oms.fulfillment.release(order_id)
    (found,) = [fo.id for fo in order.fulfillment_orders if fo.status is F.RELEASED]
    return found


def test_a_rejected_pickup_is_held_for_an_operator(network: Oms) -> None:
    network.inventory.receive("store-rome", "A", 2)
    order = pickup(network, "P-1", {"A": 1})
    fo_id = released_fo(network, order.id)

    held = network.fulfillment.reject(fo_id, "item damaged")
    assert held.status is O.ON_HOLD
    [hold] = held.active_holds
    assert hold.code == PICKUP_REJECTED
    assert hold.reason == (f"pickup location store-rome rejected fulfilment order {fo_id}: "
                           "item damaged")
    assert held.fulfillment_order(fo_id).status is F.REJECTED
    assert active_reservations(network) == {}
    assert stock_rows(network)[("store-rome", "A")].reserved == 0
    # The operator sees it: in the order (and `omskit orders show`) and in its timeline.
    assert [h.code for h in network.orders.get(order.id).active_holds] == [PICKUP_REJECTED]
    assert [e.event_type for e in network.orders.timeline(order.id)][-6:] == [
        "fulfillment_order.status_changed",  # released -> rejected
        "fulfillment_order.rejected",
        "order.status_changed",  # released -> backordered
        "order.status_changed",  # backordered -> on_hold
        "order.hold_placed",
        "stock.reservation_released"]

    # Held: new stock at the store does not route it behind the operator's back.
    network.inventory.receive("store-rome", "A", 1)
    assert network.orders.get(order.id).status is O.ON_HOLD

    # The operator sorted it out with the store: releasing asks the store again.
    rerouted = network.orders.release_hold(order.id, PICKUP_REJECTED)
    assert rerouted.status is O.ALLOCATED
    assert [(fo.location, fo.status) for fo in rerouted.fulfillment_orders] == [
        ("store-rome", F.REJECTED), ("store-rome", F.CREATED)]
    assert stock_rows(network)[("store-rome", "A")].reserved == 1
    assert stock_rows(network)[("milan", "A")].reserved == 0  # never another location


def test_released_with_the_store_empty_it_waits_for_the_store(network: Oms) -> None:
    network.inventory.receive("store-rome", "A", 1)
    order = pickup(network, "P-1", {"A": 1})
    network.fulfillment.reject(released_fo(network, order.id), "stock missing at count")
    network.inventory.adjust("store-rome", "A", -1, reason="count")
    waiting = network.orders.release_hold(order.id, PICKUP_REJECTED)
    assert waiting.status is O.BACKORDERED
    assert waiting.active_holds == ()
    # The store is not excluded any more: its next receipt serves the order.
    network.inventory.receive("store-rome", "A", 3)
    after = network.orders.get(order.id)
    assert after.status is O.ALLOCATED
    assert [fo.location for fo in after.fulfillment_orders] == ["store-rome", "store-rome"]


def test_a_second_rejection_holds_it_again(network: Oms) -> None:
    network.inventory.receive("store-rome", "A", 5)
    order = pickup(network, "P-1", {"A": 1})
    network.fulfillment.reject(released_fo(network, order.id), "no staff")
    network.orders.release_hold(order.id, PICKUP_REJECTED)
    again = network.fulfillment.reject(released_fo(network, order.id), "no staff again")
    assert [h.code for h in again.active_holds] == [PICKUP_REJECTED]
    assert [h.code for h in again.holds] == [PICKUP_REJECTED, PICKUP_REJECTED]
    assert again.active_holds[0].reason.endswith("no staff again")
    # Or the operator gives up: the order is cancelled and its holds end.
    cancelled = network.orders.cancel(order.id, "store cannot serve it")
    assert cancelled.status is O.CANCELLED
    assert cancelled.active_holds == ()


def test_a_partly_collected_pickup_is_held_too(network: Oms) -> None:
    network.inventory.receive("store-rome", "A", 1)
    order = pickup(network, "P-1", {"A": 2})  # 1 at the store, 1 backordered
    first = released_fo(network, order.id)
    for step in (network.fulfillment.accept, network.fulfillment.pick, network.fulfillment.pack):
        step(first)
    network.fulfillment.ship(first, carrier="counter", tracking_number="handed-over")
    network.inventory.receive("store-rome", "A", 1)  # the backorder is allocated there
    assert network.orders.get(order.id).status is O.PARTIALLY_SHIPPED
    second = released_fo(network, order.id)
    held = network.fulfillment.reject(second, "wrong size delivered")
    assert held.status is O.ON_HOLD
    assert [h.code for h in held.active_holds] == [PICKUP_REJECTED]
    # Releasing lands where the fulfilment orders are: the store still has the unit.
    released = network.orders.release_hold(order.id, PICKUP_REJECTED)
    assert released.status is O.PARTIALLY_SHIPPED
    assert released.backordered() == ()
    # Or closing short: the customer keeps what was collected.
    network.fulfillment.reject(released_fo(network, order.id), "gave up")
    closed = network.orders.short_close(order.id, reason="store cannot serve the rest")
    assert closed.status is O.SHIPPED
    assert closed.active_holds == ()


def test_a_long_rejection_reason_fits_the_hold(network: Oms) -> None:
    network.inventory.receive("store-rome", "A", 1)
    order = pickup(network, "P-1", {"A": 1})
    held = network.fulfillment.reject(released_fo(network, order.id), "x" * 500)
    [hold] = network.orders.get(order.id).active_holds
    assert len(hold.reason) == 500
    assert hold.reason.endswith("x…")
    assert held.active_holds == (hold,)


def test_a_shipped_order_rejected_elsewhere_is_not_held(network: Oms) -> None:
    network.inventory.receive("store-rome", "A", 1)
    order = network.orders.place(order_command("S-1", {"A": 1}, lat=ROME[0], lon=ROME[1]))
    assert order.fulfillment_orders[0].location == "store-rome"
    rerouted = network.fulfillment.reject(released_fo(network, order.id), "no staff")
    assert rerouted.active_holds == ()
    assert rerouted.status is O.ALLOCATED
    assert [fo.location for fo in rerouted.fulfillment_orders] == ["store-rome", "milan"]


def test_a_released_order_still_cannot_be_held(network: Oms) -> None:
    network.inventory.receive("store-rome", "A", 1)
    order = pickup(network, "P-1", {"A": 1})
    released_fo(network, order.id)
    with pytest.raises(IllegalTransition):
        network.orders.place_hold(order.id, "fraud", "too late")
