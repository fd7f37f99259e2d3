"""The lifecycles of orders and fulfilment orders, as data.

Each aggregate's allowed status changes are one table here, checked by :func:`check`; plugins
can veto an allowed change through ``omskit_validate_transition`` but never allow one the table
forbids.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import TypeVar

from omskit.domain.errors import IllegalTransition


class OrderStatus(enum.StrEnum):
    """Where an order is in its life."""

    RECEIVED = "received"
    VALIDATED = "validated"
    ON_HOLD = "on_hold"
    BACKORDERED = "backordered"
    ALLOCATED = "allocated"
    RELEASED = "released"
    PARTIALLY_SHIPPED = "partially_shipped"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class FulfillmentStatus(enum.StrEnum):
    """Where the part of an order that one location fulfils is in its life."""

    CREATED = "created"
    RELEASED = "released"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    PICKED = "picked"
    PACKED = "packed"
    #: A pickup order's goods are set aside at the store for the customer to collect.
    READY_FOR_PICKUP = "ready_for_pickup"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


_O = OrderStatus
ORDER_TRANSITIONS: Mapping[OrderStatus, frozenset[OrderStatus]] = {
    _O.RECEIVED: frozenset({_O.VALIDATED, _O.ON_HOLD, _O.CANCELLED}),
    _O.VALIDATED: frozenset({_O.ON_HOLD, _O.ALLOCATED, _O.BACKORDERED, _O.CANCELLED}),
    # Releasing the last hold returns the order to where routing puts it. Holds stop
    # releases, not shipments: a part released before the hold may have shipped meanwhile.
    # Cancelling the lines a held order still waited for can leave only released or
    # shipped parts: releasing the hold then lands where they put the order.
    _O.ON_HOLD: frozenset(
        {_O.VALIDATED, _O.ALLOCATED, _O.BACKORDERED, _O.RELEASED, _O.PARTIALLY_SHIPPED,
         _O.SHIPPED, _O.DELIVERED, _O.CANCELLED}
    ),
    _O.BACKORDERED: frozenset(
        {_O.ALLOCATED, _O.RELEASED, _O.PARTIALLY_SHIPPED, _O.ON_HOLD, _O.CANCELLED}
    ),
    # After a rejection is re-routed the order is allocated (the new part is not released)
    # while another part may already be packed: its shipment makes it partially shipped.
    _O.ALLOCATED: frozenset(
        {_O.RELEASED, _O.BACKORDERED, _O.PARTIALLY_SHIPPED, _O.ON_HOLD, _O.CANCELLED}
    ),
    # A rejection can send a released order back to allocated (re-routed) or backordered.
    _O.RELEASED: frozenset(
        {_O.ALLOCATED, _O.BACKORDERED, _O.PARTIALLY_SHIPPED, _O.SHIPPED, _O.CANCELLED}
    ),
    # Cancelling the unshipped rest closes the order: shipped, or delivered if the shipped
    # part already arrived. A hold stops the release of what is still to come (a pickup
    # store that rejected the rest holds it for an operator).
    _O.PARTIALLY_SHIPPED: frozenset({_O.SHIPPED, _O.DELIVERED, _O.ON_HOLD}),
    _O.SHIPPED: frozenset({_O.DELIVERED}),
    _O.DELIVERED: frozenset({_O.COMPLETED}),
    _O.COMPLETED: frozenset(),
    _O.CANCELLED: frozenset(),
}

_F = FulfillmentStatus
FULFILLMENT_TRANSITIONS: Mapping[FulfillmentStatus, frozenset[FulfillmentStatus]] = {
    _F.CREATED: frozenset({_F.RELEASED, _F.CANCELLED}),
    _F.RELEASED: frozenset({_F.ACCEPTED, _F.REJECTED, _F.CANCELLED}),
    _F.ACCEPTED: frozenset({_F.PICKED, _F.READY_FOR_PICKUP, _F.CANCELLED}),
    _F.PICKED: frozenset({_F.PACKED, _F.READY_FOR_PICKUP, _F.CANCELLED}),
    _F.PACKED: frozenset({_F.SHIPPED, _F.READY_FOR_PICKUP, _F.CANCELLED}),
    # Collected in full: handed over (shipped, then delivered at once); not collected by
    # its deadline: cancelled, the goods back on the shelf (decision 42).
    _F.READY_FOR_PICKUP: frozenset({_F.SHIPPED, _F.CANCELLED}),
    _F.SHIPPED: frozenset({_F.DELIVERED}),
    _F.DELIVERED: frozenset(),
    _F.REJECTED: frozenset(),
    _F.CANCELLED: frozenset(),
}

#: Statuses in which an order's unallocated quantity may be routed.
ORDER_OPEN_FOR_ROUTING = frozenset(
    {_O.VALIDATED, _O.BACKORDERED, _O.ALLOCATED, _O.RELEASED, _O.PARTIALLY_SHIPPED}
)
#: Fulfilment statuses that still hold stock for the order.
FULFILLMENT_ACTIVE = frozenset({_F.CREATED, _F.RELEASED, _F.ACCEPTED, _F.PICKED, _F.PACKED,
                                _F.READY_FOR_PICKUP})
#: Fulfilment statuses before picking: a line cancellation may shrink or cancel one, and one
#: rejected or cancelled gives back its daily-capacity slot.
FULFILLMENT_BEFORE_PICK = frozenset({_F.CREATED, _F.RELEASED, _F.ACCEPTED})
#: Fulfilment statuses whose goods are in hand at the location: left to ship by line
#: cancellations and short closes.
FULFILLMENT_IN_HAND = frozenset({_F.PICKED, _F.PACKED, _F.READY_FOR_PICKUP})
#: Fulfilment statuses whose goods have left the location.
FULFILLMENT_SHIPPED = frozenset({_F.SHIPPED, _F.DELIVERED})


S = TypeVar("S", OrderStatus, FulfillmentStatus)


def check(
    aggregate: str, key: str, table: Mapping[S, frozenset[S]], current: S, target: S
) -> None:
    """Raise :class:`IllegalTransition` unless ``table`` allows ``current`` → ``target``."""
    if target not in table[current]:
        raise IllegalTransition(aggregate, key, current.value, target.value)
