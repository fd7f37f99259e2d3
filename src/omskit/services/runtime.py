"""What every service needs from its ``Oms``: transactions, hooks, registries, the clock."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal, TypeVar

import attrs
import cattrs
import sqlalchemy as sa

from omskit.domain.errors import ConcurrencyConflict
from omskit.domain.events import Event
from omskit.plugins import Hooks
from omskit.ports import Carrier, ChannelConnector, RoutingStrategy
from omskit.registries import Registries, Registry
from omskit.routing.engine import RoutingEngine
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

DispatchMode = Literal["inline", "deferred"]


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


def _conflict_of(exc: BaseException) -> str:
    """What a transient conflict was: PostgreSQL's SQLSTATE (``40P01`` deadlock, ``40001``
    serialization failure) or the error's class name."""
    orig = getattr(exc, "orig", None)
    state = getattr(orig, "sqlstate", None)
    return state if isinstance(state, str) else type(orig or exc).__name__


@attrs.define(kw_only=True)
class Runtime:
    """Shared, per-``Oms`` machinery handed to every service."""

    engine: sa.Engine
    tables: Tables
    converter: cattrs.Converter
    codec: EventCodec
    hooks: Hooks
    channels: Registry[ChannelConnector]
    strategies: Registry[RoutingStrategy]
    carriers: Registry[Carrier]
    #: The ``settings`` given to ``bootstrap``, validated by ``omskit_validate_settings``.
    settings: Mapping[str, Any]
    #: The routing engine (rules, prices, strategies) configured from ``settings``.
    router: RoutingEngine
    event_types: Registry[type[Event]]
    #: Every contribution, per kind (``omskit plugins`` shows them per plugin).
    registries: Registries
    clock: Callable[[], datetime]
    dispatch_mode: DispatchMode = "inline"
    connection: sa.Connection | None = None
    #: Event types the core's handlers react to (``omskit.services.handlers``): never
    #: stored as dispatched on write.
    handled_types: frozenset[str] = frozenset()
    #: Delivers a batch of pending events (``oms.outbox.dispatch_batch``), set once the
    #: outbox service exists.
    drain: Callable[[int], tuple[int, bool]] | None = None
    #: Tables plugins added through ``omskit_configure_metadata``.
    plugin_tables: tuple[sa.Table, ...] = ()
    _dispatching: threading.local = attrs.field(factory=threading.local)
    #: Parsed locations shared by this runtime's units of work (see ``LocationCache``).
    locations: LocationCache = attrs.field(factory=LocationCache)
    #: Statements built once for this runtime's tables (see ``Statements``).
    statements: Statements = attrs.field(init=False)

    @statements.default
    def _build_statements(self) -> Statements:
        return Statements(self.tables)

    def now(self) -> datetime:
        """The current time from the injected clock (timezone-aware)."""
        return self.clock()

    def drains_inline(self) -> bool:
        """Whether events are delivered right after each commit, in the caller's thread."""
        return self.connection is None and self.dispatch_mode == "inline"

    def settles(self, event: Event) -> bool:
        """Whether ``event`` is stored as already dispatched: inline, with no plugin
        observing events and no core handler for its type (nobody would receive it)."""
        return event.event_type not in self.handled_types

    def uow(self) -> UnitOfWork:
        """A new unit of work on this runtime's engine or joined connection."""
        settle = self.drains_inline() and not self.hooks.has_event_handlers()
        return UnitOfWork(self.engine, self.tables, self.converter, self.codec, self.hooks,
                          connection=self.connection,
                          settled=self.settles if settle else None,
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

    def dispatch(self, events: Sequence[Event]) -> None:
        """After a commit in inline mode, deliver pending events to their handlers.

        Delivery goes through the outbox in write order, so events left pending by an earlier
        failure go out before these. Nothing happens when every event in ``events`` was
        settled on write, in deferred mode, or in a host's transaction
        (``Oms.outbox.dispatch_pending()`` then delivers). A failure stops this round; the
        event stays pending (or is parked) and the next dispatch tries it again.
        """
        if not self.drains_inline() or self.drain is None or not events:
            return
        if not (self.hooks.has_event_handlers()
                or any(e.event_type in self.handled_types for e in events)):
            return
        if getattr(self._dispatching, "active", False):
            # A handler called back into oms: the outer loop delivers these events after the
            # batch it is in, so they keep their place in write order.
            return
        self._dispatching.active = True
        try:
            while True:
                delivered, failed = self.drain(500)
                if failed or not delivered:
                    break
        except Exception:
            # The operation has committed: its events are safe in the outbox, pending, and
            # dispatch_pending() retries them. Raising here would make callers retry work
            # that succeeded.
            logger.exception("omskit: dispatching events after commit failed; they stay "
                             "pending in the outbox")
        finally:
            self._dispatching.active = False
