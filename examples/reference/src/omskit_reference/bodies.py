"""Request and response bodies the API adds to omskit's own attrs classes.

omskit's commands and values travel as they are (``PlaceOrder`` in, ``Order`` out); these
are the small bodies of actions that take a reason or a carrier, and the pages of listings.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import attrs
from omskit import (
    Address,
    Coordinates,
    Customer,
    DeliveryMethod,
    EditStatus,
    EditSummary,
    ExchangeMode,
    FulfillmentOrder,
    GlobalStock,
    Hold,
    IncomingSupply,
    Invoice,
    LineQuantity,
    LocationKind,
    Money,
    NewLine,
    Order,
    OrderEdit,
    OrderLine,
    OrderStatus,
    OrderSummary,
    RecordedTrackingEvent,
    ReturnItem,
    Shipment,
    ShipNoticeLine,
    StagedChanges,
    UnitDisposition,
)

from omskit_reference.keys import ApiKey, Scope


@attrs.frozen(kw_only=True)
class Reason:
    """Why: a cancellation's or a rejection's reason."""

    reason: str = ""


@attrs.frozen(kw_only=True)
class NewHold:
    """A hold to place on an order."""

    code: str
    reason: str


@attrs.frozen(kw_only=True)
class ShipBody:
    """Everything not yet shipped leaves with ``carrier`` under ``tracking_number``."""

    carrier: str
    tracking_number: str


@attrs.frozen(kw_only=True)
class Collection:
    """What the customer collected: units per order line (none: everything ready)."""

    lines: list[LineQuantity] = attrs.field(factory=list)


@attrs.frozen(kw_only=True)
class Receipt:
    """Units received at a location."""

    sku: str
    quantity: int
    reference: str = ""


@attrs.frozen(kw_only=True)
class NewReturn:
    """A return asked for: units of the order's shipped lines (each with its reason), the
    channel it is started from (``web``, ``call_center``, ``store``) and where the goods are
    expected (a store key: its own store); with ``exchange``, the replacement goods."""

    lines: list[ReturnItem]
    channel: str
    location: str | None = None
    note: str = ""
    #: Replacement goods (an exchange): placed as an order when the return is approved.
    exchange: list[NewLine] = attrs.field(factory=list)
    #: ``on_receipt`` (the replacement waits for the goods) or ``immediate``.
    exchange_mode: ExchangeMode = ExchangeMode.ON_RECEIPT


@attrs.frozen(kw_only=True)
class ReturnReceiptBody:
    """Units of a return that arrived at ``location``."""

    location: str
    lines: list[ReturnItem]


@attrs.frozen(kw_only=True)
class InspectionBody:
    """Received units inspected, each with its disposition."""

    units: list[UnitDisposition]


@attrs.frozen(kw_only=True)
class NewKey:
    """An API key to issue."""

    name: str
    scope: Scope
    location: str | None = None
    channel: str | None = None


@attrs.frozen(kw_only=True)
class IssuedKeyBody:
    """A new key and its token, shown once."""

    key: ApiKey
    token: str


@attrs.frozen(kw_only=True)
class TrackingLink:
    """A customer's tracking link: the path to open (after the deployment's address) and
    its token, shown once."""

    url: str
    token: str


@attrs.frozen(kw_only=True)
class OrderPage:
    """One page of an order listing, newest first; pass ``next_cursor`` as ``cursor`` for
    the next page (``None``: this was the last)."""

    items: list[OrderSummary]
    next_cursor: str | None = None


@attrs.frozen(kw_only=True)
class OrderView:
    """An order as the API shows it: its fields, its holds, its fulfilment orders and its
    total (an ``Order`` keeps the first two in private state that only its methods change)."""

    id: str
    channel: str
    external_id: str
    status: OrderStatus
    currency: str
    total: Money
    customer: Customer
    lines: tuple[OrderLine, ...]
    delivery: DeliveryMethod
    shipping_address: Address | None
    billing_address: Address | None
    placed_at: datetime
    updated_at: datetime
    promised_date: date | None
    expected_date: date | None
    cart_id: str | None
    tags: tuple[str, ...]
    metadata: dict[str, Any]
    #: Raised by every change: the ``ETag``, and what ``If-Match`` names.
    version: int
    holds: tuple[Hold, ...]
    fulfillment_orders: tuple[FulfillmentOrder, ...]

    @classmethod
    def of(cls, order: Order) -> OrderView:
        """The view of one order."""
        return cls(id=order.id, channel=order.channel, external_id=order.external_id,
                   status=order.status, currency=order.currency, total=order.total,
                   customer=order.customer, lines=order.lines, delivery=order.delivery,
                   shipping_address=order.shipping_address,
                   billing_address=order.billing_address, placed_at=order.placed_at,
                   updated_at=order.updated_at, promised_date=order.promised_date,
                   expected_date=order.expected_date, cart_id=order.cart_id, tags=order.tags,
                   metadata=order.metadata, version=order.version, holds=order.holds,
                   fulfillment_orders=order.fulfillment_orders)


@attrs.frozen(kw_only=True)
class NewEdit:
    """An order edit to begin: the channel it comes from (a channel key: its own, which is
    the default) and who asks (``customer:c-1``, ``agent:anna``)."""

    channel: str | None = None
    actor: str = ""


@attrs.frozen(kw_only=True)
class EditChanges:
    """Changes to stage on an open edit: a line's new ``quantities`` (``{line_id: units}``,
    0 removes it), lines to add, lines to remove, a new shipping address, a new delivery
    method (ship, or pick up at a store)."""

    quantities: dict[str, int] = attrs.field(factory=dict)
    add_lines: list[NewLine] = attrs.field(factory=list)
    remove_lines: list[str] = attrs.field(factory=list)
    shipping_address: Address | None = None
    delivery: DeliveryMethod | None = None


@attrs.frozen(kw_only=True)
class EditView:
    """An order edit as the API shows it: what it stages, where it stands and, once
    committed, what it did."""

    id: str
    order_id: str
    channel: str
    actor: str
    status: EditStatus
    #: The order version it was begun on: it commits only on that version.
    base_version: int
    changes: StagedChanges
    created_at: datetime
    expires_at: datetime
    committed_at: datetime | None = None
    summary: EditSummary | None = None

    @classmethod
    def of(cls, edit: OrderEdit) -> EditView:
        """The view of one edit (without its idempotency bookkeeping)."""
        return cls(id=edit.id, order_id=edit.order_id, channel=edit.channel,
                   actor=edit.actor, status=edit.status, base_version=edit.base_version,
                   changes=edit.changes, created_at=edit.created_at,
                   expires_at=edit.expires_at, committed_at=edit.committed_at,
                   summary=edit.summary)


@attrs.frozen(kw_only=True)
class EditPreview:
    """What committing an edit now would do, written nowhere: the summary (lines, totals,
    routing of what changed, promised dates, how the payment difference is settled), and
    the difference itself (positive: the customer owes more)."""

    summary: EditSummary
    payment_difference: Decimal
    address_changed: bool
    delivery_changed: bool


@attrs.frozen(kw_only=True)
class QuoteBody:
    """A promise quote asked for: ``lines`` (``{sku: units}``), where they go (coordinates
    and country), for which channel (a channel key: its own) and customer segment, the stores
    to quote collection at, whether to quote shipping, and a cart whose held units count as
    available to it."""

    lines: dict[str, int]
    destination: Coordinates | None = None
    country: str | None = None
    channel: str | None = None
    segment: str | None = None
    pickup_locations: list[str] | None = None
    ship: bool = True
    cart_id: str | None = None


@attrs.frozen(kw_only=True)
class CartBody:
    """A cart's lines to hold for ``ttl_seconds`` (60 to 604 800), at the locations routing
    would choose for ``destination`` (or the pickup store of ``delivery``)."""

    lines: dict[str, int]
    ttl_seconds: int = 1200
    channel: str | None = None
    destination: Coordinates | None = None
    country: str | None = None
    delivery: DeliveryMethod | None = None
    segment: str | None = None


@attrs.frozen(kw_only=True)
class Released:
    """How many units were given back."""

    released: int


@attrs.frozen(kw_only=True)
class Expired:
    """How many soft reservations this call expired."""

    expired: int


@attrs.frozen(kw_only=True)
class PositionView:
    """One SKU at one location: on hand, reserved, safety stock, available to promise now
    and by ``at`` (when asked), and the open supply (purchase orders, transfers) with ETAs."""

    location: str
    location_kind: LocationKind
    on_hand: int
    reserved: int
    safety_stock: int
    available: int
    in_transit: int
    available_at: int | None = None
    incoming: tuple[IncomingSupply, ...] = ()


@attrs.frozen(kw_only=True)
class KindTotals:
    """One SKU summed over the locations of one kind (stores, DCs, 3PLs, suppliers)."""

    on_hand: int = 0
    reserved: int = 0
    available: int = 0
    in_transit: int = 0


@attrs.frozen(kw_only=True)
class StockView:
    """A SKU across the network: totals, totals per kind of location, and every location.
    ``available_at``: available to promise by ``at`` (counting supply due by then) at
    active locations, as routing would (with ``channel``: only what its orders may get)."""

    sku: str
    on_hand: int
    reserved: int
    available: int
    in_transit: int
    by_kind: dict[str, KindTotals]
    positions: list[PositionView]
    at: datetime | None = None
    channel: str | None = None
    available_at: int | None = None

    @classmethod
    def of(cls, stock: GlobalStock, *, at: datetime | None = None, channel: str | None = None,
           available_at: int | None = None) -> StockView:
        """The view of one SKU's stock (``available_at``: the network's ATP by ``at``)."""
        positions = [PositionView(
            location=p.location, location_kind=p.location_kind, on_hand=p.on_hand,
            reserved=p.reserved, safety_stock=p.safety_stock, available=p.available,
            in_transit=p.in_transit, incoming=p.incoming,
            available_at=None if at is None else p.available_by(at))
            for p in stock.positions]
        kinds: dict[str, KindTotals] = {}
        for p in positions:
            was = kinds.get(p.location_kind.value, KindTotals())
            kinds[p.location_kind.value] = KindTotals(
                on_hand=was.on_hand + p.on_hand, reserved=was.reserved + p.reserved,
                available=was.available + p.available,
                in_transit=was.in_transit + p.in_transit)
        return cls(sku=stock.sku, on_hand=stock.on_hand, reserved=stock.reserved,
                   available=stock.available, in_transit=stock.in_transit, by_kind=kinds,
                   positions=positions, at=at, channel=channel, available_at=available_at)


@attrs.frozen(kw_only=True)
class ChannelWebhookAnswer:
    """The order a channel's webhook placed (or had placed before: a redelivery), or
    ``None`` for a topic the channel's plugin acknowledges and ignores."""

    order_id: str | None = None
    channel: str | None = None
    external_id: str | None = None


@attrs.frozen(kw_only=True)
class ShipNoticeBody:
    """A supplier's ship notice: units (per SKU, with the purchase order's line id when
    known) that left with ``carrier`` under ``tracking_number``."""

    lines: list[ShipNoticeLine]
    carrier: str
    tracking_number: str
    shipped_at: datetime | None = None


@attrs.frozen(kw_only=True)
class MediaChoice:
    """How a customer wants to hear about their orders from one sales channel: ``email``
    or ``none``."""

    media: str


@attrs.frozen(kw_only=True)
class Preferences:
    """A customer's notification choices per sales channel (a channel not listed sends
    e-mail)."""

    customer_id: str
    channels: dict[str, str]


@attrs.frozen(kw_only=True)
class OrderPreference:
    """What the customer chose for the channel of the order their tracking link is for."""

    channel: str
    media: str


@attrs.frozen(kw_only=True)
class LabelBody:
    """A return label to buy from ``carrier`` (one that offers return labels) for a parcel
    of ``weight_grams``."""

    carrier: str
    weight_grams: int = 1000


@attrs.frozen(kw_only=True)
class ShipmentTracking:
    """One shipment of an order: where it left from, the shipment (parcels, carrier,
    tracking numbers) and every tracking event recorded for its parcels, oldest first."""

    fulfillment_order_id: str
    location: str
    shipment: Shipment
    events: list[RecordedTrackingEvent]


@attrs.frozen(kw_only=True)
class DocumentView:
    """An invoice or a credit note (``document.kind``) with its totals."""

    document: Invoice
    net: Decimal
    vat: Decimal
    gross: Decimal

    @classmethod
    def of(cls, document: Invoice) -> DocumentView:
        """The view of one issued document."""
        return cls(document=document, net=document.net, vat=document.vat,
                   gross=document.gross)
