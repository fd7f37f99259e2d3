"""Four processes race for a location's daily capacity on one PostgreSQL database.

A location that takes at most ``CAPACITY`` fulfilment orders a day must never get more,
however many placements choose it at the same moment: capacity is taken with a conditional
update in the placement's transaction, like stock.
"""

from __future__ import annotations

import multiprocessing
import traceback
from collections import Counter
from typing import Any

import pytest

from omskit import Oms, bootstrap
from omskit.testing import TestDatabase, location, order_command
from tests.support import MILAN, ROME

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
        results.put((worker, placed, None))
    except BaseException:  # reported to the parent, which fails the test
        results.put((worker, [], traceback.format_exc()))


@pytest.mark.postgres_only
def test_daily_capacity_holds_across_processes(oms: Oms,
                                               omskit_database: TestDatabase) -> None:
    assert omskit_database.schema is not None
    # Milan is nearer and cheaper to handle from, so every placement wants it first.
    oms.inventory.save_location(location("milan", *MILAN, daily_capacity=CAPACITY))
    oms.inventory.save_location(location("rome", *ROME, handling_cost="1.00"))
    for code in ("milan", "rome"):
        oms.inventory.receive(code, "A", 100)
    oms.engine.dispose()

    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(WORKERS)
    results = ctx.Queue()
    processes = [
        ctx.Process(target=place_orders,
                    args=(omskit_database.url, omskit_database.schema, i, barrier, results))
        for i in range(WORKERS)
    ]
    for p in processes:
        p.start()
    try:
        reports = [results.get(timeout=120) for _ in processes]
    finally:
        for p in processes:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
    assert [error for _, _, error in reports if error] == []
    order_ids = [order_id for _, placed, _ in reports for order_id in placed]
    assert len(order_ids) == WORKERS * ORDERS_PER_WORKER
    used = Counter(fo.location for order_id in order_ids
                   for fo in oms.orders.get(order_id).fulfillment_orders)
    assert used == {"milan": CAPACITY, "rome": WORKERS * ORDERS_PER_WORKER - CAPACITY}
    assert oms.inventory.ledger_mismatches() == []
