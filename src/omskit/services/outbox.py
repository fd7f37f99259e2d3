"""Dispatching stored events to their handlers, and parked events for operators
(``oms.outbox``)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from omskit.domain.checks import check_count, check_text, refuse
from omskit.domain.errors import InvalidCommand, OutboxEventNotFound
from omskit.domain.events import Event
from omskit.domain.relays import RelayRun, RelayStatus
from omskit.ports import EventRelay
from omskit.registries import Registry
from omskit.services.database import Database
from omskit.services.dispatch import EventDispatcher
from omskit.services.relays import RelayWorker
from omskit.store.outbox import OutboxRecord
from omskit.store.uow import UnitOfWork

logger = logging.getLogger("omskit.outbox")

#: Most parked events one call of :meth:`OutboxService.parked` returns.
MAX_PAGE = 1000


#: The largest sequence number the outbox's 64-bit column holds.
MAX_SEQ = 2**63 - 1


def _check_seq(seq: object) -> int:
    # Bounded like the column: a larger number is a typed error on both databases, not
    # SQLite's OverflowError or PostgreSQL's NumericValueOutOfRange.
    if isinstance(seq, bool) or not isinstance(seq, int) or not 1 <= seq <= MAX_SEQ:
        raise InvalidCommand([f"seq: must be a whole number from 1 to {MAX_SEQ}, not "
                              f"{seq!r}"], subject="outbox event")
    return seq


#: Most events one dispatch call leases.
MAX_DISPATCH_BATCH = 10_000


class OutboxService:
    """Relays pending events to the core's handlers and plugins' ``omskit_handle_event``:
    those written in deferred mode, inside a host's transaction, or left pending because a
    handler failed. An event that fails ``max_attempts`` times is parked: later events flow
    (those of its order wait behind it) until an operator retries or skips it."""

    #: How long a dispatcher holds a claimed batch before others may take them over.
    lease = timedelta(seconds=60)
    #: Failed deliveries after which an event is parked.
    max_attempts = 5

    def __init__(self, *, db: Database, dispatcher: EventDispatcher,
                 clock: Callable[[], datetime], deliver: Callable[[Event], None],
                 relays: Registry[EventRelay] | None = None) -> None:
        self._db = db
        self._dispatcher = dispatcher
        self._clock = clock
        self._deliver = deliver
        self._relays: Registry[EventRelay] = relays if relays is not None else Registry(
            "event relay")
        # The relay worker reads the lease and attempts from here, so a host that tunes
        # them on oms.outbox tunes relays too.
        self._relay_worker = RelayWorker(db=db, relays=self._relays, clock=clock,
                                         lease=lambda: self.lease,
                                         max_attempts=lambda: self.max_attempts)

    def dispatch_pending(self, limit: int = 500) -> int:
        """Deliver up to ``limit`` pending events in order; returns how many were delivered.

        See :meth:`dispatch_batch`.
        """
        return self.dispatch_batch(limit)[0]

    def dispatch_batch(self, limit: int = 500) -> tuple[int, bool]:
        """Deliver up to ``limit`` pending events in order: (delivered, whether one failed).

        Three short steps: lease a batch (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so any
        number of dispatchers can share the outbox), deliver it with no transaction open (a
        handler may call back into ``oms``), then record the result. A failing event is
        logged with its traceback and its attempts and error are recorded; the later events
        of its order are not delivered before it (they go back to the outbox), while other
        orders' events go on. After ``max_attempts`` failures the event is parked. A
        dispatcher that dies mid-batch leaves a lease that expires after ``lease`` and the
        events go out again: delivery is at least once.
        """
        problems: list[str] = []
        check_count(limit, "limit", problems, minimum=1, maximum=MAX_DISPATCH_BATCH)
        refuse(problems, "dispatch")
        now = self._clock()
        with self._db.uow() as uow:
            records = uow.outbox.claim_pending(limit, now, now + self.lease)
            uow.commit()
        delivered: list[int] = []
        waiting: list[int] = []
        failures: list[tuple[OutboxRecord, str, bool]] = []
        stalled: set[str] = set()  # orders whose earlier event failed in this batch
        for record in records:
            order = record.event.order_id
            if order is not None and order in stalled:
                waiting.append(record.seq)
                continue
            try:
                self._deliver(record.event)
            except Exception as exc:
                park = record.attempts + 1 >= self.max_attempts
                logger.error(
                    "outbox event %s (%s, order %s) failed, attempt %d of %d%s",
                    record.seq, record.event.event_type, order, record.attempts + 1,
                    self.max_attempts, ": parked" if park else "", exc_info=True)
                failures.append((record, f"{type(exc).__name__}: {exc}", park))
                if order is not None:
                    stalled.add(order)
                continue
            delivered.append(record.seq)
        if records:
            with self._db.uow() as uow:
                done = self._clock()
                uow.outbox.mark_dispatched(delivered, done)
                for record, error, park in failures:
                    uow.outbox.record_failure(record.seq, error,
                                              park_at=done if park else None)
                uow.outbox.release_claims(waiting)
                uow.commit()
        return len(delivered), bool(failures)

    # -- relays to brokers ----------------------------------------------------------------

    def relay(self, name: str, *, limit: int = 100) -> RelayRun:
        """Publish one batch of up to ``limit`` events through the event relay ``name``
        (contributed by a plugin, ``omskit_register_event_relays``) and record what its
        broker confirmed.

        Each relay has its own record of delivered events, independent of the in-process
        dispatch (``dispatch_pending``) and of other relays, so any number of relays and of
        worker processes per relay run at once: a relay's claims are taken one worker at a
        time (a row lock on PostgreSQL, the write lock on SQLite) and leased for ``lease``.
        Every event of the outbox is relayed, in write order per order. A broker that is
        down fails the batch (``RelayRun.error``, kept on the relay) and marks nothing; a
        message the broker does not confirm is published again later, and parked for this
        relay after ``max_attempts``. Call it in a loop in a worker (``omskit outbox relay
        NAME --loop``); it returns ``claimed == 0`` when nothing waits.
        :class:`UnknownRelay` for a name no plugin contributed.
        """
        return self._relay_worker.run(name, limit)

    def relay_status(self, name: str) -> RelayStatus:
        """Where relay ``name`` stands: events waiting for it, parked for it, and its last
        failure."""
        return self._relay_worker.status(name)

    def relays(self) -> list[str]:
        """Codes of every installed event relay."""
        return list(self._relays)

    def pending_count(self) -> int:
        """How many events wait for dispatch (parked ones not counted)."""
        with self._db.uow() as uow:
            return uow.outbox.pending_count()

    def parked_count(self) -> int:
        """How many events are parked, waiting for an operator."""
        with self._db.uow() as uow:
            return uow.outbox.parked_count()

    # -- operators --------------------------------------------------------------------------

    def parked(self, *, limit: int = 100, after: int | None = None) -> list[OutboxRecord]:
        """Parked events, oldest first, each with its attempts and last error; page with
        ``after`` (the last ``seq`` seen)."""
        problems: list[str] = []
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
            problems.append(f"limit: must be a whole number from 1 to {MAX_PAGE}, "
                            f"not {limit!r}")
        if after is not None and (isinstance(after, bool) or not isinstance(after, int)):
            problems.append(f"after: must be a whole number, not {after!r}")
        if problems:
            raise InvalidCommand(problems, subject="parked events")
        with self._db.uow() as uow:
            return uow.outbox.parked(limit, after)

    def retry(self, seq: int) -> OutboxRecord:
        """Offer a parked event again (attempts from zero), and in inline mode deliver it
        now. Returns the event as it stands afterwards: delivered, pending, or parked
        again if it failed every attempt. :class:`OutboxEventNotFound` unless parked."""
        seq = _check_seq(seq)
        record = self._settle_parked(seq, lambda uow: uow.outbox.unpark(seq))
        logger.info("outbox event %s (%s) retried by an operator", seq,
                    record.event.event_type)
        if self._dispatcher.drains_inline():
            self._dispatcher.dispatch([record.event])
            with self._db.uow() as uow:
                found = uow.outbox.get(seq)
                assert found is not None
                return found
        return record

    def skip(self, seq: int, *, reason: str) -> OutboxRecord:
        """Give up on a parked event: it is marked dispatched without being delivered (its
        ``parked_at`` and error stay, with ``reason``), and the later events of its order
        flow again. :class:`OutboxEventNotFound` unless parked."""
        seq = _check_seq(seq)
        problems: list[str] = []
        check_text(reason, "reason", problems)
        if isinstance(reason, str) and not reason.strip():
            problems.append("reason: say why the event is skipped")
        if problems:
            raise InvalidCommand(problems, subject="skip")

        record = self._settle_parked(
            seq, lambda uow: uow.outbox.skip(seq, self._clock(), reason))
        logger.warning("outbox event %s (%s) skipped by an operator: %s", seq,
                       record.event.event_type, reason)
        # The order's later events were waiting behind this one: in inline mode, with a
        # handler here to receive them, they go now.
        self._dispatcher.dispatch([record.event])
        return record

    def _settle_parked(self, seq: int,
                       change: Callable[[UnitOfWork], None]) -> OutboxRecord:
        """Apply ``change`` to the parked event ``seq`` under its row lock and return the
        event as it then stands; :class:`OutboxEventNotFound` unless it is parked."""

        def attempt() -> OutboxRecord:
            with self._db.uow() as uow:
                found = uow.outbox.get(seq, for_update=True)
                if found is None or not found.parked:
                    raise OutboxEventNotFound(str(seq))
                change(uow)
                uow.commit()
                after = uow.outbox.get(seq)
                assert after is not None
                return after

        return self._db.retrying(attempt)
