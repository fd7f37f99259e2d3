"""Pick up in store (``oms.pickups``) on every backend: ready, partial collection, collecting
more than is ready, expiry run twice and concurrently (decision 40)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from omskit import Oms
from omskit.domain.commands import CollectPickup, ExpireUncollectedPickups, MarkReadyForPickup
from omskit.domain.errors import IllegalTransition, InvalidCommand, PickupNotReady
from omskit.domain.inventory import Capability, LocationKind, MovementKind
from omskit.domain.lifecycle import FulfillmentStatus, OrderStatus
from omskit.domain.order import Order
from omskit.domain.values import LineQuantity
from omskit.testing import location, order_command
from tests.support import MILAN, ROME, active_reservations, stock_rows

O = OrderStatus  # noqa: E741
F = FulfillmentStatus
START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(make_oms: Callable[..., Oms], clock: Clock) -> Oms:
    """A Rome store with A and B on its shelves, and a Milan warehouse."""
    oms = make_oms(clock=clock, settings={"pickup": {"collect_days": 3}})
    oms.inventory.save_location(location("store-rome", *ROME, kind=LocationKind.STORE,
                                         capabilities=(Capability.PICKUP, Capability.SHIP)))
    oms.inventory.save_location(location("milan", *MILAN))
    oms.inventory.receive("store-rome", "A", 5)
    oms.inventory.receive("store-rome", "B", 5)
    return oms


def pickup(oms: Oms, external_id: str, lines: dict[str, int]) -> Order:
    return oms.orders.place(order_command(external_id, lines, lat=ROME[0], lon=ROME[1],
                                          pickup_at="store-rome"))


def ready_pickup(oms: Oms, external_id: str, lines: dict[str, int]) -> tuple[Order, str]:
    order = pickup(oms, external_id, lines)
    oms.fulfillment.release(order.id)
    (fo,) = oms.orders.get(order.id).fulfillment_orders
    ready = oms.pickups.ready(fo.id)
    assert ready.status is F.READY_FOR_PICKUP
    return order, fo.id


def test_ready_sets_a_deadline_and_tells_the_customer(store: Oms, clock: Clock) -> None:
    order, fo_id = ready_pickup(store, "P-1", {"A": 2})
    fo = store.fulfillment.get(fo_id)
    assert (fo.ready_at, fo.collect_by) == (START, START + timedelta(days=3))
    # Released, then accepted on the way, then ready; ready again changes nothing.
    assert store.pickups.ready(fo_id).collect_by == START + timedelta(days=3)
    events = [e for e in store.orders.timeline(order.id) if e.event_type == "pickup.ready"]
    assert len(events) == 1
    assert store.fulfillment.at_location("store-rome", [F.READY_FOR_PICKUP]) == [fo]
    # The goods stay reserved at the store until collected.
    assert stock_rows(store)[("store-rome", "A")].reserved == 2


def test_partial_collection_consumes_what_was_collected(store: Oms) -> None:
    order, fo_id = ready_pickup(store, "P-1", {"A": 2, "B": 1})
    line_a = next(x.line_id for x in order.lines if x.sku == "A")
    fo = store.pickups.collect(fo_id, [LineQuantity(line_id=line_a, sku="A", quantity=1)],
                               collection_id="visit-1")
    assert fo.status is F.READY_FOR_PICKUP
    assert store.orders.get(order.id).status is O.PARTIALLY_SHIPPED
    rows = stock_rows(store)
    assert (rows[("store-rome", "A")].on_hand, rows[("store-rome", "A")].reserved) == (4, 1)
    # A retried visit changes nothing.
    store.pickups.collect(fo_id, [LineQuantity(line_id=line_a, sku="A", quantity=1)],
                          collection_id="visit-1")
    assert stock_rows(store)[("store-rome", "A")].on_hand == 4
    # The rest, collected: the pickup is delivered, the order too.
    done = store.pickups.collect(fo_id)
    assert done.status is F.DELIVERED
    assert [s.units for s in done.shipments] == [1, 2]
    assert store.orders.get(order.id).status is O.DELIVERED
    assert active_reservations(store) == {}
    kinds = [e.kind for e in store.inventory.ledger("store-rome", "A")]
    assert kinds.count(MovementKind.SHIP) == 2
    assert store.inventory.ledger_mismatches() == []


def test_collecting_more_than_is_ready_changes_nothing(store: Oms) -> None:
    order, fo_id = ready_pickup(store, "P-1", {"A": 2})
    line_a = order.lines[0].line_id
    before = store.orders.get(order.id)
    with pytest.raises(InvalidCommand, match="but 2 are ready to collect"):
        store.pickups.collect(fo_id, [LineQuantity(line_id=line_a, sku="A", quantity=3)])
    with pytest.raises(InvalidCommand, match="is not a line"):
        store.pickups.collect(fo_id, [LineQuantity(line_id="nope", sku="A", quantity=1)])
    after = store.orders.get(order.id)
    assert (after.version, after.status) == (before.version, before.status)
    assert after.fulfillment_order(fo_id).shipments == []
    assert stock_rows(store)[("store-rome", "A")].on_hand == 5
    # Collecting something never made ready is an illegal step, also changing nothing.
    other = pickup(store, "P-2", {"B": 1})
    with pytest.raises(IllegalTransition):
        store.pickups.collect(other.fulfillment_orders[0].id)


def test_only_a_pickup_at_its_own_store_can_be_ready(store: Oms) -> None:
    store.inventory.receive("milan", "A", 3)
    shipped = store.orders.place(order_command("S-1", {"A": 1}))
    store.fulfillment.release(shipped.id)
    with pytest.raises(PickupNotReady, match="not collected at"):
        store.pickups.ready(shipped.fulfillment_orders[0].id)
    assert store.fulfillment.get(shipped.fulfillment_orders[0].id).status is F.RELEASED


def test_expiry_cancels_what_was_not_collected_and_restocks(store: Oms,
                                                            clock: Clock) -> None:
    untouched, fo_1 = ready_pickup(store, "P-1", {"A": 2})
    partly, fo_2 = ready_pickup(store, "P-2", {"B": 3})
    store.pickups.collect(fo_2, [LineQuantity(line_id=partly.lines[0].line_id, sku="B",
                                              quantity=1)])
    assert store.pickups.expire_uncollected() == 0  # not due yet
    clock.now = START + timedelta(days=3)
    assert sorted(fo.id for fo in store.pickups.uncollected()) == sorted([fo_1, fo_2])
    assert store.pickups.expire_uncollected() == 2
    assert store.pickups.expire_uncollected() == 0  # run twice: nothing more

    first = store.orders.get(untouched.id)
    assert first.status is O.CANCELLED
    assert first.fulfillment_order(fo_1).status is F.CANCELLED
    second = store.orders.get(partly.id)
    assert second.status is O.DELIVERED  # what was collected is delivered
    assert second.lines[0].cancelled_quantity == 2
    assert [x.quantity for x in second.fulfillment_order(fo_2).lines] == [1]
    rows = stock_rows(store)
    assert (rows[("store-rome", "A")].on_hand, rows[("store-rome", "A")].reserved) == (5, 0)
    assert (rows[("store-rome", "B")].on_hand, rows[("store-rome", "B")].reserved) == (4, 0)
    assert store.inventory.available("B", location="store-rome") == 4
    assert [e.event_type for e in store.orders.timeline(partly.id)].count("pickup.expired") == 1
    assert store.pickups.uncollected() == []
    assert store.inventory.ledger_mismatches() == []


def test_concurrent_expiry_expires_each_pickup_once(store: Oms, clock: Clock) -> None:
    fos = [ready_pickup(store, f"P-{i}", {"A": 1})[1] for i in range(4)]
    clock.now = START + timedelta(days=4)
    counts: list[int] = []
    errors: list[BaseException] = []

    def sweep() -> None:
        try:
            counts.append(store.pickups.expire_uncollected())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(counts) == 4
    assert all(store.fulfillment.get(fo).status is F.CANCELLED for fo in fos)
    assert stock_rows(store)[("store-rome", "A")].reserved == 0
    releases = [e for e in store.inventory.ledger("store-rome", "A")
                if e.kind is MovementKind.RELEASE]
    assert len(releases) == 4  # each pickup's unit released once
    assert store.inventory.ledger_mismatches() == []


def test_the_writes_are_commands(store: Oms, clock: Clock) -> None:
    order = pickup(store, "P-1", {"A": 1})
    store.fulfillment.release(order.id)
    fo_id = order.fulfillment_orders[0].id
    ready = store.execute(store.command("mark_ready_for_pickup",
                                        {"fulfillment_order_id": fo_id}))
    assert ready.status is F.READY_FOR_PICKUP
    assert store.execute(MarkReadyForPickup(fulfillment_order_id=fo_id)).status is ready.status
    clock.now = START + timedelta(days=10)
    assert store.execute(ExpireUncollectedPickups(now=START + timedelta(days=1))) == 0
    assert store.execute(store.command("expire_uncollected_pickups", {})) == 1
    with pytest.raises(IllegalTransition):
        store.execute(CollectPickup(fulfillment_order_id=fo_id))


def test_bad_settings_are_refused(make_oms: Callable[..., Oms]) -> None:
    from omskit.domain.errors import InvalidSettings

    with pytest.raises(InvalidSettings, match=r"pickup\.collect_days"):
        make_oms(settings={"pickup": {"collect_days": 0}})
    with pytest.raises(InvalidSettings, match=r"pickup\.colect_days: unknown"):
        make_oms(settings={"pickup": {"colect_days": 2}})
