"""Shipping commands: shipments and parcels, labels, tracking (``oms.shipping``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs

from omskit.domain.checks import MAX_LINE_QUANTITY, check_identifier, check_moment, check_text
from omskit.domain.commands.base import Command, code, identifier
from omskit.domain.shipping import Dimensions, ParcelSpec, TrackingStatus, TrackingUpdate
from omskit.domain.values import LineQuantity

#: Heaviest parcel omskit accepts (a pallet is not a parcel): 1,000 kg.
MAX_PARCEL_GRAMS = 1_000_000
#: Longest side of a parcel: 10 m.
MAX_SIDE_MM = 10_000
#: Most parcels in one shipment, and tracking events in one call.
MAX_PARCELS = 500
MAX_TRACKING_UPDATES = 10_000
#: Largest webhook body read.
MAX_WEBHOOK_BYTES = 1024 * 1024


def _as_tuple(value: object) -> object:
    # Converters run before checks: a malformed value is kept for check() to report.
    if isinstance(value, Iterable) and not isinstance(value, str | bytes | Mapping):
        return tuple(value)
    return value


def _whole(value: object, field: str, problems: list[str], low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        problems.append(f"{field}: must be a whole number from {low} to {high}, not {value!r}")


def check_lines(lines: object, field: str, problems: list[str]) -> None:
    """Lines of a shipment or a parcel's contents: ``LineQuantity`` values, each line once."""
    if not isinstance(lines, tuple):
        problems.append(f"{field}: must be a list of LineQuantity")
        return
    seen: set[str] = set()
    for i, x in enumerate(lines[:MAX_PARCELS]):
        if not isinstance(x, LineQuantity):
            problems.append(f"{field}[{i}]: must be a LineQuantity")
            continue
        check_identifier(x.line_id, f"{field}[{i}].line_id", problems)
        check_identifier(x.sku, f"{field}[{i}].sku", problems)
        _whole(x.quantity, f"{field}[{i}].quantity", problems, 1, MAX_LINE_QUANTITY)
        if x.line_id in seen:
            problems.append(f"{field}[{i}].line_id: {x.line_id!r} is listed twice")
        seen.add(x.line_id)


def check_parcel(parcel: object, field: str, problems: list[str]) -> None:
    """A parcel to ship: weight from 1 g, sides from 1 mm, contents as :func:`check_lines`."""
    if not isinstance(parcel, ParcelSpec):
        problems.append(f"{field}: must be a ParcelSpec")
        return
    _whole(parcel.weight_grams, f"{field}.weight_grams", problems, 1, MAX_PARCEL_GRAMS)
    size: object = parcel.dimensions
    if size is not None:
        if not isinstance(size, Dimensions):
            problems.append(f"{field}.dimensions: must be Dimensions")
        else:
            for side in ("length_mm", "width_mm", "height_mm"):
                _whole(getattr(size, side), f"{field}.dimensions.{side}", problems, 1,
                       MAX_SIDE_MM)
    check_lines(_as_tuple(parcel.contents), f"{field}.contents", problems)


@attrs.frozen(kw_only=True)
class CreateShipment(Command):
    """Prepare a shipment of a packed fulfilment order: ``lines`` (empty: every unit not yet
    in a shipment) in ``parcels``, with ``carrier``. Idempotent on ``shipment_id`` when
    given: the same id again returns the shipment created first."""

    name = "create_shipment"
    subject = "shipment"

    fulfillment_order_id: str = identifier()
    carrier: str = code()
    parcels: tuple[ParcelSpec, ...] = attrs.field(converter=_as_tuple)
    lines: tuple[LineQuantity, ...] = attrs.field(default=(), converter=_as_tuple)
    service: str = attrs.field(default="")
    shipment_id: str | None = identifier(optional=True, default=None)

    def check(self, problems: list[str]) -> None:
        parcels: object = self.parcels
        if not isinstance(parcels, tuple) or not parcels:
            problems.append("parcels: a shipment needs at least one parcel")
        elif len(parcels) > MAX_PARCELS:
            problems.append(f"parcels: more than {MAX_PARCELS}")
        else:
            for i, parcel in enumerate(parcels):
                check_parcel(parcel, f"parcels[{i}]", problems)
        check_lines(self.lines, "lines", problems)
        if self.service:
            check_identifier(self.service, "service", problems)


@attrs.frozen(kw_only=True)
class BuyLabel(Command):
    """Buy a parcel's label from its shipment's carrier. Idempotent: the label is bought
    once per parcel (under a key stored before the carrier is called); asking again returns
    it."""

    name = "buy_label"
    subject = "label"

    parcel_id: str = identifier()


@attrs.frozen(kw_only=True)
class VoidLabel(Command):
    """Void a parcel's label at the carrier, before its shipment leaves. Naturally
    idempotent: voiding a parcel without a label changes nothing."""

    name = "void_label"
    subject = "label"

    parcel_id: str = identifier()


@attrs.frozen(kw_only=True)
class ShipShipment(Command):
    """The shipment left with its carrier: every parcel must have a label. Naturally
    idempotent: shipping a shipment that left changes nothing."""

    name = "ship_shipment"
    subject = "shipment"

    shipment_id: str = identifier()


def check_update(update: object, field: str, problems: list[str]) -> None:
    """A tracking update: a tracking number and event id, a status of the vocabulary and
    the carrier's time."""
    if not isinstance(update, TrackingUpdate):
        problems.append(f"{field}: must be a TrackingUpdate")
        return
    check_identifier(update.tracking_number, f"{field}.tracking_number", problems)
    check_identifier(update.event_id, f"{field}.event_id", problems)
    status: object = update.status
    if not isinstance(status, TrackingStatus):
        problems.append(f"{field}.status: {status!r} is not a TrackingStatus")
    check_moment(update.occurred_at, f"{field}.occurred_at", problems)
    check_text(update.description, f"{field}.description", problems)
    check_text(update.location, f"{field}.location", problems)


@attrs.frozen(kw_only=True)
class RecordTracking(Command):
    """Record tracking events a carrier reported. Idempotent per event: an event seen
    before, or older than the parcel's status, changes nothing; nothing goes back after
    delivered."""

    name = "record_tracking"
    subject = "tracking"

    carrier: str = code()
    updates: tuple[TrackingUpdate, ...] = attrs.field(converter=_as_tuple)

    def check(self, problems: list[str]) -> None:
        updates: object = self.updates
        if not isinstance(updates, tuple):
            problems.append("updates: must be a list of TrackingUpdate")
            return
        if len(updates) > MAX_TRACKING_UPDATES:
            problems.append(f"updates: more than {MAX_TRACKING_UPDATES}")
            return
        for i, update in enumerate(updates):
            check_update(update, f"updates[{i}]", problems)


@attrs.frozen(kw_only=True)
class TrackShipment(Command):
    """Ask the carrier for the tracking of every parcel of the shipment and record it (as
    :class:`RecordTracking`)."""

    name = "track_shipment"
    subject = "tracking"

    shipment_id: str = identifier()


@attrs.frozen(kw_only=True)
class ReceiveCarrierWebhook(Command):
    """A carrier's webhook: the plugin checks its signature over the raw ``body`` and
    translates it; the events are recorded as :class:`RecordTracking`. A bad signature or
    body is ``InvalidWebhook`` and writes nothing."""

    name = "receive_carrier_webhook"
    subject = "webhook"

    carrier: str = code()
    headers: Mapping[str, str] = attrs.field(factory=dict)
    body: bytes = b""

    def check(self, problems: list[str]) -> None:
        body: object = self.body
        if not isinstance(body, bytes):
            problems.append("body: must be the raw bytes received")
        elif len(body) > MAX_WEBHOOK_BYTES:
            problems.append(f"body: larger than {MAX_WEBHOOK_BYTES} bytes")
        headers: object = self.headers
        if not isinstance(headers, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in headers.items()):
            problems.append("headers: must map names to strings")


__all__ = ["BuyLabel", "CreateShipment", "ReceiveCarrierWebhook", "RecordTracking",
           "ShipShipment", "TrackShipment", "VoidLabel"]
