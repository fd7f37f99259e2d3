"""Hypothesis: the per-transaction stock cache equals the database for every SKU it holds.

Random movements go through one ``InventoryRepository`` inside one transaction (receipts,
adjustments both ways, reservations one by one and by plan, releases, shipments, safety
stock, cart holds and their release, locations switched off and on), interleaved with the
reads that fill the cache (preload, locked preload, ``lock_stock``, candidates, known SKUs).
After every step, every SKU the cache holds has exactly the database's stock rows, as this
transaction sees them, and each of those rows' location has the database's active flag.
Every example rolls its transaction back, so the examples of one run share a database.

Runs on SQLite and PostgreSQL (``make_oms``).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from datetime import UTC, datetime

import attrs
import sqlalchemy as sa
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from omskit import Oms
from omskit.domain.errors import InsufficientStock
from omskit.domain.inventory import Location, MovementKind
from omskit.store.backends import backend_for
from omskit.store.inventory import InventoryRepository
from omskit.store.pending import PendingRows
from omskit.store.statements import Statements
from omskit.testing import location
from tests.support import MILAN, NAPLES, ROME

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PLACES = {"milan": MILAN, "rome": ROME, "naples": NAPLES}
SKUS = ("A", "B", "C", "D")

places = st.sampled_from(sorted(PLACES))
skus = st.sampled_from(SKUS)
units = st.integers(1, 12)
items = st.lists(st.tuples(places, skus, units), min_size=1, max_size=5)
sku_sets = st.lists(skus, min_size=1, max_size=4)


def seed(oms: Oms) -> None:
    """Locations, and stock for some rows (others appear as the machine receives)."""
    for code, (lat, lon) in PLACES.items():
        oms.inventory.save_location(location(code, lat, lon))
    oms.inventory.receive("milan", "A", 20)
    oms.inventory.receive("milan", "B", 8)
    oms.inventory.receive("rome", "A", 5)
    oms.inventory.receive("naples", "C", 12)
    oms.inventory.set_safety_stock("naples", "C", 3)


class StockCacheMatchesDatabase(RuleBasedStateMachine):
    """One transaction's movements and reads; the cache is checked after each step."""

    def __init__(self, oms: Oms) -> None:
        super().__init__()
        self.oms = oms
        self.conn = oms.engine.connect()
        self.tx = self.conn.begin()
        statements = Statements(oms.tables)
        backend = backend_for(self.conn.dialect)
        self.repo = InventoryRepository(
            self.conn, oms.tables, oms.converter, statements=statements,
            pending=PendingRows(self.conn, statements, backend), backend=backend)
        self.locations: dict[str, Location] = {
            code: location(code, lat, lon) for code, (lat, lon) in PLACES.items()}

    def teardown(self) -> None:
        self.tx.rollback()
        self.conn.close()

    def reserved(self, where: str, sku: str) -> int:
        s = self.oms.tables.stock_items
        found = self.conn.execute(sa.select(s.c.reserved).where(
            s.c.location == where, s.c.sku == sku)).scalar()
        return found or 0

    # -- reads that fill the cache ----------------------------------------------------------

    @rule(wanted=sku_sets)
    def preload(self, wanted: list[str]) -> None:
        self.repo.preload(wanted)

    @rule(wanted=sku_sets)
    def preload_locked(self, wanted: list[str]) -> None:
        self.repo.preload(wanted, lock=True)

    @rule(wanted=sku_sets)
    def lock_stock(self, wanted: list[str]) -> None:
        self.repo.lock_stock(wanted, carts=["cart-1"])

    @rule(wanted=sku_sets)
    def candidates(self, wanted: list[str]) -> None:
        self.repo.candidates(wanted)

    @rule(wanted=sku_sets)
    def known_skus(self, wanted: list[str]) -> None:
        known = self.repo.known_skus(wanted)
        assert known <= set(wanted)

    # -- movements --------------------------------------------------------------------------

    @rule(where=places, sku=skus, quantity=units)
    def receive(self, where: str, sku: str, quantity: int) -> None:
        self.repo.add_on_hand(where, sku, quantity, MovementKind.RECEIVE, "receipt", AT)

    @rule(where=places, sku=skus, delta=st.integers(-10, 10).filter(bool))
    def adjust(self, where: str, sku: str, delta: int) -> None:
        if delta > 0:
            self.repo.add_on_hand(where, sku, delta, MovementKind.ADJUST, "count", AT)
            return
        with suppress(InsufficientStock):  # then nothing changed (the cache forgot the SKU)
            self.repo.remove_on_hand(where, sku, -delta, MovementKind.ADJUST, "count", AT)

    @rule(where=places, sku=skus, quantity=units)
    def reserve(self, where: str, sku: str, quantity: int) -> None:
        self.repo.reserve(where, sku, quantity, "order", AT)

    @rule(plan=items)
    def reserve_many(self, plan: list[tuple[str, str, int]]) -> None:
        self.repo.reserve_many(plan, "order", AT)

    @rule(where=places, sku=skus, quantity=units)
    def release(self, where: str, sku: str, quantity: int) -> None:
        quantity = min(quantity, self.reserved(where, sku))
        if quantity:
            self.repo.release(where, sku, quantity, "order", AT)

    @rule(where=places, sku=skus, quantity=units)
    def ship(self, where: str, sku: str, quantity: int) -> None:
        quantity = min(quantity, self.reserved(where, sku))
        if quantity:
            self.repo.consume(where, sku, quantity, "order", AT)

    @rule(where=places, sku=skus, safety=st.integers(0, 8))
    def set_safety_stock(self, where: str, sku: str, safety: int) -> None:
        self.repo.set_safety_stock(where, sku, safety)

    @rule(where=places, sku=skus, quantity=units)
    def soft_reserve(self, where: str, sku: str, quantity: int) -> None:
        self.repo.soft_reserve(where, sku, quantity, "cart-1", AT)

    @rule(where=places, sku=skus, quantity=units)
    def soft_unreserve(self, where: str, sku: str, quantity: int) -> None:
        quantity = min(quantity, self.reserved(where, sku))
        if quantity:
            self.repo.soft_unreserve(where, sku, quantity, "cart-1", AT)

    @rule(where=places, active=st.booleans())
    def switch_location(self, where: str, active: bool) -> None:
        self.locations[where] = attrs.evolve(self.locations[where], active=active)
        self.repo.save_location(self.locations[where], AT)

    # -- the property -----------------------------------------------------------------------

    @invariant()
    def cache_equals_database(self) -> None:
        cache = self.repo.stock_cache
        held = cache.skus()
        if not held:
            return
        s, loc = self.oms.tables.stock_items, self.oms.tables.locations
        database: dict[str, dict[str, tuple[int, int, int]]] = {sku: {} for sku in held}
        active: dict[str, bool] = {}
        for where, sku, on_hand, reserved, safety, is_active in self.conn.execute(
                sa.select(s.c.location, s.c.sku, s.c.on_hand, s.c.reserved, s.c.safety_stock,
                          loc.c.active)
                .join(loc, loc.c.code == s.c.location).where(s.c.sku.in_(held))):
            database[sku][where] = (on_hand, reserved, safety)
            active[where] = bool(is_active)
        for sku in held:
            cached = {where: tuple(row) for where, row in cache.rows(sku).items()}
            assert cached == database[sku], sku
            assert cache.known(sku) is bool(database[sku])
            for where, (on_hand, reserved, safety) in database[sku].items():
                assert cache.available(where, sku) == on_hand - reserved - safety
            promisable = dict(cache.promisable(sku))
            assert promisable == {
                where: on_hand - reserved - safety
                for where, (on_hand, reserved, safety) in database[sku].items()
                if on_hand - reserved - safety > 0 and active[where]}


def test_the_stock_cache_equals_the_database_after_random_movements(
        make_oms: Callable[..., Oms]) -> None:
    oms = make_oms()
    seed(oms)
    run_state_machine_as_test(
        lambda: StockCacheMatchesDatabase(oms),
        settings=settings(settings.default,
                          max_examples=max(10, settings.default.max_examples // 3),
                          stateful_step_count=30))
