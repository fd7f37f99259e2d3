"""DHL Express through karrio, answered at karrio's HTTP seam, on SQLite and PostgreSQL: with
XML-PI (``dhl_express``) the label and the request karrio sends for it, rates, a return
label, tracking normalised to omskit's vocabulary with DHL's local times, pickups, refusals;
with the MyDHL REST API (``mydhl``) a label and its tracking."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from omskit import (
    CapabilityNotSupported,
    CarrierRefused,
    FulfillmentStatus,
    LabelRequest,
    LabelStatus,
    Oms,
    ParcelSpec,
    PickupRequest,
    TrackingStatus,
)
from omskit.testing import table_contents

from carrier_api import CarrierAPI
from connections import DHL, MYDHL, karrio_settings
from omskit_carrier_karrio import KarrioCarrier, settings_of
from shop import TORINO, packed, stocked, warehouse


@pytest.fixture
def dhl_settings() -> dict[str, Any]:
    return karrio_settings(DHL)


@pytest.fixture
def shop(make_oms: Callable[..., Oms], dhl_settings: dict[str, Any],
         carrier_api: CarrierAPI) -> Oms:
    return stocked(make_oms(load_entrypoints=True, settings=dhl_settings))


def labelled(oms: Oms, grams: int = 1200, external_id: str = "K-1") -> tuple[str, str, str]:
    """(order id, shipment id, parcel id) of a one-parcel DHL shipment with its label."""
    order_id, fo = packed(oms, external_id)
    shipment = oms.shipping.create_shipment(fo, carrier="karrio-dhl",
                                            parcels=[ParcelSpec(weight_grams=grams)])
    parcel = oms.shipping.buy_label(shipment.parcels[0].id)
    return order_id, shipment.id, parcel.id


def test_a_label_is_bought_once_with_omskits_key_as_its_reference(
        shop: Oms, carrier_api: CarrierAPI) -> None:
    _, shipment_id, parcel_id = labelled(shop)
    parcel = shop.shipping.buy_label(parcel_id)  # again: nothing bought
    assert carrier_api.count("dhl.ship") == 1
    assert parcel.label_status is LabelStatus.BOUGHT
    (awb,) = carrier_api.dhl_sold
    assert (parcel.tracking_number, parcel.label_id) == (awb, awb)
    assert shop.shipping.label_document(parcel_id) == ("application/pdf",
                                                       carrier_api.dhl_documents[awb])
    # What DHL received: karrio's ShipmentRequest from Milan to Turin, 1.2 kg, the service
    # of the connection's default (EXPRESS DOMESTIC, product N), omskit's key as reference.
    sent = carrier_api.last("dhl.ship").xml()
    assert parcel.label_key is not None
    assert sent.findtext(".//Reference/ReferenceID") == parcel.label_key[-30:]
    assert sent.findtext(".//Shipper/City") == "Milano"
    assert sent.findtext(".//Shipper/Contact/PhoneNumber") == "+39 02 1234567"
    assert sent.findtext(".//Consignee/City") == "Torino"
    assert sent.findtext(".//Consignee/Contact/PersonName") == "Giulia Rossi"
    assert sent.findtext(".//GlobalProductCode") == "N"
    assert float(sent.findtext(".//Pieces/Piece/Weight") or 0) == pytest.approx(1.2)
    assert shop.shipping.ship(shipment_id).tracking_number == awb


def test_rates_for_the_lane(shop: Oms) -> None:
    _, fo = packed(shop)
    offers = shop.shipping.rates(fo, [ParcelSpec(weight_grams=1200)], carriers=["karrio-dhl"])
    assert [(o.carrier, o.amount, o.currency, o.transit_days) for o in offers] == [
        ("karrio-dhl", Decimal("14.90"), "EUR", 1), ("karrio-dhl", Decimal("38.20"), "EUR", 2)]
    assert all(o.service.startswith("dhl_express_") for o in offers)


def test_dhl_tracking_in_omskits_vocabulary(shop: Oms, carrier_api: CarrierAPI) -> None:
    order_id, shipment_id, parcel_id = labelled(shop)
    shop.shipping.ship(shipment_id)
    # Not scanned yet: DHL answers "103 No Shipments Found", which is no event, no error.
    assert shop.shipping.track(shipment_id).recorded == 0
    awb = shop.shipping.get(shipment_id).tracking_number
    # DHL reports the local time of each scan (Milan: UTC+1 in December).
    for code, at, said in [
            ("PU", datetime(2026, 12, 1, 17, 5), "Shipment picked up"),
            ("AF", datetime(2026, 12, 1, 23, 40), "Arrived at DHL facility in Torino"),
            ("WC", datetime(2026, 12, 2, 8, 10), "With delivery courier"),
            ("NH", datetime(2026, 12, 2, 12, 30), "Consignee not home"),
            ("WC", datetime(2026, 12, 3, 8, 20), "With delivery courier"),
            ("OK", datetime(2026, 12, 3, 10, 42), "Delivered - Signed for by: ROSSI")]:
        carrier_api.scan(awb, code, at, said)
    result = shop.shipping.track(shipment_id)
    assert result.recorded == 6
    assert [e.status for e in shop.shipping.tracking_events(parcel_id)] == [
        TrackingStatus.PICKED_UP, TrackingStatus.IN_TRANSIT, TrackingStatus.OUT_FOR_DELIVERY,
        TrackingStatus.FAILED_ATTEMPT, TrackingStatus.OUT_FOR_DELIVERY,
        TrackingStatus.DELIVERED]
    (fo,) = shop.orders.get(order_id).fulfillment_orders
    assert fo.status is FulfillmentStatus.DELIVERED
    assert fo.shipments[0].delivered_at == datetime(2026, 12, 3, 9, 42, tzinfo=UTC)
    # Polling again finds the same six events: each was recorded once.
    again = shop.shipping.track(shipment_id)
    assert (again.recorded, again.duplicates) == (0, 6)


def test_dhls_estimate_moves_the_expected_date(shop: Oms, carrier_api: CarrierAPI) -> None:
    order_id, shipment_id, _ = labelled(shop)
    shop.shipping.ship(shipment_id)
    awb = shop.shipping.get(shipment_id).tracking_number
    carrier_api.scan(awb, "PU", datetime(2026, 12, 1, 17, 5), "Shipment picked up",
                     estimate=date(2026, 12, 3))
    shop.shipping.track(shipment_id)
    assert shop.orders.get(order_id).expected_date == date(2026, 12, 3)
    carrier_api.scan(awb, "OH", datetime(2026, 12, 2, 9, 0), "Shipment on hold",
                     estimate=date(2026, 12, 5))
    shop.shipping.track(shipment_id)
    parcel = shop.shipping.get(shipment_id).parcels[0]
    assert parcel.tracking_status is TrackingStatus.EXCEPTION
    assert shop.orders.get(order_id).expected_date == date(2026, 12, 5)


def test_a_refusal_is_permanent_and_the_next_purchase_takes_a_new_key(
        shop: Oms, carrier_api: CarrierAPI) -> None:
    _, fo = packed(shop)
    shipment = shop.shipping.create_shipment(fo, carrier="karrio-dhl",
                                             parcels=[ParcelSpec(weight_grams=1200)])
    parcel_id = shipment.parcels[0].id
    carrier_api.dhl_refuse = ("PLT006", "Paperless shipment service is not allowed")
    with pytest.raises(CarrierRefused, match="PLT006: Paperless shipment service"):
        shop.shipping.buy_label(parcel_id)
    failed = shop.shipping.get(shipment.id).parcels[0]
    assert (failed.label_status, failed.label_key) == (LabelStatus.FAILED, f"{parcel_id}:1")
    assert "PLT006" in failed.label_error
    carrier_api.dhl_refuse = None
    bought = shop.shipping.buy_label(parcel_id)
    assert (bought.label_status, bought.label_key) == (LabelStatus.BOUGHT, f"{parcel_id}:2")


def test_dhl_express_has_no_void_in_karrio(shop: Oms) -> None:
    _, _, parcel_id = labelled(shop)
    before = table_contents(shop)
    with pytest.raises(CapabilityNotSupported, match="void"):
        shop.shipping.void_label(parcel_id)
    assert table_contents(shop) == before


def carrier_of(settings: dict[str, Any]) -> KarrioCarrier:
    connection = settings_of(settings).connection("karrio-dhl")
    assert connection is not None
    return KarrioCarrier(connection.code, connection.carrier, connection.capabilities)


def request(key: str = "ret-1:1", grams: int = 1500) -> LabelRequest:
    return LabelRequest(idempotency_key=key, order_id="order-7", shipment_id="ret",
                        parcel_id="ret-1", origin=warehouse(), destination=TORINO,
                        parcel=ParcelSpec(weight_grams=grams), is_return=True)


def test_a_return_label_goes_from_the_customer_back_to_the_warehouse(
        dhl_settings: dict[str, Any], carrier_api: CarrierAPI) -> None:
    carrier = carrier_of(dhl_settings)
    label = carrier.buy_return_label(request(), dhl_settings)
    assert carrier.buy_return_label(request(), dhl_settings) == label
    assert carrier.retrieve_label("ret-1:1", dhl_settings) == label
    assert carrier_api.count("dhl.ship") == 1
    sent = carrier_api.last("dhl.ship").xml()
    assert (sent.findtext(".//Shipper/City"), sent.findtext(".//Consignee/City")) == (
        "Torino", "Milano")
    assert label.tracking_number in carrier_api.dhl_sold


def test_a_pickup_is_booked_once_with_the_labelled_weights(
        dhl_settings: dict[str, Any], carrier_api: CarrierAPI) -> None:
    carrier = carrier_of(dhl_settings)
    label = carrier.buy_label(request(key="out-1:1", grams=2500), dhl_settings)
    pickup = PickupRequest(idempotency_key="pickup-1", location=warehouse(),
                           day=date(2026, 12, 4),
                           tracking_numbers=(label.tracking_number, "5799999999"))
    booked = carrier.book_pickup(pickup, dhl_settings)
    assert (booked.confirmation, booked.day) == ("3601", date(2026, 12, 4))
    assert carrier.book_pickup(pickup, dhl_settings) == booked
    assert carrier_api.count("dhl.pickup") == 1
    sent = carrier_api.last("dhl.pickup").xml()
    # One piece per tracking number: 2.5 kg labelled here, 1 kg declared for the other.
    assert sent.findtext(".//Pickup/Pieces") == "2"
    assert float(sent.findtext(".//Pickup/weight/Weight") or 0) == pytest.approx(3.5)
    assert (sent.findtext(".//Pickup/ReadyByTime"), sent.findtext(".//Pickup/CloseTime")) == (
        "09:00", "18:00")


def test_the_mydhl_api_from_label_to_delivery(make_oms: Callable[..., Oms],
                                              carrier_api: CarrierAPI) -> None:
    oms = stocked(make_oms(load_entrypoints=True, settings=karrio_settings(MYDHL)))
    order_id, fo = packed(oms)
    shipment = oms.shipping.create_shipment(fo, carrier="karrio-mydhl",
                                            parcels=[ParcelSpec(weight_grams=1200)])
    parcel = oms.shipping.buy_label(shipment.parcels[0].id)
    assert parcel.tracking_number in carrier_api.mydhl_sold
    assert oms.shipping.label_document(parcel.id) == (
        "application/pdf", carrier_api.dhl_documents[parcel.tracking_number])
    sent = carrier_api.last("mydhl.ship").json()
    assert (sent["productCode"], sent["accounts"][0]["number"]) == ("N", "950000002")
    assert carrier_api.last("mydhl.ship").headers["authorization"].startswith("Basic ")
    oms.shipping.ship(shipment.id)
    assert oms.shipping.track(shipment.id).recorded == 0  # 404 until DHL scans it
    for code, at, said in [("PU", datetime(2026, 12, 1, 17, 5), "Shipment picked up"),
                           ("WC", datetime(2026, 12, 2, 8, 10), "With delivery courier"),
                           ("OK", datetime(2026, 12, 2, 11, 20), "Delivered")]:
        carrier_api.scan(parcel.tracking_number, code, at, said)
    assert oms.shipping.track(shipment.id).recorded == 3
    # karrio's mydhl files PU under "pending" and WC under "in transit": the plugin reads
    # DHL's codes as karrio's dhl_express does.
    assert [e.status for e in oms.shipping.tracking_events(parcel.id)] == [
        TrackingStatus.PICKED_UP, TrackingStatus.OUT_FOR_DELIVERY, TrackingStatus.DELIVERED]
    (fo_done,) = oms.orders.get(order_id).fulfillment_orders
    assert fo_done.shipments[0].delivered_at == datetime(2026, 12, 2, 10, 20, tzinfo=UTC)

