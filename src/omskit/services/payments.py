"""Payments (``oms.payments``): the ledger's writer and the only caller of providers.

Every operation that moves money runs in three steps, so that no crash, retry or race can
move it twice or beyond what is there:

1. **Request**, in its own committed transaction: the transaction's row is locked
   (``SELECT ... FOR UPDATE``; SQLite's write lock), the ledger read, the amount checked
   against what is left counting pending requests, and the request entry written with the
   idempotency key derived from the business action. A refused request writes nothing.
2. **Call** the provider with no database transaction open, passing the key. A retryable
   error is retried with the same key; an outcome-unknown one is reconciled through
   ``retrieve`` before anything is asked again.
3. **Result**, in a second transaction: the success or failure under the same key (unless a
   webhook recorded it meanwhile), and what it means for the order (the ``payment_pending``
   hold).

A request left without a result (a crash between 1 and 3, an outcome nobody could learn) is
found again by its business key: the next attempt of the same action reconciles it through
``retrieve`` and reuses its key, so the provider de-duplicates even a blind retry.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal

import attrs

from omskit.domain.commands.payments import (
    AuthorisePayment,
    CapturePayment,
    HandlePaymentWebhook,
    RecordChannelCapture,
    RefundPayment,
    VoidPayment,
)
from omskit.domain.errors import (
    AuthorisationExpired,
    IdempotencyKeyConflict,
    PaymentAmountExceeded,
    PaymentDeclined,
    PaymentOutcomeUnknown,
    PaymentProviderError,
    PaymentRetryable,
    PaymentTransactionNotFound,
    UnsupportedConnection,
    UnsupportedPaymentOperation,
)
from omskit.domain.lifecycle import FulfillmentStatus, OrderStatus
from omskit.domain.order import Order
from omskit.domain.payments import (
    DEFAULT_AUTHORISATION_TTL,
    PAYMENT_PENDING,
    PaymentAction,
    PaymentAuthorisationRequested,
    PaymentCapability,
    PaymentEntry,
    PaymentEntrySource,
    PaymentErrorClass,
    PaymentLedger,
    PaymentNotification,
    PaymentOutcome,
    PaymentRecorded,
    PaymentRequest,
    PaymentResult,
    PaymentStep,
    PaymentStepKind,
    PaymentSummary,
    PaymentTransaction,
    PaymentTransactionKind,
    attempt_key,
    business_key,
    order_payment,
    settlement,
    split,
)
from omskit.domain.values import LineQuantity, Money
from omskit.plugins import Hooks
from omskit.ports import PaymentProvider
from omskit.registries import Registry
from omskit.routing.engine import RoutingEngine
from omskit.services.allocation import route_remaining
from omskit.services.database import Database
from omskit.services.orders import OrderService, require_id
from omskit.services.tenders import transaction_id
from omskit.store.payments import PaymentRepository
from omskit.store.uow import UnitOfWork

logger = logging.getLogger("omskit.payments")

#: How many times a provider call that failed with ``PaymentRetryable`` is made in all.
MAX_PROVIDER_ATTEMPTS = 3
#: Pause before the second attempt; doubled before each further one.
RETRY_PAUSE_SECONDS = 0.05
_FO = FulfillmentStatus


@attrs.frozen
class _Request:
    """Step 1's answer: the request to send (``reconcile``: it was pending already, so ask
    ``retrieve`` first), or the result recorded before (nothing to send)."""

    transaction: PaymentTransaction
    entry: PaymentEntry | None = None
    reconcile: bool = False
    done: PaymentEntry | None = None


class PaymentService:
    """The payment side of the public API (``oms.payments``)."""

    def __init__(self, *, db: Database, clock: Callable[[], datetime], router: RoutingEngine,
                 hooks: Hooks, providers: Registry[PaymentProvider], orders: OrderService,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self._db = db
        self._clock = clock
        self._router = router
        self._hooks = hooks
        self._providers = providers
        self._orders = orders
        self._sleep = sleep

    # -- reads ---------------------------------------------------------------------------------

    def provider(self, code: str) -> PaymentProvider:
        """The installed provider with this code, or ``UnknownPaymentProvider``."""
        return self._providers.get(code)

    def providers(self) -> list[str]:
        """Codes of every installed payment provider."""
        return list(self._providers)

    def summary(self, order_id: str) -> PaymentSummary:
        """The order's payment position, derived from its ledger: authorised, captured,
        refunded, pending, the authorise and charge status and the balance."""
        require_id(order_id, "order_id")
        with self._db.uow() as uow:
            order = uow.orders.get(order_id)
            repo = self._repo(uow)
            return order_payment(order.id, _due(order),
                                 repo.ledgers(repo.transactions(order.id)))

    def transactions(self, order_id: str) -> list[PaymentLedger]:
        """The order's transactions with their entries, in tender order."""
        return list(self.summary(order_id).transactions)

    # -- commands ------------------------------------------------------------------------------

    def authorise(self, order_id: str, transaction_id: str | None = None) -> PaymentSummary:
        """Authorise the order's tenders that have no authorisation yet (or the one named).

        A decline does not raise: it is recorded, and the order's ``payment_pending`` hold
        says why. Once every tender is authorised the hold is released (and whatever the
        order lacks is routed). A provider that stays unreachable raises
        ``PaymentRetryable``; an outcome nobody could learn raises ``PaymentOutcomeUnknown``
        (the request stays pending and the next call reconciles it).
        """
        return self._authorise(AuthorisePayment(order_id=order_id,
                                                transaction_id=transaction_id))

    def _authorise(self, c: AuthorisePayment) -> PaymentSummary:
        self._refuse_joined()
        for ledger in self.summary(c.order_id).transactions:
            tx = ledger.transaction
            if c.transaction_id is not None and tx.id != c.transaction_id:
                continue
            if not ledger.needs_authorisation:
                continue
            base = business_key(tx.id, PaymentAction.AUTHORISE, "placement")
            try:
                self._operate(tx.id, PaymentAction.AUTHORISE, tx.amount, base)
            except PaymentDeclined:
                continue  # recorded, and the hold says why
        if c.transaction_id is not None and not any(
                x.transaction.id == c.transaction_id
                for x in self.summary(c.order_id).transactions):
            raise PaymentTransactionNotFound(c.transaction_id)
        return self.summary(c.order_id)

    def capture(self, order_id: str, amount: Decimal | None = None, *, reference: str,
                final: bool = False) -> PaymentSummary:
        """Capture ``amount`` (default: everything still authorised) for the business
        action ``reference`` (a fulfilment order's id, an invoice number), shared over the
        order's tenders in their order. ``final`` releases what is left of each
        authorisation. Idempotent per ``reference``.

        More than is left (pending captures counted) is ``PaymentAmountExceeded``, an
        expired authorisation ``AuthorisationExpired``; both write nothing. A decline is
        recorded and raised (``PaymentDeclined``).
        """
        return self._capture(CapturePayment(order_id=order_id, amount=amount,
                                            reference=reference, final=final))

    def _capture(self, c: CapturePayment) -> PaymentSummary:
        self._refuse_joined()
        summary = self.summary(c.order_id)
        at = self._clock()
        ledgers = [x for x in summary.transactions
                   if x.transaction.kind is PaymentTransactionKind.PROVIDER]
        done = [x for x in ledgers if x.attempts(
            business_key(x.transaction.id, PaymentAction.CAPTURE, c.reference))]
        if done:
            # A repeat: each tender captures again under its own key (the ledger answers).
            parts = [(x.transaction.id, x.attempts(business_key(
                x.transaction.id, PaymentAction.CAPTURE, c.reference))[-1].amount)
                for x in done]
        else:
            wanted = (Money(c.amount, summary.due.currency) if c.amount is not None
                      else _sum_money(summary.due.currency,
                                      (x.capturable(at) for x in ledgers)))
            parts = split(wanted, [(x.transaction.id, x.capturable(at)) for x in ledgers])
            left = _sum_money(summary.due.currency, (x.capturable(at) for x in ledgers))
            if wanted.amount > left.amount or not parts:
                expired = [x for x in ledgers if x.expired(at)]
                if expired:
                    raise AuthorisationExpired(expired[0].transaction.id,
                                               expired[0].expires_at)
                raise PaymentAmountExceeded(
                    ledgers[0].transaction.id if ledgers else c.order_id, "capture",
                    wanted.amount, left.amount)
        for tx_id, part in parts:
            self._operate(tx_id, PaymentAction.CAPTURE, part,
                          business_key(tx_id, PaymentAction.CAPTURE, c.reference),
                          final=c.final)
        if c.final:
            self._void_open(c.order_id, "final-capture")
        return self.summary(c.order_id)

    def void(self, order_id: str) -> PaymentSummary:
        """Release what is left of every authorisation of the order. Idempotent; tenders
        whose provider cannot void are left to expire."""
        return self._void(VoidPayment(order_id=order_id))

    def _void(self, c: VoidPayment) -> PaymentSummary:
        self._refuse_joined()
        self._void_open(c.order_id, "void")
        return self.summary(c.order_id)

    def _void_open(self, order_id: str, reference: str) -> None:
        for ledger in self.summary(order_id).transactions:
            tx = ledger.transaction
            left = ledger.uncaptured
            if tx.kind is not PaymentTransactionKind.PROVIDER or left.amount <= 0 or ledger.closed:
                continue
            if PaymentCapability.VOID not in self._capabilities(tx):
                logger.info("payment transaction %s: provider %s cannot void; the "
                            "authorisation expires on its own", tx.id, tx.provider)
                continue
            self._operate(tx.id, PaymentAction.VOID, left,
                          business_key(tx.id, PaymentAction.VOID, reference))

    def refund(self, order_id: str, amount: Decimal, *, refund_key: str,
               reason: str = "") -> PaymentSummary:
        """Give ``amount`` of what was captured back, from the latest tenders first.

        Idempotent per ``refund_key``; the key again with another amount is
        ``IdempotencyKeyConflict``. More than was captured and not refunded (pending refunds
        counted) is ``PaymentAmountExceeded`` and writes nothing.
        """
        return self._refund(RefundPayment(order_id=order_id, amount=amount,
                                           refund_key=refund_key, reason=reason))

    def _refund(self, c: RefundPayment) -> PaymentSummary:
        self._refuse_joined()
        summary = self.summary(c.order_id)
        wanted = Money(c.amount, summary.due.currency)
        ledgers = list(reversed(summary.transactions))
        done = [x for x in ledgers
                if x.attempts(business_key(x.transaction.id, PaymentAction.REFUND,
                                           c.refund_key))]
        if done:
            asked = sum((x.attempts(business_key(x.transaction.id, PaymentAction.REFUND,
                                                 c.refund_key))[-1].amount.amount
                         for x in done), Decimal(0))
            if asked != wanted.amount:
                raise IdempotencyKeyConflict(c.refund_key, "refund")
            parts = [(x.transaction.id, x.attempts(business_key(
                x.transaction.id, PaymentAction.REFUND, c.refund_key))[-1].amount)
                for x in done]
        else:
            parts = split(wanted, [(x.transaction.id, x.refundable) for x in ledgers])
            if sum((p.amount for _, p in parts), Decimal(0)) < wanted.amount:
                raise PaymentAmountExceeded(
                    ledgers[0].transaction.id if ledgers else c.order_id, "refund",
                    wanted.amount, sum((x.refundable.amount for x in ledgers), Decimal(0)))
        for tx_id, part in parts:
            self._operate(tx_id, PaymentAction.REFUND, part,
                          business_key(tx_id, PaymentAction.REFUND, c.refund_key))
        return self.summary(c.order_id)

    def record_channel_capture(self, order_id: str, amount: Decimal, *, reference: str,
                               channel: str | None = None) -> PaymentSummary:
        """Record funds the channel captured itself (a till, a marketplace): a new tender,
        captured at once. Idempotent per ``reference`` (the channel's receipt)."""
        return self._record_channel_capture(RecordChannelCapture(
            order_id=order_id, amount=amount, reference=reference, channel=channel))

    def _record_channel_capture(self, c: RecordChannelCapture) -> PaymentSummary:
        def change(uow: UnitOfWork, order: Order, at: datetime) -> None:
            repo = self._repo(uow)
            holder = c.channel or order.channel
            for ledger in repo.ledgers(repo.transactions(order.id)):
                tx = ledger.transaction
                if (tx.kind is PaymentTransactionKind.CHANNEL and tx.provider == holder
                        and tx.provider_reference == c.reference):
                    if tx.amount.amount != Money(c.amount, order.currency).amount:
                        raise IdempotencyKeyConflict(c.reference, "channel capture")
                    return  # recorded before
            amount = Money(c.amount, order.currency)
            tx = PaymentTransaction(
                id=transaction_id(order.id, repo.count_for_order(order.id) + 1),
                order_id=order.id, provider=holder, kind=PaymentTransactionKind.CHANNEL,
                amount=amount, provider_reference=c.reference, created_at=at)
            repo.add_transactions([tx])
            entry = PaymentEntry(
                transaction_id=tx.id, action=PaymentAction.CAPTURE,
                outcome=PaymentOutcome.SUCCESS, amount=amount,
                idempotency_key=business_key(tx.id, PaymentAction.CAPTURE, c.reference),
                provider_reference=c.reference, final=True, source=PaymentEntrySource.CHANNEL,
                occurred_at=at)
            repo.append(entry)
            uow.emit(_recorded(tx, entry))

        self._orders.change(c.order_id, change)
        return self.summary(c.order_id)

    def handle_webhook(self, provider: str, headers: Mapping[str, str],
                       body: bytes) -> list[PaymentEntry]:
        """Read a provider's webhook (its headers and raw body, exactly as received) and
        record what it says; returns the entries it added (none for a delivery seen before,
        news already known, or a payment omskit does not know).

        The provider verifies the signature: a malformed or wrongly signed webhook raises
        ``InvalidWebhook`` and changes nothing. A late notification (an authorisation after
        the capture) changes nothing either.
        """
        return self._handle_webhook(HandlePaymentWebhook(provider=provider, headers=headers,
                                                         body=body))

    def _handle_webhook(self, c: HandlePaymentWebhook) -> list[PaymentEntry]:
        self._refuse_joined()
        provider = self.provider(c.provider)
        if PaymentCapability.WEBHOOKS not in provider.capabilities:
            raise UnsupportedPaymentOperation(c.provider, "webhooks",
                                              PaymentCapability.WEBHOOKS.value)
        added: list[PaymentEntry] = []
        for note in provider.parse_webhook(dict(c.headers), bytes(c.body)):
            entry = self._apply_notification(c.provider, note)
            if entry is not None:
                added.append(entry)
        return added

    # -- the core's reactions (services/handlers.py) --------------------------------------------

    def capture_shipment(self, order_id: str, fulfillment_order_id: str, *,
                         shipment_id: str | None = None,
                         lines: Sequence[LineQuantity] = ()) -> PaymentSummary:
        """Capture a shipment's share: ``lines`` (the units that left) at their prices, under
        a key of ``shipment_id``, so a fulfilment order shipped in parts captures part by
        part; without ``lines``, the whole fulfilment order's share. The last shipment's
        capture is final and releases what is left. Orders without provider tenders, or
        whose share is already captured, change nothing."""
        require_id(order_id, "order_id")
        require_id(fulfillment_order_id, "fulfillment_order_id")
        if shipment_id is not None:
            require_id(shipment_id, "shipment_id")
        reference = shipment_id if shipment_id is not None and lines else fulfillment_order_id
        summary = self.summary(order_id)
        at = self._clock()
        ledgers = [x for x in summary.transactions
                   if x.transaction.kind is PaymentTransactionKind.PROVIDER]
        if not ledgers:
            return summary  # most orders: nothing to capture, so the order is not read
        order = self._orders.get(order_id)
        fo = order.fulfillment_order(fulfillment_order_id)
        prices = {line.line_id: line.unit_price for line in order.lines}
        shipped = lines if lines else fo.lines
        share = Money.total(order.currency, ((prices[x.line_id], x.quantity) for x in shipped))
        live = [f for f in order.fulfillment_orders
                if f.status not in (_FO.REJECTED, _FO.CANCELLED)]
        last = (all(f.status in (_FO.SHIPPED, _FO.DELIVERED) for f in live)
                and not order.backordered())
        already = [x for x in ledgers if x.attempts(business_key(
            x.transaction.id, PaymentAction.CAPTURE, reference))]
        capturable = _sum_money(order.currency, (x.capturable(at) for x in ledgers))
        if not already:
            # What channel tenders already cover is not asked again of a provider.
            amount = min(share.amount, capturable.amount)
            expired = [x for x in ledgers if x.expired(at)]
            if amount < share.amount and expired:
                # Shipped on an authorisation that lapsed: fail loudly (the event is
                # retried, then parked for an operator) rather than ship unpaid.
                raise AuthorisationExpired(expired[0].transaction.id, expired[0].expires_at)
            if amount <= 0:
                if last:
                    self._void_open(order_id, "final-capture")
                return self.summary(order_id)
            return self._capture(CapturePayment(order_id=order_id, amount=amount,
                                                reference=reference, final=last))
        return self._capture(CapturePayment(order_id=order_id, reference=reference,
                                            final=last))

    def settle_cancellation(self, order_id: str) -> PaymentSummary:
        """After an order is cancelled: void what is authorised and not captured, refund
        what was captured. Idempotent."""
        self._void_open(order_id, "cancel")
        for ledger in self.summary(order_id).transactions:
            left = ledger.refundable
            tx = ledger.transaction
            if left.amount <= 0 or tx.kind is not PaymentTransactionKind.PROVIDER:
                continue
            self._operate(tx.id, PaymentAction.REFUND, left,
                          business_key(tx.id, PaymentAction.REFUND, "cancel"))
        return self.summary(order_id)

    def settle(self, order_id: str, reference: str, *,
               increase: bool = True) -> PaymentSummary:
        """Bring the order's payment in line with what it owes now, for the business action
        ``reference`` (``edit-<id>``, ``lines-<event>``...): money captured beyond it is
        refunded, authorisations holding more than is left to capture are released (a
        void, or a partial void where the provider declares ``partial_void``; otherwise the
        final capture releases it), and (``increase``) what it owes beyond its tenders is
        authorised, as an increment where the provider declares
        ``incremental_authorisation``, else as a new authorisation on the same tender.
        The plan is :func:`~omskit.domain.payments.settlement`'s.

        Idempotent per ``reference``: each step's key is derived from it, so a repeat
        re-sends (and the provider de-duplicates) what was asked before, and what was
        settled is not asked again. A cancelled order is left to
        :meth:`settle_cancellation`. A declined authorisation is recorded and kept on the
        order's ``payment_pending`` hold, not raised.
        """
        self._refuse_joined()
        require_id(order_id, "order_id")
        summary = self.summary(order_id)
        ledgers = [x for x in summary.transactions
                   if x.transaction.kind is PaymentTransactionKind.PROVIDER]
        if not ledgers:
            return summary  # most orders: nothing to settle
        order = self._orders.get(order_id)
        if order.status is OrderStatus.CANCELLED:
            return summary  # settle_cancellation gives everything back
        # A repeat: what was asked under this reference is asked again, under its own key,
        # with its own amount (the ledger, or the provider after a crash, answers).
        for ledger in ledgers:
            for action in set(_STEP_ACTIONS.values()):
                key = business_key(ledger.transaction.id, action, reference)
                attempts = ledger.attempts(key)
                if attempts:
                    with contextlib.suppress(PaymentDeclined):  # recorded, and held
                        self._operate(ledger.transaction.id, action, attempts[-1].amount,
                                      key)
        # Then what is still to do, planned on the ledger as it is now: a step this
        # reference already asked for is not asked again (its outcome stands).
        current = self.summary(order_id)
        asked = {x.transaction.id: x for x in current.transactions}
        for step in settlement(current.transactions, current.due, self._clock(),
                               self._capabilities, increase=increase):
            asks = _STEP_ACTIONS.get(step.kind)
            if asks is not None and asked[step.transaction_id].attempts(
                    business_key(step.transaction_id, asks, reference)):
                continue
            self._take_step(order_id, step, reference)
        self._check_payment_hold(order_id)
        return self.summary(order_id)

    def _take_step(self, order_id: str, step: PaymentStep, reference: str) -> None:
        tx_id = step.transaction_id
        currency = self.summary(order_id).due.currency
        amount = Money(step.amount, currency)
        if step.kind is PaymentStepKind.INCREMENTAL_AUTHORISATION:
            with contextlib.suppress(PaymentDeclined):  # recorded; the hold says why
                self._operate(tx_id, PaymentAction.AUTHORISE, amount,
                              business_key(tx_id, PaymentAction.AUTHORISE, reference))
        elif step.kind is PaymentStepKind.NEW_AUTHORISATION:
            opened = self._open_difference(order_id, tx_id)
            if opened is not None:
                # Its payment.authorisation_requested event asks for this too (after a
                # crash here); asking now settles the edit before this call returns.
                self._authorise(AuthorisePayment(order_id=order_id, transaction_id=opened))
        elif step.kind is PaymentStepKind.REFUND:
            self._operate(tx_id, PaymentAction.REFUND, amount,
                          business_key(tx_id, PaymentAction.REFUND, reference))
        elif step.kind in (PaymentStepKind.VOID, PaymentStepKind.VOID_DOWN):
            self._operate(tx_id, PaymentAction.VOID, amount,
                          business_key(tx_id, PaymentAction.VOID, reference))
        else:
            logger.info("payment transaction %s: %s no longer needed; the provider cannot "
                        "release part of an authorisation, so the final capture releases "
                        "it", tx_id, amount)

    def _open_difference(self, order_id: str, like: str) -> str | None:
        """Open a new transaction on the tender ``like`` (its provider and payment method)
        for what the order owes beyond its tenders, decided again under the order's lock:
        a repeat finds the new tender covering it and opens nothing. Returns its id."""
        opened: list[str] = []

        def change(uow: UnitOfWork, order: Order, at: datetime) -> None:
            repo = self._repo(uow)
            ledgers = repo.ledgers(repo.transactions(order.id))
            plan = settlement(ledgers, _due(order), at, self._capabilities, reduce=False)
            if not any(s.kind is PaymentStepKind.NEW_AUTHORISATION for s in plan):
                return
            base = next(x.transaction for x in ledgers if x.transaction.id == like)
            tx = PaymentTransaction(
                id=transaction_id(order.id, repo.count_for_order(order.id) + 1),
                order_id=order.id, provider=base.provider,
                amount=Money(plan[0].amount, order.currency),
                method_token=base.method_token, created_at=at)
            repo.add_transactions([tx])
            opened.append(tx.id)
            if order.holdable:
                order.place_hold(PAYMENT_PENDING, "waiting for the payment to be authorised",
                                 at)
            uow.emit(PaymentAuthorisationRequested(order=order.id, occurred_at=at,
                                                   transaction_ids=(tx.id,)))

        self._orders.change(order_id, change)
        return opened[0] if opened else None

    def _check_payment_hold(self, order_id: str) -> None:
        """Release the ``payment_pending`` hold if nothing is left to authorise (an edit
        held the order for a difference that turned out covered)."""
        if not any(h.code == PAYMENT_PENDING for h in self._orders.get(order_id).active_holds):
            return

        def change(uow: UnitOfWork, order: Order, at: datetime) -> None:
            repo = self._repo(uow)
            ledgers = repo.ledgers(repo.transactions(order.id))
            if any(s.kind in (PaymentStepKind.INCREMENTAL_AUTHORISATION,
                              PaymentStepKind.NEW_AUTHORISATION)
                   for s in settlement(ledgers, _due(order), at, self._capabilities,
                                       reduce=False)):
                return  # still short: the hold stays until it is authorised
            self._authorisation_changed(uow, repo, order, at)

        self._orders.change(order_id, change)

    # -- expiry ---------------------------------------------------------------------------------

    def renew_expired(self, order_id: str) -> PaymentSummary:
        """Renew each expired authorisation that still had something left: the old one is
        recorded as released (voided by expiry) and a new authorisation of what was left is
        asked for the same tender. A renewal that fails holds the order
        (``payment_pending``, with the reason), so it is not released for picking. A renewal
        a crash left unanswered is finished first: the provider is asked how it ended, under
        its own idempotency key, so it is never authorised twice."""
        self._refuse_joined()
        at = self._clock()
        for ledger in self.summary(order_id).transactions:
            tx = ledger.transaction
            if tx.kind is not PaymentTransactionKind.PROVIDER:
                continue
            if ledger.renewal_unanswered:
                with contextlib.suppress(PaymentDeclined):  # recorded; the hold says why
                    self._operate(tx.id, PaymentAction.AUTHORISE, tx.amount, business_key(
                        tx.id, PaymentAction.AUTHORISE, "renewal"))
            elif ledger.expired(at):
                self._renew(tx.id, at)
        return self.summary(order_id)

    def _renew(self, tx_id: str, at: datetime) -> None:
        new_tx: list[PaymentTransaction] = []

        def change(uow: UnitOfWork, order: Order, now: datetime) -> None:
            repo = self._repo(uow)
            ledger = repo.ledger(repo.lock(tx_id))
            if not ledger.expired(now):
                return
            old = ledger.transaction
            left = ledger.uncaptured
            entry = PaymentEntry(
                transaction_id=old.id, action=PaymentAction.VOID,
                outcome=PaymentOutcome.SUCCESS, amount=left,
                idempotency_key=business_key(old.id, PaymentAction.VOID, "expired"),
                error_message=f"the authorisation expired at {ledger.expires_at}",
                source=PaymentEntrySource.CORE, occurred_at=now)
            repo.append(entry)
            uow.emit(_recorded(old, entry))
            tx = PaymentTransaction(
                id=transaction_id(order.id, repo.count_for_order(order.id) + 1),
                order_id=order.id, provider=old.provider, amount=left,
                method_token=old.method_token, created_at=now)
            repo.add_transactions([tx])
            new_tx.append(tx)
            if order.status in _HOLDABLE:
                order.place_hold(PAYMENT_PENDING, "the authorisation expired: renewing it", now)

        order_id = self._order_of(tx_id)
        self._orders.change(order_id, change)
        for tx in new_tx:
            with contextlib.suppress(PaymentDeclined):  # recorded; the hold says why
                self._operate(tx.id, PaymentAction.AUTHORISE, tx.amount, business_key(
                    tx.id, PaymentAction.AUTHORISE, "renewal"))

    # -- the three steps -------------------------------------------------------------------------

    def _operate(self, tx_id: str, action: PaymentAction, amount: Money, base: str, *,
                 final: bool = False) -> PaymentEntry:
        """Request, call, record (see the module docstring); returns the result entry.
        Raises ``PaymentDeclined`` after recording a permanent failure."""
        step = self._db.retrying(lambda: self._request(tx_id, action, amount, base, final))
        if step.done is not None:
            if step.done.outcome is PaymentOutcome.FAILURE:
                raise PaymentDeclined(step.done.error_message or "declined")
            return step.done
        assert step.entry is not None
        tx = step.transaction
        provider = self.provider(tx.provider)
        request = PaymentRequest(
            action=action, idempotency_key=step.entry.idempotency_key, amount=amount,
            order_id=tx.order_id, transaction_id=tx.id,
            provider_reference=tx.provider_reference, method_token=tx.method_token,
            final=step.entry.final)
        if step.reconcile:
            found = self._reconcile(provider, request, step.entry)
            if found is not None:
                return found
        call = _CALLS[action]
        pause = RETRY_PAUSE_SECONDS
        for attempt in range(1, MAX_PROVIDER_ATTEMPTS + 1):
            try:
                result = call(provider, request)
            except PaymentRetryable as exc:
                if attempt == MAX_PROVIDER_ATTEMPTS:
                    self._record_failure(step.entry, exc, PaymentEntrySource.CORE)
                    raise
                self._sleep(pause)
                pause *= 2
                continue
            except PaymentDeclined as exc:
                self._record_failure(step.entry, exc, PaymentEntrySource.CORE)
                raise
            except PaymentOutcomeUnknown:
                found = self._reconcile(provider, request, step.entry)
                if found is not None:
                    return found
                continue  # the provider never saw it: the same key again is safe
            return self._record_success(step.entry, result, PaymentEntrySource.CORE)
        raise PaymentOutcomeUnknown("unreconciled",
                                    f"payment transaction {tx_id}: no outcome after "
                                    f"{MAX_PROVIDER_ATTEMPTS} attempts; the request stays "
                                    "pending and the next attempt reconciles it")

    def _request(self, tx_id: str, action: PaymentAction, amount: Money, base: str,
                 final: bool) -> _Request:
        """Step 1: check and write the request under the transaction's lock."""
        at = self._clock()
        with self._db.uow() as uow:
            repo = self._repo(uow)
            tx = repo.lock(tx_id)
            ledger = repo.ledger(tx)
            attempts = ledger.attempts(base)
            if attempts:
                last = attempts[-1]
                if last.amount != amount or last.action is not action or last.final != final:
                    raise IdempotencyKeyConflict(base, f"{action.value} request")
                result = ledger.result_of(last.idempotency_key)
                if result is None:
                    return _Request(tx, entry=last, reconcile=True)
                if result.outcome is PaymentOutcome.SUCCESS:
                    return _Request(tx, done=result)
                if action is PaymentAction.VOID and \
                        result.error_class is not PaymentErrorClass.RETRYABLE:
                    return _Request(tx, done=result)  # refused: asking again changes nothing
                if result.error_class is PaymentErrorClass.PERMANENT and \
                        action is not PaymentAction.AUTHORISE:
                    return _Request(tx, done=result)
            capabilities = self._capabilities(tx)
            if action is PaymentAction.CAPTURE:
                ledger.check_capture(amount, at, capabilities, final=final)
            elif action is PaymentAction.REFUND:
                ledger.check_refund(amount, capabilities)
            elif action is PaymentAction.VOID:
                ledger.check_void(amount, capabilities)
            entry = PaymentEntry(
                transaction_id=tx.id, action=action, outcome=PaymentOutcome.REQUEST,
                amount=amount, idempotency_key=attempt_key(base, len(attempts) + 1),
                final=final, source=PaymentEntrySource.CORE, occurred_at=at)
            repo.append(entry)
            uow.commit()
            return _Request(tx, entry=entry)

    def _reconcile(self, provider: PaymentProvider, request: PaymentRequest,
                   entry: PaymentEntry) -> PaymentEntry | None:
        """Ask the provider how the pending request ended and record it; ``None``: it never
        arrived, so the same key may be sent again."""
        try:
            found = provider.retrieve(request)
        except PaymentDeclined as exc:
            self._record_failure(entry, exc, PaymentEntrySource.RECONCILE)
            raise
        except (PaymentRetryable, PaymentOutcomeUnknown) as exc:
            raise PaymentOutcomeUnknown(
                exc.reason, f"payment transaction {entry.transaction_id}: the outcome of "
                f"{entry.idempotency_key} is unknown and could not be retrieved; the request "
                "stays pending") from exc
        if found is None:
            return None
        return self._record_success(entry, found, PaymentEntrySource.RECONCILE)

    def _record_success(self, request: PaymentEntry, result: PaymentResult,
                        source: PaymentEntrySource) -> PaymentEntry:
        expires = result.expires_at
        if request.action is PaymentAction.AUTHORISE and expires is None:
            expires = request.occurred_at + DEFAULT_AUTHORISATION_TTL
        entry = attrs.evolve(
            request, outcome=PaymentOutcome.SUCCESS, amount=request.amount,
            provider_reference=result.operation_reference, expires_at=expires,
            source=source, occurred_at=self._clock(), seq=0)
        return self._record(entry, reference=result.provider_reference)

    def _record_failure(self, request: PaymentEntry, exc: PaymentProviderError,
                        source: PaymentEntrySource) -> PaymentEntry:
        entry = attrs.evolve(
            request, outcome=PaymentOutcome.FAILURE,
            error_class=PaymentErrorClass(exc.error_class),
            error_message=_clip(f"{exc.reason}: {exc.message}" if exc.message else exc.reason),
            source=source, occurred_at=self._clock(), seq=0)
        return self._record(entry, reference=None)

    def _record(self, entry: PaymentEntry, *, reference: str | None) -> PaymentEntry:
        """Step 3: write a result (unless one is there already) with what it means for
        the order, locking the order, then the transaction."""
        written: list[PaymentEntry] = []

        def change(uow: UnitOfWork, order: Order, at: datetime) -> None:
            repo = self._repo(uow)
            tx = repo.lock(entry.transaction_id)
            ledger = repo.ledger(tx)
            before = ledger.result_of(entry.idempotency_key)
            if before is not None:
                written.append(before)  # a webhook (or a concurrent caller) was first
                return
            repo.append(entry)
            if reference:
                repo.set_reference(tx.id, reference)
            written.append(entry)
            uow.emit(_recorded(tx, entry))
            if entry.action is PaymentAction.AUTHORISE:
                self._authorisation_changed(uow, repo, order, at)

        self._orders.change(self._order_of(entry.transaction_id), change)
        return written[0]

    def _authorisation_changed(self, uow: UnitOfWork, repo: PaymentRepository, order: Order,
                               at: datetime) -> None:
        """Release the ``payment_pending`` hold once every tender is authorised; say why it
        stays when one was declined."""
        ledgers = repo.ledgers(repo.transactions(order.id))
        # A tender's first authorisation declined, or an increment asked of an open one
        # (an edit raised the total): either way the order is not paid for.
        declined = [x.authorisation_failure for x in ledgers
                    if x.authorisation_failure is not None and not x.pending()
                    and (x.needs_authorisation or not x.closed)]
        if declined:
            failure = declined[0]
            assert failure is not None
            reason = _clip(f"payment declined: {failure.error_message}")
            if not order.reword_hold(PAYMENT_PENDING, reason, at) and not any(
                    h.code == PAYMENT_PENDING for h in order.active_holds) \
                    and order.status in _HOLDABLE:
                order.place_hold(PAYMENT_PENDING, reason, at)
            return
        if any(x.needs_authorisation for x in ledgers):
            return
        if order.release_hold(PAYMENT_PENDING, at):
            route_remaining(self._router, self._hooks, uow, order, at=at)

    def _apply_notification(self, provider: str, note: PaymentNotification
                            ) -> PaymentEntry | None:
        """Record what a verified webhook says, once, and only if it is news."""
        with self._db.uow() as uow:
            repo = self._repo(uow)
            tx = repo.by_reference(provider, note.provider_reference)
            if tx is None and note.idempotency_key:
                candidate = note.idempotency_key.partition(":")[0]
                try:
                    found = repo.ledger(repo.lock(candidate))
                except PaymentTransactionNotFound:
                    found = None
                if found is not None and found.transaction.provider == provider:
                    tx = found.transaction
        if tx is None:
            logger.info("payment webhook %s from %s is about a payment omskit does not know "
                        "(%s): ignored", note.notification_id, provider,
                        note.provider_reference)
            return None
        written: list[PaymentEntry] = []
        tx_id = tx.id

        def change(uow: UnitOfWork, order: Order, at: datetime) -> None:
            repo = self._repo(uow)
            ledger = repo.ledger(repo.lock(tx_id))
            entry = _news(ledger, note, at)
            if entry is None:
                return
            repo.append(entry)
            if note.action is PaymentAction.AUTHORISE and \
                    note.outcome is PaymentOutcome.SUCCESS:
                repo.set_reference(tx_id, note.provider_reference)
            written.append(entry)
            uow.emit(_recorded(ledger.transaction, entry, reason=note.reason))
            if entry.action is PaymentAction.AUTHORISE:
                self._authorisation_changed(uow, repo, order, at)

        self._orders.change(tx.order_id, change)
        return written[0] if written else None

    # -- helpers ---------------------------------------------------------------------------------

    def _repo(self, uow: UnitOfWork) -> PaymentRepository:
        return PaymentRepository(uow.connection, self._db.tables)

    def _capabilities(self, tx: PaymentTransaction) -> frozenset[str]:
        if tx.kind is PaymentTransactionKind.CHANNEL:
            return frozenset(PaymentCapability)  # omskit only records the channel's money
        return frozenset(self.provider(tx.provider).capabilities)

    def _order_of(self, tx_id: str) -> str:
        with self._db.uow() as uow:
            found = [tx for tx in self._repo(uow).transactions(tx_id.rpartition(".")[0])
                     if tx.id == tx_id]
        if not found:
            raise PaymentTransactionNotFound(tx_id)
        return found[0].order_id

    def _refuse_joined(self) -> None:
        if self._db.in_host_transaction:
            raise UnsupportedConnection(
                "oms.payments calls payment providers, which must happen outside any "
                "database transaction: use the Oms that is not bound to a connection")


#: The ledger action of each settlement step that asks a provider under the step's key.
_STEP_ACTIONS: dict[PaymentStepKind, PaymentAction] = {
    PaymentStepKind.INCREMENTAL_AUTHORISATION: PaymentAction.AUTHORISE,
    PaymentStepKind.REFUND: PaymentAction.REFUND,
    PaymentStepKind.VOID: PaymentAction.VOID,
    PaymentStepKind.VOID_DOWN: PaymentAction.VOID,
}

#: Order statuses in which a payment hold can be placed.
_HOLDABLE = frozenset({OrderStatus.RECEIVED, OrderStatus.VALIDATED, OrderStatus.BACKORDERED,
                       OrderStatus.ALLOCATED, OrderStatus.ON_HOLD})

_CALLS: dict[PaymentAction, Callable[[PaymentProvider, PaymentRequest], PaymentResult]] = {
    PaymentAction.AUTHORISE: lambda p, r: p.authorise(r),
    PaymentAction.CAPTURE: lambda p, r: p.capture(r),
    PaymentAction.VOID: lambda p, r: p.void(r),
    PaymentAction.REFUND: lambda p, r: p.refund(r),
}


def _due(order: Order) -> Money:
    """What the order owes now: its open lines at their prices; nothing once cancelled."""
    if order.status is OrderStatus.CANCELLED:
        return Money(0, order.currency)
    return Money.total(order.currency,
                       ((line.unit_price, line.open_quantity) for line in order.lines))


def _sum_money(currency: str, values: Iterable[Money]) -> Money:
    return Money(sum((m.amount for m in values), Decimal(0)), currency)


def _clip(text: str, limit: int = 480) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _recorded(tx: PaymentTransaction, entry: PaymentEntry, reason: str = "") -> PaymentRecorded:
    return PaymentRecorded(
        order=tx.order_id, occurred_at=entry.occurred_at, transaction_id=tx.id,
        provider=tx.provider, action=entry.action.value, outcome=entry.outcome.value,
        amount=entry.amount.amount, currency=tx.currency,
        idempotency_key=entry.idempotency_key, source=entry.source.value,
        reason=_clip(reason or entry.error_message))


def _news(ledger: PaymentLedger, note: PaymentNotification,
          at: datetime) -> PaymentEntry | None:
    """The entry a notification adds to ``ledger``, or ``None`` when it is not news: a
    delivery seen before, an outcome already recorded, or a late authorisation."""
    tx = ledger.transaction
    note_key = _notification_key(note.notification_id)
    if any(e.idempotency_key == note_key for e in ledger.entries):
        return None  # the same delivery again
    amount = Money(note.amount.amount, tx.currency)
    expires = note.expires_at
    if note.action is PaymentAction.AUTHORISE and expires is None:
        expires = note.occurred_at + DEFAULT_AUTHORISATION_TTL

    def entry(key: str, final: bool) -> PaymentEntry:
        failed = note.outcome is PaymentOutcome.FAILURE
        return PaymentEntry(
            transaction_id=tx.id, action=note.action, outcome=note.outcome, amount=amount,
            idempotency_key=key, provider_reference=note.operation_reference, final=final,
            error_class=PaymentErrorClass.PERMANENT if failed else None,
            error_message=_clip(note.reason), expires_at=expires,
            source=PaymentEntrySource.WEBHOOK, occurred_at=at)

    # An answer to a request of ours: recorded under the request's key, once.
    request = ledger.request_of(note.idempotency_key) if note.idempotency_key else None
    if request is None:
        same = [e for e in ledger.pending(note.action) if e.amount == amount]
        request = same[0] if same else None
    if request is not None:
        if ledger.result_of(request.idempotency_key) is not None:
            return None  # the core (or an earlier webhook) recorded it already
        return entry(request.idempotency_key, request.final or note.final)
    if note.operation_reference and any(
            e.provider_reference == note.operation_reference and e.action is note.action
            and e.is_result for e in ledger.entries):
        return None  # known under the provider's id of the operation
    if note.outcome is not PaymentOutcome.SUCCESS:
        return None  # a failure of nothing omskit asked: nothing to record
    if note.action is PaymentAction.AUTHORISE and (
            ledger.authorised.amount > 0 or ledger.closed or ledger.captured.amount > 0):
        return None  # late: the payment is past its authorisation
    return entry(note_key, note.final)


def _notification_key(notification_id: str) -> str:
    key = f"webhook:{notification_id}"
    if len(key) <= 120:
        return key
    return f"webhook:{hashlib.sha256(notification_id.encode()).hexdigest()[:40]}"
