"""The payment part of placement: tenders become ledger transactions in the placing
transaction, before any provider is called.

Placement never calls a provider: it writes one transaction per tender (funds a channel
captured get their capture entry at once), puts the order on the ``payment_pending`` hold
when a tender needs authorising, and emits ``payment.authorisation_requested``; the core's
handler for that event authorises after the commit (``oms.payments.authorise``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from omskit.domain.commands import PlaceOrder
from omskit.domain.commands.payments import OrderPayment
from omskit.domain.lifecycle import OrderStatus
from omskit.domain.order import Order
from omskit.domain.payments import (
    PAYMENT_PENDING,
    PaymentAction,
    PaymentAuthorisationRequested,
    PaymentEntry,
    PaymentEntrySource,
    PaymentOutcome,
    PaymentRecorded,
    PaymentTransaction,
    PaymentTransactionKind,
    business_key,
)
from omskit.domain.values import Money
from omskit.ports import PaymentProvider
from omskit.registries import Registry
from omskit.store.payments import PaymentRepository
from omskit.store.tables import Tables
from omskit.store.uow import UnitOfWork

#: Statuses in which placement can put the payment hold on a new order.
_HOLDABLE_AT_PLACEMENT = frozenset({OrderStatus.VALIDATED, OrderStatus.ALLOCATED,
                                    OrderStatus.BACKORDERED, OrderStatus.ON_HOLD})


def check_tenders(providers: Registry[PaymentProvider],
                  commands: Iterable[PlaceOrder]) -> None:
    """Raise ``UnknownPaymentProvider`` for the first tender naming a provider nobody
    installed, before anything is written."""
    for command in commands:
        if command.payment is None:
            continue
        for tender in command.payment.tenders:
            if not tender.captured and tender.provider is not None:
                providers.get(tender.provider)


def transaction_id(order_id: str, position: int) -> str:
    """The id of the order's ``position``-th tender (from 1)."""
    return f"{order_id}.{position}"


def open_tenders(uow: UnitOfWork, tables: Tables, order: Order, payment: OrderPayment,
                 at: datetime) -> list[PaymentTransaction]:
    """Write one transaction per tender of a new order (in the placing transaction).

    Funds the channel captured are recorded as captured at once. Tenders to authorise hold
    the order (``payment_pending``: never released for picking) and emit the event whose
    handler authorises them after the commit. Stock is reserved as for any order, so the
    goods wait for the payment, not the other way round.
    """
    repo = PaymentRepository(uow.connection, tables)
    transactions = [
        PaymentTransaction(
            id=transaction_id(order.id, i + 1), order_id=order.id,
            provider=(tender.provider or order.channel) if tender.captured
            else str(tender.provider),
            kind=(PaymentTransactionKind.CHANNEL if tender.captured
                  else PaymentTransactionKind.PROVIDER),
            amount=Money(tender.amount, order.currency), method_token=tender.method_token,
            provider_reference=(tender.reference or None) if tender.captured else None,
            created_at=at)
        for i, tender in enumerate(payment.tenders)]
    repo.add_transactions(transactions)
    to_authorise: list[str] = []
    for tx, tender in zip(transactions, payment.tenders, strict=True):
        if tx.kind is PaymentTransactionKind.PROVIDER:
            to_authorise.append(tx.id)
            continue
        key = business_key(tx.id, PaymentAction.CAPTURE, tender.reference or "placement")
        repo.append(PaymentEntry(
            transaction_id=tx.id, action=PaymentAction.CAPTURE,
            outcome=PaymentOutcome.SUCCESS, amount=tx.amount, idempotency_key=key,
            provider_reference=tender.reference, final=True, source=PaymentEntrySource.CHANNEL,
            occurred_at=at))
        uow.emit(PaymentRecorded(
            order=order.id, occurred_at=at, transaction_id=tx.id, provider=tx.provider,
            action=PaymentAction.CAPTURE.value, outcome=PaymentOutcome.SUCCESS.value,
            amount=tx.amount.amount, currency=tx.currency, idempotency_key=key,
            source=PaymentEntrySource.CHANNEL.value))
    if to_authorise:
        if order.status in _HOLDABLE_AT_PLACEMENT:
            order.place_hold(PAYMENT_PENDING, "waiting for the payment to be authorised", at)
        uow.emit(PaymentAuthorisationRequested(order=order.id, occurred_at=at,
                                               transaction_ids=tuple(to_authorise)))
    return transactions


def hold_expired_authorisations(uow: UnitOfWork, tables: Tables, order: Order,
                                at: datetime) -> bool:
    """Before a release: if an authorisation of the order has expired with money left on
    it, hold the order (``payment_pending``) and ask for its renewal after the commit;
    returns whether it did (the caller then releases nothing)."""
    if order.status not in _HOLDABLE_AT_PLACEMENT:
        return False
    repo = PaymentRepository(uow.connection, tables)
    expired = [x.transaction.id for x in repo.ledgers(repo.transactions(order.id))
               if x.transaction.kind is PaymentTransactionKind.PROVIDER and x.expired(at)]
    if not expired:
        return False
    order.place_hold(PAYMENT_PENDING, "the authorisation expired: renewing it", at)
    uow.emit(PaymentAuthorisationRequested(order=order.id, occurred_at=at,
                                           transaction_ids=tuple(expired)))
    return True
