"""The lifecycle tables: every change not in a table is refused and changes nothing."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from omskit.domain import lifecycle
from omskit.domain.errors import IllegalTransition
from omskit.domain.events import FulfillmentOrderStatusChanged, RoutedQuantity
from omskit.domain.lifecycle import (
    FULFILLMENT_TRANSITIONS,
    ORDER_TRANSITIONS,
    FulfillmentStatus,
    OrderStatus,
)
from omskit.domain.order import FulfillmentOrder, Order
from omskit.testing import order_command

F = FulfillmentStatus
O = OrderStatus  # noqa: E741
AT = datetime(2024, 5, 1, 9, tzinfo=UTC)

ORDER_PAIRS = list(itertools.product(OrderStatus, OrderStatus))
FULFILMENT_PAIRS = list(itertools.product(FulfillmentStatus, FulfillmentStatus))


def test_every_status_has_a_row() -> None:
    assert set(ORDER_TRANSITIONS) == set(OrderStatus)
    assert set(FULFILLMENT_TRANSITIONS) == set(FulfillmentStatus)


def test_terminal_states() -> None:
    assert {s for s, targets in ORDER_TRANSITIONS.items() if not targets} == {
        O.COMPLETED, O.CANCELLED}
    assert {s for s, targets in FULFILLMENT_TRANSITIONS.items() if not targets} == {
        F.DELIVERED, F.REJECTED, F.CANCELLED}


def test_no_status_goes_to_itself() -> None:
    assert all(s not in ORDER_TRANSITIONS[s] for s in OrderStatus)
    assert all(s not in FULFILLMENT_TRANSITIONS[s] for s in FulfillmentStatus)


def test_the_happy_paths_are_allowed() -> None:
    order_path = [O.RECEIVED, O.VALIDATED, O.ALLOCATED, O.RELEASED, O.PARTIALLY_SHIPPED,
                  O.SHIPPED, O.DELIVERED, O.COMPLETED]
    for current, target in itertools.pairwise(order_path):
        lifecycle.check("order", "o", ORDER_TRANSITIONS, current, target)
    fo_path = [F.CREATED, F.RELEASED, F.ACCEPTED, F.PICKED, F.PACKED, F.SHIPPED, F.DELIVERED]
    for current, target in itertools.pairwise(fo_path):
        lifecycle.check("fulfillment_order", "f", FULFILLMENT_TRANSITIONS, current, target)


def test_nothing_is_cancelled_once_shipped() -> None:
    for status in (O.PARTIALLY_SHIPPED, O.SHIPPED, O.DELIVERED, O.COMPLETED):
        assert O.CANCELLED not in ORDER_TRANSITIONS[status]
    for fo_status in (F.SHIPPED, F.DELIVERED):
        assert F.CANCELLED not in FULFILLMENT_TRANSITIONS[fo_status]


@pytest.mark.parametrize(("current", "target"), ORDER_PAIRS)
def test_order_table_is_enforced(current: OrderStatus, target: OrderStatus) -> None:
    if target in ORDER_TRANSITIONS[current]:
        lifecycle.check("order", "o-1", ORDER_TRANSITIONS, current, target)
        return
    with pytest.raises(IllegalTransition) as caught:
        lifecycle.check("order", "o-1", ORDER_TRANSITIONS, current, target)
    error = caught.value
    assert (error.aggregate, error.key, error.current, error.target) == (
        "order", "o-1", current.value, target.value)


def _order_with_fulfilment_order(status: FulfillmentStatus) -> tuple[Order, FulfillmentOrder]:
    order = Order.place(order_command("E-1", {"SKU-1": 2}), order_id="o-1", at=AT)
    order.accept_validation([], AT)
    (fo,) = order.add_fulfillment_orders(
        "test", [RoutedQuantity(location="dc", line_id="1", sku="SKU-1", quantity=2)], (), AT)
    fo.status = status  # put the fulfilment order straight into the status under test
    order.collect_events()
    return order, fo


@pytest.mark.parametrize(("current", "target"), FULFILMENT_PAIRS)
def test_fulfilment_table_is_enforced_by_the_aggregate(
    current: FulfillmentStatus, target: FulfillmentStatus
) -> None:
    order, fo = _order_with_fulfilment_order(current)
    order.status = order.derived_status()  # the order status this fulfilment status implies
    status_before, events_before = order.status, order.events
    if target in FULFILLMENT_TRANSITIONS[current]:
        order.advance_fulfillment(fo.id, target, AT)
        assert fo.status is target
        changes = [e for e in order.events if isinstance(e, FulfillmentOrderStatusChanged)]
        assert [(c.from_status, c.to_status) for c in changes] == [(current.value, target.value)]
        return
    with pytest.raises(IllegalTransition) as caught:
        order.advance_fulfillment(fo.id, target, AT)
    assert caught.value.aggregate == "fulfillment_order"
    assert fo.status is current
    assert order.status is status_before
    assert order.events == events_before


@pytest.mark.parametrize("current", list(OrderStatus))
def test_complete_only_from_delivered(current: OrderStatus) -> None:
    order = Order.place(order_command("E-1", {"SKU-1": 1}), order_id="o-1", at=AT)
    order.status = current
    order.collect_events()
    if current in (O.DELIVERED, O.COMPLETED):
        order.complete(AT)
        assert order.status is O.COMPLETED
        return
    with pytest.raises(IllegalTransition):
        order.complete(AT)
    assert order.status is current
    assert order.events == ()


@pytest.mark.parametrize("current", list(OrderStatus))
def test_cancel_follows_the_table(current: OrderStatus) -> None:
    order = Order.place(order_command("E-1", {"SKU-1": 1}), order_id="o-1", at=AT)
    order.status = current
    order.collect_events()
    if O.CANCELLED in ORDER_TRANSITIONS[current]:
        assert order.cancel("customer asked", AT) == []
        assert order.status is O.CANCELLED
        assert [e.event_type for e in order.events] == ["order.status_changed",
                                                        "order.cancelled"]
        return
    with pytest.raises(IllegalTransition):
        order.cancel("customer asked", AT)
    assert order.status is current
    assert order.events == ()


@pytest.mark.parametrize("current", list(OrderStatus))
def test_validation_only_from_received(current: OrderStatus) -> None:
    order = Order.place(order_command("E-1", {"SKU-1": 1}), order_id="o-1", at=AT)
    order.status = current
    order.collect_events()
    if current in (O.RECEIVED, O.VALIDATED, O.ON_HOLD):
        # received -> validated is the table's; validated -> validated is no change; on_hold ->
        # validated is how releasing the last hold of a never-routed order returns.
        order.accept_validation([], AT)
        assert order.status is O.VALIDATED
        return
    with pytest.raises(IllegalTransition):
        order.accept_validation([], AT)
    assert order.status is current
    assert order.events == ()
