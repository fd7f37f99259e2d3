"""SIGKILL a placing worker and an outbox dispatcher at random moments, many times.

One process places orders from a fixed, seeded list (``bootstrap(dispatch="deferred")``),
cancels every fourth and releases every fourth for fulfilment, and writes a checkpoint line
after each placement; restarted, it resumes two orders before its last checkpoint, so the
orders around a crash are placed again (idempotently). Another process relays the outbox with
``dispatch_pending`` to a consumer plugin that appends ``event_id, event_type, order_id`` to a
file. The test kills one of them with SIGKILL at a random moment after it started, restarts
it, and repeats. Then the placer runs to the end undisturbed, the dispatcher is killed one last
time, and a final clean dispatch empties the outbox. Afterwards:

- every order the placer acknowledged is committed, and there is exactly one per external id;
- every committed order has its events in the outbox: one ``order.placed``, one
  ``fulfillment_order.created`` per fulfilment order, one ``order.cancelled`` if cancelled;
- no outbox event belongs to an order that was not committed, and the consumer saw no event
  the outbox does not hold (nothing from a rolled-back transaction was delivered);
- every outbox event is dispatched and reached the consumer at least once; duplicates at the
  consumer carry the same ``event_id`` with the same type and order (stable ids);
- reserved stock equals the active reservations and the ledger sums to the stock rows.

Runs on PostgreSQL and on a SQLite file (WAL), both with real processes.
"""

from __future__ import annotations

import os
import random
import signal
import time
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any

from omskit import Oms, bootstrap, hookimpl
from omskit.domain.events import Event
from omskit.domain.lifecycle import OrderStatus
from omskit.testing import TestDatabase, location, order_command
from tests.reliability.conftest import scaled
from tests.support import (
    CTX,
    MILAN,
    ROME,
    SPAWNS_PROCESSES,
    active_reservations,
    outbox_rows,
    stock_rows,
)

ORDERS = scaled(200)
KILLS = scaled(14)
SKUS = ("A", "B", "C")
STOCK = 40
LEASE = timedelta(seconds=1)  # short, so the leases of killed dispatchers expire quickly


def command(n: int) -> Any:
    rng = random.Random(n)
    lines = {sku: rng.randint(1, 3) for sku in rng.sample(SKUS, rng.randint(1, 3))}
    lat, lon = rng.choice((MILAN, ROME))
    return order_command(f"c-{n}", lines, lat=lat, lon=lon)


def placer(url: str, schema: str | None, checkpoints: str, ready: Any) -> None:
    """Child process: place orders ``c-<resume>`` .. ``c-<ORDERS-1>``, checkpointing each."""
    oms = bootstrap(url, schema=schema, load_entrypoints=False, dispatch="deferred")
    path = Path(checkpoints)
    done = len(path.read_text().splitlines()) if path.exists() else 0
    ready.set()
    fd = os.open(checkpoints, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    for n in range(max(0, done - 2), ORDERS):
        order = oms.orders.place(command(n))
        if n % 4 == 0:
            oms.orders.cancel(order.id, "crash test")
        elif n % 4 == 1 and order.fulfillment_orders and not order.active_holds:
            oms.fulfillment.release(order.id)
        os.write(fd, f"c-{n}\t{order.id}\n".encode())
    os.close(fd)
    oms.close()


class FileConsumer:
    """A consumer that appends every event it is handed to a file (one ``write`` a line)."""

    def __init__(self, path: str, latency: float = 0.0) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        self.latency = latency

    @hookimpl
    def omskit_handle_event(self, event: Event, oms: Oms) -> None:
        time.sleep(self.latency)  # a broker's round trip: batches take a while
        os.write(self.fd, f"{event.event_id}\t{event.event_type}\t{event.order_id}\n".encode())


def dispatcher(url: str, schema: str | None, consumed: str, ready: Any) -> None:
    """Child process: relay the outbox forever, in small batches."""
    oms = bootstrap(url, schema=schema, load_entrypoints=False, dispatch="deferred",
                    plugins=[FileConsumer(consumed, latency=0.003)])
    oms.outbox.lease = LEASE
    ready.set()
    while True:
        if not oms.outbox.dispatch_pending(limit=10):
            time.sleep(0.01)


@SPAWNS_PROCESSES
def test_sigkilled_placer_and_dispatcher_lose_nothing(
        oms: Oms, omskit_database: TestDatabase, tmp_path: Path,
        figures: dict[str, Any]) -> None:
    for code, (lat, lon) in (("milan", MILAN), ("rome", ROME)):
        oms.inventory.save_location(location(code, lat, lon))
        for sku in SKUS:
            oms.inventory.receive(code, sku, STOCK)
    # Written before any consumer existed, so settled at once (no handler, inline dispatch).
    settled_before = {r["event_id"] for r in outbox_rows(oms)}
    oms.engine.dispose()
    url, schema = omskit_database.url, omskit_database.schema
    checkpoints, consumed = str(tmp_path / "placed.log"), str(tmp_path / "consumed.log")
    targets = {"placer": (placer, checkpoints), "dispatcher": (dispatcher, consumed)}
    running: dict[str, tuple[Any, Any]] = {}

    def start(name: str) -> None:
        target, path = targets[name]
        ready = CTX.Event()
        process = CTX.Process(target=target, args=(url, schema, path, ready))
        process.start()
        running[name] = (process, ready)

    rng = random.Random(42)
    kills: Counter[str] = Counter()
    placer_finished_runs = 0
    start("placer")
    start("dispatcher")
    try:
        while sum(kills.values()) < KILLS:
            placing = "placer" in running
            name = "placer" if placing and rng.random() < 0.5 else "dispatcher"
            process, ready = running[name]
            assert ready.wait(timeout=120), f"{name} did not start"
            # The placer is killed while placing; the dispatcher while it drains the backlog
            # that built up while it was down (mid-batch, between lease and acknowledgement).
            time.sleep(rng.uniform(0.02, 0.35) if name == "placer" else rng.uniform(0, 0.15))
            if process.is_alive():
                os.kill(process.pid, signal.SIGKILL)
                kills[name] += 1
            process.join(timeout=30)
            if name == "placer" and process.exitcode == 0:
                placer_finished_runs += 1
                del running[name]
                continue
            assert process.exitcode == -signal.SIGKILL, (name, process.exitcode)
            start(name)
        # The placer finishes undisturbed; the dispatcher dies one last time.
        if "placer" in running:
            process, _ = running.pop("placer")
            process.join(timeout=300)
            assert process.exitcode == 0
        process, ready = running.pop("dispatcher")
        assert ready.wait(timeout=120)
        time.sleep(rng.uniform(0.05, 0.3))
        os.kill(process.pid, signal.SIGKILL)
        kills["dispatcher"] += 1
        process.join(timeout=30)
    finally:
        for process, _ in running.values():
            process.kill()
            process.join(timeout=30)
    pending_after_kills = oms.outbox.pending_count()

    # A clean dispatcher takes over once the dead one's leases expire.
    final = bootstrap(url, schema=schema, load_entrypoints=False, dispatch="deferred",
                      plugins=[FileConsumer(consumed)])
    final.outbox.lease = LEASE
    deadline = time.monotonic() + 60
    try:
        while final.outbox.pending_count():
            assert time.monotonic() < deadline, "the outbox did not drain"
            if not final.outbox.dispatch_pending(limit=500):
                time.sleep(0.1)
    finally:
        final.close()

    # Every acknowledged order is committed, once per external id.
    acknowledged = dict(line.split("\t") for line in
                        Path(checkpoints).read_text().splitlines())
    committed = {o.external_id: o.id for o in oms.orders.iter_all()}
    assert len(committed) == ORDERS
    assert set(committed) == {f"c-{n}" for n in range(ORDERS)}
    for external_id, order_id in acknowledged.items():
        assert committed[external_id] == order_id

    # Every committed order has its events; no event belongs to an uncommitted order.
    rows = outbox_rows(oms)
    assert all(r["dispatched_at"] is not None for r in rows)
    by_id = {r["event_id"]: r for r in rows}
    assert len(by_id) == len(rows)
    per_order: dict[str | None, Counter[str]] = defaultdict(Counter)
    for r in rows:
        per_order[r["order_id"]][r["event_type"]] += 1
    assert set(per_order) - {None} == set(committed.values())
    statuses: Counter[str] = Counter()
    for order_id in committed.values():
        order = oms.orders.get(order_id)
        statuses[order.status.value] += 1
        events = per_order[order_id]
        assert events["order.placed"] == 1, order_id
        assert events["fulfillment_order.created"] == len(order.fulfillment_orders), order_id
        assert events["order.cancelled"] == (order.status is OrderStatus.CANCELLED), order_id

    # Every event reached the consumer at least once, always under the same id.
    consumed_lines = Path(consumed).read_text().splitlines()
    deliveries: Counter[str] = Counter()
    for line in consumed_lines:
        event_id, event_type, order_id = line.split("\t")
        row = by_id[event_id]  # a KeyError: the consumer saw an event the outbox lacks
        assert (event_type, order_id) == (row["event_type"], str(row["order_id"]))
        deliveries[event_id] += 1
    assert set(deliveries) == set(by_id) - settled_before

    stock = stock_rows(oms)
    records = active_reservations(oms)
    for key, row in stock.items():
        assert row.reserved == records.get(key, 0), key
    assert oms.inventory.ledger_mismatches() == []

    figures.update(
        orders=ORDERS, kills=sum(kills.values()), placer_kills=kills["placer"],
        dispatcher_kills=kills["dispatcher"], placer_runs_finished_early=placer_finished_runs,
        events=len(rows), pending_after_kills=pending_after_kills,
        deliveries=len(consumed_lines),
        redelivered_events=sum(1 for c in deliveries.values() if c > 1),
        final_statuses=dict(sorted(statuses.items())))
