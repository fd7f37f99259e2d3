"""Promise quotes and carts over HTTP: quote, hold, read, convert by placing, release,
expire; channel keys reach only their own carts."""

from __future__ import annotations

from collections.abc import Callable

from omskit.testing import table_contents

from omskit_reference import Deployment, Scope

from .conftest import Client, Clock, place_body, post

ROME = {"lat": 41.9, "lon": 12.5}


def test_a_quote_gives_a_date_per_option_and_writes_nothing(
        admin: Client, client_for: Callable[..., Client], deployment: Deployment) -> None:
    before = table_contents(deployment.oms)
    reader = client_for(Scope.READ)
    quoted = post(reader, "/promise/quotes", {
        "lines": {"SKU-R": 2}, "destination": ROME, "country": "IT",
        "pickup_locations": ["store-roma", "store-torino"]})
    assert quoted.status_code == 200, quoted.text
    quote = quoted.json()
    assert quote["channel"] == "web"
    options = {(o["kind"], tuple(o["locations"])): o for o in quote["options"]}
    assert options[("ship", ("store-roma",))]["available"] is True
    assert options[("ship", ("store-roma",))]["date"] is not None
    # The test network's stores offer no pickup: each store asked is quoted, with why not.
    pickup = options[("pickup", ("store-roma",))]
    assert (pickup["available"], pickup["reason"]) == (False, "does not offer pickup")
    assert ("pickup", ("store-torino",)) in options
    assert table_contents(deployment.oms) == before

    bad = post(admin, "/promise/quotes", {"lines": {"SKU-R": 0}})
    assert bad.status_code == 422
    assert bad.json()["problems"]
    unknown = post(admin, "/promise/quotes", {"lines": {"SKU-R": 1},
                                              "pickup_locations": ["store-nowhere"]})
    assert unknown.status_code == 404


def test_a_cart_is_held_updated_and_converted_by_the_order_placed_from_it(
        admin: Client, deployment: Deployment) -> None:
    held = post(admin, "/carts/cart-1/hold", {"lines": {"SKU-R": 3}, "destination": ROME,
                                              "ttl_seconds": 600})
    assert held.status_code == 200, held.text
    assert [(h["location"], h["quantity"]) for h in held.json()["held"]] == [("store-roma", 3)]
    assert deployment.oms.inventory.stock_item("store-roma", "SKU-R").reserved == 3
    updated = post(admin, "/carts/cart-1/hold", {"lines": {"SKU-R": 2}, "destination": ROME})
    assert [h["quantity"] for h in updated.json()["held"]] == [2]
    assert deployment.oms.inventory.stock_item("store-roma", "SKU-R").reserved == 2
    assert admin.get("/carts/cart-1").json()["cart_id"] == "cart-1"

    body = {**place_body("W-C", {"SKU-R": 2}, lat=41.9, lon=12.5), "cart_id": "cart-1"}
    placed = post(admin, "/orders", body)
    assert placed.status_code == 201, placed.text
    assert admin.get("/carts/cart-1").status_code == 404  # converted: it holds nothing
    assert deployment.oms.inventory.stock_item("store-roma", "SKU-R").reserved == 2
    assert post(admin, "/carts/cart-1/release").json() == {"released": 0}


def test_a_hold_is_released_or_expires(admin: Client, clock: Clock,
                                       deployment: Deployment) -> None:
    post(admin, "/carts/cart-2/hold", {"lines": {"SKU-D": 4}})
    assert post(admin, "/carts/cart-2/release").json() == {"released": 4}
    assert deployment.oms.inventory.stock_item("dc-milano", "SKU-D").reserved == 0
    assert post(admin, "/carts/never/release").status_code == 404

    post(admin, "/carts/cart-3/hold", {"lines": {"SKU-D": 1}, "ttl_seconds": 60})
    assert post(admin, "/carts/expire").json() == {"expired": 0}
    clock.advance(minutes=2)
    assert post(admin, "/carts/expire").json() == {"expired": 1}
    assert deployment.oms.inventory.stock_item("dc-milano", "SKU-D").reserved == 0
    before = table_contents(deployment.oms)
    too_long = post(admin, "/carts/cart-4/hold", {"lines": {"SKU-D": 1},
                                                  "ttl_seconds": 10**30})
    assert too_long.status_code == 422
    assert table_contents(deployment.oms) == before


def test_a_channel_key_reaches_only_its_own_carts_and_channel(
        admin: Client, client_for: Callable[..., Client], deployment: Deployment) -> None:
    post(admin, "/carts/cart-9/hold", {"lines": {"SKU-D": 1}})
    web = client_for(Scope.CHANNEL, channel="web")
    before = table_contents(deployment.oms)
    assert web.get("/carts/cart-9").status_code == 404
    assert post(web, "/carts/cart-9/release").status_code == 404
    assert post(web, "/carts/cart-9/hold", {"lines": {"SKU-D": 5}}).status_code == 404
    assert post(web, "/carts/web:c/hold", {"lines": {"SKU-D": 1},
                                           "channel": "pos"}).status_code == 403
    assert post(web, "/promise/quotes", {"lines": {"SKU-D": 1},
                                         "channel": "pos"}).status_code == 403
    assert post(web, "/carts/expire").status_code == 403
    reader = client_for(Scope.READ)
    assert post(reader, "/carts/web:c/hold", {"lines": {"SKU-D": 1}}).status_code == 403
    store = client_for(Scope.STORE, location="store-roma")
    assert post(store, "/carts/cart-9/release").status_code == 403
    assert table_contents(deployment.oms) == before

    own = post(web, "/carts/web:c-1/hold", {"lines": {"SKU-D": 2}})
    assert own.status_code == 200, own.text
    assert web.get("/carts/web:c-1").json()["held"][0]["quantity"] == 2
    assert post(web, "/carts/web:c-1/release").json() == {"released": 2}
