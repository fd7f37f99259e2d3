"""Ending soft reservations (cart holds), shared by the cart service and order placement.

Kept apart from :mod:`omskit.services.carts` because routing (which converts a cart when its
order is first routed) and carts (which route to choose where to hold) need each other.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import attrs

from omskit.domain.events import CartHoldEnded
from omskit.domain.promise import SoftReservation, SoftReservationStatus
from omskit.store.uow import UnitOfWork


def end_soft_reservations(uow: UnitOfWork, reservations: Iterable[SoftReservation],
                          status: SoftReservationStatus,
                          at: datetime) -> list[SoftReservation]:
    """End these soft reservations (in stock-row lock order) and give their units back.

    A row another transaction ended first is skipped: its units were already given back.
    A hold that ends without becoming an order emits :class:`CartHoldEnded` (whose handler
    offers the units to waiting backorders); a converted one goes to its order unseen.
    Returns the reservations this call ended.
    """
    ended = []
    for r in sorted(reservations, key=lambda r: (r.location, r.sku, r.id)):
        if uow.inventory.end_soft_reservation(r.id, status, at):
            uow.inventory.soft_unreserve(r.location, r.sku, r.quantity, r.cart_id, at)
            ended.append(attrs.evolve(r, status=status, ended_at=at))
            if status is not SoftReservationStatus.CONVERTED:
                uow.emit(CartHoldEnded(occurred_at=at, cart_id=r.cart_id, location=r.location,
                                       sku=r.sku, quantity=r.quantity, status=status.value))
    return ended


def convert_cart(uow: UnitOfWork, cart_id: str, at: datetime) -> int:
    """Release the cart's active soft reservations to an order placed in ``uow``.

    Call it in the placing transaction before routing: the units become available again
    under this transaction's row locks, so the order reserves them (wherever its routing
    sends it) before anybody else can. Holds past their expiry but not yet swept are
    converted too. Returns the units released (0 for an unknown or already ended cart:
    placement goes on without the hold).
    """
    uow.inventory.lock_cart(cart_id)
    found = uow.inventory.soft_reservations(cart_id, for_update=True)
    ended = end_soft_reservations(uow, found, SoftReservationStatus.CONVERTED, at)
    return sum(r.quantity for r in ended)
