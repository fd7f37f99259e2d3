"""Six processes mix every write path that moves stock over four hot SKUs at four locations
on PostgreSQL: single placements, batches, cart holds and their re-holds, orders converting
a cart, cart releases and the expiry sweeper, rejections that re-route, cancellations (whole
orders and single lines) and receipts (whose handlers allocate waiting backorders).

Every write transaction locks the stock rows it may change in the one global (location, SKU)
order before changing any (decision 26), so none may meet a deadlock: each child counts the
retries ``Database.retrying`` logs, by SQLSTATE, and every error the ``omskit`` logger
reports (a handler that failed after its retries ran out), and the test wants none. While
only batches locked first, this mix met 6 to 31 deadlocks (``40P01``) per run. Stock is
conserved: the ledger sums to every stock row, ``reserved`` equals the active order and
cart reservations on each row and stays within ``on_hand``, and ``on_hand`` is the initial
stock plus what was received.
"""

from __future__ import annotations

import logging
import random
import traceback
from collections import Counter, defaultdict
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest
import sqlalchemy as sa

from omskit import Oms, bootstrap
from omskit.domain.errors import QuantityNotCancellable
from omskit.domain.lifecycle import FulfillmentStatus, OrderStatus
from omskit.domain.promise import SoftReservationStatus
from omskit.domain.values import Coordinates
from omskit.testing import TestDatabase, location, order_command
from tests.support import (
    CTX,
    MILAN,
    NAPLES,
    ROME,
    SPAWNS_PROCESSES,
    TURIN,
    active_reservations,
    run_processes,
    stock_rows,
)

WORKERS = 6
STEPS = 40
SKUS = ("H0", "H1", "H2", "H3")
PLACES = {"milan": MILAN, "naples": NAPLES, "rome": ROME, "turin": TURIN}
STOCK = 15
ACTIONS = ("place", "place", "batch", "cart", "reject", "reject", "cancel", "receive", "place",
           "batch", "cart", "reject", "cancel", "receive", "expire")


class ConflictCounter(logging.Handler):
    """Counts the transient conflicts ``Database.retrying`` retried, by SQLSTATE or error
    class, and keeps every error record."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.conflicts: Counter[str] = Counter()
        self.errors: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        conflict = getattr(record, "omskit_conflict", None)
        if conflict is not None:
            self.conflicts[conflict] += 1
        if record.levelno >= logging.ERROR:
            self.errors.append(self.format(record))


def mixed_writes(url: str, schema: str, worker: int, barrier: Any, results: Any) -> None:
    """Child process: its own ``Oms``; ``STEPS`` random writes once all are ready. Reports
    (conflicts retried, error records, units received per (location, SKU))."""
    counter = ConflictCounter()
    log = logging.getLogger("omskit")
    log.addHandler(counter)
    log.setLevel(logging.INFO)
    try:
        oms = bootstrap(url, schema=schema, load_entrypoints=False)
        rng = random.Random(worker)
        mine: list[str] = []
        received: Counter[tuple[str, str]] = Counter()

        def lines() -> dict[str, int]:
            return {sku: rng.randint(1, 3) for sku in rng.sample(SKUS, rng.randint(1, 3))}

        def command(name: str, cart: str | None = None) -> Any:
            lat, lon = rng.choice(list(PLACES.values()))
            placed = order_command(f"w{worker}-{name}", lines(), lat=lat, lon=lon)
            return placed if cart is None else attrs.evolve(placed, cart_id=cart)

        barrier.wait(timeout=60)
        for step in range(STEPS):
            action = rng.choice(ACTIONS)
            if action == "place":
                mine.append(oms.orders.place(command(f"p{step}")).id)
            elif action == "batch":
                batch = [command(f"b{step}-{i}") for i in range(4)]
                mine.extend(o.id for o in oms.orders.place_many(batch))
            elif action == "cart":
                cart = f"w{worker}-cart{step}"
                lat, lon = rng.choice(list(PLACES.values()))
                for _ in range(rng.randint(1, 2)):  # a second hold re-plans the first
                    hold = oms.carts.hold(cart, lines(), ttl=timedelta(minutes=15),
                                          channel="web",
                                          destination=Coordinates(lat=lat, lon=lon))
                if rng.random() < 0.7:
                    mine.append(oms.orders.place(command(f"c{step}", cart)).id)
                elif hold.held:  # a cart that never held anything is not found
                    oms.carts.release(cart)
            elif action == "reject" and mine:
                order = oms.fulfillment.release(rng.choice(mine))
                released = [fo for fo in order.fulfillment_orders
                            if fo.status is FulfillmentStatus.RELEASED]
                if released:
                    oms.fulfillment.reject(rng.choice(released).id, "damaged on the shelf")
            elif action == "cancel" and mine:
                order = oms.orders.get(rng.choice(mine))
                if order.status is OrderStatus.CANCELLED:
                    continue
                if rng.random() < 0.4:
                    oms.orders.cancel(order.id, "changed their mind")
                    continue
                line = rng.choice(order.lines)
                # Nothing of that line left to cancel is a refusal, not a failure.
                with suppress(QuantityNotCancellable):
                    oms.orders.cancel_lines(order.id, {line.line_id: 1}, reason="one fewer")
            elif action == "expire":
                # The sweeper, an hour ahead: every worker's holds lapse, even one about to
                # be converted (that order is then placed without it).
                oms.carts.expire(now=datetime.now(UTC) + timedelta(hours=1))
            elif action == "receive":
                key = (rng.choice(list(PLACES)), rng.choice(SKUS))
                quantity = rng.randint(2, 6)
                oms.inventory.receive(*key, quantity)
                received[key] += quantity
        oms.close()
        results.put(((dict(counter.conflicts), counter.errors, dict(received)), None))
    except BaseException:  # reported to the parent, which fails the test
        results.put((None, traceback.format_exc()))
    finally:
        log.removeHandler(counter)


def soft_held(oms: Oms) -> dict[tuple[str, str], int]:
    """Units in active soft reservations (cart holds), per (location, SKU)."""
    sr = oms.tables.soft_reservations
    totals: dict[tuple[str, str], int] = defaultdict(int)
    with oms.engine.connect() as conn:
        for loc, sku, quantity in conn.execute(
                sa.select(sr.c.location, sr.c.sku, sr.c.quantity)
                .where(sr.c.status == SoftReservationStatus.ACTIVE.value)):
            totals[(loc, sku)] += quantity
    return dict(totals)


@pytest.mark.postgres_only
@pytest.mark.slow
@SPAWNS_PROCESSES
def test_every_write_path_together_meets_no_deadlock(
        oms: Oms, omskit_database: TestDatabase) -> None:
    assert omskit_database.schema is not None
    for code, (lat, lon) in PLACES.items():
        oms.inventory.save_location(location(code, lat, lon))
        for sku in SKUS:
            oms.inventory.receive(code, sku, STOCK)
    oms.engine.dispose()  # no pooled connection is shared with the children

    barrier = CTX.Barrier(WORKERS)
    reports = run_processes(mixed_writes, [
        (omskit_database.url, omskit_database.schema, i, barrier) for i in range(WORKERS)],
        timeout=300)

    conflicts: Counter[str] = Counter()
    errors: list[str] = []
    received: Counter[tuple[str, str]] = Counter()
    for found, logged, got in reports:
        conflicts.update(found)
        errors.extend(logged)
        received.update(got)
    assert errors == []
    # No deadlock (40P01) was even retried; nor any other transient conflict.
    assert dict(conflicts) == {}

    assert oms.inventory.ledger_mismatches() == []
    orders, carts = active_reservations(oms), soft_held(oms)
    rows = stock_rows(oms)
    assert set(rows) == {(code, sku) for code in PLACES for sku in SKUS}
    for key, row in rows.items():
        assert row.on_hand == STOCK + received[key], key
        assert row.reserved == orders.get(key, 0) + carts.get(key, 0), key
        assert 0 <= row.reserved <= row.on_hand, key
