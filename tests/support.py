"""Helpers shared by the core test suite (plain functions and tiny plugins, no fixtures)."""

from __future__ import annotations

import multiprocessing
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest
import sqlalchemy as sa

from omskit import Oms, hookimpl
from omskit.domain.events import Event
from omskit.domain.inventory import ReservationStatus

#: ``spawn``: child processes start clean, with no inherited connection or lock.
CTX = multiprocessing.get_context("spawn")

#: Marks a test that races several spawned processes. Under ``pytest -n auto --dist loadgroup``
#: these tests run one after another on one worker while the other workers run the rest: two of
#: them at once would put 16 busy processes on a small machine and push their barriers and
#: result queues towards their timeouts. Without pytest-xdist the mark changes nothing.
SPAWNS_PROCESSES = pytest.mark.xdist_group("processes")

#: Coordinates used across the suite (decimal degrees).
MILAN = (45.4642, 9.19)
ROME = (41.9028, 12.4964)
NAPLES = (40.8518, 14.2681)
TURIN = (45.0703, 7.6869)


@attrs.frozen
class StockRow:
    """One stock row as stored."""

    on_hand: int
    reserved: int
    safety_stock: int


def stock_rows(oms: Oms) -> dict[tuple[str, str], StockRow]:
    """Every stock row, keyed by (location, SKU)."""
    s = oms.tables.stock_items
    with oms.engine.connect() as conn:
        return {
            (r.location, r.sku): StockRow(r.on_hand, r.reserved, r.safety_stock)
            for r in conn.execute(sa.select(s))
        }


def active_reservations(oms: Oms) -> dict[tuple[str, str], int]:
    """Units in active reservation records, per (location, SKU)."""
    r = oms.tables.reservations
    totals: dict[tuple[str, str], int] = defaultdict(int)
    with oms.engine.connect() as conn:
        rows = conn.execute(sa.select(r.c.location, r.c.sku, r.c.quantity)
                            .where(r.c.status == ReservationStatus.ACTIVE.value))
        for location, sku, quantity in rows:
            totals[(location, sku)] += quantity
    return dict(totals)


def reservation_statuses(oms: Oms, order_id: str) -> list[tuple[str, str, int, str]]:
    """(location, SKU, quantity, status) of every reservation of an order, sorted."""
    r = oms.tables.reservations
    with oms.engine.connect() as conn:
        rows = conn.execute(sa.select(r.c.location, r.c.sku, r.c.quantity, r.c.status)
                            .where(r.c.order_id == order_id))
        return sorted((a, b, c, d) for a, b, c, d in rows)


def outbox_rows(oms: Oms) -> list[dict[str, Any]]:
    """Every outbox row in write order, as dicts."""
    o = oms.tables.outbox
    with oms.engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(o).order_by(o.c.seq)).mappings()]


class RecordingHandler:
    """A plugin that records every event it is handed (``omskit_handle_event``)."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    @hookimpl
    def omskit_handle_event(self, event: Event, oms: Oms) -> None:
        self.events.append(event)

    def types(self) -> list[str]:
        """Event types received, in order."""
        return [e.event_type for e in self.events]

    def ids(self) -> list[str]:
        """Event ids received, in order."""
        return [e.event_id for e in self.events]


class FailingHandler(RecordingHandler):
    """Records events, but raises on every event of ``fail_on`` type while ``failing``."""

    def __init__(self, fail_on: str) -> None:
        super().__init__()
        self.fail_on = fail_on
        self.failing = True
        #: Every event handed over, including those the handler failed on.
        self.attempted: list[Event] = []

    @hookimpl
    def omskit_handle_event(self, event: Event, oms: Oms) -> None:
        self.attempted.append(event)
        if self.failing and event.event_type == self.fail_on:
            raise RuntimeError(f"broker down while sending {event.event_type}")
        self.events.append(event)


class SteppingClock:
    """A clock for ``bootstrap(clock=...)`` that advances one second per reading."""

    def __init__(self, start: datetime = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)) -> None:
        self._now = start

    def __call__(self) -> datetime:
        self._now += timedelta(seconds=1)
        return self._now


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
