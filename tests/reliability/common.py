"""Helpers for the reliability suite: the invariants every test checks, and child processes."""

from __future__ import annotations

import multiprocessing
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa

from omskit import Oms
from omskit.domain.inventory import ReservationStatus
from omskit.domain.lifecycle import FulfillmentStatus

F = FulfillmentStatus
SHIPPED = (F.SHIPPED, F.DELIVERED)

#: ``spawn``: children start clean, with no inherited connection or lock.
CTX = multiprocessing.get_context("spawn")


def stock_rows(oms: Oms) -> dict[tuple[str, str], tuple[int, int, int]]:
    """(on_hand, reserved, safety_stock) of every stock row, by (location, SKU)."""
    s = oms.tables.stock_items
    with oms.engine.connect() as conn:
        return {(r.location, r.sku): (r.on_hand, r.reserved, r.safety_stock)
                for r in conn.execute(sa.select(s))}


def active_reservations(oms: Oms) -> dict[tuple[str, str], int]:
    """Units in active order reservations, by (location, SKU)."""
    r = oms.tables.reservations
    totals: dict[tuple[str, str], int] = defaultdict(int)
    with oms.engine.connect() as conn:
        for loc, sku, quantity in conn.execute(
                sa.select(r.c.location, r.c.sku, r.c.quantity)
                .where(r.c.status == ReservationStatus.ACTIVE.value)):
            totals[(loc, sku)] += quantity
    return dict(totals)


def active_soft_reservations(oms: Oms) -> dict[tuple[str, str], int]:
    """Units in active cart holds, by (location, SKU)."""
    r = oms.tables.soft_reservations
    totals: dict[tuple[str, str], int] = defaultdict(int)
    with oms.engine.connect() as conn:
        for loc, sku, quantity in conn.execute(
                sa.select(r.c.location, r.c.sku, r.c.quantity)
                .where(r.c.status == "active")):
            totals[(loc, sku)] += quantity
    return dict(totals)


def outbox(oms: Oms) -> list[dict[str, Any]]:
    """Every outbox row (seq, event_id, event_type, order_id, dispatched_at), in seq order."""
    o = oms.tables.outbox
    with oms.engine.connect() as conn:
        return [dict(r) for r in conn.execute(
            sa.select(o.c.seq, o.c.event_id, o.c.event_type, o.c.order_id, o.c.dispatched_at)
            .order_by(o.c.seq)).mappings()]


def order_ids(oms: Oms) -> list[str]:
    """The id of every committed order."""
    o = oms.tables.orders
    with oms.engine.connect() as conn:
        return [r[0] for r in conn.execute(sa.select(o.c.id).order_by(o.c.id))]


def run_processes(target: Callable[..., None], argsets: Sequence[tuple[Any, ...]],
                  timeout: float = 180) -> list[Any]:
    """Run ``target(*args, results)`` in one spawned process per argument tuple; returns what
    each put on ``results`` (a ``(payload, traceback_or_None)`` pair) and fails on any error."""
    results = CTX.Queue()
    processes = [CTX.Process(target=target, args=(*args, results)) for args in argsets]
    for p in processes:
        p.start()
    try:
        reports = [results.get(timeout=timeout) for _ in processes]
    finally:
        for p in processes:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
                p.join()
    errors = [error for _, error in reports if error]
    assert errors == [], errors[0]
    return [payload for payload, _ in reports]
