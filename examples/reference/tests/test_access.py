"""Who may do what: no key reaches another store's, another channel's or the admin's data."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from omskit_reference import Deployment, Scope
from omskit_reference.keys import KEY_CACHE_SECONDS, ApiKeys

from .conftest import Client, place_body, post

FO_STEPS = ("accept", "pick", "pack", "deliver")


def _order_at(admin: Client, external_id: str, sku: str, lat: float, lon: float,
              channel: str = "web") -> dict[str, object]:
    placed = post(admin, "/orders", place_body(external_id, {sku: 1}, lat=lat, lon=lon,
                                               channel=channel))
    order = placed.json()
    post(admin, f"/orders/{order['id']}/release", If_Match=placed.headers["ETag"])
    return order


def test_a_request_without_a_live_key_is_unauthorised(deployment: Deployment,
                                                      client_for: Callable[..., Client]) -> None:
    client = client_for(Scope.OPERATIONS)
    token = client.headers["Authorization"]
    assert client.get("/orders").status_code == 200
    client.headers["Authorization"] = token[:-2] + "xx"
    wrong = client.get("/orders")
    assert wrong.status_code == 401
    assert wrong.headers["content-type"].startswith("application/problem+json")
    del client.headers["Authorization"]
    assert client.get("/orders").status_code == 401


def test_a_rotated_key_stops_working_and_its_successor_works(
        admin: Client, client_for: Callable[..., Client], deployment: Deployment) -> None:
    ops = client_for(Scope.OPERATIONS)
    [key] = [k for k in deployment.keys.list() if k.scope is Scope.OPERATIONS]
    rotated = post(admin, f"/keys/{key.id}/rotate")
    assert rotated.status_code == 201
    assert rotated.json()["key"]["replaces"] == key.id
    assert ops.get("/orders").status_code == 401
    ops.headers["Authorization"] = f"Bearer {rotated.json()['token']}"
    assert ops.get("/orders").status_code == 200
    stored = deployment.keys.list()
    assert all(rotated.json()["token"].split("_", 2)[2] not in repr(k) for k in stored)


def test_a_store_key_reaches_only_its_own_store(
        admin: Client, client_for: Callable[..., Client], deployment: Deployment) -> None:
    roma_order = _order_at(admin, "W-R", "SKU-R", 41.9, 12.5)
    torino_order = _order_at(admin, "W-T", "SKU-T", 45.07, 7.69)
    [torino_fo] = torino_order["fulfillment_orders"]  # type: ignore[misc]
    roma = client_for(Scope.STORE, location="store-roma")

    assert roma.get("/locations/store-torino/fulfilment-orders").status_code == 403
    assert roma.get("/locations/store-torino/stock/SKU-T").status_code == 403
    assert roma.get(f"/fulfilment-orders/{torino_fo['id']}").status_code == 404
    for step in FO_STEPS:
        assert post(roma, f"/fulfilment-orders/{torino_fo['id']}/{step}").status_code == 404
    assert post(roma, f"/fulfilment-orders/{torino_fo['id']}/reject",
                {"reason": "mine now"}).status_code == 404
    assert roma.get(f"/orders/{torino_order['id']}").status_code == 404
    assert roma.get("/orders").status_code == 403
    assert [loc["code"] for loc in roma.get("/locations").json()] == ["store-roma"]
    assert roma.get(f"/orders/{roma_order['id']}").status_code == 200
    untouched = deployment.oms.fulfillment.get(torino_fo["id"])
    assert untouched.status.value == "released"


def test_a_channel_key_places_and_sees_only_its_channel(
        admin: Client, client_for: Callable[..., Client]) -> None:
    other = _order_at(admin, "M-1", "SKU-D", 45.46, 9.19, channel="marketplace")
    app = client_for(Scope.CHANNEL, channel="app")
    assert post(app, "/orders", place_body("W-X", {"SKU-D": 1})).status_code == 403
    mine = post(app, "/orders", place_body("A-1", {"SKU-D": 1}, channel="app"))
    assert mine.status_code == 201
    assert [o["external_id"] for o in app.get("/orders").json()["items"]] == ["A-1"]
    assert app.get("/orders?channel=marketplace").json()["items"] == []
    assert app.get(f"/orders/{other['id']}").status_code == 404
    assert post(app, f"/orders/{other['id']}/cancel", {"reason": "x"},
                If_Match='"1"').status_code == 404


@pytest.mark.parametrize("scope", [Scope.READ, Scope.STORE, Scope.CHANNEL, Scope.OPERATIONS])
def test_only_an_admin_key_manages_keys(scope: Scope, client_for: Callable[..., Client],
                                        deployment: Deployment) -> None:
    bound = {Scope.STORE: {"location": "store-roma"}, Scope.CHANNEL: {"channel": "web"}}
    client = client_for(scope, **bound.get(scope, {}))
    assert client.get("/keys").status_code == 403
    assert post(client, "/keys", {"name": "mine", "scope": "admin"}).status_code == 403
    assert len(deployment.keys.list()) == 1


def test_a_read_only_key_changes_nothing(admin: Client, client_for: Callable[..., Client],
                                         deployment: Deployment) -> None:
    order = _order_at(admin, "W-RO", "SKU-D", 45.46, 9.19)
    reader = client_for(Scope.READ)
    assert reader.get(f"/orders/{order['id']}").status_code == 200
    assert post(reader, f"/orders/{order['id']}/cancel", {"reason": "x"},
                If_Match='"9"').status_code == 403
    assert post(reader, "/orders", place_body("W-RO2", {"SKU-D": 1})).status_code == 403
    assert len(deployment.oms.orders.search()) == 1


def test_a_key_revoked_in_this_process_is_refused_at_once(
        admin: Client, client_for: Callable[..., Client], deployment: Deployment) -> None:
    ops = client_for(Scope.OPERATIONS)
    assert ops.get("/orders").status_code == 200  # verified, and remembered by this process
    [key] = [k for k in deployment.keys.list() if k.scope is Scope.OPERATIONS]
    assert post(admin, f"/keys/{key.id}/revoke").status_code == 200
    assert ops.get("/orders").status_code == 401


def test_a_key_revoked_by_another_process_is_refused_within_the_cache_bound(
        deployment: Deployment) -> None:
    """Another API process (its own ``ApiKeys``) trusts a key it verified for at most
    ``KEY_CACHE_SECONDS`` after the key was revoked elsewhere."""
    now = [0.0]
    elsewhere = ApiKeys(deployment.oms, deployment.tables, monotonic=lambda: now[0])
    issued = deployment.keys.issue("till", Scope.READ)
    assert elsewhere.authenticate(issued.token) == issued.key
    deployment.keys.revoke(issued.key.id)  # in "this" process
    assert deployment.keys.authenticate(issued.token) is None
    now[0] = KEY_CACHE_SECONDS - 0.5
    assert elsewhere.authenticate(issued.token) == issued.key  # still within the bound
    now[0] = KEY_CACHE_SECONDS
    assert elsewhere.authenticate(issued.token) is None
    now[0] = 0.0  # refused for good: the refusal is not remembered as the key was
    assert elsewhere.authenticate(issued.token) is None


def test_a_remembered_key_needs_its_whole_token(deployment: Deployment) -> None:
    issued = deployment.keys.issue("till", Scope.READ)
    assert deployment.keys.remembered(issued.token) is None  # not verified yet
    assert deployment.keys.authenticate(issued.token) == issued.key
    assert deployment.keys.remembered(issued.token) == issued.key
    assert deployment.keys.remembered(issued.token[:-1] + "x") is None
    assert deployment.keys.authenticate(issued.token[:-1] + "x") is None
    uncached = ApiKeys(deployment.oms, deployment.tables, cache_seconds=0)
    assert uncached.authenticate(issued.token) == issued.key
    deployment.keys.revoke(issued.key.id)
    assert deployment.keys.remembered(issued.token) is None
    assert uncached.authenticate(issued.token) is None
