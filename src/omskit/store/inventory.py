"""The inventory repository: locations, stock rows, reservations, supply and the ledger.

Stock rows are never read-modify-written: every change is one conditional ``UPDATE`` whose
``WHERE`` clause states the invariant (for a reservation, that enough stock is available), so
concurrent transactions can never take the same unit. Every change also appends a ledger row.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, time
from typing import Any

import cattrs
import sqlalchemy as sa

from omskit.domain.checks import MAX_STOCK_UNITS
from omskit.domain.errors import InsufficientStock, StockLimitExceeded
from omskit.domain.inventory import (
    Capability,
    IncomingSupply,
    LedgerEntry,
    Location,
    LocationKind,
    MovementKind,
    Reservation,
    ReservationStatus,
    StockItem,
    StockPosition,
    Supply,
    SupplyStatus,
)
from omskit.domain.promise import SoftReservation, SoftReservationStatus
from omskit.domain.values import Address, Coordinates, trimmed
from omskit.serialization import structure_optional
from omskit.store.backends import RowDemand, StoreBackend, backend_for
from omskit.store.pending import PendingRows
from omskit.store.statements import Statements
from omskit.store.stock_cache import StockCache
from omskit.store.tables import Tables

#: Ledger kinds of a cart's soft reservations; their reference is ``cart:<id>``.
SOFT_RESERVE = MovementKind.SOFT_RESERVE
SOFT_RELEASE = MovementKind.SOFT_RELEASE


def cart_reference(cart_id: str) -> str:
    """The ledger reference of a cart's soft reservations."""
    return f"cart:{cart_id}"


class LocationCache:
    """Parsed locations shared by every unit of work of one ``Oms``, keyed by code and
    checked against the row's ``updated_at`` (as the driver returns it, unconverted: only
    equality matters): routing reads every candidate location on every order, and locations
    change rarely. A stale entry is simply re-read."""

    def __init__(self) -> None:
        self._entries: dict[str, tuple[object, Location]] = {}

    def get(self, code: str, version: object) -> Location | None:
        """The location as of ``version``, if cached."""
        entry = self._entries.get(code)
        return entry[1] if entry is not None and entry[0] == version else None

    def put(self, location: Location, version: object) -> None:
        """Remember ``location`` as read at ``version``."""
        self._entries[location.code] = (version, location)

    def forget(self, code: str) -> None:
        """Drop the entry (the location is being saved: a fixed clock may keep its time)."""
        self._entries.pop(code, None)


class InventoryRepository:
    """Stock queries and movements on one connection (implements ``InventoryReader``)."""

    def __init__(self, conn: sa.Connection, tables: Tables, converter: cattrs.Converter,
                 shared_locations: LocationCache | None = None,
                 statements: Statements | None = None,
                 pending: PendingRows | None = None,
                 backend: StoreBackend | None = None) -> None:
        self._conn = conn
        self._t = tables
        self._c = converter
        self._s = statements or Statements(tables)
        self._backend = backend or backend_for(conn.dialect)
        self._pending = (pending if pending is not None
                         else PendingRows(conn, self._s, self._backend))
        self._locations: dict[str, Location] = {}
        self._shared = shared_locations or LocationCache()
        self._stock = StockCache()
        # SKUs whose every stock row this transaction holds locked (``lock_stock``), and
        # carts it holds the advisory lock of: taken once, kept until the transaction ends.
        self._locked: set[str] = set()
        self._carts_locked: set[str] = set()

    @property
    def stock_cache(self) -> StockCache:
        """The stock rows this transaction has read (read it, do not change it)."""
        return self._stock

    # -- locations ------------------------------------------------------------------------------

    def _location(self, row: Any) -> Location:
        cached = self._locations.get(row["code"])
        if cached is not None:
            return cached
        coordinates = None
        if row["lat"] is not None and row["lon"] is not None:
            coordinates = Coordinates(lat=row["lat"], lon=row["lon"])
        location = Location(
            code=row["code"], name=row["name"], kind=LocationKind(row["kind"]),
            coordinates=coordinates,
            address=structure_optional(self._c, row["address"], Address),
            capabilities=frozenset(Capability(c) for c in row["capabilities"]),
            daily_capacity=row["daily_capacity"], handling_cost=row["handling_cost"],
            active=row["active"], groups=frozenset(row["groups"] or ()),
            cutoff=time.fromisoformat(row["cutoff"]) if row["cutoff"] else None,
            processing_days=row["processing_days"], timezone=row["timezone"],
        )
        self._locations[location.code] = location
        return location

    def location(self, code: str) -> Location | None:
        """The location with this code, or None."""
        row = self._conn.execute(
            sa.select(self._t.locations).where(self._t.locations.c.code == code)
        ).mappings().one_or_none()
        return None if row is None else self._location(row)

    def locations(self) -> list[Location]:
        """Every location, by code."""
        rows = self._conn.execute(
            sa.select(self._t.locations).order_by(self._t.locations.c.code)).mappings()
        return [self._location(r) for r in rows]

    def save_location(self, location: Location, at: datetime) -> bool:
        """Insert or update ``location``; returns True if it was new."""
        t = self._t.locations
        row = {
            "code": location.code, "name": location.name, "kind": location.kind.value,
            "lat": location.coordinates.lat if location.coordinates else None,
            "lon": location.coordinates.lon if location.coordinates else None,
            "address": self._c.unstructure(location.address),
            "capabilities": sorted(c.value for c in location.capabilities),
            "daily_capacity": location.daily_capacity,
            "handling_cost": trimmed(location.handling_cost),
            "active": location.active, "updated_at": at,
            "groups": sorted(location.groups),
            "cutoff": location.cutoff.strftime("%H:%M") if location.cutoff else None,
            "processing_days": location.processing_days, "timezone": location.timezone,
        }
        self._locations.pop(location.code, None)
        self._shared.forget(location.code)
        # Cached stock rows carry the location's version and whether it is active.
        self._stock.clear()
        updated = self._conn.execute(t.update().where(t.c.code == location.code).values(row))
        if updated.rowcount == 1:
            return False
        self._conn.execute(t.insert(), [row])
        return True

    # -- stock reads ----------------------------------------------------------------------------

    def stock_item(self, location: str, sku: str) -> StockItem | None:
        """The stock row of ``sku`` at ``location``, or None."""
        s = self._t.stock_items
        row = self._conn.execute(
            sa.select(s).where(s.c.location == location, s.c.sku == sku)
        ).mappings().one_or_none()
        return None if row is None else StockItem(**row)

    def stock_items(self, sku: str) -> list[StockItem]:
        """Stock rows of ``sku`` at every location, by location code."""
        s = self._t.stock_items
        rows = self._conn.execute(
            sa.select(s).where(s.c.sku == sku).order_by(s.c.location)).mappings()
        return [StockItem(**r) for r in rows]

    def _read_stock(self, skus: Iterable[str], *, lock: bool = False) -> list[str]:
        """Make sure every stock row of ``skus`` is in this transaction's cache (one query
        for those not read yet; with ``lock``, those not locked yet are read again under row
        locks, in (location, SKU) order); returns the SKUs, deduplicated and sorted."""
        wanted = sorted(set(skus))
        if lock:
            fresh = [sku for sku in wanted if sku not in self._locked]
            if fresh:
                self.hold_locked(fresh, self._backend.stock_of_skus(
                    self._conn, self._s, fresh, lock=True))
        missing = self._stock.missing(wanted)
        if missing:
            self._stock.fill(missing, self._backend.stock_of_skus(
                self._conn, self._s, missing, lock=False))
        return wanted

    def unlocked(self, skus: Iterable[str]) -> list[str]:
        """Those of ``skus`` whose rows :meth:`lock_stock` would lock now, sorted: none
        where writers exclude each other without row locks."""
        if not self._backend.row_locks:
            return []
        return sorted({sku for sku in skus if isinstance(sku, str)} - self._locked)

    def hold_locked(self, skus: list[str], rows: Iterable[Sequence[Any]]) -> None:
        """Every stock row of ``skus``, just read under row locks in the global order by a
        statement that also read something else (``UnitOfWork.placed_for_external``): held
        as :meth:`lock_stock` holds what it reads."""
        self._stock.fill(skus, rows)
        self._locked.update(skus)

    def preload(self, skus: Iterable[str], *, lock: bool = False) -> None:
        """Read the stock rows of ``skus`` now, in one query, for the reads that follow in
        this transaction (a batch of orders reads its SKUs once, not once per order).

        ``lock``: as :meth:`lock_stock` for these SKUs (no carts); where writers exclude
        each other otherwise (SQLite), the rows are read unlocked.
        """
        found = (sku for sku in skus if isinstance(sku, str))
        self._read_stock(found, lock=lock and self._backend.row_locks)

    def lock_stock(self, skus: Iterable[str], *, carts: Iterable[str] = ()) -> None:
        """Lock every stock row this transaction may change, before it changes any: all rows
        of ``skus`` and of the SKUs ``carts`` actively hold, at every location, in ascending
        (location, SKU) order, in the statement that reads them into the stock cache (the
        transaction's first stock read costs nothing more).

        This is the one global lock order (decision 26). Routing cannot know in advance
        which rows its plan and re-plans will take, so every path that routes (placements,
        batches, cart holds, re-routes after a rejection or a release) locks every row its
        SKUs have, once; concurrent writers of those SKUs then queue instead of
        deadlocking. Each cart's advisory lock (:meth:`lock_cart`) and soft reservation
        rows come first, as a cart hold takes them. Rows already locked in this
        transaction are not asked for again, so calling it again for the same SKUs and
        carts costs nothing; calling it later for new SKUs would break the order (lock
        everything up front).

        Nothing where writers exclude each other without row locks (SQLite's write lock,
        decision 5): its path does not change.
        """
        if not self._backend.row_locks:
            return
        wanted = {sku for sku in skus if isinstance(sku, str)}
        for cart_id in sorted(set(carts) - self._carts_locked):
            self.lock_cart(cart_id)
            wanted.update(r.sku for r in self.soft_reservations(cart_id, for_update=True))
        self._read_stock(wanted, lock=True)

    def known_skus(self, skus: Iterable[str]) -> set[str]:
        """The subset of ``skus`` that has a stock row at any location, or open supply
        (stock on order or in transit) somewhere: a pre-order for incoming stock is valid."""
        wanted = self._read_stock(skus)
        known = {sku for sku in wanted if self._stock.known(sku)}
        expected = [sku for sku in wanted if sku not in known]
        if expected:
            sp = self._t.supplies
            known.update(self._conn.execute(
                sa.select(sp.c.sku).distinct()
                .where(sp.c.sku.in_(expected), sp.c.status == SupplyStatus.OPEN.value)
            ).scalars())
        return known

    def candidates(self, skus: Iterable[str]) -> list[tuple[Location, dict[str, int]]]:
        """Active locations with available-to-promise > 0 for any of ``skus``, with that ATP."""
        stock: dict[str, dict[str, int]] = {}
        for sku in self._read_stock(skus):
            for code, units in self._stock.promisable(sku):
                stock.setdefault(code, {})[sku] = units
        # The locations themselves come from the shared cache, checked by version.
        versions = {code: self._stock.location_version(code) for code in stock}
        loc = self._t.locations
        locations = {code: self._shared.get(code, at) for code, at in versions.items()}
        stale = sorted(code for code, found in locations.items() if found is None)
        if stale:
            rows = self._conn.execute(
                sa.select(loc, sa.type_coerce(loc.c.updated_at, sa.String).label("version"))
                .where(loc.c.code.in_(stale))).mappings()
            for row in rows:
                location = self._location(row)
                self._shared.put(location, row["version"])
                locations[row["code"]] = location
        return [(location, stock[code]) for code, location in locations.items()
                if location is not None]

    def positions(self, sku: str, *, active_only: bool = False) -> list[StockPosition]:
        """Stock of ``sku`` at every location that has a row or open supply for it.

        ``active_only`` leaves out inactive locations (their stock cannot be promised).
        """
        return self.positions_of([sku], active_only=active_only).get(sku, [])

    def positions_of(self, skus: Iterable[str], *,
                     active_only: bool = False) -> dict[str, list[StockPosition]]:
        """:meth:`positions` for several SKUs in two queries (three when open supply waits at
        a location with no stock row), by SKU then location code."""
        wanted = sorted(set(skus))
        if not wanted:
            return {}
        s, loc = self._t.stock_items, self._t.locations
        # The location's kind and state come with each stock row (a join), not from a second
        # query listing every location code: one SKU may be stocked at thousands.
        rows = self._conn.execute(
            sa.select(s.c.location, s.c.sku, s.c.on_hand, s.c.reserved, s.c.safety_stock,
                      loc.c.kind, loc.c.active)
            .join(loc, loc.c.code == s.c.location).where(s.c.sku.in_(wanted)))
        places: dict[str, tuple[LocationKind, bool]] = {}
        by_sku: dict[str, dict[str, tuple[int, int, int]]] = {sku: {} for sku in wanted}
        for location, sku, on_hand, reserved, safety, kind, active in rows:
            if location not in places:
                places[location] = (LocationKind(kind), bool(active))
            by_sku[sku][location] = (on_hand, reserved, safety)
        incoming = self.incoming(wanted)
        elsewhere = sorted({code for code, _ in incoming if code not in places})
        if elsewhere:
            for code, kind, active in self._conn.execute(
                    sa.select(loc.c.code, loc.c.kind, loc.c.active)
                    .where(loc.c.code.in_(elsewhere))):
                places[code] = (LocationKind(kind), bool(active))
        for code, sku in incoming:
            by_sku[sku].setdefault(code, (0, 0, 0))
        found: dict[str, list[StockPosition]] = {}
        for sku in wanted:
            positions = []
            for code, (on_hand, reserved, safety) in sorted(by_sku[sku].items()):
                kind, active = places.get(code, (LocationKind.WAREHOUSE, True))
                if active_only and not active:
                    continue
                positions.append(StockPosition(
                    location=code, location_kind=kind, on_hand=on_hand, reserved=reserved,
                    safety_stock=safety, incoming=tuple(incoming.get((code, sku), ()))))
            found[sku] = positions
        return found

    def incoming(self, skus: Sequence[str]) -> dict[tuple[str, str], list[IncomingSupply]]:
        """Open supply per (location, SKU), earliest ETA first."""
        sp = self._t.supplies
        rows = self._conn.execute(
            sa.select(sp.c.location, sp.c.sku, sp.c.eta, sp.c.quantity)
            .where(sp.c.sku.in_(list(skus)), sp.c.status == SupplyStatus.OPEN.value,
                   # A ship-to-store transfer is that pickup order's, nobody else's.
                   sp.c.order_id.is_(None))
            .order_by(sp.c.eta)
        )
        found: dict[tuple[str, str], list[IncomingSupply]] = defaultdict(list)
        for location, sku, eta, quantity in rows:
            found[(location, sku)].append(IncomingSupply(eta=eta, quantity=quantity))
        return found

    # -- stock movements ------------------------------------------------------------------------

    def _log(self, location: str, sku: str, kind: MovementKind, on_hand: int, reserved: int,
             reference: str, at: datetime, idempotency_key: str | None = None) -> None:
        self._pending.add(self._t.inventory_ledger, (
            {"location": location, "sku": sku, "kind": kind.value, "on_hand_delta": on_hand,
             "reserved_delta": reserved, "reference": reference,
             "idempotency_key": idempotency_key, "occurred_at": at},))

    def has_movement(self, location: str, sku: str, kind: MovementKind,
                     idempotency_key: str) -> bool:
        """Whether a movement with this idempotency key was already recorded."""
        g = self._t.inventory_ledger
        found = self._conn.execute(
            sa.select(g.c.id).where(g.c.location == location, g.c.sku == sku,
                                    g.c.kind == kind.value,
                                    g.c.idempotency_key == idempotency_key).limit(1)
        ).first()
        return found is not None

    def add_on_hand(self, location: str, sku: str, quantity: int, kind: MovementKind,
                    reference: str, at: datetime, idempotency_key: str | None = None) -> None:
        """Add ``quantity`` to on-hand stock, creating the stock row if needed.

        :class:`StockLimitExceeded` if the row would hold more than ``MAX_STOCK_UNITS``: the
        update's condition says so (``on_hand <= limit - quantity``, which cannot itself
        overflow), so the check costs no statement and no race can pass it.
        """
        self._stock.forget(sku)
        added = self._backend.add_on_hand(self._conn, self._t.stock_items, location, sku,
                                          quantity, MAX_STOCK_UNITS)
        if not added:
            raise StockLimitExceeded(location, sku, quantity, MAX_STOCK_UNITS)
        self._log(location, sku, kind, quantity, 0, reference, at, idempotency_key)

    def remove_on_hand(self, location: str, sku: str, quantity: int, kind: MovementKind,
                       reference: str, at: datetime, idempotency_key: str | None = None) -> None:
        """Take ``quantity`` out of on-hand stock without touching reserved units."""
        s = self._t.stock_items
        self._stock.forget(sku)
        done = self._conn.execute(
            s.update()
            .where(s.c.location == location, s.c.sku == sku,
                   s.c.on_hand - s.c.reserved >= quantity)
            .values(on_hand=s.c.on_hand - quantity))
        if done.rowcount != 1:
            item = self.stock_item(location, sku)
            free = item.on_hand - item.reserved if item else 0
            raise InsufficientStock(location, sku, quantity, free)
        self._log(location, sku, kind, -quantity, 0, reference, at, idempotency_key)

    def lock_rows(self, rows: Iterable[tuple[str, str]]) -> None:
        """Lock these (location, SKU) stock rows in sorted order before changing them.

        Taking the locks in one fixed order keeps two transactions that touch the same rows
        from waiting on each other in a cycle (a transfer A→B against one B→A).
        """
        s = self._t.stock_items
        for location, sku in sorted(set(rows)):
            self._conn.execute(sa.select(s.c.location).where(s.c.location == location,
                                                             s.c.sku == sku).with_for_update())

    def set_safety_stock(self, location: str, sku: str, safety_stock: int) -> None:
        """Set the units kept back from promising at ``location``."""
        s = self._t.stock_items
        self._stock.forget(sku)
        self._conn.execute(s.update().where(s.c.location == location, s.c.sku == sku)
                           .values(safety_stock=safety_stock))

    def reserve(self, location: str, sku: str, quantity: int, reference: str,
                at: datetime) -> bool:
        """Reserve ``quantity`` if that much is available to promise; False if not (the
        reservation contract, ``StoreBackend``, for one item)."""
        if not self._take([(location, sku, quantity)]):
            return False
        self._log(location, sku, MovementKind.RESERVE, 0, quantity, reference, at)
        return True

    def reserve_arrived(self, location: str, sku: str, quantity: int, reference: str,
                        at: datetime) -> None:
        """Reserve units that just arrived for one order (a ship-to-store transfer): they
        were sent for it, so safety stock does not hold them back; only what is on hand
        and unreserved can be taken (``InsufficientStock`` otherwise)."""
        s = self._t.stock_items
        self._stock.forget(sku)
        done = self._conn.execute(
            s.update()
            .where(s.c.location == location, s.c.sku == sku,
                   s.c.on_hand - s.c.reserved >= quantity)
            .values(reserved=s.c.reserved + quantity))
        if done.rowcount != 1:
            item = self.stock_item(location, sku)
            free = item.on_hand - item.reserved if item else 0
            raise InsufficientStock(location, sku, quantity, free)
        self._log(location, sku, MovementKind.RESERVE, 0, quantity, reference, at)

    def reserve_many(self, items: Sequence[tuple[str, str, int]], reference: str,
                     at: datetime) -> list[bool]:
        """Reserve each (location, SKU, quantity) of ``items`` in one statement; returns
        which were reserved, item by item.

        The reservation contract (``StoreBackend``): items on the same stock row are
        reserved together, all or none, if the row has their total available to promise
        when the statement runs; rows are independent; a short, unknown or concurrently
        changed row answers False for its items and never raises. Rows are locked in
        (location, SKU) order whatever the order of ``items``.
        """
        totals: dict[tuple[str, str], int] = {}
        for location, sku, quantity in items:
            totals[(location, sku)] = totals.get((location, sku), 0) + quantity
        taken = self._take([(location, sku, total)
                            for (location, sku), total in sorted(totals.items())])
        done = [(location, sku) in taken for location, sku, _ in items]
        for (location, sku, quantity), ok in zip(items, done, strict=True):
            if ok:
                self._log(location, sku, MovementKind.RESERVE, 0, quantity, reference, at)
        return done

    def _take(self, rows: Sequence[RowDemand]) -> set[tuple[str, str]]:
        """Reserve from distinct stock rows, in (location, SKU) order, through the backend;
        the rows reserved. The cache notes each row taken and forgets the SKU of each row
        refused (its rows were stale, or never read)."""
        # No row holds more than MAX_STOCK_UNITS: a larger total is short without asking
        # (and would overflow PostgreSQL's integer columns).
        wanted = [row for row in rows if row[2] <= MAX_STOCK_UNITS]
        taken = self._backend.reserve_rows(self._conn, self._s, wanted) if wanted else set()
        for location, sku, quantity in rows:
            if (location, sku) in taken:
                self._stock.note_reserved(location, sku, quantity)
            else:
                self._stock.forget(sku)
        return taken

    def _unreserve(self, location: str, sku: str, quantity: int, ship: bool) -> None:
        done = self._conn.execute(self._s.consume if ship else self._s.unreserve,
                                  {"loc": location, "item": sku, "q": quantity})
        if done.rowcount != 1:  # a broken invariant, not a user error
            raise RuntimeError(f"{location}/{sku}: fewer than {quantity} units reserved")
        if sku in self._locked:
            # Nobody else can move a locked row: the cache stays exact, and a re-route right
            # after (a rejection) plans from it without reading the rows again.
            self._stock.note_given_back(location, sku, quantity, shipped=ship)
        else:
            self._stock.forget(sku)

    def release(self, location: str, sku: str, quantity: int, reference: str,
                at: datetime) -> None:
        """Give ``quantity`` reserved units back to available stock."""
        self._unreserve(location, sku, quantity, ship=False)
        self._log(location, sku, MovementKind.RELEASE, 0, -quantity, reference, at)

    def consume(self, location: str, sku: str, quantity: int, reference: str,
                at: datetime) -> None:
        """Ship ``quantity`` reserved units: they leave on-hand and reserved stock."""
        self._unreserve(location, sku, quantity, ship=True)
        self._log(location, sku, MovementKind.SHIP, -quantity, -quantity, reference, at)

    # -- reservations ---------------------------------------------------------------------------

    def add_reservations(self, reservations: Sequence[Reservation]) -> None:
        """Insert reservation records (the stock was reserved with :meth:`reserve`)."""
        if reservations:
            self._pending.add(self._t.reservations, [_reservation_row(r) for r in reservations])

    def active_reservations(self, order_id: str,
                            fulfillment_order_id: str | None = None) -> list[Reservation]:
        """Active reservations of an order (or of one of its fulfilment orders)."""
        self._pending.flush()
        r = self._t.reservations
        stmt = sa.select(r).where(r.c.order_id == order_id,
                                  r.c.status == ReservationStatus.ACTIVE.value)
        if fulfillment_order_id is not None:
            stmt = stmt.where(r.c.fulfillment_order_id == fulfillment_order_id)
        rows = self._conn.execute(stmt.order_by(r.c.location, r.c.sku, r.c.id)).mappings()
        return [self._c.structure(dict(row), Reservation) for row in rows]

    def reduce_reservation(self, reservation_id: str, quantity: int) -> None:
        """Hold ``quantity`` fewer units in an active reservation (a line cancellation took
        part of it; the stock itself is given back with :meth:`release`)."""
        self._pending.flush()
        r = self._t.reservations
        done = self._conn.execute(
            r.update().where(r.c.id == reservation_id,
                             r.c.status == ReservationStatus.ACTIVE.value,
                             r.c.quantity > quantity)
            .values(quantity=r.c.quantity - quantity))
        if done.rowcount != 1:  # a broken invariant, not a user error
            raise RuntimeError(f"reservation {reservation_id}: cannot hold {quantity} fewer")

    def set_reservation_status(self, ids: Iterable[str], status: ReservationStatus) -> None:
        """Mark reservations consumed or released."""
        ids = list(ids)
        if ids:
            self._pending.flush()
            r = self._t.reservations
            self._conn.execute(r.update().where(r.c.id.in_(ids)).values(status=status.value))

    # -- soft reservations (carts) --------------------------------------------------------------

    def lock_cart(self, cart_id: str) -> None:
        """Serialise the transactions changing one cart's hold until this one ends.

        Row locks cannot do it: a cart's first hold has no row to lock, and rows a
        concurrent re-hold inserts are invisible to this transaction's ``FOR UPDATE``, so
        two holds of one cart could both commit. PostgreSQL takes a transaction-scoped
        advisory lock on a hash of the table and cart; SQLite needs nothing, every write
        transaction already holds the database's write lock (``BEGIN IMMEDIATE``).
        """
        if cart_id in self._carts_locked:
            return  # held until this transaction ends
        digest = hashlib.blake2b(f"{self._t.soft_reservations.fullname}\0{cart_id}".encode(),
                                 digest_size=8).digest()
        self._backend.lock_key(self._conn, int.from_bytes(digest, "big", signed=True))
        self._carts_locked.add(cart_id)

    def soft_reserve(self, location: str, sku: str, quantity: int, cart_id: str,
                     at: datetime) -> bool:
        """Hold ``quantity`` for a cart if that much is available to promise; False if not.

        The same conditional update as an order's reservation: the units count as reserved.
        """
        if not self._take([(location, sku, quantity)]):
            return False
        self._log(location, sku, SOFT_RESERVE, 0, quantity, cart_reference(cart_id), at)
        return True

    def soft_unreserve(self, location: str, sku: str, quantity: int, cart_id: str,
                       at: datetime) -> None:
        """Give a cart's held units back to available stock."""
        self._unreserve(location, sku, quantity, ship=False)
        self._log(location, sku, SOFT_RELEASE, 0, -quantity, cart_reference(cart_id), at)

    def add_soft_reservations(self, reservations: Sequence[SoftReservation]) -> None:
        """Insert soft reservation rows (the stock was held with :meth:`soft_reserve`)."""
        if reservations:
            self._conn.execute(self._t.soft_reservations.insert(),
                               [self._soft_row(r) for r in reservations])

    @staticmethod
    def _soft_row(r: SoftReservation) -> dict[str, Any]:
        return {"id": r.id, "cart_id": r.cart_id, "location": r.location, "sku": r.sku,
                "quantity": r.quantity, "status": r.status.value, "created_at": r.created_at,
                "expires_at": r.expires_at, "ended_at": r.ended_at}

    @staticmethod
    def _soft(row: Any) -> SoftReservation:
        return SoftReservation(
            id=row["id"], cart_id=row["cart_id"], location=row["location"], sku=row["sku"],
            quantity=row["quantity"], status=SoftReservationStatus(row["status"]),
            created_at=row["created_at"], expires_at=row["expires_at"],
            ended_at=row["ended_at"])

    def soft_reservations(self, cart_id: str, *, active_only: bool = True,
                          for_update: bool = False) -> list[SoftReservation]:
        """A cart's soft reservations (active ones by default), by location, SKU and id."""
        sr = self._t.soft_reservations
        stmt = sa.select(sr).where(sr.c.cart_id == cart_id)
        if active_only:
            stmt = stmt.where(sr.c.status == SoftReservationStatus.ACTIVE.value)
        stmt = stmt.order_by(sr.c.location, sr.c.sku, sr.c.id)
        if for_update:
            stmt = stmt.with_for_update()
        return [self._soft(r) for r in self._conn.execute(stmt).mappings()]

    def cart_known(self, cart_id: str) -> bool:
        """Whether the cart ever held anything (active or not)."""
        sr = self._t.soft_reservations
        return self._conn.execute(
            sa.select(sr.c.id).where(sr.c.cart_id == cart_id).limit(1)).first() is not None

    def lapsed_soft_reservations(self, at: datetime, limit: int) -> list[SoftReservation]:
        """Up to ``limit`` active soft reservations expired by ``at``, locked for this
        transaction, by location and SKU (the lock order of stock rows).

        On PostgreSQL rows another sweeper has locked are skipped (``SKIP LOCKED``), so
        concurrent sweepers share the work; on SQLite the write lock serialises them.
        """
        sr = self._t.soft_reservations
        stmt = (sa.select(sr)
                .where(sr.c.status == SoftReservationStatus.ACTIVE.value, sr.c.expires_at <= at)
                .order_by(sr.c.location, sr.c.sku, sr.c.id).limit(limit)
                .with_for_update(skip_locked=True))
        return [self._soft(r) for r in self._conn.execute(stmt).mappings()]

    def end_soft_reservation(self, reservation_id: str, status: SoftReservationStatus,
                             at: datetime) -> bool:
        """Move an active soft reservation to ``status``; False if it was no longer active.

        The ``WHERE status = 'active'`` makes ending exactly-once: of two transactions
        ending the same row, the second waits for the first's row lock, re-evaluates the
        condition and matches nothing, so its caller must not release the units again.
        """
        sr = self._t.soft_reservations
        done = self._conn.execute(
            sr.update().where(sr.c.id == reservation_id,
                              sr.c.status == SoftReservationStatus.ACTIVE.value)
            .values(status=status.value, ended_at=at))
        return done.rowcount == 1

    def soft_held(self, cart_id: str) -> dict[tuple[str, str], int]:
        """Units a cart holds actively, per (location, SKU)."""
        held: dict[tuple[str, str], int] = defaultdict(int)
        for r in self.soft_reservations(cart_id):
            held[(r.location, r.sku)] += r.quantity
        return dict(held)

    # -- supply ---------------------------------------------------------------------------------

    def add_supply(self, supply: Supply) -> None:
        """Insert expected stock."""
        self._conn.execute(self._t.supplies.insert(), [self._c.unstructure(supply)])

    def supply(self, supply_id: str, *, for_update: bool = False) -> Supply | None:
        """The supply record with this id, or None."""
        sp = self._t.supplies
        stmt = sa.select(sp).where(sp.c.id == supply_id)
        if for_update:
            stmt = stmt.with_for_update()
        row = self._conn.execute(stmt).mappings().one_or_none()
        return None if row is None else self._c.structure(dict(row), Supply)

    def transfers_for(self, fulfillment_order_id: str) -> list[Supply]:
        """Open ship-to-store transfers reserved for this fulfilment order, earliest first."""
        sp = self._t.supplies
        rows = self._conn.execute(
            sa.select(sp).where(sp.c.fulfillment_order_id == fulfillment_order_id,
                                sp.c.status == SupplyStatus.OPEN.value)
            .order_by(sp.c.eta, sp.c.id)).mappings()
        return [self._c.structure(dict(row), Supply) for row in rows]

    def set_supply_status(self, supply_id: str, status: SupplyStatus) -> bool:
        """Close an open supply record; False if it was no longer open (idempotent retry)."""
        sp = self._t.supplies
        done = self._conn.execute(
            sp.update().where(sp.c.id == supply_id, sp.c.status == SupplyStatus.OPEN.value)
            .values(status=status.value))
        return done.rowcount == 1

    # -- audit ----------------------------------------------------------------------------------

    def ledger(self, location: str, sku: str) -> list[LedgerEntry]:
        """Every movement of ``sku`` at ``location``, oldest first."""
        g = self._t.inventory_ledger
        rows = self._conn.execute(
            sa.select(g).where(g.c.location == location, g.c.sku == sku).order_by(g.c.id)
        ).mappings()
        return [self._c.structure(dict(row), LedgerEntry) for row in rows]

    def ledger_mismatches(self) -> list[tuple[str, str]]:
        """(location, SKU) pairs whose ledger does not sum to the stock row: must be empty."""
        s, g = self._t.stock_items, self._t.inventory_ledger
        sums = (
            sa.select(g.c.location, g.c.sku,
                      sa.func.sum(g.c.on_hand_delta).label("on_hand"),
                      sa.func.sum(g.c.reserved_delta).label("reserved"))
            .group_by(g.c.location, g.c.sku).subquery()
        )
        stmt = (
            sa.select(s.c.location, s.c.sku)
            .outerjoin(sums, sa.and_(sums.c.location == s.c.location, sums.c.sku == s.c.sku))
            .where(sa.or_(sa.func.coalesce(sums.c.on_hand, 0) != s.c.on_hand,
                          sa.func.coalesce(sums.c.reserved, 0) != s.c.reserved))
        )
        return [(a, b) for a, b in self._conn.execute(stmt)]


def _reservation_row(r: Reservation) -> dict[str, Any]:
    # By hand rather than through the converter: this runs for every line of every order.
    return {"id": r.id, "order_id": r.order_id, "line_id": r.line_id,
            "fulfillment_order_id": r.fulfillment_order_id, "location": r.location,
            "sku": r.sku, "quantity": r.quantity, "status": r.status.value,
            "created_at": r.created_at, "expires_at": r.expires_at}
