"""Routing and reserving in one step, on the same stock rows, in the caller's transaction.

There is never a moment where a location is chosen but its stock not yet reserved: the plan
is reserved with conditional updates in the same transaction, and any part another order
took in between is planned again.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime

import attrs

from omskit.domain.delivery_dates import delivery_date
from omskit.domain.events import RoutedQuantity, StockReserved, new_id
from omskit.domain.inventory import Location, Reservation
from omskit.domain.lifecycle import ORDER_OPEN_FOR_ROUTING, FulfillmentStatus, OrderStatus
from omskit.domain.order import FulfillmentOrder, Order
from omskit.domain.routing import RoutingRequest
from omskit.domain.values import Coordinates, DeliveryKind, LineQuantity
from omskit.plugins import Hooks
from omskit.routing.engine import Decision, RoutingEngine
from omskit.services.ship_to_store import (
    PlannedTransfer,
    plan_transfers,
    record_transfers,
    store_ready_date,
    wants_ship_to_store,
)
from omskit.services.soft_reservations import convert_cart
from omskit.services.sourcing import source_in_rounds
from omskit.store.uow import UnitOfWork


def destination_of(order: Order, uow: UnitOfWork,
                   router: RoutingEngine) -> tuple[Coordinates | None, str]:
    """Where the goods go: the shipping address, or the pickup location; an address without
    coordinates is geocoded. With the coordinates, where they came from when geocoded."""
    if order.delivery.kind is DeliveryKind.PICKUP and order.delivery.pickup_location:
        location = uow.inventory.location(order.delivery.pickup_location)
        return (location.coordinates if location else None), ""
    address = order.shipping_address
    if address is None:
        return None, ""
    if address.coordinates is not None:
        return address.coordinates, ""
    return router.locate(address)


def order_request(order: Order, uow: UnitOfWork, router: RoutingEngine, *,
                  exclude: Iterable[str] = (), at: datetime,
                  demand: Sequence[LineQuantity] | None = None) -> RoutingRequest:
    """The routing request for what ``order`` still lacks (or for ``demand``, part of it)."""
    address = order.shipping_address
    destination, source = destination_of(order, uow, router)
    return RoutingRequest(
        order_id=order.id, channel=order.channel,
        segment=order.customer.segment or "standard",
        demand=order.backordered() if demand is None else tuple(demand),
        delivery=order.delivery, destination=destination, destination_source=source,
        destination_country=address.country if address else None,
        customer_id=order.customer.id, at=at, wanted_by=order.promised_date,
        exclude_locations=frozenset(exclude),
    )


def lock_stock_of(uow: UnitOfWork, order: Order) -> None:
    """Lock every stock row routing ``order`` may change, in the one global order, before
    anything changes (``InventoryRepository.lock_stock``): every row of its lines' SKUs, at
    any location a plan or re-plan may choose, those its reservations hold among them, and
    those its cart still holds (after the cart's own locks). Again in one transaction: free.
    """
    uow.inventory.lock_stock((line.sku for line in order.lines),
                             carts=(order.cart_id,) if order.cart_id is not None else ())


def allocate(router: RoutingEngine, hooks: Hooks, uow: UnitOfWork, order: Order, *,
             exclude: Iterable[str] = (), at: datetime,
             demand: Sequence[LineQuantity] | None = None,
             repromise: bool = False) -> list[FulfillmentOrder]:
    """Route what is still unallocated on ``order``, reserve it, create fulfilment orders.

    ``router`` decides with the strategy ``hooks`` choose (``omskit_choose_routing_strategy``).

    Whatever no location can fill stays backordered on the order. Every decision's
    explanation is stored with the order. A location's daily capacity is taken with a
    conditional update in the same transaction, like its stock.

    ``demand`` routes only those quantities (part of what is unallocated: what an edit
    changed). ``repromise``: when everything routed is sourced, the promised date becomes
    the later of the promise and this routing's last delivery date (the promise if none
    yet), instead of being set on the first routing only.
    """
    wanted = order.backordered() if demand is None else tuple(demand)
    if not wanted:
        return []
    lock_stock_of(uow, order)
    if order.cart_id is not None:
        # The cart's held units go back to stock in this transaction, so this order, and no
        # other, can reserve them now (a no-op once converted, released or expired; an
        # order held at placement converts when its hold is released).
        convert_cart(uow, order.cart_id, at)
    request = order_request(order, uow, router, exclude=exclude, at=at, demand=wanted)
    day = at.astimezone(UTC).date()
    first_routing = order.status is OrderStatus.VALIDATED
    # Where each used location is and how long its cheapest lane takes, for the promise.
    lanes: dict[str, tuple[Location, int]] = {}
    charged: set[str] = set()  # locations whose daily capacity this routing already took

    def reserve(decision: Decision, ordered: Sequence[RoutedQuantity]
                ) -> tuple[list[RoutedQuantity], list[LineQuantity]]:
        uow.routing.add_decision(decision.record)
        missed: list[LineQuantity] = []
        took: dict[str, list[RoutedQuantity]] = defaultdict(list)
        done = uow.inventory.reserve_many([(a.location, a.sku, a.quantity) for a in ordered],
                                          order.id, at)
        for a, reserved_now in zip(ordered, done, strict=True):
            if reserved_now:
                took[a.location].append(a)
            else:
                missed.append(LineQuantity(line_id=a.line_id, sku=a.sku, quantity=a.quantity))
        # Capacity after stock, on every path: stock rows, then load rows, in one order. Only
        # locations that really got units take a slot, once per routing.
        for location in sorted(took):
            # Only the used candidates are built (check_plan: every one is a candidate).
            candidate = decision.candidates.get(location)
            assert candidate is not None
            lanes[location] = (candidate.location,
                               next((t.transit_days for t in candidate.terms
                                     if t.transit_days is not None), 0))
            capacity = candidate.location.daily_capacity
            if capacity is None or location in charged:
                continue
            if uow.routing.take_capacity(location, day, capacity):
                charged.add(location)
                continue
            # Full since the plan was made (a concurrent order took the last slot).
            for a in took.pop(location):
                uow.inventory.release(a.location, a.sku, a.quantity, order.id, at)
                missed.append(LineQuantity(line_id=a.line_id, sku=a.sku, quantity=a.quantity))
        return [a for items in took.values() for a in items], missed

    sourced = source_in_rounds(router, uow, request,
                               hooks.choose_routing_strategy(request), reserve, at=at)
    reserved: dict[tuple[str, str, str], int] = defaultdict(int)
    for a in sourced.taken:
        reserved[(a.location, a.line_id, a.sku)] += a.quantity
    backordered = sourced.unsourced
    transfers: list[PlannedTransfer] = []
    if backordered and wants_ship_to_store(router, order):
        # The pickup store lacks these units: ship them to it (decision 42).
        transfers, backordered = plan_transfers(
            router, hooks, uow, order, attrs.evolve(request, demand=backordered),
            exclude=exclude, at=at)
    coming: dict[tuple[str, str, str], int] = defaultdict(int)
    for t in transfers:
        coming[(order.delivery.pickup_location or "", t.line_id, t.sku)] += t.quantity
    if not reserved and not coming and order.status is not OrderStatus.VALIDATED:
        # Nothing new could be sourced for an order already routed: no event, no new version.
        return []
    allocations = [RoutedQuantity(location=loc, line_id=line, sku=sku,
                                  quantity=reserved.get((loc, line, sku), 0)
                                  + coming.get((loc, line, sku), 0))
                   for (loc, line, sku) in {**reserved, **coming}]
    created = order.add_fulfillment_orders(sourced.strategy, allocations, backordered, at)
    for fo in created:
        if fo.location in charged:
            # Remembered so that a rejection or cancellation before picking gives it back.
            fo.capacity_day = day
    store_fo = next((fo for fo in created if transfers
                     and fo.location == order.delivery.pickup_location), None)
    if store_fo is not None:
        record_transfers(uow, order, store_fo.id, transfers, at)
    if (first_routing or repromise) and created and not backordered:
        # Fully sourced: promise the date the last parcel arrives; goods coming to a pickup
        # store by transfer count the transfer's transit. A date quoted at checkout (or
        # promised before an edit) is kept when routing can meet it; when it cannot, the
        # promise moves later, never earlier, and the timeline says so (order.promise_moved).
        dates = [delivery_date(lanes[fo.location][0], at, lanes[fo.location][1])
                 for fo in created if fo.location in lanes]
        if store_fo is not None:
            store = uow.inventory.location(store_fo.location)
            assert store is not None
            dates.append(store_ready_date(store, transfers))
        if dates:
            order.move_promise(max(dates), "edit" if repromise else "placement", at)
    # Units coming by transfer are reserved when the transfer arrives, not now.
    reservations = [
        Reservation(id=new_id(), order_id=order.id, line_id=line.line_id,
                    fulfillment_order_id=fo.id, location=fo.location, sku=line.sku,
                    quantity=units, created_at=at)
        for fo in created for line in fo.lines
        if (units := reserved.get((fo.location, line.line_id, line.sku), 0))
    ]
    uow.inventory.add_reservations(reservations)
    for r in reservations:
        uow.emit(StockReserved(order=order.id, occurred_at=at, reservation_id=r.id,
                               location=r.location, sku=r.sku, quantity=r.quantity,
                               line_id=r.line_id))
    return created


def give_back_capacity(uow: UnitOfWork, order: Order,
                       held: Mapping[str, tuple[str, date]]) -> None:
    """Give back the daily-capacity slot of each fulfilment order in ``held`` (id: location
    and day of its slot, read before a change) that holds none any more: it was rejected or
    cancelled before picking. The slot goes back to the day it was taken on."""
    for fo_id, (location, day) in sorted(held.items(), key=lambda item: item[1]):
        if order.fulfillment_order(fo_id).capacity_day is None:
            uow.routing.give_back_capacity(location, day)


def route_remaining(router: RoutingEngine, hooks: Hooks, uow: UnitOfWork, order: Order, *,
                    at: datetime, exclude: Iterable[str] = ()) -> list[FulfillmentOrder]:
    """Route whatever the order still lacks, unless it is held or closed.

    Locations that rejected this order before are left out, and ``exclude``. A pickup
    order's pickup location is left out only by ``exclude`` (the re-route right after it
    rejected): its rejection holds the order (``pickup_rejected``), and an operator who
    releases that hold asks it again. A held order keeps its demand unallocated until the
    last hold is released (which calls this again).
    """
    if order.active_holds or order.status not in ORDER_OPEN_FOR_ROUTING or not order.backordered():
        return []
    lock_stock_of(uow, order)
    rejected = {fo.location for fo in order.fulfillment_orders
                if fo.status is FulfillmentStatus.REJECTED}
    if order.delivery.kind is DeliveryKind.PICKUP:
        rejected.discard(order.delivery.pickup_location or "")
    return allocate(router, hooks, uow, order, exclude=rejected | set(exclude), at=at)
