"""Eight processes place, ship and cancel orders for scarce stock on one PostgreSQL database.

Extends ``tests/concurrency/test_oversell.py``: besides placing, each worker ships some of its
orders all the way (release, accept, pick, pack, ship) and cancels others, so reservations,
consumptions and releases race with each other and with the backorder queue (a cancellation
feeds waiting orders at once, possibly another worker's). Afterwards:

- no location has reserved + shipped more than it received, nor promised its safety stock;
- every stock row's ``on_hand`` is what it received minus what its fulfilment orders shipped;
- ``reserved`` equals the active reservation records and what live fulfilment orders hold;
- every order's lines are covered exactly by live fulfilment orders plus backorders;
- the ledger sums to the stock rows.
"""

from __future__ import annotations

import random
import traceback
from collections import Counter, defaultdict
from typing import Any

import pytest

from omskit import ManualCarriers, Oms, bootstrap
from omskit.domain.lifecycle import FulfillmentStatus, OrderStatus
from omskit.testing import TestDatabase, location, order_command
from tests.reliability.conftest import scaled
from tests.support import (
    CTX,
    MILAN,
    NAPLES,
    ROME,
    SPAWNS_PROCESSES,
    active_reservations,
    run_processes,
    stock_rows,
)

F = FulfillmentStatus
SHIPPED = (F.SHIPPED, F.DELIVERED)
O = OrderStatus  # noqa: E741
WORKERS = 8
ORDERS_PER_WORKER = scaled(20)
PLACES = {"milan": MILAN, "rome": ROME, "naples": NAPLES}
SKUS = ("A", "B", "C", "D")
STOCK = scaled(12)
SAFETY = 1
LIVE = (F.CREATED, F.RELEASED, F.ACCEPTED, F.PICKED, F.PACKED)


def work(url: str, schema: str, worker: int, barrier: Any, results: Any) -> None:
    """Child process: place orders; ship about a third of them, cancel about a fifth."""
    try:
        oms = bootstrap(url, schema=schema, load_entrypoints=False,
                        plugins=[ManualCarriers("brt")])
        rng = random.Random(1000 + worker)
        barrier.wait(timeout=120)
        counts: Counter[str] = Counter()
        placed: list[str] = []
        for n in range(ORDERS_PER_WORKER):
            lines = {sku: rng.randint(1, 3)
                     for sku in rng.sample(SKUS, rng.randint(1, 3))}
            lat, lon = PLACES[rng.choice(sorted(PLACES))]
            order = oms.orders.place(order_command(f"w{worker}-{n}", lines, lat=lat, lon=lon))
            placed.append(order.id)
            counts["placed"] += 1
            roll = rng.random()
            if roll < 0.35 and order.fulfillment_orders:
                oms.fulfillment.release(order.id)
                for fo in order.fulfillment_orders:
                    oms.fulfillment.accept(fo.id)
                    oms.fulfillment.pick(fo.id)
                    oms.fulfillment.pack(fo.id)
                    oms.fulfillment.ship(fo.id, carrier="brt", tracking_number=f"T-{fo.id}")
                    counts["fulfilment orders shipped"] += 1
            elif roll < 0.55:
                oms.orders.cancel(order.id, "customer changed their mind")
                counts["cancelled"] += 1
        oms.close()
        results.put(((placed, dict(counts)), None))
    except BaseException:  # reported to the parent, which fails the test
        results.put((([], {}), traceback.format_exc()))


@pytest.mark.postgres_only
@SPAWNS_PROCESSES
@pytest.mark.slow
def test_no_oversell_while_placing_shipping_and_cancelling(
        oms: Oms, omskit_database: TestDatabase, figures: dict[str, Any]) -> None:
    assert omskit_database.schema is not None
    for code, (lat, lon) in PLACES.items():
        oms.inventory.save_location(location(code, lat, lon))
        for sku in SKUS:
            oms.inventory.receive(code, sku, STOCK)
            oms.inventory.set_safety_stock(code, sku, SAFETY)
    oms.engine.dispose()  # no pooled connection is shared with the children

    barrier = CTX.Barrier(WORKERS)
    reports = run_processes(work, [(omskit_database.url, omskit_database.schema, i, barrier)
                                   for i in range(WORKERS)], timeout=300)
    placed = [order_id for ids, _ in reports for order_id in ids]
    counts: Counter[str] = Counter()
    for _, c in reports:
        counts.update(c)
    assert len(placed) == len(set(placed)) == WORKERS * ORDERS_PER_WORKER

    rows = stock_rows(oms)
    records = active_reservations(oms)
    shipped: dict[tuple[str, str], int] = defaultdict(int)
    held: dict[tuple[str, str], int] = defaultdict(int)
    statuses: Counter[str] = Counter()
    demand = 0
    for order_id in placed:
        order = oms.orders.get(order_id)
        statuses[order.status.value] += 1
        demand += sum(line.quantity for line in order.lines)
        covered: dict[str, int] = defaultdict(int)
        for fo in order.fulfillment_orders:
            for line in fo.lines:
                if fo.status in SHIPPED:
                    shipped[(fo.location, line.sku)] += line.quantity
                elif fo.status in LIVE:
                    held[(fo.location, line.sku)] += line.quantity
                if fo.status in SHIPPED or fo.status in LIVE:
                    covered[line.line_id] += line.quantity
        if order.status is O.CANCELLED:
            assert not covered, order_id
            continue
        waiting = {b.line_id: b.quantity for b in order.backordered()}
        for line in order.lines:
            assert covered[line.line_id] + waiting.get(line.line_id, 0) == line.quantity

    assert set(rows) == {(loc, sku) for loc in PLACES for sku in SKUS}
    for key, row in rows.items():
        on_hand, reserved, safety = row.on_hand, row.reserved, row.safety_stock
        assert on_hand == STOCK - shipped[key], key
        assert reserved + shipped[key] <= STOCK, key  # never promised more than it had
        assert 0 <= reserved <= on_hand - safety, key  # nor its safety stock
        assert reserved == records.get(key, 0) == held[key], key
    assert oms.inventory.ledger_mismatches() == []
    # The scarcity was real: demand far exceeds the promisable units.
    promisable = len(PLACES) * len(SKUS) * (STOCK - SAFETY)
    assert demand > 2 * promisable
    assert statuses[O.BACKORDERED.value] > 0
    assert counts["fulfilment orders shipped"] > 0
    assert counts["cancelled"] > 0
    figures.update(processes=WORKERS, orders=len(placed), units_demanded=demand,
                   units_promisable=promisable, units_shipped=sum(shipped.values()),
                   fulfilment_orders_shipped=counts["fulfilment orders shipped"],
                   cancelled=counts["cancelled"], final_statuses=dict(sorted(statuses.items())))
