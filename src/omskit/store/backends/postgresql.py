"""PostgreSQL: the production database and the scale-out path.

Writers exclude each other only by row locks, taken in one global order, and round trips cost
more than anything else: a placement's inserts go out as one statement, a plan's reservations
as another.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any, ClassVar

import orjson
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql

from omskit.store.backends.base import Row, RowDemand, UpsertBackend
from omskit.store.backends.driver import run
from omskit.store.jsontext import json_dumps
from omskit.store.statements import Statements

#: Naive datetimes never reach here (the domain's are aware); OPT_NAIVE_UTC makes the text
#: unambiguous anyway.
_ROW_OPTIONS = orjson.OPT_NAIVE_UTC


class PostgreSQLBackend(UpsertBackend):
    """PostgreSQL through psycopg 3."""

    def dialect_insert(self, table: sa.Table) -> Any:
        """``sqlalchemy.dialects.postgresql.insert``."""
        return postgresql.insert(table)

    name: ClassVar[str] = "postgresql"
    row_locks: ClassVar[bool] = True
    #: A pooled connection idle at least this long (seconds) is pinged before it is lent
    #: again; one returned more recently is lent as it is (decision 51).
    ping_after_idle: ClassVar[float] = 1.0

    def create_engine(self, url: sa.URL, options: dict[str, Any]) -> sa.Engine:
        """A pool that pings a connection that sat idle before lending it (decision 51).

        SQLAlchemy's ``pool_pre_ping`` pings on every checkout: one more round trip per
        transaction, about a sixth of a placement's wall time. A connection lost while it
        sat in the pool (a server restart, an idle timeout, a dropped network path) has
        sat there a while; one returned a moment ago by a busy worker has not. So only
        connections idle for :attr:`ping_after_idle` seconds or more are pinged, and one that
        fails the ping is replaced, as ``pool_pre_ping`` does. ``pool_pre_ping=True`` in the
        engine options keeps SQLAlchemy's ping on every checkout instead.
        """
        engine = sa.create_engine(url, **options)
        if options.get("pool_pre_ping"):
            return engine
        dialect = engine.dialect

        @event.listens_for(engine, "checkin")
        def _idle_from(_dbapi_connection: Any, record: Any) -> None:
            record.info["omskit_idle_since"] = time.monotonic()

        @event.listens_for(engine, "checkout")
        def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
            since = record.info.pop("omskit_idle_since", None)
            if since is None or time.monotonic() - since < self.ping_after_idle:
                return
            try:
                dialect.do_ping(dbapi_connection)
            except dialect.loaded_dbapi.Error as exc:
                if dialect.is_disconnect(exc, dbapi_connection, None):
                    # The pool discards this connection and checks out another.
                    raise sa.exc.DisconnectionError(str(exc)) from exc
                raise

        return engine

    def insert_rows(self, conn: sa.Connection, ordered: Sequence[tuple[sa.Table, list[Row]]],
                    statements: Statements) -> None:
        """Every row in one statement, one round trip: each table's rows travel as one
        ``jsonb`` array and are inserted by a data-modifying CTE, in the order given
        (``WITH ORDINALITY``: sequence-numbered rows such as the outbox keep write order).
        Foreign keys are checked at the end of the statement, so parents and children may
        arrive together. JSON columns travel as their serialised text and are cast back, so
        ``None`` is stored as JSON ``null`` exactly as an ordinary insert stores it."""
        shape = ("pg-insert", *((table.name, tuple(rows[0])) for table, rows in ordered))
        found: tuple[str, list[frozenset[str]]] | None = statements.driver_sql.get(shape)
        if found is None:
            found = statements.driver_sql[shape] = _insert_cte(
                conn.dialect, [(table, tuple(rows[0])) for table, rows in ordered])
        sql, json_columns = found
        params: dict[str, str] = {}
        for i, ((_, rows), serialised) in enumerate(zip(ordered, json_columns, strict=True)):
            if serialised:
                rows = [{k: (json_dumps(v) if k in serialised else v) for k, v in r.items()}
                        for r in rows]
            params[f"p{i}"] = orjson.dumps(rows, default=_decimal, option=_ROW_OPTIONS).decode()
        run(conn, sql, params)

    def stock_of_skus(self, conn: sa.Connection, statements: Statements, skus: list[str], *,
                      lock: bool) -> Iterable[Sequence[Any]]:
        """One statement, its SKUs one ``text[]`` parameter (``= ANY``): SQLAlchemy neither
        expands nor compiles anything per call, and the server prepares one statement
        whatever the number of SKUs. ``lock``: ``FOR UPDATE`` of the stock rows, in
        (location, SKU) order."""
        key = ("pg-stock", lock)
        sql = statements.driver_sql.get(key)
        if sql is None:
            sql = statements.driver_sql[key] = str(
                _stock_of_any(statements, lock=lock).compile(dialect=conn.dialect))
        found: Iterable[Sequence[Any]] = run(conn, sql, {"skus": skus})
        return found

    def placed_and_locked(self, conn: sa.Connection, statements: Statements, channel: str,
                          external_id: str, skus: list[str]
                          ) -> tuple[tuple[str, str | None] | None, Iterable[Sequence[Any]]]:
        """One statement, one round trip: the look-up's row (if any), padded with ``NULL``
        stock columns, ``UNION ALL`` :meth:`stock_of_skus`'s locked read as a sub-select
        (where ``FOR UPDATE`` is allowed), its locks taken in the same order."""
        sql = statements.driver_sql.get("pg-placed-and-locked")
        if sql is None:
            t = statements.tables
            s = t.stock_items
            locked = _stock_of_any(statements, lock=True).subquery("locked")
            o = t.orders.c
            padding = [sa.cast(sa.null(), column.type) for column in (
                s.c.on_hand, s.c.reserved, s.c.safety_stock, t.locations.c.updated_at,
                t.locations.c.active)]
            look_up = sa.select(o.id, o.command_hash, *padding).where(
                o.channel == sa.bindparam("ch"), o.external_id == sa.bindparam("ext"))
            sql = statements.driver_sql["pg-placed-and-locked"] = str(
                sa.union_all(look_up, sa.select(locked)).compile(dialect=conn.dialect))
        placed: tuple[str, str | None] | None = None
        rows: list[Sequence[Any]] = []
        # The order's row is the one without stock figures (on_hand is never NULL); found by
        # that, not by its place: SQL does not order a UNION's rows.
        for row in run(conn, sql, {"ch": channel, "ext": external_id, "skus": skus}):
            if row[2] is None:
                placed = (row[0], row[1])
            else:
                rows.append(row)
        return placed, rows

    def reserve_rows(self, conn: sa.Connection, statements: Statements,
                     rows: Sequence[RowDemand]) -> set[tuple[str, str]]:
        """One ``UPDATE ... FROM unnest(...) ... RETURNING``, conditional per row, naming the
        rows reserved, however many rows."""
        sql = statements.driver_sql.get("pg-reserve")
        if sql is None:
            # Only the table name is interpolated, quoted by the dialect's preparer.
            name = conn.dialect.identifier_preparer.format_table(statements.tables.stock_items)
            sql = statements.driver_sql["pg-reserve"] = (
                f"UPDATE {name} AS s SET reserved = s.reserved + w.q "
                "FROM unnest(CAST(%(locations)s AS text[]), CAST(%(skus)s AS text[]), "
                "CAST(%(quantities)s AS bigint[])) AS w(location, sku, q) "
                "WHERE s.location = w.location AND s.sku = w.sku "
                "AND s.on_hand - s.reserved - s.safety_stock >= w.q "
                "RETURNING s.location, s.sku")
        found = run(conn, sql, {
            "locations": [r[0] for r in rows], "skus": [r[1] for r in rows],
            "quantities": [r[2] for r in rows]})
        return {(location, sku) for location, sku in found}

    def lock_key(self, conn: sa.Connection, key: int) -> None:
        """A transaction-scoped advisory lock (``pg_advisory_xact_lock``)."""
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))


def _decimal(value: object) -> str:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _insert_cte(dialect: sa.Dialect, shape: Sequence[tuple[sa.Table, tuple[str, ...]]]
                ) -> tuple[str, list[frozenset[str]]]:
    """The statement inserting rows of ``shape`` from one ``jsonb`` parameter per table,
    and each table's JSON columns."""
    preparer = dialect.identifier_preparer
    parts: list[str] = []
    json_columns: list[frozenset[str]] = []
    for i, (table, names) in enumerate(shape):
        columns = [table.c[n] for n in names]
        serialised = frozenset(c.name for c in columns
                               if isinstance(c.type.dialect_impl(dialect), sa.JSON))
        json_columns.append(serialised)
        quoted = [preparer.quote(n) for n in names]
        definitions = ", ".join(
            f"{q} {'text' if c.name in serialised else c.type.compile(dialect)}"
            for q, c in zip(quoted, columns, strict=True))
        values = ", ".join(f"CAST(x.{q} AS jsonb)" if c.name in serialised else f"x.{q}"
                           for q, c in zip(quoted, columns, strict=True))
        parts.append(
            f"i{i} AS (INSERT INTO {preparer.format_table(table)} ({', '.join(quoted)}) "
            f"SELECT {values} FROM ROWS FROM (jsonb_to_recordset(CAST(%(p{i})s AS jsonb)) "
            f"AS ({definitions})) WITH ORDINALITY AS x({', '.join(quoted)}, n) ORDER BY x.n)")
    return "WITH " + ", ".join(parts) + " SELECT 1", json_columns


def _stock_of_any(statements: Statements, *, lock: bool) -> sa.Select[Any]:
    """The stock rows of the SKUs in the ``skus`` parameter, one ``text[]`` (``= ANY``);
    with ``lock``, ``FOR UPDATE`` in (location, SKU) order."""
    s = statements.tables.stock_items
    select = statements.stock_rows_where(
        s.c.sku == sa.any_(sa.bindparam("skus", type_=postgresql.ARRAY(sa.Text))))
    return statements.in_lock_order(select) if lock else select
