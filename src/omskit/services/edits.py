"""Order edits (``oms.edits``): begin, stage, preview, commit or abandon; or submit a whole
edit at once (what a channel connector does).

Committing is one transaction on the order as it was when the edit began: the order row is
locked, its version checked (:class:`OrderEditConflict` if it moved), the staged changes
applied to the aggregate (``Order.apply_edit``: only what is not yet released for picking
changes), every stock row the order may touch locked in the one global order, what the
edit took off given back, and only what it changed routed and reserved. A preview runs
exactly that and rolls it back. The payment difference is settled after the commit, by the
core's handler of ``order.edit_committed`` (``oms.payments.settle``).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal

import attrs
import sqlalchemy as sa

from omskit.domain.commands import NewLine
from omskit.domain.commands.edits import (
    AbandonOrderEdit,
    BeginOrderEdit,
    CommitOrderEdit,
    EditOrder,
    ExpireOrderEdits,
    StageOrderEdit,
)
from omskit.domain.edits import (
    EDIT_TTL,
    AddedLine,
    EditStatus,
    EditSummary,
    OrderEdit,
    OrderEditCommitted,
    StagedChanges,
    edit_id_for,
)
from omskit.domain.errors import (
    IdempotencyKeyConflict,
    InvalidCommand,
    NotFound,
    OrderEditClosed,
    OrderEditConflict,
    OrderNotFound,
)
from omskit.domain.events import RoutedQuantity, new_id
from omskit.domain.lifecycle import ORDER_OPEN_FOR_ROUTING, OrderStatus
from omskit.domain.order import Order
from omskit.domain.payments import (
    PAYMENT_PENDING,
    PaymentCapability,
    PaymentStepKind,
    PaymentTransaction,
    PaymentTransactionKind,
    settlement,
)
from omskit.domain.values import Address, DeliveryMethod, LineQuantity
from omskit.plugins import Hooks
from omskit.ports import PaymentProvider
from omskit.registries import Registry
from omskit.routing.engine import RoutingEngine
from omskit.services.allocation import allocate, lock_stock_of
from omskit.services.database import Database
from omskit.services.orders import OrderService, release_cancelled, require_id
from omskit.store.edits import EditRepository
from omskit.store.payments import PaymentRepository
from omskit.store.uow import UnitOfWork

#: Most edits :meth:`OrderEditService.recent` returns.
MAX_RECENT = 1000
#: Payment steps that ask for more money: the order waits for them (``payment_pending``).
_AUTHORISING = frozenset({PaymentStepKind.INCREMENTAL_AUTHORISATION,
                          PaymentStepKind.NEW_AUTHORISATION})


def _fingerprint(*parts: object) -> str:
    text = json.dumps([repr(p) for p in parts], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _request_fingerprint(c: StageOrderEdit | EditOrder) -> str:
    """What a staging request or a whole edit asks, to tell its repeat from another
    request under the same key."""
    return _fingerprint(sorted(c.staged_quantities.items()),
                        [(x.sku, x.quantity, str(x.unit_price), x.line_id)
                         for x in c.add_lines], c.shipping_address, c.delivery,
                        getattr(c, "channel", None), getattr(c, "actor", None))


class OrderEditService:
    """Order edits from any channel (``oms.edits``)."""

    def __init__(self, *, db: Database, clock: Callable[[], datetime], hooks: Hooks,
                 router: RoutingEngine, providers: Registry[PaymentProvider],
                 orders: OrderService) -> None:
        self._db = db
        self._clock = clock
        self._hooks = hooks
        self._router = router
        #: Payment providers: their capabilities decide how a difference is settled.
        self._providers = providers
        self._orders = orders

    # -- reads ---------------------------------------------------------------------------------

    def get(self, edit_id: str) -> OrderEdit:
        """The edit with this id (``OrderEditNotFound``); an open one past its time reads
        as expired."""
        require_id(edit_id, "edit_id")
        with self._db.uow() as uow:
            return self._now(self._repo(uow).get(edit_id))

    def for_order(self, order_id: str) -> list[OrderEdit]:
        """The order's edits, oldest first (``OrderNotFound`` for an unknown order)."""
        require_id(order_id, "order_id")
        with self._db.uow() as uow:
            uow.orders.get(order_id)
            return [self._now(e) for e in self._repo(uow).for_order(order_id)]

    def recent(self, status: EditStatus | str | None = None, *,
               limit: int = 20) -> list[OrderEdit]:
        """The latest edits (with ``status``), newest first."""
        problems: list[str] = []
        wanted = None
        if status is not None:
            try:
                wanted = EditStatus(status)
            except ValueError:
                problems.append(f"status: {status!r} is not an edit status")
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_RECENT:
            problems.append(f"limit: must be a whole number in 1..{MAX_RECENT}")
        if problems:
            raise InvalidCommand(problems, subject="order edit query")
        with self._db.uow() as uow:
            return [self._now(e) for e in self._repo(uow).recent(wanted, limit)]

    # -- commands ------------------------------------------------------------------------------

    def begin(self, order_id: str, *, channel: str, actor: str = "",
              idempotency_key: str | None = None) -> OrderEdit:
        """Begin an edit of the order at its current version, from ``channel`` (``mobile``,
        ``call_center``...) by ``actor``. With an ``idempotency_key`` the same edit is
        returned again. ``OrderNotFound``; ``OrderNotEditable`` for a cancelled, completed
        or fully shipped order."""
        return self._begin(BeginOrderEdit(order_id=order_id, channel=channel, actor=actor,
                                          idempotency_key=idempotency_key))

    def _begin(self, c: BeginOrderEdit) -> OrderEdit:
        edit_id = (new_id() if c.idempotency_key is None
                   else edit_id_for(c.order_id, c.idempotency_key, whole=False))

        def attempt() -> OrderEdit:
            with self._db.uow() as uow:
                repo = self._repo(uow)
                order = uow.orders.get(c.order_id)
                if c.idempotency_key is not None:
                    found = repo.find(edit_id)
                    if found is not None:
                        return self._same_begin(c, found)
                order.check_editable()
                at = self._clock()
                edit = OrderEdit(id=edit_id, order_id=order.id, channel=c.channel,
                                 actor=c.actor, base_version=order.version, created_at=at,
                                 updated_at=at, expires_at=at + EDIT_TTL,
                                 idempotency_key=c.idempotency_key)
                repo.add(edit)
                uow.commit()
                return edit

        try:
            return self._db.retrying(attempt)
        except sa.exc.IntegrityError:
            # The same key begun concurrently: the first one is the edit.
            if c.idempotency_key is None or self._db.in_host_transaction:
                raise
            with self._db.uow() as uow:
                return self._same_begin(c, self._repo(uow).get(edit_id))

    @staticmethod
    def _same_begin(c: BeginOrderEdit, found: OrderEdit) -> OrderEdit:
        if (found.channel, found.actor) != (c.channel, c.actor):
            raise IdempotencyKeyConflict(str(c.idempotency_key), "order edit")
        return found

    def stage(self, edit_id: str, *, quantities: Mapping[str, int] | None = None,
              add_lines: Sequence[NewLine] = (), remove_lines: Sequence[str] = (),
              shipping_address: Address | None = None, delivery: DeliveryMethod | None = None,
              idempotency_key: str | None = None) -> OrderEdit:
        """Stage changes on an open edit: ``quantities`` (``{line_id: units}``, the line's
        new quantity; 0 removes it), ``add_lines``, ``remove_lines``, a new
        ``shipping_address``, a new ``delivery`` method. A later change of a line replaces
        an earlier one. Checked against the order as it is now (the commit checks again):
        ``LineNotFound``, ``LineReleased``, ``InvalidCommand``; ``OrderEditClosed`` once
        the edit is committed, abandoned or expired. With an ``idempotency_key`` a repeat
        stages nothing more."""
        # Passed on as given: the command reports a wrong type in its own words.
        return self._stage(StageOrderEdit(
            edit_id=edit_id, quantities={} if quantities is None else quantities,
            add_lines=add_lines, remove_lines=remove_lines,
            shipping_address=shipping_address, delivery=delivery,
            idempotency_key=idempotency_key))

    def _stage(self, c: StageOrderEdit) -> OrderEdit:
        fingerprint = _request_fingerprint(c)

        def attempt() -> OrderEdit:
            with self._db.uow() as uow:
                repo = self._repo(uow)
                edit = repo.get(c.edit_id, for_update=True)
                at = self._clock()
                self._refuse_closed(edit, at)
                if c.idempotency_key is not None and c.idempotency_key in edit.stage_keys:
                    if edit.stage_keys[c.idempotency_key] != fingerprint:
                        raise IdempotencyKeyConflict(c.idempotency_key, "order edit staging")
                    return edit
                order = uow.orders.get(edit.order_id)
                merged = edit.changes.merged(_staged(order, edit.changes, c))
                # Checked on the order as it is now, so a phone app hears at once that a
                # line has gone to the warehouse; the order itself is not written, and the
                # events the check produced are dropped (the commit applies it for real).
                order.apply_edit(merged, at)
                order.collect_events()
                edit.changes = merged
                edit.updated_at = at
                if c.idempotency_key is not None:
                    edit.stage_keys[c.idempotency_key] = fingerprint
                repo.save(edit)
                uow.commit()
                return edit

        return self._db.retrying(attempt)

    def preview(self, edit_id: str) -> EditSummary:
        """What committing the edit now would do, without doing it: the new lines and
        total, the routing of what changed and the promised date, the payment difference
        and how it would be settled. Runs the commit in a transaction that is rolled
        back, so it raises what the commit would (``OrderEditConflict``,
        ``LineReleased``...)."""
        require_id(edit_id, "edit_id")
        with self._db.uow() as uow:
            edit = self._repo(uow).get(edit_id)
            at = self._clock()
            self._refuse_closed(edit, at)
            order = uow.orders.get(edit.order_id, for_update=True)
            return self._apply(uow, order, edit, at)
            # Leaving the block without commit rolls back every reservation and row.

    def commit(self, edit_id: str) -> OrderEdit:
        """Apply the edit in one transaction if the order has not moved since the edit was
        begun (``OrderEditConflict`` otherwise: nothing changes). Only what is not yet
        released for picking changes, and only what changed is routed and reserved. The
        payment difference is settled right after (an incremental or new authorisation,
        a refund or a void-down). Committing a committed edit returns it."""
        return self._commit(CommitOrderEdit(edit_id=edit_id))

    def _commit(self, c: CommitOrderEdit) -> OrderEdit:
        with self._db.uow() as uow:
            order_id = self._repo(uow).get(c.edit_id).order_id
        done: list[OrderEdit] = []

        def change(uow: UnitOfWork, order: Order, at: datetime) -> None:
            repo = self._repo(uow)
            edit = repo.get(c.edit_id, for_update=True)
            if edit.status is EditStatus.COMMITTED:
                done.append(edit)
                return
            self._refuse_closed(edit, at)
            summary = self._apply(uow, order, edit, at)
            _committed(edit, summary, at)
            repo.save(edit)
            done.append(edit)

        self._orders.change(order_id, change)
        return done[0]

    def abandon(self, edit_id: str) -> OrderEdit:
        """Give up an open edit: it changed nothing and holds nothing. Abandoning again (or
        an expired edit) changes nothing; a committed edit is ``OrderEditClosed``."""
        return self._abandon(AbandonOrderEdit(edit_id=edit_id))

    def _abandon(self, c: AbandonOrderEdit) -> OrderEdit:
        def attempt() -> OrderEdit:
            with self._db.uow() as uow:
                repo = self._repo(uow)
                edit = repo.get(c.edit_id, for_update=True)
                at = self._clock()
                status = edit.status_at(at)
                if status is EditStatus.COMMITTED:
                    raise OrderEditClosed(edit.id, status.value)
                if status is not EditStatus.OPEN:
                    edit.status = status
                    return edit
                edit.status = EditStatus.ABANDONED
                edit.updated_at = at
                repo.save(edit)
                uow.commit()
                return edit

        return self._db.retrying(attempt)

    def submit(self, command: EditOrder) -> OrderEdit:
        """Apply a whole edit in one transaction (begin, stage and commit at once): what a
        channel connector's ``parse_edit`` produces, naming the order by its id or by the
        channel it was placed on and that channel's id of it. Idempotent on the command's
        ``idempotency_key``: submitted again, it is committed once and returned (the key
        with other changes is ``IdempotencyKeyConflict``)."""
        given: object = command
        if not isinstance(given, EditOrder):
            raise InvalidCommand([f"command: expected an EditOrder, got "
                                  f"{type(given).__name__}"], subject="order edit")
        return self._submit(command)

    def _submit(self, c: EditOrder) -> OrderEdit:
        order_id = c.order_id if c.order_id is not None else self._placed_as(c)
        edit_id = edit_id_for(order_id, c.idempotency_key, whole=True)
        fingerprint = _request_fingerprint(c)
        done: list[OrderEdit] = []

        def change(uow: UnitOfWork, order: Order, at: datetime) -> None:
            repo = self._repo(uow)
            found = repo.find(edit_id, for_update=True)
            if found is not None:
                if found.fingerprint != fingerprint:
                    raise IdempotencyKeyConflict(c.idempotency_key, "order edit")
                done.append(found)
                return
            if c.expected_version is not None and c.expected_version != order.version:
                raise OrderEditConflict(None, order.id, c.expected_version, order.version)
            edit = OrderEdit(id=edit_id, order_id=order.id, channel=c.channel, actor=c.actor,
                             base_version=order.version, created_at=at, updated_at=at,
                             expires_at=at + EDIT_TTL, idempotency_key=c.idempotency_key,
                             fingerprint=fingerprint)
            edit.changes = _staged(order, StagedChanges(), c)
            summary = self._apply(uow, order, edit, at)
            _committed(edit, summary, at)
            repo.add(edit)
            done.append(edit)

        self._orders.change(order_id, change)
        return done[0]

    def expire(self, now: datetime | None = None) -> int:
        """Mark the open edits whose time ran out (``EDIT_TTL`` after they began) expired;
        returns how many. Safe to run any time (a worker's sweep)."""
        return self._expire(ExpireOrderEdits(now=now))

    def _expire(self, c: ExpireOrderEdits) -> int:
        def attempt() -> int:
            with self._db.uow() as uow:
                count = self._repo(uow).expire(c.now or self._clock())
                uow.commit()
                return count

        return self._db.retrying(attempt)

    # -- applying an edit ----------------------------------------------------------------------

    def _apply(self, uow: UnitOfWork, order: Order, edit: OrderEdit,
               at: datetime) -> EditSummary:
        """Apply ``edit`` to the locked ``order`` in ``uow`` and record it: check the
        version, change the aggregate, lock the stock rows, give back what was taken off,
        route only what changed, hold the order for a payment difference to authorise."""
        if order.version != edit.base_version:
            raise OrderEditConflict(edit.id, order.id, edit.base_version, order.version)
        # Every stock row the order may touch, the added lines' included, locked in the one
        # global order before anything is read, given back or reserved (decision 26): the
        # validation's stock read is this locking read.
        uow.inventory.lock_stock(
            [*(x.sku for x in order.lines), *(x.sku for x in edit.changes.add_lines)],
            carts=(order.cart_id,) if order.cart_id is not None else ())
        before = _Before.of(order)
        known = {(p.code, p.message) for p in self._hooks.validate_order(order, uow.inventory)}
        effect = order.apply_edit(edit.changes, at)
        lock_stock_of(uow, order)  # locked above already: costs nothing
        new = [p for p in self._hooks.validate_order(order, uow.inventory)
               if (p.code, p.message) not in known]
        if new:
            raise InvalidCommand([f"{p.code}: {p.message}" for p in new], subject="order edit")
        # What the edit took off is promisable again (ReservationReleased's handler offers
        # it to waiting backorders).
        release_cancelled(uow, order.id, effect.released, "order edited", at)
        created = []
        if effect.demand and _may_route(order):
            if effect.reroute:
                # A new destination gets a new promise (the old one stays if nothing could
                # be promised).
                order.promised_date = None
            created = allocate(self._router, self._hooks, uow, order, at=at,
                               demand=effect.demand, repromise=True)
            if order.promised_date is None:
                order.promised_date = before.promised_date
        order.refresh_status(at)
        allocations = tuple(RoutedQuantity(location=fo.location, line_id=x.line_id,
                                           sku=x.sku, quantity=x.quantity)
                            for fo in created for x in fo.lines)
        routed = Counter[str]()
        for a in allocations:
            routed[a.line_id] += a.quantity
        backordered = tuple(
            LineQuantity(line_id=d.line_id, sku=d.sku, quantity=d.quantity - routed[d.line_id])
            for d in effect.demand if d.quantity > routed[d.line_id])
        payments = PaymentRepository(uow.connection, self._db.tables)
        plan = settlement(payments.ledgers(payments.transactions(order.id)), order.open_total,
                          at, self._capabilities)
        if any(step.kind in _AUTHORISING for step in plan) and order.holdable:
            # The goods the edit added wait for their money, as a new order's do.
            order.place_hold(PAYMENT_PENDING, "waiting for the edit's payment difference to "
                             "be authorised", at)
        summary = EditSummary(
            order_id=order.id, version=order.version, currency=order.currency,
            lines=effect.lines, shipping_address_before=before.address,
            shipping_address_after=order.shipping_address, delivery_before=before.delivery,
            delivery_after=order.delivery, total_before=before.total,
            total_after=order.open_total.amount, payment=plan, released=effect.released,
            allocations=allocations, backordered=backordered,
            cancelled_fulfillment_orders=effect.cancelled_fulfillment_orders,
            promised_date_before=before.promised_date,
            promised_date_after=order.promised_date)
        order.record(OrderEditCommitted(order=order.id, occurred_at=at, edit_id=edit.id,
                                        channel=edit.channel, actor=edit.actor,
                                        summary=summary))
        return summary

    # -- helpers ---------------------------------------------------------------------------------

    def _repo(self, uow: UnitOfWork) -> EditRepository:
        return EditRepository(uow.connection, self._db.tables, self._db.converter)

    def _now(self, edit: OrderEdit) -> OrderEdit:
        status = edit.status_at(self._clock())
        return edit if status is edit.status else attrs.evolve(edit, status=status)

    @staticmethod
    def _refuse_closed(edit: OrderEdit, at: datetime) -> None:
        status = edit.status_at(at)
        if status is not EditStatus.OPEN:
            raise OrderEditClosed(edit.id, status.value)

    def _capabilities(self, tx: PaymentTransaction) -> frozenset[str]:
        if tx.kind is PaymentTransactionKind.CHANNEL:
            return frozenset(PaymentCapability)
        try:
            return frozenset(self._providers.get(tx.provider).capabilities)
        except NotFound:
            return frozenset()  # uninstalled since: nothing can be asked of it

    def _placed_as(self, c: EditOrder) -> str:
        assert c.order_channel is not None
        assert c.order_external_id is not None
        with self._db.uow() as uow:
            found = uow.orders.id_for_external(c.order_channel, c.order_external_id)
        if found is None:
            raise OrderNotFound(f"{c.order_channel}/{c.order_external_id}")
        return found


@attrs.frozen(kw_only=True)
class _Before:
    """The order as the edit found it."""

    total: Decimal
    address: Address | None
    delivery: DeliveryMethod
    promised_date: date | None

    @classmethod
    def of(cls, order: Order) -> _Before:
        return cls(total=order.open_total.amount, address=order.shipping_address,
                   delivery=order.delivery, promised_date=order.promised_date)


def _may_route(order: Order) -> bool:
    """Whether what an edit changed is routed now: as for any order, not while a hold
    waits for an operator (releasing it routes); an order held only for its payment was
    routed at placement, so its changes are too (the goods wait for the money)."""
    if {h.code for h in order.active_holds} - {PAYMENT_PENDING}:
        return False
    return order.status in ORDER_OPEN_FOR_ROUTING or order.status is OrderStatus.ON_HOLD


def _staged(order: Order, staged: StagedChanges, c: StageOrderEdit | EditOrder
            ) -> StagedChanges:
    """The changes a command stages, with an id for each added line that has none: the
    next number no line of the order, nor any line staged before, has."""
    taken = {x.line_id for x in order.lines} | {x.line_id for x in staged.add_lines}
    added: list[AddedLine] = []
    number = len(order.lines)
    for line in c.add_lines:
        line_id = line.line_id
        if line_id is None:
            number += 1
            while str(number) in taken:
                number += 1
            line_id = str(number)
        taken.add(line_id)
        added.append(AddedLine(line_id=line_id, sku=line.sku, quantity=line.quantity,
                               unit_price=line.unit_price))
    return StagedChanges(quantities=c.staged_quantities, add_lines=tuple(added),
                         shipping_address=c.shipping_address, delivery=c.delivery)


def _committed(edit: OrderEdit, summary: EditSummary, at: datetime) -> None:
    edit.status = EditStatus.COMMITTED
    edit.summary = summary
    edit.committed_at = edit.updated_at = at


__all__ = ["MAX_RECENT", "OrderEditService"]
