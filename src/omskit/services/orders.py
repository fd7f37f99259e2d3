"""Placing, finding, holding, cancelling and completing orders."""

from __future__ import annotations

import gc
import logging
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from datetime import datetime
from typing import Any

import attrs
import sqlalchemy as sa

from omskit.builtin.validation import UNKNOWN_SKU
from omskit.domain.checks import (
    check_code,
    check_count,
    check_each,
    check_identifier,
    check_moment,
    refuse,
)
from omskit.domain.commands import (
    AllocateBackorders,
    CancelLines,
    CancelOrder,
    CompleteOrder,
    PlaceHold,
    PlaceOrder,
    ReleaseHold,
    ShortClose,
)
from omskit.domain.errors import (
    IdempotencyConflict,
    IdempotencyKeyConflict,
    InvalidCommand,
    OrderNotFound,
    OrderVersionMismatch,
)
from omskit.domain.events import (
    CancelledQuantity,
    Event,
    OrderLinesCancelled,
    ReservationReleased,
    new_id,
)
from omskit.domain.inventory import ReservationStatus
from omskit.domain.lifecycle import OrderStatus
from omskit.domain.order import Order
from omskit.domain.routing import RoutingDecision
from omskit.plugins import Hooks
from omskit.ports import PaymentProvider
from omskit.registries import Registry
from omskit.routing.engine import RoutingEngine
from omskit.services.allocation import (
    allocate,
    give_back_capacity,
    lock_stock_of,
    route_remaining,
)
from omskit.services.database import Database
from omskit.services.dispatch import EventDispatcher
from omskit.services.tenders import check_tenders, open_tenders
from omskit.store.availability import AvailabilityQueries
from omskit.store.orders import OrderQuery, OrderSummary
from omskit.store.uow import UnitOfWork

#: A change applied to a loaded order inside its unit of work.
_Change = Callable[[UnitOfWork, Order, datetime], None]
#: External ids looked up per query by :meth:`OrderService.place_many`.
_LOOKUP_CHUNK = 500
#: Largest ``limit`` of a search and ``page_size`` of :meth:`OrderService.iter_all`.
MAX_PAGE_SIZE = 10_000
#: Largest ``offset`` of a search (use ``after``, keyset paging, to go further).
MAX_OFFSET = 1_000_000
_QUERY_FIELDS = frozenset(f.name for f in attrs.fields(OrderQuery))
logger = logging.getLogger("omskit")


@attrs.define
class _Expectation:
    """The version ``expecting_version`` holds a change to, until the first change."""

    order_id: str
    version: int
    checked: bool = False


_EXPECTED: ContextVar[_Expectation | None] = ContextVar("omskit_expected_order_version",
                                                       default=None)



@contextmanager
def _expecting(expectation: _Expectation) -> Iterator[None]:
    token = _EXPECTED.set(expectation)
    try:
        yield
    finally:
        _EXPECTED.reset(token)

def order_query(query: object, filters: dict[str, object]) -> OrderQuery:
    """``query``, or an :class:`OrderQuery` of the keyword ``filters``, checked field by
    field: :class:`InvalidCommand` lists every problem before anything is read."""
    problems: list[str] = []
    if query is not None and filters:
        refuse(["filters: give a query or keyword filters, not both"], "order query")
    if query is None:
        unknown = sorted(set(filters) - _QUERY_FIELDS)
        refuse([f"{name}: not a filter of OrderQuery" for name in unknown], "order query")
        given = filters.get("statuses", ())
        if isinstance(given, list | set | frozenset):
            filters = {**filters, "statuses": tuple(given)}
        query = OrderQuery(**filters)  # type: ignore[arg-type]
    if not isinstance(query, OrderQuery):
        refuse([f"query: must be an OrderQuery, not {type(query).__name__}"], "order query")
    assert isinstance(query, OrderQuery)
    if query.customer_id is not None:
        check_identifier(query.customer_id, "customer_id", problems)
    if query.channel is not None:
        check_code(query.channel, "channel", problems)
    if query.external_id is not None:
        check_identifier(query.external_id, "external_id", problems)
    statuses: object = query.statuses
    if not isinstance(statuses, tuple):
        problems.append(f"statuses: must be a tuple of order statuses, not {statuses!r}")
    else:
        for i, status in enumerate(statuses):
            if not isinstance(status, str) or status not in _STATUS_VALUES:
                problems.append(f"statuses[{i}]: {status!r} is not an order status")
    for name in ("placed_from", "placed_to"):
        if getattr(query, name) is not None:
            check_moment(getattr(query, name), name, problems)
    check_count(query.limit, "limit", problems, minimum=1, maximum=MAX_PAGE_SIZE)
    check_count(query.offset, "offset", problems, minimum=0, maximum=MAX_OFFSET)
    after: object = query.after
    if after is not None:
        if not isinstance(after, tuple) or len(after) != 2:
            problems.append("after: must be (placed_at, order id) of the last order seen")
        else:
            check_moment(after[0], "after[0]", problems)
            check_identifier(after[1], "after[1]", problems)
    refuse(problems, "order query")
    return query


_STATUS_VALUES = frozenset(s.value for s in OrderStatus)


class _CollectorPause:
    """Python's cyclic garbage collector paused while batches run (decision 46).

    A batch keeps every object of every order it places (orders, events, rows) alive until
    its commit, so the collector, triggered by allocations, scans them again and again and
    promotes them all to the oldest generation, whose growth then triggers full collections
    of the whole heap: a fifth to a third of a batch's CPU time. Reference counting still
    frees what is not in a cycle; cycles made meanwhile are collected as usual once the
    collector runs again. Batches may run in several threads at once: the first to start
    pauses the collector (if it was running) and the last to end restores it, so it is never
    left off, nor turned on against the host's wish (unless the host turns it off while a
    batch runs; it is turned back on when the batch ends).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0
        self._was_enabled = False

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._running == 0:
                self._was_enabled = gc.isenabled()
                gc.disable()
            self._running += 1
        try:
            yield
        finally:
            with self._lock:
                self._running -= 1
                if self._running == 0 and self._was_enabled:
                    gc.enable()


_collector_paused = _CollectorPause()
#: Waiting orders read per batch of queries when the queue is loaded.
_QUEUE_BATCH = 200
#: Most waiting orders one call of :meth:`OrderService.waiting` considers.
MAX_WAITING = 10_000
#: Held orders validated again per call of :meth:`OrderService.revalidate_unknown_skus`.
_REVALIDATE_LIMIT = 10_000


def _same_command(command: PlaceOrder | tuple[str, str], fingerprint: str, order_id: str,
                  stored: str | None) -> None:
    """Raise :class:`IdempotencyConflict` unless the order ``order_id`` was placed by a
    command with this fingerprint. Orders placed before fingerprints were stored, or under
    another version of them, cannot be compared and are taken as the same."""
    if stored is None or stored.partition(":")[0] != fingerprint.partition(":")[0]:
        return
    if stored != fingerprint:
        channel, external_id = (command if isinstance(command, tuple)
                                else (command.channel, command.external_id))
        raise IdempotencyConflict(channel, external_id, order_id)


@attrs.frozen(kw_only=True)
class TimelineEntry:
    """One event in an order's history."""

    occurred_at: datetime
    event_type: str
    event: Event


def release_reservations(uow: UnitOfWork, order_id: str, reason: str, at: datetime,
                         fulfillment_order_id: str | None = None) -> set[str]:
    """Give back an order's active reservations (or one fulfilment order's); returns the
    SKUs that became promisable again."""
    found = uow.inventory.active_reservations(order_id, fulfillment_order_id)
    for r in found:
        uow.inventory.release(r.location, r.sku, r.quantity, order_id, at)
        uow.emit(ReservationReleased(order=order_id, occurred_at=at, reservation_id=r.id,
                                     location=r.location, sku=r.sku, quantity=r.quantity,
                                     reason=reason))
    uow.inventory.set_reservation_status([r.id for r in found], ReservationStatus.RELEASED)
    return {r.sku for r in found}


def release_cancelled(uow: UnitOfWork, order_id: str, released: Iterable[CancelledQuantity],
                      reason: str, at: datetime) -> set[str]:
    """Give back the stock that cancelled units held in fulfilment orders (a reservation
    shrinks, or is released when nothing of it is left); returns the SKUs that became
    promisable again. Backordered units held nothing."""
    wanted: dict[tuple[str, str], int] = defaultdict(int)
    for c in released:
        if c.fulfillment_order_id is not None:
            wanted[(c.fulfillment_order_id, c.line_id)] += c.quantity
    found = [r for fo_id in sorted({fo for fo, _ in wanted})
             for r in uow.inventory.active_reservations(order_id, fo_id)]
    ended: list[str] = []
    freed: set[str] = set()
    # Stock rows in the one lock order every pass uses: location, then SKU.
    for r in sorted(found, key=lambda r: (r.location, r.sku, r.id)):
        key = (str(r.fulfillment_order_id), r.line_id)
        take = min(wanted.get(key, 0), r.quantity)
        if not take:
            continue
        wanted[key] -= take
        freed.add(r.sku)
        uow.inventory.release(r.location, r.sku, take, order_id, at)
        if take == r.quantity:
            ended.append(r.id)
        else:
            uow.inventory.reduce_reservation(r.id, take)
        uow.emit(ReservationReleased(order=order_id, occurred_at=at, reservation_id=r.id,
                                     location=r.location, sku=r.sku, quantity=take,
                                     reason=reason))
    uow.inventory.set_reservation_status(ended, ReservationStatus.RELEASED)
    return freed


def require_id(value: object, field: str) -> None:
    """Raise :class:`InvalidCommand` unless ``value`` is a well-formed identifier: a wrong
    type or a control character must not reach the database driver."""
    problems: list[str] = []
    check_identifier(value, field, problems)
    if problems:
        raise InvalidCommand(problems, subject="lookup")


class OrderService:
    """The order side of the public API (``oms.orders``)."""

    def __init__(self, *, db: Database, dispatcher: EventDispatcher,
                 clock: Callable[[], datetime], hooks: Hooks, router: RoutingEngine,
                 settings: Mapping[str, Any], providers: Registry[PaymentProvider]) -> None:
        self._db = db
        self._dispatcher = dispatcher
        self._clock = clock
        self._hooks = hooks
        self._router = router
        self._settings = settings
        #: Payment providers: a tender naming none of them is refused before anything is
        #: written.
        self._providers = providers

    def place(self, command: PlaceOrder) -> Order:
        """Receive, validate, route and reserve an order in one transaction.

        Idempotent on ``(channel, external_id)``: if that order exists and was placed by an
        identical command (:meth:`PlaceOrder.fingerprint`), it is returned and nothing is
        written, even when two deliveries race; if the command differs (other lines,
        quantities, customer, currency...) :class:`IdempotencyConflict`. Validation problems
        put the order on hold (no stock is reserved); otherwise it ends ``allocated`` or
        ``backordered``.
        """
        given: object = command
        if not isinstance(given, PlaceOrder):
            refuse([f"command: expected a PlaceOrder, got {type(given).__name__}"], "order")
        fingerprint = command.fingerprint()
        check_tenders(self._providers, [command])
        skus = [line.sku for line in command.lines]

        def attempt() -> tuple[Order, list[Event]]:
            with self._db.uow() as uow:
                # The new order's stock rows are locked by the look-up's round trip (the
                # lock ``_create`` takes, earlier); after its cart's lock when it has one.
                existing = uow.placed_for_external(
                    command.channel, command.external_id,
                    locking=() if command.cart_id is not None else skus)
                if existing is not None:
                    _same_command(command, fingerprint, *existing)
                    return uow.orders.get(existing[0]), []
                order = self._create(uow, command, fingerprint)
                return order, uow.commit()

        try:
            order, events = self._db.retrying(attempt)
        except sa.exc.IntegrityError:
            # A concurrent delivery of the same order committed first: return that one.
            with self._db.uow() as uow:
                existing = uow.orders.placed_for_external(command.channel, command.external_id)
                if existing is None:
                    raise
                _same_command(command, fingerprint, *existing)
                return uow.orders.get(existing[0])
        self._dispatcher.dispatch(events)
        return order

    def place_many(self, commands: Iterable[PlaceOrder]) -> list[Order]:
        """Place many orders in one transaction; returns one order per command, in order.

        Each order goes through exactly what :meth:`place` does (segment, validation hooks,
        routing, conditional reservations, fulfilment orders, outbox rows), in the order
        given, so a later order sees the stock an earlier one reserved. Idempotent per
        ``(channel, external_id)``: an order placed before by an identical command is
        returned unchanged and writes nothing; a key repeated within the batch with an
        identical command gets the first command's order (the same object); other content
        under a key placed before or repeated is :class:`IdempotencyConflict`. All or
        nothing: any error rolls the whole batch back. Anything but a
        ``PlaceOrder`` raises :class:`InvalidCommand` before a transaction is opened.
        Retried as a whole on transient conflicts, like :meth:`place`; events are
        dispatched after the commit. Python's cyclic garbage collector is paused while the
        batch is placed and restored after, error or not (decision 46).
        """
        given: object = commands
        if isinstance(given, str | bytes) or not isinstance(given, Iterable):
            refuse([f"commands: must be a list of PlaceOrder, not {type(given).__name__}"],
                   "order batch")
        batch = list(commands)
        problems = [f"[{i}]: expected a PlaceOrder, got {type(c).__name__}"
                    for i, c in enumerate(batch) if not isinstance(c, PlaceOrder)]
        if problems:
            raise InvalidCommand(problems, subject="order batch")
        if not batch:
            return []
        # One fingerprint per key: a key repeated with other content is refused before
        # anything is read or written.
        fingerprints: dict[tuple[str, str], str] = {}
        for command in batch:
            key = (command.channel, command.external_id)
            fingerprint = command.fingerprint()
            if fingerprints.setdefault(key, fingerprint) != fingerprint:
                raise IdempotencyConflict(command.channel, command.external_id, None)
        keys = list(fingerprints)
        check_tenders(self._providers, batch)

        existing: set[tuple[str, str]] = set()  # keys placed before the last attempt

        def attempt() -> tuple[list[Order], list[Event]]:
            with self._db.uow() as uow:
                placed = self._ids_for_external(uow, keys)
                for key, (order_id, stored) in placed.items():
                    _same_command(key, fingerprints[key], order_id, stored)
                ids = {key: order_id for key, (order_id, _) in placed.items()}
                existing.clear()
                existing.update(ids)
                found: dict[tuple[str, str], Order] = {
                    key: uow.orders.get(order_id) for key, order_id in ids.items()}
                # Every stock row the batch may change, its carts' included, locked in the
                # global (location, SKU) order before any order is routed (PostgreSQL), and
                # read once: concurrent writers queue rather than deadlock.
                new = [command for command in batch
                       if (command.channel, command.external_id) not in ids]
                skus = [line.sku for command in new for line in command.lines]
                uow.inventory.lock_stock(skus, carts=(command.cart_id for command in new
                                                      if command.cart_id is not None))
                uow.inventory.preload(skus)
                orders: list[Order] = []
                for command in batch:
                    key = (command.channel, command.external_id)
                    order = found.get(key)
                    if order is None:
                        order = self._create(uow, command, fingerprints[key])
                        found[key] = order
                    orders.append(order)
                return orders, uow.commit()

        while True:
            try:
                with _collector_paused():
                    orders, events = self._db.retrying(attempt)
                break
            except sa.exc.IntegrityError:
                # A concurrent delivery of some of these orders committed first: run the
                # batch again, which finds and returns those orders. Only while that is so
                # (each round then finds at least one more): otherwise the constraint failed
                # for another reason.
                if self._db.in_host_transaction:
                    raise
                with self._db.uow() as uow:
                    if set(self._ids_for_external(uow, keys)) <= existing:
                        raise
        self._dispatcher.dispatch(events)
        return orders

    def _create(self, uow: UnitOfWork, command: PlaceOrder, fingerprint: str) -> Order:
        """A new order from ``command``: segment, validate, route and reserve, add."""
        at = self._clock()
        order = Order.place(command, order_id=new_id(), at=at, fingerprint=fingerprint)
        # Its stock rows locked first, in the global order, by the read validation and
        # routing use anyway (free in a batch, which locked them all).
        lock_stock_of(uow, order)
        segment = self._hooks.customer_segment(order)
        if segment != order.customer.segment:
            order.customer = attrs.evolve(order.customer, segment=segment)
        order.accept_validation(self._hooks.validate_order(order, uow.inventory), at)
        if order.status is OrderStatus.VALIDATED:
            allocate(self._router, self._hooks, uow, order, at=at)
        if command.payment is not None:
            open_tenders(uow, self._db.tables, order, command.payment, at)
        uow.orders.add(order)
        return order

    def _ids_for_external(self, uow: UnitOfWork, keys: list[tuple[str, str]]
                          ) -> dict[tuple[str, str], tuple[str, str | None]]:
        """``(id, command hash)`` of the orders already placed under ``keys``, in a few
        queries."""
        uow.flush()
        o = self._db.tables.orders.c
        by_channel: dict[str, list[str]] = {}
        for channel, external_id in keys:
            by_channel.setdefault(channel, []).append(external_id)
        found: dict[tuple[str, str], tuple[str, str | None]] = {}
        for channel, external_ids in by_channel.items():
            for start in range(0, len(external_ids), _LOOKUP_CHUNK):
                chunk = external_ids[start:start + _LOOKUP_CHUNK]
                for row in uow.connection.execute(
                    sa.select(o.id, o.external_id, o.command_hash)
                    .where(o.channel == channel, o.external_id.in_(chunk))
                ):
                    found[(channel, row.external_id)] = (row.id, row.command_hash)
        return found

    def get(self, order_id: str) -> Order:
        """The order with this id, or :class:`OrderNotFound`."""
        require_id(order_id, "order_id")
        with self._db.uow() as uow:
            return uow.orders.get(order_id)

    def find_by_external(self, channel: str, external_id: str) -> Order | None:
        """The order placed as ``(channel, external_id)``, or None."""
        problems: list[str] = []
        check_code(channel, "channel", problems)
        check_identifier(external_id, "external_id", problems)
        refuse(problems, "lookup")
        with self._db.uow() as uow:
            found = uow.orders.id_for_external(channel, external_id)
            return None if found is None else uow.orders.get(found)

    def search(self, query: OrderQuery | None = None, **filters: object) -> list[OrderSummary]:
        """Orders matching ``query`` (or keyword filters of :class:`OrderQuery`), newest first.

        Every filter is checked first: :class:`InvalidCommand` (naive or out-of-range
        datetimes, a ``limit`` outside 1..10,000, an ``offset`` above 1,000,000...).
        """
        query = order_query(query, filters)
        with self._db.uow() as uow:
            return uow.orders.search(query)

    def iter_all(self, query: OrderQuery | None = None,
                 page_size: int = 500) -> Iterator[OrderSummary]:
        """Every matching order, newest first, fetched a page at a time (flat memory).

        Pages continue after the last order seen (keyset paging), so each page costs the
        same however many came before, and an order placed meanwhile never shifts a page.
        The arguments are checked at the call, before anything is read (``page_size``
        1..10,000): :class:`InvalidCommand`.
        """
        problems: list[str] = []
        check_count(page_size, "page_size", problems, minimum=1, maximum=MAX_PAGE_SIZE)
        refuse(problems, "order query")
        return self._pages(attrs.evolve(order_query(query, {}), limit=page_size, offset=0))

    def _pages(self, query: OrderQuery) -> Iterator[OrderSummary]:
        while True:
            page = self.search(query)
            yield from page
            if len(page) < query.limit:
                return
            query = attrs.evolve(query, after=(page[-1].placed_at, page[-1].id))

    def count_by_status(self) -> dict[OrderStatus, int]:
        """How many orders are in each status."""
        with self._db.uow() as uow:
            return uow.orders.count_by_status()

    def timeline(self, order_id: str) -> list[TimelineEntry]:
        """Everything that happened to the order, oldest first, from its stored events."""
        require_id(order_id, "order_id")
        with self._db.uow() as uow:
            uow.orders.get(order_id)  # OrderNotFound for an unknown id
            return [TimelineEntry(occurred_at=r.event.occurred_at,
                                  event_type=r.event.event_type, event=r.event)
                    for r in uow.outbox.for_order(order_id)]

    def change(self, order_id: str, change: _Change) -> Order:
        """Apply ``change(uow, order, now)`` to the locked order and commit what it did.

        Fulfilment orders the change rejected or cancelled before picking give their
        location's daily-capacity slot back in the same transaction.

        Retried on transient conflicts; a change that appends no event writes nothing.
        Other services build on this; it is public for plugins that add order operations.
        """
        require_id(order_id, "order_id")
        given: object = change
        if not callable(given):
            refuse([f"change: must be callable, not {type(given).__name__}"], "order change")

        expected = _EXPECTED.get()
        if expected is not None and (expected.order_id != order_id or expected.checked):
            expected = None

        def attempt() -> tuple[Order, list[Event]]:
            with self._db.uow() as uow:
                order = uow.orders.get(order_id, for_update=True)
                version = order.version
                # Checked under the row lock, so no other change can slip in between.
                if expected is not None and version != expected.version:
                    raise OrderVersionMismatch(order_id, expected.version, version)
                slots = {fo.id: (fo.location, fo.capacity_day)
                         for fo in order.fulfillment_orders if fo.capacity_day is not None}
                change(uow, order, self._clock())
                # Fulfilment orders the change rejected or cancelled before picking give
                # their location's daily-capacity slot back, in this transaction.
                give_back_capacity(uow, order, slots)
                if order.events or uow.has_pending_writes():
                    uow.orders.save(order)
                    return order, uow.commit()
                assert order.version == version
                return order, []

        order, events = self._db.retrying(attempt)
        if expected is not None:
            expected.checked = True
        self._dispatcher.dispatch(events)
        return order

    def expecting_version(self, order_id: str,
                          version: int) -> AbstractContextManager[None]:
        """Make the change inside apply only to ``version`` of the order (what HTTP's
        ``If-Match`` asks): the first change of ``order_id`` made inside this block through
        :meth:`change` (which ``cancel``, the holds, ``oms.fulfillment``'s steps,
        ``oms.edits.commit`` and ``oms.payments`` use) compares the version under the
        order's row lock and raises :class:`OrderVersionMismatch`,
        changing nothing, if another change came first. The changes that operation makes
        after its first (a cancellation settling its payments) are its own and not checked.

        Reading the order, comparing its version and then changing it is not enough with
        several processes: two requests that read the same version would both pass.
        """
        require_id(order_id, "order_id")
        if not isinstance(version, int) or isinstance(version, bool) or version < 0:
            refuse([f"version: must be a whole number, not {version!r}"], "version check")
        # Checked here, at the call, not when the block is entered.
        return _expecting(_Expectation(order_id=order_id, version=version))

    def place_hold(self, order_id: str, code: str, reason: str) -> Order:
        """Put a hold on the order (fraud review, payment check...). Idempotent per code."""
        return self._place_hold(PlaceHold(order_id=order_id, code=code, reason=reason))

    def _place_hold(self, c: PlaceHold) -> Order:
        def change(uow: UnitOfWork, order: Order, at: datetime) -> None:
            order.place_hold(c.code, c.reason, at)

        return self.change(c.order_id, change)

    def release_hold(self, order_id: str, code: str) -> Order:
        """Release a hold; when none is left, whatever the order still lacks is routed now."""
        return self._release_hold(ReleaseHold(order_id=order_id, code=code))

    def _release_hold(self, c: ReleaseHold) -> Order:
        def change(uow: UnitOfWork, order: Order, at: datetime) -> None:
            if order.release_hold(c.code, at):
                route_remaining(self._router, self._hooks, uow, order, at=at)

        return self.change(c.order_id, change)

    def explain(self, order_id: str) -> list[RoutingDecision]:
        """Every routing decision made for the order, oldest first: the candidates
        considered, why each was excluded or ranked, the plan and its cost by term."""
        require_id(order_id, "order_id")
        with self._db.uow() as uow:
            uow.orders.get(order_id)  # OrderNotFound for an unknown id
            return uow.routing.decisions(order_id)

    def waiting(self, skus: Iterable[str] | None = None, *,
                limit: int = 10_000) -> list[Order]:
        """Orders with backordered demand (for ``skus``), in allocation order.

        The order is the scarce-stock priority (``omskit_order_priority``: by default the
        segment's place in ``settings["routing"]["segment_priority"]``), then age. An order
        that cannot be read is logged and left out: it never stops the queue.
        """
        problems: list[str] = []
        wanted = check_each(skus, "skus", check_identifier, problems)
        check_count(limit, "limit", problems, minimum=1, maximum=MAX_WAITING)
        refuse(problems, "backorder query")
        with self._db.uow() as uow:
            ids = uow.orders.waiting_for(wanted, limit=limit)
        found = [o for o in self._load_queue(ids) if o.backordered() and not o.active_holds]
        rank = {o.id: self._hooks.order_priority(o, self._settings) for o in found}
        return sorted(found, key=lambda o: (rank[o.id], o.placed_at, o.id))

    def _load_queue(self, ids: Sequence[str]) -> list[Order]:
        """The orders with these ids, read in bounded batches (a few queries per
        :data:`_QUEUE_BATCH` orders); a batch with an unreadable order is read again one by
        one, so that order alone is left out."""
        found: list[Order] = []
        for start in range(0, len(ids), _QUEUE_BATCH):
            chunk = ids[start:start + _QUEUE_BATCH]
            try:
                with self._db.uow() as uow:
                    found.extend(uow.orders.get_many(chunk))
            except Exception:
                found.extend(self._load_each(chunk))
        return found

    def _load_each(self, ids: Iterable[str]) -> list[Order]:
        """The orders with these ids; one that cannot be read is logged and left out.

        One unreadable row (say, a timestamp written by an older version or by hand that the
        driver cannot convert) must not stop the queue of every other waiting order. After a
        failure the rest are read in a new transaction: on PostgreSQL a failed statement
        aborts the one it was in.
        """
        pending = list(ids)
        found: list[Order] = []
        position = 0
        while position < len(pending):
            with self._db.uow() as uow:
                while position < len(pending):
                    order_id = pending[position]
                    position += 1
                    try:
                        found.append(uow.orders.get(order_id))
                    except Exception:
                        logger.exception("waiting order %s cannot be read: skipped", order_id)
                        break
        return found

    def allocate_waiting(self, skus: Iterable[str] | None = None) -> list[Order]:
        """Route waiting backorders (for ``skus``) in priority order; returns those that
        gained an allocation. The handler of stock events calls it; safe to call any time.

        Each order is routed in its own transaction, so a better-ranked order takes the
        new stock before a worse-ranked one even sees it. Only while promisable stock is
        left: an order none of whose backordered SKUs has any available to promise is not
        routed, and with ``skus`` the queue stops as soon as none of them has any, so a
        receipt costs what it brings, not what waits. An order that fails to route is
        logged and skipped; the others still get their turn.
        """
        problems: list[str] = []
        given = check_each(skus, "skus", check_identifier, problems)
        refuse(problems, "backorder query")
        wanted = None if given is None else sorted(set(given))
        left: dict[str, int] = {}  # available to promise per SKU, read when first needed

        def promisable(sku: str) -> int:
            if sku not in left:
                with self._db.uow() as uow:
                    left[sku] = AvailabilityQueries(
                        uow.connection, self._db.tables).available_to_promise(sku)
            return left[sku]

        if wanted is not None and not any(promisable(sku) for sku in wanted):
            return []  # nothing to share out: the queue is not even read
        queue = self.waiting(wanted)
        allocated = []
        for order in queue:
            if wanted is not None and not any(promisable(sku) for sku in wanted):
                break  # the new stock is gone: nobody further down can get any of it
            before = order.backordered()
            if not any(promisable(b.sku) for b in before):
                continue
            try:
                after = self.allocate_backorders(order.id)
            except Exception:
                # One order that cannot be routed (a failing plugin, a vetoed transition)
                # must not starve the orders behind it.
                logger.exception("allocating backorders of order %s failed", order.id)
                continue
            if after.backordered() != before:
                allocated.append(after)
                for b in before:
                    left.pop(b.sku, None)  # it took some: read again when next needed
        return allocated

    def revalidate_unknown_skus(self, skus: Iterable[str]) -> list[Order]:
        """Validate again the orders held for ``unknown_sku`` that have a line for one of
        ``skus`` (stock or supply for them was just recorded); returns those whose
        ``unknown_sku`` hold was released.

        Each order is validated (``omskit_validate_order``) in its own transaction, best
        ranked first (as :meth:`waiting`). A problem with another code becomes a hold, as at
        placement; when no validator reports ``unknown_sku`` any more, that hold is released
        and, if it was the last, the order is routed at once (or backordered, waiting for
        the supply). An order that fails to validate is logged and stays held; the others
        still get their turn. Called after every receipt and supply registration; safe to
        call any time.
        """
        if isinstance(skus, str) or not isinstance(skus, Iterable):
            raise InvalidCommand([f"skus: give a collection of SKUs, not {skus!r}"],
                                 subject="re-validation")
        given = list(skus)
        problems: list[str] = []
        for sku in given:
            check_identifier(sku, "skus", problems)
        if problems:
            raise InvalidCommand(problems, subject="re-validation")
        wanted = set(given)
        if not wanted:
            return []
        with self._db.uow() as uow:
            held = uow.orders.get_many(
                uow.orders.held_for(UNKNOWN_SKU, wanted, limit=_REVALIDATE_LIMIT))
        rank = {o.id: self._hooks.order_priority(o, self._settings) for o in held}
        released = []
        for order in sorted(held, key=lambda o: (rank[o.id], o.placed_at, o.id)):
            try:
                after = self._revalidate(order.id)
            except Exception:
                # One order whose validation fails (a plugin raising) must not keep the
                # others held.
                logger.exception("validating order %s again failed", order.id)
                continue
            if not any(h.code == UNKNOWN_SKU for h in after.active_holds):
                released.append(after)
        return released

    def _revalidate(self, order_id: str) -> Order:
        def change(uow: UnitOfWork, order: Order, at: datetime) -> None:
            if not any(h.code == UNKNOWN_SKU for h in order.active_holds):
                return  # released meanwhile (by an operator, or a concurrent receipt)
            problems = self._hooks.validate_order(order, uow.inventory)
            for problem in problems:
                if problem.code != UNKNOWN_SKU:
                    order.place_hold(problem.code, problem.message, at)
            if all(p.code != UNKNOWN_SKU for p in problems) and order.release_hold(
                    UNKNOWN_SKU, at):
                route_remaining(self._router, self._hooks, uow, order, at=at)

        return self.change(order_id, change)

    def allocate_backorders(self, order_id: str) -> Order:
        """Try again to source the order's backordered quantities (after new stock arrived)."""
        return self._allocate_backorders(AllocateBackorders(order_id=order_id))

    def _allocate_backorders(self, c: AllocateBackorders) -> Order:
        def change(uow: UnitOfWork, order: Order, at: datetime) -> None:
            route_remaining(self._router, self._hooks, uow, order, at=at)

        return self.change(c.order_id, change)

    def cancel(self, order_id: str, reason: str = "") -> Order:
        """Cancel the order and release every reservation. Cancelling twice changes nothing."""
        return self._cancel(CancelOrder(order_id=order_id, reason=reason))

    def _cancel(self, c: CancelOrder) -> Order:
        def change(uow: UnitOfWork, order: Order, at: datetime) -> None:
            if order.status is OrderStatus.CANCELLED:
                return
            order.cancel(c.reason, at)
            # Released units are promisable again (ReservationReleased's handler offers
            # them to waiting backorders).
            release_reservations(uow, order.id, "order cancelled", at)

        return self.change(c.order_id, change)

    def cancel_lines(self, order_id: str, quantities: Mapping[str, int], *, reason: str = "",
                     idempotency_key: str | None = None) -> Order:
        """Cancel ``quantities`` (``{line_id: units}``) of the order's lines.

        Units come off what is backordered first, then off fulfilment orders not yet picked
        (the least progressed and newest first): a fulfilment order left with nothing is
        cancelled, one left with less shrinks, and their reservations (and the
        daily-capacity slot of a cancelled one) are given back in the same transaction.
        Picked, packed and shipped units are not cancellable. An order left with nothing is
        cancelled; otherwise its status follows from what remains (shipped, delivered...).
        Waiting orders may take the stock given back.

        Raises :class:`InvalidCommand` for malformed arguments, :class:`LineNotFound`,
        :class:`QuantityAlreadyShipped`, :class:`QuantityNotCancellable`; each changes
        nothing. With an ``idempotency_key``, a repeat of the same request changes nothing
        and returns the order; the key with another request raises
        :class:`IdempotencyKeyConflict`.
        """
        return self._cancel_lines(CancelLines(order_id=order_id, quantities=quantities,
                                              reason=reason, idempotency_key=idempotency_key))

    def _cancel_lines(self, c: CancelLines) -> Order:
        wanted, reason, idempotency_key = c.wanted, c.reason, c.idempotency_key

        def change(uow: UnitOfWork, order: Order, at: datetime) -> None:
            if idempotency_key is not None:
                previous = _lines_cancelled_with(uow, order.id, idempotency_key)
                if previous is not None:
                    asked = {x.line_id: x.quantity for x in previous.lines}
                    if asked != wanted or previous.reason != reason:
                        raise IdempotencyKeyConflict(idempotency_key, "line cancellation")
                    return
            released = order.cancel_lines(wanted, reason, at, idempotency_key=idempotency_key)
            # What they held is promisable again (ReservationReleased's handler offers it
            # to waiting backorders).
            release_cancelled(uow, order.id, released, "line cancelled", at)

        return self.change(c.order_id, change)

    def short_close(self, order_id: str, *, reason: str = "") -> Order:
        """Close the order short: cancel every unit not yet shipped, picked or packed.

        What those units held is given back as by :meth:`cancel_lines`, active holds end
        (nothing is left to release), and the order completes with what has shipped:
        ``shipped`` or ``delivered`` (then :meth:`complete`), or ``partially_shipped`` /
        ``released`` until its picked and packed parts ship. An order that never shipped
        anything ends ``cancelled``. Closing again, or an order with nothing left to
        cancel and no hold (a cancelled or completed one), changes nothing.
        """
        return self._short_close(ShortClose(order_id=order_id, reason=reason))

    def _short_close(self, c: ShortClose) -> Order:
        def change(uow: UnitOfWork, order: Order, at: datetime) -> None:
            released = order.short_close(c.reason, at)
            release_cancelled(uow, order.id, released, "order short-closed", at)

        return self.change(c.order_id, change)

    def complete(self, order_id: str) -> Order:
        """Close a delivered order. Completing twice changes nothing."""
        return self._complete(CompleteOrder(order_id=order_id))

    def _complete(self, c: CompleteOrder) -> Order:
        def change(uow: UnitOfWork, order: Order, at: datetime) -> None:
            if order.status is not OrderStatus.COMPLETED:
                order.complete(at)

        return self.change(c.order_id, change)


def _lines_cancelled_with(uow: UnitOfWork, order_id: str,
                          key: str) -> OrderLinesCancelled | None:
    """The line cancellation of the order made with idempotency ``key``, if any.

    The order's events are its history (its timeline), so the key is looked up there; the
    order row is locked, so no concurrent cancellation can add one meanwhile.
    """
    for record in uow.outbox.for_order(order_id):
        event = record.event
        if isinstance(event, OrderLinesCancelled) and event.idempotency_key == key:
            return event
    return None


__all__ = ["OrderNotFound", "OrderQuery", "OrderService", "OrderSummary", "TimelineEntry"]
