"""CPU time per placement and per routing decision on the throughput workload (SQLite file).

    python benchmarks/throughput/place_cpu.py [--orders 1000]

Seeds the throughput benchmark's network (50 locations, two rate-table carriers), places 50
orders to warm up, then ``--orders`` orders one by one, timing each ``oms.orders.place`` and
each ``oms.router.decide`` inside it with ``time.process_time`` (CPU time: steadier than
wall time on a shared machine). Prints one JSON line. To compare two versions of the core,
alternate runs with ``PYTHONPATH`` pointing at the other checkout's ``src``. Writes nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import open_oms, warmed_up

import omskit
from omskit.routing import engine


def main() -> None:
    """Place the orders, print CPU per order and per decision."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1000)
    args = parser.parse_args()
    spent = [0.0, 0.0]
    decide = engine.RoutingEngine.decide

    def timed(self: engine.RoutingEngine, *a: Any, **k: Any) -> engine.Decision:
        c0 = time.process_time()
        try:
            return decide(self, *a, **k)
        finally:
            spent[0] += time.process_time() - c0
            spent[1] += 1

    engine.RoutingEngine.decide = timed  # type: ignore[method-assign]
    with tempfile.TemporaryDirectory() as tmp:
        oms = open_oms(f"sqlite:///{tmp}/place.db")
        oms.create_schema()
        commands = warmed_up(oms, args.orders)
        spent[:] = [0.0, 0.0]
        c0 = time.process_time()
        for command in commands:
            oms.orders.place(command)
        total = time.process_time() - c0
        oms.close()
    print(json.dumps({"core": str(Path(omskit.__file__).parent), "orders": args.orders,
                      "place_cpu_ms": round(total / args.orders * 1000, 4),
                      "decide_cpu_ms": round(spent[0] / max(spent[1], 1) * 1000, 4),
                      "decisions": int(spent[1])}))


if __name__ == "__main__":
    main()
