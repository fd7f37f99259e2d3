"""Pick up in store (``oms.pickups``): the store marks a pickup ready, the customer collects
it (in parts if they like), and what is not collected by its deadline is cancelled and its
stock released. Ship-to-store transfers are planned by routing
(``omskit.services.ship_to_store``); a pickup cannot be ready while one is on its way.
Decision 40."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from omskit.domain.checks import check_count, refuse
from omskit.domain.commands import CollectPickup, ExpireUncollectedPickups, MarkReadyForPickup
from omskit.domain.errors import PickupNotReady
from omskit.domain.events import new_id
from omskit.domain.inventory import Supply
from omskit.domain.lifecycle import FulfillmentStatus
from omskit.domain.order import FulfillmentOrder, Order
from omskit.domain.pickup import pickup_settings
from omskit.domain.values import DeliveryKind, LineQuantity
from omskit.services.allocation import lock_stock_of
from omskit.services.database import Database
from omskit.services.orders import OrderService, release_reservations, require_id
from omskit.services.shipping import consume_shipped
from omskit.store.uow import UnitOfWork

F = FulfillmentStatus
#: Pickups expired per read of the queue (each in its own transaction).
EXPIRE_BATCH = 200


class PickupService:
    """Pick up in store: ``ready``, ``collect``, ``expire_uncollected`` (``oms.pickups``).

    Every write is a command (``MarkReadyForPickup``, ``CollectPickup``,
    ``ExpireUncollectedPickups``) and is safe to retry.
    """

    def __init__(self, *, db: Database, orders: OrderService, clock: Callable[[], datetime],
                 settings: Mapping[str, Any]) -> None:
        self._db = db
        self._orders = orders
        self._clock = clock
        #: ``settings["pickup"]`` (validated at bootstrap): the collection deadline.
        self._settings = settings

    def _collect_days(self) -> int:
        return pickup_settings(self._settings).collect_days

    def _order_of(self, fulfillment_order_id: str) -> str:
        require_id(fulfillment_order_id, "fulfillment_order_id")
        with self._db.uow() as uow:
            return uow.orders.order_id_for_fulfillment(fulfillment_order_id)

    # -- ready ------------------------------------------------------------------------------

    def ready(self, fulfillment_order_id: str) -> FulfillmentOrder:
        """The store set the goods aside: the pickup is ``ready_for_pickup`` until its
        ``collect_by`` deadline (``settings["pickup"]["collect_days"]`` days from now), with
        the event ``pickup.ready``. A released fulfilment order is accepted on the way.

        :class:`PickupNotReady` when it is not a pickup at its own store or a ship-to-store
        transfer for it has not arrived; :class:`IllegalTransition` from a status that
        cannot be ready. Marking a ready pickup ready again changes nothing.
        """
        return self._ready(MarkReadyForPickup(fulfillment_order_id=fulfillment_order_id))

    def _ready(self, c: MarkReadyForPickup) -> FulfillmentOrder:
        fo_id = c.fulfillment_order_id

        def change(uow: UnitOfWork, order: Order, at: datetime) -> None:
            fo = order.fulfillment_order(fo_id)
            if fo.status is F.READY_FOR_PICKUP:
                return
            delivery = order.delivery
            if (delivery.kind is not DeliveryKind.PICKUP
                    or delivery.pickup_location != fo.location):
                raise PickupNotReady(fo_id, f"order {order.id} is not collected at "
                                            f"{fo.location}")
            coming = uow.inventory.transfers_for(fo_id)
            if coming:
                said = ", ".join(f"{s.quantity} {s.sku} due {s.eta.isoformat()}"
                                 for s in coming)
                raise PickupNotReady(fo_id, f"transfer to the store not received yet ({said})")
            if fo.status is F.RELEASED:
                order.advance_fulfillment(fo_id, F.ACCEPTED, at)
            order.mark_ready_for_pickup(fo_id, at, at + timedelta(days=self._collect_days()))

        order = self._orders.change(self._order_of(fo_id), change)
        return order.fulfillment_order(fo_id)

    # -- collect ----------------------------------------------------------------------------

    def collect(self, fulfillment_order_id: str, lines: Iterable[LineQuantity] = (), *,
                collection_id: str | None = None) -> FulfillmentOrder:
        """The customer collected ``lines`` (empty: everything left) of a ready pickup: their
        reserved units leave the store's stock (ledger ``ship`` movements), the event
        ``pickup.collected`` follows, and a pickup collected in full is delivered.

        :class:`InvalidCommand` for a line it does not have or more units than are ready,
        :class:`IllegalTransition` unless it is ready; nothing changes then. With a
        ``collection_id``, a retry of the same collection changes nothing.
        """
        return self._collect(CollectPickup(fulfillment_order_id=fulfillment_order_id,
                                           lines=tuple(lines), collection_id=collection_id))

    def _collect(self, c: CollectPickup) -> FulfillmentOrder:
        fo_id = c.fulfillment_order_id
        collection_id = c.collection_id or new_id()

        def change(uow: UnitOfWork, order: Order, at: datetime) -> None:
            fo = order.fulfillment_order(fo_id)
            if fo.shipment_by_id(collection_id) is not None:
                return  # this collection was recorded already
            handover = order.collect(fo_id, collection_id, c.lines, at)
            consume_shipped(uow, order, fo, handover.lines, at)

        order = self._orders.change(self._order_of(fo_id), change)
        return order.fulfillment_order(fo_id)

    # -- expire -----------------------------------------------------------------------------

    def expire_uncollected(self, now: datetime | None = None) -> int:
        """Expire every pickup still ready at its ``collect_by`` deadline (at or before
        ``now``, default the clock): what was not collected is cancelled on the order
        (``pickup.expired``, ``order.lines_cancelled``) and its reserved units go back to
        the store's available stock. Returns how many pickups this call expired.

        Idempotent and safe to run concurrently: each pickup is expired in its own
        transaction under its order's lock, and only if it is still ready then; a second
        sweeper finds it expired and leaves it.
        """
        return self._expire(ExpireUncollectedPickups(now=now))

    def _expire(self, c: ExpireUncollectedPickups) -> int:
        expired = 0
        tried: set[str] = set()
        while True:
            cutoff = c.now or self._clock()
            with self._db.uow() as uow:
                due = [(o, f) for o, f in uow.orders.uncollected(cutoff, EXPIRE_BATCH)
                       if f not in tried]
            if not due:
                return expired
            for order_id, fo_id in due:
                tried.add(fo_id)
                if self._expire_one(order_id, fo_id, cutoff):
                    expired += 1

    def _expire_one(self, order_id: str, fo_id: str, cutoff: datetime) -> bool:
        done: list[bool] = []

        def change(uow: UnitOfWork, order: Order, at: datetime) -> None:
            done.clear()
            fo = order.fulfillment_order(fo_id)
            # Read again under the order's lock: another sweeper (or the customer) may have
            # got there first.
            if (fo.status is not F.READY_FOR_PICKUP or fo.collect_by is None
                    or fo.collect_by > cutoff):
                return
            lock_stock_of(uow, order)
            order.expire_pickup(fo_id, at)
            release_reservations(uow, order.id, "not collected", at, fo_id)
            done.append(True)

        self._orders.change(order_id, change)
        return bool(done)

    # -- reads ------------------------------------------------------------------------------

    def transfers(self, fulfillment_order_id: str) -> list[Supply]:
        """Ship-to-store transfers still on their way for this fulfilment order, earliest
        first (``FulfillmentOrderNotFound`` for an unknown id): the pickup can be ready
        once this is empty."""
        require_id(fulfillment_order_id, "fulfillment_order_id")
        with self._db.uow() as uow:
            uow.orders.order_id_for_fulfillment(fulfillment_order_id)
            return uow.inventory.transfers_for(fulfillment_order_id)

    def uncollected(self, now: datetime | None = None, *, limit: int = 200
                    ) -> list[FulfillmentOrder]:
        """Pickups past their deadline at ``now`` (default: the clock) that no sweep has
        expired yet, earliest deadline first, at most ``limit`` (1..10,000)."""
        problems: list[str] = []
        check_count(limit, "limit", problems, minimum=1, maximum=10_000)
        refuse(problems, "pickup query")
        with self._db.uow() as uow:
            ids = uow.orders.uncollected(now or self._clock(), limit)
            orders = {o.id: o for o in uow.orders.get_many(sorted({o for o, _ in ids}))}
        return [orders[o].fulfillment_order(f) for o, f in ids]
