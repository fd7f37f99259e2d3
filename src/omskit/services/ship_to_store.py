"""Ship-to-store: a pickup store that lacks stock is supplied by transfer (decision 42).

When routing a pickup order leaves units unsourced (only the pickup store may hand them
over, and it has none), the same routing engine plans them again as a *shipment to the
store*: the order's channel, rules, prices and strategy, the store as the destination, the
store itself left out as a source. Each planned quantity leaves its source at once
(``transfer_out`` in the ledger, under the stock locks routing already holds) and becomes
open supply at the store, due after the source's cut-off, processing days and the lane's
transit, **reserved for the order's fulfilment order at the store** (``supplies.order_id``,
``fulfillment_order_id``): available-to-promise and quotes never count it for anyone else.
Receiving it (``oms.inventory.receive_supply``) reserves its units for that fulfilment order
(:func:`reserve_arrived_transfer`); until every transfer for it arrived, the pickup cannot be
made ready.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time

import attrs

from omskit.domain.delivery_dates import delivery_date, ship_date
from omskit.domain.errors import GoodsInTransit, InsufficientStock
from omskit.domain.events import RoutedQuantity, StockReserved, SupplyRegistered, new_id
from omskit.domain.inventory import Location, MovementKind, Reservation, Supply, SupplyKind
from omskit.domain.lifecycle import FulfillmentStatus
from omskit.domain.order import Order
from omskit.domain.pickup import PickupTransferPlanned, pickup_settings
from omskit.domain.routing import RoutingRequest
from omskit.domain.values import DeliveryKind, DeliveryMethod, LineQuantity
from omskit.plugins import Hooks
from omskit.routing.engine import Decision, RoutingEngine
from omskit.services.sourcing import source_in_rounds
from omskit.store.uow import UnitOfWork


def require_arrived(uow: UnitOfWork, fulfillment_order_id: str) -> None:
    """Refuse (``GoodsInTransit``) to pick, ship or hand over a fulfilment order whose
    goods a ship-to-store transfer is still bringing: the units on the store's shelf belong
    to other orders until the transfer is received."""
    coming = uow.inventory.transfers_for(fulfillment_order_id)
    if coming:
        raise GoodsInTransit(fulfillment_order_id, ", ".join(
            f"{s.quantity} {s.sku} due {s.eta.isoformat()}" for s in coming))


@attrs.frozen(kw_only=True)
class PlannedTransfer:
    """One quantity of one line that leaves ``source`` for the pickup store, due at
    ``eta``."""

    source: str
    line_id: str
    sku: str
    quantity: int
    eta: datetime


def eta_of(source_location: Location, at: datetime, transit_days: int) -> datetime:
    """When goods leaving ``source_location`` (a Location) at ``at`` reach the store: the
    start of the day :func:`~omskit.domain.delivery_dates.delivery_date` gives (one date
    calculation for quotes, promises and transfers), never before ``at``."""
    day = delivery_date(source_location, at, transit_days)
    return max(at, datetime.combine(day, time.min, tzinfo=UTC))


def wants_ship_to_store(router: RoutingEngine, order: Order) -> bool:
    """Whether unsourced units of ``order`` may come to its pickup store by transfer."""
    return (order.delivery.kind is DeliveryKind.PICKUP
            and order.delivery.pickup_location is not None
            and pickup_settings(router.settings).ship_to_store)


def plan_transfers(router: RoutingEngine, hooks: Hooks, uow: UnitOfWork, order: Order,
                   request: RoutingRequest, *, exclude: Iterable[str],
                   at: datetime) -> tuple[list[PlannedTransfer], tuple[LineQuantity, ...]]:
    """Route ``request``'s demand (units the pickup store lacks) as shipments to the store and
    move what the plan found out of its sources. Returns the transfers and what no
    location could send. The caller holds the stock locks of the order's SKUs
    (``lock_stock_of``), so the plan's figures hold until the transfers leave."""
    store = order.delivery.pickup_location
    assert store is not None
    shipped = attrs.evolve(request, delivery=DeliveryMethod(),
                           exclude_locations=frozenset({*exclude, store}))
    transfers: list[PlannedTransfer] = []

    def take(decision: Decision, ordered: Sequence[RoutedQuantity]
             ) -> tuple[list[RoutedQuantity], list[LineQuantity]]:
        uow.routing.add_decision(decision.record)
        got: list[RoutedQuantity] = []
        missed: list[LineQuantity] = []
        for a in ordered:
            try:
                uow.inventory.remove_on_hand(a.location, a.sku, a.quantity,
                                             MovementKind.TRANSFER_OUT,
                                             f"ship-to-store {store} order {order.id}", at)
            except InsufficientStock:
                missed.append(LineQuantity(line_id=a.line_id, sku=a.sku, quantity=a.quantity))
                continue
            # Only the used candidates are built (check_plan: every one is a candidate).
            candidate = decision.candidates.get(a.location)
            assert candidate is not None
            transit = next((t.transit_days for t in candidate.terms
                            if t.transit_days is not None), 0)
            transfers.append(PlannedTransfer(
                source=a.location, line_id=a.line_id, sku=a.sku, quantity=a.quantity,
                eta=eta_of(candidate.location, at, transit)))
            got.append(a)
        return got, missed

    sourced = source_in_rounds(router, uow, shipped, hooks.choose_routing_strategy(shipped),
                               take, at=at, capacity=False)
    return transfers, sourced.unsourced


def record_transfers(uow: UnitOfWork, order: Order, fulfillment_order_id: str,
                     transfers: Sequence[PlannedTransfer], at: datetime) -> None:
    """Open supply at the store for each transfer, reserved for the fulfilment order, with
    ``pickup.transfer_planned`` (and ``supply.registered``) events."""
    store = order.delivery.pickup_location
    assert store is not None
    for t in transfers:
        supply = Supply(id=new_id(), location=store, sku=t.sku, quantity=t.quantity,
                        eta=t.eta, kind=SupplyKind.TRANSFER,
                        reference=f"ship-to-store {t.source}->{store} order {order.id}",
                        created_at=at, order_id=order.id,
                        fulfillment_order_id=fulfillment_order_id)
        uow.inventory.add_supply(supply)
        uow.emit(SupplyRegistered(occurred_at=at, supply_id=supply.id, location=store,
                                  sku=t.sku, quantity=t.quantity, eta=t.eta))
        uow.emit(PickupTransferPlanned(
            order=order.id, occurred_at=at, fulfillment_order_id=fulfillment_order_id,
            supply_id=supply.id, from_location=t.source, location=store, sku=t.sku,
            quantity=t.quantity, eta=t.eta))


def store_ready_date(store_location: Location, transfers: Sequence[PlannedTransfer]) -> date:
    """The day the goods of ``transfers`` can be collected: the store's own cut-off and
    processing days after the last one arrives."""
    return ship_date(store_location, max(t.eta for t in transfers))


def reserve_arrived_transfer(uow: UnitOfWork, supply: Supply, at: datetime) -> bool:
    """A ship-to-store transfer arrived (its units are on hand at the store): reserve them
    for the fulfilment order it was sent for, line by line where that fulfilment order
    still lacks reserved units. False (units left as anyone's stock) when the fulfilment
    order no longer takes them: cancelled, rejected, or expired meanwhile."""
    if supply.order_id is None or supply.fulfillment_order_id is None:
        return False
    order = uow.orders.get(supply.order_id)
    fo = order.fulfillment_order(supply.fulfillment_order_id)
    if fo.status not in (FulfillmentStatus.CREATED, FulfillmentStatus.RELEASED,
                         FulfillmentStatus.ACCEPTED, FulfillmentStatus.PICKED,
                         FulfillmentStatus.PACKED):
        return False
    held: dict[str, int] = {}
    for r in uow.inventory.active_reservations(order.id, fo.id):
        held[r.line_id] = held.get(r.line_id, 0) + r.quantity
    left = supply.quantity
    reservations: list[Reservation] = []
    for line in fo.lines:
        if line.sku != supply.sku or not left:
            continue
        need = min(left, line.quantity - held.get(line.line_id, 0))
        if need <= 0:
            continue
        reservations.append(Reservation(
            id=new_id(), order_id=order.id, line_id=line.line_id, fulfillment_order_id=fo.id,
            location=supply.location, sku=supply.sku, quantity=need, created_at=at))
        left -= need
    if not reservations:
        return False
    total = sum(r.quantity for r in reservations)
    uow.inventory.reserve_arrived(supply.location, supply.sku, total, order.id, at)
    uow.inventory.add_reservations(reservations)
    for r in reservations:
        uow.emit(StockReserved(order=order.id, occurred_at=at, reservation_id=r.id,
                               location=r.location, sku=r.sku, quantity=r.quantity,
                               line_id=r.line_id))
    return True
