"""``oms.sweeps``: the periodic jobs a worker (or a host's scheduler) runs, one process at a
time: cart holds and order edits that lapsed, authorisations that expired, pickups not
collected by their deadline, the monitor, and customer messages due for a retry."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs

from omskit.domain.commands.monitoring import SWEEP_JOBS, RunSweeps
from omskit.domain.errors import UnsupportedConnection
from omskit.domain.events import new_id
from omskit.domain.monitoring import MonitorSweep
from omskit.domain.payments import PaymentTransactionKind
from omskit.services.carts import CartService
from omskit.services.database import Database
from omskit.services.edits import OrderEditService
from omskit.services.monitor import KIND_LIMIT, MonitorService
from omskit.services.notifications import NotificationService
from omskit.services.payments import PaymentService
from omskit.services.pickups import PickupService
from omskit.store.monitoring import MonitorRepository
from omskit.store.sweeps import sweep_lock

#: How long a sweep's lease holds where leases stand in for advisory locks (SQLite): a
#: sweeper that died releases it after this.
LEASE_TTL = timedelta(minutes=10)


@attrs.frozen(kw_only=True)
class SweepReport:
    """What one sweep did: whether this process held the lock (``ran``), and per job what
    it did (holds and edits expired, authorisations renewed, uncollected pickups cancelled,
    the monitor's sweep)."""

    ran: bool
    at: datetime
    carts_expired: int = 0
    edits_expired: int = 0
    authorisations_renewed: int = 0
    pickups_expired: int = 0
    monitor: MonitorSweep | None = None
    #: Customer messages sent again (their retry was due).
    notifications_retried: int = 0
    jobs: tuple[str, ...] = ()


class SweepService:
    """Runs the periodic jobs under one lock (``run``); any number of workers may call it
    on any schedule: one runs each round, the others skip it."""

    def __init__(self, *, db: Database, clock: Callable[[], datetime], carts: CartService,
                 edits: OrderEditService, payments: PaymentService,
                 pickups: PickupService, monitor: MonitorService,
                 notifications: NotificationService | None = None) -> None:
        self._db = db
        self._clock = clock
        self._carts = carts
        self._edits = edits
        self._payments = payments
        self._pickups = pickups
        self._monitor = monitor
        self._notifications = notifications
        self._holder = f"{socket.gethostname()}:{os.getpid()}:{new_id()}"[:128]

    @property
    def jobs(self) -> tuple[str, ...]:
        """The job names, in the order a sweep runs them."""
        return SWEEP_JOBS

    def run(self, now: datetime | None = None, *,
            jobs: Sequence[str] | None = None) -> SweepReport:
        """Run ``jobs`` (default: all) if no other process is sweeping; a report with
        ``ran=False`` otherwise. Each job is idempotent, so a sweep cut short by a crash is
        finished by the next."""
        return self._run(RunSweeps(now=now, jobs=tuple(jobs) if jobs is not None else None))

    def _run(self, c: RunSweeps) -> SweepReport:
        if self._db.in_host_transaction:
            raise UnsupportedConnection(
                "oms.sweeps runs its jobs in transactions of its own (and calls payment "
                "providers): use the Oms that is not bound to a connection")
        at = c.now or self._clock()
        wanted = c.jobs or SWEEP_JOBS
        with sweep_lock(self._db.engine, self._db.tables, "sweep", holder=self._holder,
                        now=self._clock(), ttl=LEASE_TTL) as held:
            if not held:
                return SweepReport(ran=False, at=at)
            done: dict[str, Any] = {}
            if "carts" in wanted:
                done["carts_expired"] = self._carts.expire(at)
            if "edits" in wanted:
                done["edits_expired"] = self._edits.expire(at)
            if "authorisations" in wanted:
                done["authorisations_renewed"] = self._renew_authorisations(at)
            if "pickups" in wanted:
                done["pickups_expired"] = self._pickups.expire_uncollected(at)
            if "monitor" in wanted:
                done["monitor"] = self._monitor.sweep(at)
            if "notifications" in wanted and self._notifications is not None:
                done["notifications_retried"] = self._notifications.retry_due(at)
        return SweepReport(ran=True, at=at,
                           jobs=tuple(j for j in SWEEP_JOBS if j in wanted), **done)

    def _renew_authorisations(self, at: datetime) -> int:
        """Renew the expired authorisations of open orders that still had something left;
        a renewal that fails holds its order (``oms.payments.renew_expired``)."""
        with self._db.engine.connect() as conn:
            candidates = MonitorRepository(conn, self._db.tables).authorisations_expiring(
                at, KIND_LIMIT)
        renewed = 0
        for order_id in candidates:
            expired = [x for x in self._payments.transactions(order_id)
                       if x.transaction.kind is PaymentTransactionKind.PROVIDER
                       and x.expired(at)]
            if expired:
                self._payments.renew_expired(order_id)
                renewed += len(expired)
        return renewed
