"""Dropship (``oms.dropship``): purchase orders to suppliers through supplier connector
plugins, and what the suppliers answer.

The invariants live here, never in a plugin:

- A fulfilment order released at a supplier location has one purchase order (its id is
  derived from the fulfilment order's, so creating it again finds it).
- A purchase order is sent once. The send is claimed (status ``sending`` and an idempotency
  key) in a committed transaction before the connector is called, outside any transaction;
  a concurrent caller gets :class:`PurchaseOrderSendInProgress`. A send whose outcome is
  unknown (a timeout, an unexpected exception, a claim left by a crashed process) is
  reconciled with ``find_purchase_order(key)`` before any new send, which reuses the key.
- Each supplier message (acknowledgement, refusal, ship notice, stock feed) is processed
  once: its ``message_id`` is recorded in the transaction that applies it.
- A refusal rejects the fulfilment order and re-routes its lines, as a location's
  rejection does. A ship notice ships what it lists through the shipment model (one
  shipment, a parcel labelled by the supplier's carrier), the rest stays open; a notice for
  more than is left to ship is a :class:`ShipNoticeExceedsOrder` and changes nothing.
- A stock feed sets the supplier location's on-hand stock through the inventory ledger:
  the free units the supplier reports plus those our open orders hold there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa

from omskit.documents.purchase_orders import render_purchase_order
from omskit.domain.checks import MAX_TEXT_LENGTH, check_count, check_location_code, refuse
from omskit.domain.commands.dropship import (
    CreatePurchaseOrder,
    PollSuppliers,
    ReceiveShipNotice,
    ReceiveStockFeed,
    ReceiveSupplierResponse,
    SendPurchaseOrder,
)
from omskit.domain.dropship import (
    PurchaseOrder,
    PurchaseOrderAcknowledged,
    PurchaseOrderCreated,
    PurchaseOrderDocument,
    PurchaseOrderLine,
    PurchaseOrderRefused,
    PurchaseOrderSendInProgress,
    PurchaseOrderSent,
    PurchaseOrderStatus,
    ShipNotice,
    ShipNoticeExceedsOrder,
    ShipNoticeReceived,
    StockFeed,
    SupplierError,
    SupplierOutcomeUnknown,
    SupplierPollResult,
    SupplierRefused,
    SupplierResponse,
    SupplierResponseKind,
    SupplierUnavailable,
    UnknownSupplier,
)
from omskit.domain.errors import InvalidCommand, LocationNotFound, NotFound
from omskit.domain.events import Event, StockAdjusted, new_id
from omskit.domain.inventory import LocationKind, MovementKind
from omskit.domain.lifecycle import FulfillmentStatus
from omskit.domain.order import FulfillmentOrder, Order
from omskit.domain.shipping import LabelStatus, Parcel, Shipment
from omskit.domain.values import LineQuantity
from omskit.plugins import Hooks
from omskit.ports import ShippingCarrier, SupplierConnector
from omskit.registries import Registry
from omskit.routing.engine import RoutingEngine
from omskit.services.allocation import lock_stock_of, route_remaining
from omskit.services.database import Database
from omskit.services.dispatch import EventDispatcher
from omskit.services.orders import MAX_PAGE_SIZE, OrderService, release_reservations, require_id
from omskit.services.shipping import consume_shipped
from omskit.store.dropship import DropshipRepository
from omskit.store.uow import UnitOfWork

T = TypeVar("T")
F = FulfillmentStatus
P = PurchaseOrderStatus

#: How long a send claim stands before another caller may take the call as lost and
#: reconcile it. Longer than any connector call's timeout.
SEND_CLAIM_LEASE = timedelta(minutes=5)
#: Statuses in which the supplier has the purchase order.
_AT_SUPPLIER = frozenset({P.SENT, P.ACKNOWLEDGED, P.PARTIALLY_SHIPPED, P.SHIPPED})
#: Statuses a poll sends again: never sent, or sent with an unknown outcome.
_TO_SEND = (P.PENDING.value, P.UNKNOWN.value, P.SENDING.value)


def purchase_order_id(fulfillment_order_id: str) -> str:
    """The id of a fulfilment order's purchase order."""
    return f"po-{fulfillment_order_id}"


class DropshipService:
    """The dropship side of the public API (``oms.dropship``)."""

    def __init__(self, *, db: Database, dispatcher: EventDispatcher,
                 clock: Callable[[], datetime], hooks: Hooks, router: RoutingEngine,
                 suppliers: Registry[SupplierConnector], carriers: Registry[ShippingCarrier],
                 settings: Mapping[str, Any], orders: OrderService) -> None:
        self._db = db
        self._dispatcher = dispatcher
        self._clock = clock
        self._hooks = hooks
        self._router = router
        self._suppliers = suppliers
        self._carriers = carriers
        self._settings = settings
        self._orders = orders

    # -- plumbing -------------------------------------------------------------------------

    def supplier(self, code: str) -> SupplierConnector:
        """The installed supplier connector with this code (``UnknownSupplier``)."""
        found: SupplierConnector = self._suppliers.get(code)
        return found

    def suppliers(self) -> list[str]:
        """Codes of every installed supplier connector."""
        return list(self._suppliers)

    def _read(self, read: Callable[[DropshipRepository, UnitOfWork], T]) -> T:
        with self._db.uow() as uow:
            return read(DropshipRepository(uow.connection, self._db.tables), uow)

    def _write(self, write: Callable[[DropshipRepository, UnitOfWork, datetime], T]) -> T:
        """Run ``write`` in a committed unit of work (again on transient conflicts, and
        once more when a concurrent twin of a message committed first) and dispatch its
        events."""
        def attempt() -> tuple[T, list[Event]]:
            with self._db.uow() as uow:
                result = write(DropshipRepository(uow.connection, self._db.tables), uow,
                               self._clock())
                return result, uow.commit()

        try:
            result, events = self._db.retrying(attempt)
        except sa.exc.IntegrityError:
            if self._db.in_host_transaction:
                raise
            result, events = self._db.retrying(attempt)  # finds the twin's row: a no-op
        self._dispatcher.dispatch(events)
        return result

    def _change(self, order_id: str,
                change: Callable[[UnitOfWork, DropshipRepository, Order, datetime], T]) -> T:
        """Apply ``change`` to the locked order with the dropship rows in one transaction."""
        box: list[T] = []

        def apply(uow: UnitOfWork, order: Order, at: datetime) -> None:
            box.clear()
            box.append(change(uow, DropshipRepository(uow.connection, self._db.tables),
                              order, at))

        try:
            self._orders.change(order_id, apply)
        except sa.exc.IntegrityError:
            if self._db.in_host_transaction:
                raise
            self._orders.change(order_id, apply)
        return box[0]

    # -- purchase orders ------------------------------------------------------------------

    def purchase(self, fulfillment_order_id: str) -> PurchaseOrder:
        """The purchase order of a fulfilment order released at a supplier location,
        created if it has none, and sent if it was not. See :class:`CreatePurchaseOrder`.

        A send that fails is recorded on the purchase order (``pending``, ``unknown`` or
        ``failed``, with the error) and returned, not raised: ``poll`` sends it again."""
        return self._purchase(CreatePurchaseOrder(fulfillment_order_id=fulfillment_order_id))

    def _purchase(self, c: CreatePurchaseOrder) -> PurchaseOrder:
        po = self._create(c.fulfillment_order_id)
        if po.status in (P.PENDING, P.UNKNOWN):
            try:
                return self.send(po.id)
            except (SupplierError, PurchaseOrderSendInProgress):
                return self.get(po.id)
        return po

    def _create(self, fulfillment_order_id: str) -> PurchaseOrder:
        with self._db.uow() as uow:
            order_id = uow.orders.order_id_for_fulfillment(fulfillment_order_id)
            existing = DropshipRepository(uow.connection, self._db.tables) \
                .for_fulfillment_order(fulfillment_order_id)
        if existing is not None:
            return existing

        def change(uow: UnitOfWork, repo: DropshipRepository, order: Order,
                   at: datetime) -> PurchaseOrder:
            found = repo.for_fulfillment_order(fulfillment_order_id)
            if found is not None:
                return found
            fo = order.fulfillment_order(fulfillment_order_id)
            supplier = uow.inventory.location(fo.location)
            if supplier is None:
                raise LocationNotFound(fo.location)
            problems = []
            if supplier.kind is not LocationKind.SUPPLIER:
                problems.append(f"fulfillment_order_id: {fo.id} is at {fo.location}, a "
                                f"{supplier.kind.value}, not a supplier")
            if fo.status not in (F.RELEASED, F.ACCEPTED):
                problems.append(f"fulfillment_order_id: {fo.id} is {fo.status.value}, not "
                                "released")
            refuse(problems, "purchase order")
            self.supplier(fo.location)  # a supplier location without a connector: refused
            po = PurchaseOrder(
                id=purchase_order_id(fo.id), supplier=fo.location, order_id=order.id,
                fulfillment_order_id=fo.id,
                lines=tuple(PurchaseOrderLine(line_id=x.line_id, sku=x.sku,
                                              quantity=x.quantity) for x in fo.lines),
                idempotency_key=f"{purchase_order_id(fo.id)}:1", attempts=1,
                created_at=at, updated_at=at)
            document_json, document_html = render_purchase_order(po, supplier, order)
            repo.add(po, document_json, document_html)
            order.record(PurchaseOrderCreated(
                order=order.id, occurred_at=at, purchase_order_id=po.id,
                supplier=po.supplier, fulfillment_order_id=fo.id,
                lines=tuple(LineQuantity(line_id=x.line_id, sku=x.sku, quantity=x.quantity)
                            for x in po.lines)))
            return po

        return self._change(order_id, change)

    def send(self, purchase_order_id: str) -> PurchaseOrder:
        """Send the purchase order through its supplier's connector, once. See
        :class:`SendPurchaseOrder` and the module's docstring for failures, which are
        recorded and raised (``SupplierUnavailable``, ``SupplierRefused``,
        ``SupplierOutcomeUnknown``)."""
        return self._send(SendPurchaseOrder(purchase_order_id=purchase_order_id))

    def _send(self, c: SendPurchaseOrder) -> PurchaseOrder:
        po = self.get(c.purchase_order_id)
        connector = self.supplier(po.supplier)

        # 1. Claim, committed before the supplier hears of it.
        def claim(repo: DropshipRepository, uow: UnitOfWork,
                  at: datetime) -> tuple[PurchaseOrder, PurchaseOrderDocument | None, bool]:
            po = repo.get(c.purchase_order_id, for_update=True)
            if po.status in _AT_SUPPLIER or po.status is P.REFUSED:
                return po, None, False
            if (po.status is P.SENDING and po.claimed_at is not None
                    and po.claimed_at + SEND_CLAIM_LEASE > at):
                raise PurchaseOrderSendInProgress(po.id)
            # A claim past its lease is a send whose outcome nobody knows.
            reconcile = po.status in (P.SENDING, P.UNKNOWN)
            if po.status is P.FAILED:
                po.attempts += 1
                po.idempotency_key = f"{po.id}:{po.attempts}"
            po.status, po.claimed_at, po.updated_at = P.SENDING, at, at
            repo.save(po)
            document_json, document_html = repo.documents(po.id)
            return po, PurchaseOrderDocument(
                purchase_order_id=po.id, supplier=po.supplier,
                idempotency_key=po.idempotency_key, json=document_json,
                html=document_html), reconcile

        po, document, reconcile = self._write(claim)
        if document is None:
            return po
        # 2. The call, outside any transaction.
        try:
            reference = connector.find_purchase_order(document.idempotency_key,
                                                      self._settings) if reconcile else None
            if reference is None:
                reference = connector.send_purchase_order(document, self._settings)
        except SupplierUnavailable as exc:
            self._send_failed(document, P.PENDING, exc.message)
            raise
        except SupplierRefused as exc:
            self._send_failed(document, P.FAILED, exc.message)
            raise
        except SupplierError as exc:
            self._send_failed(document, P.UNKNOWN, exc.message)
            raise
        except Exception as exc:
            # Anything else may have happened after the supplier got it: ask next time.
            said = f"{type(exc).__name__}: {exc}"
            self._send_failed(document, P.UNKNOWN, said)
            raise SupplierOutcomeUnknown(po.supplier, said) from exc
        # 3. The result, recorded.
        return self._sent(document, reference)

    def _send_failed(self, document: PurchaseOrderDocument, status: PurchaseOrderStatus,
                     message: str) -> None:
        def record(repo: DropshipRepository, uow: UnitOfWork, at: datetime) -> None:
            po = repo.get(document.purchase_order_id, for_update=True)
            if po.idempotency_key == document.idempotency_key and po.status is P.SENDING:
                po.status, po.error, po.updated_at = status, message[:MAX_TEXT_LENGTH], at
                repo.save(po)

        self._write(record)

    def _sent(self, document: PurchaseOrderDocument, reference: str) -> PurchaseOrder:
        def record(repo: DropshipRepository, uow: UnitOfWork, at: datetime) -> PurchaseOrder:
            po = repo.get(document.purchase_order_id, for_update=True)
            if po.idempotency_key != document.idempotency_key or po.status is not P.SENDING:
                return po  # recorded already (a reconciling caller got there first)
            po.status, po.sent_at, po.updated_at = P.SENT, at, at
            po.supplier_reference, po.error = str(reference or "")[:MAX_TEXT_LENGTH], ""
            repo.save(po)
            uow.emit(PurchaseOrderSent(
                order=po.order_id, occurred_at=at, purchase_order_id=po.id,
                supplier=po.supplier, idempotency_key=po.idempotency_key,
                supplier_reference=po.supplier_reference))
            return po

        return self._write(record)

    # -- what suppliers send back ---------------------------------------------------------

    def _message_target(self, supplier: str, po_id: str) -> PurchaseOrder:
        self.supplier(supplier)
        po = self.get(po_id)
        if po.supplier != supplier:
            # Another supplier's purchase order is none of this one's business.
            raise InvalidCommand([f"purchase_order_id: {po_id} was sent to {po.supplier}, "
                                  f"not {supplier}"], subject="supplier message")
        return po

    def receive_response(self, supplier: str, response: SupplierResponse) -> PurchaseOrder:
        """The supplier acknowledged a purchase order (its fulfilment order is accepted) or
        refused it (its fulfilment order is rejected and re-routed). Processed once per
        ``message_id``. See :class:`ReceiveSupplierResponse`."""
        return self._receive_response(ReceiveSupplierResponse(supplier=supplier,
                                                              response=response))

    def _receive_response(self, c: ReceiveSupplierResponse) -> PurchaseOrder:
        r = c.response
        po = self._message_target(c.supplier, r.purchase_order_id)

        def change(uow: UnitOfWork, repo: DropshipRepository, order: Order,
                   at: datetime) -> PurchaseOrder:
            po = repo.get(r.purchase_order_id, for_update=True)
            if repo.seen(c.supplier, r.message_id):
                return po
            fo = order.fulfillment_order(po.fulfillment_order_id)
            if r.kind is SupplierResponseKind.ACKNOWLEDGED:
                self._acknowledge(order, fo, po, at)
                order.record(PurchaseOrderAcknowledged(
                    order=order.id, occurred_at=at, purchase_order_id=po.id,
                    supplier=po.supplier))
            else:
                self._refuse(uow, order, fo, po, r.reason, at)
                order.record(PurchaseOrderRefused(
                    order=order.id, occurred_at=at, purchase_order_id=po.id,
                    supplier=po.supplier, reason=r.reason))
            po.updated_at = at
            repo.save(po)
            repo.add_message(c.supplier, r.message_id, r.kind.value, po.id, "applied", "", at)
            return po

        return self._change(po.order_id, change)

    @staticmethod
    def _acknowledge(order: Order, fo: FulfillmentOrder, po: PurchaseOrder,
                     at: datetime) -> None:
        refuse([] if po.status is not P.REFUSED else
               [f"purchase_order_id: {po.id} was refused"], "acknowledgement")
        if po.status not in (P.PARTIALLY_SHIPPED, P.SHIPPED):
            po.status = P.ACKNOWLEDGED
        if fo.status is F.RELEASED:
            order.advance_fulfillment(fo.id, F.ACCEPTED, at)

    def _refuse(self, uow: UnitOfWork, order: Order, fo: FulfillmentOrder, po: PurchaseOrder,
                reason: str, at: datetime) -> None:
        problems = []
        if po.shipped:
            problems.append(f"purchase_order_id: {po.id} has shipped units (cancel or short "
                            "close the rest of the order instead)")
        elif fo.status is not F.RELEASED:
            problems.append(f"purchase_order_id: {po.id}'s fulfilment order is "
                            f"{fo.status.value}: only a released one can be refused")
        refuse(problems, "refusal")
        said = f"supplier {po.supplier} refused purchase order {po.id}"
        if reason:
            said = f"{said}: {reason}"
        # As FulfillmentService.reject: the supplier's units are free again and the lines
        # go elsewhere (the rows both touch locked first, in the global order).
        order.reject_fulfillment(fo.id, said[:MAX_TEXT_LENGTH], at)
        lock_stock_of(uow, order)
        release_reservations(uow, order.id, "purchase order refused", at, fo.id)
        route_remaining(self._router, self._hooks, uow, order, at=at, exclude=(fo.location,))
        po.status, po.error = P.REFUSED, reason[:MAX_TEXT_LENGTH]

    def receive_ship_notice(self, supplier: str, notice: ShipNotice) -> PurchaseOrder:
        """The supplier shipped some or all of a purchase order: what it lists ships in one
        shipment with its carrier and tracking number, the rest stays open. Processed once
        per ``message_id``; more than is left to ship is :class:`ShipNoticeExceedsOrder`
        and changes nothing. See :class:`ReceiveShipNotice`."""
        return self._receive_ship_notice(ReceiveShipNotice(supplier=supplier, notice=notice))

    def _receive_ship_notice(self, c: ReceiveShipNotice) -> PurchaseOrder:
        n = c.notice
        po = self._message_target(c.supplier, n.purchase_order_id)
        # Resolved before anything is written: the parcel is tracked through this carrier.
        self._carriers.get(n.carrier)

        def change(uow: UnitOfWork, repo: DropshipRepository, order: Order,
                   at: datetime) -> PurchaseOrder:
            po = repo.get(n.purchase_order_id, for_update=True)
            if repo.seen(c.supplier, n.message_id):
                return po
            fo = order.fulfillment_order(po.fulfillment_order_id)
            lines = self._shipped_lines(po, fo, n)
            # The supplier picks and packs where omskit cannot see: its notice says so.
            while (step := _next(fo.status)) is not None:
                order.advance_fulfillment(fo.id, step, at)
            shipment = Shipment(id=new_id(), carrier=n.carrier, lines=lines,
                                tracking_number=n.tracking_number)
            shipment.parcels = [Parcel(
                id=f"{shipment.id}-1", shipment_id=shipment.id, weight_grams=0,
                label_status=LabelStatus.EXTERNAL, tracking_number=n.tracking_number)]
            order.create_shipment(fo.id, shipment, at)
            order.ship_shipment(shipment.id, at)
            consume_shipped(uow, order, fo, shipment.lines, at)
            po.shipped = (*po.shipped, *lines)
            po.status = P.SHIPPED if not po.left_to_ship() else P.PARTIALLY_SHIPPED
            po.updated_at = at
            repo.save(po)
            repo.add_message(c.supplier, n.message_id, "ship_notice", po.id, "applied", "", at)
            order.record(ShipNoticeReceived(
                order=order.id, occurred_at=at, purchase_order_id=po.id, supplier=po.supplier,
                message_id=n.message_id, shipment_id=shipment.id, lines=lines))
            return po

        return self._change(po.order_id, change)

    @staticmethod
    def _shipped_lines(po: PurchaseOrder, fo: FulfillmentOrder,
                       notice: ShipNotice) -> tuple[LineQuantity, ...]:
        """The order lines and units the notice ships, or :class:`ShipNoticeExceedsOrder`
        (lines by id, or by SKU over the purchase order's lines with units left)."""
        problems: list[str] = []
        if po.status is P.REFUSED or fo.status not in (F.RELEASED, F.ACCEPTED, F.PICKED,
                                                         F.PACKED):
            raise InvalidCommand([f"purchase_order_id: {po.id} is {po.status.value} and its "
                                  f"fulfilment order {fo.status.value}: nothing to ship"],
                                 subject=f"ship notice for {po.id}")
        left = po.left_to_ship()
        sku_of = {x.line_id: x.sku for x in po.lines}
        taken: dict[str, int] = {}
        for i, x in enumerate(notice.lines):
            if x.line_id is not None:
                if sku_of.get(x.line_id) != x.sku:
                    problems.append(f"lines[{i}]: line {x.line_id!r} with SKU {x.sku!r} is "
                                    f"not on purchase order {po.id}")
                    continue
                candidates = [x.line_id]
            else:
                candidates = [line_id for line_id, sku in sku_of.items() if sku == x.sku]
                if not candidates:
                    problems.append(f"lines[{i}].sku: {x.sku!r} is not on purchase order "
                                    f"{po.id}")
                    continue
            want = x.quantity
            for line_id in candidates:
                room = left.get(line_id, 0) - taken.get(line_id, 0)
                take = min(room, want)
                if take > 0:
                    taken[line_id] = taken.get(line_id, 0) + take
                    want -= take
            if want:
                problems.append(f"lines[{i}].quantity: {x.quantity} of {x.sku!r}, but "
                                f"{x.quantity - want} are left to ship")
        if problems:
            raise ShipNoticeExceedsOrder(po.id, problems)
        return tuple(LineQuantity(line_id=line_id, sku=sku_of[line_id], quantity=q)
                     for line_id, q in taken.items())

    def receive_stock_feed(self, supplier: str, feed: StockFeed) -> list[str]:
        """The supplier's stock feed: the on-hand stock of each SKU it lists at its location
        becomes the free units it reports plus those our open orders hold there, through
        the inventory ledger (``stock.adjusted``). Processed once per ``message_id``;
        returns the SKUs whose stock changed. See :class:`ReceiveStockFeed`."""
        return self._receive_stock_feed(ReceiveStockFeed(supplier=supplier, feed=feed))

    def _receive_stock_feed(self, c: ReceiveStockFeed) -> list[str]:
        self.supplier(c.supplier)
        feed = c.feed

        def apply(repo: DropshipRepository, uow: UnitOfWork, at: datetime) -> list[str]:
            location = uow.inventory.location(c.supplier)
            if location is None or location.kind is not LocationKind.SUPPLIER:
                raise UnknownSupplier(c.supplier)
            if repo.seen(c.supplier, feed.message_id):
                return []
            uow.inventory.lock_rows(sorted((c.supplier, x.sku) for x in feed.levels))
            changed: list[str] = []
            reference = f"stock feed {feed.message_id}"
            for level in feed.levels:
                item = uow.inventory.stock_item(c.supplier, level.sku)
                on_hand, reserved = (item.on_hand, item.reserved) if item else (0, 0)
                delta = level.quantity + reserved - on_hand
                if delta > 0:
                    uow.inventory.add_on_hand(c.supplier, level.sku, delta,
                                              MovementKind.ADJUST, reference, at)
                elif delta < 0:
                    uow.inventory.remove_on_hand(c.supplier, level.sku, -delta,
                                                 MovementKind.ADJUST, reference, at)
                if delta:
                    after = uow.inventory.stock_item(c.supplier, level.sku)
                    assert after is not None
                    uow.emit(StockAdjusted(occurred_at=at, location=c.supplier,
                                           sku=level.sku, on_hand_delta=delta,
                                           safety_stock=after.safety_stock, reason=reference))
                    changed.append(level.sku)
            repo.add_message(c.supplier, feed.message_id, "stock_feed", None, "applied", "",
                             at)
            return changed

        return self._write(apply)

    # -- polling --------------------------------------------------------------------------

    def poll(self, supplier: str | None = None) -> list[SupplierPollResult]:
        """For each supplier (or one): send its purchase orders not yet sent (or reconcile
        those whose send's outcome is unknown), then process the acknowledgements,
        refusals, ship notices and stock feeds its connector reads, each once. A message
        refused (an over-quantity notice, an unknown purchase order) is recorded with its
        reason and never processed again; nothing else changes. See
        :class:`PollSuppliers`."""
        return self._poll(PollSuppliers(supplier=supplier))

    def _poll(self, c: PollSuppliers) -> list[SupplierPollResult]:
        codes = [c.supplier] if c.supplier is not None else self.suppliers()
        return [self._poll_one(code) for code in codes]

    def _poll_one(self, code: str) -> SupplierPollResult:
        connector = self.supplier(code)
        sent = 0
        waiting = self._read(lambda repo, _uow: repo.find(code, _TO_SEND, MAX_PAGE_SIZE))
        for po in waiting:
            try:
                if self.send(po.id).status is P.SENT:
                    sent += 1
            except (SupplierError, PurchaseOrderSendInProgress):
                continue  # recorded on the purchase order; the next poll tries again
        processed = duplicates = 0
        refused: list[str] = []
        messages: list[tuple[str, str | None, Callable[[], object]]] = []
        for r in connector.read_responses(self._settings):
            messages.append((r.message_id, r.purchase_order_id, _bind(
                self._receive_response, ReceiveSupplierResponse(supplier=code, response=r))))
        for n in connector.read_ship_notices(self._settings):
            messages.append((n.message_id, n.purchase_order_id, _bind(
                self._receive_ship_notice, ReceiveShipNotice(supplier=code, notice=n))))
        for f in connector.read_stock_feed(self._settings):
            messages.append((f.message_id, None, _bind(
                self._receive_stock_feed, ReceiveStockFeed(supplier=code, feed=f))))
        for message_id, po_id, run in messages:
            if self._seen(code, message_id):
                duplicates += 1
                continue
            try:
                run()
            except (InvalidCommand, NotFound) as exc:
                self._record_refused(code, message_id, po_id, str(exc))
                refused.append(f"{message_id}: {exc}")
                continue
            processed += 1
        return SupplierPollResult(supplier=code, sent=sent, processed=processed,
                                  duplicates=duplicates, refused=tuple(refused))

    def _seen(self, supplier: str, message_id: str) -> bool:
        return self._read(lambda repo, _uow: repo.seen(supplier, message_id))

    def _record_refused(self, supplier: str, message_id: str, po_id: str | None,
                        error: str) -> None:
        def record(repo: DropshipRepository, uow: UnitOfWork, at: datetime) -> None:
            if not repo.seen(supplier, message_id):
                repo.add_message(supplier, message_id, "refused", None, "refused", error, at)

        self._write(record)

    # -- reads ----------------------------------------------------------------------------

    def get(self, purchase_order_id: str) -> PurchaseOrder:
        """The purchase order with this id (``PurchaseOrderNotFound``)."""
        require_id(purchase_order_id, "purchase_order_id")
        return self._read(lambda repo, _uow: repo.get(purchase_order_id))

    def for_fulfillment_order(self, fulfillment_order_id: str) -> PurchaseOrder | None:
        """The purchase order of a fulfilment order, if it has one."""
        require_id(fulfillment_order_id, "fulfillment_order_id")
        return self._read(lambda repo, _uow: repo.for_fulfillment_order(fulfillment_order_id))

    def purchase_orders(self, supplier: str | None = None,
                        statuses: Iterable[PurchaseOrderStatus | str] | None = None, *,
                        limit: int = 200) -> list[PurchaseOrder]:
        """Purchase orders, oldest first: of ``supplier``, in ``statuses``, at most
        ``limit`` (1..10,000). Arguments are checked first: :class:`InvalidCommand`."""
        problems: list[str] = []
        check_count(limit, "limit", problems, minimum=1, maximum=MAX_PAGE_SIZE)
        wanted: list[str] | None = None
        if statuses is not None:
            wanted = []
            for status in statuses:
                try:
                    wanted.append(P(status).value)
                except ValueError:
                    problems.append(f"statuses: {status!r} is not a purchase order status")
        if supplier is not None:
            check_location_code(supplier, "supplier", problems)
        refuse(problems, "purchase order query")
        return self._read(lambda repo, _uow: repo.find(supplier, wanted, limit))

    def document(self, purchase_order_id: str) -> tuple[str, str]:
        """(JSON, HTML) of the purchase order as it was sent."""
        require_id(purchase_order_id, "purchase_order_id")
        return self._read(lambda repo, _uow: repo.documents(purchase_order_id))

    def messages(self, supplier: str) -> list[dict[str, Any]]:
        """Every message of the supplier processed, in the order received: ``message_id``,
        ``kind``, ``purchase_order_id``, ``outcome`` (``applied``, ``refused``), ``error``,
        ``received_at``."""
        return self._read(lambda repo, _uow: repo.messages(supplier))


def _next(status: FulfillmentStatus) -> FulfillmentStatus | None:
    return {F.RELEASED: F.ACCEPTED, F.ACCEPTED: F.PICKED, F.PICKED: F.PACKED}.get(status)


def _bind(run: Callable[[Any], object], command: object) -> Callable[[], object]:
    return lambda: run(command)


def purchase_on_release(event: Event, services: Any) -> None:
    """A fulfilment order was released at a supplier location: create its purchase order
    and send it (``oms.dropship.purchase``). Error policy: a failed send is recorded on the
    purchase order and sent again by ``oms.dropship.poll``; anything else (a supplier
    location with no connector installed) fails the delivery, which is retried and parked."""
    from omskit.domain.events import FulfillmentOrderStatusChanged

    if not (isinstance(event, FulfillmentOrderStatusChanged)
            and event.to_status == F.RELEASED.value):
        return
    location = services.inventory.location(event.location)
    if location.kind is LocationKind.SUPPLIER:
        services.dropship.purchase(event.fulfillment_order_id)


__all__ = ["SEND_CLAIM_LEASE", "DropshipService", "purchase_on_release", "purchase_order_id"]
