"""Four processes race for a location's daily capacity on one PostgreSQL database.

A location that takes at most ``CAPACITY`` fulfilment orders a day must never get more,
however many placements choose it at the same moment: capacity is taken with a conditional
update in the placement's transaction, like stock.
"""

from __future__ import annotations

import traceback
from collections import Counter
from typing import Any

import pytest

from omskit import Oms, bootstrap
from omskit.testing import TestDatabase, location, order_command
from tests.support import CTX, MILAN, ROME, SPAWNS_PROCESSES, run_processes

WORKERS = 4
ORDERS_PER_WORKER = 10
CAPACITY = 7


def place_orders(url: str, schema: str, worker: int, barrier: Any, results: Any) -> None:
    """Child process: bootstrap an own ``Oms``, wait for the others, place orders."""
    try:
        oms = bootstrap(url, schema=schema, load_entrypoints=False, routing_strategy="optimal")
        commands = [order_command(f"w{worker}-{n}", {"A": 1}, lat=MILAN[0], lon=MILAN[1])
                    for n in range(ORDERS_PER_WORKER)]
        barrier.wait(timeout=60)
        placed = [oms.orders.place(command).id for command in commands]
        oms.close()
        results.put((placed, None))
    except BaseException:  # reported to the parent, which fails the test
        results.put(([], traceback.format_exc()))


@pytest.mark.postgres_only
@SPAWNS_PROCESSES
def test_daily_capacity_holds_across_processes(oms: Oms,
                                               omskit_database: TestDatabase) -> None:
    assert omskit_database.schema is not None
    # Milan is nearer and cheaper to handle from, so every placement wants it first.
    oms.inventory.save_location(location("milan", *MILAN, daily_capacity=CAPACITY))
    oms.inventory.save_location(location("rome", *ROME, handling_cost="1.00"))
    for code in ("milan", "rome"):
        oms.inventory.receive(code, "A", 100)
    oms.engine.dispose()

    barrier = CTX.Barrier(WORKERS)
    reports = run_processes(place_orders, [
        (omskit_database.url, omskit_database.schema, i, barrier) for i in range(WORKERS)],
        timeout=120)
    order_ids = [order_id for placed in reports for order_id in placed]
    assert len(order_ids) == WORKERS * ORDERS_PER_WORKER
    used = Counter(fo.location for order_id in order_ids
                   for fo in oms.orders.get(order_id).fulfillment_orders)
    assert used == {"milan": CAPACITY, "rome": WORKERS * ORDERS_PER_WORKER - CAPACITY}
    assert oms.inventory.ledger_mismatches() == []
