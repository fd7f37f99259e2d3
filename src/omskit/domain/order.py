"""The order aggregate: an order, its lines, holds and the fulfilment orders that ship it.

Fulfilment orders belong to the order's aggregate so that the order's status can be derived
from them in the same consistency boundary (one version, one optimistic lock).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import attrs

from omskit.domain import lifecycle
from omskit.domain.checks import refuse
from omskit.domain.commands import PlaceOrder
from omskit.domain.edits import EditedLine, EditEffect, StagedChanges
from omskit.domain.errors import (
    FulfillmentOrderNotFound,
    IllegalTransition,
    LineNotFound,
    LineReleased,
    OrderNotEditable,
    OrderOnHold,
    QuantityAlreadyShipped,
    QuantityNotCancellable,
    ShipmentNotFound,
)
from omskit.domain.events import (
    CancelledQuantity,
    Event,
    FulfillmentOrderCreated,
    FulfillmentOrderRejected,
    FulfillmentOrderStatusChanged,
    OrderCancelled,
    OrderExpectedDateChanged,
    OrderHoldPlaced,
    OrderHoldReleased,
    OrderLinesCancelled,
    OrderPlaced,
    OrderPromiseMoved,
    OrderRouted,
    OrderShortClosed,
    OrderStatusChanged,
    RoutedQuantity,
    ShipmentCreated,
    ShipmentDelivered,
    ShipmentShipped,
    new_id,
)
from omskit.domain.lifecycle import FulfillmentStatus, OrderStatus
from omskit.domain.pickup import PICKUP_CARRIER, PickupCollected, PickupExpired, PickupReady
from omskit.domain.shipping import LabelStatus, Parcel, Shipment, sum_lines
from omskit.domain.values import (
    MAX_UNIT_PRICE,
    Address,
    Customer,
    DeliveryKind,
    DeliveryMethod,
    Hold,
    LineQuantity,
    Money,
    Problem,
    check_amount,
    to_minor_units,
)

F = FulfillmentStatus
O = OrderStatus  # noqa: E741 - short aliases keep the status tables readable

#: Statuses whose value follows from the fulfilment orders (see :meth:`Order.derived_status`).
_DERIVED = frozenset(
    {O.VALIDATED, O.BACKORDERED, O.ALLOCATED, O.RELEASED, O.PARTIALLY_SHIPPED, O.SHIPPED,
     O.DELIVERED}
)
_HOLDABLE = frozenset({O.RECEIVED, O.VALIDATED, O.BACKORDERED, O.ALLOCATED, O.ON_HOLD,
                       O.PARTIALLY_SHIPPED})
#: Fulfilment statuses that cover order quantities (all but rejected and cancelled).
_LIVE = frozenset(set(F) - {F.REJECTED, F.CANCELLED})
#: Which fulfilment orders a line cancellation takes units from first: the least progressed.
_CANCEL_FIRST = {F.CREATED: 0, F.RELEASED: 1, F.ACCEPTED: 2}
#: Orders an edit cannot change: closed, or with everything shipped.
_NOT_EDITABLE = frozenset({O.CANCELLED, O.COMPLETED, O.SHIPPED, O.DELIVERED})


@attrs.define(kw_only=True)
class OrderLine:
    """One line of an order: a quantity of a SKU at a unit price in the order's currency."""

    line_id: str
    sku: str
    quantity: int
    unit_price: Decimal
    #: Units cancelled since (``Order.cancel_lines``, ``Order.short_close``): never sourced
    #: again, never shipped.
    cancelled_quantity: int = 0

    @property
    def open_quantity(self) -> int:
        """Units ordered and not cancelled."""
        return self.quantity - self.cancelled_quantity


@attrs.define(kw_only=True)
class FulfillmentOrder:
    """The part of an order that one location fulfils, with its own lifecycle."""

    id: str
    order_id: str
    location: str
    lines: tuple[LineQuantity, ...]
    status: FulfillmentStatus = FulfillmentStatus.CREATED
    created_at: datetime
    updated_at: datetime
    rejection_reason: str = ""
    #: Its shipments, in the order they were created (several when it ships in parts).
    shipments: list[Shipment] = attrs.field(factory=list)
    #: The UTC day whose daily-capacity slot at ``location`` this fulfilment order holds
    #: (None: the location had no capacity limit, or the slot was given back because the
    #: fulfilment order was rejected or cancelled before picking).
    capacity_day: date | None = None
    #: When the store marked a pickup fulfilment order ready, and the deadline by which the
    #: customer must collect it (None until it is ready).
    ready_at: datetime | None = None
    collect_by: datetime | None = None

    @property
    def active(self) -> bool:
        """True while the fulfilment order still holds reserved stock."""
        return self.status in lifecycle.FULFILLMENT_ACTIVE

    @property
    def units(self) -> int:
        """Total units on this fulfilment order."""
        return sum(line.quantity for line in self.lines)

    @property
    def shipment(self) -> Shipment | None:
        """Its first shipment that left, if any (the whole of it, when it shipped in one)."""
        return next((s for s in self.shipments if s.shipped_at is not None), None)

    def unshipped(self, *, count_open: bool = True) -> dict[str, int]:
        """Units per line id not yet in a shipment (``count_open``: shipments still being
        prepared count as taken); lines with none left are left out."""
        taken = sum_lines(s.lines for s in self.shipments
                          if count_open or s.shipped_at is not None)
        return {x.line_id: x.quantity - taken.get(x.line_id, 0) for x in self.lines
                if x.quantity > taken.get(x.line_id, 0)}

    def shipment_by_id(self, shipment_id: str) -> Shipment | None:
        """Its shipment with this id, or None."""
        return next((s for s in self.shipments if s.id == shipment_id), None)


@attrs.define(kw_only=True)
class Order:
    """An order received from a sales channel, from placement to completion.

    Mutate it only through its methods: each checks the lifecycle table and appends events,
    which the unit of work writes to the outbox when it commits.
    """

    id: str
    channel: str
    external_id: str
    currency: str
    customer: Customer
    lines: tuple[OrderLine, ...]
    delivery: DeliveryMethod
    shipping_address: Address | None = None
    billing_address: Address | None = None
    status: OrderStatus = OrderStatus.RECEIVED
    placed_at: datetime
    updated_at: datetime
    tags: tuple[str, ...] = ()
    metadata: dict[str, Any] = attrs.field(factory=dict)
    version: int = 0
    #: Delivery date promised to the customer (at checkout, or estimated when routed).
    promised_date: date | None = None
    #: The day the carriers now expect it to arrive (their latest estimate), once shipped.
    expected_date: date | None = None
    #: The cart whose held units this order converts when it is first routed.
    cart_id: str | None = None
    #: :meth:`PlaceOrder.fingerprint` of the command that placed it (None for orders placed
    #: before omskit stored it): a re-delivery must match.
    command_hash: str | None = None
    _holds: list[Hold] = attrs.field(factory=list, alias="holds")
    _fulfillment_orders: list[FulfillmentOrder] = attrs.field(
        factory=list, alias="fulfillment_orders"
    )
    _events: list[Event] = attrs.field(factory=list, init=False, repr=False, eq=False)

    # -- creation ---------------------------------------------------------------------------

    @classmethod
    def place(cls, command: PlaceOrder, *, order_id: str, at: datetime,
              fingerprint: str | None = None) -> Order:
        """Create an order from a :class:`PlaceOrder` command, in status ``received``.

        ``fingerprint``: the command's :meth:`~PlaceOrder.fingerprint`, if the caller has
        it already (else it is computed)."""
        lines = tuple(
            OrderLine(
                line_id=new.line_id or str(i + 1),
                sku=new.sku,
                quantity=new.quantity,
                # Written with the currency's decimals: "19.9" and "19.90" are one price.
                unit_price=to_minor_units(new.unit_price, command.currency),
            )
            for i, new in enumerate(command.lines)
        )
        placed_at = command.placed_at or at
        order = cls(
            id=order_id,
            channel=command.channel,
            external_id=command.external_id,
            currency=command.currency,
            customer=command.customer,
            lines=lines,
            delivery=command.delivery,
            shipping_address=command.shipping_address,
            billing_address=command.billing_address,
            placed_at=placed_at,
            updated_at=at,
            tags=command.tags,
            metadata=dict(command.metadata),
            promised_date=command.promised_date,
            cart_id=command.cart_id,
            command_hash=fingerprint or command.fingerprint(),
        )
        order._events.append(
            OrderPlaced(
                order=order.id,
                occurred_at=at,
                channel=order.channel,
                external_id=order.external_id,
                customer_id=order.customer.id,
                currency=order.currency,
                total=order.total.amount,
                lines=tuple(LineQuantity(line_id=x.line_id, sku=x.sku, quantity=x.quantity)
                            for x in lines),
            )
        )
        return order

    # -- read-only views --------------------------------------------------------------------

    @property
    def holds(self) -> tuple[Hold, ...]:
        """Every hold ever placed on the order, active or released."""
        return tuple(self._holds)

    @property
    def active_holds(self) -> tuple[Hold, ...]:
        """Holds not yet released."""
        return tuple(h for h in self._holds if h.active)

    @property
    def fulfillment_orders(self) -> tuple[FulfillmentOrder, ...]:
        """All fulfilment orders, including rejected and cancelled ones."""
        return tuple(self._fulfillment_orders)

    @property
    def total(self) -> Money:
        """Sum of quantity × unit price over all lines."""
        return Money.total(self.currency, ((x.unit_price, x.quantity) for x in self.lines))

    @property
    def events(self) -> tuple[Event, ...]:
        """Events appended since the order was loaded, not yet collected."""
        return tuple(self._events)

    def record(self, event: Event) -> None:
        """Append an event about this order that a service established (a label bought,
        a tracking event): written with the order, in order with its own events."""
        self._events.append(event)

    def collect_events(self) -> list[Event]:
        """Return and forget the pending events (the unit of work calls this at commit)."""
        events, self._events = self._events, []
        return events

    def line(self, line_id: str) -> OrderLine:
        """The line with this id."""
        for line in self.lines:
            if line.line_id == line_id:
                return line
        raise KeyError(line_id)

    def fulfillment_order(self, fulfillment_order_id: str) -> FulfillmentOrder:
        """The fulfilment order with this id, or :class:`FulfillmentOrderNotFound`."""
        for fo in self._fulfillment_orders:
            if fo.id == fulfillment_order_id:
                return fo
        raise FulfillmentOrderNotFound(fulfillment_order_id)

    def _units(self, statuses: Iterable[FulfillmentStatus]) -> dict[str, int]:
        """Units per line id held by fulfilment orders in ``statuses``."""
        wanted = frozenset(statuses)
        units: dict[str, int] = defaultdict(int)
        for fo in self._fulfillment_orders:
            if fo.status in wanted:
                for fl in fo.lines:
                    units[fl.line_id] += fl.quantity
        return units

    def backordered(self) -> tuple[LineQuantity, ...]:
        """Quantities of each line that neither a live fulfilment order covers nor a
        cancellation removed."""
        covered = self._units(_LIVE)
        return tuple(
            LineQuantity(line_id=x.line_id, sku=x.sku,
                         quantity=x.open_quantity - covered[x.line_id])
            for x in self.lines
            if x.open_quantity > covered[x.line_id]
        )

    def cancellable(self) -> dict[str, int]:
        """Units of each line that :meth:`cancel_lines` can still cancel (lines with none
        are left out): neither cancelled, shipped, nor picked or packed. A cancelled or
        completed order has none."""
        if self.status in (O.CANCELLED, O.COMPLETED):
            return {}
        fixed = self._units(lifecycle.FULFILLMENT_SHIPPED | lifecycle.FULFILLMENT_IN_HAND)
        found = {}
        for x in self.lines:
            units = x.open_quantity - fixed[x.line_id]
            if units > 0:
                found[x.line_id] = units
        return found

    def derived_status(self) -> OrderStatus:
        """The status that the fulfilment orders make true (for a routed order)."""
        live = [fo for fo in self._fulfillment_orders if fo.status in _LIVE]
        waiting = bool(self.backordered())
        shipped = [fo for fo in live if fo.status in lifecycle.FULFILLMENT_SHIPPED
                   or any(s.shipped_at is not None for s in fo.shipments)]
        if not live:
            return O.BACKORDERED if waiting else O.VALIDATED
        if (len(shipped) == len(live) and not waiting
                and all(fo.status in lifecycle.FULFILLMENT_SHIPPED for fo in live)):
            return O.DELIVERED if all(fo.status is F.DELIVERED for fo in live) else O.SHIPPED
        if shipped:
            return O.PARTIALLY_SHIPPED
        if waiting:
            return O.BACKORDERED
        if all(fo.status is not F.CREATED for fo in live):
            return O.RELEASED
        return O.ALLOCATED

    # -- lifecycle --------------------------------------------------------------------------

    def _transition(self, target: OrderStatus, at: datetime) -> None:
        if target is self.status:
            return
        lifecycle.check("order", self.id, lifecycle.ORDER_TRANSITIONS, self.status, target)
        previous, self.status, self.updated_at = self.status, target, at
        self._events.append(OrderStatusChanged(
            order=self.id, occurred_at=at, from_status=previous.value, to_status=target.value
        ))

    def refresh_status(self, at: datetime) -> None:
        """Move to the status the fulfilment orders make true, if the order is routed."""
        if self.status in _DERIVED:
            self._transition(self.derived_status(), at)

    def accept_validation(self, problems: Sequence[Problem], at: datetime) -> None:
        """Record the result of validation: problems become holds, none means validated."""
        if not problems:
            self._transition(O.VALIDATED, at)
            return
        for problem in problems:
            self.place_hold(problem.code, problem.message, at)

    def place_hold(self, code: str, reason: str, at: datetime) -> bool:
        """Put the order on hold; placing an already active hold again changes nothing.

        Returns whether a new hold was placed.
        """
        if any(h.code == code for h in self.active_holds):
            return False
        if self.status not in _HOLDABLE:
            raise IllegalTransition("order", self.id, self.status.value, O.ON_HOLD.value)
        self._holds.append(Hold(code=code, reason=reason, placed_at=at))
        self._transition(O.ON_HOLD, at)
        self._events.append(OrderHoldPlaced(order=self.id, occurred_at=at, code=code,
                                            reason=reason))
        return True

    def release_hold(self, code: str, at: datetime) -> bool:
        """Release the active hold ``code``; returns False if there was none.

        When the last hold goes, the order returns to where its fulfilment orders put it
        (``validated`` if it was never routed).
        """
        for i, hold in enumerate(self._holds):
            if hold.code == code and hold.active:
                self._holds[i] = attrs.evolve(hold, released_at=at)
                break
        else:
            return False
        self._events.append(OrderHoldReleased(order=self.id, occurred_at=at, code=code))
        if not self.active_holds and self.status is O.ON_HOLD:
            # derived_status() reads "backordered" for an order without fulfilment orders,
            # so a never-routed order is sent back to "validated" explicitly (and is then
            # routed by the order service), as documented above.
            target = self.derived_status() if self._fulfillment_orders else O.VALIDATED
            self._transition(target, at)
        return True

    def reword_hold(self, code: str, reason: str, at: datetime) -> bool:
        """Give the active hold ``code`` a new reason (a payment declined while the order
        waits for it); returns False if there is no such hold or it says that already."""
        for i, hold in enumerate(self._holds):
            if hold.code == code and hold.active:
                if hold.reason == reason:
                    return False
                self._holds[i] = attrs.evolve(hold, reason=reason)
                self.updated_at = at
                return True
        return False

    def ensure_not_held(self) -> None:
        """Raise :class:`OrderOnHold` if any hold is active."""
        if self.active_holds:
            raise OrderOnHold(self.id, [h.code for h in self.active_holds])

    def add_fulfillment_orders(
        self, strategy: str, allocations: Iterable[RoutedQuantity],
        backordered: Sequence[LineQuantity], at: datetime,
    ) -> list[FulfillmentOrder]:
        """Record a routing decision: one new fulfilment order per location used."""
        allocations = tuple(allocations)
        by_location: dict[str, list[LineQuantity]] = defaultdict(list)
        for a in allocations:
            by_location[a.location].append(
                LineQuantity(line_id=a.line_id, sku=a.sku, quantity=a.quantity))
        created = []
        for location, lines in by_location.items():
            fo = FulfillmentOrder(id=new_id(), order_id=self.id, location=location,
                                  lines=tuple(lines), created_at=at, updated_at=at)
            self._fulfillment_orders.append(fo)
            created.append(fo)
            self._events.append(FulfillmentOrderCreated(
                order=self.id, occurred_at=at, fulfillment_order_id=fo.id, location=location,
                lines=fo.lines))
        self._events.append(OrderRouted(order=self.id, occurred_at=at, strategy=strategy,
                                        allocations=allocations, backordered=tuple(backordered)))
        self.refresh_status(at)
        return created

    def _move_fulfillment(self, fo: FulfillmentOrder, target: FulfillmentStatus,
                          at: datetime) -> None:
        lifecycle.check("fulfillment_order", fo.id, lifecycle.FULFILLMENT_TRANSITIONS,
                        fo.status, target)
        previous, fo.status, fo.updated_at = fo.status, target, at
        self.updated_at = at
        if target in (F.REJECTED, F.CANCELLED) and previous in lifecycle.FULFILLMENT_BEFORE_PICK:
            # Nobody picked anything: the location did not spend the work, so its
            # daily-capacity slot is free again (the order service gives it back).
            fo.capacity_day = None
        self._events.append(FulfillmentOrderStatusChanged(
            order=self.id, occurred_at=at, fulfillment_order_id=fo.id, location=fo.location,
            from_status=previous.value, to_status=target.value))

    def advance_fulfillment(self, fulfillment_order_id: str, target: FulfillmentStatus,
                            at: datetime) -> FulfillmentOrder:
        """Release, accept, pick or pack a fulfilment order, then re-derive the order status."""
        fo = self.fulfillment_order(fulfillment_order_id)
        if target is F.RELEASED:
            self.ensure_not_held()
        self._move_fulfillment(fo, target, at)
        self.refresh_status(at)
        return fo

    def reject_fulfillment(self, fulfillment_order_id: str, reason: str,
                           at: datetime) -> FulfillmentOrder:
        """The location refused the fulfilment order; its lines become unallocated again."""
        fo = self.fulfillment_order(fulfillment_order_id)
        self._move_fulfillment(fo, F.REJECTED, at)
        fo.rejection_reason = reason
        self._events.append(FulfillmentOrderRejected(
            order=self.id, occurred_at=at, fulfillment_order_id=fo.id, location=fo.location,
            reason=reason))
        self.refresh_status(at)
        return fo

    # -- pickup in store (decision 42) ----------------------------------------------------

    def mark_ready_for_pickup(self, fulfillment_order_id: str, at: datetime,
                              collect_by: datetime) -> FulfillmentOrder:
        """The store set the goods of a pickup fulfilment order aside: the customer may
        collect them until ``collect_by``. :class:`IllegalTransition` from a status that
        cannot become ready (not yet accepted, shipped, closed)."""
        fo = self.fulfillment_order(fulfillment_order_id)
        self._move_fulfillment(fo, F.READY_FOR_PICKUP, at)
        fo.ready_at, fo.collect_by = at, collect_by
        self._events.append(PickupReady(
            order=self.id, occurred_at=at, fulfillment_order_id=fo.id, location=fo.location,
            lines=fo.lines, collect_by=collect_by))
        self.refresh_status(at)
        return fo

    def collect(self, fulfillment_order_id: str, collection_id: str,
                lines: Sequence[LineQuantity], at: datetime) -> Shipment:
        """The customer collected ``lines`` (empty: everything not yet collected) of a
        ready fulfilment order, recorded as a handover shipment ``collection_id`` (shipped
        and delivered at ``at``). Collected in full, the fulfilment order is delivered.

        Raises :class:`IllegalTransition` unless it is ready for pickup, and
        :class:`InvalidCommand` for lines it does not have or more units than are left to
        collect; changes nothing then.
        """
        fo = self.fulfillment_order(fulfillment_order_id)
        if fo.status is not F.READY_FOR_PICKUP:
            raise IllegalTransition("fulfillment_order", fo.id, fo.status.value,
                                    F.SHIPPED.value)
        room = fo.unshipped()
        wanted = tuple(lines) or tuple(
            LineQuantity(line_id=x.line_id, sku=x.sku, quantity=room[x.line_id])
            for x in fo.lines if x.line_id in room)
        skus = {x.line_id: x.sku for x in fo.lines}
        problems: list[str] = []
        for i, x in enumerate(wanted):
            if x.line_id not in skus:
                problems.append(f"lines[{i}].line_id: {x.line_id!r} is not a line of "
                                f"fulfilment order {fo.id}")
            elif x.quantity > room.get(x.line_id, 0):
                problems.append(f"lines[{i}].quantity: {x.quantity} of line {x.line_id!r}, "
                                f"but {room.get(x.line_id, 0)} are ready to collect")
        if len({x.line_id for x in wanted}) != len(wanted):
            problems.append("lines: a line is listed twice")
        refuse(problems, "collection")
        taken = tuple(LineQuantity(line_id=x.line_id, sku=skus[x.line_id],
                                   quantity=x.quantity) for x in wanted)
        handover = Shipment(id=collection_id, carrier=PICKUP_CARRIER, lines=taken,
                            created_at=at, shipped_at=at, delivered_at=at)
        fo.shipments.append(handover)
        fo.updated_at = self.updated_at = at
        complete = not fo.unshipped()
        self._events.append(PickupCollected(
            order=self.id, occurred_at=at, fulfillment_order_id=fo.id, location=fo.location,
            collection_id=collection_id, lines=taken, complete=complete))
        if complete:
            # Handed over: shipped and delivered at once, the order following each step
            # (released, shipped, delivered: never a jump the order's table forbids).
            self._move_fulfillment(fo, F.SHIPPED, at)
            self.refresh_status(at)
            self._move_fulfillment(fo, F.DELIVERED, at)
        self.refresh_status(at)
        return handover

    def expire_pickup(self, fulfillment_order_id: str, at: datetime
                      ) -> tuple[LineQuantity, ...]:
        """The customer did not collect a ready fulfilment order by its deadline: what is
        left of it is cancelled on the order's lines. Nothing collected, the fulfilment
        order is cancelled; part collected, it shrinks to what was collected and is
        delivered. An order left with nothing is cancelled. Returns the units cancelled
        (the caller releases their stock); nothing for a fulfilment order not ready."""
        fo = self.fulfillment_order(fulfillment_order_id)
        if fo.status is not F.READY_FOR_PICKUP:
            return ()
        room = fo.unshipped()
        left = tuple(LineQuantity(line_id=x.line_id, sku=x.sku, quantity=room[x.line_id])
                     for x in fo.lines if x.line_id in room)
        assert fo.collect_by is not None, "a ready fulfilment order has a deadline"
        for x in left:
            self.line(x.line_id).cancelled_quantity += x.quantity
        self._events.append(OrderLinesCancelled(
            order=self.id, occurred_at=at, reason="not collected",
            lines=left, released=tuple(
                CancelledQuantity(line_id=x.line_id, sku=x.sku, quantity=x.quantity,
                                  fulfillment_order_id=fo.id, location=fo.location)
                for x in left), idempotency_key=None))
        self._events.append(PickupExpired(
            order=self.id, occurred_at=at, fulfillment_order_id=fo.id, location=fo.location,
            lines=left, collect_by=fo.collect_by))
        collected = sum_lines(s.lines for s in fo.shipments)
        if not collected:
            self._move_fulfillment(fo, F.CANCELLED, at)
        else:
            fo.lines = tuple(LineQuantity(line_id=x.line_id, sku=x.sku,
                                          quantity=collected[x.line_id])
                             for x in fo.lines if collected.get(x.line_id, 0))
            self._move_fulfillment(fo, F.SHIPPED, at)
            self.refresh_status(at)
            self._move_fulfillment(fo, F.DELIVERED, at)
        self.updated_at = at
        if self.fully_cancelled:
            self._close_cancelled("not collected", at)
        else:
            self.refresh_status(at)
        return left

    # -- shipments ------------------------------------------------------------------------

    def shipment(self, shipment_id: str) -> tuple[FulfillmentOrder, Shipment]:
        """The shipment with this id and its fulfilment order (``ShipmentNotFound``)."""
        for fo in self._fulfillment_orders:
            found = fo.shipment_by_id(shipment_id)
            if found is not None:
                return fo, found
        raise ShipmentNotFound(shipment_id)

    def create_shipment(self, fulfillment_order_id: str, shipment: Shipment,
                        at: datetime) -> Shipment:
        """Prepare ``shipment`` of a packed fulfilment order: its ``lines`` (empty: every
        unit not yet in a shipment) packed in its parcels.

        Raises :class:`IllegalTransition` unless the fulfilment order is packed, and
        :class:`InvalidCommand` for lines it does not have or has not left to ship, or
        parcel contents that do not add up to the lines; changes nothing then.
        """
        fo = self.fulfillment_order(fulfillment_order_id)
        if fo.status is not F.PACKED:
            raise IllegalTransition("fulfillment_order", fo.id, fo.status.value,
                                    F.SHIPPED.value)
        room = fo.unshipped()
        lines = shipment.lines or tuple(
            LineQuantity(line_id=x.line_id, sku=x.sku, quantity=room[x.line_id])
            for x in fo.lines if x.line_id in room)
        problems: list[str] = []
        if not lines:
            problems.append("lines: every unit of the fulfilment order is in a shipment")
        skus = {x.line_id: x.sku for x in fo.lines}
        for i, x in enumerate(lines):
            if x.line_id not in skus:
                problems.append(f"lines[{i}].line_id: {x.line_id!r} is not a line of "
                                f"fulfilment order {fo.id}")
            elif x.quantity > room.get(x.line_id, 0):
                problems.append(f"lines[{i}].quantity: {x.quantity} of line {x.line_id!r}, "
                                f"but {room.get(x.line_id, 0)} are left to ship")
        if len({x.line_id for x in lines}) != len(lines):
            problems.append("lines: a line is listed twice")
        if not shipment.parcels:
            problems.append("parcels: a shipment needs at least one parcel")
        packed = [p for p in shipment.parcels if p.contents]
        if packed and sum_lines(p.contents for p in shipment.parcels) != sum_lines([lines]):
            problems.append("parcels: their contents must add up to the shipment's lines")
        refuse(problems, "shipment")
        # Lines carry the order line's SKU, whatever the caller wrote.
        shipment.lines = tuple(LineQuantity(line_id=x.line_id, sku=skus[x.line_id],
                                            quantity=x.quantity) for x in lines)
        shipment.created_at = shipment.created_at or at
        fo.shipments.append(shipment)
        fo.updated_at = self.updated_at = at
        self._events.append(ShipmentCreated(
            order=self.id, occurred_at=at, fulfillment_order_id=fo.id,
            shipment_id=shipment.id, location=fo.location, carrier=shipment.carrier,
            lines=shipment.lines, parcels=len(shipment.parcels)))
        return shipment

    def ship_shipment(self, shipment_id: str, at: datetime) -> Shipment:
        """The shipment left the location with its carrier. The fulfilment order is shipped
        once every unit of it has left; until then the order is partially shipped.

        Raises :class:`InvalidCommand` when a parcel has no label, changing nothing.
        """
        fo, shipment = self.shipment(shipment_id)
        if shipment.shipped_at is not None:
            return shipment
        unlabelled = [p.id for p in shipment.parcels if not p.labelled]
        refuse([f"parcels: parcel {p} has no label" for p in unlabelled], "shipment")
        if fo.status is not F.PACKED:
            raise IllegalTransition("fulfillment_order", fo.id, fo.status.value,
                                    F.SHIPPED.value)
        shipment.shipped_at = at
        if not shipment.tracking_number:
            shipment.tracking_number = shipment.parcels[0].tracking_number
        fo.updated_at = self.updated_at = at
        if not fo.unshipped(count_open=False):
            self._move_fulfillment(fo, F.SHIPPED, at)
        self._events.append(ShipmentShipped(
            order=self.id, occurred_at=at, fulfillment_order_id=fo.id,
            shipment_id=shipment.id, location=fo.location, carrier=shipment.carrier,
            tracking_number=shipment.tracking_number, lines=shipment.lines))
        self.refresh_status(at)
        return shipment

    def ship_fulfillment(self, fulfillment_order_id: str, shipment: Shipment) -> FulfillmentOrder:
        """Every unit of the fulfilment order not yet in a shipment left with ``shipment``
        (one parcel labelled outside omskit with its tracking number, unless it has
        parcels), at ``shipment.shipped_at``."""
        at = shipment.shipped_at
        assert at is not None, "the shipment says when it left"
        shipment.shipped_at = None
        if not shipment.parcels:
            shipment.parcels = [Parcel(
                id=f"{shipment.id}-1", shipment_id=shipment.id, weight_grams=0,
                label_status=LabelStatus.EXTERNAL, tracking_number=shipment.tracking_number)]
        self.create_shipment(fulfillment_order_id, shipment, at)
        self.ship_shipment(shipment.id, at)
        return self.fulfillment_order(fulfillment_order_id)

    def deliver_shipment(self, shipment_id: str, at: datetime) -> Shipment:
        """The shipment reached the customer at ``at`` (the carrier's time); its fulfilment
        order is delivered once all its shipments are. Delivering it again changes
        nothing."""
        fo, shipment = self.shipment(shipment_id)
        if shipment.delivered_at is not None or shipment.shipped_at is None:
            return shipment
        shipment.delivered_at = at
        for p in shipment.parcels:
            p.delivered_at = p.delivered_at or at
        self._events.append(ShipmentDelivered(
            order=self.id, occurred_at=at, fulfillment_order_id=fo.id,
            shipment_id=shipment.id))
        if (fo.status is F.SHIPPED
                and all(s.delivered_at is not None for s in fo.shipments)):
            self._move_fulfillment(fo, F.DELIVERED, at)
        self.updated_at = max(self.updated_at, at)
        self.refresh_status(at)
        return shipment

    def deliver_fulfillment(self, fulfillment_order_id: str, at: datetime) -> FulfillmentOrder:
        """Every shipment of the shipped fulfilment order reached the customer."""
        fo = self.fulfillment_order(fulfillment_order_id)
        lifecycle.check("fulfillment_order", fo.id, lifecycle.FULFILLMENT_TRANSITIONS,
                        fo.status, F.DELIVERED)
        for shipment in fo.shipments:
            self.deliver_shipment(shipment.id, at)
        if fo.status is not F.DELIVERED:  # shipped before shipments were recorded
            self._move_fulfillment(fo, F.DELIVERED, at)
            self.refresh_status(at)
        return fo

    def set_expected_date(self, shipment_id: str, expected: date | None,
                          at: datetime) -> bool:
        """Record a carrier's new estimate for a shipment; the order's expected date (the
        latest over its undelivered shipments) follows, with an event when it moves.
        Returns whether the order's expected date changed."""
        _, shipment = self.shipment(shipment_id)
        shipment.expected_date = expected
        estimates = [s.expected_date for fo in self._fulfillment_orders for s in fo.shipments
                     if s.expected_date is not None and s.delivered_at is None]
        new = max(estimates) if estimates else self.expected_date
        if new == self.expected_date:
            return False
        previous, self.expected_date = self.expected_date, new
        self.updated_at = max(self.updated_at, at)
        self._events.append(OrderExpectedDateChanged(
            order=self.id, occurred_at=at, previous=previous, expected_date=new,
            shipment_id=shipment_id))
        return True

    def move_promise(self, arrives: date, reason: str, at: datetime) -> bool:
        """Promise ``arrives`` when the order has no promise yet, or when it is later than
        the promise (which routing cannot keep), with an event saying the promise moved; an
        earlier date keeps the promise. Returns whether a promise moved."""
        if self.promised_date is None:
            self.promised_date = arrives
            return False
        if arrives <= self.promised_date:
            return False
        previous, self.promised_date = self.promised_date, arrives
        self._events.append(OrderPromiseMoved(order=self.id, occurred_at=at, previous=previous,
                                              promised_date=arrives, reason=reason))
        return True

    def cancel(self, reason: str, at: datetime) -> list[FulfillmentOrder]:
        """Cancel the order and every live fulfilment order; returns those cancelled.

        Not allowed once any goods have shipped: :class:`IllegalTransition`.
        """
        lifecycle.check("order", self.id, lifecycle.ORDER_TRANSITIONS, self.status, O.CANCELLED)
        if any(fo.status in lifecycle.FULFILLMENT_SHIPPED or fo.shipment is not None
               for fo in self._fulfillment_orders):
            raise IllegalTransition("order", self.id, self.status.value, O.CANCELLED.value)
        cancelled = [fo for fo in self._fulfillment_orders if fo.active]
        for fo in cancelled:
            self._move_fulfillment(fo, F.CANCELLED, at)
        self._close_cancelled(reason, at)
        return cancelled

    def _end_holds(self, at: datetime) -> None:
        for i, hold in enumerate(self._holds):
            if hold.active:
                self._holds[i] = attrs.evolve(hold, released_at=at)
                self._events.append(OrderHoldReleased(order=self.id, occurred_at=at,
                                                      code=hold.code))

    def _close_cancelled(self, reason: str, at: datetime) -> None:
        # A cancelled order is nobody's to review any more: its holds end with it.
        self._end_holds(at)
        self._transition(O.CANCELLED, at)
        self._events.append(OrderCancelled(order=self.id, occurred_at=at, reason=reason))

    def _refuse_uncancellable(self, quantities: Mapping[str, int]) -> None:
        """Raise the typed error for the first line ``quantities`` cannot have; changes
        nothing."""
        cancellable = self.cancellable()
        shipped = self._units(lifecycle.FULFILLMENT_SHIPPED)
        in_hand = self._units(lifecycle.FULFILLMENT_IN_HAND)
        for line_id, requested in quantities.items():
            line = next((x for x in self.lines if x.line_id == line_id), None)
            if line is None:
                raise LineNotFound(self.id, line_id)
            can = cancellable.get(line_id, 0)
            if requested <= can:
                continue
            if shipped[line_id] and requested > line.open_quantity - shipped[line_id]:
                raise QuantityAlreadyShipped(self.id, line_id, requested, can,
                                             shipped[line_id])
            if self.status is O.CANCELLED:
                why = "the order is cancelled"
            elif in_hand[line_id]:
                why = f"{in_hand[line_id]} picked or packed, left to ship"
            elif line.cancelled_quantity:
                why = f"{line.cancelled_quantity} of {line.quantity} cancelled before"
            else:
                why = f"the line has {line.quantity}"
            raise QuantityNotCancellable(self.id, line_id, requested, can, why)

    def _cancel_quantities(self, quantities: Mapping[str, int], reason: str, at: datetime,
                           idempotency_key: str | None) -> tuple[CancelledQuantity, ...]:
        """Take ``quantities`` off their lines: backordered units first, then units of
        fulfilment orders not yet picked, the least progressed and newest first. A
        fulfilment order left with nothing is cancelled; one left with less shrinks."""
        self._refuse_uncancellable(quantities)
        released, cuts = self._take_off(quantities)
        # The cancellation first, then what it did to the fulfilment orders and the order.
        self._events.append(OrderLinesCancelled(
            order=self.id, occurred_at=at, reason=reason,
            lines=tuple(LineQuantity(line_id=k, sku=self.line(k).sku, quantity=v)
                        for k, v in quantities.items()),
            released=tuple(released), idempotency_key=idempotency_key))
        self._apply_cuts(cuts, at)
        self.updated_at = at
        return tuple(released)

    def _take_off(self, quantities: Mapping[str, int]
                  ) -> tuple[list[CancelledQuantity], dict[str, dict[str, int]]]:
        """Count ``quantities`` as cancelled on their lines and say where they come from:
        backordered units first, then units of fulfilment orders not yet picked, the least
        progressed and newest first. Returns the units taken and the cuts per fulfilment
        order (apply them with :meth:`_apply_cuts`). The caller checked they can go."""
        covered = self._units(_LIVE)
        # Least progressed first (nobody started on it), then newest first.
        open_fos = sorted(
            (fo for fo in reversed(self._fulfillment_orders) if fo.status in _CANCEL_FIRST),
            key=lambda fo: _CANCEL_FIRST[fo.status])
        released: list[CancelledQuantity] = []
        cuts: dict[str, dict[str, int]] = defaultdict(dict)
        for line_id, requested in quantities.items():
            line = self.line(line_id)
            left = requested
            take = min(left, line.open_quantity - covered[line_id])
            if take > 0:
                released.append(CancelledQuantity(line_id=line_id, sku=line.sku, quantity=take))
                left -= take
            for fo in open_fos:
                if not left:
                    break
                for fl in fo.lines:
                    if fl.line_id == line_id:
                        take = min(left, fl.quantity)
                        cuts[fo.id][line_id] = take
                        released.append(CancelledQuantity(
                            line_id=line_id, sku=line.sku, quantity=take,
                            fulfillment_order_id=fo.id, location=fo.location))
                        left -= take
            assert left == 0, "cancellable() promised these units"
            line.cancelled_quantity += requested
        return released, cuts

    def _apply_cuts(self, cuts: Mapping[str, Mapping[str, int]], at: datetime) -> None:
        """Shrink each fulfilment order by its cut (units per line); one left with nothing
        is cancelled."""
        for fo_id, cut in cuts.items():
            fo = self.fulfillment_order(fo_id)
            if sum(cut.values()) == fo.units:
                self._move_fulfillment(fo, F.CANCELLED, at)
            else:
                fo.lines = tuple(
                    LineQuantity(line_id=fl.line_id, sku=fl.sku,
                                 quantity=fl.quantity - cut.get(fl.line_id, 0))
                    for fl in fo.lines if fl.quantity > cut.get(fl.line_id, 0))
                fo.updated_at = at

    @property
    def fully_cancelled(self) -> bool:
        """Whether every unit of every line was cancelled."""
        return all(x.cancelled_quantity == x.quantity for x in self.lines)

    def cancel_lines(self, quantities: Mapping[str, int], reason: str, at: datetime, *,
                     idempotency_key: str | None = None) -> tuple[CancelledQuantity, ...]:
        """Cancel ``quantities`` (``{line_id: units}``) of the order's lines.

        Units come off what is backordered first, then off fulfilment orders not yet picked
        (the least progressed and newest first; one left empty is cancelled, others
        shrink). Picked, packed and shipped units cannot be cancelled. Returns where the
        units came from, for the caller to release what they held. An order left with
        nothing is cancelled; otherwise its status follows from its fulfilment orders (a
        held order stays held). Raises :class:`LineNotFound`,
        :class:`QuantityAlreadyShipped` or :class:`QuantityNotCancellable`, changing
        nothing.
        """
        released = self._cancel_quantities(quantities, reason, at, idempotency_key)
        if self.fully_cancelled:
            self._close_cancelled(reason, at)
        else:
            self.refresh_status(at)
        return released

    def short_close(self, reason: str, at: datetime) -> tuple[CancelledQuantity, ...]:
        """Close the order short: cancel every unit that can still be cancelled
        (:meth:`cancellable`) and end its holds, so that it completes with what has shipped
        and what is picked or packed (left to ship). An order that never shipped anything
        ends cancelled.

        Returns where the cancelled units came from. With nothing left to cancel and no
        active hold (closed already, a cancelled or completed order), nothing happens.
        """
        if self.status in (O.CANCELLED, O.COMPLETED):
            return ()
        quantities = self.cancellable()
        if not quantities and not self.active_holds:
            return ()
        released = (self._cancel_quantities(quantities, reason, at, None) if quantities
                    else ())
        self._events.append(OrderShortClosed(
            order=self.id, occurred_at=at, reason=reason,
            lines=tuple(LineQuantity(line_id=k, sku=self.line(k).sku, quantity=v)
                        for k, v in quantities.items())))
        if self.fully_cancelled:
            self._close_cancelled(reason, at)
            return released
        # Nothing is left to release to a location, which is all a hold stops.
        self._end_holds(at)
        if self.status is O.ON_HOLD:
            self._transition(self.derived_status(), at)
        else:
            self.refresh_status(at)
        return released

    def complete(self, at: datetime) -> None:
        """Close a delivered order (after the return window, say)."""
        self._transition(O.COMPLETED, at)

    # -- edits ----------------------------------------------------------------------------

    @property
    def open_total(self) -> Money:
        """What the order's lines come to now: units not cancelled × unit price."""
        return Money.total(self.currency,
                           ((x.unit_price, x.open_quantity) for x in self.lines))

    @property
    def holdable(self) -> bool:
        """Whether a hold can be placed on the order in its status."""
        return self.status in _HOLDABLE

    def check_editable(self) -> None:
        """Raise :class:`OrderNotEditable` if the order is cancelled, completed, or has
        shipped everything: nothing is left that an edit could change."""
        if self.status in _NOT_EDITABLE:
            raise OrderNotEditable(self.id, f"it is {self.status.value}")

    def _released_holding(self, line_id: str | None) -> FulfillmentOrder | None:
        """The first live fulfilment order past ``created`` (released for picking, or
        further) that holds ``line_id`` (None: any line)."""
        for fo in self._fulfillment_orders:
            if fo.status in _LIVE and fo.status is not F.CREATED and (
                    line_id is None or any(fl.line_id == line_id for fl in fo.lines)):
                return fo
        return None

    def apply_edit(self, changes: StagedChanges, at: datetime) -> EditEffect:
        """Apply an edit's staged changes: what is not yet released for picking changes.

        A quantity taken down comes off the line's backordered units first, then off its
        fulfilment orders not yet released (newest first; one left empty is cancelled); a
        quantity raised, and an added line, become demand to route. A new shipping address
        (for a shipped order) or delivery method cancels every fulfilment order not yet
        released, so that everything unreleased is routed again to the new destination.
        Returns what was given back and what to route; the caller releases and routes
        (then refreshes the status, which this leaves to the routing when there is demand).

        Raises, changing nothing: :class:`OrderNotEditable` (cancelled, completed, every
        unit shipped), :class:`LineNotFound`, :class:`LineReleased` naming the fulfilment
        order that holds a changed line (or, for a new destination, any released one), and
        :class:`InvalidCommand` for an added line's id or price, a ship order without an
        address, or an edit that would leave the order with nothing.
        """
        self.check_editable()
        delivery = changes.delivery or self.delivery
        address = changes.shipping_address or self.shipping_address
        problems: list[str] = []
        if delivery.kind is DeliveryKind.SHIP and address is None:
            problems.append("shipping_address: required when the delivery method is ship")
        if delivery.kind is DeliveryKind.PICKUP and not delivery.pickup_location:
            problems.append("delivery.pickup_location: required to pick up")
        existing = {x.line_id for x in self.lines}
        for i, added in enumerate(changes.add_lines):
            if added.line_id in existing:
                problems.append(f"add_lines[{i}].line_id: {added.line_id!r} is already a "
                                "line of the order")
            check_amount(added.unit_price, self.currency, f"add_lines[{i}].unit_price",
                         problems, maximum=MAX_UNIT_PRICE)
        refuse(problems, "order edit")
        decreases: dict[str, int] = {}
        increases: dict[str, int] = {}
        for line_id, quantity in changes.quantities.items():
            if line_id not in existing:
                raise LineNotFound(self.id, line_id)
            line = self.line(line_id)
            if quantity == line.open_quantity:
                continue
            fo = self._released_holding(line_id)
            if fo is not None:
                raise LineReleased(self.id, line_id, fo.id, fo.location, fo.status.value,
                                   f"line {line_id}")
            if quantity < line.open_quantity:
                decreases[line_id] = line.open_quantity - quantity
            else:
                increases[line_id] = quantity - line.open_quantity
        delivery_changed = delivery != self.delivery
        reroute = delivery_changed or (address != self.shipping_address
                                       and delivery.kind is DeliveryKind.SHIP)
        if reroute:
            fo = self._released_holding(None)
            if fo is not None:
                what = "the delivery method" if delivery_changed else "the shipping address"
                raise LineReleased(self.id, None, fo.id, fo.location, fo.status.value, what)
        left = (sum(x.open_quantity for x in self.lines) - sum(decreases.values())
                + sum(increases.values()) + sum(a.quantity for a in changes.add_lines))
        if left <= 0:
            refuse(["quantities: the edit would take every unit off the order; cancel the "
                    "order instead"], "order edit")

        before = {x.line_id: x.open_quantity for x in self.lines}
        cancelled = {fo.id for fo in self._fulfillment_orders if fo.status is F.CANCELLED}
        released, cuts = self._take_off(decreases) if decreases else ([], {})
        self._apply_cuts(cuts, at)
        for line_id, units in increases.items():
            self.line(line_id).quantity += units
        self.lines = (*self.lines, *(
            OrderLine(line_id=a.line_id, sku=a.sku, quantity=a.quantity,
                      unit_price=to_minor_units(a.unit_price, self.currency))
            for a in changes.add_lines))
        demand = [LineQuantity(line_id=k, sku=self.line(k).sku, quantity=v)
                  for k, v in increases.items()]
        demand += [LineQuantity(line_id=a.line_id, sku=a.sku, quantity=a.quantity)
                   for a in changes.add_lines]
        if reroute:
            for fo in self._fulfillment_orders:
                if fo.status is F.CREATED:
                    released.extend(CancelledQuantity(
                        line_id=fl.line_id, sku=fl.sku, quantity=fl.quantity,
                        fulfillment_order_id=fo.id, location=fo.location) for fl in fo.lines)
                    self._move_fulfillment(fo, F.CANCELLED, at)
            demand = list(self.backordered())
        self.delivery, self.shipping_address = delivery, address
        self.updated_at = at
        if not demand:
            self.refresh_status(at)
        # else the routing of the demand refreshes it (and the caller, if it routes none),
        # so the order does not pass through "backordered" on its way.
        return EditEffect(
            released=tuple(released), demand=tuple(demand), reroute=reroute,
            lines=tuple(EditedLine(line_id=x.line_id, sku=x.sku, unit_price=x.unit_price,
                                   before=before.get(x.line_id, 0), after=x.open_quantity)
                        for x in self.lines
                        if x.open_quantity != before.get(x.line_id, 0)),
            cancelled_fulfillment_orders=tuple(
                fo.id for fo in self._fulfillment_orders
                if fo.status is F.CANCELLED and fo.id not in cancelled))
