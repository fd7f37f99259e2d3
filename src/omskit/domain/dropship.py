"""Dropship: purchase orders to suppliers, and what suppliers send back.

A fulfilment order released at a supplier location (``LocationKind.SUPPLIER``) becomes a
:class:`PurchaseOrder`, sent once through the supplier's connector plugin. The supplier
answers with :class:`SupplierResponse` (acknowledged or refused), :class:`ShipNotice` (units
that left, with tracking) and :class:`StockFeed` (what it has for us). Every message carries
the supplier's own ``message_id``: the core processes each once.

Pure values, events and errors: no SQLAlchemy, no pluggy, no jinja2.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import ClassVar

import attrs

from omskit.domain.errors import InvalidCommand, NotFound, OmsError
from omskit.domain.events import OrderEvent
from omskit.domain.values import LineQuantity


class PurchaseOrderStatus(enum.StrEnum):
    """Where a purchase order is: its sending, then the supplier's answer."""

    #: Created; not yet handed to the connector (or the connector did nothing: call again).
    PENDING = "pending"
    #: Claimed under its idempotency key, being sent right now.
    SENDING = "sending"
    #: The last send's outcome is unknown: reconciled by key before any new send.
    UNKNOWN = "unknown"
    #: The connector refused it for good (a malformed document, an unknown account).
    FAILED = "failed"
    #: The supplier has it.
    SENT = "sent"
    ACKNOWLEDGED = "acknowledged"
    #: The supplier refused it: its fulfilment order was rejected and re-routed.
    REFUSED = "refused"
    PARTIALLY_SHIPPED = "partially_shipped"
    SHIPPED = "shipped"


class SupplierResponseKind(enum.StrEnum):
    """What a supplier said about a purchase order."""

    ACKNOWLEDGED = "acknowledged"
    REFUSED = "refused"


@attrs.frozen(kw_only=True)
class PurchaseOrderLine:
    """One line of a purchase order: an order line's units of a SKU."""

    line_id: str
    sku: str
    quantity: int


@attrs.frozen(kw_only=True)
class PurchaseOrderDocument:
    """What the connector sends: the purchase order as data (``json``, the canonical
    content) and as a printable page (``html``, from the jinja2 template)."""

    purchase_order_id: str
    supplier: str
    #: The key the connector passes on, so a repeated send is one purchase order.
    idempotency_key: str
    json: str
    html: str


@attrs.define(kw_only=True)
class PurchaseOrder:
    """A purchase order: one per fulfilment order at a supplier location."""

    id: str
    #: The supplier location's code (also its connector's code).
    supplier: str
    order_id: str
    fulfillment_order_id: str
    lines: tuple[PurchaseOrderLine, ...]
    status: PurchaseOrderStatus = PurchaseOrderStatus.PENDING
    #: ``<id>:<attempt>``; a new attempt (a new key) only after a send that failed for good.
    idempotency_key: str = ""
    attempts: int = 0
    claimed_at: datetime | None = None
    sent_at: datetime | None = None
    #: The supplier's reference for it, if the connector returned one.
    supplier_reference: str = ""
    #: The last error or the supplier's refusal reason.
    error: str = ""
    #: Units per order line reported shipped by ship notices.
    shipped: tuple[LineQuantity, ...] = ()
    created_at: datetime
    updated_at: datetime

    @property
    def units(self) -> int:
        """Units ordered."""
        return sum(x.quantity for x in self.lines)

    def left_to_ship(self) -> dict[str, int]:
        """Units per line id the supplier has not reported shipped (lines with none left
        are left out)."""
        shipped: dict[str, int] = {}
        for x in self.shipped:
            shipped[x.line_id] = shipped.get(x.line_id, 0) + x.quantity
        return {x.line_id: x.quantity - shipped.get(x.line_id, 0) for x in self.lines
                if x.quantity > shipped.get(x.line_id, 0)}


@attrs.frozen(kw_only=True)
class SupplierResponse:
    """A supplier's acknowledgement or refusal of a purchase order."""

    #: The supplier's id of this message: processed once.
    message_id: str
    purchase_order_id: str
    kind: SupplierResponseKind
    reason: str = ""
    occurred_at: datetime | None = None


@attrs.frozen(kw_only=True)
class ShipNoticeLine:
    """Units of a SKU that left (``line_id`` when the supplier echoes the purchase order's
    line ids; otherwise the SKU finds the line)."""

    sku: str
    quantity: int
    line_id: str | None = None


@attrs.frozen(kw_only=True)
class ShipNotice:
    """A supplier's advance ship notice: some or all units of a purchase order left with a
    carrier under a tracking number."""

    message_id: str
    purchase_order_id: str
    lines: tuple[ShipNoticeLine, ...]
    carrier: str
    tracking_number: str
    shipped_at: datetime | None = None


@attrs.frozen(kw_only=True)
class StockLevel:
    """Units of a SKU the supplier can sell us now (free stock, not counting what our open
    purchase orders already hold)."""

    sku: str
    quantity: int


@attrs.frozen(kw_only=True)
class StockFeed:
    """A supplier's stock feed: its levels at one moment."""

    message_id: str
    levels: tuple[StockLevel, ...]
    as_of: datetime | None = None


@attrs.frozen(kw_only=True)
class SupplierPollResult:
    """What processing a supplier's messages did."""

    supplier: str
    #: Purchase orders sent (or reconciled as sent) on this poll.
    sent: int = 0
    #: Messages processed now.
    processed: int = 0
    #: Messages seen before: nothing changed.
    duplicates: int = 0
    #: Messages refused (``message id: reason``): recorded, nothing else changed.
    refused: tuple[str, ...] = ()


# -- errors ---------------------------------------------------------------------------------


class UnknownSupplier(NotFound):
    """No installed plugin contributes a supplier connector with this code (or the location
    is not a supplier); nothing was written."""

    kind = "supplier"


class PurchaseOrderNotFound(NotFound):
    """No purchase order has this id."""

    kind = "purchase order"


class ShipNoticeExceedsOrder(InvalidCommand):
    """A ship notice reports more units than the purchase order has left to ship (or lines
    it does not have); nothing changed."""

    def __init__(self, purchase_order_id: str, problems: list[str]) -> None:
        self.purchase_order_id = purchase_order_id
        super().__init__(problems, subject=f"ship notice for {purchase_order_id}")


class SupplierError(OmsError):
    """A supplier connector call failed. Connectors raise one of the three subclasses:
    :class:`SupplierUnavailable` (retry), :class:`SupplierRefused` (do not retry),
    :class:`SupplierOutcomeUnknown` (ask the supplier before any retry). Any other exception
    from a connector is taken as an unknown outcome."""

    retryable = False

    def __init__(self, supplier: str, message: str) -> None:
        self.supplier = supplier
        self.message = message
        super().__init__(f"supplier {supplier!r}: {message}")


class SupplierUnavailable(SupplierError):
    """Retryable: the supplier did not get the purchase order; send again later."""

    retryable = True


class SupplierRefused(SupplierError):
    """Permanent: the connector cannot send this purchase order (not the supplier refusing
    the goods, which is a :class:`SupplierResponse`)."""


class SupplierOutcomeUnknown(SupplierError):
    """The purchase order may or may not have reached the supplier; reconciled by its key
    before any new send."""

    retryable = True


class PurchaseOrderSendInProgress(OmsError):
    """Another caller is sending this purchase order right now; retry shortly."""

    def __init__(self, purchase_order_id: str) -> None:
        self.purchase_order_id = purchase_order_id
        super().__init__(f"purchase order {purchase_order_id!r} is being sent by another "
                         "caller; retry shortly")


# -- events ---------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class PurchaseOrderCreated(OrderEvent):
    """A fulfilment order at a supplier location became a purchase order."""

    event_type: ClassVar[str] = "purchase_order.created"
    purchase_order_id: str
    supplier: str
    fulfillment_order_id: str
    lines: tuple[LineQuantity, ...]


@attrs.frozen(kw_only=True)
class PurchaseOrderSent(OrderEvent):
    """The supplier's connector took the purchase order (once per key)."""

    event_type: ClassVar[str] = "purchase_order.sent"
    purchase_order_id: str
    supplier: str
    idempotency_key: str
    supplier_reference: str


@attrs.frozen(kw_only=True)
class PurchaseOrderAcknowledged(OrderEvent):
    """The supplier accepted the purchase order (its fulfilment order is accepted)."""

    event_type: ClassVar[str] = "purchase_order.acknowledged"
    purchase_order_id: str
    supplier: str


@attrs.frozen(kw_only=True)
class PurchaseOrderRefused(OrderEvent):
    """The supplier refused the purchase order; its fulfilment order was rejected and its
    lines re-routed."""

    event_type: ClassVar[str] = "purchase_order.refused"
    purchase_order_id: str
    supplier: str
    reason: str


@attrs.frozen(kw_only=True)
class ShipNoticeReceived(OrderEvent):
    """A supplier's ship notice was applied: ``lines`` left in ``shipment_id``."""

    event_type: ClassVar[str] = "purchase_order.ship_notice_received"
    purchase_order_id: str
    supplier: str
    message_id: str
    shipment_id: str
    lines: tuple[LineQuantity, ...]


#: The dropship events, registered by the core like any plugin's.
DROPSHIP_EVENTS = (PurchaseOrderCreated, PurchaseOrderSent, PurchaseOrderAcknowledged,
                   PurchaseOrderRefused, ShipNoticeReceived)

__all__ = [
    "DROPSHIP_EVENTS",
    "PurchaseOrder",
    "PurchaseOrderAcknowledged",
    "PurchaseOrderCreated",
    "PurchaseOrderDocument",
    "PurchaseOrderLine",
    "PurchaseOrderNotFound",
    "PurchaseOrderRefused",
    "PurchaseOrderSendInProgress",
    "PurchaseOrderSent",
    "PurchaseOrderStatus",
    "ShipNotice",
    "ShipNoticeExceedsOrder",
    "ShipNoticeLine",
    "ShipNoticeReceived",
    "StockFeed",
    "StockLevel",
    "SupplierError",
    "SupplierOutcomeUnknown",
    "SupplierPollResult",
    "SupplierRefused",
    "SupplierResponse",
    "SupplierResponseKind",
    "SupplierUnavailable",
    "UnknownSupplier",
]
