"""How an API process uses its PostgreSQL connections: a pooled connection is checked only
after it sat idle, and the deployment's own one-statement writes and reads (the API key
look-up, the idempotency claim and answer) run without a transaction around them.

**Pinging.** omskit's PostgreSQL engine pings every connection it checks out of the pool
(``pool_pre_ping``): a round trip before every piece of work, about a tenth of a POST's
time through HTTP, where a request checks out three or four connections. Under load a
connection goes back to the pool and out again within milliseconds: it was alive a moment
ago, so the ping almost never finds anything. The deployment pings a connection only when it
has been idle for :data:`PING_AFTER_IDLE_SECONDS` (a quiet spell, when a restart of the
server, a fail-over or a firewall dropping idle sessions is what breaks connections); a dead
one is then replaced before the request uses it, as with ``pool_pre_ping``.

What this gives up: when the database goes away while connections are busy or idle for less
than :data:`PING_AFTER_IDLE_SECONDS`, the request that next uses such a connection fails
(500) instead of being served on a fresh connection. It is one request per process, not one
per connection: SQLAlchemy, on the disconnect error, invalidates the whole pool, and every
connection opened before it is replaced at its next checkout. Requests in flight when the
database goes away fail with or without the ping.

**One-statement round trips.** Through psycopg, a statement in a transaction costs three
round trips (``BEGIN``, the statement, ``COMMIT`` or ``ROLLBACK``); in autocommit, one. One
statement is atomic by itself, so the claim, the stored answer and the key look-up lose
nothing. On SQLite (tests, a single process) the ordinary transaction is kept: omskit takes
the write lock at ``BEGIN``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

#: A pooled connection idle for at least this long is pinged before it is handed out.
PING_AFTER_IDLE_SECONDS = 10.0

_IDLE_SINCE = "omskit_reference_idle_since"


def ping_when_idle(engine: sa.Engine, idle_seconds: float = PING_AFTER_IDLE_SECONDS) -> None:
    """Ping a connection at checkout only when it was checked in ``idle_seconds`` ago or
    more (``0``: every connection that was used before, as ``pool_pre_ping`` does); a
    connection that fails the ping is replaced (SQLAlchemy retries the checkout)."""

    def checked_in(dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info[_IDLE_SINCE] = time.monotonic()

    def checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        # ``info`` is emptied when a connection is replaced: a new one is not pinged.
        since = record.info.get(_IDLE_SINCE)
        if since is None or time.monotonic() - since < idle_seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            raise sa.exc.DisconnectionError("a pooled connection failed its ping") from exc

    sa.event.listen(engine.pool, "checkin", checked_in)
    sa.event.listen(engine.pool, "checkout", checked_out)


@contextmanager
def one_statement(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A connection for one statement, committed when the block ends: in autocommit on
    PostgreSQL (one round trip), in a transaction elsewhere."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            yield conn.execution_options(isolation_level="AUTOCOMMIT")
        else:
            with conn.begin():
                yield conn
