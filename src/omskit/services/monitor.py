"""``oms.monitor``: the exceptions an operator must see, and the sweep that raises each breach
once as an event and clears it when it ends."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from datetime import datetime, timedelta
from typing import Any

from omskit.domain.commands.monitoring import SweepExceptions
from omskit.domain.errors import InvalidSettings
from omskit.domain.lifecycle import OrderStatus
from omskit.domain.monitoring import (
    ExceptionCleared,
    ExceptionKind,
    ExceptionRaised,
    MonitorSettings,
    MonitorSweep,
    OrderException,
    parse_monitor_settings,
)
from omskit.domain.payments import PaymentTransactionKind
from omskit.services.database import Database
from omskit.services.dispatch import EventDispatcher
from omskit.services.payments import PaymentService
from omskit.store.monitoring import MonitorRepository, day_start

#: How many breaches of one kind a listing or a sweep reads at most. A kind that reaches it
#: is not cleared by that sweep (the breaches beyond it were not seen, not ended).
KIND_LIMIT = 10_000


class MonitorService:
    """Order monitoring: late, stuck, long backordered and held orders, authorisations about
    to expire, and parked outbox events.

    :meth:`exceptions` computes them now from the store (nothing is written); :meth:`sweep`
    records each breach once, emitting ``monitor.exception_raised`` the first time it is
    seen and ``monitor.exception_cleared`` when it ends. Both are safe from any number of
    processes: a breach's key is recorded once whoever sees it first.
    """

    def __init__(self, *, db: Database, dispatcher: EventDispatcher,
                 clock: Callable[[], datetime], settings: Mapping[str, Any],
                 payments: PaymentService) -> None:
        self._db = db
        self._dispatcher = dispatcher
        self._clock = clock
        self._payments = payments
        problems: list[str] = []
        self._settings = parse_monitor_settings(settings, problems)
        if problems:
            raise InvalidSettings(problems)

    @property
    def settings(self) -> MonitorSettings:
        """The thresholds in force (``settings["monitor"]`` over the defaults)."""
        return self._settings

    def exceptions(self, *, at: datetime | None = None,
                   kinds: Collection[ExceptionKind | str] | None = None,
                   order_id: str | None = None) -> list[OrderException]:
        """The exceptions at ``at`` (default: the clock), oldest breach first; only the
        given ``kinds`` and ``order_id`` when given. Reads only."""
        wanted = _kinds(kinds)
        found, _truncated = self._collect(at or self._clock(), wanted)
        if order_id is not None:
            found = [x for x in found if x.order_id == order_id]
        return sorted(found, key=lambda x: (x.since, x.key))

    def sweep(self, now: datetime | None = None) -> MonitorSweep:
        """Raise the breaches first seen, clear those that ended; idempotent (a second
        sweep with nothing changed raises and clears nothing)."""
        return self._sweep(SweepExceptions(now=now))

    # -- the sweep -------------------------------------------------------------------------------

    def _sweep(self, c: SweepExceptions) -> MonitorSweep:
        at = c.now or self._clock()
        current, truncated = self._collect(at, set(ExceptionKind))
        by_key = {x.key: x for x in current}

        def attempt() -> tuple[MonitorSweep, list[Any]]:
            with self._db.uow() as uow:
                repo = MonitorRepository(uow.connection, self._db.tables)
                open_now = repo.open_breaches()
                known = repo.known(by_key)
                raised: list[OrderException] = []
                for x in current:
                    if x.key in known:
                        continue
                    if repo.raise_breach(key=x.key, kind=x.kind.value, order_id=x.order_id,
                                         subject=x.subject, since=x.since, detail=x.detail,
                                         at=at):
                        raised.append(x)
                        uow.emit(ExceptionRaised(key=x.key, kind=x.kind.value,
                                                 order=x.order_id, subject=x.subject,
                                                 since=x.since, detail=x.detail,
                                                 occurred_at=at))
                ended = [b for b in open_now
                         if b.key not in by_key and b.kind not in truncated]
                cleared = set(repo.clear([b.key for b in ended], at))
                for b in ended:
                    if b.key in cleared:
                        uow.emit(ExceptionCleared(key=b.key, kind=b.kind, order=b.order_id,
                                                  subject=b.subject, occurred_at=at))
                still_open = len(open_now) - len(cleared) + len(raised)
                report = MonitorSweep(raised=tuple(raised),
                                      cleared=tuple(sorted(cleared)), open=still_open)
                return report, uow.commit()

        report, events = self._db.retrying(attempt)
        self._dispatcher.dispatch(events)
        return report

    # -- what breaches now -----------------------------------------------------------------------

    def _collect(self, at: datetime, kinds: set[ExceptionKind]
                 ) -> tuple[list[OrderException], set[str]]:
        s = self._settings
        found: list[OrderException] = []
        truncated: set[str] = set()

        def keep(kind: ExceptionKind, rows: list[Any], items: list[OrderException]) -> None:
            if len(rows) >= KIND_LIMIT:
                truncated.add(kind.value)
            found.extend(items)

        with self._db.engine.connect() as conn:
            repo = MonitorRepository(conn, self._db.tables)
            if ExceptionKind.LATE in kinds:
                rows = repo.late_orders(at.date() - timedelta(days=s.late_after_days),
                                        KIND_LIMIT)
                keep(ExceptionKind.LATE, rows, [self._late(r, at) for r in rows])
            stuck: dict[OrderStatus, datetime] = {st: at - d for st, d in s.stuck_after.items()
                     if st not in (OrderStatus.BACKORDERED, OrderStatus.ON_HOLD)}
            if ExceptionKind.STUCK in kinds:
                rows = repo.orders_in_status_since(stuck, KIND_LIMIT)
                keep(ExceptionKind.STUCK, rows, [self._stuck(r, at) for r in rows])
            if ExceptionKind.BACKORDER_AGED in kinds:
                rows = repo.orders_in_status_since(
                    {OrderStatus.BACKORDERED: at - s.backorder_after}, KIND_LIMIT)
                keep(ExceptionKind.BACKORDER_AGED, rows,
                     [self._backorder(r, at) for r in rows])
            if ExceptionKind.HELD in kinds:
                rows = repo.open_holds(at - s.hold_after, KIND_LIMIT)
                keep(ExceptionKind.HELD, rows, [self._held(r) for r in rows])
            if ExceptionKind.OUTBOX_PARKED in kinds:
                rows = repo.parked_events(KIND_LIMIT)
                keep(ExceptionKind.OUTBOX_PARKED, rows, [self._parked(r) for r in rows])
            if ExceptionKind.PICKUP_UNCOLLECTED in kinds:
                rows = repo.uncollected_pickups(at - s.pickup_after, KIND_LIMIT)
                keep(ExceptionKind.PICKUP_UNCOLLECTED, rows, [self._pickup(r) for r in rows])
            candidates = (repo.authorisations_expiring(at + s.authorisation_warning,
                                                       KIND_LIMIT)
                          if ExceptionKind.AUTHORISATION_EXPIRING in kinds else [])
        if len(candidates) >= KIND_LIMIT:
            truncated.add(ExceptionKind.AUTHORISATION_EXPIRING.value)
        for order_id in candidates:
            found.extend(self._expiring(order_id, at))
        return found, truncated

    def _late(self, row: Any, at: datetime) -> OrderException:
        days_late = (at.date() - row.promised_date).days
        expected = f"; expected {row.expected_date}" if row.expected_date else ""
        return OrderException(
            key=f"late:{row.id}:{row.promised_date}", kind=ExceptionKind.LATE,
            order_id=row.id, subject=row.id,
            since=day_start(self._settings.late_since(row.promised_date) + timedelta(days=1)),
            detail=f"promised {row.promised_date}, {days_late} day(s) ago; "
                   f"{row.status}{expected}")

    def _stuck(self, row: Any, at: datetime) -> OrderException:
        limit = self._settings.stuck_after[OrderStatus(row.status)]
        return OrderException(
            key=f"stuck:{row.id}:{row.status}:{row.since.isoformat()}",
            kind=ExceptionKind.STUCK, order_id=row.id, subject=row.id, since=row.since + limit,
            detail=f"{row.status} since {row.since.isoformat()} "
                   f"({_span(at - row.since)}; limit {_span(limit)})")

    def _backorder(self, row: Any, at: datetime) -> OrderException:
        limit = self._settings.backorder_after
        return OrderException(
            key=f"backorder_aged:{row.id}:{row.since.isoformat()}",
            kind=ExceptionKind.BACKORDER_AGED, order_id=row.id, subject=row.id,
            since=row.since + limit,
            detail=f"backordered since {row.since.isoformat()} ({_span(at - row.since)}; "
                   f"limit {_span(limit)})")

    def _held(self, row: Any) -> OrderException:
        return OrderException(
            key=f"held:{row.order_id}:{row.position}", kind=ExceptionKind.HELD,
            order_id=row.order_id, subject=f"{row.order_id} hold {row.code}",
            since=row.placed_at + self._settings.hold_after,
            detail=f"{row.code}: {row.reason}" if row.reason else row.code,
            reference=row.code)

    def _pickup(self, row: Any) -> OrderException:
        deadline = f"; collect by {row.collect_by:%Y-%m-%d %H:%M}" if row.collect_by else ""
        return OrderException(
            key=f"pickup_uncollected:{row.id}:{row.ready_at.isoformat()}",
            kind=ExceptionKind.PICKUP_UNCOLLECTED, order_id=row.order_id,
            subject=f"{row.order_id} pickup at {row.location}",
            since=row.ready_at + self._settings.pickup_after,
            detail=f"ready at {row.location} since {row.ready_at:%Y-%m-%d %H:%M}{deadline}",
            reference=row.id)

    def _parked(self, row: Any) -> OrderException:
        error = (row.last_error or "").strip().splitlines()
        return OrderException(
            key=f"outbox_parked:{row.seq}:{row.parked_at.isoformat()}",
            kind=ExceptionKind.OUTBOX_PARKED, order_id=row.order_id,
            subject=f"event {row.seq} ({row.event_type})", since=row.parked_at,
            detail=error[-1][:300] if error else "parked", reference=str(row.seq))

    def _expiring(self, order_id: str, at: datetime) -> list[OrderException]:
        warning = self._settings.authorisation_warning
        found: list[OrderException] = []
        for ledger in self._payments.transactions(order_id):
            expires = ledger.expires_at
            tx = ledger.transaction
            if (tx.kind is not PaymentTransactionKind.PROVIDER or expires is None
                    or ledger.closed or ledger.uncaptured.amount <= 0
                    or expires - warning > at):
                continue
            left = ledger.uncaptured
            verb = "expired" if at >= expires else "expires"
            found.append(OrderException(
                key=f"authorisation_expiring:{tx.id}:{expires.isoformat()}",
                kind=ExceptionKind.AUTHORISATION_EXPIRING, order_id=order_id,
                subject=f"{order_id} payment {tx.id}", since=expires - warning,
                detail=f"{tx.provider} authorisation {verb} at {expires.isoformat()} with "
                       f"{left.amount} {left.currency} not captured", reference=tx.id))
        return found


def _kinds(kinds: Collection[ExceptionKind | str] | None) -> set[ExceptionKind]:
    if kinds is None:
        return set(ExceptionKind)
    wanted: set[ExceptionKind] = set()
    unknown: list[str] = []
    for kind in kinds:
        try:
            wanted.add(ExceptionKind(kind))
        except ValueError:
            unknown.append(str(kind))
    if unknown:
        from omskit.domain.errors import InvalidCommand

        raise InvalidCommand([f"kinds: unknown exception kind {k!r} (known: "
                              f"{', '.join(k.value for k in ExceptionKind)})" for k in unknown],
                             subject="exception query")
    return wanted


def _span(delta: timedelta) -> str:
    """``3d 4h``, ``45m``: a duration as an operator reads it."""
    minutes = int(delta.total_seconds() // 60)
    d, rest = divmod(minutes, 24 * 60)
    h, m = divmod(rest, 60)
    if d:
        return f"{d}d {h}h" if h else f"{d}d"
    if h:
        return f"{h}h {m}m" if m else f"{h}h"
    return f"{m}m"
