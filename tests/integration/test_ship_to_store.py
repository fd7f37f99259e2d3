"""Ship-to-store on every backend: a pickup store lacking stock is supplied by a transfer
reserved for the order; the pickup is ready only once it arrives; the promise counts its
transit; a store that rejects re-sources by transfer or holds the order (decision 40)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest

from omskit import (
    Capability,
    Carrier,
    LocationKind,
    ManualCarriers,
    Oms,
    RateTableCarrier,
    hookimpl,
)
from omskit.domain.errors import GoodsInTransit, PickupNotReady
from omskit.domain.inventory import MovementKind, SupplyStatus
from omskit.domain.lifecycle import FulfillmentStatus, OrderStatus
from omskit.domain.order import Order
from omskit.services.fulfillment import PICKUP_REJECTED
from omskit.testing import location, order_command
from tests.support import MILAN, ROME, active_reservations, stock_rows

O = OrderStatus  # noqa: E741
F = FulfillmentStatus
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class Van:
    """A carrier whose lanes take two days: the transfer's transit."""

    @hookimpl
    def omskit_register_carriers(self, register: Callable[[Carrier], None]) -> None:
        register(RateTableCarrier(code="van", base=5.0, per_km=0.0, transit_days_base=2,
                                  km_per_day=0))


@pytest.fixture
def network(make_oms: Callable[..., Oms]) -> Oms:
    """A Rome store with nothing on its shelves, a Milan warehouse with plenty of A."""
    oms = make_oms(plugins=[Van(), ManualCarriers("brt")], clock=lambda: NOW)
    oms.inventory.save_location(location("store-rome", *ROME, kind=LocationKind.STORE,
                                         capabilities=(Capability.PICKUP,)))
    oms.inventory.save_location(location("milan", *MILAN))
    oms.inventory.receive("milan", "A", 10)
    return oms


def pickup(oms: Oms, external_id: str, lines: dict[str, int]) -> Order:
    return oms.orders.place(order_command(external_id, lines, lat=ROME[0], lon=ROME[1],
                                          pickup_at="store-rome"))


def transfer_to_store(oms: Oms, fo_id: str) -> list[str]:
    """Ids of the open supplies reserved for the fulfilment order."""
    found = oms.pickups.transfers(fo_id)
    assert all(s.fulfillment_order_id == fo_id and s.location == "store-rome" for s in found)
    return [s.id for s in found]


def test_a_transfer_supplies_the_store_and_the_pickup_waits_for_it(network: Oms) -> None:
    order = pickup(network, "P-1", {"A": 3})
    assert order.status is O.ALLOCATED
    (fo,) = order.fulfillment_orders
    assert (fo.location, fo.units) == ("store-rome", 3)
    # The units left Milan for the store and are nobody else's on the way.
    rows = stock_rows(network)
    assert (rows[("milan", "A")].on_hand, rows[("milan", "A")].reserved) == (7, 0)
    assert ("store-rome", "A") not in rows or rows[("store-rome", "A")].reserved == 0
    assert active_reservations(network) == {}
    assert network.inventory.available("A", at=datetime(2027, 1, 1, tzinfo=UTC)) == 7
    # Two days of transit: ready to collect on the 3rd, and that is the promise.
    assert order.promised_date == date(2026, 12, 3)
    (supply_id,) = transfer_to_store(network, fo.id)
    kinds = [e.kind for e in network.inventory.ledger("milan", "A")]
    assert kinds[-1] is MovementKind.TRANSFER_OUT

    network.fulfillment.release(order.id)
    with pytest.raises(PickupNotReady, match="transfer to the store not received yet"):
        network.pickups.ready(fo.id)
    assert network.fulfillment.get(fo.id).status is F.RELEASED

    arrived = network.inventory.receive_supply(supply_id)
    assert arrived.status is SupplyStatus.RECEIVED
    assert active_reservations(network) == {("store-rome", "A"): 3}
    assert network.inventory.available("A", location="store-rome") == 0
    assert network.pickups.ready(fo.id).status is F.READY_FOR_PICKUP
    assert network.pickups.collect(fo.id).status is F.DELIVERED
    assert stock_rows(network)[("store-rome", "A")].on_hand == 0
    assert network.inventory.ledger_mismatches() == []
    # Receiving it again changes nothing.
    network.inventory.receive_supply(supply_id)
    assert network.inventory.ledger_mismatches() == []


def test_goods_in_transit_cannot_be_picked(network: Oms) -> None:
    """Until the transfer arrives, the store's shelf units are other orders': picking (the
    step before packing and shipping) is refused, and nothing changes."""
    network.inventory.receive("store-rome", "A", 5)  # another order's, say: not this one's
    network.inventory.receive("milan", "B", 5)
    order = pickup(network, "P-1", {"B": 2})
    (fo,) = order.fulfillment_orders
    assert fo.location == "store-rome"
    network.fulfillment.release(order.id)
    network.fulfillment.accept(fo.id)
    before = stock_rows(network)
    with pytest.raises(GoodsInTransit, match=r"2 B due 2026-12-03"):
        network.fulfillment.pick(fo.id)
    assert network.fulfillment.get(fo.id).status is F.ACCEPTED
    assert stock_rows(network) == before
    assert network.inventory.ledger_mismatches() == []

    (supply_id,) = transfer_to_store(network, fo.id)
    network.inventory.receive_supply(supply_id)
    assert network.fulfillment.pick(fo.id).status is F.PICKED
    network.fulfillment.pack(fo.id)
    assert network.fulfillment.ship(fo.id, carrier="brt",
                                    tracking_number="T-1").status is F.SHIPPED
    assert stock_rows(network)[("store-rome", "B")].on_hand == 0
    assert stock_rows(network)[("store-rome", "A")].on_hand == 5
    assert network.inventory.ledger_mismatches() == []


def test_the_store_keeps_what_it_has_and_the_rest_comes_by_transfer(network: Oms) -> None:
    network.inventory.receive("store-rome", "A", 1)
    order = pickup(network, "P-1", {"A": 3})
    (fo,) = order.fulfillment_orders
    assert (fo.location, fo.units) == ("store-rome", 3)
    assert active_reservations(network) == {("store-rome", "A"): 1}
    assert stock_rows(network)[("milan", "A")].on_hand == 8
    (supply_id,) = transfer_to_store(network, fo.id)
    network.inventory.receive_supply(supply_id)
    assert active_reservations(network) == {("store-rome", "A"): 3}
    assert network.inventory.ledger_mismatches() == []


def test_a_store_that_rejects_is_supplied_by_transfer(network: Oms) -> None:
    network.inventory.receive("store-rome", "A", 2)
    order = pickup(network, "P-1", {"A": 2})
    network.fulfillment.release(order.id)
    first = order.fulfillment_orders[0].id
    rerouted = network.fulfillment.reject(first, "shelf stock damaged")
    assert rerouted.active_holds == ()
    assert rerouted.status is O.ALLOCATED
    assert [(fo.location, fo.status) for fo in rerouted.fulfillment_orders] == [
        ("store-rome", F.REJECTED), ("store-rome", F.CREATED)]
    second = rerouted.fulfillment_orders[1].id
    # The store's own (damaged) units are not reserved; two come from Milan.
    assert active_reservations(network) == {}
    assert stock_rows(network)[("milan", "A")].on_hand == 8
    (supply_id,) = transfer_to_store(network, second)
    network.inventory.receive_supply(supply_id)
    network.fulfillment.release(order.id)
    assert network.pickups.ready(second).status is F.READY_FOR_PICKUP
    assert network.inventory.ledger_mismatches() == []


def test_a_rejection_nothing_can_resupply_holds_the_order(network: Oms) -> None:
    network.inventory.adjust("milan", "A", -10, reason="sold out")
    network.inventory.receive("store-rome", "A", 1)
    order = pickup(network, "P-1", {"A": 1})
    network.fulfillment.release(order.id)
    held = network.fulfillment.reject(order.fulfillment_orders[0].id, "no staff")
    assert held.status is O.ON_HOLD
    assert [h.code for h in held.active_holds] == [PICKUP_REJECTED]


def test_ship_to_store_can_be_switched_off(make_oms: Callable[..., Oms]) -> None:
    oms = make_oms(settings={"pickup": {"ship_to_store": False}})
    oms.inventory.save_location(location("store-rome", *ROME, kind=LocationKind.STORE,
                                         capabilities=(Capability.PICKUP,)))
    oms.inventory.save_location(location("milan", *MILAN))
    oms.inventory.receive("milan", "A", 10)
    order = pickup(oms, "P-1", {"A": 1})
    assert order.status is O.BACKORDERED
    assert stock_rows(oms)[("milan", "A")].on_hand == 10


def test_a_transfer_for_a_cancelled_order_arrives_as_anyones_stock(network: Oms) -> None:
    order = pickup(network, "P-1", {"A": 2})
    (supply_id,) = transfer_to_store(network, order.fulfillment_orders[0].id)
    network.orders.cancel(order.id, "customer changed their mind")
    network.inventory.receive_supply(supply_id)
    assert active_reservations(network) == {}
    assert network.inventory.available("A", location="store-rome") == 2
    assert network.inventory.ledger_mismatches() == []
