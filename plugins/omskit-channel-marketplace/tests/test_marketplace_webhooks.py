"""Order webhooks verified, de-duplicated and answered with statuses; the stock feed per shop
(SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from omskit import InvalidWebhook, ManualCarriers, Oms, OrderStatus, PayloadError
from omskit.testing import table_contents

from omskit_channel_marketplace import (
    MarketplaceChannel,
    Shop,
    receive_webhook,
    stock_feed,
)

Signed = Callable[..., tuple[dict[str, str], bytes]]


def test_a_signed_webhook_places_the_order_on_the_shops_channel(
        market: Oms, signed: Signed, shop_order: dict[str, Any]) -> None:
    order = receive_webhook(market, *signed(shop_order))
    assert order is not None
    assert (order.channel, order.external_id) == ("marketplace:acme", "820982911946154508")
    assert order.status is OrderStatus.ALLOCATED
    assert order.shipping_address is not None
    assert order.shipping_address.city == "Torino"
    assert market.payments.summary(order.id).captured.amount == Decimal("44.80")


@pytest.mark.parametrize("tamper", ["signature", "secret", "body", "shop", "not-json",
                                    "not-object", "no-delivery"])
def test_a_bad_webhook_is_refused_and_writes_nothing(
        market: Oms, signed: Signed, shop_order: dict[str, Any], tamper: str) -> None:
    headers, body = signed(shop_order)
    if tamper == "signature":
        headers["X-Shopify-Hmac-Sha256"] = "AAAA"
    elif tamper == "secret":
        headers, body = signed(shop_order, secret="guessed")
    elif tamper == "body":
        body = body.replace(b'"quantity": 2', b'"quantity": 20')
    elif tamper == "shop":
        headers["X-Shopify-Shop-Domain"] = "evil.myshopify.com"
    elif tamper == "not-json":
        headers, body = signed(b"{not json")
    elif tamper == "not-object":
        headers, body = signed([shop_order])
    else:
        del headers["X-Shopify-Webhook-Id"]
    before = table_contents(market)
    with pytest.raises(InvalidWebhook) as caught:
        receive_webhook(market, headers, body)
    assert caught.value.problems
    assert table_contents(market) == before


def test_a_signed_but_malformed_order_is_a_payload_error_writing_nothing(
        market: Oms, signed: Signed, shop_order: dict[str, Any]) -> None:
    before = table_contents(market)
    with pytest.raises(PayloadError):
        receive_webhook(market, *signed({**shop_order, "line_items": []}))
    assert table_contents(market) == before


def test_deliveries_and_orders_are_de_duplicated(
        market: Oms, signed: Signed, shop_order: dict[str, Any]) -> None:
    first = receive_webhook(market, *signed(shop_order, delivery="d-1"))
    assert first is not None
    before = {k: v for k, v in table_contents(market).items() if "deliveries" not in k}
    again = receive_webhook(market, *signed(shop_order, delivery="d-1"))  # retried delivery
    other = receive_webhook(market, *signed(shop_order, delivery="d-2"))  # same order anew
    assert again is not None
    assert other is not None
    assert again.id == other.id == first.id
    assert {k: v for k, v in table_contents(market).items()
            if "deliveries" not in k} == before
    # The same marketplace order id on another shop is another order.
    beta = receive_webhook(market, *signed(shop_order, shop=Shop(
        code="beta", domain="beta.myshopify.com", secret="beta-secret"), delivery="d-1"))
    assert beta is not None
    assert beta.id != first.id


def test_statuses_are_pushed_back_to_the_shop(
        make_oms: Callable[..., Oms], shops: list[Shop], sender: Any, signed: Signed,
        shop_order: dict[str, Any]) -> None:
    from omskit.testing import location

    oms = make_oms(plugins=[MarketplaceChannel(shops, sender), ManualCarriers("brt")])
    oms.inventory.save_location(location("dc-torino", 45.07, 7.69))
    oms.inventory.receive("dc-torino", "SKU-1", 10)
    oms.inventory.receive("dc-torino", "SKU-2", 10)
    order = receive_webhook(oms, *signed(shop_order))
    assert order is not None
    sender.down = True
    assert oms.channels.push() == 0  # the shop is down: kept for later
    sender.down = False
    (waiting,) = oms.channels.status_updates(order.id)
    assert oms.channels.push(waiting.next_attempt_at) == 1
    fo = oms.fulfillment.release(order.id).fulfillment_orders[0]
    for step in (oms.fulfillment.accept, oms.fulfillment.pick, oms.fulfillment.pack):
        step(fo.id)
    oms.fulfillment.ship(fo.id, carrier="brt", tracking_number="BRT-1")
    oms.outbox.dispatch_pending()
    oms.channels.push()
    assert [(shop, m["status"], m.get("tracking_number")) for shop, m in sender.sent] == [
        ("acme", "accepted", None), ("acme", "shipped", "BRT-1")]
    assert {m["order_id"] for _, m in sender.sent} == {"820982911946154508"}


def test_a_cancelled_order_is_pushed_as_cancelled(
        market: Oms, sender: Any, signed: Signed, shop_order: dict[str, Any]) -> None:
    order = receive_webhook(market, *signed(shop_order))
    assert order is not None
    market.orders.cancel(order.id, "out of stock at the marketplace")
    market.outbox.dispatch_pending()
    market.channels.push()
    assert [m["status"] for _, m in sender.sent] == ["accepted", "cancelled"]


def test_the_stock_feed_honours_each_shops_locations_buffer_and_exclusions(
        market: Oms, shops: list[Shop], signed: Signed, shop_order: dict[str, Any]) -> None:
    acme, beta = shops
    skus = ["SKU-1", "SKU-2", "SKU-3"]
    assert stock_feed(market, acme, skus) == {"SKU-1": 8, "SKU-2": 8, "SKU-3": 8}
    assert stock_feed(market, beta, skus) == {"SKU-1": 14, "SKU-2": 14}
    receive_webhook(market, *signed(shop_order))  # reserves 2 SKU-1 and 1 SKU-2 in Torino
    assert stock_feed(market, acme, skus) == {"SKU-1": 6, "SKU-2": 7, "SKU-3": 8}
    market.inventory.adjust("dc-torino", "SKU-3", -9, reason="damaged")
    assert stock_feed(market, acme, ["SKU-3"]) == {"SKU-3": 0}  # never below zero
