"""New rows a unit of work inserts at once, table by table, instead of one insert per call.

Placing an order adds rows to eight tables; a batch of orders (``place_many``) adds them for
every order. Holding them until the transaction needs them turns that into one executemany
per table on SQLite and one statement in all on PostgreSQL (see decision 14). Repositories
flush before they read a table that may have pending rows, and the unit of work flushes
before commit, so nothing reads stale data.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

import orjson
import sqlalchemy as sa

from omskit.store.engine import json_dumps
from omskit.store.statements import Statements
from omskit.store.types import UTCDateTime

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
        """Insert every pending row, tables in dependency order (parents first): one
        statement on PostgreSQL, one driver executemany per table on SQLite, one Core
        executemany per table elsewhere."""
        if not self._rows:
            return
        pending, self._rows = self._rows, {}
        rank = self._statements.rank
        ordered = [pending[name] for name in sorted(pending, key=lambda n: rank.get(n, len(rank)))
                   if pending[name][1]]
        if self._conn.dialect.name == "postgresql":
            _flush_postgresql(self._conn, ordered, self._statements.insert_ctes)
            return
        if self._conn.dialect.name == "sqlite":
            for table, rows in ordered:
                _insert_sqlite(self._conn, table, rows, self._statements.driver_inserts)
            return
        for table, rows in ordered:
            self._conn.execute(self._statements.insert(table), rows)


def _insert_sqlite(conn: sa.Connection, table: sa.Table, rows: list[Row],
                   cache: dict[Any, tuple[str, list[tuple[int, Any, bool]]]]) -> None:
    """SQLite: the rows through the driver's executemany, each value converted by its
    column type's own bind processor, so what is stored is exactly what an executemany of
    the Core insert stores, without SQLAlchemy's per-row parameter bookkeeping (which costs
    more than SQLite's work for the few dozen rows a placement adds)."""
    names = tuple(rows[0])
    found = cache.get((table.name, names))
    if found is None:
        dialect = conn.dialect
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
        found = cache[(table.name, names)] = (sql, converters)
    sql, converters = found
    # The rows of one transaction share a handful of timestamps (every row an order adds
    # carries its placement time): each is converted once.
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
    conn.exec_driver_sql(sql, params)


def _decimal(value: object) -> str:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


#: Naive datetimes never reach here (the domain's are aware); OPT_NAIVE_UTC makes the text
#: unambiguous anyway.
_ROW_OPTIONS = orjson.OPT_NAIVE_UTC


def _flush_postgresql(conn: sa.Connection, ordered: Sequence[tuple[sa.Table, list[Row]]],
                      cache: dict[Any, tuple[str, list[frozenset[str]]]]) -> None:
    """Every pending row in one statement, one round trip: each table's rows travel as one
    ``jsonb`` array and are inserted by a data-modifying CTE, in the order given
    (``WITH ORDINALITY``: sequence-numbered rows such as the outbox keep write order).
    Foreign keys are checked at the end of the statement, so parents and children may
    arrive together. JSON columns travel as their serialised text and are cast back, so
    ``None`` is stored as JSON ``null`` exactly as an ordinary insert stores it."""
    shape = tuple((table, tuple(rows[0])) for table, rows in ordered)
    found = cache.get(shape)
    if found is None:
        found = cache[shape] = _insert_cte(conn.dialect, shape)
    sql, json_columns = found
    params: dict[str, str] = {}
    for i, ((_, rows), serialised) in enumerate(zip(ordered, json_columns, strict=True)):
        if serialised:
            rows = [{k: (json_dumps(v) if k in serialised else v) for k, v in r.items()}
                    for r in rows]
        params[f"p{i}"] = orjson.dumps(rows, default=_decimal, option=_ROW_OPTIONS).decode()
    conn.exec_driver_sql(sql, params)


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
