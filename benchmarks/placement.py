"""Placement throughput: ``omskit demo`` on SQLite and a 2,000-order run on each database.

Usage::

    python benchmarks/placement.py [--orders 2000] [--postgres URL] [--out benchmarks/results]

Each order goes through the public API all the way: validate → route → reserve → outbox →
commit. Figures go to ``results/placement.json`` and a table to ``results/placement.md``;
compare ratios from one run, never absolute numbers across machines.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from omskit import ManualCarriers, bootstrap
from omskit.demo import DEMO_CARRIERS, SimulatedClock, demo_day, run_demo
from omskit.testing import location, order_command

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SCHEMA = "omskit_bench"


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def placement_run(url: str, orders: int, seed: int, schema: str | None) -> dict[str, Any]:
    """Seed 50 locations × 200 SKUs, then place ``orders`` orders of 1–5 lines one by one."""
    rng = random.Random(seed)
    oms = bootstrap(url, load_entrypoints=False, schema=schema)
    try:
        oms.create_schema()
        for i in range(50):
            oms.inventory.save_location(location(f"loc-{i:02d}", 36.7 + rng.random() * 10,
                                                 7.0 + rng.random() * 11))
        skus = [f"SKU-{n:04d}" for n in range(200)]
        for i in range(50):
            for sku in rng.sample(skus, 60):
                oms.inventory.receive(f"loc-{i:02d}", sku, rng.randint(20, 200))
        commands = [
            order_command(f"B-{n:06d}", {sku: rng.randint(1, 3)
                                         for sku in rng.sample(skus, rng.randint(1, 5))},
                          lat=36.7 + rng.random() * 10, lon=7.0 + rng.random() * 11)
            for n in range(orders)
        ]
        latencies = []
        started = time.perf_counter()
        for command in commands:
            t0 = time.perf_counter()
            oms.orders.place(command)
            latencies.append((time.perf_counter() - t0) * 1000)
        elapsed = time.perf_counter() - started
        statuses = {k.value: v for k, v in oms.orders.count_by_status().items()}
        assert sum(statuses.values()) == orders
        assert oms.inventory.ledger_mismatches() == []
    finally:
        oms.close()
    return {
        "orders": orders, "seconds": round(elapsed, 3),
        "orders_per_second": round(orders / elapsed, 1),
        "latency_ms": {"p50": round(percentile(latencies, 50), 2),
                       "p95": round(percentile(latencies, 95), 2),
                       "p99": round(percentile(latencies, 99), 2),
                       "mean": round(statistics.fmean(latencies), 2)},
        "statuses": statuses,
    }


def demo_run(path: Path, orders: int) -> dict[str, Any]:
    """``omskit demo`` on a SQLite file: placements/s and all operations/s."""
    clock = SimulatedClock(demo_day())
    oms = bootstrap(f"sqlite:///{path}", load_entrypoints=False, clock=clock,
                    plugins=[ManualCarriers(*DEMO_CARRIERS)])
    try:
        oms.upgrade()
        s = run_demo(oms, clock, orders=orders)
    finally:
        oms.close()
    return {"orders": s.orders, "placements_per_second": round(s.placements_per_second, 1),
            "operations": s.operations,
            "operations_per_second": round(s.operations_per_second, 1)}


def main() -> None:
    """Run every measurement and write the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--demo-orders", type=int, default=400)
    parser.add_argument("--postgres", default=DEFAULT_PG)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args()

    engine = sa.create_engine(args.postgres)
    with engine.begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE')
        conn.exec_driver_sql(f'CREATE SCHEMA "{SCHEMA}"')
    results: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "processor": platform.processor() or platform.machine()},
        "versions": {name: version(name) for name in ("omskit", "SQLAlchemy", "psycopg")},
    }
    with tempfile.TemporaryDirectory() as tmp:
        results["demo_sqlite"] = demo_run(Path(tmp) / "demo.db", args.demo_orders)
        results["placement_sqlite"] = placement_run(f"sqlite:///{tmp}/bench.db", args.orders,
                                                    1, None)
    try:
        results["placement_postgresql"] = placement_run(args.postgres, args.orders, 1, SCHEMA)
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE')
        engine.dispose()

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "placement.json").write_text(json.dumps(results, indent=2) + "\n")
    rows = [
        "| run | orders | orders/s | p50 ms | p95 ms | p99 ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for key, label in (("placement_sqlite", "place, SQLite file (WAL), 1 process"),
                       ("placement_postgresql", "place, PostgreSQL, 1 process")):
        r = results[key]
        lat = r["latency_ms"]
        rows.append(f"| {label} | {r['orders']} | {r['orders_per_second']} | {lat['p50']} "
                    f"| {lat['p95']} | {lat['p99']} |")
    d = results["demo_sqlite"]
    rows.append(f"| `omskit demo`, SQLite: placements | {d['orders']} | "
                f"{d['placements_per_second']} | | | |")
    rows.append(f"| `omskit demo`, SQLite: all operations | {d['operations']} | "
                f"{d['operations_per_second']} | | | |")
    table = "\n".join(rows)
    (args.out / "placement.md").write_text(
        f"Measured {results['when']} on {results['machine']['processor']}, Python "
        f"{results['machine']['python']}, omskit {results['versions']['omskit']}.\n\n"
        f"{table}\n")
    print(table)


if __name__ == "__main__":
    main()
