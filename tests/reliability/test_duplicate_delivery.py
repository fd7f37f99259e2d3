"""Every storefront payload is delivered two or three times at once: exactly one order each.

Channels redeliver (webhook retries, at-least-once queues), often while the first delivery is
still being processed. Each payload goes through ``oms.channels.receive("storefront", ...)``
2–3 times concurrently, from threads sharing one ``Oms`` (SQLite and PostgreSQL) and from
processes each with its own ``Oms`` (PostgreSQL). Afterwards there is exactly one order per
``(channel, external id)``, every delivery of a payload got that order back, each order line
is reserved once (no duplicate reservation rows, ``reserved`` equals the records), each order
has one ``order.placed`` event, and the ledger balances.
"""

from __future__ import annotations

import random
import threading
import traceback
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import omskit_channel_storefront
import pytest
import sqlalchemy as sa

from omskit import Oms, bootstrap
from omskit.testing import TestDatabase, location
from tests.reliability.conftest import scaled
from tests.support import (
    CTX,
    MILAN,
    ROME,
    SPAWNS_PROCESSES,
    active_reservations,
    outbox_rows,
    run_processes,
    stock_rows,
)

SKUS = ("SKU-1", "SKU-2", "SKU-3", "SKU-4")
THREADS = 8
PROCESSES = 4


def payloads(count: int, seed: int) -> list[dict[str, Any]]:
    """``count`` storefront orders, some for more than the stock (partly backordered)."""
    rng = random.Random(seed)
    found = []
    for n in range(count):
        items = [{"sku": sku, "quantity": rng.randint(1, 4), "unit_price": "9.90",
                  "line_id": str(i + 1)}
                 for i, sku in enumerate(rng.sample(SKUS, rng.randint(1, 3)))]
        lat, lon = rng.choice((MILAN, ROME))
        found.append({
            "id": f"WEB-{seed}-{n}", "source": rng.choice(("web", "mobile")),
            "created_at": "2026-11-25T10:15:00+01:00", "currency": "EUR",
            "customer": {"id": f"cus_{n}", "email": f"c{n}@example.com"},
            "shipping_address": {"line1": "Via Roma 1", "city": "Milano", "country": "IT",
                                 "lat": lat, "lon": lon},
            "fulfillment": {"type": "ship"},
            "items": items,
        })
    return found


def stocked(oms: Oms, units: int) -> None:
    for code, (lat, lon) in (("milan", MILAN), ("rome", ROME)):
        oms.inventory.save_location(location(code, lat, lon))
        for sku in SKUS:
            oms.inventory.receive(code, sku, units)


def check_one_order_each(oms: Oms, sent: list[dict[str, Any]],
                         answers: dict[str, set[str]]) -> dict[str, int]:
    """The invariants of this file; returns figures."""
    o = oms.tables.orders
    with oms.engine.connect() as conn:
        keys = [(r.channel, r.external_id, r.id) for r in conn.execute(
            sa.select(o.c.channel, o.c.external_id, o.c.id))]
    assert len(keys) == len(sent)
    by_key = {(channel, ext): order_id for channel, ext, order_id in keys}
    assert len(by_key) == len(sent)  # one order per (channel, external id)
    for payload in sent:
        order_id = by_key[(payload["source"], payload["id"])]
        assert answers[payload["id"]] == {order_id}  # every delivery got the same order

    r = oms.tables.reservations
    with oms.engine.connect() as conn:
        reservation_rows = conn.execute(
            sa.select(r.c.order_id, r.c.line_id, r.c.fulfillment_order_id, r.c.quantity)
        ).all()
    per_line: dict[tuple[str, str], int] = defaultdict(int)
    seen: Counter[tuple[str, str, str]] = Counter()
    for order_id, line_id, fo_id, quantity in reservation_rows:
        per_line[(order_id, line_id)] += quantity
        seen[(order_id, line_id, fo_id)] += 1
    assert max(seen.values(), default=1) == 1  # no reservation taken twice
    for order_id in by_key.values():
        order = oms.orders.get(order_id)
        for line in order.lines:
            assert per_line.get((order_id, line.line_id), 0) <= line.quantity
            waiting = sum(b.quantity for b in order.backordered() if b.line_id == line.line_id)
            assert per_line.get((order_id, line.line_id), 0) + waiting == line.quantity
    rows = stock_rows(oms)
    records = active_reservations(oms)
    for key, row in rows.items():
        assert row.reserved == records.get(key, 0), key
    placed_events = Counter(e["order_id"] for e in outbox_rows(oms)
                            if e["event_type"] == "order.placed")
    assert placed_events == Counter(set(by_key.values()))
    assert oms.inventory.ledger_mismatches() == []
    return {"reservation_rows": len(reservation_rows)}


def test_concurrent_redelivery_from_threads(make_oms: Any, figures: dict[str, Any]) -> None:
    oms = make_oms(plugins=[omskit_channel_storefront])
    stocked(oms, scaled(15))
    sent = payloads(scaled(30), seed=1)
    rng = random.Random(7)
    deliveries = [p for p in sent for _ in range(rng.randint(2, 3))]
    rng.shuffle(deliveries)
    answers: dict[str, set[str]] = defaultdict(set)
    lock = threading.Lock()

    def deliver(payload: dict[str, Any]) -> None:
        order = oms.channels.receive("storefront", payload)
        with lock:
            answers[payload["id"]].add(order.id)

    # Copies of one payload sit next to each other in groups, so they really overlap.
    deliveries.sort(key=lambda p: sent.index(p))
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(deliver, deliveries))  # re-raises the first error
    found = check_one_order_each(oms, sent, answers)
    figures.update(threads=THREADS, payloads=len(sent), deliveries=len(deliveries), **found)


def deliver_all(url: str, schema: str, worker: int, sent: list[dict[str, Any]],
                barrier: Any, results: Any) -> None:
    """Child process: deliver every payload once, in its own order."""
    try:
        oms = bootstrap(url, schema=schema, load_entrypoints=False,
                        plugins=[omskit_channel_storefront])
        order = list(sent)
        rng = random.Random(worker)
        # Mostly the same order as the others (maximal overlap), a few swapped.
        for _ in range(len(order) // 5):
            i, j = rng.randrange(len(order)), rng.randrange(len(order))
            order[i], order[j] = order[j], order[i]
        barrier.wait(timeout=120)
        got = [(p["id"], oms.channels.receive("storefront", p).id) for p in order]
        oms.close()
        results.put((got, None))
    except BaseException:  # reported to the parent, which fails the test
        results.put(([], traceback.format_exc()))


@pytest.mark.postgres_only
@SPAWNS_PROCESSES
def test_concurrent_redelivery_from_processes(oms: Oms, omskit_database: TestDatabase,
                                              figures: dict[str, Any]) -> None:
    assert omskit_database.schema is not None
    stocked(oms, scaled(15))
    oms.engine.dispose()
    sent = payloads(scaled(30), seed=2)
    # Each payload goes to 2 or 3 of the processes.
    rng = random.Random(11)
    shares: list[list[dict[str, Any]]] = [[] for _ in range(PROCESSES)]
    for payload in sent:
        for worker in rng.sample(range(PROCESSES), rng.randint(2, 3)):
            shares[worker].append(payload)
    barrier = CTX.Barrier(PROCESSES)
    reports = run_processes(deliver_all, [
        (omskit_database.url, omskit_database.schema, w, shares[w], barrier)
        for w in range(PROCESSES)])
    answers: dict[str, set[str]] = defaultdict(set)
    for got in reports:
        for ext, order_id in got:
            answers[ext].add(order_id)
    found = check_one_order_each(oms, sent, answers)
    figures.update(processes=PROCESSES, payloads=len(sent),
                   deliveries=sum(len(s) for s in shares), **found)
