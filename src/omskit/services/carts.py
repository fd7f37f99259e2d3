"""Soft reservations: stock held for a cart for a limited time (``oms.carts``).

A hold chooses locations with the real routing engine (rules, prices, the strategy an order
would get) and reserves the units with the same conditional updates as an order, so while it
lasts no order and no other cart can take them. It ends in one of three ways, each exactly
once per row (a conditional ``UPDATE … WHERE status = 'active'``):

- the cart lets go (``release``) or is held again (the new hold replaces it);
- its time-to-live runs out and a sweeper (``expire``) gives the units back;
- an order placed with the cart converts it (:func:`convert_cart`, in the order's
  transaction), so that order can reserve the same units.

Soft holds emit no events: they are short-lived and frequent, and an order placed from the
cart reports the reservations that matter. The ledger records every unit held and released
(reference ``cart:<id>``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TypeVar

from omskit.domain.checks import check_identifier, refuse
from omskit.domain.commands.carts import MAX_TTL, MIN_TTL, ExpireCarts, HoldCart, ReleaseCart
from omskit.domain.errors import CartNotFound, LocationNotFound
from omskit.domain.events import Event, RoutedQuantity, new_id
from omskit.domain.promise import (
    CartHold,
    CartLine,
    SoftReservation,
    SoftReservationStatus,
)
from omskit.domain.routing import RoutingRequest
from omskit.domain.values import (
    Coordinates,
    DeliveryKind,
    DeliveryMethod,
    LineQuantity,
)
from omskit.plugins import Hooks
from omskit.routing.engine import Decision, RoutingEngine
from omskit.services.database import Database
from omskit.services.dispatch import EventDispatcher
from omskit.services.soft_reservations import convert_cart, end_soft_reservations
from omskit.services.sourcing import source_in_rounds
from omskit.store.uow import UnitOfWork

#: Soft reservations one sweeper transaction expires; ``expire`` loops until none is left.
EXPIRE_BATCH = 500

T = TypeVar("T")

__all__ = ["MAX_TTL", "MIN_TTL", "CartService", "convert_cart", "end_soft_reservations"]


def _check_cart_id(cart_id: object) -> None:
    problems: list[str] = []
    check_identifier(cart_id, "cart_id", problems)
    refuse(problems, "cart")


class CartService:
    """Soft reservations for carts: ``hold``, ``get``, ``release``, ``expire``."""

    def __init__(self, *, db: Database, dispatcher: EventDispatcher,
                 clock: Callable[[], datetime], hooks: Hooks, router: RoutingEngine) -> None:
        self._db = db
        self._dispatcher = dispatcher
        self._clock = clock
        self._hooks = hooks
        self._router = router

    # -- holding ---------------------------------------------------------------------------------

    def hold(self, cart_id: str, lines: Mapping[str, int] | Iterable[CartLine], *,
             ttl: timedelta, channel: str, destination: Coordinates | None = None,
             country: str | None = None, delivery: DeliveryMethod | None = None,
             segment: str | None = None) -> CartHold:
        """Hold ``lines`` for the cart for ``ttl``, at the locations routing would choose.

        Holding the cart again replaces its previous hold in one transaction (the same
        lines give the same hold, with a new expiry). Units no location can hold now are
        reported in ``CartHold.short``. ``InvalidCommand`` lists every bad argument, and
        nothing is written.
        """
        return self._hold(HoldCart(cart_id=cart_id, lines=lines,
                                   ttl=ttl, channel=channel, destination=destination,
                                   country=country, delivery=delivery, segment=segment))

    def _hold(self, c: HoldCart) -> CartHold:
        cart_id, channel, ttl, destination, country, segment = (
            c.cart_id, c.channel, c.ttl, c.destination, c.country, c.segment)
        wanted, method = c.lines, c.method

        def op(uow: UnitOfWork, at: datetime) -> CartHold:
            uow.inventory.lock_cart(cart_id)  # one hold of a cart at a time
            previous = uow.inventory.soft_reservations(cart_id, for_update=True)
            # The rows the old hold gives back and every row the new one may take, locked
            # at once in the global order before either changes.
            uow.inventory.lock_stock([*(r.sku for r in previous), *(x.sku for x in wanted)])
            end_soft_reservations(uow, previous, SoftReservationStatus.RELEASED, at)
            where = destination
            if method.kind is DeliveryKind.PICKUP:
                assert method.pickup_location is not None
                store = uow.inventory.location(method.pickup_location)
                if store is None:
                    raise LocationNotFound(method.pickup_location)
                where = where or store.coordinates
            demand = tuple(LineQuantity(line_id=str(i), sku=line.sku, quantity=line.quantity)
                           for i, line in enumerate(wanted, start=1))
            request = RoutingRequest(
                order_id=cart_id, channel=channel, segment=segment or "standard",
                demand=demand, delivery=method, destination=where,
                destination_country=country, customer_id=cart_id, at=at)

            def hold_softly(_decision: Decision, ordered: Sequence[RoutedQuantity]
                            ) -> tuple[list[RoutedQuantity], list[LineQuantity]]:
                got: list[RoutedQuantity] = []
                missed: list[LineQuantity] = []
                for a in ordered:
                    if uow.inventory.soft_reserve(a.location, a.sku, a.quantity, cart_id, at):
                        got.append(a)
                    else:
                        missed.append(LineQuantity(line_id=a.line_id, sku=a.sku,
                                                   quantity=a.quantity))
                return got, missed

            sourced = source_in_rounds(self._router, uow, request,
                                       self._hooks.choose_routing_strategy(request), hold_softly,
                                       at=at)
            held: dict[tuple[str, str], int] = defaultdict(int)
            for a in sourced.taken:
                held[(a.location, a.sku)] += a.quantity
            short: dict[str, int] = defaultdict(int)
            for q in sourced.unsourced:
                short[q.sku] += q.quantity
            expires_at = at + ttl
            rows = [SoftReservation(id=new_id(), cart_id=cart_id, location=location, sku=sku,
                                    quantity=quantity, status=SoftReservationStatus.ACTIVE,
                                    created_at=at, expires_at=expires_at)
                    for (location, sku), quantity in sorted(held.items())]
            uow.inventory.add_soft_reservations(rows)
            return CartHold(cart_id=cart_id, expires_at=expires_at if rows else None,
                            held=tuple(rows), short=dict(short))

        return self._run(op)

    def get(self, cart_id: str) -> CartHold:
        """The cart's active hold, or :class:`CartNotFound` when it holds nothing.

        A hold past its expiry that no sweeper has released yet is still shown (it still
        holds the units): run :meth:`expire` periodically.
        """
        _check_cart_id(cart_id)
        with self._db.uow() as uow:
            rows = uow.inventory.soft_reservations(cart_id)
        if not rows:
            raise CartNotFound(cart_id)
        return CartHold(cart_id=cart_id, expires_at=min(r.expires_at for r in rows),
                        held=tuple(rows))

    def release(self, cart_id: str) -> int:
        """Give the cart's held units back; returns how many. Again: 0.

        :class:`CartNotFound` for a cart that never held anything.
        """
        return self._release(ReleaseCart(cart_id=cart_id))

    def _release(self, c: ReleaseCart) -> int:
        cart_id = c.cart_id

        def op(uow: UnitOfWork, at: datetime) -> list[SoftReservation]:
            uow.inventory.lock_cart(cart_id)
            found = uow.inventory.soft_reservations(cart_id, for_update=True)
            if not found and not uow.inventory.cart_known(cart_id):
                raise CartNotFound(cart_id)
            return end_soft_reservations(uow, found, SoftReservationStatus.RELEASED, at)

        return sum(r.quantity for r in self._run(op))

    def expire(self, now: datetime | None = None) -> int:
        """Release every active hold whose expiry is at or before ``now`` (default: the
        clock); returns how many soft reservations this call expired.

        Safe to run from several processes at once: each row is expired (and its units
        given back) by exactly one of them. Run it periodically (every minute, say).
        """
        return self._expire(ExpireCarts(now=now))

    def _expire(self, c: ExpireCarts) -> int:
        now = c.now
        total = 0
        while True:

            def op(uow: UnitOfWork, at: datetime) -> tuple[int, list[SoftReservation]]:
                lapsed = uow.inventory.lapsed_soft_reservations(now or at, EXPIRE_BATCH)
                ended = end_soft_reservations(uow, lapsed, SoftReservationStatus.EXPIRED, at)
                return len(lapsed), ended

            seen, ended = self._run(op)
            total += len(ended)
            if seen < EXPIRE_BATCH:
                break
        return total

    # -- plumbing --------------------------------------------------------------------------------

    def _run(self, operation: Callable[[UnitOfWork, datetime], T]) -> T:
        """Run ``operation`` in a unit of work, committed, again on transient conflicts, then
        dispatch its events (a hold that ended offers its units to waiting backorders)."""

        def attempt() -> tuple[T, list[Event]]:
            with self._db.uow() as uow:
                result = operation(uow, self._clock())
                return result, uow.commit()

        result, events = self._db.retrying(attempt)
        self._dispatcher.dispatch(events)
        return result
