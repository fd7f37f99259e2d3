"""Labels: a PDF that parses, shows the tracking number and draws its Code 128 barcode; the
same key renders the same label; refusals are CarrierRefused."""

from __future__ import annotations

import io
from typing import Any

import pytest
from omskit import Address, CarrierRefused, LabelRequest, ParcelSpec
from omskit.testing import location
from pypdf import PdfReader

from omskit_carrier_tablerate import TableRateCarrier


def label_request(key: str = "p-1:1", grams: int = 1200, country: str = "IT",
                  service: str = "") -> LabelRequest:
    return LabelRequest(
        idempotency_key=key, order_id="order-7", shipment_id="s-1", parcel_id="p-1",
        origin=location("dc-milano", 45.46, 9.19, country="IT"),
        destination=Address(name="Giulia Rossi", line1="Via Torino 12", city="Milano",
                            postal_code="20123", country=country),
        parcel=ParcelSpec(weight_grams=grams), service=service)


def test_the_label_is_a_pdf_with_the_tracking_number_and_its_barcode(
        carrier: TableRateCarrier, settings: dict[str, Any]) -> None:
    label = carrier.buy_label(label_request(), settings)
    assert label.media_type == "application/pdf"
    reader = PdfReader(io.BytesIO(label.document))
    (page,) = reader.pages
    text = page.extract_text()
    assert label.tracking_number in text
    assert "Giulia Rossi" in text
    assert "order-7" in text
    assert reader.metadata is not None
    assert reader.metadata.title == f"Label {label.tracking_number}"
    # Code 128 is drawn as filled bars: many rectangles in the page's content stream.
    content = page.get_contents()
    assert content is not None
    assert content.get_data().count(b" re") > 30


def test_the_same_key_gives_the_same_label(carrier: TableRateCarrier,
                                           settings: dict[str, Any]) -> None:
    first = carrier.buy_label(label_request(), settings)
    assert carrier.buy_label(label_request(), settings) == first
    assert carrier.retrieve_label("p-1:1", settings) == first
    assert carrier.retrieve_label("p-1:2", settings) is None
    # Another process (a new carrier object) renders the very same document for the key.
    assert TableRateCarrier().buy_label(label_request(), settings).document == first.document


@pytest.mark.parametrize(("request_", "message"), [
    (label_request(country="US"), "no zone serves the destination"),
    (label_request(grams=30_001), "30001 g is over the heaviest band of zone milan-turin"),
    (label_request(service="overnight"), "unknown service 'overnight'"),
])
def test_refusals_are_permanent(carrier: TableRateCarrier, settings: dict[str, Any],
                                request_: LabelRequest, message: str) -> None:
    with pytest.raises(CarrierRefused, match=message):
        carrier.buy_label(request_, settings)


def test_an_unconfigured_carrier_refuses(carrier: TableRateCarrier) -> None:
    with pytest.raises(CarrierRefused, match="not configured"):
        carrier.buy_label(label_request(), {})
