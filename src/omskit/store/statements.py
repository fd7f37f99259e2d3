"""Statements built once per set of tables and reused by every unit of work.

Building a SQLAlchemy statement and its cache key costs more Python time than SQLite takes to
run it: the hot path of placing an order (stock reads, conditional reservations, inserts)
uses these prebuilt statements with bound parameters instead (see decision 14).
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import sqlalchemy as sa

from omskit.store.tables import Tables


class Statements:
    """The prebuilt statements of one :class:`Tables`."""

    def __init__(self, tables: Tables) -> None:
        self._t = tables
        self._inserts: dict[str, sa.Insert] = {}
        self._reserve_unnest: str | None = None
        #: PostgreSQL's insert-everything statements by shape (tables and their columns),
        #: built by ``omskit.store.pending``; a deployment has a handful.
        self.insert_ctes: dict[Any, tuple[str, list[frozenset[str]]]] = {}
        #: SQLite's driver-level inserts and their columns' bind processors, by table and
        #: columns, built by ``omskit.store.pending``.
        self.driver_inserts: dict[Any, tuple[str, list[tuple[int, Any, bool]]]] = {}
        #: Each table's place in dependency order (parents first), for flushing inserts.
        self.rank: dict[str, int] = {t.name: i for i, t in enumerate(tables.all())}

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
        s, loc = self._t.stock_items, self._t.locations
        return (sa.select(s.c.location, s.c.sku, s.c.on_hand, s.c.reserved, s.c.safety_stock,
                          sa.type_coerce(loc.c.updated_at, sa.String), loc.c.active)
                .join(loc, loc.c.code == s.c.location)
                .where(s.c.sku.in_(sa.bindparam("skus", expanding=True))))

    @cached_property
    def stock_of_skus_locked(self) -> sa.Executable:
        """:attr:`stock_of_skus`, locking the stock rows in (location, SKU) order: the one
        global lock order every multi-row writer follows (PostgreSQL)."""
        s = self._t.stock_items
        select = self.stock_of_skus
        assert isinstance(select, sa.Select)
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
    def order_id_for_external(self) -> sa.Executable:
        """The id and command hash of the order placed as (``ch``, ``ext``)."""
        o = self._t.orders.c
        return sa.select(o.id, o.command_hash).where(o.channel == sa.bindparam("ch"),
                                                     o.external_id == sa.bindparam("ext"))

    def reserve_unnest(self, dialect: sa.Dialect) -> str:
        """PostgreSQL's driver-level SQL reserving many rows at once: the arrays
        ``locations``, ``skus`` and ``quantities`` in lock order; returns the 1-based
        positions that were reserved."""
        if self._reserve_unnest is None:
            # Only the table name is interpolated, quoted by the dialect's preparer.
            name = dialect.identifier_preparer.format_table(self._t.stock_items)
            self._reserve_unnest = (
                f"UPDATE {name} AS s SET reserved = s.reserved + w.q "
                "FROM unnest(CAST(%(locations)s AS text[]), CAST(%(skus)s AS text[]), "
                "CAST(%(quantities)s AS integer[])) WITH ORDINALITY AS w(location, sku, q, n) "
                "WHERE s.location = w.location AND s.sku = w.sku "
                "AND s.on_hand - s.reserved - s.safety_stock >= w.q RETURNING w.n")
        return self._reserve_unnest
