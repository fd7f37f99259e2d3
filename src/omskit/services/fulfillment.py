"""Moving fulfilment orders through their lifecycle: release, accept/reject, pick, pack, ship,
deliver. A rejection re-routes the lines elsewhere; shipping consumes the reserved stock."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from omskit.domain.checks import (
    MAX_TEXT_LENGTH,
    check_count,
    check_location_code,
    refuse,
)
from omskit.domain.commands import (
    AcceptFulfillmentOrder,
    DeliverFulfillmentOrder,
    PackFulfillmentOrder,
    PickFulfillmentOrder,
    RejectFulfillmentOrder,
    ReleaseOrder,
    ShipFulfillmentOrder,
)
from omskit.domain.events import new_id
from omskit.domain.lifecycle import FulfillmentStatus
from omskit.domain.order import FulfillmentOrder, Order
from omskit.domain.shipping import Shipment
from omskit.domain.values import DeliveryKind
from omskit.plugins import Hooks
from omskit.ports import ShippingCarrier
from omskit.registries import Registry
from omskit.routing.engine import RoutingEngine
from omskit.services.allocation import lock_stock_of, route_remaining
from omskit.services.database import Database
from omskit.services.orders import (
    MAX_PAGE_SIZE,
    OrderService,
    release_reservations,
    require_id,
)
from omskit.services.ship_to_store import require_arrived
from omskit.services.shipping import consume_shipped
from omskit.services.tenders import hold_expired_authorisations
from omskit.store.uow import UnitOfWork

F = FulfillmentStatus
#: Hold code of a pickup order whose pickup location rejected its fulfilment order.
PICKUP_REJECTED = "pickup_rejected"


def _clip(text: str) -> str:
    """``text`` cut to the length a hold reason may have (the rejection reason alone may use
    all of it)."""
    if len(text) <= MAX_TEXT_LENGTH:
        return text
    return text[:MAX_TEXT_LENGTH - 1] + "…"


class FulfillmentService:
    """The fulfilment side of the public API (``oms.fulfillment``).

    Every step is idempotent: asking for the status a fulfilment order already has returns it
    unchanged, so a retried call from a warehouse system is harmless.
    """

    def __init__(self, *, db: Database, orders: OrderService, hooks: Hooks,
                 router: RoutingEngine, carriers: Registry[ShippingCarrier]) -> None:
        self._db = db
        self._orders = orders
        self._hooks = hooks
        self._router = router
        #: Shipping carriers: ``ship`` refuses a carrier nobody installed.
        self._carriers = carriers

    def _order_of(self, fulfillment_order_id: str) -> str:
        require_id(fulfillment_order_id, "fulfillment_order_id")
        with self._db.uow() as uow:
            return uow.orders.order_id_for_fulfillment(fulfillment_order_id)

    def _step(self, fulfillment_order_id: str, target: FulfillmentStatus) -> FulfillmentOrder:
        def change(uow: UnitOfWork, order: Order, at: datetime) -> None:
            if order.fulfillment_order(fulfillment_order_id).status is not target:
                if target is F.PICKED:
                    require_arrived(uow, fulfillment_order_id)
                order.advance_fulfillment(fulfillment_order_id, target, at)

        order = self._orders.change(self._order_of(fulfillment_order_id), change)
        return order.fulfillment_order(fulfillment_order_id)

    def release(self, order_id: str) -> Order:
        """Send every new fulfilment order of the order to its location."""
        return self._release(ReleaseOrder(order_id=order_id))

    def _release(self, c: ReleaseOrder) -> Order:
        def change(uow: UnitOfWork, order: Order, at: datetime) -> None:
            if hold_expired_authorisations(uow, self._db.tables, order, at):
                return  # held until the payment is authorised again (oms.payments)
            for fo in order.fulfillment_orders:
                if fo.status is F.CREATED:
                    order.advance_fulfillment(fo.id, F.RELEASED, at)

        return self._orders.change(c.order_id, change)

    def accept(self, fulfillment_order_id: str) -> FulfillmentOrder:
        """The location agrees to fulfil it."""
        return self._accept(AcceptFulfillmentOrder(fulfillment_order_id=fulfillment_order_id))

    def _accept(self, c: AcceptFulfillmentOrder) -> FulfillmentOrder:
        return self._step(c.fulfillment_order_id, F.ACCEPTED)

    def pick(self, fulfillment_order_id: str) -> FulfillmentOrder:
        """The goods were picked from the shelves."""
        return self._pick(PickFulfillmentOrder(fulfillment_order_id=fulfillment_order_id))

    def _pick(self, c: PickFulfillmentOrder) -> FulfillmentOrder:
        return self._step(c.fulfillment_order_id, F.PICKED)

    def pack(self, fulfillment_order_id: str) -> FulfillmentOrder:
        """The goods were packed."""
        return self._pack(PackFulfillmentOrder(fulfillment_order_id=fulfillment_order_id))

    def _pack(self, c: PackFulfillmentOrder) -> FulfillmentOrder:
        return self._step(c.fulfillment_order_id, F.PACKED)

    def reject(self, fulfillment_order_id: str, reason: str) -> Order:
        """The location refuses: release its reservations and route the lines elsewhere.

        Locations that rejected this order before are excluded; what no other location can
        fill is backordered. On a held order the lines wait, unallocated, for the hold's
        release. Returns the order with its new fulfilment orders.

        A pickup order whose pickup location rejected is re-sourced by a transfer to the
        store when another location has the goods (ship-to-store); one that nothing could
        source is held with the code ``pickup_rejected`` (the reason names the location and its
        reason): an operator sorts it out with the store and releases the hold, which routes
        the order again, to the pickup location too, or cancels it.
        """
        return self._reject(RejectFulfillmentOrder(fulfillment_order_id=fulfillment_order_id,
                                                   reason=reason))

    def _reject(self, c: RejectFulfillmentOrder) -> Order:
        fulfillment_order_id, reason = c.fulfillment_order_id, c.reason

        def change(uow: UnitOfWork, order: Order, at: datetime) -> None:
            if order.fulfillment_order(fulfillment_order_id).status is F.REJECTED:
                return
            fo = order.reject_fulfillment(fulfillment_order_id, reason, at)
            # The rows it gives back and the rows the re-route may take, locked at once in
            # the global order before either changes.
            lock_stock_of(uow, order)
            # The rejecting location's units are free again (ReservationReleased's handler
            # offers them to other waiting orders).
            release_reservations(uow, order.id, "fulfilment order rejected", at,
                                 fulfillment_order_id)
            route_remaining(self._router, self._hooks, uow, order, at=at, exclude=(fo.location,))
            pickup = order.delivery
            if (pickup.kind is DeliveryKind.PICKUP and fo.location == pickup.pickup_location
                    and order.backordered()):
                # Nobody else can hand it over at that store, and no transfer could
                # resupply it (ship-to-store, decision 42, found no source or is off):
                # without a hold it would wait for ever, unseen.
                said = f"pickup location {fo.location} rejected fulfilment order {fo.id}"
                if reason:
                    said = f"{said}: {reason}"
                order.place_hold(PICKUP_REJECTED, _clip(said), at)

        return self._orders.change(self._order_of(fulfillment_order_id), change)

    def ship(self, fulfillment_order_id: str, *, carrier: str,
             tracking_number: str) -> FulfillmentOrder:
        """Every unit not yet shipped left in one shipment with ``carrier`` (an installed
        shipping carrier: ``UnknownShippingCarrier`` otherwise) under ``tracking_number``,
        a label bought outside omskit: reserved stock is consumed from on-hand and
        reserved. Partial shipments and labels bought through omskit: ``oms.shipping``."""
        return self._ship(ShipFulfillmentOrder(fulfillment_order_id=fulfillment_order_id,
                                               carrier=carrier,
                                               tracking_number=tracking_number))

    def _ship(self, c: ShipFulfillmentOrder) -> FulfillmentOrder:
        fulfillment_order_id = c.fulfillment_order_id
        # Resolved before anything is written: a misspelt carrier is refused, not stored.
        self._carriers.get(c.carrier)

        def change(uow: UnitOfWork, order: Order, at: datetime) -> None:
            fo = order.fulfillment_order(fulfillment_order_id)
            if fo.status in (F.SHIPPED, F.DELIVERED):
                return
            shipment = Shipment(id=new_id(), carrier=c.carrier,
                                tracking_number=c.tracking_number, shipped_at=at)
            order.ship_fulfillment(fulfillment_order_id, shipment)
            consume_shipped(uow, order, fo, shipment.lines, at)

        order = self._orders.change(self._order_of(fulfillment_order_id), change)
        return order.fulfillment_order(fulfillment_order_id)

    def deliver(self, fulfillment_order_id: str) -> FulfillmentOrder:
        """The shipment reached the customer."""
        return self._deliver(DeliverFulfillmentOrder(fulfillment_order_id=fulfillment_order_id))

    def _deliver(self, c: DeliverFulfillmentOrder) -> FulfillmentOrder:
        fulfillment_order_id = c.fulfillment_order_id

        def change(uow: UnitOfWork, order: Order, at: datetime) -> None:
            if order.fulfillment_order(fulfillment_order_id).status is not F.DELIVERED:
                order.deliver_fulfillment(fulfillment_order_id, at)

        order = self._orders.change(self._order_of(fulfillment_order_id), change)
        return order.fulfillment_order(fulfillment_order_id)

    # -- reads ----------------------------------------------------------------------------------

    def get(self, fulfillment_order_id: str) -> FulfillmentOrder:
        """One fulfilment order (``FulfillmentOrderNotFound`` for an unknown id)."""
        require_id(fulfillment_order_id, "fulfillment_order_id")
        with self._db.uow() as uow:
            order = uow.orders.get(uow.orders.order_id_for_fulfillment(fulfillment_order_id))
        return order.fulfillment_order(fulfillment_order_id)

    def at_location(self, location: str, statuses: Iterable[FulfillmentStatus] | None = None,
                    *, limit: int = 200) -> list[FulfillmentOrder]:
        """A location's work queue: its fulfilment orders in ``statuses`` (default: those
        still to be picked, packed or shipped), oldest first, at most ``limit`` (1..10,000).
        Arguments are checked first: :class:`InvalidCommand`."""
        problems: list[str] = []
        check_location_code(location, "location", problems)
        check_count(limit, "limit", problems, minimum=1, maximum=MAX_PAGE_SIZE)
        wanted = sorted(s.value for s in (F.RELEASED, F.ACCEPTED, F.PICKED, F.PACKED))
        if statuses is not None:
            wanted = []
            if isinstance(statuses, str | bytes) or not isinstance(statuses, Iterable):
                problems.append("statuses: a list of fulfilment statuses")
            else:
                for status in statuses:
                    try:
                        wanted.append(F(status).value)
                    except (ValueError, TypeError):
                        problems.append(f"statuses: {status!r} is not a fulfilment status")
        refuse(problems, "fulfilment queue")
        with self._db.uow() as uow:
            ids = uow.orders.fulfillment_ids_at(location, wanted, limit)
            orders = {o.id: o for o in uow.orders.get_many(sorted({o for o, _ in ids}))}
        return [orders[order_id].fulfillment_order(fo_id) for order_id, fo_id in ids]
