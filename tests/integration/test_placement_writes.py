"""How a placement reaches the database: few statements, rows held until flush, plans
reserved at once, and keyset paging. Each behaviour here is one the throughput work
introduced (decision 14); the rest of the suite checks that the results did not change."""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from omskit import ConcurrencyConflict, Oms
from omskit.store.backends.driver import run
from omskit.store.inventory import InventoryRepository
from omskit.store.pending import PendingRows
from omskit.store.statements import Statements
from omskit.testing import TestDatabase, location, order_command
from tests.support import MILAN, ROME, outbox_rows, stock_rows


def stocked(oms: Oms) -> None:
    oms.inventory.save_location(location("milan", *MILAN))
    oms.inventory.save_location(location("rome", *ROME))
    for sku in ("A", "B", "C"):
        oms.inventory.receive("milan", sku, 50)
        oms.inventory.receive("rome", sku, 50)


class StatementLog:
    """The first word (and table, for writes) of every statement the engine sends."""

    def __init__(self, engine: sa.Engine) -> None:
        self.kinds: Counter[str] = Counter()
        self._engine = engine
        sa.event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        words = statement.split()
        kind = words[0].upper()
        if kind == "UPDATE":
            kind = f"UPDATE {words[1].split('.')[-1].strip(chr(34))}"
        self.kinds[kind] += 1

    def close(self) -> None:
        sa.event.remove(self._engine, "before_cursor_execute", self._seen)


@pytest.fixture
def statements(oms: Oms) -> Iterator[StatementLog]:
    log = StatementLog(oms.engine)
    yield log
    log.close()


def test_a_placement_makes_a_handful_of_statements(oms: Oms, statements: StatementLog,
                                                    omskit_backend: str) -> None:
    stocked(oms)
    oms.orders.place(order_command("W-0", {"A": 1}))  # locations now cached
    statements.kinds.clear()
    order = oms.orders.place(order_command("W-1", {"A": 1, "B": 2, "C": 3}, lat=MILAN[0],
                                           lon=MILAN[1]))
    assert [fo.location for fo in order.fulfillment_orders] == ["milan"]
    kinds = statements.kinds
    # One reservation statement for the whole plan.
    assert kinds["UPDATE omskit_stock_items"] == 1
    if omskit_backend == "postgresql":
        # The look-up of the external id and the locked read of the SKUs' stock in one
        # statement; every new row (order, lines, fulfilment order, reservations, ledger,
        # decision, outbox) in another.
        assert kinds["SELECT"] == 1
        assert kinds["WITH"] == 1
        assert sum(kinds.values()) == 3
    else:
        # The look-up, then the stock read (SQLite's statements cost no round trip).
        assert kinds["SELECT"] == 2
        assert kinds["INSERT"] == 8


def test_json_columns_store_json_null_as_an_ordinary_insert_does(
        oms: Oms, omskit_backend: str) -> None:
    stocked(oms)
    order = oms.orders.place(order_command("W-1", {"A": 1}))
    assert order.billing_address is None
    o = oms.tables.orders
    with oms.engine.connect() as conn:
        if omskit_backend == "postgresql":
            kind = conn.execute(sa.select(sa.func.jsonb_typeof(o.c.billing_address))).scalar()
            assert kind == "null"
        else:
            raw = conn.execute(sa.select(sa.type_coerce(o.c.billing_address, sa.String)))
            assert raw.scalar() == "null"
    again = oms.orders.get(order.id)
    assert again.billing_address is None
    assert again.shipping_address == order.shipping_address
    assert again.total == order.total


def test_timestamps_are_stored_as_an_ordinary_insert_stores_them(
        oms: Oms, omskit_backend: str) -> None:
    stocked(oms)
    order = oms.orders.place(order_command("W-1", {"A": 1}))
    o, g = oms.tables.orders, oms.tables.inventory_ledger
    with oms.engine.connect() as conn:
        placed = conn.execute(sa.select(sa.type_coerce(o.c.placed_at, sa.String))).scalar()
        logged = conn.execute(sa.select(g.c.occurred_at).where(g.c.reference == order.id)
                              ).scalar()
    if omskit_backend == "sqlite":
        # SQLAlchemy's SQLite DATETIME storage format, naive UTC.
        assert placed == order.placed_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    else:
        assert placed == order.placed_at  # timestamptz, read back by the driver
    assert logged == order.placed_at


def test_a_batch_writes_its_events_in_the_order_of_its_orders(oms: Oms) -> None:
    stocked(oms)
    placed = oms.orders.place_many(order_command(f"W-{n}", {"A": 1}) for n in range(12))
    first_event = {}
    for position, row in enumerate(outbox_rows(oms)):
        if row["order_id"] is not None:  # not the stock receipts
            first_event.setdefault(row["order_id"], position)
    assert sorted(first_event, key=first_event.__getitem__) == [o.id for o in placed]


@pytest.mark.parametrize("watched", [False, True], ids=["unwatched", "watched"])
def test_a_flush_that_breaks_a_constraint_raises_sqlalchemys_error_and_writes_nothing(
        oms: Oms, watched: bool) -> None:
    # SQLite sends unwatched rows to the driver directly; the error must be SQLAlchemy's
    # either way (retrying and idempotent placement catch sa.exc.IntegrityError).
    stocked(oms)
    order = oms.orders.place(order_command("W-1", {"A": 1}))
    log = StatementLog(oms.engine) if watched else None
    lines = oms.tables.order_lines
    with oms.engine.connect() as conn:
        # Plain str keys, as the repositories' rows have (column names are str subclasses).
        row = {str(k): v for k, v in conn.execute(sa.select(lines)).mappings().one().items()}

    def flush_a_duplicate() -> None:
        with oms.engine.connect() as conn, conn.begin():
            pending = PendingRows(conn, Statements(oms.tables))
            fresh = {**row, "line_id": "2"}
            pending.add(oms.tables.order_lines, [fresh, row])  # the second is a duplicate
            pending.flush()

    with pytest.raises(sa.exc.IntegrityError):
        flush_a_duplicate()
    if log is not None:
        assert log.kinds["INSERT"] + log.kinds["WITH"] == 1  # seen by the watcher
        log.close()
    with oms.engine.connect() as conn:
        stored = conn.execute(sa.select(sa.func.count()).select_from(lines)).scalar()
    assert stored == 1
    assert [line.line_id for line in oms.orders.get(order.id).lines] == [row["line_id"]]


@pytest.mark.parametrize("watched", [False, True], ids=["unwatched", "watched"])
def test_a_transaction_kept_from_the_write_lock_raises_sqlalchemys_error_and_is_retried(
        oms: Oms, omskit_backend: str, omskit_database: TestDatabase, watched: bool) -> None:
    # SQLite's BEGIN, stock read, reservation and external-id look-up go to the driver when
    # nobody watches statements: a locked database must still surface as SQLAlchemy's
    # OperationalError, which placement retries and finally reports as a conflict.
    if omskit_backend != "sqlite":
        pytest.skip("SQLite's path: one writer at a time, by the database's write lock")
    stocked(oms)
    log = StatementLog(oms.engine) if watched else None
    oms.engine.dispose()
    sa.event.listen(oms.engine, "connect",
                    lambda dbapi, _record: dbapi.execute("PRAGMA busy_timeout=20"))
    path = omskit_database.url.removeprefix("sqlite:///")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(ConcurrencyConflict) as raised:
            oms.orders.place(order_command("W-1", {"A": 1}))
        assert isinstance(raised.value.__cause__, sa.exc.OperationalError)
        assert "locked" in str(raised.value.__cause__)
    finally:
        holder.rollback()
        holder.close()
    if log is not None:
        assert log.kinds["BEGIN"] >= 1  # the watcher saw the attempts
        log.close()
    # Nothing was written, and the same command goes through once the lock is free.
    command = order_command("W-1", {"A": 1})
    assert oms.orders.find_by_external(command.channel, command.external_id) is None
    order = oms.orders.place(command)
    assert order.status.value == "allocated"
    assert oms.orders.place(command).id == order.id


@pytest.mark.parametrize("watched", [False, True], ids=["unwatched", "watched"])
def test_a_connection_lost_under_a_driver_statement_is_invalidated_and_replaced(
        oms: Oms, omskit_backend: str, watched: bool) -> None:
    # The backends' hot statements go to the driver when unwatched (decisions 52 and 54): a
    # lost connection must still be SQLAlchemy's error, the connection invalidated so the
    # pool never lends it again, exactly as SQLAlchemy's own path does when watched.
    stocked(oms)
    log = StatementLog(oms.engine) if watched else None
    probe: tuple[str, Any] = ("SELECT 1", () if omskit_backend == "sqlite" else {})
    with oms.engine.connect() as conn:
        run(conn, *probe)
        if omskit_backend == "sqlite":
            conn.connection.dbapi_connection.close()  # type: ignore[union-attr]
        else:
            pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
            with oms.engine.connect() as other:
                other.exec_driver_sql("SELECT pg_terminate_backend(%(pid)s)", {"pid": pid})
        with pytest.raises(sa.exc.DBAPIError) as raised:
            run(conn, *probe)
        assert raised.value.connection_invalidated
        assert conn.invalidated
    if log is not None:
        log.close()
    order = oms.orders.place(order_command("W-1", {"A": 1}))
    assert order.status.value == "allocated"


def test_reserving_a_plan_reports_exactly_what_it_reserved(oms: Oms) -> None:
    stocked(oms)
    oms.inventory.receive("rome", "D", 3)
    at = datetime.now(UTC)
    items = [("milan", "A", 10), ("milan", "B", 60), ("rome", "A", 5), ("rome", "D", 2),
             ("rome", "D", 2)]
    with oms.engine.connect() as conn, conn.begin():
        pending = PendingRows(conn, Statements(oms.tables))
        repo = InventoryRepository(conn, oms.tables, oms.converter, pending=pending)
        repo.preload(["A", "B", "D"])
        done = repo.reserve_many(items, "order-1", at)
        pending.flush()  # the ledger rows
    # 60 of B is more than Milan has; 2 + 2 of D is more than Rome's 3: items on one row
    # are reserved together, so both fail (the reservation contract); everything else
    # succeeds.
    assert done == [True, False, True, False, False]
    rows = stock_rows(oms)
    expected = {("milan", "A"): 10, ("milan", "B"): 0, ("rome", "A"): 5,
                ("rome", "D"): sum(q for (_, sku, q), ok in zip(items, done, strict=True)
                                   if ok and sku == "D")}
    assert {key: rows[key].reserved for key in expected} == expected
    g = oms.tables.inventory_ledger
    with oms.engine.connect() as conn:
        logged = conn.execute(sa.select(sa.func.sum(g.c.reserved_delta))
                              .where(g.c.reference == "order-1")).scalar()
    assert logged == sum(expected.values())


def test_stock_read_before_the_write_lock_is_answered_from_the_row_as_it_is_now(
        oms: Oms, omskit_database: TestDatabase, omskit_backend: str) -> None:
    if omskit_backend != "sqlite":
        pytest.skip("SQLite's path: PostgreSQL's reads never hold the write lock")
    # A host's SQLite engine without BEGIN IMMEDIATE reads outside the write lock: another
    # connection may take the stock before this transaction writes. The reservation answers
    # from the rows as they are when it runs, as on PostgreSQL (it used to raise
    # ConcurrencyConflict when the rows read showed the plan available).
    stocked(oms)
    host = sa.create_engine(omskit_database.url)
    try:
        with host.connect() as conn:
            conn.begin()
            repo = InventoryRepository(conn, oms.tables, oms.converter)
            repo.preload(["A", "B"])
            oms.orders.place(order_command("W-1", {"A": 50}, lat=MILAN[0], lon=MILAN[1]))
            done = repo.reserve_many([("milan", "A", 1), ("milan", "B", 1)], "order-2",
                                     datetime.now(UTC))
            assert done == [False, True]
            assert "A" not in repo.stock_cache  # refused: read again next time
            assert repo.stock_cache.available("milan", "B") == 49
            conn.rollback()
    finally:
        host.dispose()


def test_iter_all_pages_after_the_last_order_seen(make_oms: Any) -> None:
    # Every order at the same instant: only the id tells them apart, so paging must use it.
    moment = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    oms = make_oms(clock=lambda: moment)
    stocked(oms)
    ids = [oms.orders.place(order_command(f"W-{n}", {"A": 1})).id for n in range(7)]
    pages = oms.orders.iter_all(page_size=2)
    first = [next(pages).id for _ in range(2)]
    # An order placed meanwhile at the same instant sorts by id: it may land in a page
    # not read yet, but no order is ever returned twice or skipped.
    late = oms.orders.place(order_command("W-late", {"A": 1})).id
    rest = [s.id for s in pages]
    seen = first + rest
    assert len(seen) == len(set(seen))
    assert set(ids) <= set(seen)
    assert seen == sorted(seen, reverse=True)
    assert (late in seen) == (late < first[-1])
