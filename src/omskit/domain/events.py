"""Domain events: past-tense facts, each with a stable ``event_type`` and a unique id.

Events are appended by aggregates and services, written to the outbox in the same transaction
as the change they describe, and dispatched to ``omskit_handle_event`` after commit. Consumers
de-duplicate on ``event_id``: delivery is at least once.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import ClassVar

import attrs
import uuid_utils

from omskit.domain.values import LineQuantity


def new_id() -> str:
    """A new identifier: a UUID version 7 as 32 hex digits (time-ordered, 74 random bits)."""
    return uuid_utils.uuid7().hex


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC)


@attrs.frozen(kw_only=True)
class Event:
    """Base class of all events. Subclasses set ``event_type`` to a stable dotted name."""

    event_type: ClassVar[str] = "event"
    event_id: str = attrs.field(factory=new_id)
    occurred_at: datetime = attrs.field(factory=utcnow)

    @property
    def order_id(self) -> str | None:
        """The order this event belongs to, if any (used for the order timeline)."""
        return None


@attrs.frozen(kw_only=True)
class OrderEvent(Event):
    """An event about one order or one of its fulfilment orders."""

    order: str

    @property
    def order_id(self) -> str | None:
        return self.order


@attrs.frozen(kw_only=True)
class OrderPlaced(OrderEvent):
    """A new order was received from a channel."""

    event_type: ClassVar[str] = "order.placed"
    channel: str
    external_id: str
    customer_id: str
    currency: str
    total: Decimal
    lines: tuple[LineQuantity, ...]


@attrs.frozen(kw_only=True)
class OrderStatusChanged(OrderEvent):
    """An order moved from one status to another."""

    event_type: ClassVar[str] = "order.status_changed"
    from_status: str
    to_status: str


@attrs.frozen(kw_only=True)
class OrderHoldPlaced(OrderEvent):
    """A hold was put on an order (by a validator or an operator)."""

    event_type: ClassVar[str] = "order.hold_placed"
    code: str
    reason: str


@attrs.frozen(kw_only=True)
class OrderHoldReleased(OrderEvent):
    """A hold on an order was released."""

    event_type: ClassVar[str] = "order.hold_released"
    code: str


@attrs.frozen(kw_only=True)
class RoutedQuantity:
    """Part of a routing decision: a location fulfils a quantity of a line."""

    location: str
    line_id: str
    sku: str
    quantity: int


@attrs.frozen(kw_only=True)
class OrderRouted(OrderEvent):
    """Routing decided where (part of) an order ships from, and reserved that stock."""

    event_type: ClassVar[str] = "order.routed"
    strategy: str
    allocations: tuple[RoutedQuantity, ...]
    backordered: tuple[LineQuantity, ...]


@attrs.frozen(kw_only=True)
class OrderCancelled(OrderEvent):
    """An order was cancelled; its reservations were released."""

    event_type: ClassVar[str] = "order.cancelled"
    reason: str


@attrs.frozen(kw_only=True)
class CancelledQuantity:
    """Part of a line cancellation: units of a line taken from where they were held."""

    line_id: str
    sku: str
    quantity: int
    #: The fulfilment order that held the units (None: they were backordered, unallocated).
    fulfillment_order_id: str | None = None
    #: The location of that fulfilment order (None for backordered units).
    location: str | None = None


@attrs.frozen(kw_only=True)
class OrderLinesCancelled(OrderEvent):
    """Quantities of order lines were cancelled; what they held was released.

    ``lines`` is how many units of each line were cancelled; ``released`` where they came
    from: the backorder, or a fulfilment order that shrank (or was cancelled, when nothing
    of it was left; its status change is a separate event).
    """

    event_type: ClassVar[str] = "order.lines_cancelled"
    reason: str
    lines: tuple[LineQuantity, ...]
    released: tuple[CancelledQuantity, ...]
    idempotency_key: str | None = None


@attrs.frozen(kw_only=True)
class OrderShortClosed(OrderEvent):
    """An order was closed short: every unit not yet shipped, picked or packed was
    cancelled (the ``order.lines_cancelled`` event before this one lists them), and nothing
    more will be sourced for it."""

    event_type: ClassVar[str] = "order.short_closed"
    reason: str
    lines: tuple[LineQuantity, ...]


@attrs.frozen(kw_only=True)
class FulfillmentOrderCreated(OrderEvent):
    """Routing created a fulfilment order for one location."""

    event_type: ClassVar[str] = "fulfillment_order.created"
    fulfillment_order_id: str
    location: str
    lines: tuple[LineQuantity, ...]


@attrs.frozen(kw_only=True)
class FulfillmentOrderStatusChanged(OrderEvent):
    """A fulfilment order moved from one status to another."""

    event_type: ClassVar[str] = "fulfillment_order.status_changed"
    fulfillment_order_id: str
    location: str
    from_status: str
    to_status: str


@attrs.frozen(kw_only=True)
class FulfillmentOrderRejected(OrderEvent):
    """A location refused a fulfilment order; its lines are re-routed."""

    event_type: ClassVar[str] = "fulfillment_order.rejected"
    fulfillment_order_id: str
    location: str
    reason: str


@attrs.frozen(kw_only=True)
class ShipmentShipped(OrderEvent):
    """The goods of a fulfilment order left the location."""

    event_type: ClassVar[str] = "shipment.shipped"
    fulfillment_order_id: str
    shipment_id: str
    location: str
    carrier: str
    tracking_number: str
    #: The order lines and units that left (empty in events stored before shipments could
    #: be partial: the whole fulfilment order then).
    lines: tuple[LineQuantity, ...] = ()


@attrs.frozen(kw_only=True)
class ShipmentDelivered(OrderEvent):
    """A shipment reached the customer (``occurred_at``: the carrier's time of delivery)."""

    event_type: ClassVar[str] = "shipment.delivered"
    fulfillment_order_id: str
    shipment_id: str


@attrs.frozen(kw_only=True)
class ShipmentCreated(OrderEvent):
    """A shipment of a fulfilment order was prepared: its lines packed in parcels."""

    event_type: ClassVar[str] = "shipment.created"
    fulfillment_order_id: str
    shipment_id: str
    location: str
    carrier: str
    lines: tuple[LineQuantity, ...]
    parcels: int


@attrs.frozen(kw_only=True)
class LabelBought(OrderEvent):
    """A shipping carrier sold a parcel's label (once per parcel and purchase key)."""

    event_type: ClassVar[str] = "shipment.label_bought"
    shipment_id: str
    parcel_id: str
    carrier: str
    tracking_number: str
    label_id: str


@attrs.frozen(kw_only=True)
class LabelVoided(OrderEvent):
    """A parcel's label was voided at the carrier before the shipment left."""

    event_type: ClassVar[str] = "shipment.label_voided"
    shipment_id: str
    parcel_id: str
    carrier: str
    tracking_number: str


@attrs.frozen(kw_only=True)
class ParcelTracked(OrderEvent):
    """A parcel's tracking status moved (``occurred_at``: the carrier's time of the event).
    Duplicates and events older than the current status are recorded without this event."""

    event_type: ClassVar[str] = "shipment.parcel_tracked"
    shipment_id: str
    parcel_id: str
    carrier: str
    tracking_number: str
    status: str
    description: str = ""


@attrs.frozen(kw_only=True)
class OrderExpectedDateChanged(OrderEvent):
    """A carrier's new estimate moved the day the order is expected to arrive (the latest
    estimate over its shipments)."""

    event_type: ClassVar[str] = "order.expected_date_changed"
    previous: date | None
    expected_date: date | None
    shipment_id: str


@attrs.frozen(kw_only=True)
class OrderPromiseMoved(OrderEvent):
    """Routing cannot deliver by the date promised (quoted at checkout, or promised before
    an edit): the promise moved to the day the last parcel can arrive."""

    event_type: ClassVar[str] = "order.promise_moved"
    previous: date
    promised_date: date
    #: What moved it: ``placement`` (the quoted date) or ``edit`` (an edit's re-routing).
    reason: str


@attrs.frozen(kw_only=True)
class StockReserved(OrderEvent):
    """Stock at a location was reserved for an order line."""

    event_type: ClassVar[str] = "stock.reserved"
    reservation_id: str
    location: str
    sku: str
    quantity: int
    line_id: str


@attrs.frozen(kw_only=True)
class ReservationReleased(OrderEvent):
    """A reservation was given back to available stock (cancel, reject, expiry)."""

    event_type: ClassVar[str] = "stock.reservation_released"
    reservation_id: str
    location: str
    sku: str
    quantity: int
    reason: str


@attrs.frozen(kw_only=True)
class LocationSaved(Event):
    """A location was created or changed."""

    event_type: ClassVar[str] = "location.saved"
    location: str
    created: bool


@attrs.frozen(kw_only=True)
class StockReceived(Event):
    """Goods arrived at a location and were added to on-hand stock."""

    event_type: ClassVar[str] = "stock.received"
    location: str
    sku: str
    quantity: int
    reference: str


@attrs.frozen(kw_only=True)
class StockAdjusted(Event):
    """On-hand or safety stock was corrected (count, damage, shrinkage)."""

    event_type: ClassVar[str] = "stock.adjusted"
    location: str
    sku: str
    on_hand_delta: int
    safety_stock: int
    reason: str


@attrs.frozen(kw_only=True)
class StockTransferred(Event):
    """Stock left one location for another (arrived at once, or in transit as supply)."""

    event_type: ClassVar[str] = "stock.transferred"
    sku: str
    from_location: str
    to_location: str
    quantity: int
    supply_id: str | None


@attrs.frozen(kw_only=True)
class SupplyRegistered(Event):
    """Stock is expected at a location: in transit or on order, with an ETA."""

    event_type: ClassVar[str] = "supply.registered"
    supply_id: str
    location: str
    sku: str
    quantity: int
    eta: datetime


@attrs.frozen(kw_only=True)
class SupplyReceived(Event):
    """Expected supply arrived and became on-hand stock."""

    event_type: ClassVar[str] = "supply.received"
    supply_id: str
    location: str
    sku: str
    quantity: int


@attrs.frozen(kw_only=True)
class CartHoldEnded(Event):
    """A cart's soft reservation ended without becoming an order (released or expired):
    its units are promisable again."""

    event_type: ClassVar[str] = "cart.hold_ended"
    cart_id: str
    location: str
    sku: str
    quantity: int
    #: ``released`` or ``expired``.
    status: str


#: Every event type defined by the core; plugins add theirs with ``omskit_register_event_types``.
CORE_EVENTS: tuple[type[Event], ...] = (
    OrderPlaced,
    OrderStatusChanged,
    OrderHoldPlaced,
    OrderHoldReleased,
    OrderRouted,
    OrderCancelled,
    OrderLinesCancelled,
    OrderShortClosed,
    FulfillmentOrderCreated,
    FulfillmentOrderStatusChanged,
    FulfillmentOrderRejected,
    ShipmentShipped,
    ShipmentDelivered,
    ShipmentCreated,
    LabelBought,
    LabelVoided,
    ParcelTracked,
    OrderExpectedDateChanged,
    OrderPromiseMoved,
    StockReserved,
    ReservationReleased,
    LocationSaved,
    StockReceived,
    StockAdjusted,
    StockTransferred,
    SupplyRegistered,
    SupplyReceived,
    CartHoldEnded,
)
