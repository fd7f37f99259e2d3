"""Routing and reserving in one step, on the same stock rows, in the caller's transaction.

There is never a moment where a location is chosen but its stock not yet reserved: the plan
is reserved with conditional updates in the same transaction, and any part another order
took in between is planned again.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime

from omskit.domain.errors import OmsError
from omskit.domain.events import RoutedQuantity, StockReserved, new_id
from omskit.domain.inventory import Capability, Reservation
from omskit.domain.lifecycle import ORDER_OPEN_FOR_ROUTING, FulfillmentStatus, OrderStatus
from omskit.domain.order import FulfillmentOrder, Order
from omskit.domain.routing import Candidate, RoutingPlan, RoutingRequest
from omskit.domain.values import Coordinates, DeliveryKind, LineQuantity
from omskit.services.runtime import Runtime
from omskit.store.uow import UnitOfWork

#: Re-planning rounds when concurrent orders took planned stock first.
MAX_PLAN_ROUNDS = 5


class InvalidRoutingPlan(OmsError):
    """A routing strategy returned a plan that breaks its contract (a plugin bug)."""


def destination_of(order: Order, uow: UnitOfWork) -> Coordinates | None:
    """Where the goods go: the shipping address, or the pickup location."""
    if order.delivery.kind is DeliveryKind.PICKUP and order.delivery.pickup_location:
        location = uow.inventory.location(order.delivery.pickup_location)
        return location.coordinates if location else None
    address = order.shipping_address
    return address.coordinates if address else None


def gather_candidates(uow: UnitOfWork, request: RoutingRequest) -> list[Candidate]:
    """Locations able to serve the request's delivery method, with their ATP per SKU."""
    pickup = request.delivery.kind is DeliveryKind.PICKUP
    candidates = []
    for location, available in uow.inventory.candidates(d.sku for d in request.demand):
        usable = location.can(Capability.PICKUP) if pickup else location.ships
        if not usable or location.code in request.exclude_locations:
            continue
        distance = None
        if request.destination is not None and location.coordinates is not None:
            distance = location.coordinates.distance_km(request.destination)
        candidates.append(Candidate(location=location, available=available,
                                    distance_km=distance))
    return candidates


def _check_plan(plan: RoutingPlan, request: RoutingRequest,
                candidates: Sequence[Candidate]) -> None:
    by_code = {c.location.code: c for c in candidates}
    wanted = {d.line_id: d for d in request.demand}
    given: dict[str, int] = defaultdict(int)
    for a in plan.allocations:
        if a.location not in by_code or a.line_id not in wanted or a.quantity <= 0:
            raise InvalidRoutingPlan(f"{plan.strategy}: allocation {a} is not a candidate")
        if a.sku != wanted[a.line_id].sku:
            raise InvalidRoutingPlan(f"{plan.strategy}: allocation {a} has the wrong SKU")
        given[a.line_id] += a.quantity
    for b in plan.backordered:
        given[b.line_id] += b.quantity
    for line_id, d in wanted.items():
        if given[line_id] != d.quantity:
            raise InvalidRoutingPlan(
                f"{plan.strategy}: line {line_id} planned {given[line_id]} of {d.quantity}")


def _merge(quantities: Iterable[LineQuantity]) -> tuple[LineQuantity, ...]:
    total: dict[tuple[str, str], int] = defaultdict(int)
    for q in quantities:
        total[(q.line_id, q.sku)] += q.quantity
    return tuple(LineQuantity(line_id=k[0], sku=k[1], quantity=v) for k, v in total.items())


def allocate(rt: Runtime, uow: UnitOfWork, order: Order, *, exclude: Iterable[str] = (),
             at: datetime) -> list[FulfillmentOrder]:
    """Route what is still unallocated on ``order``, reserve it, create fulfilment orders.

    Whatever no location can fill stays backordered on the order.
    """
    demand = order.backordered()
    if not demand:
        return []
    strategy = rt.strategies.get(rt.hooks.choose_routing_strategy(order))
    request = RoutingRequest(
        order_id=order.id, channel=order.channel,
        segment=order.customer.segment or "standard", demand=demand,
        delivery=order.delivery, destination=destination_of(order, uow),
        exclude_locations=frozenset(exclude),
    )
    reserved: dict[tuple[str, str, str], int] = defaultdict(int)
    backordered: tuple[LineQuantity, ...] = demand
    for _ in range(MAX_PLAN_ROUNDS):
        candidates = gather_candidates(uow, request)
        plan = strategy.plan(request, candidates)
        _check_plan(plan, request, candidates)
        missed: list[LineQuantity] = []
        # A fixed lock order (location, SKU) keeps concurrent placements from deadlocking.
        for a in sorted(plan.allocations, key=lambda a: (a.location, a.sku, a.line_id)):
            if uow.inventory.reserve(a.location, a.sku, a.quantity, order.id, at):
                reserved[(a.location, a.line_id, a.sku)] += a.quantity
            else:
                missed.append(LineQuantity(line_id=a.line_id, sku=a.sku, quantity=a.quantity))
        backordered = _merge([*missed, *plan.backordered])
        if not missed:
            break
        request = RoutingRequest(
            order_id=request.order_id, channel=request.channel, segment=request.segment,
            demand=backordered, delivery=request.delivery, destination=request.destination,
            exclude_locations=request.exclude_locations)
    if not reserved and order.status is not OrderStatus.VALIDATED:
        # Nothing new could be sourced for an order already routed: no event, no new version.
        return []
    allocations = [RoutedQuantity(location=loc, line_id=line, sku=sku, quantity=q)
                   for (loc, line, sku), q in reserved.items()]
    created = order.add_fulfillment_orders(strategy.code, allocations, backordered, at)
    reservations = [
        Reservation(id=new_id(), order_id=order.id, line_id=line.line_id,
                    fulfillment_order_id=fo.id, location=fo.location, sku=line.sku,
                    quantity=line.quantity, created_at=at)
        for fo in created for line in fo.lines
    ]
    uow.inventory.add_reservations(reservations)
    for r in reservations:
        uow.emit(StockReserved(order=order.id, occurred_at=at, reservation_id=r.id,
                               location=r.location, sku=r.sku, quantity=r.quantity,
                               line_id=r.line_id))
    return created


def route_remaining(rt: Runtime, uow: UnitOfWork, order: Order, *,
                    at: datetime) -> list[FulfillmentOrder]:
    """Route whatever the order still lacks, unless it is held or closed.

    Locations that rejected this order before are left out. A held order keeps its demand
    unallocated until the last hold is released (which calls this again).
    """
    if order.active_holds or order.status not in ORDER_OPEN_FOR_ROUTING or not order.backordered():
        return []
    rejected = {fo.location for fo in order.fulfillment_orders
                if fo.status is FulfillmentStatus.REJECTED}
    return allocate(rt, uow, order, exclude=rejected, at=at)
