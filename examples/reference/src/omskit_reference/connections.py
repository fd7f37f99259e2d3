"""The deployment's own one-statement writes and reads (the API key look-up, the
idempotency claim and answer) run without a transaction around them.

Through psycopg, a statement in a transaction costs three round trips (``BEGIN``, the
statement, ``COMMIT`` or ``ROLLBACK``); in autocommit, one. One statement is atomic by itself,
so the claim, the stored answer and the key look-up lose nothing. On SQLite (tests, a single
process) the ordinary transaction is kept: omskit takes the write lock at ``BEGIN``.

(Pooled PostgreSQL connections are pinged only after they sat idle by omskit itself,
decision 51: the deployment has nothing to add.)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa


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
