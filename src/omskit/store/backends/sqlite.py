"""SQLite: the embedded default (a file with WAL, or memory).

A write transaction holds the database's write lock from ``BEGIN IMMEDIATE`` (decision 5), so
writers queue and no row lock is ever needed. Statements are cheap, but SQLAlchemy's work per
statement is not: the hot paths go to the driver with SQL built once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

import orjson
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import sqlite

from omskit.store.backends.base import Row, RowDemand, UpsertBackend
from omskit.store.backends.checkpoints import BACKSTOP_PAGES, WalCheckpointer
from omskit.store.backends.driver import run, run_many
from omskit.store.pools import SerialisedStaticPool
from omskit.store.statements import Statements
from omskit.store.types import UTCDateTime


class SQLiteBackend(UpsertBackend):
    """SQLite 3.35 or later (``RETURNING``, ``UPDATE ... FROM``, JSON functions)."""

    def dialect_insert(self, table: sa.Table) -> Any:
        """``sqlalchemy.dialects.sqlite.insert``."""
        return sqlite.insert(table)

    name: ClassVar[str] = "sqlite"
    row_locks: ClassVar[bool] = False
    #: Seconds between background checkpoints of a database file's log (decision 53);
    #: ``None``: writers checkpoint it in their commits, SQLite's default.
    checkpoint_every: ClassVar[float | None] = 0.1

    def create_engine(self, url: sa.URL, options: dict[str, Any]) -> sa.Engine:
        """WAL journaling, enforced foreign keys, a busy timeout and ``BEGIN IMMEDIATE``; a
        file's log checkpointed in the background (:attr:`checkpoint_every`); an in-memory
        database shares one connection so every unit of work sees the same data, lent to
        one thread at a time (threads that shared it at once interleaved their transactions
        on it)."""
        memory = url.database in (None, "", ":memory:")
        if memory:
            options.setdefault("poolclass", SerialisedStaticPool)
            options.setdefault("connect_args", {"check_same_thread": False})
        engine = sa.create_engine(url, **options)
        # A plain file path only: a "file:" URI (``?uri=true``) keeps SQLite's own way.
        every = (None if memory or url.database is None or "uri" in url.query
                 else self.checkpoint_every)
        if every is not None and url.database is not None:
            WalCheckpointer(url.database, every).attach(engine)
        background = every is not None

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Take transaction control from pysqlite so that BEGIN is ours (see below).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            if not memory:
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")
                if background:
                    cursor.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(connection: sa.Connection) -> None:
            run(connection, "BEGIN IMMEDIATE", ())

        return engine

    def insert_rows(self, conn: sa.Connection, ordered: Sequence[tuple[sa.Table, list[Row]]],
                    statements: Statements) -> None:
        """One driver executemany per table, each value converted by its column type's own
        bind processor, so what is stored is exactly what an executemany of the Core insert
        stores, without SQLAlchemy's per-row parameter bookkeeping (which costs more than
        SQLite's work for the few dozen rows a placement adds)."""
        for table, rows in ordered:
            names = tuple(rows[0])
            sql, converters = self._insert_sql(conn.dialect, table, names, statements)
            # The rows of one transaction share a handful of timestamps (every row an order
            # adds carries its placement time): each is converted once.
            moments: dict[Any, Any] = {}
            params = []
            for r in rows:
                values = [r[n] for n in names]
                for i, processor, is_moment in converters:
                    value = values[i]
                    if is_moment:
                        converted = moments.get(value, moments)
                        if converted is moments:
                            converted = moments[value] = processor(value)
                        values[i] = converted
                    else:
                        values[i] = processor(value)
                params.append(tuple(values))
            run_many(conn, sql, params)

    @staticmethod
    def _insert_sql(dialect: sa.Dialect, table: sa.Table, names: tuple[str, ...],
                    statements: Statements) -> tuple[str, list[tuple[int, Any, bool]]]:
        key = ("sqlite-insert", table.name, names)
        found: tuple[str, list[tuple[int, Any, bool]]] | None = statements.driver_sql.get(key)
        if found is None:
            preparer = dialect.identifier_preparer
            sql = (f"INSERT INTO {preparer.format_table(table)} "
                   f"({', '.join(preparer.quote(n) for n in names)}) "
                   f"VALUES ({', '.join('?' for _ in names)})")
            converters = []
            for i, name in enumerate(names):
                column_type = table.c[name].type
                processor = column_type.dialect_impl(dialect).bind_processor(dialect)
                if processor is not None:
                    converters.append((i, processor, isinstance(column_type, UTCDateTime)))
            found = statements.driver_sql[key] = (sql, converters)
        return found

    def stock_of_skus(self, conn: sa.Connection, statements: Statements, skus: list[str], *,
                      lock: bool) -> Iterable[Sequence[Any]]:
        """One statement, its SKUs one JSON array (``json_each``): SQLAlchemy neither expands
        nor compiles anything per call. ``lock`` changes nothing: the transaction's write
        lock already excludes every other writer."""
        sql = statements.driver_sql.get("sqlite-stock")
        if sql is None:
            sku = statements.tables.stock_items.c.sku
            listed: sa.Select[Any] = sa.select(sa.column("value")).select_from(
                sa.func.json_each(sa.bindparam("skus")))
            sql = statements.driver_sql["sqlite-stock"] = str(
                statements.stock_rows_where(sku.in_(listed)).compile(dialect=conn.dialect))
        found: Iterable[Sequence[Any]] = run(conn, sql, (orjson.dumps(skus).decode(),))
        return found

    def reserve_rows(self, conn: sa.Connection, statements: Statements,
                     rows: Sequence[RowDemand]) -> set[tuple[str, str]]:
        """One ``UPDATE ... FROM json_each(?) ... RETURNING``, conditional per row, naming the
        rows reserved, however many rows (one statement the driver runs as it is)."""
        sql = statements.driver_sql.get("sqlite-reserve")
        if sql is None:
            # Only the table name is interpolated, quoted by the dialect's preparer.
            name = conn.dialect.identifier_preparer.format_table(statements.tables.stock_items)
            sql = statements.driver_sql["sqlite-reserve"] = (
                f"UPDATE {name} SET reserved = reserved + w.q "
                "FROM (SELECT json_extract(value, '$[0]') AS location, "
                "json_extract(value, '$[1]') AS sku, json_extract(value, '$[2]') AS q "
                "FROM json_each(?)) AS w "
                f"WHERE {name}.location = w.location AND {name}.sku = w.sku "
                f"AND {name}.on_hand - {name}.reserved - {name}.safety_stock >= w.q "
                "RETURNING location, sku")
        found = run(conn, sql, (orjson.dumps(list(rows)).decode(),))
        return {(location, sku) for location, sku in found}
