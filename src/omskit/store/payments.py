"""The payment repository: transactions (one per tender) and their append-only entries."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from omskit.domain.errors import PaymentTransactionNotFound
from omskit.domain.payments import (
    PaymentAction,
    PaymentEntry,
    PaymentEntrySource,
    PaymentErrorClass,
    PaymentLedger,
    PaymentOutcome,
    PaymentTransaction,
    PaymentTransactionKind,
)
from omskit.domain.values import Money
from omskit.store.tables import Tables


class PaymentRepository:
    """Reads and appends payment rows on one connection (the caller's transaction).

    Entries are only ever inserted. :meth:`lock` is how every writer of a transaction's
    ledger starts: ``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite the transaction
    already holds the database's write lock (``BEGIN IMMEDIATE``), which serialises writers.
    """

    def __init__(self, connection: sa.Connection, tables: Tables) -> None:
        self._conn = connection
        self._t = tables

    # -- transactions --------------------------------------------------------------------------

    def add_transactions(self, transactions: Sequence[PaymentTransaction]) -> None:
        """Insert new transactions (their positions follow the order's existing ones)."""
        if not transactions:
            return
        start = self._next_position(transactions[0].order_id)
        self._conn.execute(self._t.payment_transactions.insert(), [
            {"id": tx.id, "order_id": tx.order_id, "position": start + i,
             "provider": tx.provider, "kind": tx.kind.value, "currency": tx.currency,
             "amount": tx.amount.amount, "method_token": tx.method_token,
             "provider_reference": tx.provider_reference, "created_at": tx.created_at}
            for i, tx in enumerate(transactions)])

    def _next_position(self, order_id: str) -> int:
        c = self._t.payment_transactions.c
        top = self._conn.execute(
            sa.select(sa.func.max(c.position)).where(c.order_id == order_id)).scalar()
        return 0 if top is None else int(top) + 1

    def count_for_order(self, order_id: str) -> int:
        """How many transactions the order has."""
        c = self._t.payment_transactions.c
        return int(self._conn.execute(
            sa.select(sa.func.count()).where(c.order_id == order_id)).scalar() or 0)

    def lock(self, transaction_id: str) -> PaymentTransaction:
        """The transaction, its row locked until the caller's transaction ends."""
        t = self._t.payment_transactions
        row = self._conn.execute(
            sa.select(t).where(t.c.id == transaction_id).with_for_update()
        ).mappings().one_or_none()
        if row is None:
            raise PaymentTransactionNotFound(transaction_id)
        return _transaction(row)

    def transactions(self, order_id: str) -> list[PaymentTransaction]:
        """The order's transactions, in tender order."""
        t = self._t.payment_transactions
        rows = self._conn.execute(
            sa.select(t).where(t.c.order_id == order_id).order_by(t.c.position)).mappings()
        return [_transaction(r) for r in rows]

    def by_reference(self, provider: str, reference: str) -> PaymentTransaction | None:
        """The transaction the provider knows as ``reference``, if any."""
        t = self._t.payment_transactions
        row = self._conn.execute(
            sa.select(t).where(t.c.provider == provider, t.c.provider_reference == reference)
        ).mappings().first()
        return None if row is None else _transaction(row)

    def set_reference(self, transaction_id: str, reference: str) -> None:
        """Remember the provider's id of the payment (first authorisation only)."""
        t = self._t.payment_transactions
        self._conn.execute(t.update().where(t.c.id == transaction_id,
                                            t.c.provider_reference.is_(None))
                           .values(provider_reference=reference))

    # -- entries -------------------------------------------------------------------------------

    def ledger(self, transaction: PaymentTransaction) -> PaymentLedger:
        """The transaction with its entries, in write order."""
        return self.ledgers([transaction])[0]

    def ledgers(self, transactions: Iterable[PaymentTransaction]) -> list[PaymentLedger]:
        """Each transaction with its entries, in one query."""
        wanted = list(transactions)
        if not wanted:
            return []
        e = self._t.payment_entries
        found: dict[str, list[PaymentEntry]] = {tx.id: [] for tx in wanted}
        currency = {tx.id: tx.currency for tx in wanted}
        rows = self._conn.execute(
            sa.select(e).where(e.c.transaction_id.in_(list(found))).order_by(e.c.seq)
        ).mappings()
        for r in rows:
            found[r["transaction_id"]].append(_entry(r, currency[r["transaction_id"]]))
        return [PaymentLedger(tx, found[tx.id]) for tx in wanted]

    def append(self, entry: PaymentEntry) -> None:
        """Add one entry to a ledger (never updated, never deleted)."""
        self._conn.execute(self._t.payment_entries.insert().values(
            transaction_id=entry.transaction_id, action=entry.action.value,
            outcome=entry.outcome.value, amount=entry.amount.amount,
            idempotency_key=entry.idempotency_key,
            provider_reference=entry.provider_reference, final=entry.final,
            error_class=None if entry.error_class is None else entry.error_class.value,
            error_message=entry.error_message, expires_at=entry.expires_at,
            source=entry.source.value, occurred_at=entry.occurred_at))


def _transaction(row: Any) -> PaymentTransaction:
    return PaymentTransaction(
        id=row["id"], order_id=row["order_id"], provider=row["provider"],
        kind=PaymentTransactionKind(row["kind"]),
        amount=Money(Decimal(row["amount"]), row["currency"]),
        method_token=row["method_token"], provider_reference=row["provider_reference"],
        created_at=row["created_at"])


def _entry(row: Any, currency: str) -> PaymentEntry:
    return PaymentEntry(
        seq=int(row["seq"]), transaction_id=row["transaction_id"],
        action=PaymentAction(row["action"]), outcome=PaymentOutcome(row["outcome"]),
        amount=Money(Decimal(row["amount"]), currency),
        idempotency_key=row["idempotency_key"], provider_reference=row["provider_reference"],
        final=bool(row["final"]),
        error_class=None if row["error_class"] is None else PaymentErrorClass(row["error_class"]),
        error_message=row["error_message"], expires_at=row["expires_at"],
        source=PaymentEntrySource(row["source"]), occurred_at=row["occurred_at"])
