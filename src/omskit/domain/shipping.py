"""Shipments, parcels, labels and tracking: the values the core and shipping carriers share.

A fulfilment order ships in one or more :class:`Shipment` s (some lines now, the rest later),
each with one or more :class:`Parcel` s. A parcel's label is bought from a shipping carrier
plugin (``omskit.ports.ShippingCarrier``) under an idempotency key the core stores before the
call; its tracking is normalised to :class:`TrackingStatus`.

The request and answer values (:class:`RateRequest`, :class:`LabelRequest`,
:class:`Label`, :class:`TrackingUpdate`, :class:`PickupRequest`...) are what carrier plugins
receive and return: plain attrs values, no database, no provider types.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal

import attrs

from omskit.domain.inventory import Location
from omskit.domain.values import Address, LineQuantity


class TrackingStatus(enum.StrEnum):
    """The one tracking vocabulary every carrier's statuses are translated to."""

    LABEL_CREATED = "label_created"
    PICKED_UP = "picked_up"
    IN_TRANSIT = "in_transit"
    OUT_FOR_DELIVERY = "out_for_delivery"
    FAILED_ATTEMPT = "failed_attempt"
    EXCEPTION = "exception"
    DELIVERED = "delivered"
    RETURNED_TO_SENDER = "returned_to_sender"


#: Statuses after which a parcel's tracking never changes again.
FINAL_TRACKING = frozenset({TrackingStatus.DELIVERED, TrackingStatus.RETURNED_TO_SENDER})


class CarrierCapability(enum.StrEnum):
    """What a shipping carrier plugin can do; the core calls only what is declared."""

    RATES = "rates"
    LABELS = "labels"
    VOID = "void"
    RETURN_LABELS = "return_labels"
    TRACKING = "tracking"
    WEBHOOKS = "webhooks"
    PICKUPS = "pickups"


class LabelStatus(enum.StrEnum):
    """Where a parcel's label purchase stands (the core's ledger of carrier calls)."""

    #: No label yet (or the last attempt failed in a way that is safe to retry).
    NONE = "none"
    #: Claimed: a caller is buying it under ``label_key`` right now.
    PENDING = "pending"
    #: The carrier sold it: ``tracking_number`` and ``label_id`` are set.
    BOUGHT = "bought"
    #: The last call's outcome is unknown: the next attempt asks the carrier first.
    UNKNOWN = "unknown"
    #: The carrier refused it for good (bad address, weight over the limit...).
    FAILED = "failed"
    #: Bought, then voided at the carrier; a new purchase takes a new key.
    VOIDED = "voided"
    #: Bought outside omskit (``oms.fulfillment.ship(..., tracking_number=...)``).
    EXTERNAL = "external"


@attrs.frozen(kw_only=True)
class Dimensions:
    """Outer dimensions of a parcel, in millimetres."""

    length_mm: int
    width_mm: int
    height_mm: int


@attrs.define(kw_only=True)
class Parcel:
    """One box of a shipment: its weight, size and contents, and its label and tracking."""

    id: str
    shipment_id: str
    weight_grams: int
    dimensions: Dimensions | None = None
    contents: tuple[LineQuantity, ...] = ()
    label_status: LabelStatus = LabelStatus.NONE
    #: The idempotency key of the current purchase (sent to the carrier).
    label_key: str | None = None
    #: Purchases started so far: a voided label's successor gets a new key.
    label_attempts: int = 0
    label_claimed_at: datetime | None = None
    #: The carrier's id of the label (to void or retrieve it).
    label_id: str | None = None
    tracking_number: str = ""
    label_error: str = ""
    tracking_status: TrackingStatus | None = None
    #: The carrier's time of the event that set ``tracking_status``.
    tracking_at: datetime | None = None
    delivered_at: datetime | None = None
    #: The carrier's latest estimate of the delivery day.
    expected_date: date | None = None

    @property
    def labelled(self) -> bool:
        """Whether the parcel has a label it can travel with."""
        return self.label_status in (LabelStatus.BOUGHT, LabelStatus.EXTERNAL)


@attrs.define(kw_only=True)
class Shipment:
    """Goods of one fulfilment order that leave together with one carrier, in parcels.

    ``shipped_at`` is None while the shipment is being prepared (parcels packed, labels
    bought); shipping it consumes the reserved stock of its ``lines``.
    """

    id: str
    carrier: str
    #: The master tracking number: the first parcel's (or the one given to ``ship``).
    tracking_number: str = ""
    shipped_at: datetime | None = None
    delivered_at: datetime | None = None
    lines: tuple[LineQuantity, ...] = ()
    parcels: list[Parcel] = attrs.field(factory=list)
    #: The carrier's service level (``express``), if one was chosen.
    service: str = ""
    created_at: datetime | None = None
    #: The latest carrier estimate of the delivery day over its parcels.
    expected_date: date | None = None

    @property
    def units(self) -> int:
        """Units of the order's lines in this shipment."""
        return sum(x.quantity for x in self.lines)

    @property
    def tracking_status(self) -> TrackingStatus | None:
        """The least advanced tracking status of its parcels (delivered once all are)."""
        found = [p.tracking_status for p in self.parcels]
        if not found or any(s is None for s in found):
            return None  # a parcel not tracked yet is the least advanced
        return min((s for s in found if s is not None), key=_RANK.__getitem__)

    def parcel(self, parcel_id: str) -> Parcel:
        """The parcel with this id (``KeyError`` if it is not in this shipment)."""
        for p in self.parcels:
            if p.id == parcel_id:
                return p
        raise KeyError(parcel_id)


#: How far along each status is; a final status outranks everything.
_RANK = {
    TrackingStatus.LABEL_CREATED: 0,
    TrackingStatus.PICKED_UP: 1,
    TrackingStatus.IN_TRANSIT: 2,
    TrackingStatus.EXCEPTION: 2,
    TrackingStatus.FAILED_ATTEMPT: 3,
    TrackingStatus.OUT_FOR_DELIVERY: 3,
    TrackingStatus.RETURNED_TO_SENDER: 4,
    TrackingStatus.DELIVERED: 5,
}


def tracking_rank(status: TrackingStatus) -> int:
    """How far along ``status`` is (ties are broken by the carrier's event time)."""
    return _RANK[status]


def sum_lines(groups: Iterable[Iterable[LineQuantity]]) -> dict[str, int]:
    """Units per line id over every group."""
    total: dict[str, int] = defaultdict(int)
    for group in groups:
        for x in group:
            total[x.line_id] += x.quantity
    return dict(total)


# -- what the core asks a carrier, and what it answers ---------------------------------------


@attrs.frozen(kw_only=True)
class ParcelSpec:
    """A parcel to rate or to ship: weight, size and contents (by order line)."""

    weight_grams: int
    dimensions: Dimensions | None = None
    contents: tuple[LineQuantity, ...] = ()


@attrs.frozen(kw_only=True)
class RateRequest:
    """Rates for parcels from a location to an address."""

    origin: Location
    destination: Address
    parcels: tuple[ParcelSpec, ...]


@attrs.frozen(kw_only=True)
class ShippingRate:
    """One offer of a carrier for a rate request: price, service and transit time."""

    carrier: str
    service: str
    amount: Decimal
    currency: str
    transit_days: int
    #: One price per parcel of the request, in its order (sums to ``amount``).
    per_parcel: tuple[Decimal, ...] = ()


@attrs.frozen(kw_only=True)
class LabelRequest:
    """Buy one parcel's label. ``idempotency_key`` is stored by the core before the call:
    a carrier that receives the same key twice must sell one label."""

    idempotency_key: str
    order_id: str
    shipment_id: str
    parcel_id: str
    origin: Location
    destination: Address
    parcel: ParcelSpec
    service: str = ""
    #: A return label: from ``destination`` back to ``origin``.
    is_return: bool = False


@attrs.frozen(kw_only=True)
class Label:
    """A label the carrier sold: its ids, tracking number and printable document."""

    label_id: str
    tracking_number: str
    idempotency_key: str
    #: The printable label (a PDF, ZPL...), or empty when the carrier only gives a URL.
    document: bytes = b""
    media_type: str = "application/pdf"
    service: str = ""
    expected_date: date | None = None


@attrs.frozen(kw_only=True)
class TrackingUpdate:
    """One tracking event, translated by the carrier plugin to omskit's vocabulary.

    ``event_id`` identifies the event at the carrier (the same event delivered twice has the
    same id); ``occurred_at`` is the carrier's time of it, not the time it was received.
    """

    tracking_number: str
    status: TrackingStatus
    occurred_at: datetime
    event_id: str
    description: str = ""
    location: str = ""
    #: The carrier's new estimate of the delivery day, if the event carries one.
    expected_date: date | None = None


@attrs.frozen(kw_only=True)
class PickupRequest:
    """Ask the carrier to collect parcels at a location on a day."""

    idempotency_key: str
    location: Location
    day: date
    tracking_numbers: tuple[str, ...]


@attrs.frozen(kw_only=True)
class PickupConfirmation:
    """The carrier's booking of a collection."""

    confirmation: str
    day: date
    ready_from: str = ""
    ready_until: str = ""


__all__ = [
    "FINAL_TRACKING",
    "CarrierCapability",
    "Dimensions",
    "Label",
    "LabelRequest",
    "LabelStatus",
    "Parcel",
    "ParcelSpec",
    "PickupConfirmation",
    "PickupRequest",
    "RateRequest",
    "Shipment",
    "ShippingRate",
    "TrackingStatus",
    "TrackingUpdate",
    "sum_lines",
    "tracking_rank",
]
