"""Order edits: changes staged on an order, previewed, then committed or abandoned.

An edit is begun on an order at its current version, collects staged changes (quantities up
or down, lines added or removed, the shipping address, ship or pick up), can be previewed
as often as wanted, and is committed in one transaction only if the order has not moved
since it was begun (:class:`OrderEditConflict` otherwise). It is stored, so one request can
begin it (a phone app) and a later one commit it; it says from which channel and by whom.

Pure Python: the edit service stores edits and applies them to the order aggregate
(``Order.apply_edit``); this module holds what an edit is and what committing it did.
"""

from __future__ import annotations

import enum
import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import ClassVar

import attrs

from omskit.domain.events import CancelledQuantity, OrderEvent, RoutedQuantity
from omskit.domain.payments import PaymentStep
from omskit.domain.values import Address, DeliveryMethod, LineQuantity

#: How long an edit stays open after it was begun; then it is expired and cannot commit.
EDIT_TTL = timedelta(hours=24)
#: Namespace of the edit ids derived from idempotency keys (UUID 5).
_EDIT_NAMESPACE = uuid.UUID("0b6f3c5e-6f8f-4a7e-9a59-2f3d5f0e1ed1")


class EditStatus(enum.StrEnum):
    """Where an order edit stands."""

    #: Begun: changes may be staged, previewed, committed or abandoned.
    OPEN = "open"
    #: Applied to the order (once; committing again returns it as it is).
    COMMITTED = "committed"
    #: Given up by its caller; it changed nothing.
    ABANDONED = "abandoned"
    #: Not committed within :data:`EDIT_TTL`; it changed nothing.
    EXPIRED = "expired"


@attrs.frozen(kw_only=True)
class AddedLine:
    """A line an edit adds to the order (its id assigned when it was staged)."""

    line_id: str
    sku: str
    quantity: int
    unit_price: Decimal


@attrs.frozen(kw_only=True)
class StagedChanges:
    """What an edit will change, as staged so far.

    ``quantities`` sets a line's quantity (its units not cancelled) to a new value; 0
    removes the line. ``add_lines`` are new lines. ``shipping_address`` and ``delivery``
    replace the order's when given.
    """

    quantities: Mapping[str, int] = attrs.field(factory=dict)
    add_lines: tuple[AddedLine, ...] = ()
    shipping_address: Address | None = None
    delivery: DeliveryMethod | None = None

    @property
    def empty(self) -> bool:
        """Whether nothing is staged."""
        return (not self.quantities and not self.add_lines and self.shipping_address is None
                and self.delivery is None)

    def merged(self, later: StagedChanges) -> StagedChanges:
        """These changes with ``later`` ones on top: a later quantity of a line wins (for a
        line this edit adds, it changes that line, and 0 drops it), later lines are added,
        a later address or delivery method replaces this one."""
        added = {line.line_id: line for line in self.add_lines}
        quantities = dict(self.quantities)
        for line in later.add_lines:
            added[line.line_id] = line
        for line_id, quantity in later.quantities.items():
            if line_id in added:
                if quantity == 0:
                    del added[line_id]
                else:
                    added[line_id] = attrs.evolve(added[line_id], quantity=quantity)
            else:
                quantities[line_id] = quantity
        return StagedChanges(
            quantities=quantities, add_lines=tuple(added.values()),
            shipping_address=later.shipping_address or self.shipping_address,
            delivery=later.delivery or self.delivery)

    def fingerprint(self) -> str:
        """A hash of the changes, to tell a repeat of an edit from another one under the
        same idempotency key."""
        canonical = {
            "quantities": dict(sorted(self.quantities.items())),
            "add_lines": [[x.line_id, x.sku, x.quantity, str(x.unit_price)]
                          for x in self.add_lines],
            "shipping_address": None if self.shipping_address is None
            else repr(self.shipping_address),
            "delivery": None if self.delivery is None
            else [self.delivery.kind.value, self.delivery.pickup_location],
        }
        text = json.dumps(canonical, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()


@attrs.frozen(kw_only=True)
class EditedLine:
    """One line as an edit changes it: its units not cancelled before and after."""

    line_id: str
    sku: str
    unit_price: Decimal
    before: int
    after: int

    @property
    def difference(self) -> int:
        """Units added (positive) or taken off (negative)."""
        return self.after - self.before


@attrs.frozen(kw_only=True)
class EditSummary:
    """What an edit does to an order: the preview before it commits, the record after.

    Totals are what the order owes (its lines' units not cancelled, at their prices);
    ``payment`` is how the difference is settled with the order's tenders; ``allocations``
    and ``backordered`` are the routing of what the edit changed (only that), and
    ``released`` the units it gave back.
    """

    order_id: str
    #: The order version the edit applies to.
    version: int
    currency: str
    lines: tuple[EditedLine, ...] = ()
    shipping_address_before: Address | None = None
    shipping_address_after: Address | None = None
    delivery_before: DeliveryMethod
    delivery_after: DeliveryMethod
    total_before: Decimal
    total_after: Decimal
    payment: tuple[PaymentStep, ...] = ()
    released: tuple[CancelledQuantity, ...] = ()
    allocations: tuple[RoutedQuantity, ...] = ()
    backordered: tuple[LineQuantity, ...] = ()
    #: Fulfilment orders the edit cancelled (emptied, or routed again elsewhere).
    cancelled_fulfillment_orders: tuple[str, ...] = ()
    promised_date_before: date | None = None
    promised_date_after: date | None = None

    @property
    def payment_difference(self) -> Decimal:
        """What the order owes more (positive) or less (negative) after the edit."""
        return self.total_after - self.total_before

    @property
    def address_changed(self) -> bool:
        """Whether the shipping address changes."""
        return self.shipping_address_before != self.shipping_address_after

    @property
    def delivery_changed(self) -> bool:
        """Whether the delivery method (ship, pick up where) changes."""
        return self.delivery_before != self.delivery_after


@attrs.define(kw_only=True)
class OrderEdit:
    """A staged edit of one order, from begin to commit, abandonment or expiry."""

    id: str
    order_id: str
    #: The channel the edit comes from (``mobile`` editing a ``web`` order).
    channel: str
    #: Who asked for it (a customer id, an agent), as the caller names them.
    actor: str = ""
    status: EditStatus = EditStatus.OPEN
    #: The order version it was begun on: it commits only on that version.
    base_version: int
    changes: StagedChanges = attrs.field(factory=StagedChanges)
    created_at: datetime
    updated_at: datetime
    expires_at: datetime
    #: The key it was begun (or submitted whole) with, if any.
    idempotency_key: str | None = None
    #: Staging keys seen, with a fingerprint of what each staged.
    stage_keys: dict[str, str] = attrs.field(factory=dict)
    committed_at: datetime | None = None
    #: What committing it did (set once committed).
    summary: EditSummary | None = None
    #: For an edit submitted whole (``EditOrder``): the fingerprint of its request.
    fingerprint: str | None = None

    def status_at(self, at: datetime) -> EditStatus:
        """The status at ``at``: an open edit past :attr:`expires_at` is expired."""
        if self.status is EditStatus.OPEN and at >= self.expires_at:
            return EditStatus.EXPIRED
        return self.status


@attrs.frozen(kw_only=True)
class EditEffect:
    """What applying an edit to the order aggregate did, for the service to finish: give
    back what ``released`` held, route ``demand`` (only what changed), record ``lines``."""

    released: tuple[CancelledQuantity, ...]
    demand: tuple[LineQuantity, ...]
    #: The destination changed: every unreleased unit is routed again.
    reroute: bool
    lines: tuple[EditedLine, ...]
    cancelled_fulfillment_orders: tuple[str, ...]


def edit_id_for(order_id: str, key: str, *, whole: bool) -> str:
    """The id of the edit of ``order_id`` begun (or, ``whole``, submitted in one request)
    with idempotency ``key``: the same key always names the same edit."""
    kind = "edit" if whole else "begin"
    return uuid.uuid5(_EDIT_NAMESPACE, f"{kind}:{order_id}:{key}").hex


@attrs.frozen(kw_only=True)
class OrderEditCommitted(OrderEvent):
    """An order edit was applied: what changed (``summary``), from which channel, by whom.
    Only what changed was routed again; the payment difference is settled after commit."""

    event_type: ClassVar[str] = "order.edit_committed"
    edit_id: str
    channel: str
    actor: str
    summary: EditSummary


#: The edit events the core registers.
EDIT_EVENTS: Sequence[type[OrderEvent]] = (OrderEditCommitted,)

__all__ = ["EDIT_EVENTS", "EDIT_TTL", "AddedLine", "EditEffect", "EditStatus", "EditSummary",
           "EditedLine",
           "OrderEdit", "OrderEditCommitted", "StagedChanges", "edit_id_for"]
