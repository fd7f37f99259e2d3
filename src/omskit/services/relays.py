"""Relaying outbox events to brokers through event relay plugins (``oms.outbox.relay``)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from omskit.domain.checks import check_code, check_count, refuse
from omskit.domain.relays import RelayMessage, RelayRun, RelayStatus
from omskit.ports import EventRelay
from omskit.registries import Registry
from omskit.services.database import Database
from omskit.store.relays import RelayRepository
from omskit.store.uow import UnitOfWork

logger = logging.getLogger("omskit.relay")

#: Most events one relay batch claims.
MAX_RELAY_BATCH = 10_000


class RelayWorker:
    """One batch of one relay: claim, publish outside any transaction, record.

    The core keeps every invariant; the relay plugin only publishes and says which messages
    its broker confirmed. Delivery is at least once: a worker that dies between publish and
    record leaves a lease that expires, and the events are published again with the same
    message id (the event id), which the broker or its consumers de-duplicate.
    """

    def __init__(self, *, db: Database, relays: Registry[EventRelay],
                 clock: Callable[[], datetime], lease: Callable[[], timedelta],
                 max_attempts: Callable[[], int]) -> None:
        self._db = db
        self._relays = relays
        self._clock = clock
        self._lease = lease
        self._max_attempts = max_attempts

    def _repository(self, uow: UnitOfWork) -> RelayRepository:
        return RelayRepository(uow.connection, self._db.tables)

    def run(self, name: str, limit: int) -> RelayRun:
        """Relay one batch of up to ``limit`` events through relay ``name``."""
        problems: list[str] = []
        check_code(name, "name", problems)
        check_count(limit, "limit", problems, minimum=1, maximum=MAX_RELAY_BATCH)
        refuse(problems, "relay")
        relay = self._relays.get(name)  # UnknownRelay before anything is claimed
        now = self._clock()

        def claim() -> list[tuple[RelayMessage, int]]:
            with self._db.uow() as uow:
                repo = self._repository(uow)
                repo.lock(name)
                found = repo.claim(name, limit, now, now + self._lease())
                uow.commit()
                return found

        claimed = self._db.retrying(claim)
        if not claimed:
            return RelayRun(relay=name, claimed=0, delivered=0)
        messages = [m for m, _ in claimed]
        try:
            confirmed = set(relay.publish(messages))
        except Exception as exc:
            # Broker down (or the plugin failed): nothing is delivered, the claims go back
            # and the relay remembers the failure; the next batch publishes them again.
            error = f"{type(exc).__name__}: {exc}"
            logger.error("relay %s: batch of %d events failed: %s", name, len(messages),
                         error, exc_info=True)
            with self._db.uow() as uow:
                repo = self._repository(uow)
                repo.release(name, [m.seq for m in messages])
                repo.record_batch_failure(name, error, self._clock())
                uow.commit()
            return RelayRun(relay=name, claimed=len(messages), delivered=0, error=error)
        delivered: list[int] = []
        unconfirmed: list[tuple[RelayMessage, int]] = []
        held_back: list[int] = []
        stalled: set[str] = set()  # orders whose earlier event was not confirmed
        for message, attempts in claimed:
            order = message.order_id
            if order is not None and order in stalled:
                # Confirmed or not, an order's later event counts only after its earlier
                # one: it is published again behind it (the broker drops the duplicate).
                held_back.append(message.seq)
            elif message.message_id in confirmed:
                delivered.append(message.seq)
            else:
                unconfirmed.append((message, attempts))
                if order is not None:
                    stalled.add(order)
        parked = 0
        with self._db.uow() as uow:
            repo = self._repository(uow)
            done = self._clock()
            repo.mark_delivered(name, delivered, done)
            for message, attempts in unconfirmed:
                park = attempts + 1 >= self._max_attempts()
                parked += park
                logger.error("relay %s: event %s (%s, order %s) not confirmed, attempt %d "
                             "of %d%s", name, message.seq, message.event_type,
                             message.order_id, attempts + 1, self._max_attempts(),
                             ": parked" if park else "")
                repo.record_unconfirmed(name, message.seq, "not confirmed by the broker",
                                        park_at=done if park else None)
            repo.release(name, held_back)
            uow.commit()
        return RelayRun(relay=name, claimed=len(messages), delivered=len(delivered),
                        unconfirmed=len(unconfirmed), held_back=len(held_back),
                        parked=parked)

    def _known(self, name: str) -> None:
        problems: list[str] = []
        check_code(name, "name", problems)
        refuse(problems, "relay")
        self._relays.get(name)  # UnknownRelay for a code no plugin contributed

    def status(self, name: str) -> RelayStatus:
        """Where relay ``name`` stands (pending, parked, last failure)."""
        self._known(name)
        with self._db.uow() as uow:
            return self._repository(uow).status(name)

    def delivered(self, name: str) -> list[int]:
        """Seqs of the events relay ``name``'s broker confirmed, in outbox order."""
        self._known(name)
        with self._db.uow() as uow:
            return self._repository(uow).delivered(name)

