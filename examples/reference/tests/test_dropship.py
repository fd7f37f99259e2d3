"""Dropship over HTTP: a supplier's purchase orders, acknowledge, refuse, ship notices with
tracking, each once; the supplier's key reaches only its own; the operations page."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import omskit
import omskit_returns_standard
import pytest
from litestar.testing import TestClient
from omskit import FulfillmentStatus, LocationKind, OrderStatus, SupplierConnector, hookimpl
from omskit.testing import MemorySupplier, TestDatabase, location, table_contents

from omskit_reference import Deployment, Scope, create_app

from .conftest import Client, Clock, place_body, post
from .test_pages import signed_in


class Suppliers:
    """Two in-memory suppliers (omskit's testing connector)."""

    def __init__(self) -> None:
        self.acme = MemorySupplier("sup-acme")
        self.bolt = MemorySupplier("sup-bolt")

    @hookimpl
    def omskit_register_suppliers(self, register: Callable[[SupplierConnector], None]) -> None:
        register(self.acme)
        register(self.bolt)


@pytest.fixture
def ds(omskit_database: TestDatabase, clock: Clock) -> Iterator[Deployment]:
    made = Deployment.open(omskit_database.url, create=True, load_entrypoints=False,
                           schema=omskit_database.schema, clock=clock,
                           plugins=[Suppliers(), omskit.ManualCarriers("brt"),
                                    omskit_returns_standard])
    inventory = made.oms.inventory
    inventory.save_location(location("sup-acme", 45.07, 7.69, kind=LocationKind.SUPPLIER))
    inventory.save_location(location("sup-bolt", 40.85, 14.27, kind=LocationKind.SUPPLIER))
    inventory.save_location(location("dc-napoli", 40.85, 14.27))
    inventory.receive("sup-acme", "LAMP-1", 20)
    inventory.receive("sup-bolt", "BOLT-1", 20)
    inventory.receive("dc-napoli", "LAMP-1", 10)
    yield made
    made.close()


@pytest.fixture
def client_of(ds: Deployment) -> Iterator[Callable[..., Client]]:
    clients: list[Client] = []

    def make(scope: Scope, **bound: str) -> Client:
        client: Client = TestClient(create_app(ds))
        client.__enter__()
        client.headers["Authorization"] = f"Bearer {ds.keys.issue('k', scope, **bound).token}"
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def _released(admin: Client, external_id: str, sku: str, units: int, lat: float,
              lon: float) -> Any:
    placed = post(admin, "/orders", place_body(external_id, {sku: units}, lat=lat, lon=lon))
    assert placed.status_code == 201, placed.text
    released = post(admin, f"/orders/{placed.json()['id']}/release",
                    If_Match=placed.headers["ETag"])
    assert released.status_code == 200, released.text
    return released.json()


def test_a_supplier_acknowledges_and_ships_its_purchase_order_once(
        client_of: Callable[..., Client], ds: Deployment) -> None:
    admin = client_of(Scope.ADMIN)
    order = _released(admin, "DS-1", "LAMP-1", 3, 45.07, 7.69)
    listed = admin.get("/suppliers/sup-acme/purchase-orders", params={"open_only": True})
    assert listed.status_code == 200, listed.text
    [po] = listed.json()
    assert (po["status"], po["order_id"]) == ("sent", order["id"])

    acme = client_of(Scope.STORE, location="sup-acme")
    acked = post(acme, f"/purchase-orders/{po['id']}/acknowledge", key="ack-1")
    assert acked.status_code == 200, acked.text
    assert acked.json()["status"] == "acknowledged"
    assert post(acme, f"/purchase-orders/{po['id']}/acknowledge",
                key="ack-1").headers["Idempotent-Replayed"] == "true"

    notice = {"lines": [{"sku": "LAMP-1", "quantity": 2}], "carrier": "brt",
              "tracking_number": "BRT-1"}
    shipped = post(acme, f"/purchase-orders/{po['id']}/ship-notices", notice, key="asn-1")
    assert shipped.status_code == 200, shipped.text
    assert shipped.json()["status"] == "partially_shipped"
    post(acme, f"/purchase-orders/{po['id']}/ship-notices", notice, key="asn-1")
    assert ds.oms.orders.get(order["id"]).status is OrderStatus.PARTIALLY_SHIPPED

    before = table_contents(ds.oms)
    too_many = post(acme, f"/purchase-orders/{po['id']}/ship-notices",
                    {**notice, "lines": [{"sku": "LAMP-1", "quantity": 5}],
                     "tracking_number": "BRT-2"})
    assert too_many.status_code == 422
    assert too_many.json()["type"] == "urn:omskit:error:ShipNoticeExceedsOrder"
    unknown_carrier = post(acme, f"/purchase-orders/{po['id']}/ship-notices",
                           {**notice, "lines": [{"sku": "LAMP-1", "quantity": 1}],
                            "carrier": "nobody", "tracking_number": "X-1"})
    assert unknown_carrier.status_code == 404
    assert table_contents(ds.oms) == before

    last = post(acme, f"/purchase-orders/{po['id']}/ship-notices",
                {**notice, "lines": [{"sku": "LAMP-1", "quantity": 1}],
                 "tracking_number": "BRT-3"})
    assert last.json()["status"] == "shipped"
    done = ds.oms.orders.get(order["id"])
    assert done.status is OrderStatus.SHIPPED
    assert [s.tracking_number for s in done.fulfillment_orders[0].shipments] == [
        "BRT-1", "BRT-3"]
    assert admin.get("/suppliers/sup-acme/purchase-orders",
                     params={"open_only": True}).json() == []


def test_a_refused_purchase_order_is_re_routed(client_of: Callable[..., Client],
                                               ds: Deployment) -> None:
    admin = client_of(Scope.ADMIN)
    order = _released(admin, "DS-2", "LAMP-1", 1, 45.07, 7.69)
    [po] = admin.get("/suppliers/sup-acme/purchase-orders").json()
    refused = post(client_of(Scope.OPERATIONS), f"/purchase-orders/{po['id']}/refuse",
                   {"reason": "discontinued"})
    assert refused.status_code == 200, refused.text
    assert refused.json()["status"] == "refused"
    where = {fo.location: fo.status for fo in ds.oms.orders.get(order["id"]).fulfillment_orders}
    assert where == {"sup-acme": FulfillmentStatus.REJECTED,
                     "dc-napoli": FulfillmentStatus.CREATED}


def test_keys_out_of_scope_reach_no_purchase_order_and_change_nothing(
        client_of: Callable[..., Client], ds: Deployment) -> None:
    admin = client_of(Scope.ADMIN)
    _released(admin, "DS-3", "LAMP-1", 1, 45.07, 7.69)
    [po] = admin.get("/suppliers/sup-acme/purchase-orders").json()
    before = table_contents(ds.oms)
    bolt = client_of(Scope.STORE, location="sup-bolt")
    assert bolt.get("/suppliers/sup-acme/purchase-orders").status_code == 403
    assert bolt.get(f"/purchase-orders/{po['id']}").status_code == 404
    assert post(bolt, f"/purchase-orders/{po['id']}/acknowledge").status_code == 404
    assert post(bolt, f"/purchase-orders/{po['id']}/refuse", {"reason": "x"}).status_code == 404
    reader = client_of(Scope.READ)
    assert reader.get(f"/purchase-orders/{po['id']}").status_code == 200
    assert post(reader, f"/purchase-orders/{po['id']}/acknowledge").status_code == 403
    web = client_of(Scope.CHANNEL, channel="web")
    assert web.get("/suppliers/sup-acme/purchase-orders").status_code == 403
    assert post(web, f"/purchase-orders/{po['id']}/acknowledge").status_code == 403
    assert admin.get("/suppliers/dc-napoli/purchase-orders").status_code == 404
    assert table_contents(ds.oms) == before


def test_the_dropship_page_lists_open_purchase_orders(
        client_of: Callable[..., Client], ds: Deployment) -> None:
    admin = client_of(Scope.ADMIN)
    _released(admin, "DS-4", "BOLT-1", 1, 40.85, 14.27)
    ops = signed_in(ds, Scope.OPERATIONS)
    html = ops.get("/ui/purchase-orders").text
    assert "DS-4" in html
    assert "sup-bolt" in html
    store = signed_in(ds, Scope.STORE, location="sup-bolt")
    assert store.get("/ui/purchase-orders").status_code == 403
