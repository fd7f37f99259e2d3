"""Availability read in SQL: one SKU's available to promise in a single aggregate query, and
the network's stock summarised per SKU, a keyset page at a time.

Both read only ``stock_items``, ``supplies`` (open ones) and the ``active`` flag of
``locations``; nothing is loaded per location into Python. Every page is bounded by SKU range
(``sku > after AND sku <= last of the page``), which the ``stock_items`` SKU index and the
``supplies`` (SKU, status) index serve on PostgreSQL and SQLite alike; never ``OFFSET``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa

from omskit.domain.availability import StockSummary
from omskit.domain.inventory import SupplyStatus
from omskit.store.tables import Tables

_OPEN = SupplyStatus.OPEN.value


class AvailabilityQueries:
    """Availability reads on one connection (the caller owns the transaction)."""

    def __init__(self, conn: sa.Connection, tables: Tables) -> None:
        self._conn = conn
        self._t = tables

    def available_to_promise(self, sku: str, *, location: str | None = None,
                             at: datetime | None = None) -> int:
        """Σ over active locations of max(0, on hand − reserved − safety stock [+ open supply
        due by ``at``]), in one query (what ``InventoryService.available`` means).
        """
        s, sp, loc = self._t.stock_items, self._t.supplies, self._t.locations
        if at is None:
            raw: sa.ColumnElement[int] = s.c.on_hand - s.c.reserved - s.c.safety_stock
            stmt = (sa.select(sa.func.coalesce(sa.func.sum(_above(raw)), 0))
                    .select_from(s.join(loc, loc.c.code == s.c.location))
                    .where(s.c.sku == sku, loc.c.active.is_(True)))
            if location is not None:
                stmt = stmt.where(s.c.location == location)
            return int(self._conn.execute(stmt).scalar_one())
        # Supply due by ``at`` is added per location before the floor at 0, so it first
        # fills the reservations and safety stock that location is short of.
        stock_part = sa.select(s.c.location.label("location"),
                               (s.c.on_hand - s.c.reserved - s.c.safety_stock).label("units")
                               ).where(s.c.sku == sku)
        supply_part = sa.select(sp.c.location.label("location"), sp.c.quantity.label("units")
                                ).where(sp.c.sku == sku, sp.c.status == _OPEN, sp.c.eta <= at,
                                        # A ship-to-store transfer is its order's only.
                                        sp.c.order_id.is_(None))
        if location is not None:
            stock_part = stock_part.where(s.c.location == location)
            supply_part = supply_part.where(sp.c.location == location)
        parts = sa.union_all(stock_part, supply_part).subquery("parts")
        per_location = (sa.select(parts.c.location, sa.func.sum(parts.c.units).label("units"))
                        .group_by(parts.c.location).subquery("per_location"))
        stmt = (sa.select(sa.func.coalesce(sa.func.sum(_above(per_location.c.units)),
                                           0))
                .select_from(per_location.join(loc, loc.c.code == per_location.c.location))
                .where(loc.c.active.is_(True)))
        return int(self._conn.execute(stmt).scalar_one())

    def summaries(self, *, after: str | None = None, limit: int,
                  skus: Sequence[str] | None = None,
                  locations: Sequence[str] | None = None,
                  ) -> list[StockSummary]:
        """The next ``limit`` SKUs (by SKU, in the database's collation) after ``after`` that
        have a stock row or open supply, each summed over ``locations`` (all by default).

        ``skus`` restricts the page to those SKUs (then ``after`` is usually None and
        ``limit`` at least ``len(skus)``). Three short queries: the page's SKUs, their stock
        rows' sums, their open supply's sums, the last two bounded by the page's SKU range.
        """
        s, sp, loc = self._t.stock_items, self._t.supplies, self._t.locations

        def scope(sku: sa.ColumnElement[str], where: sa.ColumnElement[str]
                  ) -> list[sa.ColumnElement[bool]]:
            found = []
            if after is not None:
                found.append(sku > after)
            if skus is not None:
                found.append(sku.in_(list(skus)))
            if locations is not None:
                found.append(where.in_(list(locations)))
            return found

        stocked = (sa.select(s.c.sku).where(*scope(s.c.sku, s.c.location))
                   .group_by(s.c.sku).order_by(s.c.sku).limit(limit))
        supplied = (sa.select(sp.c.sku).where(sp.c.status == _OPEN,
                                              *scope(sp.c.sku, sp.c.location))
                    .group_by(sp.c.sku).order_by(sp.c.sku).limit(limit))
        both = sa.union(stocked.subquery().select(), supplied.subquery().select()).subquery()
        page = list(self._conn.execute(
            sa.select(both.c.sku).order_by(both.c.sku).limit(limit)).scalars())
        if not page:
            return []
        last = page[-1]

        raw = s.c.on_hand - s.c.reserved - s.c.safety_stock
        promisable = sa.case((loc.c.active.is_(True), _above(raw)), else_=0)
        stock_rows = self._conn.execute(
            sa.select(s.c.sku, sa.func.sum(s.c.on_hand), sa.func.sum(s.c.reserved),
                      sa.func.sum(s.c.safety_stock), sa.func.sum(promisable))
            .select_from(s.join(loc, loc.c.code == s.c.location))
            .where(s.c.sku <= last, *scope(s.c.sku, s.c.location))
            .group_by(s.c.sku))
        stock = {row[0]: tuple(int(v) for v in row[1:]) for row in stock_rows}
        supply_rows = self._conn.execute(
            sa.select(sp.c.sku, sa.func.sum(sp.c.quantity))
            .where(sp.c.status == _OPEN, sp.c.sku <= last, *scope(sp.c.sku, sp.c.location))
            .group_by(sp.c.sku))
        supply = {sku: int(units) for sku, units in supply_rows}
        return [StockSummary(sku=sku, on_hand=on_hand, reserved=reserved,
                             safety_stock=safety, available=available,
                             in_transit=supply.get(sku, 0))
                for sku in page
                for on_hand, reserved, safety, available in [stock.get(sku, (0, 0, 0, 0))]]


def _above(units: sa.ColumnElement[int]) -> sa.ColumnElement[int]:
    """``max(0, units)`` in portable SQL (SQLite has no ``GREATEST``)."""
    return sa.case((units > 0, units), else_=0)


__all__ = ["AvailabilityQueries"]
