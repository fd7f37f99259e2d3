"""The order edit repository: staged edits, their status, and what committed ones did."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import cattrs
import sqlalchemy as sa

from omskit.domain.edits import EditStatus, EditSummary, OrderEdit, StagedChanges
from omskit.domain.errors import OrderEditNotFound
from omskit.serialization import structure_optional
from omskit.store.tables import Tables


class EditRepository:
    """Reads and writes order edits on one connection (the caller's transaction).

    A writer of an edit locks its row first (:meth:`get` with ``for_update``): ``SELECT ...
    FOR UPDATE`` on PostgreSQL, after the order's row when it changes the order too (the
    one lock order: order, edit, stock rows); SQLite's write lock serialises writers.
    """

    def __init__(self, connection: sa.Connection, tables: Tables,
                 converter: cattrs.Converter) -> None:
        self._conn = connection
        self._t = tables
        self._c = converter

    def _row(self, edit: OrderEdit) -> dict[str, Any]:
        unstructure = self._c.unstructure
        return {
            "id": edit.id, "order_id": edit.order_id, "channel": edit.channel,
            "actor": edit.actor, "status": edit.status.value,
            "base_version": edit.base_version, "changes": unstructure(edit.changes),
            "idempotency_key": edit.idempotency_key, "stage_keys": dict(edit.stage_keys),
            "fingerprint": edit.fingerprint,
            "summary": None if edit.summary is None else unstructure(edit.summary),
            "created_at": edit.created_at, "updated_at": edit.updated_at,
            "expires_at": edit.expires_at, "committed_at": edit.committed_at,
        }

    def _edit(self, row: Any) -> OrderEdit:
        return OrderEdit(
            id=row["id"], order_id=row["order_id"], channel=row["channel"],
            actor=row["actor"], status=EditStatus(row["status"]),
            base_version=row["base_version"],
            changes=self._c.structure(row["changes"], StagedChanges),
            idempotency_key=row["idempotency_key"], stage_keys=dict(row["stage_keys"]),
            fingerprint=row["fingerprint"],
            summary=structure_optional(self._c, row["summary"], EditSummary),
            created_at=row["created_at"], updated_at=row["updated_at"],
            expires_at=row["expires_at"], committed_at=row["committed_at"])

    def add(self, edit: OrderEdit) -> None:
        """Insert a new edit."""
        self._conn.execute(self._t.order_edits.insert(), [self._row(edit)])

    def save(self, edit: OrderEdit) -> None:
        """Write an edit's status, changes and result."""
        row = self._row(edit)
        del row["id"]
        self._conn.execute(self._t.order_edits.update()
                           .where(self._t.order_edits.c.id == edit.id).values(row))

    def find(self, edit_id: str, *, for_update: bool = False) -> OrderEdit | None:
        """The edit with this id, or None; ``for_update`` locks its row."""
        query = sa.select(self._t.order_edits).where(self._t.order_edits.c.id == edit_id)
        if for_update:
            query = query.with_for_update()
        row = self._conn.execute(query).mappings().one_or_none()
        return None if row is None else self._edit(row)

    def get(self, edit_id: str, *, for_update: bool = False) -> OrderEdit:
        """The edit with this id, or :class:`OrderEditNotFound`."""
        found = self.find(edit_id, for_update=for_update)
        if found is None:
            raise OrderEditNotFound(edit_id)
        return found

    def for_order(self, order_id: str) -> list[OrderEdit]:
        """The order's edits, oldest first."""
        t = self._t.order_edits
        rows = self._conn.execute(sa.select(t).where(t.c.order_id == order_id)
                                  .order_by(t.c.created_at, t.c.id)).mappings()
        return [self._edit(r) for r in rows]

    def recent(self, status: EditStatus | None, limit: int) -> list[OrderEdit]:
        """The latest edits (with ``status``), newest first."""
        t = self._t.order_edits
        query = sa.select(t).order_by(t.c.updated_at.desc(), t.c.id.desc()).limit(limit)
        if status is not None:
            query = query.where(t.c.status == status.value)
        return [self._edit(r) for r in self._conn.execute(query).mappings()]

    def expire(self, at: datetime) -> int:
        """Mark every open edit whose time ran out by ``at`` expired; returns how many."""
        t = self._t.order_edits
        result = self._conn.execute(
            t.update().where(t.c.status == EditStatus.OPEN.value, t.c.expires_at <= at)
            .values(status=EditStatus.EXPIRED.value, updated_at=at))
        return int(result.rowcount or 0)
