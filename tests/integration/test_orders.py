"""Orders on every backend: placement, routing, holds, cancellation, search, timeline."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import attrs
import pytest

from omskit import Oms
from omskit.builtin.validation import INVALID_PICKUP_LOCATION, UNKNOWN_SKU
from omskit.domain.commands import PlaceOrder
from omskit.domain.errors import IllegalTransition, InvalidCommand, OrderNotFound
from omskit.domain.inventory import Capability, LocationKind, ReservationStatus
from omskit.domain.lifecycle import FulfillmentStatus, OrderStatus
from omskit.domain.values import LineQuantity
from omskit.testing import location, order_command, table_contents
from tests.support import (
    MILAN,
    NAPLES,
    ROME,
    SteppingClock,
    active_reservations,
    reservation_statuses,
    stock_rows,
)

O = OrderStatus  # noqa: E741
F = FulfillmentStatus


@pytest.fixture
def network(oms: Oms) -> Oms:
    """milan, rome and naples warehouses; a rome store for pickup only."""
    for code, (lat, lon) in (("milan", MILAN), ("rome", ROME), ("naples", NAPLES)):
        oms.inventory.save_location(location(code, lat, lon))
    oms.inventory.save_location(location("store-rome", *ROME, kind=LocationKind.STORE,
                                         capabilities=(Capability.PICKUP,)))
    return oms


def in_rome(external_id: str, lines: dict[str, int], *,
            pickup_at: str | None = None) -> PlaceOrder:
    """An order shipped to (or picked up by) a customer in Rome."""
    return order_command(external_id, lines, lat=ROME[0], lon=ROME[1], pickup_at=pickup_at)


def test_place_allocates_and_reserves(network: Oms) -> None:
    network.inventory.receive("rome", "A", 10)
    network.inventory.receive("rome", "B", 10)
    order = network.orders.place(in_rome("E-1", {"A": 2, "B": 3}))
    assert order.status is O.ALLOCATED
    (fo,) = order.fulfillment_orders
    assert (fo.location, fo.status) == ("rome", F.CREATED)
    assert fo.lines == (LineQuantity(line_id="1", sku="A", quantity=2),
                        LineQuantity(line_id="2", sku="B", quantity=3))
    rows = stock_rows(network)
    assert (rows[("rome", "A")].reserved, rows[("rome", "B")].reserved) == (2, 3)
    assert reservation_statuses(network, order.id) == [
        ("rome", "A", 2, "active"), ("rome", "B", 3, "active")]
    # What place returned is what was stored.
    stored = network.orders.get(order.id)
    assert stored.status is O.ALLOCATED
    assert [f.id for f in stored.fulfillment_orders] == [fo.id]
    assert stored.total == order.total


def test_nearest_location_is_chosen(network: Oms) -> None:
    for loc in ("milan", "rome", "naples"):
        network.inventory.receive(loc, "A", 5)
    near_naples = network.orders.place(order_command("E-1", {"A": 1}, lat=40.85, lon=14.3))
    near_milan = network.orders.place(order_command("E-2", {"A": 1}, lat=45.5, lon=9.2))
    assert [fo.location for fo in near_naples.fulfillment_orders] == ["naples"]
    assert [fo.location for fo in near_milan.fulfillment_orders] == ["milan"]


def test_order_is_split_when_no_location_has_everything(network: Oms) -> None:
    network.inventory.receive("rome", "A", 3)
    network.inventory.receive("naples", "A", 4)
    network.inventory.receive("milan", "A", 10)
    order = network.orders.place(in_rome("E-1", {"A": 8}))
    # Nearest-first from Rome: rome 3, naples 4, milan 1. Nobody alone had 8... except
    # milan: a location that fills the whole order wins over a split.
    assert [(fo.location, fo.units) for fo in order.fulfillment_orders] == [("milan", 8)]
    split = network.orders.place(in_rome("E-2", {"A": 8}))
    # milan now has 2 left, so: rome 3, naples 4, milan 1.
    assert sorted((fo.location, fo.units) for fo in split.fulfillment_orders) == [
        ("milan", 1), ("naples", 4), ("rome", 3)]
    assert split.status is O.ALLOCATED
    assert network.inventory.available("A") == 1


def test_shortage_is_backordered(network: Oms) -> None:
    network.inventory.receive("rome", "A", 2)
    network.inventory.receive("milan", "B", 1)
    network.orders.place(in_rome("E-0", {"B": 1}))  # takes milan's only B
    order = network.orders.place(in_rome("E-1", {"A": 5, "B": 1}))
    assert order.status is O.BACKORDERED
    assert [(fo.location, fo.units) for fo in order.fulfillment_orders] == [("rome", 2)]
    assert order.backordered() == (LineQuantity(line_id="1", sku="A", quantity=3),
                                   LineQuantity(line_id="2", sku="B", quantity=1))


def test_nothing_in_stock_is_backordered_without_fulfilment_orders(network: Oms) -> None:
    network.inventory.receive("rome", "A", 1)
    network.orders.place(in_rome("E-1", {"A": 1}))
    order = network.orders.place(in_rome("E-2", {"A": 4}))
    assert order.status is O.BACKORDERED
    assert order.fulfillment_orders == ()
    assert order.backordered() == (LineQuantity(line_id="1", sku="A", quantity=4),)


def test_unknown_sku_is_held_and_reserves_nothing(network: Oms) -> None:
    network.inventory.receive("rome", "A", 10)
    order = network.orders.place(in_rome("E-1", {"A": 1, "GHOST": 1}))
    assert order.status is O.ON_HOLD
    assert [(h.code, h.reason) for h in order.active_holds] == [
        (UNKNOWN_SKU, "no location stocks GHOST")]
    assert order.fulfillment_orders == ()
    assert stock_rows(network)[("rome", "A")].reserved == 0
    assert active_reservations(network) == {}


def test_invalid_pickup_location_is_held(network: Oms) -> None:
    network.inventory.receive("rome", "A", 10)
    # milan is a warehouse without the pickup capability; "atlantis" does not exist.
    for i, pickup in enumerate(("milan", "atlantis")):
        order = network.orders.place(in_rome(f"E-{i}", {"A": 1}, pickup_at=pickup))
        assert order.status is O.ON_HOLD
        assert [h.code for h in order.active_holds] == [INVALID_PICKUP_LOCATION]
        assert order.active_holds[0].reason == f"{pickup!r} is not an active pickup location"
    assert stock_rows(network)[("rome", "A")].reserved == 0


def test_pickup_is_sourced_at_the_pickup_location_only(network: Oms) -> None:
    network.inventory.receive("rome", "A", 10)
    network.inventory.receive("store-rome", "A", 1)
    order = network.orders.place(in_rome("E-1", {"A": 3}, pickup_at="store-rome"))
    # Only the store hands it over: the two it lacks come to it from rome by transfer
    # (ship-to-store, decision 40), reserved for the order on arrival.
    assert order.status is O.ALLOCATED
    assert [(fo.location, fo.units) for fo in order.fulfillment_orders] == [("store-rome", 3)]
    rows = stock_rows(network)
    assert (rows[("rome", "A")].on_hand, rows[("rome", "A")].reserved) == (8, 0)
    assert rows[("store-rome", "A")].reserved == 1


def test_operator_hold_and_release(network: Oms) -> None:
    network.inventory.receive("rome", "A", 10)
    order = network.orders.place(in_rome("E-1", {"A": 1}))
    held = network.orders.place_hold(order.id, "fraud", "score 97")
    assert held.status is O.ON_HOLD
    again = network.orders.place_hold(order.id, "fraud", "score 98")  # idempotent per code
    assert [h.reason for h in again.holds] == ["score 97"]
    released = network.orders.release_hold(order.id, "fraud")
    assert released.status is O.ALLOCATED
    assert network.orders.get(order.id).active_holds == ()
    with pytest.raises(InvalidCommand):
        network.orders.place_hold(order.id, "", "no code")


def test_releasing_the_hold_routes_a_never_routed_order(network: Oms) -> None:
    order = network.orders.place(in_rome("E-1", {"A": 2}))
    assert order.status is O.ON_HOLD  # A is unknown so far
    network.inventory.receive("rome", "A", 5)
    released = network.orders.release_hold(order.id, UNKNOWN_SKU)
    assert released.status is O.ALLOCATED
    assert [(fo.location, fo.units) for fo in released.fulfillment_orders] == [("rome", 2)]
    assert stock_rows(network)[("rome", "A")].reserved == 2
    assert active_reservations(network) == {("rome", "A"): 2}


def test_releasing_the_hold_of_a_still_unknown_sku_backorders(network: Oms) -> None:
    order = network.orders.place(in_rome("E-1", {"A": 2}))
    released = network.orders.release_hold(order.id, UNKNOWN_SKU)
    assert released.status is O.BACKORDERED
    assert released.backordered() == (LineQuantity(line_id="1", sku="A", quantity=2),)


def test_hold_on_a_released_order_is_refused(network: Oms) -> None:
    network.inventory.receive("rome", "A", 10)
    order = network.orders.place(in_rome("E-1", {"A": 1}))
    network.fulfillment.release(order.id)
    before = table_contents(network)
    with pytest.raises(IllegalTransition):
        network.orders.place_hold(order.id, "fraud", "late")
    assert table_contents(network) == before


def test_cancel_releases_reservations_and_is_idempotent(network: Oms) -> None:
    network.inventory.receive("rome", "A", 4)
    network.inventory.receive("naples", "A", 4)
    order = network.orders.place(in_rome("E-1", {"A": 6}))
    assert network.inventory.available("A") == 2
    cancelled = network.orders.cancel(order.id, "customer changed their mind")
    assert cancelled.status is O.CANCELLED
    assert {fo.status for fo in cancelled.fulfillment_orders} == {F.CANCELLED}
    assert network.inventory.available("A") == 8
    assert active_reservations(network) == {}
    assert {s for *_, s in reservation_statuses(network, order.id)} == {
        ReservationStatus.RELEASED.value}
    before = table_contents(network)
    assert network.orders.cancel(order.id).status is O.CANCELLED
    assert table_contents(network) == before
    assert network.inventory.ledger_mismatches() == []
    # The released units can be sold again.
    assert network.orders.place(in_rome("E-2", {"A": 8})).status is O.ALLOCATED


def test_cancel_a_held_order(network: Oms) -> None:
    order = network.orders.place(in_rome("E-1", {"GHOST": 1}))
    assert network.orders.cancel(order.id).status is O.CANCELLED


def test_unknown_order(network: Oms) -> None:
    with pytest.raises(OrderNotFound):
        network.orders.get("nope")
    with pytest.raises(OrderNotFound):
        network.orders.cancel("nope")
    with pytest.raises(OrderNotFound):
        network.orders.timeline("nope")
    assert network.orders.find_by_external("web", "nope") is None


def test_allocate_backorders_after_new_stock(network: Oms) -> None:
    network.inventory.receive("rome", "A", 1)
    order = network.orders.place(in_rome("E-1", {"A": 3}))
    assert order.status is O.BACKORDERED
    unchanged = network.orders.allocate_backorders(order.id)  # nothing new arrived
    assert [fo.units for fo in unchanged.fulfillment_orders] == [1]
    network.inventory.receive("naples", "A", 5)
    after = network.orders.allocate_backorders(order.id)
    assert after.status is O.ALLOCATED
    assert sorted((fo.location, fo.units) for fo in after.fulfillment_orders) == [
        ("naples", 2), ("rome", 1)]
    assert after.backordered() == ()
    assert active_reservations(network) == {("naples", "A"): 2, ("rome", "A"): 1}


@pytest.fixture
def clocked(make_oms: Callable[..., Oms]) -> Oms:
    oms = make_oms(clock=SteppingClock())
    oms.inventory.save_location(location("rome", *ROME))
    oms.inventory.receive("rome", "A", 100)
    return oms


def test_search_filters(clocked: Oms) -> None:
    day = datetime(2024, 3, 1, tzinfo=UTC)
    specs = [  # external id, channel, customer, day offset
        ("W-1", "web", "alice", 0), ("W-2", "web", "bob", 1), ("S-1", "shop", "alice", 2),
        ("S-2", "shop", "carol", 3),
    ]
    ids = {}
    for ext, channel, customer, offset in specs:
        cmd = attrs.evolve(order_command(ext, {"A": 1}, channel=channel, customer_id=customer),
                           placed_at=day + timedelta(days=offset))
        ids[ext] = clocked.orders.place(cmd).id
    clocked.orders.cancel(ids["S-1"])

    def found(**filters: object) -> list[str]:
        return [s.external_id for s in clocked.orders.search(**filters)]

    assert found() == ["S-2", "S-1", "W-2", "W-1"]  # newest first
    assert found(customer_id="alice") == ["S-1", "W-1"]
    assert found(channel="web") == ["W-2", "W-1"]
    assert found(statuses=(O.CANCELLED,)) == ["S-1"]
    assert found(statuses=(O.ALLOCATED,), channel="shop") == ["S-2"]
    # placed_from is inclusive, placed_to exclusive
    assert found(placed_from=day + timedelta(days=1),
                 placed_to=day + timedelta(days=3)) == ["S-1", "W-2"]
    assert found(limit=2, offset=1) == ["S-1", "W-2"]
    assert found(customer_id="nobody") == []
    summary = clocked.orders.search(channel="web", customer_id="bob")[0]
    assert (summary.id, summary.status, summary.currency, str(summary.total)) == (
        ids["W-2"], O.ALLOCATED, "EUR", "10.00")
    assert summary.placed_at == day + timedelta(days=1)
    assert [s.external_id for s in clocked.orders.iter_all(page_size=3)] == [
        "S-2", "S-1", "W-2", "W-1"]
    assert clocked.orders.count_by_status() == {O.ALLOCATED: 3, O.CANCELLED: 1}


def test_timeline_lists_events_in_order(clocked: Oms) -> None:
    order = clocked.orders.place(in_rome("E-1", {"A": 2}))
    clocked.orders.place_hold(order.id, "fraud", "check")
    clocked.orders.release_hold(order.id, "fraud")
    clocked.orders.cancel(order.id, "fraud confirmed")
    timeline = clocked.orders.timeline(order.id)
    assert [e.event_type for e in timeline] == [
        "order.placed",
        "order.status_changed",  # received -> validated
        "fulfillment_order.created",
        "order.routed",
        "order.status_changed",  # validated -> allocated
        "stock.reserved",
        "order.status_changed",  # allocated -> on_hold
        "order.hold_placed",
        "order.hold_released",
        "order.status_changed",  # on_hold -> allocated
        "fulfillment_order.status_changed",  # created -> cancelled
        "order.status_changed",  # allocated -> cancelled
        "order.cancelled",
        "stock.reservation_released",
    ]
    changes = [(e.event.from_status, e.event.to_status) for e in timeline  # type: ignore[attr-defined]
               if e.event_type == "order.status_changed"]
    assert changes == [("received", "validated"), ("validated", "allocated"),
                       ("allocated", "on_hold"), ("on_hold", "allocated"),
                       ("allocated", "cancelled")]
    times = [e.occurred_at for e in timeline]
    assert times == sorted(times)
    assert all(e.event.order_id == order.id for e in timeline)
