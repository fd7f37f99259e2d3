"""Installed through its entry point: rates, a label, the simulated network's webhooks and
polling, a return label and a pickup, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from omskit import (
    FulfillmentStatus,
    InvalidSettings,
    InvalidWebhook,
    Oms,
    OrderStatus,
    ParcelSpec,
    TrackingStatus,
)
from omskit.testing import location, order_command, table_contents
from pypdf import PdfReader

from omskit_carrier_tablerate import SIGNATURE_HEADER, TableRateCarrier

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def shop(make_oms: Callable[..., Oms], settings: dict[str, Any]) -> Oms:
    oms = make_oms(load_entrypoints=True, settings=settings)
    oms.inventory.save_location(location("dc-milano", 45.46, 9.19, country="IT"))
    oms.inventory.receive("dc-milano", "SKU-1", 20)
    return oms


def packed(oms: Oms) -> tuple[str, str]:
    order = oms.orders.place(order_command("E-1", {"SKU-1": 3}))
    oms.fulfillment.release(order.id)
    (fo,) = order.fulfillment_orders
    for step in (oms.fulfillment.accept, oms.fulfillment.pick, oms.fulfillment.pack):
        step(fo.id)
    return order.id, fo.id


def test_the_entry_point_registers_the_carrier(shop: Oms) -> None:
    assert "tablerate" in shop.shipping.carriers()
    assert any(p.name == "carrier-tablerate" for p in shop.plugins())


def test_bad_settings_stop_bootstrap(make_oms: Callable[..., Oms],
                                     settings: dict[str, Any]) -> None:
    settings["carrier_tablerate"]["zones"] = []
    with pytest.raises(InvalidSettings, match="zones"):
        make_oms(load_entrypoints=True, settings=settings)


def test_a_parcel_from_label_to_delivery(shop: Oms, settings: dict[str, Any]) -> None:
    order_id, fo_id = packed(shop)
    (standard, _express) = shop.shipping.rates(fo_id, [ParcelSpec(weight_grams=2500)],
                                               carriers=["tablerate"])
    assert (str(standard.amount), standard.transit_days) == ("8.90", 2)
    shipment = shop.shipping.create_shipment(fo_id, carrier="tablerate",
                                             parcels=[ParcelSpec(weight_grams=2500)])
    parcel = shop.shipping.buy_labels(shipment.id).parcels[0]
    media, document = shop.shipping.label_document(parcel.id)
    assert media == "application/pdf"
    assert parcel.tracking_number in PdfReader(io.BytesIO(document)).pages[0].extract_text()
    shop.shipping.ship(shipment.id)

    carrier = shop.shipping.carrier("tablerate")
    assert isinstance(carrier, TableRateCarrier)
    tn = parcel.tracking_number
    hooks = [
        carrier.simulate(tn, TrackingStatus.PICKED_UP, T0, settings),
        carrier.simulate(tn, TrackingStatus.IN_TRANSIT, T0 + timedelta(hours=5), settings,
                         expected_date=date(2026, 12, 3)),
        carrier.simulate(tn, TrackingStatus.FAILED_ATTEMPT, T0 + timedelta(days=2), settings,
                         expected_date=date(2026, 12, 4)),
        carrier.simulate(tn, TrackingStatus.DELIVERED, T0 + timedelta(days=3), settings),
    ]
    # Delivered twice and out of order: the last two first, then everything again.
    for headers, body in [hooks[3], hooks[2], *hooks]:
        shop.shipping.receive_webhook("tablerate", headers, body)
    order = shop.orders.get(order_id)
    assert order.status is OrderStatus.DELIVERED
    assert order.fulfillment_orders[0].status is FulfillmentStatus.DELIVERED
    assert order.fulfillment_orders[0].shipments[0].delivered_at == T0 + timedelta(days=3)
    # The failed attempt came after delivery had been recorded: its estimate is history.
    assert order.expected_date is None
    assert [e.status for e in shop.shipping.tracking_events(parcel.id)] == [
        TrackingStatus.PICKED_UP, TrackingStatus.IN_TRANSIT, TrackingStatus.FAILED_ATTEMPT,
        TrackingStatus.DELIVERED]
    # Polling finds the same events: nothing new.
    result = shop.shipping.track(shipment.id)
    assert (result.recorded, result.duplicates) == (0, 4)


def test_an_estimate_in_transit_moves_the_expected_date(shop: Oms,
                                                        settings: dict[str, Any]) -> None:
    order_id, fo_id = packed(shop)
    shipment = shop.shipping.create_shipment(fo_id, carrier="tablerate",
                                             parcels=[ParcelSpec(weight_grams=900)])
    tn = shop.shipping.buy_labels(shipment.id).parcels[0].tracking_number
    shop.shipping.ship(shipment.id)
    carrier = shop.shipping.carrier("tablerate")
    assert isinstance(carrier, TableRateCarrier)
    shop.shipping.receive_webhook("tablerate", *carrier.simulate(
        tn, TrackingStatus.IN_TRANSIT, T0, settings, expected_date=date(2026, 12, 3)))
    shop.shipping.receive_webhook("tablerate", *carrier.simulate(
        tn, TrackingStatus.EXCEPTION, T0 + timedelta(days=1), settings,
        description="address unreadable", expected_date=date(2026, 12, 5)))
    assert shop.orders.get(order_id).expected_date == date(2026, 12, 5)
    changes = [e.event for e in shop.orders.timeline(order_id)
               if e.event_type == "order.expected_date_changed"]
    assert [(c.previous, c.expected_date) for c in changes] == [
        (None, date(2026, 12, 3)), (date(2026, 12, 3), date(2026, 12, 5))]


def test_malformed_webhooks_write_nothing(shop: Oms, settings: dict[str, Any]) -> None:
    carrier = shop.shipping.carrier("tablerate")
    assert isinstance(carrier, TableRateCarrier)
    before = table_contents(shop)
    bodies = [b"[]", b'{"events": [{"code": "ZZZ"}]}', b'{"events": 3}']
    for body in bodies:
        headers = {SIGNATURE_HEADER: f"sha256={carrier._sign(body, settings)}"}
        with pytest.raises(InvalidWebhook):
            shop.shipping.receive_webhook("tablerate", headers, body)
    assert table_contents(shop) == before
