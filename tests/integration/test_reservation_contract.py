"""The reservation contract (``omskit.store.backends.StoreBackend``), on both databases and
every path.

The same items get the same answers on SQLite and PostgreSQL, whether the plan goes out as
the dialect's one statement (``UPDATE ... FROM json_each`` / ``unnest``) or as one
conditional update per row (the portable path, and every single-row reservation):

- items on the same (location, SKU) row are reserved together, all or none;
- rows are independent: a short or unknown row changes nothing for the others;
- a row is available when ``on_hand - reserved - safety_stock`` covers the total;
- the row as it stands when the statement runs decides, not what the transaction read
  before (another transaction's commit included);
- a short row is an answer (False), never an error.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from omskit import Oms
from omskit.domain.checks import MAX_STOCK_UNITS
from omskit.store.backends import PortableBackend, StoreBackend, backend_for
from omskit.store.engine import normalise_url
from omskit.store.inventory import InventoryRepository
from omskit.store.pending import PendingRows
from omskit.store.statements import Statements
from omskit.testing import TestDatabase, location
from tests.support import MILAN, ROME, stock_rows

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
Item = tuple[str, str, int]

#: Available to promise before each case: on_hand - reserved - safety_stock.
#: milan/A 10, milan/B 5, rome/A 3 - 2 = 1 (safety stock 2), rome/C 4.
CASES: dict[str, tuple[list[Item], list[bool]]] = {
    "one row twice, total available": (
        [("milan", "A", 4), ("milan", "A", 6)], [True, True]),
    "one row twice, total short though each alone fits": (
        [("milan", "A", 6), ("milan", "A", 5)], [False, False]),
    "one row twice beside another row": (
        [("milan", "A", 6), ("milan", "B", 5), ("milan", "A", 5)], [False, True, False]),
    "several rows, one short": (
        [("milan", "A", 2), ("milan", "B", 6), ("rome", "C", 4)], [True, False, True]),
    "unknown SKU and unknown location": (
        [("milan", "A", 1), ("milan", "Z", 1), ("nowhere", "A", 1)], [True, False, False]),
    "safety stock is not available": (
        [("milan", "B", 1), ("rome", "A", 2)], [True, False]),
    "safety stock: exactly what is left above it": (
        [("milan", "B", 1), ("rome", "A", 1)], [True, True]),
    "items in any order, answered in that order": (
        [("rome", "C", 1), ("milan", "B", 5), ("milan", "A", 11), ("rome", "C", 3)],
        [True, True, False, True]),
    "a total beyond any row's limit is short, not an error": (
        [("milan", "A", MAX_STOCK_UNITS), ("milan", "A", MAX_STOCK_UNITS), ("rome", "C", 1)],
        [False, False, True]),
}

#: One item alone: reserve, soft_reserve and reserve_many must agree.
SINGLE: dict[str, tuple[Item, bool]] = {
    "all that is available": (("milan", "A", 10), True),
    "one more than available": (("milan", "A", 11), False),
    "into safety stock": (("rome", "A", 2), False),
    "unknown row": (("milan", "Z", 1), False),
    "beyond the stock limit": (("milan", "A", MAX_STOCK_UNITS + 1), False),
}

#: The backends every case runs through: the database's own, and the portable one (one
#: conditional update per row) on the same database.
PATHS = ("dialect", "portable")


def stock(oms: Oms) -> None:
    oms.inventory.save_location(location("milan", *MILAN))
    oms.inventory.save_location(location("rome", *ROME))
    oms.inventory.receive("milan", "A", 10)
    oms.inventory.receive("milan", "B", 5)
    oms.inventory.receive("rome", "A", 3)
    oms.inventory.set_safety_stock("rome", "A", 2)
    oms.inventory.receive("rome", "C", 4)


def backend(conn: sa.Connection, path: str) -> StoreBackend:
    return backend_for(conn.dialect) if path == "dialect" else PortableBackend()


@contextmanager
def repository(oms: Oms, conn: sa.Connection, path: str) -> Iterator[InventoryRepository]:
    """A repository in a transaction on ``conn`` that is rolled back afterwards."""
    chosen = backend(conn, path)
    statements = Statements(oms.tables)
    tx = conn.begin()
    try:
        pending = PendingRows(conn, statements, chosen)
        yield InventoryRepository(conn, oms.tables, oms.converter, statements=statements,
                                  pending=pending, backend=chosen)
        pending.flush()
    finally:
        tx.rollback()


def reserved_in(conn: sa.Connection, oms: Oms) -> dict[tuple[str, str], int]:
    s = oms.tables.stock_items
    return {(r.location, r.sku): r.reserved
            for r in conn.execute(sa.select(s.c.location, s.c.sku, s.c.reserved))}


def logged_in(conn: sa.Connection, oms: Oms, reference: str) -> dict[tuple[str, str], int]:
    g = oms.tables.inventory_ledger
    rows = conn.execute(sa.select(g.c.location, g.c.sku, sa.func.sum(g.c.reserved_delta))
                        .where(g.c.reference == reference).group_by(g.c.location, g.c.sku))
    return {(location, sku): total for location, sku, total in rows}


def expected_reserved(items: Sequence[Item], answers: Sequence[bool]
                      ) -> dict[tuple[str, str], int]:
    taken: dict[tuple[str, str], int] = {}
    for (where, sku, quantity), ok in zip(items, answers, strict=True):
        if ok:
            taken[(where, sku)] = taken.get((where, sku), 0) + quantity
    return taken


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_same_items_get_the_same_answers_on_every_path(oms: Oms, case: str) -> None:
    items, answers = CASES[case]
    stock(oms)
    before = {key: row.reserved for key, row in stock_rows(oms).items()}
    taken = expected_reserved(items, answers)
    for path in PATHS:
        for preloaded in (False, True):  # the cache's content must not change the answer
            with oms.engine.connect() as conn, repository(oms, conn, path) as repo:
                if preloaded:
                    repo.preload(sku for _, sku, _ in items)
                got = repo.reserve_many(items, "plan", AT)
                assert got == answers, (path, preloaded)
                repo._pending.flush()
                after = reserved_in(conn, oms)
                assert {k: after[k] - before[k] for k in after if after[k] != before[k]} == taken
                assert logged_in(conn, oms, "plan") == taken
    assert {key: row.reserved for key, row in stock_rows(oms).items()} == before


@pytest.mark.parametrize("case", sorted(SINGLE))
def test_one_item_gets_the_same_answer_from_every_method(oms: Oms, case: str) -> None:
    (where, sku, quantity), answer = SINGLE[case]
    stock(oms)
    for path in PATHS:
        with oms.engine.connect() as conn:
            with repository(oms, conn, path) as repo:
                assert repo.reserve(where, sku, quantity, "one", AT) is answer, path
            with repository(oms, conn, path) as repo:
                assert repo.soft_reserve(where, sku, quantity, "cart-1", AT) is answer, path
            with repository(oms, conn, path) as repo:
                assert repo.reserve_many([(where, sku, quantity)], "one", AT) == [answer]


def outside_the_write_lock(db: TestDatabase) -> sa.Engine:
    """An engine whose reads take no lock: on SQLite, pysqlite's own transaction handling
    (``BEGIN`` only before the first write), so another connection can commit between
    this transaction's read and its reservation, as on PostgreSQL."""
    return sa.create_engine(normalise_url(db.url))


def take_elsewhere(oms: Oms, where: str, sku: str, quantity: int) -> None:
    """Another transaction reserves ``quantity`` and commits."""
    with oms.engine.begin() as other:
        pending = PendingRows(other, Statements(oms.tables))
        repo = InventoryRepository(other, oms.tables, oms.converter, pending=pending)
        assert repo.reserve(where, sku, quantity, "elsewhere", AT)
        pending.flush()


@pytest.mark.parametrize("path", PATHS)
def test_a_row_another_transaction_changed_is_answered_as_it_stands(
        oms: Oms, omskit_database: TestDatabase, path: str) -> None:
    stock(oms)
    engine = outside_the_write_lock(omskit_database)
    try:
        with engine.connect() as conn, repository(oms, conn, path) as repo:
            # Read: milan/A has 10 available, milan/B 5.
            repo.preload(["A", "B"])
            assert repo.stock_cache.available("milan", "A") == 10
            # Meanwhile another transaction takes 8 of milan/A and brings 6 more of milan/B.
            take_elsewhere(oms, "milan", "A", 8)
            oms.inventory.receive("milan", "B", 6)
            # 5 of A was available when read, 2 is now; 9 of B was not, 11 is now.
            got = repo.reserve_many([("milan", "A", 5), ("milan", "B", 9)], "late", AT)
            assert got == [False, True]
            # The refused SKU is read again next time; the taken row is noted.
            assert "A" not in repo.stock_cache
            repo.preload(["A"])
            assert repo.stock_cache.available("milan", "A") == 2
            assert repo.reserve_many([("milan", "A", 1), ("milan", "A", 1)], "late", AT) == [
                True, True]
    finally:
        engine.dispose()
    # The transaction was rolled back: only the other transaction's changes are left.
    rows = stock_rows(oms)
    assert (rows[("milan", "A")].reserved, rows[("milan", "B")].on_hand) == (8, 11)
    assert rows[("milan", "B")].reserved == 0
