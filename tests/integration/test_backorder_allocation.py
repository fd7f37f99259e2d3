"""Backorder allocation scales with the stock that arrives, not with the queue: a receipt of
one unit routes one waiting order, however many wait, and reads the queue in batches."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from omskit import Oms
from omskit.services.orders import OrderService
from omskit.store.orders import OrderRepository
from omskit.testing import location, order_command
from tests.support import MILAN

WAITING = 450


@pytest.fixture
def queue(make_oms: Callable[..., Oms]) -> Oms:
    oms = make_oms()
    oms.inventory.save_location(location("milan", *MILAN))
    oms.inventory.receive("milan", "HOT", 1)
    oms.inventory.receive("milan", "COLD", 5)
    oms.orders.place(order_command("first", {"HOT": 1}))
    oms.orders.place_many(order_command(f"W-{n:04d}", {"HOT": 1}) for n in range(WAITING))
    return oms


def test_one_unit_routes_one_order_whatever_waits(queue: Oms,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    routed: list[str] = []
    reads: list[int] = []
    real_allocate = OrderService.allocate_backorders
    real_get_many = OrderRepository.get_many

    def allocate(self: OrderService, order_id: str) -> object:
        routed.append(order_id)
        return real_allocate(self, order_id)

    def get_many(self: OrderRepository, order_ids: list[str]) -> object:
        reads.append(len(order_ids))
        return real_get_many(self, order_ids)

    monkeypatch.setattr(OrderService, "allocate_backorders", allocate)
    monkeypatch.setattr(OrderRepository, "get_many", get_many)
    queue.inventory.receive("milan", "HOT", 1)
    # The oldest waiting order took the unit; nobody else was routed for nothing.
    oldest = queue.orders.find_by_external("web", "W-0000")
    assert oldest is not None
    assert routed == [oldest.id]
    assert oldest.backordered() == ()
    # The queue was read in batches of at most 200 orders, not one order at a time.
    assert [n for n in reads if n] == [200, 200, 50]
    # Stock of another SKU wakes nobody waiting for HOT.
    routed.clear()
    queue.inventory.receive("milan", "COLD", 10)
    assert routed == []
    assert len(queue.orders.waiting(["HOT"])) == WAITING - 1


def test_a_bigger_receipt_serves_as_many_as_it_can_in_priority_order(
        queue: Oms, monkeypatch: pytest.MonkeyPatch) -> None:
    queue.inventory.receive("milan", "HOT", 3)
    served = [f"W-{n:04d}" for n in range(3)]
    for external_id in served:
        order = queue.orders.find_by_external("web", external_id)
        assert order is not None
        assert order.backordered() == ()
    assert len(queue.orders.waiting(["HOT"])) == WAITING - 3
    # allocate_waiting with nothing left to promise reads nothing and routes nobody.
    def unexpected(*_args: object) -> None:
        raise AssertionError("the queue was read")

    monkeypatch.setattr(OrderService, "waiting", unexpected)
    assert queue.orders.allocate_waiting(["HOT"]) == []
