"""Returns (``oms.returns``): RMAs from any channel, received and inspected at any location,
refunded through the payment ledger, with return labels and exchanges.

The core owns every invariant; the returns policy plugin (``omskit.ports.ReturnsPolicy``)
only decides whether a return may be requested and what its refund is:

- a return never takes more units of a line than were shipped, less what the order's other
  returns take (checked with the order's row locked, so two requests cannot both pass);
- a receipt and an inspection are each taken once per idempotency key (under the return's
  row lock); a repeat changes nothing and returns the return;
- restocked units are a ledger movement at the receiving location, keyed, followed by a
  ``StockReceived`` event, so waiting backorders are allocated as after any receipt;
- the refund is paid by ``oms.payments.refund`` under the return's own refund key (never
  more than was captured; a retry pays nothing twice) and the credit note follows from the
  payment ledger, as for every refund.

Provider calls (return labels, refunds) are made outside any transaction, as in
``oms.shipping`` and ``oms.payments``.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

import attrs

from omskit.domain.checks import refuse
from omskit.domain.commands import NewLine, PlaceOrder
from omskit.domain.commands.returns import (
    ApproveReturn,
    BuyReturnLabel,
    CancelReturn,
    CloseReturn,
    DeclineReturn,
    ExpireReturn,
    InspectReturn,
    ReceiveReturn,
    RefundReturn,
    RequestReturn,
    ReturnItem,
)
from omskit.domain.errors import (
    IdempotencyKeyConflict,
    IllegalTransition,
    LocationNotFound,
    ReturnQuantityExceeded,
    ReturnRefused,
    ReturnWindowClosed,
    UnknownReturnsPolicy,
)
from omskit.domain.events import Event, StockReceived, new_id
from omskit.domain.inventory import LocationKind, MovementKind
from omskit.domain.lifecycle import FULFILLMENT_SHIPPED
from omskit.domain.order import Order
from omskit.domain.returns import (
    RETURN_AWAITING_GOODS,
    RETURN_VOID,
    Disposition,
    ExchangeLine,
    ExchangeMode,
    ExchangeOrderPlaced,
    RefundContext,
    RefundContextLine,
    RefundQuote,
    RefusalCode,
    Return,
    ReturnContext,
    ReturnContextLine,
    ReturnInspection,
    ReturnLabel,
    ReturnLabelBought,
    ReturnLine,
    ReturnReceipt,
    ReturnRefund,
    ReturnRefunded,
    ReturnRequested,
    ReturnStatus,
)
from omskit.domain.shipping import CarrierCapability, LabelRequest, ParcelSpec
from omskit.domain.values import LineQuantity, to_minor_units
from omskit.ports import ReturnsPolicy
from omskit.registries import Registry
from omskit.services.database import Database
from omskit.services.dispatch import EventDispatcher
from omskit.services.orders import OrderService, require_id
from omskit.services.payments import PaymentService
from omskit.services.shipping import ShippingService
from omskit.store.returns import ReturnRepository
from omskit.store.uow import UnitOfWork

T = TypeVar("T")

#: The hold an exchange order waits under until its return is received.
EXCHANGE_HOLD = "awaiting_return"


def shipped_units(order: Order) -> dict[str, int]:
    """Units per line that left the order's locations (shipped shipments; a fulfilment order
    shipped without shipment records counts whole)."""
    total: dict[str, int] = defaultdict(int)
    for fo in order.fulfillment_orders:
        shipped = [s for s in fo.shipments if s.shipped_at is not None]
        if shipped:
            for s in shipped:
                for x in s.lines:
                    total[x.line_id] += x.quantity
        elif fo.status in FULFILLMENT_SHIPPED:
            for x in fo.lines:
                total[x.line_id] += x.quantity
    return dict(total)


def _taken(returns: list[Return]) -> dict[str, int]:
    """Units per line the order's returns already take: what a closed one received, what an
    open one asked for; a declined, cancelled or expired one takes nothing."""
    total: dict[str, int] = defaultdict(int)
    for r in returns:
        if r.status in RETURN_VOID:
            continue
        counted = r.received if r.status in (ReturnStatus.INSPECTED,
                                             ReturnStatus.CLOSED) else r.requested
        for line_id, n in counted.items():
            total[line_id] += n
    return dict(total)


def _movement_key(return_id: str, inspection_key: str, position: int) -> str:
    """The ledger key of one restocked entry of an inspection: a digest, so a long
    inspection key still fits the ledger's key column."""
    digest = hashlib.sha256(f"{return_id}\n{inspection_key}\n{position}".encode()).hexdigest()
    return f"return:{digest[:48]}"


class ReturnService:
    """The returns side of the public API (``oms.returns``)."""

    def __init__(self, *, db: Database, dispatcher: EventDispatcher,
                 clock: Callable[[], datetime], policies: Registry[ReturnsPolicy],
                 settings: Mapping[str, Any], orders: OrderService,
                 payments: PaymentService, shipping: ShippingService) -> None:
        self._db = db
        self._dispatcher = dispatcher
        self._clock = clock
        self._policies = policies
        self._settings = settings
        self._orders = orders
        self._payments = payments
        self._shipping = shipping

    # -- plumbing -------------------------------------------------------------------------

    def policy(self) -> ReturnsPolicy:
        """The returns policy in force: ``settings["returns"]["policy"]``, or the only one
        installed (``UnknownReturnsPolicy`` otherwise)."""
        wanted = self._settings.get("returns", {}).get("policy") \
            if isinstance(self._settings.get("returns"), Mapping) else None
        if wanted is None:
            codes = list(self._policies)
            if len(codes) != 1:
                raise UnknownReturnsPolicy(
                    "(none installed)" if not codes else
                    f"(several installed: {', '.join(codes)}; name one in "
                    "settings['returns']['policy'])")
            wanted = codes[0]
        found: ReturnsPolicy = self._policies.get(str(wanted))
        return found

    def _repo(self, uow: UnitOfWork) -> ReturnRepository:
        return ReturnRepository(uow.connection, self._db.tables, self._db.converter)

    def _write(self, change: Callable[[UnitOfWork, ReturnRepository, datetime],
                                      tuple[T, Return | None]]) -> T:
        """Run ``change`` in a committed unit of work (again on transient conflicts), write
        the return's events with it, and dispatch them after commit."""
        def attempt() -> tuple[T, list[Event]]:
            with self._db.uow() as uow:
                result, rma = change(uow, self._repo(uow), self._clock())
                if rma is not None:
                    for event in rma.collect_events():
                        uow.emit(event)
                return result, uow.commit()

        result, events = self._db.retrying(attempt)
        self._dispatcher.dispatch(events)
        return result

    def _change(self, return_id: str,
                change: Callable[[UnitOfWork, ReturnRepository, Return, datetime], bool]
                ) -> Return:
        """Apply ``change`` to the locked return; save it when ``change`` says it changed."""
        def op(uow: UnitOfWork, repo: ReturnRepository, at: datetime
               ) -> tuple[Return, Return | None]:
            rma = repo.get(return_id, for_update=True)
            if change(uow, repo, rma, at):
                repo.save(rma)
                return rma, rma
            return rma, None

        return self._write(op)

    # -- reads ----------------------------------------------------------------------------

    def get(self, return_id: str) -> Return:
        """The return with this id (``ReturnNotFound``)."""
        require_id(return_id, "return_id")
        with self._db.uow() as uow:
            return self._repo(uow).get(return_id)

    def for_order(self, order_id: str) -> list[Return]:
        """The order's returns, oldest first."""
        require_id(order_id, "order_id")
        with self._db.uow() as uow:
            return self._repo(uow).for_order(order_id)

    def search(self, *, status: ReturnStatus | None = None, location: str | None = None,
               limit: int = 100) -> list[Return]:
        """The latest returns, newest first (with ``status``, at ``location``)."""
        with self._db.uow() as uow:
            return self._repo(uow).search(status=status, location=location,
                                          limit=max(1, min(limit, 1000)))

    def returnable(self, order_id: str) -> dict[str, int]:
        """Units per line that may still be asked back: shipped, less what the order's
        returns take."""
        require_id(order_id, "order_id")
        with self._db.uow() as uow:
            order = uow.orders.get(order_id)
            taken = _taken(self._repo(uow).for_order(order_id))
        return {k: v - taken.get(k, 0) for k, v in shipped_units(order).items()
                if v - taken.get(k, 0) > 0}

    def quote(self, return_id: str) -> RefundQuote:
        """The refund the policy computes for what the return has received and inspected."""
        rma = self.get(return_id)
        with self._db.uow() as uow:
            order = uow.orders.get(rma.order_id)
            others = [r for r in self._repo(uow).for_order(rma.order_id) if r.id != rma.id]
        return self._quote(order, rma, others)

    # -- request, approve, decline, cancel ------------------------------------------------

    def request(self, order_id: str, lines: list[ReturnItem], *, channel: str,
                location: str | None = None, note: str = "",
                exchange: list[NewLine] | tuple[NewLine, ...] = (),
                exchange_mode: ExchangeMode = ExchangeMode.ON_RECEIPT,
                idempotency_key: str | None = None) -> Return:
        """Ask to return units of shipped lines. See :class:`RequestReturn`."""
        return self._request(RequestReturn(order_id=order_id, lines=lines, channel=channel,
                                           location=location, note=note, exchange=exchange,
                                           exchange_mode=exchange_mode,
                                           idempotency_key=idempotency_key))

    def _request(self, c: RequestReturn) -> Return:
        policy = self.policy()

        def op(uow: UnitOfWork, repo: ReturnRepository, at: datetime
               ) -> tuple[Return, Return | None]:
            # The order's row first: two requests for the same units are serialised here.
            order = uow.orders.get(c.order_id, for_update=True)
            if c.idempotency_key is not None:
                found = repo.by_key(order.id, c.idempotency_key)
                if found is not None:
                    if found.requested != {x.line_id: x.quantity for x in c.lines}:
                        raise IdempotencyKeyConflict(c.idempotency_key, "return")
                    return found, None
            existing = repo.for_order(order.id)
            context = self._context(uow, order, existing, c, at)
            refusals = list(policy.evaluate(context, self._settings))
            if any(r.code is RefusalCode.WINDOW_CLOSED for r in refusals):
                raise ReturnWindowClosed(order.id, refusals)
            if refusals:
                raise ReturnRefused(order.id, refusals)
            reasons = {x.line_id: x.reason for x in c.lines}
            rma = Return(
                id=new_id(), order_id=order.id, channel=c.channel, location=c.location,
                policy=policy.code, idempotency_key=c.idempotency_key, note=c.note,
                lines=tuple(ReturnLine(line_id=x.line_id, sku=x.sku, quantity=x.quantity,
                                       unit_price=x.unit_price, reason=reasons[x.line_id])
                            for x in context.lines),
                exchange=tuple(ExchangeLine(sku=x.sku, quantity=x.quantity,
                                            unit_price=to_minor_units(x.unit_price,
                                                                      order.currency))
                               for x in c.exchange),
                exchange_mode=c.exchange_mode if c.exchange else None,
                created_at=at, updated_at=at)
            rma.record(ReturnRequested(
                order=order.id, occurred_at=at, return_id=rma.id, channel=c.channel,
                location=c.location,
                lines=tuple(LineQuantity(line_id=x.line_id, sku=x.sku, quantity=x.quantity)
                            for x in rma.lines)))
            repo.add(rma)
            return rma, rma

        return self._write(op)

    def _context(self, uow: UnitOfWork, order: Order, existing: list[Return],
                 c: RequestReturn, at: datetime) -> ReturnContext:
        shipped = shipped_units(order)
        taken = _taken(existing)
        by_id = {x.line_id: x for x in order.lines}
        problems = [f"lines[{i}].line_id: order {order.id} has no line {x.line_id!r}"
                    for i, x in enumerate(c.lines) if x.line_id not in by_id]
        refuse(problems, "return")
        for x in c.lines:
            left = shipped.get(x.line_id, 0) - taken.get(x.line_id, 0)
            if x.quantity > left:
                raise ReturnQuantityExceeded("return", x.line_id, x.quantity, max(left, 0))
        is_store = False
        if c.location is not None:
            found = uow.inventory.location(c.location)
            if found is None:
                raise LocationNotFound(c.location)
            is_store = found.kind is LocationKind.STORE
        wanted = {x.line_id for x in c.lines}
        delivered: list[datetime] = []
        left_at: list[datetime] = []
        origins: list[str] = []
        for fo in order.fulfillment_orders:
            for s in fo.shipments:
                if s.shipped_at is None or not wanted & {x.line_id for x in s.lines}:
                    continue
                left_at.append(s.shipped_at)
                if s.delivered_at is not None:
                    delivered.append(s.delivered_at)
                if fo.location not in origins:
                    origins.append(fo.location)
        return ReturnContext(
            order_id=order.id, order_channel=order.channel, currency=order.currency,
            placed_at=order.placed_at, delivered_at=max(delivered, default=None),
            shipped_at=max(left_at, default=None), shipped_from=tuple(origins),
            channel=c.channel, location=c.location, location_is_store=is_store,
            requested_at=at,
            lines=tuple(ReturnContextLine(
                line_id=x.line_id, sku=by_id[x.line_id].sku, quantity=x.quantity,
                unit_price=by_id[x.line_id].unit_price, reason=x.reason,
                shipped=shipped.get(x.line_id, 0)) for x in c.lines))

    def approve(self, return_id: str) -> Return:
        """Approve a requested return. See :class:`ApproveReturn`."""
        return self._approve(ApproveReturn(return_id=return_id))

    def _approve(self, c: ApproveReturn) -> Return:
        def change(uow: UnitOfWork, repo: ReturnRepository, rma: Return, at: datetime) -> bool:
            if rma.status is not ReturnStatus.REQUESTED and rma.status not in RETURN_VOID:
                return False  # approved before: approving again changes nothing
            rma.move_to(ReturnStatus.APPROVED, at)
            return True

        rma = self._change(c.return_id, change)
        if rma.exchange and rma.status not in RETURN_VOID:
            rma = self._place_exchange(rma)
        return rma

    def decline(self, return_id: str, reason: str = "") -> Return:
        """Decline a requested return. See :class:`DeclineReturn`."""
        return self._decline(DeclineReturn(return_id=return_id, reason=reason))

    def _decline(self, c: DeclineReturn) -> Return:
        return self._end(c.return_id, ReturnStatus.DECLINED, c.reason)

    def cancel(self, return_id: str, reason: str = "") -> Return:
        """Cancel a return no goods arrived for. See :class:`CancelReturn`."""
        return self._cancel(CancelReturn(return_id=return_id, reason=reason))

    def _cancel(self, c: CancelReturn) -> Return:
        return self._end(c.return_id, ReturnStatus.CANCELLED, c.reason)

    def expire(self, return_id: str) -> Return:
        """End a return whose goods never came. See :class:`ExpireReturn`."""
        return self._expire(ExpireReturn(return_id=return_id))

    def _expire(self, c: ExpireReturn) -> Return:
        return self._end(c.return_id, ReturnStatus.EXPIRED, "expired")

    def _end(self, return_id: str, target: ReturnStatus, reason: str) -> Return:
        def change(uow: UnitOfWork, repo: ReturnRepository, rma: Return, at: datetime) -> bool:
            if rma.status is target:
                return False
            rma.move_to(target, at, reason)
            return True

        rma = self._change(return_id, change)
        if rma.status in RETURN_VOID and rma.exchange_order_id is not None:
            # Nothing comes back: the replacement it reserved is given up.
            self._orders.cancel(rma.exchange_order_id, f"return {rma.id} {target.value}")
        return rma

    # -- receiving and inspecting ---------------------------------------------------------

    def receive(self, return_id: str, location: str, lines: list[ReturnItem], *,
                idempotency_key: str) -> Return:
        """Units of the return arrived at ``location``. See :class:`ReceiveReturn`."""
        return self._receive(ReceiveReturn(return_id=return_id, location=location,
                                           lines=lines, idempotency_key=idempotency_key))

    def _receive(self, c: ReceiveReturn) -> Return:
        def change(uow: UnitOfWork, repo: ReturnRepository, rma: Return, at: datetime) -> bool:
            done = rma.receipt(c.idempotency_key)
            if done is not None:
                if (done.location != c.location or {x.line_id: x.quantity for x in done.lines}
                        != {x.line_id: x.quantity for x in c.lines}):
                    raise IdempotencyKeyConflict(c.idempotency_key, "return receipt")
                return False  # the same receipt again: nothing changes
            if rma.status not in RETURN_AWAITING_GOODS:
                raise IllegalTransition("return", rma.id, rma.status.value,
                                        ReturnStatus.RECEIVED.value)
            if uow.inventory.location(c.location) is None:
                raise LocationNotFound(c.location)
            asked, got = rma.requested, rma.received
            skus = {x.line_id: x.sku for x in rma.lines}
            for x in c.lines:
                left = asked.get(x.line_id, 0) - got.get(x.line_id, 0)
                if x.quantity > left:
                    raise ReturnQuantityExceeded("return receipt", x.line_id, x.quantity,
                                                 max(left, 0))
            rma.add_receipt(ReturnReceipt(
                key=c.idempotency_key, location=c.location, received_at=at,
                lines=tuple(LineQuantity(line_id=x.line_id, sku=skus[x.line_id],
                                         quantity=x.quantity) for x in c.lines)))
            return True

        rma = self._change(c.return_id, change)
        self._release_exchange(rma)
        return rma

    def inspect(self, return_id: str, units: list[Any], *, idempotency_key: str) -> Return:
        """Give received units a disposition. See :class:`InspectReturn`."""
        return self._inspect(InspectReturn(return_id=return_id, units=units,
                                           idempotency_key=idempotency_key))

    def _inspect(self, c: InspectReturn) -> Return:
        def change(uow: UnitOfWork, repo: ReturnRepository, rma: Return, at: datetime) -> bool:
            done = rma.inspection(c.idempotency_key)
            if done is not None:
                if done.units != c.units:
                    raise IdempotencyKeyConflict(c.idempotency_key, "return inspection")
                return False
            got, seen = rma.received, rma.inspected
            wanted: dict[str, int] = defaultdict(int)
            for u in c.units:
                wanted[u.line_id] += u.quantity
            for line_id, n in wanted.items():
                left = got.get(line_id, 0) - seen.get(line_id, 0)
                if n > left:
                    raise ReturnQuantityExceeded("return inspection", line_id, n, max(left, 0))
            skus = {x.line_id: x.sku for x in rma.lines}
            where = {x.line_id: r.location for r in rma.receipts for x in r.lines}
            reference = f"return {rma.id}"
            for i, u in enumerate(c.units):
                if u.disposition is not Disposition.RESTOCK:
                    continue  # kept apart, written off or sent back: not sellable stock
                location, sku = where[u.line_id], skus[u.line_id]
                # The movement's key makes the ledger refuse a second one even if the
                # return's own record of the inspection were lost.
                uow.inventory.add_on_hand(location, sku, u.quantity, MovementKind.RECEIVE,
                                          reference, at, _movement_key(rma.id,
                                                                       c.idempotency_key, i))
                uow.emit(StockReceived(occurred_at=at, location=location, sku=sku,
                                       quantity=u.quantity, reference=reference))
            rma.add_inspection(ReturnInspection(key=c.idempotency_key, units=c.units,
                                                inspected_at=at),
                               rma.location or next(iter(where.values()), ""))
            return True

        return self._change(c.return_id, change)

    # -- refund ---------------------------------------------------------------------------

    def _quote(self, order: Order, rma: Return, others: list[Return]) -> RefundQuote:
        shipped = shipped_units(order)
        back = _taken([*(r for r in others if r.status in (ReturnStatus.INSPECTED,
                                                           ReturnStatus.CLOSED)),
                       attrs.evolve(rma, status=ReturnStatus.CLOSED)])
        whole = all(back.get(k, 0) >= v for k, v in shipped.items())
        shipping = Decimal(str(order.metadata.get("shipping_amount", "0") or "0"))
        got = rma.received
        context = RefundContext(
            return_id=rma.id, order_id=order.id, currency=order.currency,
            channel=rma.channel, location=rma.location, whole_order_returned=whole,
            shipping_paid=shipping, label_used=rma.label is not None,
            lines=tuple(RefundContextLine(
                line_id=x.line_id, sku=x.sku, unit_price=x.unit_price, reason=x.reason,
                requested=x.quantity, received=got.get(x.line_id, 0),
                dispositions=rma.dispositions(x.line_id)) for x in rma.lines))
        quote = self.policy().quote(context, self._settings)
        return attrs.evolve(
            quote, items=to_minor_units(quote.items, order.currency),
            shipping=to_minor_units(quote.shipping, order.currency),
            fees=to_minor_units(quote.fees, order.currency))

    def refund(self, return_id: str) -> Return:
        """Pay the policy's refund for an inspected return. See :class:`RefundReturn`."""
        return self._refund(RefundReturn(return_id=return_id))

    def _refund(self, c: RefundReturn) -> Return:
        rma = self.get(c.return_id)
        if rma.refund is not None:
            return rma
        if rma.status is not ReturnStatus.INSPECTED:
            raise IllegalTransition("return", rma.id, rma.status.value, "refunded")
        with self._db.uow() as uow:
            order = uow.orders.get(rma.order_id)
            others = [r for r in self._repo(uow).for_order(rma.order_id) if r.id != rma.id]
        quote = self._quote(order, rma, others)
        key = f"return-{rma.id}"
        if quote.total > 0:
            # Outside any transaction; the ledger refuses more than was captured and pays
            # a retried key once.
            self._payments.refund(rma.order_id, quote.total, refund_key=key,
                                  reason=f"return {rma.id}")

        def change(uow: UnitOfWork, repo: ReturnRepository, found: Return,
                   at: datetime) -> bool:
            if found.refund is not None:
                return False
            found.refund = ReturnRefund(refund_key=key, quote=quote, amount=quote.total,
                                        refunded_at=at)
            found.updated_at = at
            found.record(ReturnRefunded(
                order=found.order_id, occurred_at=at, return_id=found.id, amount=quote.total,
                items=quote.items, shipping=quote.shipping, fees=quote.fees, refund_key=key))
            return True

        return self._change(rma.id, change)

    def close(self, return_id: str) -> Return:
        """Close an inspected return. See :class:`CloseReturn`."""
        return self._close(CloseReturn(return_id=return_id))

    def _close(self, c: CloseReturn) -> Return:
        return self._end(c.return_id, ReturnStatus.CLOSED, "")

    # -- return labels --------------------------------------------------------------------

    def buy_label(self, return_id: str, carrier: str, *, weight_grams: int = 1000) -> Return:
        """Buy the customer's return label. See :class:`BuyReturnLabel`."""
        return self._buy_label(BuyReturnLabel(return_id=return_id, carrier=carrier,
                                              weight_grams=weight_grams))

    def _buy_label(self, c: BuyReturnLabel) -> Return:
        found = self._shipping.carrier(c.carrier, CarrierCapability.RETURN_LABELS)
        rma = self.get(c.return_id)
        if rma.label is not None:
            return rma
        if rma.status not in (ReturnStatus.REQUESTED, ReturnStatus.APPROVED):
            raise IllegalTransition("return", rma.id, rma.status.value,
                                    ReturnStatus.IN_TRANSIT.value)
        with self._db.uow() as uow:
            order = uow.orders.get(rma.order_id)
            code = rma.location or next(
                (fo.location for fo in order.fulfillment_orders if fo.shipments), None)
            origin = None if code is None else uow.inventory.location(code)
        if origin is None:
            raise LocationNotFound(code or "(none)")
        refuse([] if order.shipping_address is not None else
               [f"order {order.id} has no shipping address to collect the return from"],
               "return label")
        assert order.shipping_address is not None
        key = f"return-{rma.id}-label"
        label = found.buy_return_label(LabelRequest(
            idempotency_key=key, order_id=order.id, shipment_id=rma.id,
            parcel_id=f"{rma.id}-1", origin=origin, destination=order.shipping_address,
            parcel=ParcelSpec(weight_grams=c.weight_grams), is_return=True), self._settings)

        def change(uow: UnitOfWork, repo: ReturnRepository, current: Return,
                   at: datetime) -> bool:
            if current.label is not None:
                return False
            current.label = ReturnLabel(carrier=c.carrier, idempotency_key=key,
                                        tracking_number=label.tracking_number,
                                        label_id=label.label_id)
            current.location = current.location or origin.code
            current.updated_at = at
            current.record(ReturnLabelBought(
                order=current.order_id, occurred_at=at, return_id=current.id,
                carrier=c.carrier, tracking_number=label.tracking_number))
            if current.status is ReturnStatus.APPROVED:
                current.move_to(ReturnStatus.IN_TRANSIT, at)
            return True

        return self._change(rma.id, change)

    # -- exchanges ------------------------------------------------------------------------

    def _place_exchange(self, rma: Return) -> Return:
        """Place the exchange's replacement order (idempotent on its external id): held
        until the return is received (its stock reserved meanwhile), or free to ship at
        once. Then record it on the return."""
        order = self._orders.get(rma.order_id)
        replacement = self._orders.place(PlaceOrder(
            channel=order.channel, external_id=f"exchange-{rma.id}", currency=order.currency,
            customer=order.customer, delivery=order.delivery,
            shipping_address=order.shipping_address, billing_address=order.billing_address,
            lines=[NewLine(sku=x.sku, quantity=x.quantity, unit_price=x.unit_price)
                   for x in rma.exchange],
            tags=("exchange",), metadata={"return_id": rma.id, "exchange_for": order.id}))
        mode = rma.exchange_mode or ExchangeMode.ON_RECEIPT
        if mode is ExchangeMode.ON_RECEIPT:
            self._orders.place_hold(replacement.id, EXCHANGE_HOLD,
                                    f"exchange: waiting for return {rma.id}")

        def change(uow: UnitOfWork, repo: ReturnRepository, current: Return,
                   at: datetime) -> bool:
            if current.exchange_order_id is not None:
                return False
            current.exchange_order_id = replacement.id
            current.updated_at = at
            current.record(ExchangeOrderPlaced(
                order=current.order_id, occurred_at=at, return_id=current.id,
                exchange_order=replacement.id, mode=mode.value))
            return True

        rma = self._change(rma.id, change)
        self._release_exchange(rma)
        return rma

    def _release_exchange(self, rma: Return) -> None:
        """A return received whole lets its exchange order go (idempotent)."""
        if (rma.exchange_order_id is not None
                and rma.exchange_mode is ExchangeMode.ON_RECEIPT
                and rma.status in (ReturnStatus.RECEIVED, ReturnStatus.INSPECTED,
                                   ReturnStatus.CLOSED)):
            self._orders.release_hold(rma.exchange_order_id, EXCHANGE_HOLD)


__all__ = ["EXCHANGE_HOLD", "ReturnService", "shipped_units"]
