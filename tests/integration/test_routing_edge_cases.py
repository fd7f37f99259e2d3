"""Routing edge cases found in review, each kept as a regression test (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest
import sqlalchemy as sa

from omskit import Oms, hookimpl
from omskit.domain.errors import InvalidCommand
from omskit.domain.lifecycle import OrderStatus
from omskit.domain.order import Order
from omskit.domain.routing import Exclusion, RoutingRequest
from omskit.domain.values import Problem
from omskit.store.inventory import InventoryRepository
from omskit.testing import location, order_command

MILANO = (45.4642, 9.19)
ROMA = (41.9028, 12.4964)
PALERMO = (38.1157, 13.3615)


def _site(oms: Oms, code: str, where: tuple[float, float], stock: dict[str, int],
          **kwargs: Any) -> None:
    oms.inventory.save_location(location(code, *where, **kwargs))
    for sku, units in stock.items():
        oms.inventory.receive(code, sku, units)


def test_nearest_respects_max_shipments(make_oms: Callable[..., Oms]) -> None:
    oms = make_oms(settings={"routing": {"max_shipments": 1}})
    _site(oms, "dc-milano", MILANO, {"A": 1})
    _site(oms, "dc-roma", ROMA, {"A": 1})
    order = oms.orders.place(order_command("E-1", {"A": 2}))
    assert [(fo.location, fo.units) for fo in order.fulfillment_orders] == [("dc-milano", 1)]
    assert [(b.sku, b.quantity) for b in order.backordered()] == [("A", 1)]


def test_a_split_penalty_never_makes_a_single_shipment_dearer(
        make_oms: Callable[..., Oms]) -> None:
    oms = make_oms(routing_strategy="optimal",
                   settings={"routing": {"backorder_penalty": 10, "split_penalty": 20}})
    _site(oms, "dc-milano", MILANO, {"A": 5}, handling_cost="1.00")
    order = oms.orders.place(order_command("E-1", {"A": 1}))
    assert order.status is OrderStatus.ALLOCATED
    (decision,) = oms.orders.explain(order.id)
    assert decision.cost.total == pytest.approx(1.0)
    assert "split_penalty" not in decision.cost.by_term


def test_a_failing_order_in_the_queue_is_skipped(make_oms: Callable[..., Oms], clock_at: Any,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    failing = {"on": False}

    class Flaky:
        @hookimpl
        def omskit_routing_rules(self, request: RoutingRequest) -> list[Exclusion]:
            if failing["on"] and request.customer_id == "c-first":
                raise RuntimeError("rule service down")
            return []

    oms = make_oms(plugins=[Flaky()], clock=clock_at)
    _site(oms, "dc-milano", MILANO, {"A": 1})
    oms.orders.place(order_command("taken", {"A": 1}))
    clock_at.tick()
    first = oms.orders.place(order_command("first", {"A": 1}, customer_id="c-first"))
    clock_at.tick()
    second = oms.orders.place(order_command("second", {"A": 1}, customer_id="c-second"))
    failing["on"] = True
    item = oms.inventory.receive("dc-milano", "A", 1)  # committed; must not raise
    assert item.on_hand == 2
    assert oms.orders.get(first.id).status is OrderStatus.BACKORDERED
    assert oms.orders.get(second.id).status is OrderStatus.ALLOCATED
    assert "allocating backorders of order" in caplog.text


class _Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def tick(self) -> None:
        self.now += timedelta(minutes=1)


@pytest.fixture
def clock_at() -> _Clock:
    return _Clock()


def test_capacity_is_taken_only_where_units_were_reserved(
        make_oms: Callable[..., Oms], monkeypatch: pytest.MonkeyPatch) -> None:
    oms = make_oms()
    _site(oms, "dc-near", MILANO, {"A": 1}, daily_capacity=1)
    _site(oms, "dc-far", ROMA, {"A": 5})
    real_reserve_many = InventoryRepository.reserve_many
    lost = []

    def reserve_many_losing_once(self: InventoryRepository,
                                 items: Sequence[tuple[str, str, int]], reference: str,
                                 at: datetime) -> list[bool]:
        # A concurrent order takes dc-near's unit between planning and reserving.
        if not lost and any(location_code == "dc-near" for location_code, _, _ in items):
            lost.append(True)
            stock = oms.tables.stock_items
            self._conn.execute(stock.update().where(stock.c.location == "dc-near")
                               .values(on_hand=stock.c.on_hand - 1))
        return real_reserve_many(self, items, reference, at)

    monkeypatch.setattr(InventoryRepository, "reserve_many", reserve_many_losing_once)
    first = oms.orders.place(order_command("o1", {"A": 1}))
    assert [fo.location for fo in first.fulfillment_orders] == ["dc-far"]
    with oms.engine.connect() as conn:
        load = conn.execute(sa.select(oms.tables.location_load.c.location,
                                      oms.tables.location_load.c.fulfillment_orders)).all()
    assert [tuple(row) for row in load] == []  # dc-near shipped nothing: no slot taken
    oms.inventory.receive("dc-near", "A", 1)
    second = oms.orders.place(order_command("o2", {"A": 1}))
    assert [fo.location for fo in second.fulfillment_orders] == ["dc-near"]


def test_a_held_order_converts_its_cart_when_the_hold_is_released(
        make_oms: Callable[..., Oms]) -> None:
    oms = make_oms()
    _site(oms, "dc-milano", MILANO, {"A": 2})
    oms.carts.hold("cart-1", {"A": 2}, ttl=timedelta(minutes=30), channel="web")
    command = attrs.evolve(order_command("E-1", {"A": 2}), cart_id="cart-1")
    placed = oms.orders.place(command)
    held = oms.orders.place_hold(placed.id, "fraud_review", "manual check")
    assert held.status is OrderStatus.ON_HOLD
    # Held after routing: the cart was converted at placement.
    assert oms.orders.get(placed.id).cart_id == "cart-1"
    released = oms.orders.release_hold(placed.id, "fraud_review")
    assert released.backordered() == ()


class ReviewTagged:
    """Holds every order tagged ``review`` at placement."""

    @hookimpl
    def omskit_validate_order(self, order: Order) -> list[Problem]:
        return [Problem(code="review", message="manual review")] if "review" in order.tags \
            else []


def test_an_order_held_at_placement_converts_its_cart_on_release(
        make_oms: Callable[..., Oms]) -> None:
    oms = make_oms(plugins=[ReviewTagged()])
    _site(oms, "dc-milano", MILANO, {"A": 2})
    oms.carts.hold("cart-1", {"A": 2}, ttl=timedelta(minutes=30), channel="web")
    command = attrs.evolve(order_command("E-1", {"A": 2}), cart_id="cart-1",
                           tags=("review",))
    held = oms.orders.place(command)
    assert held.status is OrderStatus.ON_HOLD
    # Still the cart's: nobody else can take the two units while the order is reviewed.
    assert oms.inventory.stock_item("dc-milano", "A").reserved == 2  # type: ignore[union-attr]
    assert oms.orders.place(order_command("other", {"A": 1}, customer_id="c-2")) \
        .status is OrderStatus.BACKORDERED
    released = oms.orders.release_hold(held.id, "review")
    assert released.status is OrderStatus.ALLOCATED
    sr = oms.tables.soft_reservations
    with oms.engine.connect() as conn:
        assert conn.execute(sa.select(sr.c.status)).scalars().all() == ["converted"]
    assert oms.inventory.stock_item("dc-milano", "A").reserved == 2  # type: ignore[union-attr]
    assert oms.inventory.ledger_mismatches() == []


def test_cancelling_frees_units_for_waiting_orders(make_oms: Callable[..., Oms],
                                                    clock_at: _Clock) -> None:
    oms = make_oms(clock=clock_at)
    _site(oms, "dc-milano", MILANO, {"A": 1})
    first = oms.orders.place(order_command("first", {"A": 1}))
    clock_at.tick()
    waiting = oms.orders.place(order_command("waiting", {"A": 1}, customer_id="c-2"))
    assert waiting.status is OrderStatus.BACKORDERED
    oms.orders.cancel(first.id, "changed mind")
    assert oms.orders.get(waiting.id).status is OrderStatus.ALLOCATED


def test_a_later_routing_does_not_invent_a_promised_date(make_oms: Callable[..., Oms],
                                                         clock_at: _Clock) -> None:
    oms = make_oms(routing_strategy="optimal", clock=clock_at)
    _site(oms, "dc-palermo", PALERMO, {"A": 1})
    _site(oms, "dc-milano", MILANO, {"B": 1})
    oms.orders.place(order_command("taken", {"B": 1}))
    clock_at.tick()
    order = oms.orders.place(order_command("E-1", {"A": 1, "B": 1}, customer_id="c-2"))
    assert order.promised_date is None  # partly backordered: no date promised
    oms.inventory.receive("dc-milano", "B", 1)  # the waiting B is allocated now
    later = oms.orders.get(order.id)
    assert later.backordered() == ()
    # Milano's part alone would arrive sooner than Palermo's: no date from half the order.
    assert later.promised_date is None


def test_waiting_refuses_a_bare_string(make_oms: Callable[..., Oms]) -> None:
    oms = make_oms()
    with pytest.raises(InvalidCommand, match="skus: must be a collection of strings, not 'SKU-1'"):
        oms.orders.waiting("SKU-1")
