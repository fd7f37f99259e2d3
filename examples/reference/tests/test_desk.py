"""The returns desk and the store page's pickups, over HTTP like a browser: a store works its
own returns only, actions come only from the pages, buttons take goods once."""

from __future__ import annotations

from omskit import Capability, LocationKind
from omskit.testing import location

from omskit_reference import Deployment, Scope

from .conftest import Client, place_body, post
from .test_pages import ACTION, signed_in
from .test_returns import on_hand, shipped


def test_a_store_takes_a_return_over_the_counter_from_the_desk(
        admin: Client, deployment: Deployment) -> None:
    order = shipped(admin, "W-D1", {"SKU-D": 2})
    roma = signed_in(deployment, Scope.STORE, location="store-roma")
    home = roma.get("/ui/returns")
    assert home.status_code == 200
    assert 'href="/ui/returns"' in home.text  # linked in the header
    assert "No returns." in home.text
    forged = roma.post("/ui/returns/request", data={"external_id": "W-D1", "reason": "size"})
    assert forged.status_code == 403
    assert deployment.oms.returns.for_order(order["id"]) == []
    unknown = roma.post("/ui/returns/request", headers=ACTION, data={"external_id": "W-NOPE"})
    assert "no order is &#39;W-NOPE&#39;" in unknown.text
    asked = roma.post("/ui/returns/request", headers=ACTION,
                      data={"external_id": "W-D1", "reason": "size"})
    assert "W-D1" in asked.text
    assert "waiting for approval" in asked.text
    [rma] = deployment.oms.returns.for_order(order["id"])
    assert (rma.location, rma.channel, rma.requested) == ("store-roma", "store", {"1": 2})
    assert roma.post(f"/ui/returns/{rma.id}/approve", headers=ACTION).status_code == 403

    ops = signed_in(deployment, Scope.OPERATIONS)
    assert "Approve" in ops.get("/ui/returns").text
    ops.post(f"/ui/returns/{rma.id}/approve", headers=ACTION)

    torino = signed_in(deployment, Scope.STORE, location="store-torino")
    assert "W-D1" not in torino.get("/ui/returns").text
    refused = torino.post(f"/ui/returns/{rma.id}/receive", headers=ACTION)
    assert "return" in refused.text
    assert "not found" in refused.text.lower()
    assert deployment.oms.returns.get(rma.id).receipts == []

    page = roma.get("/ui/returns").text
    assert "Receive" in page
    assert "Refund" not in page
    for _ in range(2):  # a double click: the second finds nothing left to receive
        roma.post(f"/ui/returns/{rma.id}/receive", headers=ACTION)
    assert len(deployment.oms.returns.get(rma.id).receipts) == 1
    inspected = roma.post(f"/ui/returns/{rma.id}/restock", headers=ACTION)
    assert "inspected" in inspected.text
    assert on_hand(deployment, "store-roma", "SKU-D") == 2
    assert roma.post(f"/ui/returns/{rma.id}/close", headers=ACTION).status_code == 403
    refund = ops.post(f"/ui/returns/{rma.id}/refund", headers=ACTION)
    assert "cannot refund" in refund.text  # nothing was captured: the typed error, shown
    closed = ops.post(f"/ui/returns/{rma.id}/close", headers=ACTION)
    assert "closed" in closed.text
    assert deployment.oms.returns.get(rma.id).status.value == "closed"


def test_who_may_use_the_desk(admin: Client, deployment: Deployment) -> None:
    order = shipped(admin, "W-D2", {"SKU-D": 1})
    reader = signed_in(deployment, Scope.READ)
    assert reader.get("/ui/returns").status_code == 200
    assert "Request return" not in reader.get("/ui/returns").text
    answer = reader.post("/ui/returns/request", headers=ACTION,
                         data={"external_id": "W-D2", "location": "store-roma"})
    assert answer.status_code == 403
    assert deployment.oms.returns.for_order(order["id"]) == []
    web = signed_in(deployment, Scope.CHANNEL, channel="web")
    assert web.get("/ui/returns").status_code == 403
    ops = signed_in(deployment, Scope.OPERATIONS)
    ops.post("/ui/returns/request", headers=ACTION,
             data={"external_id": "W-D2", "location": "store-torino", "reason": "bored"})
    assert deployment.oms.returns.for_order(order["id"]) == []  # refused by the policy
    answer = ops.post("/ui/returns/request", headers=ACTION,
                      data={"external_id": "W-D2", "location": "store-torino"})
    assert "W-D2" in answer.text
    assert deployment.oms.returns.for_order(order["id"])[0].location == "store-torino"


def test_a_store_readies_a_pickup_and_hands_it_over_from_its_page(
        admin: Client, deployment: Deployment) -> None:
    deployment.oms.inventory.save_location(location(
        "store-roma", 41.90, 12.49, kind=LocationKind.STORE,
        capabilities=[Capability.SHIP, Capability.PICKUP]))
    placed = post(admin, "/orders", place_body("W-PU", {"SKU-R": 1}, pickup_at="store-roma"))
    post(admin, f"/orders/{placed.json()['id']}/release", If_Match=placed.headers["ETag"])
    [fo] = placed.json()["fulfillment_orders"]
    roma = signed_in(deployment, Scope.STORE, location="store-roma")
    page = roma.get("/ui/store/store-roma").text
    assert "Ready for pickup" in page
    assert "Collected" not in page
    url = f"/ui/store/store-roma/fulfilment-orders/{fo['id']}"
    assert roma.post(f"{url}/ready").status_code == 403  # not from the page
    ready = roma.post(f"{url}/ready", headers=ACTION)
    assert "Collected" in ready.text
    assert "ready_for_pickup" in ready.text
    assert deployment.oms.fulfillment.get(fo["id"]).status.value == "ready_for_pickup"
    collected = roma.post(f"{url}/collect", headers=ACTION)
    assert "W-PU" not in collected.text  # handed over: off the queue
    assert deployment.oms.fulfillment.get(fo["id"]).status.value == "delivered"
    again = roma.post(f"{url}/collect", headers=ACTION)  # a double click collects once
    assert again.status_code == 200
    assert 'role="alert"' not in again.text
    assert on_hand(deployment, "store-roma", "SKU-R") == 9
