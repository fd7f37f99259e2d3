"""omskit's carrier requests in karrio's unified model, and karrio's answers in omskit's.

Weights go to karrio in kilograms, dimensions in centimetres. The sender is the fulfilment
order's location (its address) with the connection's ``shipper`` contact; the recipient is the
order's shipping address. omskit's idempotency key is the shipment's reference (cut to its
last 30 characters: DHL Express keeps 30, UPS 35), so a label can be found in the carrier's
portal; karrio's generic carrier also derives its tracking number from the key, so the same
key always renders the same label.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import karrio.core.models as models  # type: ignore[import-untyped]
import karrio.lib as lib  # type: ignore[import-untyped]
from omskit import (
    Address,
    CarrierRefused,
    Dimensions,
    Label,
    LabelRequest,
    Location,
    ParcelSpec,
    PickupConfirmation,
    PickupRequest,
)

from omskit_carrier_karrio.settings import Connection

#: How long a reference karrio passes on (DHL Express truncates to 30).
REFERENCE_LENGTH = 30
#: Label formats by their first bytes, when karrio does not say.
_MAGIC = ((b"%PDF", "application/pdf"), (b"\x89PNG", "image/png"), (b"GIF8", "image/gif"),
          (b"^XA", "application/zpl"))
_MEDIA = {"PDF": "application/pdf", "ZPL": "application/zpl", "PNG": "image/png",
          "GIF": "image/gif"}


def address(found: Address, contact: Mapping[str, str] | None = None,
            company: str = "") -> Any:
    """An omskit address (with a contact, for the sender) as karrio's ``Address``."""
    contact = contact or {}
    return models.Address(
        person_name=contact.get("person_name") or found.name or None,
        company_name=contact.get("company_name") or company or None,
        address_line1=found.line1, address_line2=found.line2 or None, city=found.city,
        postal_code=found.postal_code or None, state_code=found.region or None,
        country_code=found.country, phone_number=contact.get("phone_number") or None,
        email=contact.get("email") or None)


def sender(connection: Connection, origin: Location) -> Any:
    """The location, with the connection's shipper contact."""
    if origin.address is None:
        raise CarrierRefused(connection.code, f"location {origin.code} has no address to "
                                              "ship from")
    return address(origin.address, connection.shipper, company=origin.name)


def parcel(connection: Connection, spec: ParcelSpec, reference: str = "") -> Any:
    """One parcel in kilograms and centimetres."""
    dims: Dimensions | None = spec.dimensions
    # Without a size, no unit either: karrio would send UPS the dimensions "None".
    return models.Parcel(
        weight=spec.weight_grams / 1000, weight_unit="KG",
        dimension_unit="CM" if dims else None,
        length=dims.length_mm / 10 if dims else None,
        width=dims.width_mm / 10 if dims else None,
        height=dims.height_mm / 10 if dims else None,
        reference_number=reference or None)


def reference(idempotency_key: str) -> str:
    """The shipment reference carrying omskit's idempotency key."""
    return idempotency_key[-REFERENCE_LENGTH:]


def local_tracking_number(connection: Connection, idempotency_key: str) -> str:
    """The tracking number karrio's generic carrier prints for a key: 12 digits of the
    SHA-256 of the connection and the key, so a purchase repeated under the key (after a
    restart) renders the same label."""
    digest = hashlib.sha256(f"{connection.code}|{idempotency_key}".encode()).digest()
    return f"{int.from_bytes(digest[:8], 'big') % 10**12:012d}"


def service(connection: Connection, request: LabelRequest) -> str:
    """The shipment's service, else the connection's default (for the generic carrier, its
    first service)."""
    chosen = request.service or connection.default_service
    if not chosen and connection.local_labels:
        chosen = connection.gateway.settings.shipping_services[0].service_code
    if not chosen:
        raise CarrierRefused(connection.code, "no service: give the shipment a service (one "
                                              "of its rates) or the connection a "
                                              "default_service")
    return str(chosen)


def shipment(connection: Connection, request: LabelRequest) -> Any:
    """A label request as karrio's ``ShipmentRequest`` (outbound orientation: karrio swaps the
    addresses of a return, see :func:`swapped`)."""
    number = local_tracking_number(connection, request.idempotency_key) \
        if connection.local_labels else ""
    return models.ShipmentRequest(
        service=service(connection, request), shipper=sender(connection, request.origin),
        recipient=address(request.destination),
        parcels=[parcel(connection, request.parcel, number)],
        reference=reference(request.idempotency_key), order_id=request.order_id,
        label_type=connection.label_type, is_return=request.is_return)


def swapped(payload: Any) -> Any:
    """A return as karrio's gateway prepares it (``karrio.Shipment.create`` with
    ``is_return``): from the customer back to the location, which is also the return
    address."""
    data = dict(lib.to_dict(payload))
    data.update(shipper=lib.to_dict(payload.recipient), recipient=lib.to_dict(payload.shipper),
                return_address=lib.to_dict(payload.return_address or payload.shipper))
    return lib.to_object(models.ShipmentRequest, data)


def media_type(document: bytes, label_type: str | None) -> str:
    """The label's media type: by its first bytes, else as karrio names it."""
    for magic, media in _MAGIC:
        if document.startswith(magic):
            return media
    return _MEDIA.get((label_type or "PDF").upper(), "application/octet-stream")


def label(connection: Connection, request: LabelRequest, details: Any) -> Label:
    """karrio's ``ShipmentDetails`` as omskit's label."""
    raw = getattr(details.docs, "label", None) or ""
    try:
        document = base64.b64decode(raw) if raw else b""
    except (binascii.Error, ValueError):
        document = str(raw).encode()
    rate = getattr(details, "selected_rate", None)
    estimate = getattr(rate, "estimated_delivery", None) if rate is not None else None
    try:
        expected = date.fromisoformat(str(estimate)[:10]) if estimate else None
    except ValueError:
        expected = None
    return Label(label_id=str(details.shipment_identifier or details.tracking_number),
                 tracking_number=str(details.tracking_number),
                 idempotency_key=request.idempotency_key, document=document,
                 media_type=media_type(document, getattr(details, "label_type", None)),
                 service=service(connection, request), expected_date=expected)


def money(value: object) -> Decimal | None:
    """karrio's float amount as a decimal of cents."""
    try:
        found = Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        return None
    return found if found.is_finite() and found >= 0 else None


def pickup(connection: Connection, request: PickupRequest,
           grams: Mapping[str, int]) -> Any:
    """A collection as karrio's ``PickupRequest``: one parcel per tracking number, weighing
    what this process labelled it with, else the connection's ``pickup.parcel_grams``."""
    window = connection.pickup
    return models.PickupRequest(
        pickup_date=request.day.isoformat(), ready_time=window.ready_time,
        closing_time=window.closing_time, address=sender(connection, request.location),
        parcels=[models.Parcel(weight=grams.get(n, window.parcel_grams) / 1000,
                               weight_unit="KG") for n in request.tracking_numbers],
        parcels_count=len(request.tracking_numbers),
        shipment_identifiers=list(request.tracking_numbers))


def confirmation(request: PickupRequest, details: Any) -> PickupConfirmation:
    """karrio's ``PickupDetails`` as omskit's confirmation."""
    try:
        day = date.fromisoformat(str(details.pickup_date)[:10]) if details.pickup_date \
            else request.day
    except ValueError:
        day = request.day
    return PickupConfirmation(confirmation=str(details.confirmation_number), day=day,
                              ready_from=str(details.ready_time or ""),
                              ready_until=str(details.closing_time or ""))


def rates(shipper: Any, recipient: Any, one: Any) -> Any:
    """karrio's ``RateRequest`` for one parcel."""
    return models.RateRequest(shipper=shipper, recipient=recipient, parcels=[one])


def cancellation(label_id: str) -> Any:
    """karrio's ``ShipmentCancelRequest`` for a label."""
    return models.ShipmentCancelRequest(shipment_identifier=label_id)


def tracking(tracking_number: str) -> Any:
    """karrio's ``TrackingRequest`` for one parcel."""
    return models.TrackingRequest(tracking_numbers=[tracking_number])


__all__ = ["REFERENCE_LENGTH", "address", "cancellation", "confirmation", "label",
           "local_tracking_number", "media_type", "money", "parcel", "pickup", "rates",
           "reference", "sender", "service", "shipment", "swapped", "tracking"]
