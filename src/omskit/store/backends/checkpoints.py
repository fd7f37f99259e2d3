"""A SQLite file's write-ahead log checkpointed by a background thread (decision 53).

In WAL mode SQLite appends every committed page to ``<database>-wal``; a *checkpoint* copies
them back into the database file and syncs it to disk. By default the connection whose
commit takes the log past 1,000 pages runs that checkpoint inside its commit: one placement
in about twenty-five waited for a thousand page copies and two ``fsync`` calls. Here a
thread of the process does it instead, a few times a second, on a connection of its own, in
SQLite's ``PASSIVE`` mode (it never waits for, nor blocks, readers or writers; SQLite
releases the GIL while it works). The writers' own automatic checkpoint stays as a
backstop, at a higher threshold, for a log the thread could not keep short.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import weakref
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

logger = logging.getLogger("omskit.store")

#: The writers' own automatic checkpoint (pages), kept as a backstop: SQLite resets the log
#: to its start only after a checkpoint that a writer runs, so it is reached now and then.
BACKSTOP_PAGES = 10_000


class WalCheckpointer:
    """Checkpoints one database file's log every ``interval`` seconds while the log changes.

    Started by the engine's first connection and again by the first one after
    ``engine.dispose()``, which stops it and waits until its connection is closed; it also
    stops when the engine is garbage collected. A failure (the file removed, a disk error)
    is logged once and ends the thread: the writers' backstop checkpoint keeps the log
    bounded without it.
    """

    def __init__(self, database: str, interval: float) -> None:
        self._database = Path(database)
        self._wal = Path(f"{database}-wal")
        self._interval = interval
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """Whether the checkpointing thread is alive."""
        thread = self._thread
        return thread is not None and thread.is_alive()

    def attach(self, engine: sa.Engine) -> None:
        """Run while ``engine`` is in use: start with its connections, stop when it is
        disposed or collected. The engine's listeners hold this checkpointer, which holds
        nothing of the engine."""

        @event.listens_for(engine, "connect")
        def _started(_dbapi_connection: Any, _record: Any) -> None:
            self.start()

        @event.listens_for(engine, "engine_disposed")
        def _stopped(_engine: sa.Engine) -> None:
            # Waited for: once dispose() returns, no connection of this engine is open, so
            # the last one closed has checkpointed the log and removed it, and the database
            # file alone holds everything (a copy of it taken then is complete).
            self.stop(wait=True)

        weakref.finalize(engine, self.stop)

    def start(self) -> None:
        """Start the thread unless it runs (after a fork, the child starts its own)."""
        with self._lock:
            if self.running:
                return
            self._stop = threading.Event()
            self._thread = threading.Thread(
                target=_checkpoint_while, args=(self._database, self._wal, self._interval,
                                                self._stop),
                name=f"omskit-wal-checkpoint:{self._database}", daemon=True)
            self._thread.start()

    def stop(self, *, wait: bool = False) -> None:
        """Ask the thread to end, closing its connection (``wait``: and wait until it has;
        a checkpoint under way is finished first)."""
        with self._lock:
            self._stop.set()
            thread = self._thread
        if wait and thread is not None and thread is not threading.current_thread():
            thread.join()


def _checkpoint_while(database: Path, wal: Path, interval: float,
                      stop: threading.Event) -> None:
    """The thread: a ``PASSIVE`` checkpoint each ``interval`` in which the log changed.

    A module-level function holding nothing of the checkpointer or the engine, so that
    neither is kept alive by its thread.
    """
    connection: sqlite3.Connection | None = None
    seen: tuple[int, int] | None = None
    try:
        while not stop.wait(interval):
            try:
                stat = os.stat(wal)
            except FileNotFoundError:
                continue  # no log yet, or the last connection closed and removed it
            stamp = (stat.st_size, stat.st_mtime_ns)
            if stamp == seen:
                continue
            if connection is None:
                # mode=rw: a database file removed meanwhile is an error, not a new file.
                connection = sqlite3.connect(f"{database.resolve().as_uri()}?mode=rw",
                                             uri=True, isolation_level=None)
                connection.execute("PRAGMA busy_timeout=1000")
            # Taken before the checkpoint: pages committed while it runs count next time.
            seen = stamp
            connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    except (OSError, sqlite3.Error) as exc:
        logger.warning("omskit: the background WAL checkpoint of %s stopped (%s); writers "
                       "checkpoint the log themselves", database, exc)
    finally:
        if connection is not None:
            connection.close()


__all__ = ["BACKSTOP_PAGES", "WalCheckpointer"]
