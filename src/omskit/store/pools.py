"""Connection pools omskit's engines use where SQLAlchemy's own do not fit."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy.pool import ConnectionPoolEntry, StaticPool


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
