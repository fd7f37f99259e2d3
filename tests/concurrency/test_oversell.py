"""Eight processes, each with its own ``Oms``, race for scarce stock on one PostgreSQL database.

No unit may be promised twice: afterwards every stock row's ``reserved`` equals its active
reservations and stays within ``on_hand - safety_stock``, and every order is allocated or
backordered with quantities adding up to its lines.
"""

from __future__ import annotations

import random
import traceback
from collections import defaultdict
from typing import Any

import pytest
import sqlalchemy as sa

from omskit import Oms, bootstrap
from omskit.domain.lifecycle import OrderStatus
from omskit.testing import TestDatabase, location, order_command
from tests.support import (
    CTX,
    MILAN,
    ROME,
    SPAWNS_PROCESSES,
    active_reservations,
    run_processes,
    stock_rows,
)

WORKERS = 8
ORDERS_PER_WORKER = 25
SKUS = ("A", "B", "C")
STOCK = 20
SAFETY = 2
O = OrderStatus  # noqa: E741


def place_orders(url: str, schema: str, worker: int, barrier: Any, results: Any) -> None:
    """Child process: bootstrap an own ``Oms``, wait for the others, place orders."""
    try:
        oms = bootstrap(url, schema=schema, load_entrypoints=False)
        rng = random.Random(worker)
        commands = []
        for n in range(ORDERS_PER_WORKER):
            lines = {sku: rng.randint(1, 3)
                     for sku in rng.sample(SKUS, rng.randint(1, len(SKUS)))}
            lat, lon = rng.choice((MILAN, ROME))
            commands.append(order_command(f"w{worker}-{n}", lines, lat=lat, lon=lon))
        barrier.wait(timeout=60)
        placed = [oms.orders.place(command).id for command in commands]
        oms.close()
        results.put((placed, None))
    except BaseException:  # reported to the parent, which fails the test
        results.put(([], traceback.format_exc()))


@pytest.mark.postgres_only
@SPAWNS_PROCESSES
def test_no_oversell_across_processes(oms: Oms, omskit_database: TestDatabase) -> None:
    assert omskit_database.schema is not None
    for code, (lat, lon) in (("milan", MILAN), ("rome", ROME)):
        oms.inventory.save_location(location(code, lat, lon))
        for sku in SKUS:
            oms.inventory.receive(code, sku, STOCK)
            oms.inventory.set_safety_stock(code, sku, SAFETY)
    oms.engine.dispose()  # no pooled connection is shared with the children

    barrier = CTX.Barrier(WORKERS)
    reports = run_processes(place_orders, [
        (omskit_database.url, omskit_database.schema, i, barrier) for i in range(WORKERS)],
        timeout=120)
    order_ids = [order_id for placed in reports for order_id in placed]
    assert len(order_ids) == len(set(order_ids)) == WORKERS * ORDERS_PER_WORKER

    rows = stock_rows(oms)
    records = active_reservations(oms)
    assert set(rows) == {(loc, sku) for loc in ("milan", "rome") for sku in SKUS}
    for key, row in rows.items():
        assert row.on_hand == STOCK  # nothing shipped
        assert row.safety_stock == SAFETY
        assert row.reserved == records.get(key, 0), key
        assert 0 <= row.reserved <= row.on_hand - row.safety_stock, key

    allocated_units: dict[tuple[str, str], int] = defaultdict(int)
    statuses: dict[OrderStatus, int] = defaultdict(int)
    for order_id in order_ids:
        order = oms.orders.get(order_id)
        statuses[order.status] += 1
        assert order.status in (O.ALLOCATED, O.BACKORDERED), order.status
        covered: dict[str, int] = defaultdict(int)
        for fo in order.fulfillment_orders:
            for line in fo.lines:
                covered[line.line_id] += line.quantity
                allocated_units[(fo.location, line.sku)] += line.quantity
        waiting = {b.line_id: b.quantity for b in order.backordered()}
        for line in order.lines:
            assert covered[line.line_id] + waiting.get(line.line_id, 0) == line.quantity
        assert (order.status is O.BACKORDERED) == bool(waiting)
    # What the orders hold is exactly what the stock rows have reserved.
    assert dict(allocated_units) == {k: r.reserved for k, r in rows.items() if r.reserved}
    # The scarcity was real: demand (~200 orders of 1-3 units per line) far exceeds the
    # 6 x (20 - 2) = 108 promisable units, so many orders wait.
    assert statuses[O.BACKORDERED] >= WORKERS * ORDERS_PER_WORKER // 2
    assert sum(r.reserved for r in rows.values()) > 0
    assert oms.inventory.ledger_mismatches() == []
    with oms.engine.connect() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(oms.tables.orders))
        assert count.scalar_one() == WORKERS * ORDERS_PER_WORKER
