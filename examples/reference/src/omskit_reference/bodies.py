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
    Customer,
    DeliveryMethod,
    EditStatus,
    EditSummary,
    FulfillmentOrder,
    Hold,
    LineQuantity,
    Money,
    NewLine,
    Order,
    OrderEdit,
    OrderLine,
    OrderStatus,
    OrderSummary,
    ReturnItem,
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
    expected (a store key: its own store)."""

    lines: list[ReturnItem]
    channel: str
    location: str | None = None
    note: str = ""


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
