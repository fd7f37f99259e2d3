"""Statements sent to the driver's connection directly, past SQLAlchemy's per-statement work.

SQLAlchemy's bookkeeping per statement (execution context, cursor result, events) costs
about 25 µs, more than SQLite spends running a placement's small statements and a sizeable
share of a PostgreSQL worker's CPU time (decisions 52 and 54). The hot-path statements of
the SQLite and PostgreSQL backends go through :func:`run` instead: on the driver's
connection, unless someone watches statements or errors through the engine's events (a
statement counter, tracing), who then sees every statement as before. Either way the rows
iterate as tuples, and an error is the SQLAlchemy error ``exec_driver_sql`` would raise, with
a lost connection invalidated as SQLAlchemy invalidates it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa


def driver_of(conn: sa.Connection) -> Any | None:
    """The driver's connection behind ``conn``; None when statements or errors are watched
    through the engine's events."""
    events = conn.dispatch
    if (events.before_cursor_execute or events.after_cursor_execute
            or conn.dialect.dispatch.handle_error):
        return None
    return conn.connection.driver_connection


def run(conn: sa.Connection, sql: str, params: Any) -> Any:
    """``sql`` with ``params`` (the dialect's parameter style), by the driver when unwatched
    (:func:`driver_of`); its cursor (or SQLAlchemy's result), iterating rows as tuples."""
    driver = driver_of(conn)
    if driver is None:
        return conn.exec_driver_sql(sql, params)
    try:
        return driver.execute(sql, params)
    except conn.dialect.loaded_dbapi.Error as exc:
        raise _as_sqlalchemy_error(conn, sql, params, exc) from exc


def run_many(conn: sa.Connection, sql: str, params: Sequence[Any]) -> None:
    """``sql`` once per parameter set, as :func:`run` (an executemany)."""
    driver = driver_of(conn)
    if driver is None:
        conn.exec_driver_sql(sql, list(params))
        return
    try:
        driver.executemany(sql, params)
    except conn.dialect.loaded_dbapi.Error as exc:
        raise _as_sqlalchemy_error(conn, sql, params, exc) from exc


def _as_sqlalchemy_error(conn: sa.Connection, sql: str, params: Any,
                         exc: Any) -> sa.exc.StatementError:
    """What SQLAlchemy raises for ``exc`` (``IntegrityError``, ``OperationalError``...),
    with the connection invalidated first when the driver lost it, as SQLAlchemy does."""
    dialect = conn.dialect
    lost = dialect.is_disconnect(exc, conn.connection.dbapi_connection, None)
    if lost:
        conn.invalidate(exc)
    error: sa.exc.StatementError = sa.exc.DBAPIError.instance(
        sql, params, exc, dialect.loaded_dbapi.Error, dialect=dialect,
        connection_invalidated=lost)
    return error


__all__ = ["driver_of", "run", "run_many"]
