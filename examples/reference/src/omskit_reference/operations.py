"""The operations API: the exceptions queue (``oms.monitor``), the periodic sweep, and the
parked events an operator retries or skips."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs
from litestar import Controller, Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody
from omskit import ExceptionKind, OrderException

from omskit_reference.access import require, require_write
from omskit_reference.api import Dep, IdempotencyKey, Req
from omskit_reference.bodies import Reason
from omskit_reference.deployment import reply
from omskit_reference.keys import Scope
from omskit_reference.problems import ERRORS


@attrs.frozen(kw_only=True)
class SweepBody:
    """The jobs to run (all when empty): ``carts``, ``edits``, ``authorisations``,
    ``pickups``, ``monitor``, ``notifications``."""

    jobs: list[str] = attrs.field(factory=list)


@attrs.frozen(kw_only=True)
class SweepAnswer:
    """What a sweep did; ``ran`` is false when another process was sweeping."""

    ran: bool
    jobs: list[str]
    carts_expired: int
    edits_expired: int
    authorisations_renewed: int
    pickups_expired: int
    exceptions_raised: list[OrderException]
    exceptions_cleared: list[str]


@attrs.frozen(kw_only=True)
class ParkedEvent:
    """An event dispatch gave up on, waiting for an operator."""

    seq: int
    event_type: str
    order_id: str | None
    attempts: int
    parked_at: datetime | None
    last_error: str | None


@attrs.frozen(kw_only=True)
class OutboxOutcome:
    """A parked event after an operator's action: ``delivered``, ``pending``,
    ``parked again`` or ``skipped``."""

    seq: int
    event_type: str
    outcome: str


def _operations(request: Req) -> None:
    if not request.user.sees_everything:
        require(request.user, Scope.OPERATIONS)


class ExceptionController(Controller):
    """Orders an operator must look at (read-only keys may list them)."""

    path = "/exceptions"
    tags = ["operations"]

    @get(sync_to_thread=True, responses=ERRORS)
    def list_exceptions(self, request: Req, deployment: Dep,
                        kind: FromQuery[list[ExceptionKind] | None] = None,
                        order: FromQuery[str | None] = None) -> list[OrderException]:
        """Late, stuck, long backordered and held orders, authorisations about to expire,
        parked events; oldest breach first."""
        _operations(request)
        return deployment.oms.monitor.exceptions(kinds=kind or None, order_id=order)


class SweepController(Controller):
    """The periodic jobs, run on demand (a worker runs them on a schedule)."""

    path = "/sweeps"
    tags = ["operations"]

    @post(sync_to_thread=True, responses=ERRORS, status_code=200)
    def sweep(self, request: Req, deployment: Dep, data: JSONBody[SweepBody],
              idempotency_key: IdempotencyKey) -> Response[SweepAnswer]:
        """Run the jobs now, unless another process is sweeping."""
        require_write(request.user, Scope.OPERATIONS)

        def work() -> Any:
            report = deployment.oms.sweeps.run(jobs=data.jobs or None)
            monitor = report.monitor
            return reply(SweepAnswer(
                ran=report.ran, jobs=list(report.jobs), carts_expired=report.carts_expired,
                edits_expired=report.edits_expired,
                authorisations_renewed=report.authorisations_renewed,
                pickups_expired=report.pickups_expired,
                exceptions_raised=list(monitor.raised) if monitor else [],
                exceptions_cleared=list(monitor.cleared) if monitor else []))
        return deployment.write(request, data, work)


class OutboxController(Controller):
    """Parked events: list, retry, skip."""

    path = "/outbox"
    tags = ["operations"]

    @get("/parked", sync_to_thread=True, responses=ERRORS)
    def parked(self, request: Req, deployment: Dep) -> list[ParkedEvent]:
        """Parked events, oldest first."""
        _operations(request)
        return [ParkedEvent(seq=r.seq, event_type=r.event.event_type,
                            order_id=r.event.order_id, attempts=r.attempts,
                            parked_at=r.parked_at, last_error=r.last_error)
                for r in deployment.oms.outbox.parked(limit=500)]

    @post("/{seq:int}/retry", sync_to_thread=True, responses=ERRORS, status_code=200)
    def retry(self, request: Req, deployment: Dep, seq: FromPath[int],
              idempotency_key: IdempotencyKey) -> Response[OutboxOutcome]:
        """Offer a parked event again."""
        require_write(request.user, Scope.OPERATIONS)

        def work() -> Any:
            record = deployment.oms.outbox.retry(seq)
            outcome = ("delivered" if record.dispatched_at else
                       "parked again" if record.parked else "pending")
            return reply(OutboxOutcome(seq=seq, event_type=record.event.event_type,
                                       outcome=outcome))
        return deployment.write(request, None, work)

    @post("/{seq:int}/skip", sync_to_thread=True, responses=ERRORS, status_code=200)
    def skip(self, request: Req, deployment: Dep, seq: FromPath[int], data: JSONBody[Reason],
             idempotency_key: IdempotencyKey) -> Response[OutboxOutcome]:
        """Give up on a parked event (it is marked dispatched, never delivered)."""
        require_write(request.user, Scope.OPERATIONS)

        def work() -> Any:
            record = deployment.oms.outbox.skip(seq, reason=data.reason or "skipped")
            return reply(OutboxOutcome(seq=seq, event_type=record.event.event_type,
                                       outcome="skipped"))
        return deployment.write(request, data, work)


CONTROLLERS = [ExceptionController, SweepController, OutboxController]
