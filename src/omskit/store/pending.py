"""New rows a unit of work inserts at once, table by table, instead of one insert per call.

Placing an order adds rows to eight tables; a batch of orders (``place_many``) adds them for
every order. Holding them until the transaction needs them turns that into one executemany
per table on SQLite and one statement in all on PostgreSQL (see decision 14; how is the
database's backend's business, ``StoreBackend.insert_rows``). Repositories flush before they
read a table that may have pending rows, and the unit of work flushes before commit, so
nothing reads stale data.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from omskit.store.backends import Row, StoreBackend, backend_for
from omskit.store.statements import Statements


class PendingRows:
    """Rows waiting to be inserted on one connection, flushed parents first."""

    def __init__(self, conn: sa.Connection, statements: Statements,
                 backend: StoreBackend | None = None) -> None:
        self._conn = conn
        self._statements = statements
        self._backend = backend or backend_for(conn.dialect)
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
        """Insert every pending row, tables in dependency order (parents first), through the
        database's backend."""
        if not self._rows:
            return
        pending, self._rows = self._rows, {}
        rank = self._statements.rank
        ordered = [pending[name] for name in sorted(pending, key=lambda n: rank.get(n, len(rank)))
                   if pending[name][1]]
        self._backend.insert_rows(self._conn, ordered, self._statements)


__all__ = ["PendingRows", "Row"]
