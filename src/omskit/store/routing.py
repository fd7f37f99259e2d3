"""Routing's own rows: stored explanations and each location's fulfilment orders per day."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

import cattrs
import sqlalchemy as sa

from omskit.domain.routing import RoutingDecision
from omskit.routing.explanation import ExplanationRecord, read_payload
from omskit.store.backends import StoreBackend, backend_for
from omskit.store.pending import PendingRows
from omskit.store.tables import Tables


class RoutingRepository:
    """Explanations and daily location load, in the unit of work's transaction."""

    def __init__(self, connection: sa.Connection, tables: Tables,
                 converter: cattrs.Converter, pending: PendingRows,
                 backend: StoreBackend | None = None) -> None:
        self._conn = connection
        self._backend = backend or backend_for(connection.dialect)
        self._t = tables
        self._c = converter
        self._pending = pending

    # -- explanations ---------------------------------------------------------------------------

    def add_decision(self, decision: RoutingDecision | ExplanationRecord) -> None:
        """Store the explanation of one routing decision: in full, or compact as the engine
        makes it (rendered in full when read, decision 48)."""
        payload: dict[str, Any]
        if isinstance(decision, ExplanationRecord):
            payload = decision.payload(self._c)
            decision = decision.head
        else:
            payload = self._c.unstructure(decision)
        self._pending.add(self._t.routing_decisions, (
            {"id": decision.id, "order_id": decision.order_id,
             "decided_at": decision.decided_at, "strategy": decision.strategy,
             "solver": decision.solver, "cost": decision.cost.total, "payload": payload},))

    def decisions(self, order_id: str) -> list[RoutingDecision]:
        """Every stored decision for the order, oldest first."""
        self._pending.flush()
        t = self._t.routing_decisions
        rows = self._conn.execute(
            sa.select(t.c.payload).where(t.c.order_id == order_id).order_by(t.c.seq)).scalars()
        return [read_payload(self._c, p) for p in rows]

    # -- daily capacity -------------------------------------------------------------------------

    def load(self, locations: Iterable[str], day: date) -> dict[str, int]:
        """Fulfilment orders already created today at each of ``locations`` (absent: 0)."""
        codes = sorted(set(locations))
        if not codes:
            return {}
        t = self._t.location_load
        rows = self._conn.execute(
            sa.select(t.c.location, t.c.fulfillment_orders)
            .where(t.c.day == day, t.c.location.in_(codes)))
        return {r.location: r.fulfillment_orders for r in rows}

    def take_capacity(self, location: str, day: date, capacity: int) -> bool:
        """Count one more fulfilment order at ``location`` on ``day`` if under ``capacity``.

        A conditional update, like stock reservations: two concurrent placements can never
        both take the last slot. Returns False when the location is full.
        """
        if capacity <= 0:
            return False
        t = self._t.location_load
        # The day's row first (a no-op if it exists, also when a concurrent placement
        # inserts it first), then the conditional increment on it.
        self._backend.insert_missing(
            self._conn, t, {"location": location, "day": day, "fulfillment_orders": 0},
            (t.c.location, t.c.day))
        updated = self._conn.execute(
            t.update().where(t.c.location == location, t.c.day == day,
                             t.c.fulfillment_orders < capacity)
            .values(fulfillment_orders=t.c.fulfillment_orders + 1))
        return updated.rowcount == 1

    def give_back_capacity(self, location: str, day: date) -> None:
        """Count one fulfilment order fewer at ``location`` on ``day`` (one that took a slot
        was rejected or cancelled before picking). Never below zero."""
        t = self._t.location_load
        self._conn.execute(
            t.update().where(t.c.location == location, t.c.day == day,
                             t.c.fulfillment_orders > 0)
            .values(fulfillment_orders=t.c.fulfillment_orders - 1))
