"""An order's shipments with tracking events, and its invoices and credit notes, over HTTP
and on its page; scopes."""

from __future__ import annotations

from collections.abc import Callable

from omskit import TrackingStatus, TrackingUpdate

from omskit_reference import Deployment, Scope

from .conftest import Client, Clock
from .test_pages import signed_in
from .test_returns import shipped


def test_shipments_tracking_invoices_and_the_page(
        admin: Client, client_for: Callable[..., Client], clock: Clock,
        deployment: Deployment) -> None:
    order = shipped(admin, "I-1", {"SKU-R": 2}, paid="20.00")
    deployment.oms.outbox.dispatch_pending()
    [fo] = order["fulfillment_orders"]
    [shipment] = fo["shipments"]
    deployment.oms.shipping.record_tracking("brt", [TrackingUpdate(
        tracking_number=shipment["tracking_number"], status=TrackingStatus.IN_TRANSIT,
        occurred_at=clock.now, event_id="ev-1", location="Bologna")])

    tracked = admin.get(f"/orders/{order['id']}/shipments")
    assert tracked.status_code == 200, tracked.text
    [one] = tracked.json()
    assert (one["location"], one["shipment"]["tracking_number"]) == (
        fo["location"], shipment["tracking_number"])
    assert [(e["status"], e["location"]) for e in one["events"]] == [("in_transit", "Bologna")]

    documents = admin.get(f"/orders/{order['id']}/invoices")
    assert documents.status_code == 200, documents.text
    [invoice] = documents.json()
    assert invoice["document"]["kind"] == "invoice"
    assert invoice["gross"] == "20.00"
    html = admin.get(f"/orders/{order['id']}/invoices/{invoice['document']['id']}/html")
    assert html.status_code == 200
    assert html.headers["content-type"].startswith("text/html")
    assert invoice["document"]["number"] in html.text
    assert admin.get(f"/orders/{order['id']}/invoices/nope/html").status_code == 404
    page = signed_in(deployment, Scope.OPERATIONS).get(f"/ui/orders/{order['id']}").text
    assert invoice["document"]["number"] in page

    # Scopes: the store it left from sees its shipment; other stores and channels see nothing.
    own = client_for(Scope.STORE, location=fo["location"])
    assert len(own.get(f"/orders/{order['id']}/shipments").json()) == 1
    assert own.get(f"/orders/{order['id']}/invoices").status_code == 403
    other_store = "store-torino" if fo["location"] != "store-torino" else "store-roma"
    away = client_for(Scope.STORE, location=other_store)
    assert away.get(f"/orders/{order['id']}/shipments").status_code == 404
    pos = client_for(Scope.CHANNEL, channel="pos")
    assert pos.get(f"/orders/{order['id']}/shipments").status_code == 404
    assert pos.get(f"/orders/{order['id']}/invoices").status_code == 404
    assert client_for(Scope.READ).get(f"/orders/{order['id']}/invoices").status_code == 200
