"""A channel's order webhook (omskit-channel-marketplace): verified over the raw body by
the plugin, placed once however often it is delivered, refused unsigned or mis-signed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import omskit
import omskit_channel_marketplace as marketplace
import omskit_returns_standard
import pytest
from litestar.testing import TestClient
from omskit.testing import TestDatabase, location, table_contents

from omskit_reference import Deployment, Scope, create_app
from omskit_reference.deployment import environment_settings

from .conftest import Client, Clock

SECRET = "acme-webhook-secret"
SHOPS = {"acme": {"domain": "acme.myshopify.com", "secret": SECRET}}


@pytest.fixture
def shop_deployment(omskit_database: TestDatabase, clock: Clock) -> Iterator[Deployment]:
    made = Deployment.open(omskit_database.url, create=True, load_entrypoints=False,
                           schema=omskit_database.schema, clock=clock,
                           settings={"marketplace": {"shops": SHOPS}},
                           plugins=[omskit.ManualCarriers("brt"), omskit_returns_standard,
                                    marketplace])
    made.oms.inventory.save_location(location("dc-torino", 45.07, 7.69))
    made.oms.inventory.receive("dc-torino", "MUG-1", 5)
    yield made
    made.close()


@pytest.fixture
def webhooks(shop_deployment: Deployment) -> Iterator[Client]:
    with TestClient(create_app(shop_deployment)) as client:
        yield client


def _delivery(order_id: int, delivery: str, *, secret: str = SECRET) -> tuple[bytes,
                                                                             dict[str, str]]:
    body = json.dumps({
        "id": order_id, "created_at": "2026-12-04T10:00:00Z", "currency": "EUR",
        "line_items": [{"sku": "MUG-1", "quantity": 2, "price": "9.90"}],
        "shipping_address": {"address1": "Via Po 3", "city": "Torino",
                             "country_code": "IT", "latitude": 45.07,
                             "longitude": 7.69}}).encode()
    headers = {"X-Shopify-Hmac-Sha256": marketplace.sign(secret, body),
               "X-Shopify-Webhook-Id": delivery, "X-Shopify-Shop-Domain": "acme.myshopify.com",
               "X-Shopify-Topic": "orders/create", "Content-Type": "application/json"}
    return body, headers


def test_a_signed_order_webhook_places_the_order_once(
        webhooks: Client, shop_deployment: Deployment) -> None:
    body, headers = _delivery(1001, "d-1")
    first = webhooks.post("/webhooks/channels/marketplace", content=body, headers=headers)
    assert first.status_code == 200, first.text
    answer = first.json()
    assert answer["external_id"] == "1001"
    assert answer["channel"] == "marketplace:acme"
    order = shop_deployment.oms.orders.get(answer["order_id"])
    assert order.line("1").quantity == 2
    assert shop_deployment.oms.inventory.stock_item("dc-torino", "MUG-1").reserved == 2

    again = webhooks.post("/webhooks/channels/marketplace", content=body, headers=headers)
    assert again.json() == answer
    redelivered = _delivery(1001, "d-2")  # a new delivery of the same order
    third = webhooks.post("/webhooks/channels/marketplace", content=redelivered[0],
                          headers=redelivered[1])
    assert third.json()["order_id"] == answer["order_id"]
    assert len(shop_deployment.oms.orders.search()) == 1
    assert shop_deployment.oms.inventory.stock_item("dc-torino", "MUG-1").reserved == 2


def test_a_wrongly_signed_or_unknown_webhook_is_a_problem_and_changes_nothing(
        webhooks: Client, shop_deployment: Deployment) -> None:
    before = table_contents(shop_deployment.oms)
    body, headers = _delivery(1002, "d-3", secret="not-the-secret")
    forged = webhooks.post("/webhooks/channels/marketplace", content=body, headers=headers)
    assert forged.status_code == 400
    assert forged.headers["content-type"].startswith("application/problem+json")
    assert forged.json()["type"] == "urn:omskit:error:InvalidWebhook"
    good_body, good_headers = _delivery(1002, "d-4")
    tampered = webhooks.post("/webhooks/channels/marketplace",
                             content=good_body.replace(b'"quantity": 2', b'"quantity": 5'),
                             headers=good_headers)
    assert tampered.status_code == 400
    unsigned = {k: v for k, v in good_headers.items() if k != "X-Shopify-Hmac-Sha256"}
    assert webhooks.post("/webhooks/channels/marketplace", content=good_body,
                         headers=unsigned).status_code == 400
    unknown = webhooks.post("/webhooks/channels/nowhere", content=good_body,
                            headers=good_headers)
    assert unknown.status_code == 404
    assert table_contents(shop_deployment.oms) == before


def test_the_channel_key_of_the_shop_reaches_only_its_orders(
        webhooks: Client, shop_deployment: Deployment) -> None:
    body, headers = _delivery(1003, "d-5")
    order_id = webhooks.post("/webhooks/channels/marketplace", content=body,
                             headers=headers).json()["order_id"]
    keys = shop_deployment.keys
    webhooks.headers["Authorization"] = "Bearer " + keys.issue(
        "acme", Scope.CHANNEL, channel="marketplace:acme").token
    assert webhooks.get(f"/orders/{order_id}").status_code == 200
    webhooks.headers["Authorization"] = "Bearer " + keys.issue(
        "web", Scope.CHANNEL, channel="web").token
    assert webhooks.get(f"/orders/{order_id}").status_code == 404


def test_shops_come_from_the_environment() -> None:
    assert environment_settings({}) == {}
    shops: dict[str, Any] = {"acme": {"domain": "acme.myshopify.com", "secret": "s"}}
    assert environment_settings({"OMSKIT_MARKETPLACE_SHOPS": json.dumps(shops)}) == {
        "marketplace": {"shops": shops}}
    with pytest.raises(ValueError, match="JSON object"):
        environment_settings({"OMSKIT_MARKETPLACE_SHOPS": "[1]"})
