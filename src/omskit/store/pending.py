"""New rows a unit of work inserts at once, table by table, instead of one insert per call.

Placing an order adds rows to eight tables; a batch of orders (``place_many``) adds them for
every order. Holding them until the transaction needs them turns that into one executemany
per table (see decision 14). Repositories flush before they read a table that may have
pending rows, and the unit of work flushes before commit, so nothing reads stale data.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from omskit.store.statements import Statements

Row = dict[str, Any]


class PendingRows:
    """Rows waiting to be inserted on one connection, flushed parents first."""

    def __init__(self, conn: sa.Connection, statements: Statements) -> None:
        self._conn = conn
        self._statements = statements
        self._rows: dict[str, tuple[sa.Table, list[Row]]] = {}

    def __bool__(self) -> bool:
        return bool(self._rows)

    def has(self, table: sa.Table) -> bool:
        """Whether rows for ``table`` are waiting."""
        entry = self._rows.get(table.name)
        return entry is not None and bool(entry[1])

    def add(self, table: sa.Table, rows: Iterable[Row]) -> None:
        """Insert ``rows`` into ``table`` at the next flush."""
        entry = self._rows.get(table.name)
        if entry is None:
            entry = self._rows[table.name] = (table, [])
        entry[1].extend(rows)

    def flush(self) -> None:
        """Insert every pending row: one executemany per table, in dependency order, so a
        child row never arrives before its parent."""
        if not self._rows:
            return
        pending, self._rows = self._rows, {}
        rank = self._statements.rank
        for name in sorted(pending, key=lambda n: rank.get(n, len(rank))):
            table, rows = pending[name]
            if rows:
                self._conn.execute(self._statements.insert(table), rows)
