"""Order edits from the storefront: a customer changes from the mobile app an order placed on
the web site (``parse_edit`` and ``oms.channels.receive_edit``), on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from omskit import (
    Address,
    Coordinates,
    DeliveryKind,
    DeliveryMethod,
    EditOrder,
    EditStatus,
    NewLine,
    Oms,
    OrderEditCommitted,
    OrderEditConflict,
    PayloadError,
)
from omskit.testing import location, table_contents

import omskit_channel_storefront
from omskit_channel_storefront import StorefrontConnector


@pytest.fixture
def shop(make_oms: Callable[..., Oms]) -> Oms:
    oms = make_oms(plugins=[omskit_channel_storefront])
    oms.inventory.save_location(location("dc-milano", 45.46, 9.19))
    for sku in ("SKU-1", "SKU-2", "SKU-3"):
        oms.inventory.receive("dc-milano", sku, 50)
    return oms


def edit_problems(connector: StorefrontConnector, payload: Any) -> list[str]:
    with pytest.raises(PayloadError) as caught:
        connector.parse_edit(payload)
    assert caught.value.channel == "storefront"
    return list(caught.value.problems)


def test_the_example_edit_maps_every_field(connector: StorefrontConnector,
                                           example_edit: dict[str, Any]) -> None:
    assert connector.parse_edit(example_edit) == EditOrder(
        channel="mobile", actor="customer:cus_123", idempotency_key="APP-EDIT-5531",
        order_channel="web", order_external_id="WEB-100045", quantities={"1": 3},
        add_lines=[NewLine(sku="SKU-3", quantity=1, unit_price=Decimal("24.50"))],
        shipping_address=Address(name="Giulia Rossi", line1="Via Torino 14", city="Milano",
                                 postal_code="20123", region="MI", country="IT",
                                 coordinates=Coordinates(lat=45.4626, lon=9.1857)))


def test_an_edit_can_switch_to_pickup_and_remove_a_line(connector: StorefrontConnector
                                                        ) -> None:
    command = connector.parse_edit({
        "edit_id": "E-2", "source": "web", "customer_id": "cus_9", "order_version": 4,
        "order": {"source": "mobile", "id": "APP-7781"},
        "items": [{"line_id": "2", "quantity": 0}],
        "fulfillment": {"type": "pickup", "location": "store-milan-duomo"}})
    assert command.staged_quantities == {"2": 0}
    assert command.delivery == DeliveryMethod(kind=DeliveryKind.PICKUP,
                                              pickup_location="store-milan-duomo")
    assert (command.order_channel, command.expected_version) == ("mobile", 4)


def test_every_problem_of_an_edit_is_listed_with_its_path(
        connector: StorefrontConnector, example_edit: dict[str, Any]) -> None:
    payload = copy.deepcopy(example_edit)
    payload["source"] = "kiosk"
    payload["order"] = {"source": "web", "id": "WEB-100045", "channel": "x"}
    payload["items"] = [{"line_id": "1", "quantity": -1}, {"line_id": "1", "quantity": "2"}]
    payload["add_items"] = [{"sku": "SKU-3", "quantity": 1, "unit_price": 24.5}]
    del payload["customer_id"]
    problems = edit_problems(connector, payload)
    assert "source: 'kiosk' is not one of 'web', 'mobile'" in problems
    assert "order.channel: unknown field" in problems
    assert "items[0].quantity: must be at least 0, not -1" in problems
    assert "items[1].quantity: must be a whole number, not '2'" in problems
    assert "items[1].line_id: '1' is listed twice" in problems
    assert any(p.startswith("add_items[0].unit_price: must be a decimal string") for p in problems)
    assert "customer_id: required" in problems
    nothing = {k: v for k, v in example_edit.items()
               if k not in ("items", "add_items", "shipping_address")}
    assert edit_problems(connector, nothing) == [
        "items: the edit changes nothing: give items, add_items, shipping_address or "
        "fulfillment"]
    assert edit_problems(connector, [1]) == ["payload: must be a JSON object, not an array"]


def test_a_web_order_is_edited_from_the_app(shop: Oms, example_payload: dict[str, Any],
                                            example_edit: dict[str, Any]) -> None:
    order = shop.channels.receive("storefront", example_payload)
    assert order.channel == "web"
    edit = shop.channels.receive_edit("storefront", example_edit)
    assert edit.status is EditStatus.COMMITTED
    assert (edit.order_id, edit.channel, edit.actor) == (order.id, "mobile", "customer:cus_123")
    after = shop.orders.get(order.id)
    assert [(x.sku, x.open_quantity) for x in after.lines] == [("SKU-1", 3), ("SKU-2", 1),
                                                                ("SKU-3", 1)]
    assert after.shipping_address is not None
    assert after.shipping_address.line1 == "Via Torino 14"
    (committed,) = [e.event for e in shop.orders.timeline(order.id)
                    if e.event_type == "order.edit_committed"]
    assert isinstance(committed, OrderEditCommitted)
    assert (committed.channel, committed.actor) == ("mobile", "customer:cus_123")
    assert committed.summary.total_after - committed.summary.total_before == Decimal("44.40")
    # The app retries on a timeout: the same edit, committed once.
    before = table_contents(shop)
    assert shop.channels.receive_edit("storefront", example_edit).id == edit.id
    assert table_contents(shop) == before


def test_an_edit_on_a_version_the_app_did_not_see_is_refused(
        shop: Oms, example_payload: dict[str, Any], example_edit: dict[str, Any]) -> None:
    order = shop.channels.receive("storefront", example_payload)
    stale = {**example_edit, "order_version": order.version + 1}
    before = table_contents(shop)
    with pytest.raises(OrderEditConflict):
        shop.channels.receive_edit("storefront", stale)
    assert table_contents(shop) == before
