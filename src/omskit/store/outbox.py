"""The transactional outbox: events written with the change they describe, then dispatched."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import attrs
import sqlalchemy as sa

from omskit.domain.events import Event
from omskit.serialization import EventCodec
from omskit.store.pending import PendingRows
from omskit.store.tables import Tables


@attrs.frozen(kw_only=True)
class OutboxRecord:
    """One stored event and its dispatch state."""

    seq: int
    event: Event
    dispatched_at: datetime | None
    attempts: int
    last_error: str | None
    #: When dispatch gave up on the event after too many failures (``None``: never).
    parked_at: datetime | None = None

    @property
    def parked(self) -> bool:
        """Waiting for an operator: parked and neither retried nor skipped."""
        return self.parked_at is not None and self.dispatched_at is None


class OutboxRepository:
    """Appends events and hands pending ones to the dispatcher."""

    def __init__(self, conn: sa.Connection, tables: Tables, codec: EventCodec,
                 pending: PendingRows) -> None:
        self._conn = conn
        self._t = tables
        self._codec = codec
        self._pending = pending

    def append(self, events: Sequence[Event], *,
               settled: Callable[[Event], bool] | None = None) -> None:
        """Write ``events`` in this transaction, with the unit of work's other new rows (at
        its next flush). Events ``settled`` says nobody will handle are stored as already
        dispatched."""
        if not events:
            return
        rows = [
            {"event_id": e.event_id, "event_type": e.event_type, "order_id": e.order_id,
             "payload": self._codec.encode(e), "occurred_at": e.occurred_at,
             "dispatched_at": e.occurred_at if settled is not None and settled(e) else None,
             "claimed_until": None, "attempts": 0, "last_error": None}
            for e in events
        ]
        self._pending.add(self._t.outbox, rows)

    def _records(self, stmt: sa.Select[Any]) -> list[OutboxRecord]:
        self._pending.flush()
        return [
            OutboxRecord(seq=r["seq"], event=self._codec.decode(r["payload"]),
                         dispatched_at=r["dispatched_at"], attempts=r["attempts"],
                         last_error=r["last_error"], parked_at=r["parked_at"])
            for r in self._conn.execute(stmt).mappings()
        ]

    def claim_pending(self, limit: int, now: datetime, until: datetime) -> list[OutboxRecord]:
        """Lease up to ``limit`` undispatched events, oldest first, until ``until``.

        Only rows with no lease, or an expired one, are taken, and never a parked one. An
        event waits while an earlier event of the same order is undelivered and not being
        offered now (parked, or leased by another dispatcher), so each order's events go out
        in write order. On PostgreSQL rows another dispatcher is claiming right now are
        skipped (``SKIP LOCKED``). Commit the lease before delivering, so handlers run
        outside any transaction of the outbox.
        """
        o = self._t.outbox
        earlier = o.alias("earlier")
        blocked = (sa.select(earlier.c.seq)
                   .where(earlier.c.order_id == o.c.order_id, earlier.c.seq < o.c.seq,
                          earlier.c.dispatched_at.is_(None),
                          sa.or_(earlier.c.parked_at.is_not(None),
                                 earlier.c.claimed_until >= now))
                   .exists())
        stmt = (sa.select(o)
                .where(o.c.dispatched_at.is_(None), o.c.parked_at.is_(None),
                       sa.or_(o.c.claimed_until.is_(None), o.c.claimed_until < now),
                       ~blocked)
                .order_by(o.c.seq).limit(limit).with_for_update(of=o, skip_locked=True))
        records = self._records(stmt)
        if records:
            self._conn.execute(o.update().where(o.c.seq.in_([r.seq for r in records]))
                               .values(claimed_until=until))
        return records

    def release_claims(self, seqs: Sequence[int]) -> None:
        """Give leased but undelivered events back at once (after a handler failed)."""
        if seqs:
            o = self._t.outbox
            self._conn.execute(o.update().where(o.c.seq.in_(list(seqs)))
                               .values(claimed_until=None))

    def mark_dispatched(self, seqs: Sequence[int], at: datetime) -> None:
        """Record that these events reached every handler."""
        if seqs:
            o = self._t.outbox
            self._conn.execute(o.update().where(o.c.seq.in_(list(seqs)))
                               .values(dispatched_at=at, claimed_until=None, last_error=None))

    def record_failure(self, seq: int, error: str, *, park_at: datetime | None = None) -> None:
        """Count a failed dispatch and keep the error; the event stays pending, or is parked
        at ``park_at`` (dispatch then passes over it until an operator acts)."""
        o = self._t.outbox
        self._conn.execute(o.update().where(o.c.seq == seq)
                           .values(attempts=o.c.attempts + 1, last_error=error[:4000],
                                   claimed_until=None, parked_at=park_at))

    def parked(self, limit: int, after: int | None = None) -> list[OutboxRecord]:
        """Parked events, oldest first, from the one after ``after`` (keyset paging)."""
        o = self._t.outbox
        stmt = (sa.select(o).where(o.c.parked_at.is_not(None), o.c.dispatched_at.is_(None))
                .order_by(o.c.seq).limit(limit))
        if after is not None:
            stmt = stmt.where(o.c.seq > after)
        return self._records(stmt)

    def get(self, seq: int, *, for_update: bool = False) -> OutboxRecord | None:
        """The event stored at ``seq``, or None."""
        o = self._t.outbox
        stmt = sa.select(o).where(o.c.seq == seq)
        if for_update:
            stmt = stmt.with_for_update()
        found = self._records(stmt)
        return found[0] if found else None

    def unpark(self, seq: int) -> None:
        """Offer a parked event again, its attempts counted from zero."""
        o = self._t.outbox
        self._conn.execute(o.update().where(o.c.seq == seq)
                           .values(parked_at=None, attempts=0, claimed_until=None))

    def skip(self, seq: int, at: datetime, note: str) -> None:
        """Give up on a parked event: it counts as dispatched (so the later events of its
        order flow) and keeps ``parked_at`` and its error, with ``note`` added."""
        o = self._t.outbox
        self._conn.execute(o.update().where(o.c.seq == seq)
                           .values(dispatched_at=at, claimed_until=None,
                                   last_error=sa.func.coalesce(o.c.last_error, "")
                                   + f"\nskipped: {note}"[:1000]))

    def for_order(self, order_id: str) -> list[OutboxRecord]:
        """Every event of one order, in the order they were written (its timeline)."""
        o = self._t.outbox
        return self._records(sa.select(o).where(o.c.order_id == order_id).order_by(o.c.seq))

    def pending_count(self) -> int:
        """How many events wait for dispatch (parked ones not counted)."""
        o = self._t.outbox
        return int(self._conn.execute(
            sa.select(sa.func.count()).where(o.c.dispatched_at.is_(None),
                                             o.c.parked_at.is_(None))).scalar_one())

    def parked_count(self) -> int:
        """How many events are parked, waiting for an operator."""
        o = self._t.outbox
        return int(self._conn.execute(
            sa.select(sa.func.count()).where(o.c.dispatched_at.is_(None),
                                             o.c.parked_at.is_not(None))).scalar_one())
