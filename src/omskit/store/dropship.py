"""Purchase orders and supplier messages: rows beside the order aggregate (dropship)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from omskit.domain.dropship import (
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseOrderNotFound,
    PurchaseOrderStatus,
)
from omskit.domain.values import LineQuantity
from omskit.store.tables import Tables


def _lines(rows: Any) -> list[dict[str, Any]]:
    return [{"line_id": x.line_id, "sku": x.sku, "quantity": x.quantity} for x in rows]


class DropshipRepository:
    """Dropship queries and writes on one connection (inside the caller's transaction)."""

    def __init__(self, conn: sa.Connection, tables: Tables) -> None:
        self._conn = conn
        self._t = tables

    # -- purchase orders ------------------------------------------------------------------

    def _po(self, row: sa.Row[Any]) -> PurchaseOrder:
        m = row._mapping
        return PurchaseOrder(
            id=m["id"], supplier=m["supplier"], order_id=m["order_id"],
            fulfillment_order_id=m["fulfillment_order_id"],
            lines=tuple(PurchaseOrderLine(**x) for x in m["lines"]),
            status=PurchaseOrderStatus(m["status"]), idempotency_key=m["idempotency_key"],
            attempts=m["attempts"], claimed_at=m["claimed_at"], sent_at=m["sent_at"],
            supplier_reference=m["supplier_reference"], error=m["error"],
            shipped=tuple(LineQuantity(**x) for x in m["shipped"]),
            created_at=m["created_at"], updated_at=m["updated_at"])

    def get(self, purchase_order_id: str, *, for_update: bool = False) -> PurchaseOrder:
        """The purchase order, or :class:`PurchaseOrderNotFound`."""
        t = self._t.purchase_orders
        query = sa.select(t).where(t.c.id == purchase_order_id)
        if for_update:
            query = query.with_for_update()
        row = self._conn.execute(query).one_or_none()
        if row is None:
            raise PurchaseOrderNotFound(purchase_order_id)
        return self._po(row)

    def for_fulfillment_order(self, fulfillment_order_id: str) -> PurchaseOrder | None:
        """The purchase order of a fulfilment order, if it has one."""
        t = self._t.purchase_orders
        row = self._conn.execute(sa.select(t).where(
            t.c.fulfillment_order_id == fulfillment_order_id)).one_or_none()
        return None if row is None else self._po(row)

    def find(self, supplier: str | None, statuses: Sequence[str] | None,
             limit: int) -> list[PurchaseOrder]:
        """Purchase orders, oldest first, of ``supplier`` and in ``statuses`` if given."""
        t = self._t.purchase_orders
        query = sa.select(t).order_by(t.c.created_at, t.c.id).limit(limit)
        if supplier is not None:
            query = query.where(t.c.supplier == supplier)
        if statuses is not None:
            query = query.where(t.c.status.in_(list(statuses)))
        return [self._po(r) for r in self._conn.execute(query)]

    def documents(self, purchase_order_id: str) -> tuple[str, str]:
        """(JSON, HTML) of the purchase order."""
        t = self._t.purchase_orders
        row = self._conn.execute(sa.select(t.c.document_json, t.c.document_html).where(
            t.c.id == purchase_order_id)).one_or_none()
        if row is None:
            raise PurchaseOrderNotFound(purchase_order_id)
        return row[0], row[1]

    def add(self, po: PurchaseOrder, document_json: str, document_html: str) -> None:
        """Store a new purchase order with its documents."""
        self._conn.execute(sa.insert(self._t.purchase_orders).values(
            **self._values(po), document_json=document_json, document_html=document_html))

    def save(self, po: PurchaseOrder) -> None:
        """Write the purchase order's state (its documents never change)."""
        t = self._t.purchase_orders
        self._conn.execute(sa.update(t).where(t.c.id == po.id).values(**self._values(po)))

    @staticmethod
    def _values(po: PurchaseOrder) -> dict[str, Any]:
        return {"id": po.id, "supplier": po.supplier, "order_id": po.order_id,
                "fulfillment_order_id": po.fulfillment_order_id, "status": po.status.value,
                "lines": _lines(po.lines), "shipped": _lines(po.shipped),
                "idempotency_key": po.idempotency_key, "attempts": po.attempts,
                "claimed_at": po.claimed_at, "sent_at": po.sent_at,
                "supplier_reference": po.supplier_reference[:500], "error": po.error[:500],
                "created_at": po.created_at, "updated_at": po.updated_at}

    # -- messages -------------------------------------------------------------------------

    def seen(self, supplier: str, message_id: str) -> bool:
        """Whether the supplier's message was processed (applied or refused) before."""
        t = self._t.supplier_messages
        return self._conn.execute(sa.select(t.c.message_id).where(
            t.c.supplier == supplier, t.c.message_id == message_id)).first() is not None

    def add_message(self, supplier: str, message_id: str, kind: str,
                    purchase_order_id: str | None, outcome: str, error: str,
                    at: datetime) -> None:
        """Record a processed message (its primary key makes a concurrent twin fail)."""
        self._conn.execute(sa.insert(self._t.supplier_messages).values(
            supplier=supplier, message_id=message_id, kind=kind,
            purchase_order_id=purchase_order_id, outcome=outcome, error=error[:500],
            received_at=at))

    def messages(self, supplier: str) -> list[dict[str, Any]]:
        """Every processed message of the supplier, in the order received."""
        t = self._t.supplier_messages
        rows = self._conn.execute(sa.select(t).where(t.c.supplier == supplier)
                                  .order_by(t.c.received_at, t.c.message_id))
        return [dict(r._mapping) for r in rows]


__all__ = ["DropshipRepository"]
