"""Backorder allocation against the size of the queue: receiving stock when many orders wait.

Usage::

    python benchmarks/backorders/run.py [--waiting 1500] [--postgres URL] [--out DIR]

For each database: ``--waiting`` one-unit orders of one SKU are placed with no stock (they
wait, backordered), then units arrive one receipt at a time. Each receipt's call is timed
(``oms.inventory.receive``, which dispatches the stock event whose handler allocates the
queue in priority order). What matters is that the time follows the units received, not the
orders waiting. Figures go to ``results/backorders.json``; compare within one run.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
import uuid
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from omskit import bootstrap
from omskit.testing import location, order_command

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def run(url: str, waiting: int, schema: str | None) -> dict[str, Any]:
    """Place ``waiting`` backorders, then time receipts of 1, 1, 10 and 100 units."""
    oms = bootstrap(url, load_entrypoints=False, schema=schema)
    try:
        oms.create_schema()
        oms.inventory.save_location(location("dc", 45.46, 9.19))
        oms.inventory.receive("dc", "HOT", 1)  # the SKU is known: orders are not held
        oms.orders.place(order_command("first", {"HOT": 1}))
        started = time.perf_counter()
        oms.orders.place_many(order_command(f"W-{n:06d}", {"HOT": 1}) for n in range(waiting))
        queued = time.perf_counter() - started
        receipts = []
        for units in (1, 1, 10, 100):
            t0 = time.perf_counter()
            oms.inventory.receive("dc", "HOT", units)
            receipts.append({"units": units, "seconds": round(time.perf_counter() - t0, 4)})
        left = len(oms.orders.waiting(["HOT"]))
        assert left == waiting - 112, left
        return {"waiting": waiting, "queue_seconds": round(queued, 3), "receipts": receipts,
                "still_waiting": left,
                "median_receipt_seconds": statistics.median(r["seconds"] for r in receipts)}
    finally:
        oms.drop_schema()
        oms.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--waiting", type=int, default=1500)
    parser.add_argument("--postgres", default=DEFAULT_PG)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent.parent / "results")
    args = parser.parse_args()
    import tempfile

    results: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(), "sqlalchemy": version("sqlalchemy"),
        "omskit": version("omskit"), "command": "python benchmarks/backorders/run.py",
    }
    with tempfile.TemporaryDirectory() as tmp:
        results["sqlite"] = run(f"sqlite:///{tmp}/bench.db", args.waiting, None)
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(args.postgres)
    with engine.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        results["postgresql"] = run(args.postgres, args.waiting, schema)
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        engine.dispose()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "backorders.json").write_text(json.dumps(results, indent=2) + "\n")
    for db in ("sqlite", "postgresql"):
        r = results[db]
        print(f"{db}: {r['waiting']} waiting; receipts of "
              + ", ".join(f"{x['units']} unit(s) {x['seconds']:.3f} s" for x in r["receipts"]))


if __name__ == "__main__":
    main()
