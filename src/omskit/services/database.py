"""Where a service's transactions run: units of work on the engine, or on the host's
connection when bound, and running an operation again when it meets a transient conflict."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

import attrs
import cattrs
import sqlalchemy as sa

from omskit.domain.errors import ConcurrencyConflict
from omskit.domain.events import Event
from omskit.plugins import Hooks
from omskit.serialization import EventCodec
from omskit.store.inventory import LocationCache
from omskit.store.statements import Statements
from omskit.store.tables import Tables
from omskit.store.uow import UnitOfWork

T = TypeVar("T")
logger = logging.getLogger("omskit")

#: PostgreSQL error codes that mean "run the transaction again": deadlock, serialization.
_RETRYABLE_PGCODES = frozenset({"40P01", "40001"})
#: How many times an operation is attempted when it meets a transient conflict.
MAX_ATTEMPTS = 8

#: Which events a new unit of work stores as already dispatched, asked once per unit of work
#: (``None``: every event is stored pending). See ``EventDispatcher.settled_on_write``.
SettlePolicy = Callable[[], Callable[[Event], bool] | None]


def _conflict_of(exc: BaseException) -> str:
    """What a transient conflict was: PostgreSQL's SQLSTATE (``40P01`` deadlock, ``40001``
    serialization failure) or the error's class name."""
    orig = getattr(exc, "orig", None)
    state = getattr(orig, "sqlstate", None)
    return state if isinstance(state, str) else type(orig or exc).__name__


def is_transient(exc: BaseException) -> bool:
    """Whether running the same transaction again may succeed."""
    if isinstance(exc, ConcurrencyConflict):
        return True
    if isinstance(exc, sa.exc.OperationalError | sa.exc.DBAPIError):
        orig = getattr(exc, "orig", None)
        if getattr(orig, "sqlstate", None) in _RETRYABLE_PGCODES:
            return True
        return "database is locked" in str(orig)
    return False


@attrs.define(kw_only=True)
class Database:
    """omskit's database as services use it: ``uow()`` opens a unit of work, ``retrying()``
    runs an operation again on transient conflicts. One per ``Oms``; ``oms.bind(conn)`` makes
    a copy with the host's ``connection``."""

    engine: sa.Engine
    tables: Tables
    converter: cattrs.Converter
    codec: EventCodec
    #: Called by the unit of work at commit (transition vetoes and observers).
    hooks: Hooks
    #: The dispatcher's rule for settling events on write (decision 6).
    settle_policy: SettlePolicy
    #: The host's connection when bound: writes run in savepoints of its transaction.
    connection: sa.Connection | None = None
    #: Parsed locations shared by this database's units of work (see ``LocationCache``).
    locations: LocationCache = attrs.field(factory=LocationCache)
    #: Statements built once for these tables (see ``Statements``).
    statements: Statements = attrs.field(init=False)

    @statements.default
    def _build_statements(self) -> Statements:
        return Statements(self.tables)

    @property
    def in_host_transaction(self) -> bool:
        """Whether work runs inside a host's transaction (nothing can be retried there)."""
        return self.connection is not None

    def uow(self) -> UnitOfWork:
        """A new unit of work on the engine or on the host's connection."""
        return UnitOfWork(self.engine, self.tables, self.converter, self.codec, self.hooks,
                          connection=self.connection, settled=self.settle_policy(),
                          locations=self.locations, statements=self.statements)

    def retrying(self, operation: Callable[[], T]) -> T:
        """Run ``operation`` (which opens its own unit of work), again on transient conflicts.

        When every attempt met one, the caller gets :class:`ConcurrencyConflict` (never the
        driver's deadlock or serialization error). Inside a host's transaction there is
        nothing to retry with: the error propagates.
        """
        for attempt in range(MAX_ATTEMPTS):
            try:
                return operation()
            except Exception as exc:
                if self.connection is not None or not is_transient(exc):
                    raise
                if attempt == MAX_ATTEMPTS - 1:
                    if isinstance(exc, ConcurrencyConflict):
                        raise
                    raise ConcurrencyConflict(
                        "database", "transaction",
                        f"gave up after {MAX_ATTEMPTS} attempts that met concurrent "
                        f"transactions ({type(getattr(exc, 'orig', exc)).__name__}); "
                        "retry") from exc
                # Logged (``omskit_conflict``: the SQLSTATE, or the error's class) so that
                # operators, and the concurrency tests, can count retries: a deadlock here
                # means a write path took its row locks outside the one global order.
                conflict = _conflict_of(exc)
                logger.info("omskit: attempt %d of %d met a concurrent transaction (%s); "
                            "retrying", attempt + 1, MAX_ATTEMPTS, conflict,
                            extra={"omskit_conflict": conflict})
                # Jitter, so transactions that collided do not retry in step and collide again.
                time.sleep(random.uniform(0.5, 1.5) * 0.002 * (2**attempt))
        raise AssertionError("unreachable")  # pragma: no cover
