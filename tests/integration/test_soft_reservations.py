"""Soft reservations (carts) and stock-added notifications, on every backend."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

import attrs
import pytest
import sqlalchemy as sa

from omskit import Oms
from omskit.domain.errors import CartNotFound, InvalidCommand, LocationNotFound
from omskit.domain.inventory import Capability, LocationKind, MovementKind
from omskit.domain.order import Order
from omskit.domain.promise import CartLine
from omskit.domain.values import Coordinates, DeliveryKind, DeliveryMethod
from omskit.services.carts import convert_cart
from omskit.services.orders import OrderService
from omskit.testing import TestDatabase, location, table_contents
from tests.support import MILAN, ROME, stock_rows

NOW = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)
TTL = timedelta(minutes=30)
NEAR_MILAN = Coordinates(lat=45.5, lon=9.2)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def shop(make_oms: Callable[..., Oms], clock: Clock) -> Oms:
    oms = make_oms(clock=clock, settings={"inventory": {"channel_buffers": {"marketplace": 2}}})
    oms.inventory.save_location(location("milan", *MILAN))
    oms.inventory.save_location(location("rome", *ROME))
    oms.inventory.receive("milan", "A", 5)
    oms.inventory.receive("rome", "A", 5)
    oms.inventory.receive("rome", "B", 3)
    return oms


def statuses(oms: Oms, cart_id: str | None = None) -> list[tuple[str, str, int, str]]:
    sr = oms.tables.soft_reservations
    stmt = sa.select(sr.c.location, sr.c.sku, sr.c.quantity, sr.c.status)
    if cart_id is not None:
        stmt = stmt.where(sr.c.cart_id == cart_id)
    with oms.engine.connect() as conn:
        return sorted((a, b, c, d) for a, b, c, d in conn.execute(stmt))


def reserved(oms: Oms) -> dict[tuple[str, str], int]:
    return {key: row.reserved for key, row in stock_rows(oms).items() if row.reserved}


def test_hold_reserves_at_the_routed_locations(shop: Oms) -> None:
    hold = shop.carts.hold("cart-1", {"A": 2, "B": 1}, ttl=TTL, channel="web",
                           destination=NEAR_MILAN)
    assert hold.complete
    assert hold.expires_at == NOW + TTL
    # Nearest: milan has A, but only rome has B; routing decides as it would for the order.
    assert hold.units() == {"A": 2, "B": 1}
    assert reserved(shop) == {(loc, sku): q for loc, sku, q, _ in statuses(shop)}
    assert all(status == "active" for *_, status in statuses(shop))
    assert shop.inventory.available("A") == 8
    assert shop.inventory.available("B") == 2
    assert shop.carts.get("cart-1") == hold
    entries = [e for loc in ("milan", "rome") for e in shop.inventory.ledger(loc, "A")
               if e.reference == "cart:cart-1"]
    assert [(e.kind, e.reserved_delta) for e in entries] == [(MovementKind.SOFT_RESERVE, 2)]
    assert shop.inventory.ledger_mismatches() == []


def test_holding_again_replaces_the_hold_and_never_doubles(shop: Oms, clock: Clock) -> None:
    first = shop.carts.hold("cart-1", [CartLine(sku="A", quantity=3)], ttl=TTL, channel="web",
                            destination=NEAR_MILAN)
    clock.now = NOW + timedelta(minutes=10)
    again = shop.carts.hold("cart-1", [CartLine(sku="A", quantity=3)], ttl=TTL, channel="web",
                            destination=NEAR_MILAN)
    assert again.units() == first.units() == {"A": 3}
    assert again.locations() == first.locations() == ["milan"]
    assert again.expires_at == clock.now + TTL  # held again: a new time-to-live
    assert reserved(shop) == {("milan", "A"): 3}
    assert statuses(shop) == [("milan", "A", 3, "active"), ("milan", "A", 3, "released")]
    # Different lines replace the hold.
    changed = shop.carts.hold("cart-1", {"B": 1}, ttl=TTL, channel="web",
                              destination=NEAR_MILAN)
    assert changed.units() == {"B": 1}
    assert reserved(shop) == {("rome", "B"): 1}
    assert shop.inventory.ledger_mismatches() == []


def test_a_hold_reports_what_it_could_not_hold(shop: Oms) -> None:
    hold = shop.carts.hold("cart-1", {"B": 5, "C": 1}, ttl=TTL, channel="web")
    assert hold.units() == {"B": 3}
    assert dict(hold.short) == {"B": 2, "C": 1}
    assert not hold.complete
    nothing = shop.carts.hold("cart-2", {"B": 1}, ttl=TTL, channel="web")
    assert nothing.held == ()
    assert nothing.expires_at is None
    assert nothing.short == {"B": 1}
    with pytest.raises(CartNotFound):
        shop.carts.get("cart-2")


def test_a_hold_follows_the_routing_rules(shop: Oms) -> None:
    # The marketplace may not take the last 2 units per location and SKU.
    hold = shop.carts.hold("cart-1", {"B": 3}, ttl=TTL, channel="marketplace")
    assert hold.units() == {"B": 1}
    assert dict(hold.short) == {"B": 2}
    store = location("store-turin", 45.07, 7.69, kind=LocationKind.STORE,
                     capabilities=(Capability.PICKUP,))
    shop.inventory.save_location(store)
    shop.inventory.receive("store-turin", "A", 1)
    pickup = DeliveryMethod(kind=DeliveryKind.PICKUP, pickup_location="store-turin")
    at_store = shop.carts.hold("cart-2", {"A": 2}, ttl=TTL, channel="web", delivery=pickup)
    assert at_store.locations() == ["store-turin"]
    assert dict(at_store.short) == {"A": 1}


def test_orders_cannot_take_held_units(shop: Oms) -> None:
    shop.carts.hold("cart-1", {"B": 3}, ttl=TTL, channel="web")
    from omskit.testing import order_command

    order = shop.orders.place(order_command("W-1", {"B": 1}))
    assert order.status.value == "backordered"


def test_release_gives_the_units_back_once(shop: Oms) -> None:
    shop.carts.hold("cart-1", {"A": 2, "B": 1}, ttl=TTL, channel="web", destination=NEAR_MILAN)
    assert shop.carts.release("cart-1") == 3
    assert reserved(shop) == {}
    assert {s for *_, s in statuses(shop)} == {"released"}
    assert shop.carts.release("cart-1") == 0  # again: nothing more
    with pytest.raises(CartNotFound):
        shop.carts.release("cart-unknown")
    with pytest.raises(CartNotFound):
        shop.carts.get("cart-1")
    assert shop.inventory.ledger_mismatches() == []


def test_expire_releases_lapsed_holds_exactly_once(shop: Oms, clock: Clock) -> None:
    shop.carts.hold("cart-1", {"A": 2}, ttl=TTL, channel="web", destination=NEAR_MILAN)
    clock.now = NOW + timedelta(minutes=20)
    shop.carts.hold("cart-2", {"B": 1}, ttl=TTL, channel="web")
    assert shop.carts.expire(NOW + TTL - timedelta(seconds=1)) == 0
    assert shop.carts.expire(NOW + TTL) == 1  # at the expiry instant it has lapsed
    assert statuses(shop, "cart-1") == [("milan", "A", 2, "expired")]
    assert reserved(shop) == {("rome", "B"): 1}
    assert shop.carts.expire(NOW + TTL) == 0
    clock.now = NOW + timedelta(hours=2)
    assert shop.carts.expire() == 1  # by the clock
    assert reserved(shop) == {}
    assert shop.carts.release("cart-2") == 0
    assert shop.inventory.ledger_mismatches() == []


def test_expire_works_through_more_than_one_batch(shop: Oms, monkeypatch: pytest.MonkeyPatch
                                                  ) -> None:
    monkeypatch.setattr("omskit.services.carts.EXPIRE_BATCH", 2)
    for i in range(5):
        shop.carts.hold(f"cart-{i}", {"A": 1}, ttl=TTL, channel="web")
    assert shop.carts.expire(NOW + TTL) == 5
    assert reserved(shop) == {}


def test_lapsed_holds_block_orders_until_swept(shop: Oms, clock: Clock) -> None:
    from omskit.testing import order_command

    shop.carts.hold("cart-1", {"B": 3}, ttl=TTL, channel="web")
    clock.now = NOW + timedelta(hours=1)
    assert shop.inventory.available("B") == 0  # lapsed, still held until a sweeper runs
    assert shop.carts.expire() == 1
    order = shop.orders.place(order_command("W-1", {"B": 3}))
    assert order.status.value == "allocated"


def _two_sweepers(first: Oms, second: Oms, at: datetime) -> list[int]:
    barrier = threading.Barrier(2)
    results: list[int] = []
    errors: list[BaseException] = []

    def sweep(oms: Oms) -> None:
        try:
            barrier.wait()
            results.append(oms.carts.expire(at))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=sweep, args=(o,)) for o in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return results


def test_two_concurrent_sweepers_release_each_hold_once(
        make_oms: Callable[..., Oms], omskit_database: TestDatabase, clock: Clock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    one = make_oms(clock=clock)
    two = make_oms(clock=clock)  # another instance (engine, pool) on the same database
    one.inventory.save_location(location("milan", *MILAN))
    one.inventory.save_location(location("rome", *ROME))
    for sku in ("A", "B", "C"):
        one.inventory.receive("milan", sku, 100)
        one.inventory.receive("rome", sku, 100)
    carts = 40
    for i in range(carts):
        one.carts.hold(f"cart-{i}", {"A": 1, "B": 2, "C": 1}, ttl=TTL, channel="web",
                       destination=NEAR_MILAN if i % 2 else Coordinates(lat=41.9, lon=12.5))
    rows = len(statuses(one))
    assert rows == 3 * carts
    monkeypatch.setattr("omskit.services.carts.EXPIRE_BATCH", 7)  # many small transactions
    for _ in range(3):
        results = _two_sweepers(one, two, NOW + TTL)
        if rows:
            assert sum(results) == rows, results
            rows = 0
        else:
            assert results == [0, 0]
    assert reserved(one) == {}
    assert {s for *_, s in statuses(one)} == {"expired"}
    assert one.inventory.ledger_mismatches() == []
    assert one.inventory.available("A") == 200


def test_sweeper_and_release_race_for_the_same_holds(
        make_oms: Callable[..., Oms], clock: Clock) -> None:
    one = make_oms(clock=clock)
    two = make_oms(clock=clock)
    one.inventory.save_location(location("milan", *MILAN))
    one.inventory.receive("milan", "A", 100)
    for i in range(20):
        one.carts.hold(f"cart-{i}", {"A": 2}, ttl=TTL, channel="web")
    clock.now = NOW + TTL
    released: list[int] = []
    expired: list[int] = []
    barrier = threading.Barrier(2)

    def sweep() -> None:
        barrier.wait()
        expired.append(two.carts.expire())

    def release() -> None:
        barrier.wait()
        released.extend(one.carts.release(f"cart-{i}") for i in range(20))

    threads = [threading.Thread(target=sweep), threading.Thread(target=release)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert expired[0] * 2 + sum(released) == 40
    assert reserved(one) == {}
    assert one.inventory.ledger_mismatches() == []


def test_convert_cart_hands_the_units_to_the_order_in_the_same_transaction(shop: Oms) -> None:
    shop.carts.hold("cart-1", {"B": 3}, ttl=TTL, channel="web")
    with shop.unit_of_work() as uow:
        # Without converting, an order could not reserve the held units.
        assert not uow.inventory.reserve("rome", "B", 3, "order-1", NOW)
        assert convert_cart(uow, "cart-1", NOW) == 3
        assert uow.inventory.reserve("rome", "B", 3, "order-1", NOW)
        uow.commit()
    assert statuses(shop) == [("rome", "B", 3, "converted")]
    assert reserved(shop) == {("rome", "B"): 3}
    with shop.unit_of_work() as uow:
        assert convert_cart(uow, "cart-1", NOW) == 0  # converted once
        assert convert_cart(uow, "cart-unknown", NOW) == 0
        uow.commit()
    assert shop.carts.expire(NOW + timedelta(days=1)) == 0
    assert shop.inventory.ledger_mismatches() == []


def test_convert_rolls_back_with_the_order(shop: Oms) -> None:
    shop.carts.hold("cart-1", {"B": 3}, ttl=TTL, channel="web")
    before = table_contents(shop)
    with shop.unit_of_work() as uow:
        assert convert_cart(uow, "cart-1", NOW) == 3
        # the placement fails: no commit
    assert table_contents(shop) == before


@pytest.mark.parametrize(("kwargs", "problems"), [
    ({"cart_id": "", "lines": {"A": 1}}, ["cart_id: must be a non-empty string"]),
    ({"lines": {}}, ["lines: at least one line is needed"]),
    ({"lines": {"A": -1}}, ["lines[0].quantity: -1 is outside 1..1000000"]),
    ({"ttl": timedelta(seconds=5)}, ["ttl: 0:00:05 is outside 0:01:00..7 days, 0:00:00"]),
    ({"ttl": timedelta(days=8)}, ["ttl: 8 days, 0:00:00 is outside 0:01:00..7 days, 0:00:00"]),
    ({"ttl": 60}, ["ttl: must be a timedelta, not int"]),
    ({"channel": "Web Shop"}, ["channel: 'Web Shop' is not a code like 'web' or 'dc-milan'"]),
    ({"country": "it", "destination": "Milan"},
     ["destination: must be Coordinates or None", "country: 'it' is not like 'IT'"]),
])
def test_bad_input_raises_and_writes_nothing(shop: Oms, kwargs: dict[str, object],
                                             problems: list[str]) -> None:
    shop.carts.hold("cart-1", {"A": 1}, ttl=TTL, channel="web")
    before = table_contents(shop)
    arguments: dict[str, object] = {"cart_id": "cart-1", "lines": {"A": 2}, "ttl": TTL,
                                    "channel": "web", **kwargs}
    with pytest.raises(InvalidCommand) as caught:
        shop.carts.hold(**arguments)  # type: ignore[arg-type]
    assert list(caught.value.problems) == problems
    assert table_contents(shop) == before


def test_a_failing_re_hold_keeps_the_previous_hold(shop: Oms) -> None:
    shop.carts.hold("cart-1", {"A": 1}, ttl=TTL, channel="web")
    before = table_contents(shop)
    pickup = DeliveryMethod(kind=DeliveryKind.PICKUP, pickup_location="store-nowhere")
    with pytest.raises(LocationNotFound):
        shop.carts.hold("cart-1", {"A": 1}, ttl=TTL, channel="web", delivery=pickup)
    with pytest.raises(InvalidCommand):
        shop.carts.expire(datetime(2026, 1, 1))
    assert table_contents(shop) == before


# -- stock events reach the backorder handler ---------------------------------------------


@pytest.fixture
def told(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """SKUs the core's stock-event handler offered to waiting backorders, call by call."""
    calls: list[list[str]] = []

    def record(self: OrderService, skus: Iterable[str] | None = None) -> list[Order]:
        calls.append(sorted(set(skus or ())))
        return []

    monkeypatch.setattr(OrderService, "allocate_waiting", record)
    return calls


def test_receipts_reach_the_backorder_handler_after_commit(shop: Oms,
                                                        told: list[list[str]]) -> None:
    shop.inventory.receive("milan", "A", 1, idempotency_key="grn-1")
    shop.inventory.receive("milan", "A", 1, idempotency_key="grn-1")  # replay: nothing new
    assert told == [["A"]]
    shop.inventory.adjust("milan", "B", 2, reason="found")
    shop.inventory.adjust("milan", "B", -1, reason="damaged")
    shop.inventory.adjust("milan", "B", 2, reason="found", idempotency_key="count-1")
    shop.inventory.adjust("milan", "B", 2, reason="found", idempotency_key="count-1")
    assert told == [["A"], ["B"], ["B"]]
    told.clear()
    supply = shop.inventory.register_supply("rome", "C", 4, NOW + timedelta(days=1))
    shop.inventory.transfer("A", "milan", "rome", 1, eta=NOW + timedelta(days=1))
    assert told == []  # nothing on hand yet
    shop.inventory.receive_supply(supply.id)
    shop.inventory.receive_supply(supply.id)
    shop.inventory.transfer("A", "rome", "milan", 1)
    assert told == [["C"], ["A"]]
    told.clear()
    shop.carts.hold("cart-1", {"A": 1}, ttl=TTL, channel="web")
    assert told == []
    shop.carts.release("cart-1")
    assert told == [["A"]]


def test_a_failed_receipt_tells_nobody(shop: Oms, told: list[list[str]]) -> None:
    with pytest.raises(LocationNotFound):
        shop.inventory.receive("nowhere", "A", 1)
    with pytest.raises(InvalidCommand):
        shop.inventory.receive("milan", "A", 0)
    assert told == []


def test_concurrent_holds_of_one_cart_hold_it_once(make_oms: Callable[..., Oms],
                                                   clock: Clock) -> None:
    one = make_oms(clock=clock)
    two = make_oms(clock=clock)
    one.inventory.save_location(location("milan", *MILAN))
    one.inventory.receive("milan", "A", 100)
    errors: list[BaseException] = []

    def hold(oms: Oms, barrier: threading.Barrier) -> None:
        try:
            barrier.wait()
            oms.carts.hold("cart-1", {"A": 3}, ttl=TTL, channel="web")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    for round_ in range(5):
        barrier = threading.Barrier(2)
        threads = [threading.Thread(target=hold, args=(o, barrier)) for o in (one, two)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        assert reserved(one) == {("milan", "A"): 3}, f"round {round_}"
        assert [s for *_, s in statuses(one)].count("active") == 1
    assert one.inventory.ledger_mismatches() == []


def test_placing_the_order_converts_the_cart_hold(shop: Oms) -> None:
    from omskit.testing import order_command

    shop.carts.hold("cart-9", {"B": 3}, ttl=TTL, channel="web", destination=NEAR_MILAN)
    # Every B is held for the cart: another customer's order must wait.
    other = shop.orders.place(order_command("other-1", {"B": 1}, lat=45.5, lon=9.2))
    assert [(b.sku, b.quantity) for b in other.backordered()] == [("B", 1)]
    command = attrs.evolve(order_command("cart-order", {"B": 3}, lat=45.5, lon=9.2),
                           cart_id="cart-9")
    order = shop.orders.place(command)
    assert order.backordered() == ()
    assert [(fo.location, fo.units) for fo in order.fulfillment_orders] == [("rome", 3)]
    assert statuses(shop, "cart-9") == [("rome", "B", 3, "converted")]
    # The units moved from the cart to the order, never to anyone else.
    assert reserved(shop)[("rome", "B")] == 3
    assert shop.inventory.ledger_mismatches() == []
    # Placing the same order again converts nothing twice.
    assert shop.orders.place(command).id == order.id
    assert reserved(shop)[("rome", "B")] == 3


def test_a_hold_that_loses_a_split_line_plans_it_again_whole(
        shop: Oms, monkeypatch: pytest.MonkeyPatch) -> None:
    """A line split over two locations whose soft reservations both lose a race is planned
    again as one line of 8, not as two entries of line 1 (which the plan check refused:
    'line 1 planned 8 of 3')."""
    from omskit.store.inventory import InventoryRepository

    real = InventoryRepository.soft_reserve
    lost: list[tuple[str, str, int]] = []

    def racing(self: InventoryRepository, location: str, sku: str, quantity: int,
               cart_id: str, at: datetime) -> bool:
        if len(lost) < 2:  # another cart took these units first; they came back later
            lost.append((location, sku, quantity))
            self.stock_cache.forget(sku)
            return False
        return real(self, location, sku, quantity, cart_id, at)

    monkeypatch.setattr(InventoryRepository, "soft_reserve", racing)
    hold = shop.carts.hold("cart-1", {"A": 8}, ttl=TTL, channel="web")
    assert sorted(loc for loc, _, _ in lost) == ["milan", "rome"]
    assert sum(r.quantity for r in hold.held) == 8
    assert hold.short == {}
