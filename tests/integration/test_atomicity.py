"""Idempotent placement and all-or-nothing writes, on every backend."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from omskit import Oms
from omskit.domain.commands import NewLine, PlaceOrder
from omskit.domain.errors import (
    IdempotencyConflict,
    InvalidCommand,
    LocationNotFound,
    OrderNotFound,
)
from omskit.domain.events import RoutedQuantity
from omskit.domain.lifecycle import FulfillmentStatus, OrderStatus
from omskit.domain.order import Order
from omskit.domain.routing import Candidate, RoutingPlan, RoutingRequest
from omskit.domain.values import Customer, Problem
from omskit.hookspecs import hookimpl
from omskit.ports import InventoryReader
from omskit.routing.engine import InvalidRoutingPlan
from omskit.testing import location, order_command, table_contents
from tests.support import MILAN, ROME, active_reservations, stock_rows

O = OrderStatus  # noqa: E741
F = FulfillmentStatus


def stocked(oms: Oms) -> Oms:
    oms.inventory.save_location(location("milan", *MILAN))
    oms.inventory.save_location(location("rome", *ROME))
    oms.inventory.receive("milan", "A", 10)
    oms.inventory.receive("rome", "A", 10)
    oms.inventory.receive("rome", "B", 3)
    return oms


def test_placing_the_same_order_twice_returns_the_first(oms: Oms) -> None:
    stocked(oms)
    first = oms.orders.place(order_command("E-1", {"A": 2}))
    before = table_contents(oms)
    again = oms.orders.place(order_command("E-1", {"A": 2}))
    assert again.id == first.id
    assert table_contents(oms) == before
    # Same channel and external id with other content: refused, no write (issue 9).
    with pytest.raises(IdempotencyConflict):
        oms.orders.place(order_command("E-1", {"A": 9, "B": 1}))
    assert table_contents(oms) == before
    # The same external id on another channel is another order.
    assert oms.orders.place(order_command("E-1", {"A": 1}, channel="shop")).id != first.id
    assert oms.orders.find_by_external("web", "E-1").id == first.id  # type: ignore[union-attr]


def test_concurrent_duplicate_placements_make_one_order(oms: Oms) -> None:
    stocked(oms)
    command = order_command("E-1", {"A": 3, "B": 1})
    barrier = threading.Barrier(4)
    ids: list[str] = []
    errors: list[BaseException] = []

    def deliver() -> None:
        barrier.wait()
        try:
            ids.append(oms.orders.place(command).id)
        except BaseException as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert len(ids) == 4
    assert len(set(ids)) == 1
    assert [s.id for s in oms.orders.search()] == ids[:1]
    # Stock was reserved for one order only: rome, the one location with both SKUs.
    assert active_reservations(oms) == {("rome", "A"): 3, ("rome", "B"): 1}
    assert sum(r.reserved for r in stock_rows(oms).values()) == 4
    assert oms.inventory.ledger_mismatches() == []


def bad_commands() -> list[Callable[[], Any]]:
    good = order_command("E-1", {"A": 1})
    return [
        lambda: PlaceOrder(channel="web", external_id="E-1", currency="EUR",
                           customer=Customer(id="c"), lines=[],
                           shipping_address=good.shipping_address),
        lambda: NewLine(sku="A", quantity=1, unit_price=1.5),
        lambda: order_command("E-1", {"A": 0}),
        lambda: order_command("E-1", {"A": True}),  # type: ignore[dict-item]
        lambda: order_command("E-1", {"A": 1}, currency="eur"),
    ]


@pytest.mark.parametrize(
    "build", bad_commands(),
    ids=["no-lines", "float-price", "zero-quantity", "bool-quantity", "bad-currency"])
def test_malformed_commands_never_reach_the_database(oms: Oms,
                                                    build: Callable[[], Any]) -> None:
    stocked(oms)
    before = table_contents(oms)
    with pytest.raises(InvalidCommand):
        oms.orders.place(build())
    assert table_contents(oms) == before


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda oms: oms.inventory.receive("nowhere", "A", 1), LocationNotFound),
        (lambda oms: oms.inventory.receive("rome", "A", 1.0), InvalidCommand),
        (lambda oms: oms.inventory.receive("rome", "A\n", 1), InvalidCommand),
        (lambda oms: oms.orders.cancel("missing"), OrderNotFound),
        (lambda oms: oms.orders.cancel(oms.orders.search()[0].id, "x" * 501), InvalidCommand),
        (lambda oms: oms.orders.place_hold(oms.orders.search()[0].id, "fraud", "\x00"),
         InvalidCommand),
        (lambda oms: oms.fulfillment.reject("any", "\x1b"), InvalidCommand),
    ],
    ids=["unknown-location", "float-quantity", "control-char-sku", "unknown-order",
         "overlong-reason", "control-char-reason", "control-char-rejection"],
)
def test_malformed_calls_write_nothing(oms: Oms, call: Callable[[Oms], Any],
                                       error: type[Exception]) -> None:
    stocked(oms)
    oms.orders.place(order_command("E-0", {"A": 1}))
    before = table_contents(oms)
    with pytest.raises(error):
        call(oms)
    assert table_contents(oms) == before


class ExplodingValidator:
    @hookimpl
    def omskit_validate_order(self, order: Order, inventory: InventoryReader) -> list[Problem]:
        inventory.known_skus(line.sku for line in order.lines)  # reads fine, then fails
        raise ConnectionError("fraud service unreachable")


class ExplodingObserver:
    """Fails at commit time, after the order, its reservations and the ledger were written."""

    @hookimpl
    def omskit_after_transition(self, aggregate: str, order: Order, fulfillment_order: Any,
                                from_status: str, to_status: str) -> None:
        if to_status == "allocated":
            raise RuntimeError("audit log full")


class ExplodingStrategy:
    code = "exploding"

    def __init__(self) -> None:
        self.calls = 0

    def plan(self, request: RoutingRequest, candidates: Sequence[Candidate]) -> RoutingPlan:
        self.calls += 1
        raise ZeroDivisionError("bug in a routing plugin")


class OverPromisingStrategy:
    """Allocates the whole demand twice: a plan that breaks the strategy contract."""

    code = "over"

    def plan(self, request: RoutingRequest, candidates: Sequence[Candidate]) -> RoutingPlan:
        loc = candidates[0].location.code
        doubled = tuple(RoutedQuantity(location=loc, line_id=d.line_id, sku=d.sku,
                                       quantity=d.quantity * 2) for d in request.demand)
        return RoutingPlan(strategy=self.code, allocations=doubled, backordered=())


class UseStrategy:
    def __init__(self, strategy: Any) -> None:
        self.strategy = strategy

    @hookimpl
    def omskit_register_routing_strategies(self, register: Callable[[Any], None]) -> None:
        register(self.strategy)

    @hookimpl
    def omskit_choose_routing_strategy(self, request: RoutingRequest) -> str:
        return str(self.strategy.code)


@pytest.mark.parametrize(
    ("plugin", "error"),
    [
        (ExplodingValidator(), ConnectionError),
        (ExplodingObserver(), RuntimeError),
        (UseStrategy(ExplodingStrategy()), ZeroDivisionError),
        (UseStrategy(OverPromisingStrategy()), InvalidRoutingPlan),
    ],
    ids=["validator", "observer-at-commit", "strategy", "invalid-plan"],
)
def test_a_failing_plugin_leaves_no_half_written_order(
    make_oms: Callable[..., Oms], plugin: object, error: type[Exception]
) -> None:
    oms = stocked(make_oms(plugins=[plugin]))
    before = table_contents(oms)
    with pytest.raises(error):
        oms.orders.place(order_command("E-1", {"A": 4, "B": 3}))
    assert table_contents(oms) == before
    assert active_reservations(oms) == {}
    assert all(row.reserved == 0 for row in stock_rows(oms).values())


def test_a_reroute_that_fails_undoes_the_rejection(make_oms: Callable[..., Oms]) -> None:
    strategy = ExplodingStrategy()

    class FailSecondTime(UseStrategy):
        @hookimpl
        def omskit_choose_routing_strategy(self, request: RoutingRequest) -> str:
            # A re-route after a rejection leaves the rejecting location out.
            return "exploding" if request.exclude_locations else "nearest"

    oms = stocked(make_oms(plugins=[FailSecondTime(strategy)]))
    order = oms.orders.place(order_command("E-1", {"A": 4}))
    oms.fulfillment.release(order.id)
    before = table_contents(oms)
    fo_id = order.fulfillment_orders[0].id
    with pytest.raises(ZeroDivisionError):
        oms.fulfillment.reject(fo_id, "no staff")
    assert strategy.calls == 1
    assert table_contents(oms) == before
    assert oms.orders.get(order.id).fulfillment_order(fo_id).status is F.RELEASED
    assert active_reservations(oms) == {("milan", "A"): 4}
