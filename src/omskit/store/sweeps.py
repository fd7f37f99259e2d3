"""The sweep lock: one process at a time runs the periodic jobs.

On PostgreSQL a session advisory lock, held on a connection of its own for the sweep's
length and released by the server if that process dies. Elsewhere (SQLite) a lease row that
lapses after its time-to-live, so a crashed sweeper does not block the next for ever.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

import sqlalchemy as sa

from omskit.store.tables import Tables


def lock_key(tables: Tables, name: str) -> int:
    """The advisory lock key of sweep ``name`` for these tables (prefix and schema count,
    so two omskit instances in one database do not exclude each other)."""
    schema = tables.orders.schema or ""
    digest = hashlib.blake2b(f"omskit-sweep:{schema}:{tables.prefix}:{name}".encode(),
                             digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


@contextmanager
def sweep_lock(engine: sa.Engine, tables: Tables, name: str, *, holder: str,
               now: datetime, ttl: timedelta) -> Iterator[bool]:
    """Take the lock of sweep ``name`` if free: yields True to the one process that got it,
    False to others (which should skip this round)."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            key = lock_key(tables, name)
            got = bool(conn.execute(sa.select(sa.func.pg_try_advisory_lock(key))).scalar())
            try:
                yield got
            finally:
                if got:
                    conn.execute(sa.select(sa.func.pg_advisory_unlock(key)))
        return
    leases = tables.sweep_leases
    with engine.begin() as conn:
        taken = conn.execute(
            sa.update(leases).where(leases.c.name == name, leases.c.expires_at <= now)
            .values(holder=holder, acquired_at=now, expires_at=now + ttl)).rowcount == 1
        if not taken and conn.execute(sa.select(leases.c.name)
                                      .where(leases.c.name == name)).first() is None:
            conn.execute(sa.insert(leases).values(name=name, holder=holder, acquired_at=now,
                                                  expires_at=now + ttl))
            taken = True
    try:
        yield taken
    finally:
        if taken:
            with engine.begin() as conn:
                conn.execute(sa.delete(leases).where(leases.c.name == name,
                                                     leases.c.holder == holder))
