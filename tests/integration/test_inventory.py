"""Inventory on every backend: receipts, adjustments, safety stock, transfers, supply, ATP."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from omskit import Oms
from omskit.domain.errors import (
    InsufficientStock,
    InvalidCommand,
    LocationNotFound,
    SupplyNotFound,
)
from omskit.domain.inventory import (
    LocationKind,
    MovementKind,
    StockItem,
    SupplyKind,
    SupplyStatus,
)
from omskit.testing import location, order_command, table_contents
from tests.support import MILAN, NAPLES, ROME, stock_rows

NOW = datetime.now(UTC)


@pytest.fixture
def network(oms: Oms) -> Oms:
    """Three warehouses: milan, rome, naples."""
    for code, (lat, lon) in (("milan", MILAN), ("rome", ROME), ("naples", NAPLES)):
        oms.inventory.save_location(location(code, lat, lon))
    return oms


def item(oms: Oms, loc: str, sku: str) -> StockItem:
    found = oms.inventory.stock_item(loc, sku)
    assert found is not None
    return found


def test_locations_round_trip(oms: Oms) -> None:
    store = location("store-rome", *ROME, kind=LocationKind.STORE, handling_cost="1.25",
                     daily_capacity=40)
    oms.inventory.save_location(store)
    assert oms.inventory.location("store-rome") == store
    assert [x.code for x in oms.inventory.locations()] == ["store-rome"]
    with pytest.raises(LocationNotFound):
        oms.inventory.location("nowhere")


def test_receive_creates_and_adds(network: Oms) -> None:
    assert network.inventory.stock_item("milan", "A") is None
    first = network.inventory.receive("milan", "A", 10, reference="PO-1")
    assert first == StockItem(location="milan", sku="A", on_hand=10, reserved=0,
                              safety_stock=0)
    network.inventory.receive("milan", "A", 5)
    assert item(network, "milan", "A").on_hand == 15
    kinds = [(e.kind, e.on_hand_delta, e.reference)
             for e in network.inventory.ledger("milan", "A")]
    assert kinds == [(MovementKind.RECEIVE, 10, "PO-1"), (MovementKind.RECEIVE, 5, "")]
    assert network.inventory.ledger_mismatches() == []


def test_receive_with_an_idempotency_key_counts_once(network: Oms) -> None:
    network.inventory.receive("milan", "A", 10, idempotency_key="asn-77")
    network.inventory.receive("milan", "A", 10, idempotency_key="asn-77")
    assert item(network, "milan", "A").on_hand == 10
    network.inventory.receive("milan", "A", 10, idempotency_key="asn-78")
    assert item(network, "milan", "A").on_hand == 20


def test_adjust_up_and_down(network: Oms) -> None:
    network.inventory.receive("rome", "A", 10)
    assert network.inventory.adjust("rome", "A", 3, reason="found in returns").on_hand == 13
    assert network.inventory.adjust("rome", "A", -5, reason="water damage").on_hand == 8
    deltas = [e.on_hand_delta for e in network.inventory.ledger("rome", "A")]
    assert deltas == [10, 3, -5]
    assert network.inventory.ledger_mismatches() == []


def test_adjust_below_reserved_is_refused_and_changes_nothing(network: Oms) -> None:
    network.inventory.receive("rome", "A", 10)
    network.orders.place(order_command("E-1", {"A": 7}, lat=ROME[0], lon=ROME[1]))
    assert item(network, "rome", "A") == StockItem(location="rome", sku="A", on_hand=10,
                                                   reserved=7)
    before = table_contents(network)
    with pytest.raises(InsufficientStock) as caught:
        network.inventory.adjust("rome", "A", -4, reason="count")
    # 10 on hand - 7 reserved = 3 units can be removed.
    assert (caught.value.requested, caught.value.available) == (4, 3)
    assert table_contents(network) == before
    assert network.inventory.adjust("rome", "A", -3, reason="count").on_hand == 7


def test_adjust_of_unknown_stock_is_insufficient(network: Oms) -> None:
    with pytest.raises(InsufficientStock) as caught:
        network.inventory.adjust("rome", "NEW", -1, reason="count")
    assert caught.value.available == 0


@pytest.mark.parametrize("delta", [0, True, 2.5, 1_000_001])
def test_adjust_validates_delta(network: Oms, delta: object) -> None:
    before = table_contents(network)
    with pytest.raises(InvalidCommand, match="delta"):
        network.inventory.adjust("rome", "A", delta, reason="x")  # type: ignore[arg-type]
    assert table_contents(network) == before


def test_safety_stock_is_kept_back_from_promising(network: Oms) -> None:
    network.inventory.receive("milan", "A", 10)
    network.inventory.set_safety_stock("milan", "A", 4)
    assert network.inventory.available("A", location="milan") == 6
    order = network.orders.place(order_command("E-1", {"A": 7}))
    # Only 6 can be promised: 6 allocated, 1 backordered.
    assert order.status.value == "backordered"
    assert [(fo.location, fo.units) for fo in order.fulfillment_orders] == [("milan", 6)]
    assert item(network, "milan", "A") == StockItem(location="milan", sku="A", on_hand=10,
                                                    reserved=6, safety_stock=4)
    assert network.inventory.available("A") == 0


def test_safety_stock_above_on_hand_means_nothing_available(network: Oms) -> None:
    network.inventory.receive("milan", "A", 3)
    network.inventory.set_safety_stock("milan", "A", 5)
    assert network.inventory.available("A") == 0
    assert network.inventory.stock("A").available == 0


def test_safety_stock_creates_the_row_for_a_new_sku(network: Oms) -> None:
    assert network.inventory.set_safety_stock("naples", "NEW", 2) == StockItem(
        location="naples", sku="NEW", on_hand=0, reserved=0, safety_stock=2)
    assert network.inventory.ledger_mismatches() == []


def test_immediate_transfer(network: Oms) -> None:
    network.inventory.receive("milan", "A", 10)
    assert network.inventory.transfer("A", "milan", "rome", 4) is None
    assert (item(network, "milan", "A").on_hand, item(network, "rome", "A").on_hand) == (6, 4)
    assert network.inventory.stock("A").on_hand == 10
    assert network.inventory.ledger_mismatches() == []


def test_transfer_cannot_move_reserved_units(network: Oms) -> None:
    network.inventory.receive("milan", "A", 10)
    network.orders.place(order_command("E-1", {"A": 8}))
    before = table_contents(network)
    with pytest.raises(InsufficientStock):
        network.inventory.transfer("A", "milan", "rome", 3)
    assert table_contents(network) == before


def test_transfer_in_transit_becomes_supply_then_stock(network: Oms) -> None:
    network.inventory.receive("milan", "A", 10)
    eta = NOW + timedelta(days=3)
    supply = network.inventory.transfer("A", "milan", "rome", 4, eta=eta)
    assert supply is not None
    assert (supply.location, supply.sku, supply.quantity, supply.kind, supply.status) == (
        "rome", "A", 4, SupplyKind.TRANSFER, SupplyStatus.OPEN)
    # The units left milan now and are not yet on hand in rome.
    assert item(network, "milan", "A").on_hand == 6
    assert network.inventory.stock_item("rome", "A") is None
    stock = network.inventory.stock("A")
    assert (stock.on_hand, stock.in_transit) == (6, 4)
    assert network.inventory.available("A", location="rome") == 0
    assert network.inventory.available("A", location="rome", at=eta) == 4
    assert network.inventory.available("A", at=eta - timedelta(seconds=1)) == 6
    assert network.inventory.available("A", at=eta) == 10

    received = network.inventory.receive_supply(supply.id)
    assert received.status is SupplyStatus.RECEIVED
    assert item(network, "rome", "A").on_hand == 4
    again = network.inventory.receive_supply(supply.id)  # idempotent
    assert again.status is SupplyStatus.RECEIVED
    assert item(network, "rome", "A").on_hand == 4
    assert network.inventory.stock("A").in_transit == 0
    assert [e.kind for e in network.inventory.ledger("rome", "A")] == [MovementKind.TRANSFER_IN]
    assert network.inventory.ledger_mismatches() == []


def test_receive_unknown_supply(network: Oms) -> None:
    with pytest.raises(SupplyNotFound):
        network.inventory.receive_supply("nope")


def test_purchase_order_supply_and_available_by_date(network: Oms) -> None:
    network.inventory.receive("naples", "A", 2)
    soon, later = NOW + timedelta(days=2), NOW + timedelta(days=10)
    network.inventory.register_supply("naples", "A", 5, soon, reference="PO-1")
    network.inventory.register_supply("milan", "A", 7, later, reference="PO-2")
    assert network.inventory.available("A") == 2
    assert network.inventory.available("A", at=soon) == 7
    assert network.inventory.available("A", at=later) == 14
    assert network.inventory.available("A", location="milan", at=soon) == 0
    position = {p.location: p for p in network.inventory.stock("A").positions}
    assert [(i.eta, i.quantity) for i in position["naples"].incoming] == [(soon, 5)]
    # milan has no stock row yet but appears in the breakdown with its open supply.
    assert (position["milan"].on_hand, position["milan"].in_transit) == (0, 7)


def test_global_stock_totals_and_breakdown(network: Oms) -> None:
    network.inventory.receive("milan", "A", 10)
    network.inventory.receive("rome", "A", 6)
    network.inventory.receive("naples", "A", 1)
    network.inventory.set_safety_stock("rome", "A", 2)
    network.orders.place(order_command("E-1", {"A": 3}, lat=ROME[0], lon=ROME[1]))
    stock = network.inventory.stock("A")
    breakdown = [(p.location, p.on_hand, p.reserved, p.safety_stock, p.available)
                 for p in stock.positions]
    assert breakdown == [("milan", 10, 0, 0, 10), ("naples", 1, 0, 0, 1),
                         ("rome", 6, 3, 2, 1)]
    assert (stock.on_hand, stock.reserved, stock.available) == (17, 3, 12)
    assert network.inventory.available("A") == 12
    assert network.inventory.stock("UNKNOWN").positions == ()


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda oms: oms.inventory.receive("nowhere", "A", 1), LocationNotFound),
        (lambda oms: oms.inventory.receive("milan", "A", 0), InvalidCommand),
        (lambda oms: oms.inventory.receive("milan", "A", -2), InvalidCommand),
        (lambda oms: oms.inventory.receive("milan", "", 1), InvalidCommand),
        (lambda oms: oms.inventory.transfer("A", "milan", "milan", 1), InvalidCommand),
        (lambda oms: oms.inventory.transfer("A", "milan", "nowhere", 1), LocationNotFound),
        (lambda oms: oms.inventory.transfer("A", "milan", "rome", 1,
                                            eta=datetime(2030, 1, 1)), InvalidCommand),
        (lambda oms: oms.inventory.set_safety_stock("milan", "A", -1), InvalidCommand),
        (lambda oms: oms.inventory.register_supply("nowhere", "A", 1, NOW), LocationNotFound),
        (lambda oms: oms.inventory.save_location(location("Bad Code", 0, 0)), InvalidCommand),
    ],
    ids=["receive-unknown-location", "receive-zero", "receive-negative", "receive-empty-sku",
         "transfer-to-itself", "transfer-unknown-location", "transfer-naive-eta",
         "negative-safety-stock", "supply-unknown-location", "bad-location-code"],
)
def test_malformed_movements_write_nothing(network: Oms, call: Callable[[Oms], Any],
                                           error: type[Exception]) -> None:
    network.inventory.receive("milan", "A", 5)
    before = table_contents(network)
    with pytest.raises(error):
        call(network)
    assert table_contents(network) == before


def test_ledger_sums_to_every_stock_row(network: Oms) -> None:
    inv = network.inventory
    inv.receive("milan", "A", 10)
    inv.receive("rome", "B", 4)
    inv.adjust("milan", "A", -2, reason="broken")
    inv.transfer("A", "milan", "naples", 3)
    order = network.orders.place(order_command("E-1", {"A": 4, "B": 1}))
    network.orders.cancel(order.id)
    network.orders.place(order_command("E-2", {"A": 2}))
    rows = stock_rows(network)
    for (loc, sku), row in rows.items():
        entries = inv.ledger(loc, sku)
        assert sum(e.on_hand_delta for e in entries) == row.on_hand
        assert sum(e.reserved_delta for e in entries) == row.reserved
    assert inv.ledger_mismatches() == []


def test_idempotency_key_is_not_confused_with_a_reference(oms: Oms) -> None:
    oms.inventory.save_location(location("dc-key", 45.0, 9.0))
    oms.inventory.receive("dc-key", "SKU-K", 5, reference="abc")
    # Same text as the earlier reference, but as a key: a new receipt, applied.
    oms.inventory.receive("dc-key", "SKU-K", 7, idempotency_key="abc")
    oms.inventory.receive("dc-key", "SKU-K", 7, idempotency_key="abc")  # the retry
    item = oms.inventory.stock_item("dc-key", "SKU-K")
    assert item is not None
    assert item.on_hand == 12
    keys = [e.idempotency_key for e in oms.inventory.ledger("dc-key", "SKU-K")]
    assert keys == [None, "abc"]


def test_concurrent_retries_with_one_key_apply_once(make_oms: Callable[..., Oms]) -> None:
    first = make_oms()
    first.inventory.save_location(location("dc-race", 45.0, 9.0))
    first.inventory.receive("dc-race", "SKU-R", 1)
    instances = [make_oms() for _ in range(4)]
    barrier = threading.Barrier(len(instances))

    def receive(instance: Oms) -> None:
        barrier.wait()
        instance.inventory.receive("dc-race", "SKU-R", 10, idempotency_key="grn-1")

    threads = [threading.Thread(target=receive, args=(i,)) for i in instances]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    item = first.inventory.stock_item("dc-race", "SKU-R")
    assert item is not None
    assert item.on_hand == 11
    assert first.inventory.ledger_mismatches() == []
