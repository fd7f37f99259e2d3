"""The API end to end: headers, problems, idempotency, versions and paging."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from omskit import OrderStatus

from omskit_reference import Deployment, Scope

from .conftest import Client, place_body, post


def test_an_order_goes_from_placement_to_delivery_through_the_api(
        admin: Client, client_for: Callable[..., Client], deployment: Deployment) -> None:
    placed = post(admin, "/orders", place_body("W-1", {"SKU-R": 2}, lat=41.9, lon=12.5))
    assert placed.status_code == 201, placed.text
    order = placed.json()
    assert order["total"] == {"amount": "20.00", "currency": "EUR"}  # money as strings
    [fo] = order["fulfillment_orders"]
    assert fo["location"] == "store-roma"

    released = post(admin, f"/orders/{order['id']}/release", If_Match=placed.headers["ETag"])
    assert released.status_code == 200, released.text
    roma = client_for(Scope.STORE, location="store-roma")
    queue = roma.get("/locations/store-roma/fulfilment-orders").json()
    assert [f["id"] for f in queue] == [fo["id"]]
    for step in ("accept", "pick", "pack"):
        assert post(roma, f"/fulfilment-orders/{fo['id']}/{step}").status_code == 200
    shipped = post(roma, f"/fulfilment-orders/{fo['id']}/ship",
                   {"carrier": "brt", "tracking_number": "BRT-1"})
    assert shipped.json()["status"] == "shipped"
    assert post(roma, f"/fulfilment-orders/{fo['id']}/deliver").status_code == 200
    assert deployment.oms.orders.get(order["id"]).status is OrderStatus.DELIVERED
    timeline = admin.get(f"/orders/{order['id']}/timeline").json()
    assert timeline[0]["event_type"] == "order.placed"


def test_every_post_needs_an_idempotency_key_and_a_retry_gets_the_first_answer(
        admin: Client, deployment: Deployment) -> None:
    body = place_body("W-2", {"SKU-D": 1})
    missing = admin.post("/orders", json=body)
    assert missing.status_code == 400
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert deployment.oms.orders.search() == []

    first = post(admin, "/orders", body, key="k-1")
    again = post(admin, "/orders", body, key="k-1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert len(deployment.oms.orders.search()) == 1

    reused = post(admin, "/orders", place_body("W-3", {"SKU-D": 1}), key="k-1")
    assert reused.status_code == 422
    assert len(deployment.oms.orders.search()) == 1


def test_a_typed_error_is_a_problem_document_and_is_replayed_as_such(
        admin: Client, deployment: Deployment) -> None:
    assert post(admin, "/orders", place_body("W-4", {"SKU-D": 1})).status_code == 201
    other = place_body("W-4", {"SKU-D": 3})  # the same external id, other content
    first = post(admin, "/orders", other, key="other-1")
    assert first.status_code == 409
    problem = first.json()
    assert first.headers["content-type"].startswith("application/problem+json")
    assert problem["type"] == "urn:omskit:error:IdempotencyConflict"
    assert problem["status"] == 409
    assert "W-4" in problem["detail"]
    again = post(admin, "/orders", other, key="other-1")
    assert again.json() == problem
    assert again.headers["Idempotent-Replayed"] == "true"
    [order] = deployment.oms.orders.search()
    assert deployment.oms.orders.get(order.id).lines[0].quantity == 1


def test_a_payload_omskit_refuses_is_a_400_naming_every_problem(
        admin: Client, deployment: Deployment) -> None:
    bad = place_body("W-4", {"SKU-D": 1})
    bad["currency"] = "EURO"
    refused = post(admin, "/orders", bad)
    assert refused.status_code == 400
    assert any("ISO 4217" in p for p in refused.json()["problems"])
    assert deployment.oms.orders.search() == []


def test_malformed_json_and_wrong_types_are_problems_that_change_nothing(
        admin: Client, deployment: Deployment) -> None:
    broken = admin.post("/orders", content=b'{"channel": ', headers={
        "Idempotency-Key": "x", "content-type": "application/json"})
    assert broken.status_code == 400
    assert broken.headers["content-type"].startswith("application/problem+json")
    wrong = place_body("W-5", {"SKU-D": 1})
    wrong["lines"] = "two shirts"
    typed = post(admin, "/orders", wrong)
    assert typed.status_code == 400
    assert typed.json()["problems"] == ["lines: Expected `array`, got `str`"]
    assert admin.get("/orders/no-such-order").status_code == 404
    assert deployment.oms.orders.search() == []


def test_changing_an_order_needs_its_current_version(admin: Client,
                                                     deployment: Deployment) -> None:
    placed = post(admin, "/orders", place_body("W-6", {"SKU-D": 1}))
    order_id = placed.json()["id"]
    stale = placed.headers["ETag"]
    held = post(admin, f"/orders/{order_id}/holds", {"code": "fraud", "reason": "check"},
                If_Match=stale)
    assert held.status_code == 200
    assert held.headers["ETag"] != stale

    without = post(admin, f"/orders/{order_id}/cancel", {"reason": "no"})
    assert without.status_code == 428
    late = post(admin, f"/orders/{order_id}/cancel", {"reason": "no"}, If_Match=stale)
    assert late.status_code == 412
    assert late.headers["ETag"] == held.headers["ETag"]
    assert deployment.oms.orders.get(order_id).status is OrderStatus.ON_HOLD

    current = admin.get(f"/orders/{order_id}").headers["ETag"]
    assert current == held.headers["ETag"]
    cancelled = post(admin, f"/orders/{order_id}/cancel", {"reason": "no"}, If_Match=current)
    assert cancelled.json()["status"] == "cancelled"


def test_a_change_racing_another_at_the_same_version_gets_412(
        admin: Client, deployment: Deployment, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process changes the order after this request checked If-Match and before it
    changes the order: omskit compares the version again under the row lock, so this
    request gets 412 and applies nothing (not a hold on top of the other)."""
    placed = post(admin, "/orders", place_body("W-7", {"SKU-D": 1}))
    order_id = placed.json()["id"]
    orders = deployment.oms.orders
    place_hold = orders.place_hold

    def racing(oid: str, code: str, reason: str) -> Any:
        # The other request, served by another thread (as another process would be).
        other = threading.Thread(target=place_hold, args=(oid, "other-process", "first"))
        other.start()
        other.join()
        return place_hold(oid, code, reason)

    monkeypatch.setattr(orders, "place_hold", racing)
    raced = post(admin, f"/orders/{order_id}/holds", {"code": "fraud", "reason": "check"},
                 If_Match=placed.headers["ETag"])
    assert raced.status_code == 412
    assert raced.headers["ETag"] == f'"{orders.get(order_id).version}"'
    assert [h.code for h in orders.get(order_id).active_holds] == ["other-process"]


def test_the_order_listing_pages_by_keyset(admin: Client) -> None:
    for n in range(5):
        post(admin, "/orders", place_body(f"W-P{n}", {"SKU-D": 1}))
    seen: list[str] = []
    url = "/orders?limit=2"
    while True:
        page = admin.get(url).json()
        seen.extend(item["external_id"] for item in page["items"])
        if page["next_cursor"] is None:
            break
        url = f"/orders?limit=2&cursor={page['next_cursor']}"
    assert sorted(seen) == [f"W-P{n}" for n in range(5)]
    assert len(set(seen)) == 5
    forged = admin.get("/orders?cursor=not-a-cursor")
    assert forged.status_code == 422
    assert forged.json()["type"] == "urn:omskit:error:InvalidCommand"


def test_a_wrongly_signed_webhook_is_refused_without_a_key(
        admin: Client, deployment: Deployment) -> None:
    answer = admin.post("/webhooks/payments/no-such-provider", content=b"{}")
    assert answer.status_code == 404
    assert answer.json()["type"] == "urn:omskit:error:UnknownPaymentProvider"


def test_the_openapi_schema_is_served_without_a_key(client_for: Callable[..., Client],
                                                    deployment: Deployment) -> None:
    client = client_for(Scope.READ)
    del client.headers["Authorization"]
    schema = client.get("/schema/openapi.json").json()
    assert schema["openapi"].startswith("3.1")
    assert {"/orders", "/orders/{order_id}", "/fulfilment-orders/{fulfillment_order_id}/ship",
            "/keys"} <= set(schema["paths"])
    place = schema["paths"]["/orders"]["post"]
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header"
               for p in place["parameters"])
