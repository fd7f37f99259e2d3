"""``oms.sweeps``: the periodic jobs a worker (or a host's scheduler) runs, one process at a
time: cart holds and order edits that lapsed, authorisations that expired, pickups not
collected by their deadline, the monitor, and customer messages due for a retry."""

from __future__ import annotations

import logging
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

_log = logging.getLogger(__name__)

#: How long a sweep's lease holds where leases stand in for advisory locks (SQLite): a
#: sweeper that died releases it after this.
LEASE_TTL = timedelta(minutes=10)


@attrs.frozen(kw_only=True)
class SweepJobFailure:
    """A sweep job that raised: the job, the error's type and message. The other jobs of
    the round still ran; the job runs again next round (every job is idempotent)."""

    job: str
    error: str
    message: str


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
    #: The jobs this round ran, in order (failed ones included).
    jobs: tuple[str, ...] = ()
    #: The jobs that raised, with their error; empty when every job finished.
    failed: tuple[SweepJobFailure, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether every job that ran finished (a skipped round is ok too)."""
        return not self.failed


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
            failed: list[SweepJobFailure] = []
            ran: list[str] = []
            for job, field, work in self._plan(at):
                if job not in wanted:
                    continue
                ran.append(job)
                # One job's failure (a provider down, a plugin's bug) must not starve the
                # jobs after it, the monitor above all: it is recorded and retried next round.
                try:
                    done[field] = work()
                except Exception as exc:
                    _log.exception("sweep job %r failed", job)
                    failed.append(SweepJobFailure(job=job, error=type(exc).__name__,
                                                  message=str(exc)[:500]))
        return SweepReport(ran=True, at=at, jobs=tuple(ran), failed=tuple(failed), **done)

    def _plan(self, at: datetime) -> list[tuple[str, str, Callable[[], Any]]]:
        """(job, report field, work) in the order a round runs them (``SWEEP_JOBS``)."""
        plan: list[tuple[str, str, Callable[[], Any]]] = [
            ("carts", "carts_expired", lambda: self._carts.expire(at)),
            ("edits", "edits_expired", lambda: self._edits.expire(at)),
            ("authorisations", "authorisations_renewed",
             lambda: self._renew_authorisations(at)),
            ("pickups", "pickups_expired", lambda: self._pickups.expire_uncollected(at)),
            ("monitor", "monitor", lambda: self._monitor.sweep(at)),
        ]
        if self._notifications is not None:
            notifications = self._notifications
            plan.append(("notifications", "notifications_retried",
                         lambda: notifications.retry_due(at)))
        return plan

    def _renew_authorisations(self, at: datetime) -> int:
        """Renew the expired authorisations of open orders that still had something left;
        a renewal that fails holds its order (``oms.payments.renew_expired``)."""
        with self._db.engine.connect() as conn:
            candidates = MonitorRepository(conn, self._db.tables).authorisations_expiring(
                at, KIND_LIMIT)
        renewed = 0
        first_error: Exception | None = None
        for order_id in candidates:
            ledgers = [x for x in self._payments.transactions(order_id)
                       if x.transaction.kind is PaymentTransactionKind.PROVIDER]
            expired = [x for x in ledgers if x.expired(at)]
            # A renewal a crash left unanswered is finished by renew_expired too; other
            # pending authorisations are not the sweep's to count or to finish.
            unanswered = [x for x in ledgers if x.renewal_unanswered]
            if not expired and not unanswered:
                continue
            # One order's renewal crashing must not leave the other orders' authorisations
            # lapsed: renew the rest, then fail the job with the first error.
            try:
                self._payments.renew_expired(order_id)
            except Exception as exc:
                _log.exception("renewing the authorisations of order %s failed", order_id)
                first_error = first_error or exc
                continue
            renewed += len(expired) + len(unanswered)
        if first_error is not None:
            raise first_error
        return renewed
