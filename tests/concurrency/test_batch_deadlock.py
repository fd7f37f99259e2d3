"""Six processes place batches of one-line orders over the same twelve SKUs on PostgreSQL.

Each batch routes its orders one after another in one transaction, so without a common lock
order two batches take the same stock rows in different orders and deadlock (before the
fix: a raw ``DeadlockDetected`` after eight retries for about half the batches). Every batch
now locks all its stock rows first, in (location, SKU) order: batches queue, none fails, and
no unit is promised twice.
"""

from __future__ import annotations

import random
import traceback
from typing import Any

import pytest

from omskit import Oms, bootstrap
from omskit.testing import TestDatabase, location, order_command
from tests.support import CTX, MILAN, ROME, active_reservations, run_processes, stock_rows

WORKERS = 6
BATCHES = 2
BATCH_SIZE = 60
SKUS = tuple(f"SKU-{i:02d}" for i in range(12))


def place_batches(url: str, schema: str, worker: int, barrier: Any, results: Any) -> None:
    """Child process: its own ``Oms``; place ``BATCHES`` batches once all are ready."""
    try:
        oms = bootstrap(url, schema=schema, load_entrypoints=False)
        rng = random.Random(worker)
        batches = [[order_command(f"w{worker}-b{b}-{n}", {rng.choice(SKUS): 1},
                                  lat=rng.choice((MILAN, ROME))[0], lon=9.19)
                    for n in range(BATCH_SIZE)] for b in range(BATCHES)]
        barrier.wait(timeout=60)
        placed = [order.id for batch in batches for order in oms.orders.place_many(batch)]
        oms.close()
        results.put((placed, None))
    except BaseException:  # reported to the parent, which fails the test
        results.put(([], traceback.format_exc()))


@pytest.mark.postgres_only
@pytest.mark.slow
def test_concurrent_batches_over_shared_skus_never_deadlock(
        oms: Oms, omskit_database: TestDatabase) -> None:
    assert omskit_database.schema is not None
    for code, (lat, lon) in (("milan", MILAN), ("rome", ROME)):
        oms.inventory.save_location(location(code, lat, lon))
        for sku in SKUS:
            oms.inventory.receive(code, sku, 40)
    oms.engine.dispose()

    barrier = CTX.Barrier(WORKERS)
    reports = run_processes(place_batches, [
        (omskit_database.url, omskit_database.schema, i, barrier) for i in range(WORKERS)],
        timeout=240)
    order_ids = [order_id for placed in reports for order_id in placed]
    assert len(set(order_ids)) == WORKERS * BATCHES * BATCH_SIZE
    records = active_reservations(oms)
    for key, row in stock_rows(oms).items():
        assert row.reserved == records.get(key, 0), key
        assert 0 <= row.reserved <= row.on_hand, key
    # 720 one-unit orders against 960 units: every order is allocated in full.
    assert sum(records.values()) == WORKERS * BATCHES * BATCH_SIZE
