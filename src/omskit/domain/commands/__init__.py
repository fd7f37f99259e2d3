"""Commands: what a caller asks omskit to do, checked for shape before anything is written.

Every write is a command (:class:`Command`): built, it is well-formed; ``oms.execute(command)``
runs it and ``oms.command(name, payload)`` builds one from JSON by its name in
:data:`COMMANDS`. See ``docs/embedding.md``, "Commands".
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import attrs

from omskit.domain.checks import (
    CODE_PATTERN,
    MAX_ID_LENGTH,
    MAX_LINE_QUANTITY,
    MAX_LINES,
    MAX_TAGS,
    MAX_TEXT_LENGTH,
    check_address,
    check_code,
    check_date,
    check_identifier,
    check_json,
    check_location_code,
    check_moment,
    check_quantity,
    check_text,
)
from omskit.domain.checks import typed as _typed
from omskit.domain.commands.base import Command
from omskit.domain.commands.carts import ExpireCarts, HoldCart, ReleaseCart
from omskit.domain.commands.channels import PushChannelStatus, RecordChannelStatus
from omskit.domain.commands.dropship import (
    CreatePurchaseOrder,
    PollSuppliers,
    ReceiveShipNotice,
    ReceiveStockFeed,
    ReceiveSupplierResponse,
    SendPurchaseOrder,
)
from omskit.domain.commands.edits import (
    AbandonOrderEdit,
    BeginOrderEdit,
    CommitOrderEdit,
    EditOrder,
    ExpireOrderEdits,
    StageOrderEdit,
)
from omskit.domain.commands.fulfillment import (
    AcceptFulfillmentOrder,
    DeliverFulfillmentOrder,
    PackFulfillmentOrder,
    PickFulfillmentOrder,
    RejectFulfillmentOrder,
    ReleaseOrder,
    ShipFulfillmentOrder,
)
from omskit.domain.commands.inventory import (
    AdjustStock,
    ReceiveStock,
    ReceiveSupply,
    RegisterSupply,
    SaveLocation,
    SetSafetyStock,
    TransferStock,
)
from omskit.domain.commands.lines import NewLine
from omskit.domain.commands.monitoring import SWEEP_JOBS, RunSweeps, SweepExceptions
from omskit.domain.commands.notifications import RetryNotification, SetNotificationPreference
from omskit.domain.commands.orders import (
    AllocateBackorders,
    CancelLines,
    CancelOrder,
    CompleteOrder,
    PlaceHold,
    ReleaseHold,
    ShortClose,
)
from omskit.domain.commands.payments import (
    MAX_PAYMENT_AMOUNT,
    AuthorisePayment,
    CapturePayment,
    HandlePaymentWebhook,
    OrderPayment,
    RecordChannelCapture,
    RefundPayment,
    Tender,
    VoidPayment,
)
from omskit.domain.commands.pickups import (
    CollectPickup,
    ExpireUncollectedPickups,
    MarkReadyForPickup,
)
from omskit.domain.commands.returns import (
    RETURN_COMMANDS,
    ApproveReturn,
    BuyReturnLabel,
    CancelReturn,
    CloseReturn,
    DeclineReturn,
    ExpireReturn,
    InspectReturn,
    ReceiveReturn,
    RefundReturn,
    RequestReturn,
    ReturnItem,
)
from omskit.domain.commands.shipping import (
    BuyLabel,
    CreateShipment,
    ReceiveCarrierWebhook,
    RecordTracking,
    ShipShipment,
    TrackShipment,
    VoidLabel,
)
from omskit.domain.errors import InvalidCommand
from omskit.domain.values import (
    MAX_UNIT_PRICE,
    Address,
    Contact,
    Customer,
    DeliveryKind,
    DeliveryMethod,
    check_amount,
    check_currency,
    to_minor_units,
)

# The validators moved to omskit.domain.checks; these names stay importable from here.
__all__ = [
    "CODE_PATTERN", "COMMANDS", "MAX_ID_LENGTH", "MAX_LINES", "MAX_LINE_QUANTITY",
    "MAX_METADATA_BYTES", "MAX_TEXT_LENGTH", "MAX_UNIT_PRICE", "AcceptFulfillmentOrder",
    "AdjustStock", "AllocateBackorders", "BuyLabel", "CancelLines", "CancelOrder", "Command",
    "CompleteOrder", "CreateShipment", "DeliverFulfillmentOrder", "ExpireCarts", "HoldCart",
    "NewLine",
    "PackFulfillmentOrder", "PickFulfillmentOrder", "PlaceHold", "PlaceOrder",
    "ReceiveCarrierWebhook", "ReceiveStock", "ReceiveSupply", "RecordTracking",
    "RegisterSupply", "RejectFulfillmentOrder",
    "ReleaseCart", "ReleaseHold", "ReleaseOrder", "SaveLocation", "SetSafetyStock",
    "ShipFulfillmentOrder", "ShipShipment", "ShortClose", "TrackShipment", "TransferStock",
    "VoidLabel", "check_code", "check_identifier",
    "check_quantity", "check_text",
]
# Status pushed back to channels.
__all__ += ["PushChannelStatus", "RecordChannelStatus"]
# Order edits.
__all__ += ["CreatePurchaseOrder", "PollSuppliers", "ReceiveShipNotice", "ReceiveStockFeed",
            "ReceiveSupplierResponse", "SendPurchaseOrder"]
__all__ += ["AbandonOrderEdit", "BeginOrderEdit", "CommitOrderEdit", "EditOrder",
            "ExpireOrderEdits", "StageOrderEdit"]
# Pick up in store.
__all__ += ["CollectPickup", "ExpireUncollectedPickups", "MarkReadyForPickup"]
# Payments: their commands and the payment part of PlaceOrder.
__all__ += ["MAX_PAYMENT_AMOUNT", "AuthorisePayment", "CapturePayment", "HandlePaymentWebhook",
            "OrderPayment", "RecordChannelCapture", "RefundPayment", "Tender", "VoidPayment"]
# Monitoring and the periodic sweeps.
__all__ += ["SWEEP_JOBS", "RunSweeps", "SweepExceptions"]
# Customer notifications.
__all__ += ["RetryNotification", "SetNotificationPreference"]

# Returns.
__all__ += ["ApproveReturn", "BuyReturnLabel", "CancelReturn", "CloseReturn", "DeclineReturn",
            "ExpireReturn", "InspectReturn", "ReceiveReturn", "RefundReturn", "RequestReturn",
            "ReturnItem"]

#: Version of :meth:`PlaceOrder.fingerprint`'s canonical form, the prefix of each
#: fingerprint: stored fingerprints of another version are not compared.
FINGERPRINT_VERSION = "1"

#: Largest metadata document, serialised as JSON.
MAX_METADATA_BYTES = 64 * 1024


def _as_tuple(value: object, field: str) -> tuple[Any, ...]:
    # Converters run before validation: a wrong type must still end as InvalidCommand.
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InvalidCommand([f"{field}: must be a list, not {type(value).__name__}"],
                             subject="order")
    return tuple(value)


def _as_lines(lines: Iterable[NewLine]) -> tuple[NewLine, ...]:
    return _as_tuple(lines, "lines")


def _as_tags(tags: Iterable[str]) -> tuple[str, ...]:
    return _as_tuple(tags, "tags")


@attrs.frozen(kw_only=True)
class PlaceOrder(Command):
    """Place a new order received from a sales channel.

    Placement is idempotent on ``(channel, external_id)``: placing the same pair again returns
    the first order and writes nothing. Constructing the command checks every field and raises
    :class:`InvalidCommand` listing all problems (its own checks, richer than the fields').
    """

    name = "place_order"
    subject = "order"

    channel: str
    external_id: str
    currency: str
    customer: Customer
    lines: tuple[NewLine, ...] = attrs.field(converter=_as_lines)
    delivery: DeliveryMethod = attrs.field(factory=DeliveryMethod)
    shipping_address: Address | None = None
    billing_address: Address | None = None
    tags: tuple[str, ...] = attrs.field(default=(), converter=_as_tags)
    metadata: Mapping[str, Any] = attrs.field(factory=dict)
    placed_at: datetime | None = None
    #: Delivery date promised at checkout (from ``oms.promise``); else the engine's estimate.
    promised_date: date | None = None
    #: Cart whose soft reservations this order converts (released to it in its transaction).
    cart_id: str | None = None
    #: How the order is paid (tenders to authorise, or funds the channel captured); None:
    #: omskit keeps no payment ledger for it.
    payment: OrderPayment | None = None

    def fingerprint(self) -> str:
        """A hash of everything the command says (``"1:"`` + SHA-256 hex), stored with the
        order: a re-delivery under the same ``(channel, external_id)`` must have the same.

        Computed over a canonical form, so equal commands written differently agree: prices
        in the currency's minor units (``19.9`` = ``19.90``), ``placed_at`` in UTC, lines with
        their effective ids, JSON with sorted keys.
        """

        def address(a: Address | None) -> object:
            if a is None:
                return None
            point = (None if a.coordinates is None
                     else [a.coordinates.lat, a.coordinates.lon])
            return [a.line1, a.line2, a.city, a.postal_code, a.region, a.country, a.name,
                    point]

        contact = self.customer.contact
        canonical = {
            "channel": self.channel, "external_id": self.external_id,
            "currency": self.currency,
            "customer": [self.customer.id, self.customer.segment, contact.name,
                         contact.email, contact.phone],
            "lines": [[line.line_id or str(i + 1), line.sku, line.quantity,
                       str(to_minor_units(line.unit_price, self.currency))]
                      for i, line in enumerate(self.lines)],
            "delivery": [self.delivery.kind.value, self.delivery.pickup_location],
            "shipping_address": address(self.shipping_address),
            "billing_address": address(self.billing_address),
            "tags": list(self.tags), "metadata": dict(self.metadata),
            "placed_at": (None if self.placed_at is None
                          else self.placed_at.astimezone(UTC).isoformat()),
            "promised_date": (None if self.promised_date is None
                              else self.promised_date.isoformat()),
            "cart_id": self.cart_id,
        }
        if self.payment is not None:
            # Only when given: orders placed without a payment keep their stored fingerprint.
            canonical["payment"] = [
                [t.provider, str(to_minor_units(t.amount, self.currency))
                 if isinstance(t.amount, Decimal) else str(t.amount), t.method_token,
                 t.captured, t.reference] for t in self.payment.tenders]
        text = json.dumps(canonical, sort_keys=True, ensure_ascii=False, allow_nan=False,
                          separators=(",", ":"))
        return f"{FINGERPRINT_VERSION}:{hashlib.sha256(text.encode()).hexdigest()}"

    def __attrs_post_init__(self) -> None:
        problems: list[str] = []
        check_code(self.channel, "channel", problems)
        currency: str | None = None
        try:
            currency = check_currency(self.currency)
        except InvalidCommand as exc:
            problems.extend(exc.problems)
        if self.cart_id is not None:
            check_identifier(self.cart_id, "cart_id", problems)
        if self.promised_date is not None:
            check_date(self.promised_date, "promised_date", problems)
        check_identifier(self.external_id, "external_id", problems)
        if _typed(self.customer, Customer, "customer", problems):
            check_identifier(self.customer.id, "customer.id", problems)
            if self.customer.segment is not None:
                check_code(self.customer.segment, "customer.segment", problems)
            if _typed(self.customer.contact, Contact, "customer.contact", problems):
                for name in ("name", "email", "phone"):
                    check_text(getattr(self.customer.contact, name),
                               f"customer.contact.{name}", problems)
        if not self.lines:
            problems.append("lines: an order needs at least one line")
        if len(self.lines) > MAX_LINES:
            problems.append(f"lines: more than {MAX_LINES} lines")
        seen: set[str] = set()
        for i, line in enumerate(self.lines[:MAX_LINES]):
            if not _typed(line, NewLine, f"lines[{i}]", problems):
                continue
            check_identifier(line.sku, f"lines[{i}].sku", problems)
            check_quantity(line.quantity, f"lines[{i}].quantity", problems)
            if currency is not None:
                check_amount(line.unit_price, currency, f"lines[{i}].unit_price", problems,
                             maximum=MAX_UNIT_PRICE)
            if line.line_id is not None:
                check_identifier(line.line_id, f"lines[{i}].line_id", problems)
            # Check the ids the order will really have: a line without one is numbered by
            # its position (as Order.place does), so an explicit "1" on another line would
            # otherwise collide with it and break routing and the order_lines primary key.
            effective = line.line_id if isinstance(line.line_id, str) else str(i + 1)
            if effective in seen:
                problems.append(f"lines[{i}].line_id: {effective!r} is used twice")
            seen.add(effective)
        if _typed(self.delivery, DeliveryMethod, "delivery", problems):
            if self.delivery.kind is DeliveryKind.SHIP and self.shipping_address is None:
                problems.append("shipping_address: required when the delivery method is ship")
            if self.delivery.pickup_location is not None:
                check_location_code(self.delivery.pickup_location, "delivery.pickup_location",
                                    problems)
        if self.payment is not None and _typed(self.payment, OrderPayment, "payment",
                                               problems):
            problems.extend(self.payment.problems())
            if currency is not None and isinstance(self.payment.tenders, tuple):
                for i, tender in enumerate(self.payment.tenders):
                    if isinstance(tender, Tender) and isinstance(tender.amount, Decimal):
                        check_amount(tender.amount, currency, f"payment.tenders[{i}].amount",
                                     problems, maximum=MAX_PAYMENT_AMOUNT)
        for field in ("shipping_address", "billing_address"):
            address = getattr(self, field)
            if address is not None and _typed(address, Address, field, problems):
                check_address(address, field, problems)
        if len(self.tags) > MAX_TAGS:
            problems.append(f"tags: more than {MAX_TAGS} tags")
        for i, tag in enumerate(self.tags[:MAX_TAGS]):
            check_identifier(tag, f"tags[{i}]", problems)
        if self.placed_at is not None:
            check_moment(self.placed_at, "placed_at", problems)
        metadata: object = self.metadata
        if not isinstance(metadata, Mapping):
            problems.append("metadata: must be a mapping")
            raise InvalidCommand(problems, subject="order")
        before = len(problems)
        check_json(metadata, "metadata", problems)
        if len(problems) == before:
            # Only a document of bounded depth reaches json.dumps, which recurses.
            try:
                size = len(json.dumps(dict(metadata), ensure_ascii=False,
                                      allow_nan=False).encode())
            except (TypeError, ValueError) as exc:  # an integer of 4,300 digits, say
                problems.append(f"metadata: not JSON-serialisable ({exc})")
            else:
                if size > MAX_METADATA_BYTES:
                    problems.append(f"metadata: larger than {MAX_METADATA_BYTES} bytes as JSON")
        if problems:
            raise InvalidCommand(problems, subject="order")


#: Every command by its name, for ``oms.command(name, payload)``.
COMMANDS: dict[str, type[Command]] = {cls.name: cls for cls in (
    PlaceOrder, SaveLocation, ReceiveStock, AdjustStock, SetSafetyStock, TransferStock,
    RegisterSupply, ReceiveSupply, PlaceHold, ReleaseHold, CancelOrder, CancelLines,
    ShortClose, CompleteOrder, AllocateBackorders, ReleaseOrder, AcceptFulfillmentOrder,
    RejectFulfillmentOrder, PickFulfillmentOrder, PackFulfillmentOrder, ShipFulfillmentOrder,
    DeliverFulfillmentOrder, HoldCart, ReleaseCart, ExpireCarts, AuthorisePayment,
    CapturePayment, VoidPayment, RefundPayment, RecordChannelCapture, HandlePaymentWebhook,
    CreateShipment, BuyLabel, VoidLabel, ShipShipment, RecordTracking, TrackShipment,
    ReceiveCarrierWebhook, BeginOrderEdit, StageOrderEdit, CommitOrderEdit, AbandonOrderEdit,
    EditOrder, ExpireOrderEdits, SweepExceptions, RunSweeps, MarkReadyForPickup, CollectPickup,
    ExpireUncollectedPickups, CreatePurchaseOrder, SendPurchaseOrder, ReceiveSupplierResponse,
    ReceiveShipNotice, ReceiveStockFeed, PollSuppliers, RecordChannelStatus, PushChannelStatus,
    SetNotificationPreference, RetryNotification)}
COMMANDS.update({cls.name: cls for cls in RETURN_COMMANDS})
