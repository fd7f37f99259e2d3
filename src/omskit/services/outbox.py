"""Dispatching stored events to ``omskit_handle_event`` (``oms.outbox``)."""

from __future__ import annotations

from omskit.services.runtime import Runtime


class OutboxService:
    """Relays pending events: those written in deferred mode, inside a host's transaction,
    or left pending because a handler failed."""

    def __init__(self, rt: Runtime) -> None:
        self._rt = rt

    def dispatch_pending(self, limit: int = 500) -> int:
        """Deliver up to ``limit`` pending events in order; returns how many were delivered.

        Each batch is claimed with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL so several
        dispatchers can run at once. A failing handler stops the batch at that event, whose
        attempt count and error are recorded; it is retried on the next call.
        """
        rt = self._rt
        assert rt.oms is not None
        with rt.uow() as uow:
            records = uow.outbox.claim_pending(limit)
            delivered: list[int] = []
            for record in records:
                try:
                    rt.hooks.handle_event(record.event, rt.oms)
                except Exception as exc:
                    uow.outbox.record_failure(record.seq, record.event.event_id,
                                              f"{type(exc).__name__}: {exc}")
                    break
                delivered.append(record.seq)
            uow.outbox.mark_dispatched(delivered, rt.now())
            uow.commit()
        return len(delivered)

    def pending_count(self) -> int:
        """How many events wait for dispatch."""
        with self._rt.uow() as uow:
            return uow.outbox.pending_count()
