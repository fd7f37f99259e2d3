"""Pre-orders and orders held for unknown SKUs, on every backend.

The defects: an order for a SKU that exists only as incoming supply was held as
``unknown_sku``; and an order held as ``unknown_sku`` was never looked at again when stock or
supply for the SKU arrived, so it stayed on hold until an operator noticed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from omskit import Oms, hookimpl
from omskit.builtin.validation import UNKNOWN_SKU
from omskit.domain.errors import InvalidCommand
from omskit.domain.lifecycle import OrderStatus
from omskit.domain.order import Order
from omskit.domain.values import LineQuantity, Problem
from omskit.ports import InventoryReader
from omskit.testing import location, order_command, table_contents
from tests.support import MILAN, active_reservations

O = OrderStatus  # noqa: E741
SOON = datetime.now(UTC) + timedelta(days=5)


def add_milan(oms: Oms) -> Oms:
    oms.inventory.save_location(location("milan", *MILAN))
    return oms


@pytest.fixture
def network(oms: Oms) -> Oms:
    return add_milan(oms)


def place(oms: Oms, external_id: str, lines: dict[str, int], **kwargs: object) -> Order:
    return oms.orders.place(order_command(external_id, lines, lat=MILAN[0], lon=MILAN[1],
                                          **kwargs))  # type: ignore[arg-type]


def holds(oms: Oms, order_id: str) -> list[str]:
    return [h.code for h in oms.orders.get(order_id).active_holds]


def test_a_sku_with_open_supply_is_known(network: Oms) -> None:
    supply = network.inventory.register_supply("milan", "NEW", 5, SOON)
    order = place(network, "P-1", {"NEW": 2})
    assert order.active_holds == ()
    assert order.status is O.BACKORDERED
    assert order.backordered() == (LineQuantity(line_id="1", sku="NEW", quantity=2),)
    network.inventory.receive_supply(supply.id)
    assert network.orders.get(order.id).status is O.ALLOCATED
    assert active_reservations(network) == {("milan", "NEW"): 2}


def test_a_sku_nobody_stocks_or_expects_is_still_held(network: Oms) -> None:
    network.inventory.register_supply("milan", "OTHER", 5, SOON)
    order = place(network, "P-1", {"NEVER": 1, "OTHER": 1})
    assert holds(network, order.id) == [UNKNOWN_SKU]
    assert order.active_holds[0].reason == "no location stocks NEVER"


def test_a_held_order_is_routed_when_its_sku_arrives(network: Oms) -> None:
    order = place(network, "H-1", {"LATE": 2})
    assert holds(network, order.id) == [UNKNOWN_SKU]
    network.inventory.receive("milan", "LATE", 5)
    after = network.orders.get(order.id)
    assert after.active_holds == ()
    assert after.status is O.ALLOCATED
    assert active_reservations(network) == {("milan", "LATE"): 2}
    assert [e.event_type for e in network.orders.timeline(order.id)] == [
        "order.placed",
        "order.status_changed",  # received -> on_hold
        "order.hold_placed",
        "order.hold_released",  # validated again after the receipt
        "order.status_changed",  # on_hold -> validated
        "fulfillment_order.created", "order.routed",
        "order.status_changed",  # validated -> allocated
        "stock.reserved"]


def test_a_held_order_becomes_a_preorder_when_supply_is_registered(network: Oms) -> None:
    order = place(network, "H-1", {"LATE": 2})
    supply = network.inventory.register_supply("milan", "LATE", 5, SOON)
    after = network.orders.get(order.id)
    assert after.active_holds == ()
    assert after.status is O.BACKORDERED  # waiting for the supply
    network.inventory.receive_supply(supply.id)
    assert network.orders.get(order.id).status is O.ALLOCATED


def test_other_holds_and_other_unknown_skus_keep_the_order_held(network: Oms) -> None:
    two = place(network, "H-1", {"LATE": 1, "LATER": 1})
    reviewed = place(network, "H-2", {"LATE": 1})
    network.orders.place_hold(reviewed.id, "fraud", "score 97")
    network.inventory.receive("milan", "LATE", 5)
    # LATER is still unknown: the hold stays (one hold per code).
    assert holds(network, two.id) == [UNKNOWN_SKU]
    # The unknown_sku hold of H-2 is gone, the operator's stays: nothing is reserved yet.
    assert holds(network, reviewed.id) == ["fraud"]
    assert network.orders.get(reviewed.id).status is O.ON_HOLD
    assert active_reservations(network) == {}
    network.orders.release_hold(reviewed.id, "fraud")
    assert network.orders.get(reviewed.id).status is O.ALLOCATED
    network.inventory.receive("milan", "LATER", 5)
    assert network.orders.get(two.id).status is O.ALLOCATED


def test_best_ranked_held_order_takes_the_first_units(
        make_oms: Callable[..., Oms]) -> None:
    oms = add_milan(make_oms(settings={"routing": {"segment_priority": ["gold"]}}))
    standard = place(oms, "S-1", {"LATE": 1}, customer_id="c-1")
    gold = place(oms, "G-1", {"LATE": 1}, customer_id="c-2", segment="gold")
    oms.inventory.receive("milan", "LATE", 1)
    assert oms.orders.get(gold.id).status is O.ALLOCATED
    assert oms.orders.get(standard.id).status is O.BACKORDERED
    assert oms.orders.get(standard.id).active_holds == ()


class Review:
    """A validator that starts to find a problem once ``active``."""

    def __init__(self) -> None:
        self.active = False
        self.fail = False

    @hookimpl
    def omskit_validate_order(self, order: Order, inventory: InventoryReader) -> list[Problem]:
        if self.fail:
            raise RuntimeError("review service down")
        return [Problem(code="review", message="manual review")] if self.active else []


def test_revalidation_holds_for_new_problems(make_oms: Callable[..., Oms]) -> None:
    review = Review()
    oms = add_milan(make_oms(plugins=[review]))
    order = place(oms, "H-1", {"LATE": 1})
    review.active = True
    oms.inventory.receive("milan", "LATE", 5)
    after = oms.orders.get(order.id)
    assert [h.code for h in after.active_holds] == ["review"]
    assert after.status is O.ON_HOLD
    assert active_reservations(oms) == {}


def test_a_failing_validator_leaves_that_order_held_and_the_receipt_stands(
        make_oms: Callable[..., Oms], caplog: pytest.LogCaptureFixture) -> None:
    review = Review()
    oms = add_milan(make_oms(plugins=[review]))
    order = place(oms, "H-1", {"LATE": 1})
    review.fail = True
    with caplog.at_level(logging.ERROR, logger="omskit"):
        oms.inventory.receive("milan", "LATE", 5)
    assert oms.inventory.available("LATE") == 5
    assert holds(oms, order.id) == [UNKNOWN_SKU]
    assert f"validating order {order.id} again failed" in caplog.text
    review.fail = False
    assert [o.id for o in oms.orders.revalidate_unknown_skus({"LATE"})] == [order.id]
    assert oms.orders.get(order.id).status is O.ALLOCATED


def test_revalidate_refuses_bad_input_and_is_harmless_to_repeat(network: Oms) -> None:
    order = place(network, "H-1", {"LATE": 1})
    before = table_contents(network)
    for bad in ("LATE", None, 5, [None], ["\x00"], [["LATE"]]):
        with pytest.raises(InvalidCommand):
            network.orders.revalidate_unknown_skus(bad)  # type: ignore[arg-type]
    # Nothing known yet: the order stays held, nothing is written.
    assert network.orders.revalidate_unknown_skus({"LATE"}) == []
    assert network.orders.revalidate_unknown_skus(set()) == []
    assert table_contents(network) == before
    network.inventory.receive("milan", "LATE", 1)
    before = table_contents(network)
    assert network.orders.revalidate_unknown_skus({"LATE"}) == []
    assert table_contents(network) == before
    assert network.orders.get(order.id).status is O.ALLOCATED
