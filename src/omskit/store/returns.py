"""The return repository: each return's row, its aggregate kept as one JSON document."""

from __future__ import annotations

from typing import Any

import cattrs
import sqlalchemy as sa

from omskit.domain.errors import ReturnNotFound
from omskit.domain.returns import (
    ExchangeLine,
    ExchangeMode,
    Return,
    ReturnInspection,
    ReturnLabel,
    ReturnLine,
    ReturnReceipt,
    ReturnRefund,
    ReturnStatus,
)
from omskit.serialization import structure_optional
from omskit.store.tables import Tables


class ReturnRepository:
    """Reads and writes returns on one connection (the caller's transaction).

    A writer locks the return's row first (:meth:`get` with ``for_update``), after the
    order's row when it reads the order's shipped quantities (the one lock order: order,
    return, stock rows).
    """

    def __init__(self, connection: sa.Connection, tables: Tables,
                 converter: cattrs.Converter) -> None:
        self._conn = connection
        self._t = tables
        self._c = converter

    def _row(self, rma: Return) -> dict[str, Any]:
        u = self._c.unstructure
        return {
            "id": rma.id, "order_id": rma.order_id, "status": rma.status.value,
            "channel": rma.channel, "location": rma.location, "policy": rma.policy,
            "idempotency_key": rma.idempotency_key, "version": rma.version,
            "created_at": rma.created_at, "updated_at": rma.updated_at,
            "document": {
                "lines": u(list(rma.lines)), "note": rma.note,
                "receipts": u(rma.receipts), "inspections": u(rma.inspections),
                "label": u(rma.label), "refund": u(rma.refund),
                "exchange": u(list(rma.exchange)),
                "exchange_order_id": rma.exchange_order_id,
                "exchange_mode": None if rma.exchange_mode is None else rma.exchange_mode.value,
            },
        }

    def _return(self, row: Any) -> Return:
        doc = row["document"]
        s = self._c.structure
        return Return(
            id=row["id"], order_id=row["order_id"], status=ReturnStatus(row["status"]),
            channel=row["channel"], location=row["location"], policy=row["policy"],
            idempotency_key=row["idempotency_key"], version=row["version"],
            created_at=row["created_at"], updated_at=row["updated_at"],
            lines=tuple(s(doc["lines"], list[ReturnLine])), note=doc["note"],
            receipts=s(doc["receipts"], list[ReturnReceipt]),
            inspections=s(doc["inspections"], list[ReturnInspection]),
            label=structure_optional(self._c, doc["label"], ReturnLabel),
            refund=structure_optional(self._c, doc["refund"], ReturnRefund),
            exchange=tuple(s(doc["exchange"], list[ExchangeLine])),
            exchange_order_id=doc["exchange_order_id"],
            exchange_mode=(None if doc["exchange_mode"] is None
                           else ExchangeMode(doc["exchange_mode"])))

    def add(self, rma: Return) -> None:
        """Insert a new return."""
        self._conn.execute(self._t.returns.insert(), [self._row(rma)])

    def save(self, rma: Return) -> None:
        """Write a changed return (its version goes up by one)."""
        rma.version += 1
        row = self._row(rma)
        del row["id"]
        self._conn.execute(self._t.returns.update()
                           .where(self._t.returns.c.id == rma.id).values(row))

    def find(self, return_id: str, *, for_update: bool = False) -> Return | None:
        """The return with this id, or None; ``for_update`` locks its row."""
        query = sa.select(self._t.returns).where(self._t.returns.c.id == return_id)
        if for_update:
            query = query.with_for_update()
        row = self._conn.execute(query).mappings().one_or_none()
        return None if row is None else self._return(row)

    def get(self, return_id: str, *, for_update: bool = False) -> Return:
        """The return with this id, or :class:`ReturnNotFound`."""
        found = self.find(return_id, for_update=for_update)
        if found is None:
            raise ReturnNotFound(return_id)
        return found

    def by_key(self, order_id: str, idempotency_key: str) -> Return | None:
        """The order's return requested under ``idempotency_key``, if any."""
        t = self._t.returns
        row = self._conn.execute(sa.select(t).where(
            t.c.order_id == order_id, t.c.idempotency_key == idempotency_key)
        ).mappings().one_or_none()
        return None if row is None else self._return(row)

    def for_order(self, order_id: str) -> list[Return]:
        """The order's returns, oldest first."""
        t = self._t.returns
        rows = self._conn.execute(sa.select(t).where(t.c.order_id == order_id)
                                  .order_by(t.c.created_at, t.c.id)).mappings()
        return [self._return(r) for r in rows]

    def search(self, *, status: ReturnStatus | None = None, location: str | None = None,
               limit: int = 100) -> list[Return]:
        """The latest returns (with ``status``, at ``location``), newest first."""
        t = self._t.returns
        query = sa.select(t).order_by(t.c.updated_at.desc(), t.c.id.desc()).limit(limit)
        if status is not None:
            query = query.where(t.c.status == status.value)
        if location is not None:
            query = query.where(t.c.location == location)
        return [self._return(r) for r in self._conn.execute(query).mappings()]
