"""Checkout carries on into the order: the cart's soft hold becomes the order's reservation,
and the date quoted at checkout is kept, or its move is in the timeline (SQLite and
PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from omskit import CartNotFound, Coordinates, Oms, OrderStatus
from omskit.testing import location

import omskit_channel_storefront

TORINO = Coordinates(lat=45.07, lon=7.69)
#: Shipped to Torino, with its coordinates: routing prefers the Torino warehouse.
TO_TORINO = {"line1": "Via Roma 1", "city": "Torino", "country": "IT", "lat": 45.07,
             "lon": 7.69}


@pytest.fixture
def shop(make_oms: Callable[..., Oms]) -> Oms:
    oms = make_oms(plugins=[omskit_channel_storefront])
    oms.inventory.save_location(location("dc-torino", 45.06, 7.68))
    oms.inventory.save_location(location("dc-napoli", 40.85, 14.27))
    oms.inventory.receive("dc-torino", "SKU-1", 2)
    oms.inventory.receive("dc-napoli", "SKU-1", 10)
    return oms


def test_the_carts_hold_becomes_the_orders_reservation(
        shop: Oms, minimal_payload: dict[str, Any]) -> None:
    hold = shop.carts.hold("cart-77", {"SKU-1": 2}, ttl=timedelta(minutes=30), channel="web",
                           destination=TORINO)
    assert [(r.location, r.quantity) for r in hold.held] == [("dc-torino", 2)]
    # Without the cart, Torino has nothing free: an order would come from Napoli.
    payload = {**minimal_payload, "cart_id": "cart-77", "shipping_address": TO_TORINO,
               "items": [{"sku": "SKU-1", "quantity": 2, "unit_price": "5.00"}]}
    order = shop.channels.receive("storefront", payload)
    assert order.cart_id == "cart-77"
    assert order.status is OrderStatus.ALLOCATED
    assert [(fo.location, fo.lines[0].quantity) for fo in order.fulfillment_orders] == [
        ("dc-torino", 2)]
    with pytest.raises(CartNotFound):
        shop.carts.get("cart-77")  # converted: nothing held twice


def test_an_order_without_its_cart_routes_around_the_hold(
        shop: Oms, minimal_payload: dict[str, Any]) -> None:
    shop.carts.hold("cart-78", {"SKU-1": 2}, ttl=timedelta(minutes=30), channel="web",
                    destination=TORINO)
    payload = {**minimal_payload, "shipping_address": TO_TORINO,
               "items": [{"sku": "SKU-1", "quantity": 2, "unit_price": "5.00"}]}
    order = shop.channels.receive("storefront", payload)
    assert [fo.location for fo in order.fulfillment_orders] == ["dc-napoli"]


def test_a_quoted_date_routing_can_meet_is_kept(
        shop: Oms, minimal_payload: dict[str, Any]) -> None:
    order = shop.channels.receive("storefront",
                                  {**minimal_payload, "promised_date": "2999-12-01"})
    assert order.promised_date == date(2999, 12, 1)
    assert "order.promise_moved" not in [e.event_type for e in shop.orders.timeline(order.id)]


def test_a_quoted_date_routing_cannot_meet_moves_visibly(
        shop: Oms, minimal_payload: dict[str, Any]) -> None:
    order = shop.channels.receive("storefront",
                                  {**minimal_payload, "promised_date": "2001-01-01"})
    assert order.promised_date is not None
    assert order.promised_date > date(2001, 1, 1)
    (moved,) = [e for e in shop.orders.timeline(order.id)
                if e.event_type == "order.promise_moved"]
    assert moved.event.previous == date(2001, 1, 1)  # type: ignore[attr-defined]
    assert moved.event.promised_date == order.promised_date  # type: ignore[attr-defined]
    assert moved.event.reason == "placement"  # type: ignore[attr-defined]


@pytest.mark.parametrize(("field", "value"), [
    ("promised_date", "2026-13-01"), ("promised_date", "2026-11-28T10:00:00Z"),
    ("promised_date", 20261128), ("cart_id", ""), ("cart_id", 7)])
def test_bad_checkout_fields_are_payload_problems(
        problems_of: Callable[[dict[str, Any]], list[str]], minimal_payload: dict[str, Any],
        field: str, value: object) -> None:
    problems = problems_of({**minimal_payload, field: value})
    assert [p.partition(":")[0] for p in problems] == [field]
