"""The pages over HTTP: signing in, scopes, actions only from the pages, tracking links, and
the vendored htmx file."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from litestar.testing import TestClient

from omskit_reference import Deployment, Scope, create_app
from omskit_reference.pages import HTMX, HTMX_SHA256, vendored_htmx

from .conftest import Client, place_body, post

ACTION = {"X-Requested-By": "omskit-pages", "HX-Request": "true"}


def signed_in(deployment: Deployment, scope: Scope, **bound: str) -> Client:
    token = deployment.keys.issue("person", scope, **bound).token
    client: Client = TestClient(create_app(deployment))
    client.__enter__()
    answer = client.post("/ui/login", data={"key": token}, follow_redirects=False)
    assert answer.status_code == 303
    assert "httponly" in answer.headers["set-cookie"].lower()
    assert "samesite=strict" in answer.headers["set-cookie"].lower()
    return client


def test_the_vendored_htmx_is_the_release_and_is_loaded_with_its_integrity(
        deployment: Deployment) -> None:
    data, htmx = vendored_htmx()
    assert hashlib.sha256(data).hexdigest() == HTMX_SHA256
    client = signed_in(deployment, Scope.OPERATIONS)
    html = client.get("/ui/").text
    assert f'src="/static/{HTMX.file}" integrity="{htmx.integrity}"' in html
    assert client.get(f"/static/{HTMX.file}").content == data


def test_pages_need_a_signed_in_key(deployment: Deployment) -> None:
    with TestClient(create_app(deployment)) as client:
        answer = client.get("/ui/", follow_redirects=False)
        assert (answer.status_code, answer.headers["location"]) == (303, "/ui/login")
        wrong = client.post("/ui/login", data={"key": "omsk_nope_nope"})
        assert "Unknown or revoked API key" in wrong.text


def test_a_store_associate_works_the_queue_from_the_store_page(
        admin: Client, deployment: Deployment) -> None:
    placed = post(admin, "/orders", place_body("W-S1", {"SKU-R": 1}, lat=41.9, lon=12.5))
    post(admin, f"/orders/{placed.json()['id']}/release", If_Match=placed.headers["ETag"])
    [fo] = placed.json()["fulfillment_orders"]
    roma = signed_in(deployment, Scope.STORE, location="store-roma")
    assert "W-S1" in roma.get("/ui/store/store-roma").text
    assert roma.get("/ui/store/store-torino").status_code == 403
    assert roma.get("/ui/").status_code == 403

    url = f"/ui/store/store-roma/fulfilment-orders/{fo['id']}"
    forged = roma.post(f"{url}/accept")  # no header: a form posted from another site
    assert forged.status_code == 403
    assert deployment.oms.fulfillment.get(fo["id"]).status.value == "released"
    for step in ("accept", "pick", "pack"):
        assert roma.post(f"{url}/{step}", headers=ACTION).status_code == 200
    refused = roma.post(f"{url}/ship", headers=ACTION,
                        data={"carrier": "nobody", "tracking_number": "X"})
    assert "nobody" in refused.text  # the typed error, shown on the page
    assert deployment.oms.fulfillment.get(fo["id"]).status.value == "packed"
    shipped = roma.post(f"{url}/ship", headers=ACTION,
                        data={"carrier": "brt", "tracking_number": "BRT-9"})
    assert "W-S1" not in shipped.text  # off the queue
    assert deployment.oms.fulfillment.get(fo["id"]).status.value == "shipped"


def test_an_operator_releases_a_hold_from_the_order_page(admin: Client,
                                                          deployment: Deployment) -> None:
    placed = post(admin, "/orders", place_body("W-H1", {"SKU-D": 1}))
    order_id = placed.json()["id"]
    post(admin, f"/orders/{order_id}/holds", {"code": "fraud", "reason": "check"},
         If_Match=placed.headers["ETag"])
    ops = signed_in(deployment, Scope.OPERATIONS)
    page = ops.get(f"/ui/orders/{order_id}").text
    assert "Release hold fraud" in page
    released = ops.post(f"/ui/orders/{order_id}/holds/fraud/release", headers=ACTION)
    assert "Release hold fraud" not in released.text
    assert deployment.oms.orders.get(order_id).active_holds == ()
    reader = signed_in(deployment, Scope.READ)
    assert "Release hold" not in reader.get(f"/ui/orders/{order_id}").text


def test_a_tracking_link_shows_one_order_to_whoever_holds_it(
        client_for: Callable[..., Client], deployment: Deployment) -> None:
    web = client_for(Scope.CHANNEL, channel="web")
    placed = post(web, "/orders", place_body("W-T1", {"SKU-D": 2}))
    link = post(web, f"/orders/{placed.json()['id']}/tracking-links")
    assert link.status_code == 201
    with TestClient(create_app(deployment)) as customer:
        page = customer.get(link.json()["url"])
        assert page.status_code == 200
        assert "W-T1" in page.text
        assert "We are preparing your order." in page.text
        assert customer.get("/track/" + "x" * 43).status_code == 404
        assert customer.get("/ui/", follow_redirects=False).status_code == 303
    stored = deployment.tracking_links.order_id(link.json()["token"])
    assert stored == placed.json()["id"]
