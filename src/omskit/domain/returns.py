"""Returns (RMA): the return aggregate, its lifecycle table, and what a returns policy sees.

A :class:`Return` takes back units of an order's lines that were shipped. It may be started
from any channel (the web site, the call centre, a store, including a store other than the
one that sold or shipped the order) and is received at a location, in parts, then inspected
unit by unit with a :class:`Disposition`. The refund is computed by the returns policy
plugin (``omskit.ports.ReturnsPolicy``) from a :class:`RefundContext` and paid through the
payment ledger.

Pure domain: no database, no plugins. The lifecycle is data (:data:`RETURN_TRANSITIONS`),
checked by :meth:`Return.move_to`.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import ClassVar

import attrs

from omskit.domain.errors import IllegalTransition
from omskit.domain.events import Event, OrderEvent
from omskit.domain.values import LineQuantity


class ReturnStatus(enum.StrEnum):
    """Where a return is in its life."""

    REQUESTED = "requested"
    APPROVED = "approved"
    IN_TRANSIT = "in_transit"
    PARTIALLY_RECEIVED = "partially_received"
    RECEIVED = "received"
    INSPECTED = "inspected"
    CLOSED = "closed"
    DECLINED = "declined"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


_R = ReturnStatus
#: Every allowed status change of a return.
RETURN_TRANSITIONS: Mapping[ReturnStatus, frozenset[ReturnStatus]] = {
    _R.REQUESTED: frozenset({_R.APPROVED, _R.DECLINED, _R.CANCELLED, _R.EXPIRED}),
    # A store takes the goods over the counter: approved straight to (partially) received.
    _R.APPROVED: frozenset({_R.IN_TRANSIT, _R.PARTIALLY_RECEIVED, _R.RECEIVED, _R.CANCELLED,
                            _R.EXPIRED}),
    _R.IN_TRANSIT: frozenset({_R.PARTIALLY_RECEIVED, _R.RECEIVED, _R.EXPIRED}),
    # Inspecting a short return ends the wait for the units that never came.
    _R.PARTIALLY_RECEIVED: frozenset({_R.RECEIVED, _R.INSPECTED}),
    _R.RECEIVED: frozenset({_R.INSPECTED}),
    _R.INSPECTED: frozenset({_R.CLOSED}),
    _R.CLOSED: frozenset(),
    _R.DECLINED: frozenset(),
    _R.CANCELLED: frozenset(),
    _R.EXPIRED: frozenset(),
}
#: Statuses in which a return still expects goods.
RETURN_AWAITING_GOODS = frozenset({_R.APPROVED, _R.IN_TRANSIT, _R.PARTIALLY_RECEIVED})
#: Statuses of a return that ended without taking anything back.
RETURN_VOID = frozenset({_R.DECLINED, _R.CANCELLED, _R.EXPIRED})


class Disposition(enum.StrEnum):
    """What becomes of one inspected unit."""

    #: Back on sale at the receiving location (a ledger movement; backorders are served).
    RESTOCK = "restock"
    #: Held apart at the receiving location, not sellable until someone decides.
    QUARANTINE = "quarantine"
    #: Not sellable: written off.
    DAMAGED = "damaged"
    #: Sent back to the vendor.
    RETURN_TO_VENDOR = "return_to_vendor"


class ExchangeMode(enum.StrEnum):
    """When an exchange's replacement order may ship."""

    #: Reserved when the return is approved, released when the return is received.
    ON_RECEIPT = "on_receipt"
    #: Released at once (the customer's payment authorisation covers the risk).
    IMMEDIATE = "immediate"


@attrs.frozen(kw_only=True)
class ReturnLine:
    """Units of one order line asked back, and why."""

    line_id: str
    sku: str
    quantity: int
    unit_price: Decimal
    reason: str = ""


@attrs.frozen(kw_only=True)
class ExchangeLine:
    """A replacement line of an exchange."""

    sku: str
    quantity: int
    unit_price: Decimal


@attrs.frozen(kw_only=True)
class ReturnReceipt:
    """Units received at a location under one idempotency key."""

    key: str
    location: str
    lines: tuple[LineQuantity, ...]
    received_at: datetime


@attrs.frozen(kw_only=True)
class UnitDisposition:
    """``quantity`` inspected units of one order line and what becomes of them."""

    line_id: str
    quantity: int
    disposition: Disposition


@attrs.frozen(kw_only=True)
class ReturnInspection:
    """Units inspected under one idempotency key."""

    key: str
    units: tuple[UnitDisposition, ...]
    inspected_at: datetime


@attrs.frozen(kw_only=True)
class ReturnLabel:
    """The return label bought for the customer."""

    carrier: str
    idempotency_key: str
    tracking_number: str = ""
    label_id: str = ""


@attrs.frozen(kw_only=True)
class RefundQuote:
    """The refund a returns policy computed: items plus shipping minus fees."""

    items: Decimal
    shipping: Decimal = Decimal(0)
    fees: Decimal = Decimal(0)
    #: Why each fee was charged (``restocking fee 10%``), for the customer and the journal.
    notes: tuple[str, ...] = ()

    @property
    def total(self) -> Decimal:
        """What is paid back: never below zero."""
        return max(self.items + self.shipping - self.fees, Decimal(0))


@attrs.frozen(kw_only=True)
class ReturnRefund:
    """The refund paid for a return, under its payment refund key."""

    refund_key: str
    quote: RefundQuote
    amount: Decimal
    refunded_at: datetime


@attrs.frozen(kw_only=True)
class ReturnContextLine:
    """One line asked back, as a returns policy sees it."""

    line_id: str
    sku: str
    quantity: int
    unit_price: Decimal
    reason: str
    #: Units of the line that were shipped (all returns together may not exceed it).
    shipped: int


@attrs.frozen(kw_only=True)
class ReturnContext:
    """What a returns policy is asked to judge: a return being requested."""

    order_id: str
    #: The channel the order was sold on (``web``, ``store``).
    order_channel: str
    currency: str
    placed_at: datetime
    #: When the goods reached the customer (the latest delivery of the lines asked back),
    #: or None when no delivery was recorded.
    delivered_at: datetime | None
    #: When the last of those goods left (the window's start when nothing was delivered).
    shipped_at: datetime | None
    #: The locations that shipped the lines asked back.
    shipped_from: tuple[str, ...]
    #: The channel the return is started from (``web``, ``call_center``, ``store``).
    channel: str
    #: The location the goods are to be returned to (a store's code), if known.
    location: str | None
    #: Whether ``location`` is a store (a location that takes pickups or serves walk-ins).
    location_is_store: bool
    requested_at: datetime
    lines: tuple[ReturnContextLine, ...]


@attrs.frozen(kw_only=True)
class RefundContextLine:
    """One returned line as the refund sees it: what came back and what became of it."""

    line_id: str
    sku: str
    unit_price: Decimal
    reason: str
    requested: int
    received: int
    #: Inspected units per disposition.
    dispositions: Mapping[str, int] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class RefundContext:
    """What a returns policy is asked to price: a received (and inspected) return."""

    return_id: str
    order_id: str
    currency: str
    channel: str
    location: str | None
    lines: tuple[RefundContextLine, ...]
    #: Every unit the order shipped comes back with this return and the earlier ones.
    whole_order_returned: bool
    #: What the customer paid for shipping (the order's ``metadata["shipping_amount"]``).
    shipping_paid: Decimal
    #: Whether the customer used a return label omskit bought.
    label_used: bool


class RefusalCode(enum.StrEnum):
    """Why a returns policy refuses a return (or one of its lines)."""

    WINDOW_CLOSED = "window_closed"
    NON_RETURNABLE = "non_returnable"
    REASON = "reason"
    LOCATION = "location"
    OTHER = "other"


@attrs.frozen(kw_only=True)
class ReturnRefusal:
    """One reason a returns policy refuses a return; ``line_id`` when it is one line's."""

    code: RefusalCode
    message: str
    line_id: str | None = None


@attrs.define(kw_only=True)
class Return:
    """A return (RMA) of units of one order, from request to close.

    Mutate it only through its methods: each checks the lifecycle table and appends events,
    which the returns service writes to the outbox in the same transaction.
    """

    id: str
    order_id: str
    status: ReturnStatus = ReturnStatus.REQUESTED
    #: The channel it was started from.
    channel: str
    #: Where the goods are expected (a store's or warehouse's code), if known yet.
    location: str | None = None
    #: The returns policy that judged it and prices its refund.
    policy: str
    lines: tuple[ReturnLine, ...]
    idempotency_key: str | None = None
    note: str = ""
    receipts: list[ReturnReceipt] = attrs.field(factory=list)
    inspections: list[ReturnInspection] = attrs.field(factory=list)
    label: ReturnLabel | None = None
    refund: ReturnRefund | None = None
    #: An exchange's replacement lines, its order once placed, and when it may ship.
    exchange: tuple[ExchangeLine, ...] = ()
    exchange_order_id: str | None = None
    exchange_mode: ExchangeMode | None = None
    created_at: datetime
    updated_at: datetime
    version: int = 0
    _events: list[Event] = attrs.field(factory=list, init=False, repr=False, eq=False)

    # -- reads ------------------------------------------------------------------------------

    @property
    def requested(self) -> dict[str, int]:
        """Units asked back per line id."""
        return {x.line_id: x.quantity for x in self.lines}

    @property
    def received(self) -> dict[str, int]:
        """Units received per line id, over every receipt."""
        return _sum(x for r in self.receipts for x in r.lines)

    @property
    def inspected(self) -> dict[str, int]:
        """Units inspected per line id."""
        total: dict[str, int] = defaultdict(int)
        for i in self.inspections:
            for u in i.units:
                total[u.line_id] += u.quantity
        return dict(total)

    def dispositions(self, line_id: str) -> dict[str, int]:
        """Inspected units of one line per disposition."""
        total: dict[str, int] = defaultdict(int)
        for i in self.inspections:
            for u in i.units:
                if u.line_id == line_id:
                    total[u.disposition.value] += u.quantity
        return dict(total)

    def receipt(self, key: str) -> ReturnReceipt | None:
        """The receipt taken under ``key``, if any."""
        return next((r for r in self.receipts if r.key == key), None)

    def inspection(self, key: str) -> ReturnInspection | None:
        """The inspection recorded under ``key``, if any."""
        return next((i for i in self.inspections if i.key == key), None)

    @property
    def fully_received(self) -> bool:
        """Every unit asked back has arrived."""
        got = self.received
        return all(got.get(x.line_id, 0) >= x.quantity for x in self.lines)

    @property
    def fully_inspected(self) -> bool:
        """Every unit received has been inspected (and something was received)."""
        got, seen = self.received, self.inspected
        return bool(got) and all(seen.get(k, 0) >= v for k, v in got.items())

    @property
    def events(self) -> tuple[Event, ...]:
        """Events appended since the return was loaded."""
        return tuple(self._events)

    def collect_events(self) -> list[Event]:
        """Return and forget the pending events."""
        events, self._events = self._events, []
        return events

    def record(self, event: Event) -> None:
        """Append an event a service established about this return."""
        self._events.append(event)

    # -- changes ----------------------------------------------------------------------------

    def move_to(self, target: ReturnStatus, at: datetime, reason: str = "") -> None:
        """Change status through the lifecycle table (:class:`IllegalTransition`)."""
        if target not in RETURN_TRANSITIONS[self.status]:
            raise IllegalTransition("return", self.id, self.status.value, target.value)
        before, self.status, self.updated_at = self.status, target, at
        self._events.append(ReturnStatusChanged(
            order=self.order_id, occurred_at=at, return_id=self.id,
            from_status=before.value, to_status=target.value, reason=reason))

    def add_receipt(self, receipt: ReturnReceipt) -> None:
        """Record units received; the status follows what has arrived."""
        self.receipts.append(receipt)
        self.location = self.location or receipt.location
        target = (ReturnStatus.RECEIVED if self.fully_received
                  else ReturnStatus.PARTIALLY_RECEIVED)
        if target != self.status:
            self.move_to(target, receipt.received_at)
        self.updated_at = receipt.received_at
        self._events.append(ReturnReceived(
            order=self.order_id, occurred_at=receipt.received_at, return_id=self.id,
            location=receipt.location, lines=receipt.lines, receipt_key=receipt.key))

    def add_inspection(self, inspection: ReturnInspection, location: str) -> None:
        """Record inspected units; once every received unit is inspected the return is
        ``inspected`` (a short one too: the missing units are not waited for)."""
        self.inspections.append(inspection)
        self.updated_at = inspection.inspected_at
        self._events.append(ReturnInspected(
            order=self.order_id, occurred_at=inspection.inspected_at, return_id=self.id,
            location=location, units=inspection.units, inspection_key=inspection.key))
        if self.fully_inspected and (self.status is ReturnStatus.RECEIVED
                                     or self.status is ReturnStatus.PARTIALLY_RECEIVED):
            self.move_to(ReturnStatus.INSPECTED, inspection.inspected_at)


def _sum(lines: Iterable[LineQuantity]) -> dict[str, int]:
    total: dict[str, int] = defaultdict(int)
    for x in lines:
        total[x.line_id] += x.quantity
    return dict(total)


# -- events --------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ReturnEvent(OrderEvent):
    """An event about one return of an order (in the order's timeline)."""

    return_id: str


@attrs.frozen(kw_only=True)
class ReturnRequested(ReturnEvent):
    """A return was requested from a channel."""

    event_type: ClassVar[str] = "return.requested"
    channel: str
    location: str | None
    lines: tuple[LineQuantity, ...]


@attrs.frozen(kw_only=True)
class ReturnStatusChanged(ReturnEvent):
    """A return moved from one status to another."""

    event_type: ClassVar[str] = "return.status_changed"
    from_status: str
    to_status: str
    reason: str = ""


@attrs.frozen(kw_only=True)
class ReturnReceived(ReturnEvent):
    """Units of a return arrived at a location."""

    event_type: ClassVar[str] = "return.received"
    location: str
    lines: tuple[LineQuantity, ...]
    receipt_key: str


@attrs.frozen(kw_only=True)
class ReturnInspected(ReturnEvent):
    """Units of a return were inspected and given a disposition."""

    event_type: ClassVar[str] = "return.inspected"
    location: str
    units: tuple[UnitDisposition, ...]
    inspection_key: str


@attrs.frozen(kw_only=True)
class ReturnLabelBought(ReturnEvent):
    """A return label was bought for the customer."""

    event_type: ClassVar[str] = "return.label_bought"
    carrier: str
    tracking_number: str


@attrs.frozen(kw_only=True)
class ReturnRefunded(ReturnEvent):
    """A return's refund was paid through the payment ledger."""

    event_type: ClassVar[str] = "return.refunded"
    amount: Decimal
    items: Decimal
    shipping: Decimal
    fees: Decimal
    refund_key: str


@attrs.frozen(kw_only=True)
class ExchangeOrderPlaced(ReturnEvent):
    """The replacement order of an exchange was placed."""

    event_type: ClassVar[str] = "return.exchange_placed"
    exchange_order: str
    mode: str


#: Every return event type (registered by the core like any plugin's).
RETURN_EVENTS: tuple[type[Event], ...] = (
    ReturnRequested, ReturnStatusChanged, ReturnReceived, ReturnInspected, ReturnLabelBought,
    ReturnRefunded, ExchangeOrderPlaced)


__all__ = [
    "RETURN_AWAITING_GOODS", "RETURN_EVENTS", "RETURN_TRANSITIONS", "RETURN_VOID",
    "Disposition", "ExchangeLine", "ExchangeMode", "ExchangeOrderPlaced", "RefundContext",
    "RefundContextLine", "RefundQuote", "RefusalCode", "Return", "ReturnContext",
    "ReturnContextLine", "ReturnEvent", "ReturnInspected", "ReturnInspection", "ReturnLabel",
    "ReturnLabelBought", "ReturnLine", "ReturnReceipt", "ReturnReceived", "ReturnRefund",
    "ReturnRefunded", "ReturnRefusal", "ReturnRequested", "ReturnStatus",
    "ReturnStatusChanged", "UnitDisposition",
]
