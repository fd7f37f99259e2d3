"""The unit of work: one transaction, its repositories, and its events."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from types import TracebackType
from typing import TYPE_CHECKING

import cattrs
import sqlalchemy as sa

from omskit.domain.events import Event, FulfillmentOrderStatusChanged, OrderStatusChanged
from omskit.serialization import EventCodec
from omskit.store.backends import backend_for
from omskit.store.inventory import InventoryRepository, LocationCache
from omskit.store.orders import OrderRepository
from omskit.store.outbox import OutboxRepository
from omskit.store.pending import PendingRows
from omskit.store.routing import RoutingRepository
from omskit.store.statements import Statements
from omskit.store.tables import Tables

if TYPE_CHECKING:
    from omskit.plugins import Hooks


class UnitOfWork:
    """A transaction: rolls back unless :meth:`commit` is called.

    On its own connection it owns the transaction. Given a host's connection it runs inside
    a savepoint of the host's transaction, and the host's commit makes the change durable
    (its events are then dispatched by ``Oms.outbox.dispatch_pending()``).
    """

    def __init__(self, engine: sa.Engine, tables: Tables, converter: cattrs.Converter,
                 codec: EventCodec, hooks: Hooks,
                 connection: sa.Connection | None = None,
                 settled: Callable[[Event], bool] | None = None,
                 locations: LocationCache | None = None,
                 statements: Statements | None = None) -> None:
        self._engine = engine
        self._statements = statements or Statements(tables)
        self._location_cache = locations
        self._settled = settled
        self._tables = tables
        self._converter = converter
        self._codec = codec
        self._hooks = hooks
        self._host_connection = connection
        self._events: list[Event] = []
        #: Events written by the last successful commit.
        self.committed: list[Event] = []

    def __enter__(self) -> UnitOfWork:
        if self._host_connection is not None:
            self.connection = self._host_connection
            self._tx: sa.Transaction = self.connection.begin_nested()
        else:
            self.connection = self._engine.connect()
            self._tx = self.connection.begin()
        #: What this database does its own way, chosen once per transaction.
        self.backend = backend_for(self.connection.dialect)
        #: New rows of every repository, inserted table by table at flush.
        self.pending = PendingRows(self.connection, self._statements, self.backend)
        self.orders = OrderRepository(self.connection, self._tables, self._converter,
                                      self._statements, self.pending, self.backend)
        self.inventory = InventoryRepository(self.connection, self._tables, self._converter,
                                             self._location_cache, self._statements,
                                             self.pending, self.backend)
        self.outbox = OutboxRepository(self.connection, self._tables, self._codec,
                                       self.pending)
        self.routing = RoutingRepository(self.connection, self._tables, self._converter,
                                         self.pending, self.backend)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if self._tx.is_active:
                self._tx.rollback()
        finally:
            if self._host_connection is None:
                self.connection.close()

    def has_pending_writes(self) -> bool:
        """Whether events or ledger rows wait for commit (work a caller must not lose).

        A routing decision alone is not: routing that sourced nothing new is rolled back.
        """
        return bool(self._events) or self.pending.has(self._tables.inventory_ledger)

    def placed_for_external(self, channel: str, external_id: str, *,
                            locking: Iterable[str] = ()) -> tuple[str, str | None] | None:
        """``(id, command hash)`` of the order placed as ``(channel, external_id)``, if any
        (``OrderRepository.placed_for_external``), and the stock rows of the SKUs in
        ``locking`` locked as ``InventoryRepository.lock_stock`` locks them (no carts): what
        a placement reads first, in one round trip where the backend can (PostgreSQL).
        The rows are locked whether or not the order exists (a replay is rare, and rolls
        back at once)."""
        skus = self.inventory.unlocked(locking)
        if not skus:
            return self.orders.placed_for_external(channel, external_id)
        self.pending.flush()
        placed, rows = self.backend.placed_and_locked(self.connection, self._statements,
                                                      channel, external_id, skus)
        self.inventory.hold_locked(skus, rows)
        return placed

    def flush(self) -> None:
        """Insert the rows repositories are holding (before reading their tables directly)."""
        self.pending.flush()

    def emit(self, event: Event) -> None:
        """Add an event not appended by an aggregate (stock movements, locations)."""
        self._events.append(event)

    def commit(self) -> list[Event]:
        """Check transitions with plugins, write events to the outbox, commit.

        Returns the events written, for dispatch after commit.
        """
        events: list[Event] = []
        check = self._hooks.has_transition_hooks()
        for order in self.orders.seen.values():
            for event in order.collect_events():
                if check and isinstance(event, OrderStatusChanged):
                    self._hooks.check_transition("order", order, None, event.from_status,
                                                 event.to_status)
                elif check and isinstance(event, FulfillmentOrderStatusChanged):
                    self._hooks.check_transition(
                        "fulfillment_order", order,
                        order.fulfillment_order(event.fulfillment_order_id),
                        event.from_status, event.to_status)
                events.append(event)
        events.extend(self._events)
        self._events = []
        # Events nobody will handle are stored as already dispatched: the outbox stays a
        # complete history without a second write per transaction.
        self.outbox.append(events, settled=self._settled)
        self.pending.flush()
        self._tx.commit()
        self.committed = events
        return events
