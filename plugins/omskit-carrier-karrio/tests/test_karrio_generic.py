"""karrio's generic carrier end to end, installed through the entry point, on SQLite and
PostgreSQL: rates from the connection's rate sheet, labels rendered on this machine (PDF),
tracking reported by the host. Not one request leaves the process."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from omskit import (
    CapabilityNotSupported,
    FulfillmentStatus,
    LabelRequest,
    Oms,
    OrderStatus,
    ParcelSpec,
    TrackingStatus,
    TrackingUpdate,
)
from pypdf import PdfReader

from carrier_api import CarrierAPI
from connections import GENERIC, karrio_settings
from omskit_carrier_karrio import KarrioCarrier, settings_of
from omskit_carrier_karrio.translate import local_tracking_number
from shop import TORINO, packed, stocked, warehouse


@pytest.fixture
def generic_settings() -> dict[str, Any]:
    return karrio_settings(GENERIC)


@pytest.fixture
def shop(make_oms: Callable[..., Oms], generic_settings: dict[str, Any],
         carrier_api: CarrierAPI) -> Oms:
    return stocked(make_oms(load_entrypoints=True, settings=generic_settings))


def test_rates_come_from_the_connections_rate_sheet(shop: Oms) -> None:
    _, fo = packed(shop)
    offers = shop.shipping.rates(fo, [ParcelSpec(weight_grams=1200)], carriers=["karrio-local"])
    assert [(o.service, o.amount, o.currency, o.transit_days) for o in offers] == [
        ("corriere_standard", Decimal("6.90"), "EUR", 2),
        ("corriere_express", Decimal("9.90"), "EUR", 1)]
    # Two parcels: each rated on its own; express does not take 7 kg, so only standard.
    (both,) = shop.shipping.rates(fo, [ParcelSpec(weight_grams=1200),
                                       ParcelSpec(weight_grams=7000)],
                                  carriers=["karrio-local"])
    assert (both.service, both.amount, both.per_parcel) == (
        "corriere_standard", Decimal("18.40"), (Decimal("6.90"), Decimal("11.50")))


def test_a_label_rendered_locally_from_label_to_delivery(
        shop: Oms, generic_settings: dict[str, Any], carrier_api: CarrierAPI) -> None:
    order_id, fo = packed(shop)
    shipment = shop.shipping.create_shipment(fo, carrier="karrio-local",
                                             service="corriere_express",
                                             parcels=[ParcelSpec(weight_grams=1200)])
    parcel = shop.shipping.buy_label(shipment.parcels[0].id)
    assert parcel.label_key is not None
    connection = settings_of(generic_settings).connection("karrio-local")
    assert connection is not None
    # The tracking number follows the key: a purchase repeated after a restart renders the
    # same label.
    assert parcel.tracking_number == local_tracking_number(connection, parcel.label_key)
    media, document = shop.shipping.label_document(parcel.id)
    assert media == "application/pdf"
    assert len(PdfReader(io.BytesIO(document)).pages) == 1
    assert shop.shipping.buy_label(parcel.id).tracking_number == parcel.tracking_number

    shop.shipping.ship(shipment.id)
    delivered = datetime(2026, 12, 3, 11, 30, tzinfo=UTC)
    shop.shipping.record_tracking("karrio-local", [TrackingUpdate(
        tracking_number=parcel.tracking_number, status=TrackingStatus.DELIVERED,
        occurred_at=delivered, event_id="courier-1")])
    order = shop.orders.get(order_id)
    assert order.status is OrderStatus.DELIVERED
    assert order.fulfillment_orders[0].status is FulfillmentStatus.DELIVERED
    assert carrier_api.exchanges == []  # the generic carrier never goes to the network


def test_the_same_key_renders_the_same_label_in_another_process(
        generic_settings: dict[str, Any]) -> None:
    request = LabelRequest(idempotency_key="shipment-1-1:1", order_id="order-1",
                           shipment_id="shipment-1", parcel_id="shipment-1-1",
                           origin=warehouse(), destination=TORINO,
                           parcel=ParcelSpec(weight_grams=900))
    capabilities = settings_of(generic_settings).connections[0].capabilities
    first = KarrioCarrier("karrio-local", "generic", capabilities)
    again = KarrioCarrier("karrio-local", "generic", capabilities)  # after a restart
    label = first.buy_label(request, generic_settings)
    assert again.retrieve_label(request.idempotency_key, generic_settings) is None
    assert again.buy_label(request, generic_settings).tracking_number == label.tracking_number
    assert (label.service, label.media_type) == ("corriere_standard", "application/pdf")


def test_the_generic_carrier_declares_no_tracking_or_void(shop: Oms) -> None:
    _, fo = packed(shop)
    shipment = shop.shipping.create_shipment(fo, carrier="karrio-local",
                                             parcels=[ParcelSpec(weight_grams=500)])
    parcel = shop.shipping.buy_label(shipment.parcels[0].id)
    with pytest.raises(CapabilityNotSupported, match="void"):
        shop.shipping.void_label(parcel.id)
    with pytest.raises(CapabilityNotSupported, match="tracking"):
        shop.shipping.track(shipment.id)
