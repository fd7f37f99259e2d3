"""What each event relay delivered: claims of outbox events per relay, confirmations,
unconfirmed attempts and parked events, and whole-batch failures."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from omskit.domain.relays import RelayMessage, RelayStatus
from omskit.store.jsontext import json_dumps
from omskit.store.tables import Tables


class RelayRepository:
    """Per-relay delivery state beside the outbox. Every method runs in the caller's
    transaction; :meth:`lock` first, so one relay's workers claim one at a time."""

    def __init__(self, conn: sa.Connection, tables: Tables) -> None:
        self._conn = conn
        self._t = tables

    def lock(self, relay: str) -> None:
        """Create the relay's row if it is new and lock it until the transaction ends.

        Claims of one relay are decided one worker at a time (PostgreSQL: the row lock;
        SQLite: the write lock ``BEGIN IMMEDIATE`` already holds), so two workers never
        claim the same event and an order's events are never split between workers out of
        order. The lock lasts one short claim transaction: publishing runs outside it.
        """
        r = self._t.relays
        values = {"relay": relay, "failures": 0}
        insert = (postgresql.insert(r) if self._conn.dialect.name == "postgresql"
                  else sqlite.insert(r))
        self._conn.execute(insert.values(**values).on_conflict_do_nothing())
        # An update rather than SELECT ... FOR UPDATE: it takes the same row lock, and under
        # a host's REPEATABLE READ or SERIALIZABLE engine a worker whose snapshot predates
        # another's claim fails with a serialization error (retried with a fresh snapshot)
        # instead of claiming the same events from a stale view.
        self._conn.execute(r.update().where(r.c.relay == relay)
                           .values(failures=r.c.failures))

    def claim(self, relay: str, limit: int, now: datetime,
              until: datetime) -> list[tuple[RelayMessage, int]]:
        """Lease up to ``limit`` events not yet confirmed for ``relay``, in outbox order,
        until ``until``: each with its failed attempts so far.

        Passed over: events delivered, parked, or leased by another worker of the relay,
        and every event of an order while an earlier event of that order is parked or
        leased elsewhere (each order's events reach the broker in write order).
        """
        o, d = self._t.outbox, self._t.relay_deliveries
        taken = (sa.select(d.c.seq)
                 .where(d.c.relay == relay, d.c.seq == o.c.seq,
                        sa.or_(d.c.delivered_at.is_not(None), d.c.parked_at.is_not(None),
                               d.c.claimed_until >= now))
                 .exists())
        earlier, held = o.alias("earlier"), d.alias("held")
        blocked = (sa.select(earlier.c.seq)
                   .join(held, sa.and_(held.c.seq == earlier.c.seq, held.c.relay == relay))
                   .where(earlier.c.order_id == o.c.order_id, earlier.c.seq < o.c.seq,
                          held.c.delivered_at.is_(None),
                          sa.or_(held.c.parked_at.is_not(None), held.c.claimed_until >= now))
                   .exists())
        attempts = (sa.select(d.c.attempts).where(d.c.relay == relay, d.c.seq == o.c.seq)
                    .scalar_subquery())
        rows = self._conn.execute(
            sa.select(o.c.seq, o.c.event_id, o.c.event_type, o.c.order_id, o.c.occurred_at,
                      o.c.payload, attempts.label("attempts"))
            .where(~taken, ~blocked).order_by(o.c.seq).limit(limit)).mappings().all()
        claimed = [(RelayMessage(message_id=r["event_id"], seq=r["seq"],
                                 event_type=r["event_type"], order_id=r["order_id"],
                                 occurred_at=r["occurred_at"],
                                 body=json_dumps(r["payload"]).encode()),
                    int(r["attempts"] or 0)) for r in rows]
        seqs = [m.seq for m, _ in claimed]
        known = set(self._conn.execute(
            sa.select(d.c.seq).where(d.c.relay == relay, d.c.seq.in_(seqs))).scalars())
        fresh = [seq for seq in seqs if seq not in known]
        if fresh:
            self._conn.execute(d.insert(), [
                {"relay": relay, "seq": seq, "claimed_until": None, "delivered_at": None,
                 "attempts": 0, "last_error": None, "parked_at": None} for seq in fresh])
        if claimed:
            self._conn.execute(d.update().where(d.c.relay == relay, d.c.seq.in_(seqs))
                               .values(claimed_until=until))
        return claimed

    def mark_delivered(self, relay: str, seqs: Sequence[int], at: datetime) -> None:
        """Record that the relay's broker confirmed these events."""
        if seqs:
            d = self._t.relay_deliveries
            self._conn.execute(d.update().where(d.c.relay == relay, d.c.seq.in_(list(seqs)))
                               .values(delivered_at=at, claimed_until=None, last_error=None))
            r = self._t.relays
            self._conn.execute(r.update().where(r.c.relay == relay)
                               .values(last_delivery_at=at, failures=0))

    def record_unconfirmed(self, relay: str, seq: int, error: str, *,
                           park_at: datetime | None = None) -> None:
        """Count a publish the broker did not confirm; park the event at ``park_at``."""
        d = self._t.relay_deliveries
        self._conn.execute(d.update().where(d.c.relay == relay, d.c.seq == seq)
                           .values(attempts=d.c.attempts + 1, last_error=error[:4000],
                                   claimed_until=None, parked_at=park_at))

    def release(self, relay: str, seqs: Sequence[int]) -> None:
        """Give claimed, unpublished events back at once."""
        if seqs:
            d = self._t.relay_deliveries
            self._conn.execute(d.update().where(d.c.relay == relay, d.c.seq.in_(list(seqs)))
                               .values(claimed_until=None))

    def record_batch_failure(self, relay: str, error: str, at: datetime) -> None:
        """A whole batch failed (broker down): count it on the relay, keep the error."""
        r = self._t.relays
        self._conn.execute(r.update().where(r.c.relay == relay)
                           .values(failures=r.c.failures + 1, last_error=error[:4000],
                                   last_failure_at=at))

    def status(self, relay: str) -> RelayStatus:
        """How many events wait for the relay, how many are parked, and its last failure."""
        o, d, r = self._t.outbox, self._t.relay_deliveries, self._t.relays
        done = (sa.select(d.c.seq)
                .where(d.c.relay == relay, d.c.seq == o.c.seq,
                       sa.or_(d.c.delivered_at.is_not(None), d.c.parked_at.is_not(None)))
                .exists())
        pending = self._conn.execute(sa.select(sa.func.count()).select_from(o)
                                     .where(~done)).scalar_one()
        parked = self._conn.execute(
            sa.select(sa.func.count()).select_from(d)
            .where(d.c.relay == relay, d.c.parked_at.is_not(None),
                   d.c.delivered_at.is_(None))).scalar_one()
        row = self._conn.execute(sa.select(r).where(r.c.relay == relay)).mappings().first()
        return RelayStatus(
            relay=relay, pending=int(pending), parked=int(parked),
            failures=int(row["failures"]) if row else 0,
            last_error=row["last_error"] if row else None,
            last_failure_at=row["last_failure_at"] if row else None,
            last_delivery_at=row["last_delivery_at"] if row else None)

    def delivered(self, relay: str) -> list[int]:
        """Seqs of the events the relay's broker confirmed, in outbox order."""
        d = self._t.relay_deliveries
        return [int(s) for s in self._conn.execute(
            sa.select(d.c.seq).where(d.c.relay == relay, d.c.delivered_at.is_not(None))
            .order_by(d.c.seq)).scalars()]
