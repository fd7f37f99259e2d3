"""UPS through karrio (OAuth, then its REST API), answered at karrio's HTTP seam, on SQLite and
PostgreSQL: one token for every call, labels (UPS's image turned into a PDF by karrio), voids,
return labels, tracking, pickups, refusals."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
from omskit import (
    CarrierRefused,
    Dimensions,
    LabelRequest,
    LabelStatus,
    Oms,
    ParcelSpec,
    PickupRequest,
    TrackingStatus,
)

from carrier_api import CarrierAPI
from connections import UPS, karrio_settings
from omskit_carrier_karrio import KarrioCarrier, settings_of
from shop import TORINO, packed, stocked, warehouse

SIZE = Dimensions(length_mm=300, width_mm=200, height_mm=150)


@pytest.fixture
def ups_settings() -> dict[str, Any]:
    return karrio_settings(UPS)


@pytest.fixture
def shop(make_oms: Callable[..., Oms], ups_settings: dict[str, Any],
         carrier_api: CarrierAPI) -> Oms:
    return stocked(make_oms(load_entrypoints=True, settings=ups_settings))


def shipment(oms: Oms, external_id: str = "U-1") -> tuple[str, str, str]:
    """(order id, shipment id, parcel id) of a prepared UPS shipment, one 1.2 kg parcel."""
    order_id, fo = packed(oms, external_id)
    prepared = oms.shipping.create_shipment(
        fo, carrier="karrio-ups", parcels=[ParcelSpec(weight_grams=1200, dimensions=SIZE)])
    return order_id, prepared.id, prepared.parcels[0].id


def test_a_label_and_one_oauth_token_for_every_call(shop: Oms, carrier_api: CarrierAPI) -> None:
    _, shipment_id, parcel_id = shipment(shop)
    parcel = shop.shipping.buy_label(parcel_id)
    assert parcel.label_status is LabelStatus.BOUGHT
    assert parcel.tracking_number in carrier_api.ups_sold
    assert parcel.label_id == parcel.tracking_number  # UPS's shipment identification number
    media, document = shop.shipping.label_document(parcel_id)
    # UPS answers with an image; karrio makes it the PDF omskit asked for.
    assert (media, document[:5]) == ("application/pdf", b"%PDF-")
    sent = carrier_api.last("ups.ship").json()["ShipmentRequest"]["Shipment"]
    assert parcel.label_key is not None
    assert sent["ReferenceNumber"]["Value"] == parcel.label_key[-30:]
    assert sent["Service"]["Code"] == "11"  # ups_standard, the connection's default
    assert (sent["ShipFrom"]["Address"]["City"], sent["ShipTo"]["Address"]["City"]) == (
        "Milano", "Torino")
    assert sent["Package"][0]["Dimensions"]["Length"] == "30.0"
    shop.shipping.ship(shipment_id)
    shop.shipping.track(shipment_id)
    # karrio keeps the token of the connection's gateway: fetched once, sent every time.
    assert carrier_api.ups_tokens == 1
    assert {e.headers["authorization"] for e in carrier_api.exchanges
            if e.operation != "ups.token"} == {"Bearer token-1"}


def test_a_voided_label_is_bought_again_under_a_new_key(shop: Oms,
                                                        carrier_api: CarrierAPI) -> None:
    _, shipment_id, parcel_id = shipment(shop)
    first = shop.shipping.buy_label(parcel_id)
    voided = shop.shipping.void_label(parcel_id)
    assert voided.label_status is LabelStatus.VOIDED
    assert carrier_api.last("ups.void").method == "DELETE"
    assert carrier_api.ups_voided == {first.tracking_number}
    again = shop.shipping.buy_label(parcel_id)
    assert again.label_key == f"{parcel_id}:2"
    assert again.tracking_number not in (first.tracking_number, "")
    assert shop.shipping.ship(shipment_id).tracking_number == again.tracking_number


def test_ups_tracking_in_omskits_vocabulary(shop: Oms, carrier_api: CarrierAPI) -> None:
    order_id, shipment_id, parcel_id = shipment(shop)
    number = shop.shipping.buy_label(parcel_id).tracking_number
    shop.shipping.ship(shipment_id)
    assert shop.shipping.track(shipment_id).recorded == 0  # TW0001: not scanned yet
    for code, at, said in [
            ("PU", datetime(2026, 12, 1, 18, 0), "Pickup Scan"),
            ("AR", datetime(2026, 12, 2, 2, 15), "Arrived at Facility"),
            ("X", datetime(2026, 12, 2, 9, 30), "The receiver was not available"),
            ("DL", datetime(2026, 12, 3, 14, 5), "DELIVERED")]:
        carrier_api.scan(number, code, at, said, place="Torino",
                         estimate=date(2026, 12, 3))
    assert shop.shipping.track(shipment_id).recorded == 4
    assert [e.status for e in shop.shipping.tracking_events(parcel_id)] == [
        TrackingStatus.PICKED_UP, TrackingStatus.IN_TRANSIT, TrackingStatus.EXCEPTION,
        TrackingStatus.DELIVERED]
    order = shop.orders.get(order_id)
    assert order.fulfillment_orders[0].shipments[0].delivered_at == datetime(
        2026, 12, 3, 13, 5, tzinfo=UTC)


def test_ups_refusals_are_permanent(shop: Oms, carrier_api: CarrierAPI) -> None:
    _, shipment_id, parcel_id = shipment(shop)
    carrier_api.ups_refuse = ("120100", "Missing or invalid shipper number")
    with pytest.raises(CarrierRefused, match="120100: Missing or invalid shipper number"):
        shop.shipping.buy_label(parcel_id)
    assert shop.shipping.get(shipment_id).parcels[0].label_status is LabelStatus.FAILED


def test_credentials_ups_refuses_are_a_refusal_before_anything_is_sent(
        shop: Oms, carrier_api: CarrierAPI) -> None:
    _, shipment_id, parcel_id = shipment(shop)
    carrier_api.ups_token_refused = True
    with pytest.raises(CarrierRefused, match="250003: Invalid Access License number"):
        shop.shipping.buy_label(parcel_id)
    assert carrier_api.count("ups.ship") == 0
    assert shop.shipping.get(shipment_id).parcels[0].label_status is LabelStatus.FAILED


def carrier_of(settings: dict[str, Any]) -> KarrioCarrier:
    connection = settings_of(settings).connection("karrio-ups")
    assert connection is not None
    return KarrioCarrier(connection.code, connection.carrier, connection.capabilities)


def test_a_return_label_and_a_pickup(ups_settings: dict[str, Any],
                                     carrier_api: CarrierAPI) -> None:
    carrier = carrier_of(ups_settings)
    request = LabelRequest(idempotency_key="ret-1:1", order_id="order-7", shipment_id="ret",
                           parcel_id="ret-1", origin=warehouse(), destination=TORINO,
                           parcel=ParcelSpec(weight_grams=800, dimensions=SIZE),
                           is_return=True)
    label = carrier.buy_return_label(request, ups_settings)
    sent = carrier_api.last("ups.ship").json()["ShipmentRequest"]["Shipment"]
    assert sent["ReturnService"]["Code"] == "5"
    assert (sent["ShipFrom"]["Address"]["City"], sent["ShipTo"]["Address"]["City"]) == (
        "Torino", "Milano")
    pickup = PickupRequest(idempotency_key="pickup-1", location=warehouse(),
                           day=date(2026, 12, 4), tracking_numbers=(label.tracking_number,))
    booked = carrier.book_pickup(pickup, ups_settings)
    assert (booked.confirmation, booked.day) == ("2929OMS01", date(2026, 12, 4))
    assert carrier.book_pickup(pickup, ups_settings) == booked
    assert carrier_api.count("ups.pickup") == 1
    info = carrier_api.last("ups.pickup").json()["PickupCreationRequest"]["PickupDateInfo"]
    assert info == {"CloseTime": "1800", "PickupDate": "20261204", "ReadyTime": "0900"}
