"""Every payload field lands where it should: expectations written by hand from the payloads."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from omskit import (
    Address,
    Contact,
    Coordinates,
    Customer,
    DeliveryKind,
    DeliveryMethod,
    NewLine,
    PlaceOrder,
)

from omskit_channel_storefront import StorefrontConnector


def test_example_order_maps_every_field(connector: StorefrontConnector,
                                        example_payload: dict[str, Any]) -> None:
    expected = PlaceOrder(
        channel="web",
        external_id="WEB-100045",
        currency="EUR",
        customer=Customer(
            id="cus_123",
            segment="gold",
            contact=Contact(name="Giulia Rossi", email="giulia.rossi@example.com",
                            phone="+39 02 1234 5678"),
        ),
        lines=[
            NewLine(sku="SKU-1", quantity=2, unit_price=Decimal("19.90"), line_id="1"),
            NewLine(sku="SKU-2", quantity=1, unit_price=Decimal("149.00"), line_id="2"),
        ],
        delivery=DeliveryMethod(kind=DeliveryKind.SHIP),
        shipping_address=Address(
            name="Giulia Rossi", line1="Via Torino 12", line2="Scala B, interno 4",
            city="Milano", postal_code="20123", region="MI", country="IT",
            coordinates=Coordinates(lat=45.4628, lon=9.1859),
        ),
        billing_address=Address(
            name="Rossi Design S.r.l.", line1="Corso Buenos Aires 45", city="Milano",
            postal_code="20124", region="MI", country="IT",
        ),
        tags=["black-friday", "gift"],
        metadata={
            "source": "web",
            "note": "Please ring twice.\nLeave with the concierge if nobody answers.",
            "attributes": {"utm_source": "newsletter", "gift_wrap": "yes"},
        },
        placed_at=datetime(2026, 11, 25, 10, 15, tzinfo=timezone(timedelta(hours=1))),
    )

    assert connector.parse(example_payload) == expected


def test_mobile_pickup_order(connector: StorefrontConnector,
                             pickup_payload: dict[str, Any]) -> None:
    command = connector.parse(pickup_payload)

    assert command.channel == "mobile"
    assert command.external_id == "APP-7781"
    assert command.delivery == DeliveryMethod(kind=DeliveryKind.PICKUP,
                                              pickup_location="store-milan-duomo")
    assert command.shipping_address is None
    assert command.billing_address is None
    assert command.customer == Customer(
        id="cus_456", segment=None,
        contact=Contact(name="Luca Bianchi", email="luca.bianchi@example.com",
                        phone="+39 333 123 4567"),
    )
    # Integer prices are exact whole amounts; a zero price (a free gift) is allowed.
    assert command.lines == (
        NewLine(sku="SKU-3", quantity=3, unit_price=Decimal(12)),
        NewLine(sku="SKU-1", quantity=1, unit_price=Decimal(0)),
    )
    # Milliseconds and the +01:00 offset survive.
    assert command.placed_at == datetime(2026, 11, 25, 18, 42, 10, 250_000,
                                         tzinfo=timezone(timedelta(hours=1)))
    # The blank note is dropped; the app is kept.
    assert command.metadata == {"source": "mobile",
                                "app": {"platform": "ios", "version": "5.2.1"}}
    assert command.tags == ()


def test_minimal_order_gets_omskit_defaults(connector: StorefrontConnector,
                                           minimal_payload: dict[str, Any]) -> None:
    command = connector.parse(minimal_payload)

    assert command.customer == Customer(id="cus_9", segment=None,
                                        contact=Contact(email="marco@example.com"))
    assert command.shipping_address == Address(line1="Via Roma 1", city="Torino",
                                               country="IT")
    assert command.lines == (NewLine(sku="SKU-1", quantity=1, unit_price=Decimal("5.00")),)
    assert command.placed_at == datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
    assert command.metadata == {"source": "web"}


def test_null_means_absent_for_optional_fields(connector: StorefrontConnector,
                                               minimal_payload: dict[str, Any]) -> None:
    minimal_payload.update(billing_address=None, note=None, app=None)
    minimal_payload["customer"]["segment"] = None
    minimal_payload["items"][0]["line_id"] = None

    command = connector.parse(minimal_payload)

    assert command.billing_address is None
    assert command.customer.segment is None
    assert command.lines[0].line_id is None
    assert command.metadata == {"source": "web"}


def test_only_one_name_part(connector: StorefrontConnector,
                            minimal_payload: dict[str, Any]) -> None:
    minimal_payload["customer"].update(first_name="", last_name="Verdi")

    assert connector.parse(minimal_payload).customer.contact.name == "Verdi"


def test_any_read_only_mapping_and_tuples_are_accepted(
    connector: StorefrontConnector, minimal_payload: dict[str, Any]
) -> None:
    # A host may hand over a read-only view or build payloads in Python with tuples.
    minimal_payload["items"] = tuple(minimal_payload["items"])
    minimal_payload["tags"] = ("vip",)

    command = connector.parse(MappingProxyType(minimal_payload))

    assert command.tags == ("vip",)
    assert command.lines[0].sku == "SKU-1"


def test_parsing_leaves_the_payload_untouched(connector: StorefrontConnector,
                                              example_payload: dict[str, Any]) -> None:
    before = copy.deepcopy(example_payload)

    connector.parse(example_payload)

    assert example_payload == before


def test_structure_exposes_the_payload_as_sent(connector: StorefrontConnector,
                                               example_payload: dict[str, Any]) -> None:
    order = connector.structure(example_payload)

    assert order.customer.first_name == "Giulia"
    assert order.customer.last_name == "Rossi"
    assert order.source == "web"
    assert order.items[1].unit_price == Decimal("149.00")


def test_each_connector_has_its_own_converter() -> None:
    first, second = StorefrontConnector(), StorefrontConnector()

    assert first.code == second.code == "storefront"
    assert first._converter is not second._converter
