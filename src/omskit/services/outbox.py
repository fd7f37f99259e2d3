"""Dispatching stored events to ``omskit_handle_event`` (``oms.outbox``)."""

from __future__ import annotations

from datetime import timedelta

from omskit.domain.checks import check_count, refuse
from omskit.services.runtime import Runtime

#: Most events one dispatch call leases.
MAX_DISPATCH_BATCH = 10_000


class OutboxService:
    """Relays pending events: those written in deferred mode, inside a host's transaction,
    or left pending because a handler failed."""

    #: How long a dispatcher holds a claimed batch before others may take it over.
    lease = timedelta(seconds=60)

    def __init__(self, rt: Runtime) -> None:
        self._rt = rt

    def dispatch_pending(self, limit: int = 500) -> int:
        """Deliver up to ``limit`` pending events in order; returns how many were delivered.

        See :meth:`dispatch_batch`.
        """
        return self.dispatch_batch(limit)[0]

    def dispatch_batch(self, limit: int = 500) -> tuple[int, bool]:
        """Deliver up to ``limit`` pending events in order: (delivered, whether one failed).

        Three short steps: lease a batch (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so any
        number of dispatchers can share the outbox), deliver it with no transaction open (a
        handler may call back into ``oms``), then record the result. A failing handler stops
        the batch at its event, whose attempts and error are recorded; it and the rest of the
        batch are released for the next call. A dispatcher that dies mid-batch leaves a lease
        that expires after ``lease`` and the events go out again: delivery is at least once.
        """
        problems: list[str] = []
        check_count(limit, "limit", problems, minimum=1, maximum=MAX_DISPATCH_BATCH)
        refuse(problems, "dispatch")
        rt = self._rt
        assert rt.oms is not None
        now = rt.now()
        with rt.uow() as uow:
            records = uow.outbox.claim_pending(limit, now, now + self.lease)
            uow.commit()
        delivered: list[int] = []
        failure: tuple[int, str] | None = None
        for record in records:
            try:
                rt.hooks.handle_event(record.event, rt.oms)
            except Exception as exc:
                failure = (record.seq, f"{type(exc).__name__}: {exc}")
                break
            delivered.append(record.seq)
        if records:
            with rt.uow() as uow:
                uow.outbox.mark_dispatched(delivered, rt.now())
                if failure is not None:
                    uow.outbox.record_failure(*failure)
                uow.outbox.release_claims([r.seq for r in records[len(delivered):]])
                uow.commit()
        return len(delivered), failure is not None

    def pending_count(self) -> int:
        """How many events wait for dispatch."""
        with self._rt.uow() as uow:
            return uow.outbox.pending_count()
