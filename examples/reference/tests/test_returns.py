"""Returns and pickups over HTTP: each endpoint, the scopes (a store key works only at its
own store, a read-only key changes nothing) and bad input answered as problem documents with
nothing changed."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from omskit import Capability, LocationKind
from omskit.testing import location, table_counts
from omskit_payment_sandbox import cards

from omskit_reference import Deployment, Scope

from .conftest import Client, place_body, post

PROBLEM = "application/problem+json"


def on_hand(deployment: Deployment, code: str, sku: str) -> int:
    """Units of ``sku`` on hand at ``code`` (none when it never had any)."""
    item = deployment.oms.inventory.stock_item(code, sku)
    return 0 if item is None else item.on_hand


def shipped(admin: Client, external_id: str, lines: dict[str, int],
            paid: str | None = None) -> dict[str, Any]:
    """An order shipped whole from where routing sent it (``paid``: with a sandbox card
    for that amount, captured at shipment)."""
    body = place_body(external_id, lines)
    if paid is not None:
        body["payment"] = {"tenders": [{"provider": "sandbox", "amount": paid,
                                        "method_token": cards.APPROVED}]}
    placed = post(admin, "/orders", body)
    assert placed.status_code == 201, placed.text
    order = placed.json()
    etag = admin.get(f"/orders/{order['id']}").headers["ETag"]  # payment may have moved it
    released = post(admin, f"/orders/{order['id']}/release", If_Match=etag)
    assert released.status_code == 200, released.text
    for fo in released.json()["fulfillment_orders"]:
        for step in ("accept", "pick", "pack"):
            assert post(admin, f"/fulfilment-orders/{fo['id']}/{step}").status_code == 200
        done = post(admin, f"/fulfilment-orders/{fo['id']}/ship",
                    {"carrier": "brt", "tracking_number": f"BRT-{fo['id'][:6]}"})
        assert done.status_code == 200, done.text
    found: dict[str, Any] = admin.get(f"/orders/{order['id']}").json()
    return found


def ask(client: Client, order: dict[str, Any], quantity: int = 1, *, reason: str = "size",
        location: str | None = "store-roma", channel: str = "store", **headers: str) -> Any:
    line = order["lines"][0]["line_id"]
    return post(client, f"/orders/{order['id']}/returns",
                {"lines": [{"line_id": line, "quantity": quantity, "reason": reason}],
                 "channel": channel, "location": location}, **headers)


def problem(answer: Any, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith(PROBLEM)
    document: dict[str, Any] = answer.json()
    return document


def test_a_return_goes_from_request_to_close_and_restocks_where_it_was_received(
        admin: Client, client_for: Callable[..., Client], deployment: Deployment) -> None:
    order = shipped(admin, "W-R1", {"SKU-D": 2})
    ops = client_for(Scope.OPERATIONS)
    asked = ask(ops, order)
    assert asked.status_code == 201, asked.text
    rma = asked.json()
    assert (rma["status"], rma["location"], rma["policy"]) == ("requested", "store-roma",
                                                               "standard")
    line = rma["lines"][0]["line_id"]
    assert post(ops, f"/returns/{rma['id']}/approve").json()["status"] == "approved"
    received = post(ops, f"/returns/{rma['id']}/receive",
                    {"location": "store-roma", "lines": [{"line_id": line, "quantity": 1}]})
    assert received.json()["status"] == "received", received.text
    inspected = post(ops, f"/returns/{rma['id']}/inspect", {"units": [
        {"line_id": line, "quantity": 1, "disposition": "restock"}]})
    assert inspected.json()["status"] == "inspected", inspected.text
    # Back on sale in Roma, the store that took it back (it was shipped from Milan).
    stock = ops.get("/locations/store-roma/stock/SKU-D").json()
    assert stock["on_hand"] == 1
    # No payment was captured: there is nothing to pay back, and the return stays unpaid.
    refused = problem(post(ops, f"/returns/{rma['id']}/refund"), 409)
    assert refused["type"].endswith("PaymentAmountExceeded")
    assert ops.get(f"/returns/{rma['id']}").json()["refund"] is None
    assert post(ops, f"/returns/{rma['id']}/close").json()["status"] == "closed"
    assert [r["id"] for r in ops.get("/returns?status=closed").json()] == [rma["id"]]
    assert ops.get("/returns?status=requested").json() == []
    assert [r["id"] for r in ops.get(f"/orders/{order['id']}/returns").json()] == [rma["id"]]


def test_a_declined_return_asks_nothing_back(admin: Client) -> None:
    order = shipped(admin, "W-R2", {"SKU-D": 1})
    rma = ask(admin, order).json()
    declined = post(admin, f"/returns/{rma['id']}/decline", {"reason": "worn"})
    assert declined.json()["status"] == "declined"
    assert ask(admin, order).status_code == 201  # the unit may be asked back again
    problem(post(admin, f"/returns/{rma['id']}/approve"), 409)  # IllegalTransition


def test_a_store_key_works_only_on_its_own_stores_returns(
        admin: Client, client_for: Callable[..., Client], deployment: Deployment) -> None:
    order = shipped(admin, "W-R3", {"SKU-D": 2})
    roma = client_for(Scope.STORE, location="store-roma")
    torino = client_for(Scope.STORE, location="store-torino")
    # An online order brought back over the Roma counter: Roma may take it, for Roma only.
    problem(ask(roma, order, location="store-torino"), 403)
    problem(ask(roma, order, location=None), 403)
    asked = ask(roma, order)
    assert asked.status_code == 201, asked.text
    rma = asked.json()
    line = rma["lines"][0]["line_id"]
    problem(torino.get(f"/returns/{rma['id']}"), 404)
    assert torino.get("/returns").json() == []
    problem(torino.get("/returns?location=store-roma"), 403)
    assert [r["id"] for r in roma.get("/returns").json()] == [rma["id"]]
    problem(post(roma, f"/returns/{rma['id']}/approve"), 403)  # operations approve
    assert post(admin, f"/returns/{rma['id']}/approve").status_code == 200
    body = {"location": "store-roma", "lines": [{"line_id": line, "quantity": 1}]}
    problem(post(torino, f"/returns/{rma['id']}/receive", body), 403)  # not its location
    problem(post(torino, f"/returns/{rma['id']}/receive", {**body, "location": "store-torino"}),
            404)
    problem(post(roma, f"/returns/{rma['id']}/receive", {**body, "location": "store-torino"}),
            403)
    assert deployment.oms.returns.get(rma["id"]).receipts == []
    received = post(roma, f"/returns/{rma['id']}/receive", body, key="counter-1")
    assert received.json()["status"] == "received"
    again = post(roma, f"/returns/{rma['id']}/receive", body, key="counter-1")
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(deployment.oms.returns.get(rma["id"]).receipts) == 1
    units = {"units": [{"line_id": line, "quantity": 1, "disposition": "quarantine"}]}
    problem(post(torino, f"/returns/{rma['id']}/inspect", units), 404)
    assert post(roma, f"/returns/{rma['id']}/inspect", units).json()["status"] == "inspected"
    assert deployment.oms.inventory.stock_item("store-roma", "SKU-D") is None  # quarantined
    problem(post(roma, f"/returns/{rma['id']}/refund"), 403)
    problem(post(roma, f"/returns/{rma['id']}/close"), 403)


def test_read_only_and_channel_keys(admin: Client, client_for: Callable[..., Client],
                                    deployment: Deployment) -> None:
    order = shipped(admin, "W-R4", {"SKU-D": 1})
    rma = ask(admin, order).json()
    reader = client_for(Scope.READ)
    before = table_counts(deployment.oms)
    assert reader.get(f"/returns/{rma['id']}").json()["id"] == rma["id"]
    assert len(reader.get("/returns").json()) == 1
    for step in ("approve", "refund", "close"):
        problem(post(reader, f"/returns/{rma['id']}/{step}"), 403)
    problem(ask(reader, order), 403)
    assert table_counts(deployment.oms) == before
    assert deployment.oms.returns.get(rma["id"]).status.value == "requested"
    web = client_for(Scope.CHANNEL, channel="web")
    assert web.get(f"/returns/{rma['id']}").status_code == 200  # its own order's return
    app = client_for(Scope.CHANNEL, channel="app")
    problem(app.get(f"/returns/{rma['id']}"), 404)
    problem(ask(app, order, channel="web", location=None), 404)
    problem(web.get("/returns"), 403)


def test_bad_input_is_a_problem_and_changes_nothing(admin: Client,
                                                    deployment: Deployment) -> None:
    order = shipped(admin, "W-R5", {"SKU-D": 1})
    before = table_counts(deployment.oms)
    too_many = problem(ask(admin, order, 2), 409)
    assert too_many["type"].endswith("ReturnQuantityExceeded")
    refused = problem(ask(admin, order, reason="bored"), 422)
    assert refused["type"].endswith("ReturnRefused")
    problem(post(admin, f"/orders/{order['id']}/returns",
                 {"lines": [{"line_id": "no-such-line", "quantity": 1}], "channel": "web"}),
            422)
    problem(post(admin, f"/orders/{order['id']}/returns", {"lines": "one", "channel": "web"}),
            400)
    problem(ask(admin, order, 0), 422)
    problem(post(admin, "/orders/nope/returns",
                 {"lines": [{"line_id": "1", "quantity": 1}], "channel": "web"}), 404)
    missing_key = admin.post(f"/orders/{order['id']}/returns",
                             json={"lines": [], "channel": "web"})
    problem(missing_key, 400)
    assert table_counts(deployment.oms) == {**before, **{
        k: v for k, v in table_counts(deployment.oms).items() if "idempotency" in k}}
    assert deployment.oms.returns.for_order(order["id"]) == []
    problem(admin.get("/returns/nope"), 404)
    problem(admin.get("/returns?status=lost"), 400)
    problem(post(admin, "/returns/nope/approve"), 404)
    rma = ask(admin, order).json()
    line = rma["lines"][0]["line_id"]
    problem(post(admin, f"/returns/{rma['id']}/receive",
                 {"location": "store-roma", "lines": [{"line_id": line, "quantity": 1}]}),
            409)  # not approved yet
    post(admin, f"/returns/{rma['id']}/approve")
    problem(post(admin, f"/returns/{rma['id']}/receive",
                 {"location": "store-roma", "lines": [{"line_id": line, "quantity": 5}]}),
            409)
    problem(post(admin, f"/returns/{rma['id']}/receive",
                 {"location": "nowhere", "lines": [{"line_id": line, "quantity": 1}]}), 404)
    post(admin, f"/returns/{rma['id']}/receive",
         {"location": "store-roma", "lines": [{"line_id": line, "quantity": 1}]})
    problem(post(admin, f"/returns/{rma['id']}/inspect", {"units": [
        {"line_id": line, "quantity": 2, "disposition": "restock"}]}), 409)
    problem(post(admin, f"/returns/{rma['id']}/inspect", {"units": [
        {"line_id": line, "quantity": 1, "disposition": "burn"}]}), 400)
    assert deployment.oms.returns.get(rma["id"]).inspections == []


def test_a_store_readies_a_pickup_and_the_customer_collects_it(
        admin: Client, client_for: Callable[..., Client], deployment: Deployment) -> None:
    deployment.oms.inventory.save_location(location(
        "store-roma", 41.90, 12.49, kind=LocationKind.STORE,
        capabilities=[Capability.SHIP, Capability.PICKUP]))
    placed = post(admin, "/orders", place_body("W-P1", {"SKU-R": 2}, pickup_at="store-roma"))
    assert placed.status_code == 201, placed.text
    released = post(admin, f"/orders/{placed.json()['id']}/release",
                    If_Match=placed.headers["ETag"])
    [fo] = released.json()["fulfillment_orders"]
    roma = client_for(Scope.STORE, location="store-roma")
    torino = client_for(Scope.STORE, location="store-torino")
    reader = client_for(Scope.READ)
    url = f"/fulfilment-orders/{fo['id']}"
    problem(post(roma, f"{url}/collect", {}), 409)  # not ready yet
    problem(post(torino, f"{url}/ready-for-pickup"), 404)
    problem(post(reader, f"{url}/ready-for-pickup"), 403)
    ready = post(roma, f"{url}/ready-for-pickup")
    assert ready.json()["status"] == "ready_for_pickup", ready.text
    line = placed.json()["lines"][0]
    problem(post(roma, f"{url}/collect", {"lines": [
        {"line_id": line["line_id"], "sku": "SKU-R", "quantity": 3}]}), 422)
    part = {"lines": [{"line_id": line["line_id"], "sku": "SKU-R", "quantity": 1}]}
    first = post(roma, f"{url}/collect", part, key="visit-1")
    assert first.json()["status"] == "ready_for_pickup", first.text
    assert post(roma, f"{url}/collect", part, key="visit-1").status_code == 200  # replayed
    assert on_hand(deployment, "store-roma", "SKU-R") == 9
    done = post(roma, f"{url}/collect", {})
    assert done.json()["status"] == "delivered", done.text
    assert on_hand(deployment, "store-roma", "SKU-R") == 8
    # A shipped (not picked-up) order cannot be made ready.
    order = shipped(admin, "W-P2", {"SKU-D": 1})
    other = order["fulfillment_orders"][0]["id"]
    problem(post(admin, f"/fulfilment-orders/{other}/ready-for-pickup"), 409)


def test_a_store_inspects_only_what_was_received_at_its_store(
        admin: Client, client_for: Callable[..., Client], deployment: Deployment) -> None:
    order = shipped(admin, "W-R6", {"SKU-D": 1})
    rma = ask(admin, order).json()  # expected in Roma...
    line = rma["lines"][0]["line_id"]
    post(admin, f"/returns/{rma['id']}/approve")
    received = post(admin, f"/returns/{rma['id']}/receive",  # ...but it arrived in Torino
                    {"location": "store-torino", "lines": [{"line_id": line, "quantity": 1}]})
    assert received.json()["status"] == "received", received.text
    roma = client_for(Scope.STORE, location="store-roma")
    units = {"units": [{"line_id": line, "quantity": 1, "disposition": "restock"}]}
    problem(post(roma, f"/returns/{rma['id']}/inspect", units), 403)
    assert deployment.oms.returns.get(rma["id"]).inspections == []
    torino = client_for(Scope.STORE, location="store-torino")
    assert post(torino, f"/returns/{rma['id']}/inspect", units).status_code == 200
    assert on_hand(deployment, "store-torino", "SKU-D") == 1


def test_a_refund_is_paid_once_through_the_ledger(
        admin: Client, client_for: Callable[..., Client], deployment: Deployment) -> None:
    order = shipped(admin, "W-R7", {"SKU-D": 2}, paid="20.00")  # 10.00 each
    rma = ask(admin, order, 2, reason="changed_mind").json()  # a 10 % restocking fee
    line = rma["lines"][0]["line_id"]
    post(admin, f"/returns/{rma['id']}/approve")
    post(admin, f"/returns/{rma['id']}/receive",
         {"location": "store-roma", "lines": [{"line_id": line, "quantity": 2}]})
    post(admin, f"/returns/{rma['id']}/inspect", {"units": [
        {"line_id": line, "quantity": 1, "disposition": "restock"},
        {"line_id": line, "quantity": 1, "disposition": "damaged"}]})  # not refunded
    paid = post(admin, f"/returns/{rma['id']}/refund")
    assert paid.status_code == 200, paid.text
    assert Decimal(paid.json()["refund"]["amount"]) == Decimal("9.00")
    # A new request (another Idempotency-Key): the refund is the return's, paid once.
    again = post(admin, f"/returns/{rma['id']}/refund")
    assert again.status_code == 200, again.text
    assert again.json()["refund"] == paid.json()["refund"]
    summary = admin.get(f"/orders/{order['id']}/payments").json()
    assert Decimal(summary["refunded"]["amount"]) == Decimal("9.00"), summary
    assert post(admin, f"/returns/{rma['id']}/close").json()["status"] == "closed"
