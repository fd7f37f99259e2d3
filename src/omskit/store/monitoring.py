"""The monitor's reads (orders and events that breach a threshold) and its breach table.

Each read is one set-based query filtered in SQL, so a sweep over many open orders loads only
those that breach.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time
from typing import Any

import attrs
import sqlalchemy as sa

from omskit.domain.events import OrderStatusChanged
from omskit.domain.lifecycle import OrderStatus
from omskit.store.tables import Tables
from omskit.store.types import UTCDateTime

#: Order statuses that no longer wait for anything: never late, never stuck.
CLOSED_STATUSES = (OrderStatus.DELIVERED, OrderStatus.COMPLETED, OrderStatus.CANCELLED)


@attrs.frozen(kw_only=True)
class OpenBreach:
    """A breach a sweep raised and has not cleared."""

    key: str
    kind: str
    order_id: str | None
    subject: str


class MonitorRepository:
    """Queries for the exceptions, and the record of which breaches were raised."""

    def __init__(self, conn: sa.Connection, tables: Tables) -> None:
        self._conn = conn
        self._t = tables

    # -- what breaches ----------------------------------------------------------------------

    def late_orders(self, last_on_time: date, limit: int) -> list[sa.Row[Any]]:
        """Open orders promised before ``last_on_time`` (id, status, promised, expected)."""
        o = self._t.orders
        return list(self._conn.execute(
            sa.select(o.c.id, o.c.status, o.c.promised_date, o.c.expected_date)
            .where(o.c.promised_date < last_on_time,
                   o.c.status.not_in([s.value for s in CLOSED_STATUSES]))
            .order_by(o.c.promised_date, o.c.id).limit(limit)))

    def orders_in_status_since(self, before: Mapping[OrderStatus, datetime],
                               limit: int) -> list[sa.Row[Any]]:
        """Orders whose status is a key of ``before`` and was entered before its value
        (id, status, since). The status was entered at the order's last status change, or
        at placement."""
        if not before:
            return []
        o, ob = self._t.orders, self._t.outbox
        changed = (sa.select(sa.func.max(ob.c.occurred_at))
                   .where(ob.c.order_id == o.c.id,
                          ob.c.event_type == OrderStatusChanged.event_type)
                   .scalar_subquery())
        inner = (sa.select(o.c.id, o.c.status,
                           sa.func.coalesce(changed, o.c.placed_at,
                                            type_=UTCDateTime).label("since"))
                 .where(o.c.status.in_([s.value for s in before])).subquery())
        return list(self._conn.execute(
            sa.select(inner.c.id, inner.c.status, inner.c.since)
            .where(sa.or_(*(sa.and_(inner.c.status == status.value,
                                    inner.c.since < sa.literal(at, UTCDateTime))
                            for status, at in before.items())))
            .order_by(inner.c.since, inner.c.id).limit(limit)))

    def open_holds(self, placed_before: datetime, limit: int) -> list[sa.Row[Any]]:
        """Holds not released, placed before ``placed_before`` (order_id, position, code,
        reason, placed_at)."""
        h = self._t.order_holds
        return list(self._conn.execute(
            sa.select(h.c.order_id, h.c.position, h.c.code, h.c.reason, h.c.placed_at)
            .where(h.c.released_at.is_(None), h.c.placed_at <= placed_before)
            .order_by(h.c.placed_at, h.c.order_id, h.c.position).limit(limit)))

    def authorisations_expiring(self, before: datetime, limit: int) -> list[str]:
        """Orders (not closed) with a successful authorisation expiring before ``before``:
        the candidates whose ledgers the monitor reads."""
        tx, e, o = self._t.payment_transactions, self._t.payment_entries, self._t.orders
        return list(self._conn.execute(
            sa.select(tx.c.order_id).distinct()
            .join(e, e.c.transaction_id == tx.c.id)
            .join(o, o.c.id == tx.c.order_id)
            .where(e.c.action == "authorise", e.c.outcome == "success",
                   e.c.expires_at.is_not(None), e.c.expires_at < before,
                   o.c.status.not_in([s.value for s in CLOSED_STATUSES]))
            .order_by(tx.c.order_id).limit(limit)).scalars())

    def uncollected_pickups(self, ready_before: datetime, limit: int) -> list[sa.Row[Any]]:
        """Pickups ready before ``ready_before`` and not collected (id, order_id, location,
        ready_at, collect_by)."""
        fo = self._t.fulfillment_orders
        return list(self._conn.execute(
            sa.select(fo.c.id, fo.c.order_id, fo.c.location, fo.c.ready_at, fo.c.collect_by)
            .where(fo.c.status == "ready_for_pickup", fo.c.ready_at <= ready_before)
            .order_by(fo.c.ready_at, fo.c.id).limit(limit)))

    def parked_events(self, limit: int) -> list[sa.Row[Any]]:
        """Parked outbox events (seq, event_type, order_id, parked_at, last_error)."""
        ob = self._t.outbox
        return list(self._conn.execute(
            sa.select(ob.c.seq, ob.c.event_type, ob.c.order_id, ob.c.parked_at,
                      ob.c.last_error)
            .where(ob.c.parked_at.is_not(None), ob.c.dispatched_at.is_(None))
            .order_by(ob.c.seq).limit(limit)))

    # -- the breaches raised ------------------------------------------------------------------

    def open_breaches(self) -> list[OpenBreach]:
        """Every breach raised and not cleared."""
        b = self._t.monitor_breaches
        return [OpenBreach(key=r.key, kind=r.kind, order_id=r.order_id, subject=r.subject)
                for r in self._conn.execute(
                    sa.select(b.c.key, b.c.kind, b.c.order_id, b.c.subject)
                    .where(b.c.cleared_at.is_(None)).order_by(b.c.key))]

    def known(self, keys: Iterable[str]) -> set[str]:
        """Which of ``keys`` were ever raised (open or cleared)."""
        b = self._t.monitor_breaches
        wanted = sorted(set(keys))
        found: set[str] = set()
        for start in range(0, len(wanted), 500):
            found.update(self._conn.execute(
                sa.select(b.c.key).where(b.c.key.in_(wanted[start:start + 500]))).scalars())
        return found

    def raise_breach(self, *, key: str, kind: str, order_id: str | None, subject: str,
                     since: datetime, detail: str, at: datetime) -> bool:
        """Record a breach; False if its key was already recorded (by a concurrent sweep,
        say), in which case nothing is written."""
        b = self._t.monitor_breaches
        # A savepoint keeps the transaction usable on PostgreSQL when the key is taken.
        try:
            with self._conn.begin_nested():
                self._conn.execute(sa.insert(b).values(
                    key=key, kind=kind, order_id=order_id, subject=subject, since=since,
                    detail=detail[:500], raised_at=at, cleared_at=None))
        except sa.exc.IntegrityError:
            return False
        return True

    def clear(self, keys: Sequence[str], at: datetime) -> list[str]:
        """Mark open breaches cleared; the keys this call cleared."""
        b = self._t.monitor_breaches
        cleared: list[str] = []
        for key in keys:
            done = self._conn.execute(sa.update(b).where(b.c.key == key,
                                                         b.c.cleared_at.is_(None))
                                      .values(cleared_at=at))
            if done.rowcount == 1:
                cleared.append(key)
        return cleared

    def raised_at(self, keys: Iterable[str]) -> dict[str, datetime]:
        """When each open breach among ``keys`` was raised."""
        b = self._t.monitor_breaches
        wanted = sorted(set(keys))
        found: dict[str, datetime] = {}
        for start in range(0, len(wanted), 500):
            for key, at in self._conn.execute(
                    sa.select(b.c.key, b.c.raised_at)
                    .where(b.c.key.in_(wanted[start:start + 500]), b.c.cleared_at.is_(None))):
                found[key] = at
        return found



def day_start(day: date) -> datetime:
    """Midnight UTC at the start of ``day``."""
    return datetime.combine(day, time(0), tzinfo=UTC)
