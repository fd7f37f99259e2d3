"""Engines that omskit creates itself (when the host passes a URL rather than an Engine)."""

from __future__ import annotations

import json
import threading
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool

#: The embedded default: a SQLite file in the working directory.
DEFAULT_URL = "sqlite:///omskit.db"


#: orjson leaves these to ``json_dumps``'s fallback, so a value the standard library would
#: refuse (a datetime in metadata) is still refused rather than silently stringified.
_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def json_dumps(value: Any) -> str:
    """Serialise a JSON column's value: orjson, several times faster than the standard
    library on the documents every placement writes (order parts, events, explanations);
    anything orjson will not take (an integer beyond 64 bits, a non-string key) goes to
    ``json.dumps``, so what is accepted and how it reads back do not change."""
    try:
        return orjson.dumps(value, option=_ORJSON_OPTIONS).decode()
    except TypeError:
        return json.dumps(value)


def normalise_url(url: str | sa.URL) -> sa.URL:
    """Parse ``url``; a bare ``postgresql://`` URL is given the psycopg 3 driver."""
    parsed = sa.make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


class SerialisedStaticPool(StaticPool):
    """The one shared connection of an in-memory SQLite database, lent to one thread at a
    time.

    Every unit of work of every thread gets the same connection: lent to several threads at
    once, their transactions interleave on it (a commit by one commits another's half-done
    writes, a rollback undoes orders ``place()`` had returned). A thread that asks for it
    while another holds it waits until it is given back, as writers queue on a file
    database. The holder is a thread, not a count: SQLAlchemy gives a shared connection
    back once however many times one thread took it, so a thread that already holds it gets
    it again at once, and it is free again when it is given back.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._free = threading.Condition()
        self._holder: int | None = None

    def _do_get(self) -> ConnectionPoolEntry:
        me = threading.get_ident()
        with self._free:
            while self._holder not in (None, me):
                self._free.wait()
            self._holder = me
        try:
            return super()._do_get()
        except BaseException:
            self._give_back()
            raise

    def _do_return_conn(self, record: ConnectionPoolEntry) -> None:
        try:
            super()._do_return_conn(record)
        finally:
            self._give_back()

    def _give_back(self) -> None:
        with self._free:
            self._holder = None
            self._free.notify()


def create_engine(url: str | sa.URL, **kwargs: Any) -> sa.Engine:
    """Create an engine tuned for omskit.

    SQLite gets WAL journaling, enforced foreign keys, a busy timeout and ``BEGIN IMMEDIATE``
    transactions: a transaction takes the write lock when it starts, so two writers queue
    instead of failing when one tries to upgrade a read lock. An in-memory database uses one
    shared connection so every unit of work sees the same data, and that connection is lent
    to one thread at a time (:class:`SerialisedStaticPool`).
    """
    parsed = normalise_url(url)
    kwargs.setdefault("json_serializer", json_dumps)
    if parsed.get_backend_name() != "sqlite":
        kwargs.setdefault("pool_pre_ping", True)
        return sa.create_engine(parsed, **kwargs)
    memory = parsed.database in (None, "", ":memory:")
    if memory:
        kwargs.setdefault("poolclass", SerialisedStaticPool)
        kwargs.setdefault("connect_args", {"check_same_thread": False})
    engine = sa.create_engine(parsed, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from pysqlite so that BEGIN is ours (see below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
