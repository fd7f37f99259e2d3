"""What differs between databases, and the portable behaviour the dialects refine.

Everything the store does differently on SQLite and PostgreSQL lives in one backend object per
dialect (:mod:`omskit.store.backends.sqlite`, :mod:`omskit.store.backends.postgresql`),
chosen once from the connection's dialect (:func:`omskit.store.backends.backend_for`); the
repositories never look at the dialect's name. :class:`PortableBackend` is plain SQL for any
other dialect SQLAlchemy knows: untested there, and the base the two tested backends refine.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, ClassVar, Protocol

import sqlalchemy as sa

from omskit.store.backends.driver import run
from omskit.store.statements import Statements

#: A new row, by column name.
Row = dict[str, Any]
#: One stock row to reserve from: (location, SKU, total units wanted from it).
RowDemand = tuple[str, str, int]


class StoreBackend(Protocol):
    """One database's way of doing what the store needs.

    **The reservation contract** (:meth:`reserve_rows`; ``InventoryRepository.reserve``,
    ``reserve_many`` and ``soft_reserve`` all end here, on every backend):

    1. The repository sums the items that fall on the same stock row, (location, SKU), and
       passes each row once, in (location, SKU) order, the global lock order. Items on one row
       are therefore reserved **together: all or none**.
    2. A row is reserved (``reserved += total``) if and only if, when the statement runs, it
       exists and ``on_hand - reserved - safety_stock >= total``. The database decides, under
       the row's lock, on the row as it stands then (other transactions' commits included),
       never on what this transaction read before.
    3. **Rows are independent**: one row that is short, unknown or changed by another
       transaction changes nothing for the others.
    4. The answer is the set of rows reserved. A short row is an answer, not an error: no
       backend raises :class:`~omskit.domain.errors.ConcurrencyConflict` or anything else for
       it; the caller plans the missed quantities again (decision 8).
    5. Totals are positive and at most ``MAX_STOCK_UNITS``; the repository answers a larger
       total as short without asking the database (no row can hold it).

    ``tests/integration/test_reservation_contract.py`` checks the same answers for the same
    inputs on every backend, and on :class:`PortableBackend` over both databases.
    """

    #: The SQLAlchemy dialect name this backend serves (``"*"``: any other).
    name: ClassVar[str]
    #: Whether another writer is kept off rows only by locking them (``SELECT ... FOR
    #: UPDATE``); False when a write transaction already excludes every other (SQLite).
    row_locks: ClassVar[bool]

    def create_engine(self, url: sa.URL, options: dict[str, Any]) -> sa.Engine:
        """An engine for ``url`` with ``options``, set up for omskit."""
        ...

    def insert_rows(self, conn: sa.Connection, ordered: Sequence[tuple[sa.Table, list[Row]]],
                    statements: Statements) -> None:
        """Insert rows held until flush, tables in the order given (parents first), rows of
        one table in the order given (sequence-numbered tables keep write order), with what
        an ordinary Core insert of them stores."""
        ...

    def stock_of_skus(self, conn: sa.Connection, statements: Statements, skus: list[str], *,
                      lock: bool) -> Iterable[Sequence[Any]]:
        """Every stock row of ``skus``, as ``Statements.stock_of_skus`` returns them; with
        ``lock`` (backends with :attr:`row_locks`), locked in (location, SKU) order."""
        ...

    def placed_and_locked(self, conn: sa.Connection, statements: Statements, channel: str,
                          external_id: str, skus: list[str]
                          ) -> tuple[tuple[str, str | None] | None, Iterable[Sequence[Any]]]:
        """``(id, command hash)`` of the order placed as ``(channel, external_id)`` (None if
        none is), and every stock row of ``skus`` locked as :meth:`stock_of_skus` with
        ``lock`` locks them: what a placement reads first (backends with :attr:`row_locks`;
        PostgreSQL in one round trip)."""
        ...

    def add_on_hand(self, conn: sa.Connection, stock_items: sa.Table, location: str,
                    sku: str, quantity: int, limit: int) -> bool:
        """Add ``quantity`` to the row's ``on_hand``, inserting the row if there is none,
        unless the row would hold more than ``limit``; False if it would."""
        ...

    def rows(self, conn: sa.Connection, statements: Statements, statement: sa.Select[Any],
             params: dict[str, Any]) -> list[Sequence[Any]]:
        """The rows of ``statement``, one of ``statements``' prebuilt selects (it may be
        compiled once and cached there), with the values SQLAlchemy's ``execute`` gives."""
        ...

    def insert_missing(self, conn: sa.Connection, table: sa.Table, values: Row,
                       keys: Sequence[sa.Column[Any]]) -> None:
        """Insert ``values`` unless a row with the same ``keys`` exists (also when a
        concurrent transaction inserts it first)."""
        ...

    def reserve_rows(self, conn: sa.Connection, statements: Statements,
                     rows: Sequence[RowDemand]) -> set[tuple[str, str]]:
        """Reserve from each row what the contract above allows; the (location, SKU) rows
        reserved."""
        ...

    def lock_key(self, conn: sa.Connection, key: int) -> None:
        """Serialise the transactions that take ``key`` (a signed 64-bit integer) until this
        one ends, where row locks cannot (no row exists yet)."""
        ...


class PortableBackend:
    """Portable SQL: any dialect, one statement per row where the dialects do better.

    Chosen for dialects other than SQLite and PostgreSQL (untested there; omskit supports
    those two), and the behaviour the two refine.
    """

    name: ClassVar[str] = "*"
    row_locks: ClassVar[bool] = True

    def create_engine(self, url: sa.URL, options: dict[str, Any]) -> sa.Engine:
        """A plain SQLAlchemy engine."""
        return sa.create_engine(url, **options)

    def insert_rows(self, conn: sa.Connection, ordered: Sequence[tuple[sa.Table, list[Row]]],
                    statements: Statements) -> None:
        """One Core executemany per table."""
        for table, rows in ordered:
            conn.execute(statements.insert(table), rows)

    def stock_of_skus(self, conn: sa.Connection, statements: Statements, skus: list[str], *,
                      lock: bool) -> Iterable[Sequence[Any]]:
        """The prebuilt select, its SKUs an expanding ``IN``."""
        return conn.execute(statements.stock_of_skus_locked if lock
                            else statements.stock_of_skus, {"skus": skus})

    def rows(self, conn: sa.Connection, statements: Statements, statement: sa.Select[Any],
             params: dict[str, Any]) -> list[Sequence[Any]]:
        """SQLAlchemy's ``execute``."""
        return list(conn.execute(statement, params).all())

    def placed_and_locked(self, conn: sa.Connection, statements: Statements, channel: str,
                          external_id: str, skus: list[str]
                          ) -> tuple[tuple[str, str | None] | None, Iterable[Sequence[Any]]]:
        """Two statements: the look-up (:meth:`rows`), then the locked stock read."""
        found = self.rows(conn, statements, statements.order_id_for_external,
                          {"ch": channel, "ext": external_id})
        placed = (found[0][0], found[0][1]) if found else None
        return placed, self.stock_of_skus(conn, statements, skus, lock=True)

    def add_on_hand(self, conn: sa.Connection, stock_items: sa.Table, location: str,
                    sku: str, quantity: int, limit: int) -> bool:
        """The conditional update, else an insert (a concurrent first insert fails on the
        primary key and the operation is retried)."""
        s = stock_items
        where = (s.c.location == location, s.c.sku == sku)
        done = conn.execute(s.update().where(*where, s.c.on_hand <= limit - quantity)
                            .values(on_hand=s.c.on_hand + quantity))
        if done.rowcount == 1:
            return True
        if conn.execute(sa.select(s.c.sku).where(*where)).first() is not None:
            return False
        conn.execute(s.insert(), [{"location": location, "sku": sku, "on_hand": quantity,
                                   "reserved": 0, "safety_stock": 0}])
        return True

    def insert_missing(self, conn: sa.Connection, table: sa.Table, values: Row,
                       keys: Sequence[sa.Column[Any]]) -> None:
        """A look-up, then the insert (a concurrent first insert fails on the key and the
        operation is retried)."""
        found = conn.execute(sa.select(*keys).where(*(k == values[k.name] for k in keys)))
        if found.first() is None:
            conn.execute(table.insert(), [values])

    def reserve_rows(self, conn: sa.Connection, statements: Statements,
                     rows: Sequence[RowDemand]) -> set[tuple[str, str]]:
        """One conditional update per row, in the order given; each row count answers."""
        taken: set[tuple[str, str]] = set()
        for location, sku, quantity in rows:
            done = conn.execute(statements.reserve, {"loc": location, "item": sku,
                                                     "q": quantity})
            if done.rowcount == 1:
                taken.add((location, sku))
        return taken

    def lock_key(self, conn: sa.Connection, key: int) -> None:
        """Nothing: no portable lock without a row. Callers that need one run on a backend
        that has it."""


class UpsertBackend(PortableBackend):
    """A backend whose dialect has ``INSERT ... ON CONFLICT`` (SQLite, PostgreSQL): the
    receipt and the first insert of a row are one statement each. Subclasses name their
    dialect's ``insert``."""

    def dialect_insert(self, table: sa.Table) -> Any:
        """The dialect's ``INSERT`` construct for ``table``, which has ``on_conflict_do_*``."""
        raise NotImplementedError

    def rows(self, conn: sa.Connection, statements: Statements, statement: sa.Select[Any],
             params: dict[str, Any]) -> list[Sequence[Any]]:
        """Compiled once to the driver's SQL and run by the driver (:mod:`.driver`), when
        neither its columns nor its parameters need a type's conversion (plain strings and
        numbers); otherwise SQLAlchemy's ``execute``."""
        key = ("rows", statement)
        found: tuple[str | None, tuple[str, ...] | None] | None = statements.driver_sql.get(key)
        if found is None:
            compiled = statement.compile(dialect=conn.dialect)
            plain = (all(column.type.result_processor(conn.dialect, None) is None
                         for column in statement.selected_columns)
                     and all(bind.type.bind_processor(conn.dialect) is None
                             for bind in compiled.binds.values()))
            # The parameters' order for a positional style (SQLite's ?), else by name; no
            # SQL when a type converts: decided once, like the compilation.
            order = (tuple(compiled.positiontup or ()) if conn.dialect.positional
                     else None)
            found = statements.driver_sql[key] = (str(compiled) if plain else None, order)
        sql, order = found
        if sql is None:
            return super().rows(conn, statements, statement, params)
        args = params if order is None else tuple(params[name] for name in order)
        return list(run(conn, sql, args))

    def add_on_hand(self, conn: sa.Connection, stock_items: sa.Table, location: str,
                    sku: str, quantity: int, limit: int) -> bool:
        """``INSERT ... ON CONFLICT DO UPDATE ... WHERE`` the row stays within ``limit``."""
        s = stock_items
        stmt = self.dialect_insert(s).values(location=location, sku=sku,
                                                   on_hand=quantity, reserved=0,
                                                   safety_stock=0)
        # RETURNING, not rowcount: psycopg reports -1 for an upsert that did nothing.
        return conn.execute(stmt.on_conflict_do_update(
            index_elements=[s.c.location, s.c.sku],
            set_={"on_hand": s.c.on_hand + quantity}, where=s.c.on_hand <= limit - quantity)
            .returning(s.c.on_hand)).first() is not None

    def insert_missing(self, conn: sa.Connection, table: sa.Table, values: Row,
                       keys: Sequence[sa.Column[Any]]) -> None:
        """``INSERT ... ON CONFLICT DO NOTHING``."""
        conn.execute(self.dialect_insert(table).values(values)
                     .on_conflict_do_nothing(index_elements=list(keys)))
