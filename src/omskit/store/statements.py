"""Statements built once per set of tables and reused by every unit of work.

Building a SQLAlchemy statement and its cache key costs more Python time than SQLite takes to
run it: the hot path of placing an order (stock reads, conditional reservations, inserts)
uses these prebuilt statements with bound parameters instead (see decision 14).
"""

from __future__ import annotations

from collections.abc import Hashable
from functools import cached_property
from typing import Any

import sqlalchemy as sa

from omskit.store.tables import Tables


class Statements:
    """The prebuilt statements of one :class:`Tables`."""

    def __init__(self, tables: Tables) -> None:
        self._t = tables
        self._inserts: dict[str, sa.Insert] = {}
        #: Driver-level SQL a database's backend (``omskit.store.backends``) builds on first
        #: use, by a key of the backend's choosing: insert statements per shape of rows, the
        #: reservation of several stock rows. A deployment has a handful.
        self.driver_sql: dict[Hashable, Any] = {}
        #: Each table's place in dependency order (parents first), for flushing inserts.
        self.rank: dict[str, int] = {t.name: i for i, t in enumerate(tables.all())}

    @property
    def tables(self) -> Tables:
        """The tables these statements work on."""
        return self._t

    def insert(self, table: sa.Table) -> sa.Insert:
        """``INSERT INTO table`` (the columns come from each executemany's rows)."""
        found = self._inserts.get(table.name)
        if found is None:
            found = self._inserts[table.name] = table.insert()
        return found

    @cached_property
    def stock_of_skus(self) -> sa.Executable:
        """Every stock row of the SKUs in ``skus`` (expanding), with its location's version
        (``updated_at`` as the driver returns it: converting every row's timestamp costs
        more than the query) and whether it is active."""
        s = self._t.stock_items
        return self.stock_rows_where(s.c.sku.in_(sa.bindparam("skus", expanding=True)))

    def stock_rows_where(self, condition: sa.ColumnElement[bool]) -> sa.Select[Any]:
        """:attr:`stock_of_skus`'s columns for the stock rows ``condition`` selects (a
        backend states the list of SKUs its own way)."""
        s, loc = self._t.stock_items, self._t.locations
        return (sa.select(s.c.location, s.c.sku, s.c.on_hand, s.c.reserved, s.c.safety_stock,
                          sa.type_coerce(loc.c.updated_at, sa.String), loc.c.active)
                .join(loc, loc.c.code == s.c.location)
                .where(condition))

    @cached_property
    def stock_of_skus_locked(self) -> sa.Executable:
        """:attr:`stock_of_skus`, locking the stock rows in the global lock order
        (:meth:`in_lock_order`)."""
        select = self.stock_of_skus
        assert isinstance(select, sa.Select)
        return self.in_lock_order(select)

    def in_lock_order(self, select: sa.Select[Any]) -> sa.Select[Any]:
        """``select`` (of stock rows) locking them in (location, SKU) order: the one global
        lock order every multi-row writer follows (PostgreSQL, decision 26)."""
        s = self._t.stock_items
        return select.order_by(s.c.location, s.c.sku).with_for_update(of=s)

    @cached_property
    def reserve(self) -> sa.Update:
        """Reserve ``q`` units of (``loc``, ``item``) if that many are available to promise."""
        s = self._t.stock_items
        q = sa.bindparam("q", type_=sa.Integer)
        return (s.update()
                .where(s.c.location == sa.bindparam("loc"), s.c.sku == sa.bindparam("item"),
                       s.c.on_hand - s.c.reserved - s.c.safety_stock >= q)
                .values(reserved=s.c.reserved + q))

    @cached_property
    def unreserve(self) -> sa.Update:
        """Give back ``q`` reserved units of (``loc``, ``item``) if that many are reserved."""
        return self._give_back(ship=False)

    @cached_property
    def consume(self) -> sa.Update:
        """Ship ``q`` reserved units of (``loc``, ``item``): they leave on-hand and reserved."""
        return self._give_back(ship=True)

    def _give_back(self, *, ship: bool) -> sa.Update:
        s = self._t.stock_items
        q = sa.bindparam("q", type_=sa.Integer)
        values: dict[str, Any] = {"reserved": s.c.reserved - q}
        if ship:
            values["on_hand"] = s.c.on_hand - q
        return (s.update()
                .where(s.c.location == sa.bindparam("loc"), s.c.sku == sa.bindparam("item"),
                       s.c.reserved >= q)
                .values(values))

    @cached_property
    def order_id_for_external(self) -> sa.Select[Any]:
        """The id and command hash of the order placed as (``ch``, ``ext``)."""
        o = self._t.orders.c
        return sa.select(o.id, o.command_hash).where(o.channel == sa.bindparam("ch"),
                                                     o.external_id == sa.bindparam("ext"))

