"""Return labels and exchanges over HTTP: a label bought once from a carrier that offers
them (omskit-carrier-tablerate), an exchange's replacement order placed on approval; scopes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import omskit
import omskit_carrier_tablerate
import omskit_returns_standard
import pytest
from litestar.testing import TestClient
from omskit.testing import TestDatabase, location, table_contents

from omskit_reference import Deployment, Scope, create_app

from .conftest import Client, Clock, place_body, post
from .test_pages import ACTION, signed_in

TABLERATE: dict[str, Any] = {
    "currency": "EUR", "webhook_secret": "a-secret-of-at-least-16-chars",
    "zones": [{"name": "italy", "countries": ["IT"], "transit_days": 2,
               "bands": [{"up_to_grams": 10000, "price": "5.90"}]}],
}


@pytest.fixture
def carried(omskit_database: TestDatabase, clock: Clock) -> Iterator[Deployment]:
    made = Deployment.open(omskit_database.url, create=True, load_entrypoints=False,
                           schema=omskit_database.schema, clock=clock,
                           settings={"carrier_tablerate": TABLERATE},
                           plugins=[omskit_carrier_tablerate, omskit.ManualCarriers("brt"),
                                    omskit_returns_standard])
    made.oms.inventory.save_location(location("dc-milano", 45.46, 9.19, country="IT"))
    made.oms.inventory.receive("dc-milano", "SKU-D", 50)
    made.oms.inventory.receive("dc-milano", "SKU-X", 50)
    yield made
    made.close()


@pytest.fixture
def key_for(carried: Deployment) -> Iterator[Callable[..., Client]]:
    clients: list[Client] = []

    def make(scope: Scope, **bound: str) -> Client:
        client: Client = TestClient(create_app(carried))
        client.__enter__()
        client.headers["Authorization"] = f"Bearer {carried.keys.issue('k', scope, **bound).token}"
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def _shipped(admin: Client, external_id: str, channel: str = "web") -> Any:
    placed = post(admin, "/orders", place_body(external_id, {"SKU-D": 2}, channel=channel))
    assert placed.status_code == 201, placed.text
    order = placed.json()
    released = post(admin, f"/orders/{order['id']}/release", If_Match=placed.headers["ETag"])
    for fo in released.json()["fulfillment_orders"]:
        for step in ("accept", "pick", "pack"):
            post(admin, f"/fulfilment-orders/{fo['id']}/{step}")
        done = post(admin, f"/fulfilment-orders/{fo['id']}/ship",
                    {"carrier": "tablerate", "tracking_number": f"T-{fo['id'][:6]}"})
        assert done.status_code == 200, done.text
    return order


def _requested(client: Client, order: Any, **extra: Any) -> Any:
    asked = post(client, f"/orders/{order['id']}/returns", {
        "lines": [{"line_id": "1", "quantity": 1, "reason": "size"}], "channel": "web",
        **extra})
    assert asked.status_code == 201, asked.text
    return asked.json()


def test_a_return_label_is_bought_once(key_for: Callable[..., Client],
                                       carried: Deployment) -> None:
    admin = key_for(Scope.ADMIN)
    order = _shipped(admin, "L-1")
    web = key_for(Scope.CHANNEL, channel="web")
    rma = _requested(web, order)
    assert post(admin, f"/returns/{rma['id']}/approve").status_code == 200
    bought = post(web, f"/returns/{rma['id']}/label", {"carrier": "tablerate"})
    assert bought.status_code == 200, bought.text
    label = bought.json()["label"]
    assert label["tracking_number"]
    assert bought.json()["status"] == "in_transit"
    again = post(web, f"/returns/{rma['id']}/label", {"carrier": "tablerate"})
    assert again.json()["label"] == label
    assert carried.oms.returns.get(rma["id"]).label is not None

    other = _requested(admin, _shipped(admin, "L-2"))
    before = table_contents(carried.oms)
    no_labels = post(admin, f"/returns/{other['id']}/label", {"carrier": "brt"})
    assert no_labels.status_code == 409
    assert no_labels.json()["type"] == "urn:omskit:error:CapabilityNotSupported"
    assert post(admin, f"/returns/{other['id']}/label",
                {"carrier": "nobody"}).status_code == 404
    pos = key_for(Scope.CHANNEL, channel="pos")
    assert post(pos, f"/returns/{other['id']}/label",
                {"carrier": "tablerate"}).status_code == 404
    reader = key_for(Scope.READ)
    assert post(reader, f"/returns/{other['id']}/label",
                {"carrier": "tablerate"}).status_code == 403
    store = key_for(Scope.STORE, location="dc-milano")
    assert post(store, f"/returns/{other['id']}/label",
                {"carrier": "tablerate"}).status_code == 403
    assert table_contents(carried.oms) == before


def test_an_exchange_places_its_replacement_when_approved(
        key_for: Callable[..., Client], carried: Deployment) -> None:
    admin = key_for(Scope.ADMIN)
    order = _shipped(admin, "X-1")
    rma = _requested(admin, order, exchange=[{"sku": "SKU-X", "quantity": 1,
                                              "unit_price": "10.00"}])
    assert rma["exchange"][0]["sku"] == "SKU-X"
    assert rma["exchange_mode"] == "on_receipt"
    approved = post(admin, f"/returns/{rma['id']}/approve")
    assert approved.status_code == 200, approved.text
    replacement_id = approved.json()["exchange_order_id"]
    replacement = carried.oms.orders.get(replacement_id)
    assert [line.sku for line in replacement.lines] == ["SKU-X"]
    assert "awaiting_return" in [h.code for h in replacement.active_holds]
    again = post(admin, f"/returns/{rma['id']}/approve")
    assert again.json()["exchange_order_id"] == replacement_id
    wrong = post(admin, f"/orders/{order['id']}/returns", {
        "lines": [{"line_id": "1", "quantity": 1, "reason": "size"}], "channel": "web",
        "exchange_mode": "sometime"})
    assert wrong.status_code == 400


def test_the_returns_desk_buys_a_label_and_shows_the_exchange(
        key_for: Callable[..., Client], carried: Deployment) -> None:
    admin = key_for(Scope.ADMIN)
    order = _shipped(admin, "D-1")
    rma = _requested(admin, order, exchange=[{"sku": "SKU-X", "quantity": 1,
                                              "unit_price": "10.00"}])
    post(admin, f"/returns/{rma['id']}/approve")
    ops = signed_in(carried, Scope.OPERATIONS)
    desk = ops.get("/ui/returns").text
    assert "Label (tablerate)" in desk
    assert "Label (brt)" not in desk  # brt offers no return labels
    assert "exchange: 1 × SKU-X" in desk
    url = f"/ui/returns/{rma['id']}/label?carrier=tablerate"
    assert ops.post(url).status_code == 403  # not sent by the page
    done = ops.post(url, headers=ACTION)
    assert done.status_code == 200, done.text
    label = carried.oms.returns.get(rma["id"]).label
    assert label is not None
    assert f"label tablerate {label.tracking_number}" in done.text
    store = signed_in(carried, Scope.STORE, location="dc-milano")
    other = _requested(admin, _shipped(admin, "D-2"))
    assert store.post(f"/ui/returns/{other['id']}/label?carrier=tablerate",
                      headers=ACTION).status_code == 403
    assert carried.oms.returns.get(other["id"]).label is None
