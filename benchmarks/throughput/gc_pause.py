"""What pausing the garbage collector in ``place_many`` gains (decision 46), in one process.

    python benchmarks/throughput/gc_pause.py [--orders 500] [--rounds 5]

``run.py``'s workload (50 locations, ``optimal`` routing over rate-table carriers, orders of
1–5 lines) placed through ``place_many`` in batches of 100 on a fresh SQLite file, alternately
as shipped (collector paused during each batch) and with the pause replaced by a no-op, for
``--rounds`` rounds; each measurement is the process's CPU µs per order (user + system),
including a full collection after the last batch, so garbage the pause left is paid for.
Prints the medians and the load average; writes ``benchmarks/results/throughput_gc_pause.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import statistics
import sys
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import cpu_seconds, open_oms, order_stream, seed_network, take

import omskit.services.orders as orders_module

ROOT = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def _no_pause() -> Iterator[None]:
    yield


def measure(orders: int, paused: bool) -> float:
    """CPU µs per order of ``orders`` orders placed in batches of 100."""
    shipped = orders_module._collector_paused
    with tempfile.TemporaryDirectory() as tmp:
        oms = open_oms(f"sqlite:///{tmp}/a.db")
        oms.create_schema()
        seed_network(oms, 1)
        stream = order_stream(2, "S")
        oms.orders.place_many(take(stream, 50))
        commands = take(stream, orders)
        gc.collect()
        if not paused:
            orders_module._collector_paused = _no_pause  # type: ignore[assignment]
        try:
            kept = []
            cpu0 = cpu_seconds()
            for i in range(0, orders, 100):
                kept.append(oms.orders.place_many(commands[i:i + 100]))
            gc.collect()
            cpu = cpu_seconds() - cpu0
        finally:
            orders_module._collector_paused = shipped
        oms.close()
    return cpu / orders * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    load_before = os.getloadavg()
    runs: dict[str, list[float]] = {"paused": [], "not_paused": []}
    for _ in range(args.rounds):
        runs["not_paused"].append(round(measure(args.orders, paused=False)))
        runs["paused"].append(round(measure(args.orders, paused=True)))
        print(runs, flush=True)
    result = {"when": datetime.now(UTC).isoformat(timespec="seconds"),
              "command": "python benchmarks/throughput/gc_pause.py " + " ".join(sys.argv[1:]),
              "orders": args.orders, "rounds": args.rounds,
              "load_average_before": load_before, "load_average_after": os.getloadavg(),
              "cpu_us_per_order": runs,
              "median_cpu_us_per_order": {k: statistics.median(v) for k, v in runs.items()}}
    (ROOT / "benchmarks" / "results" / "throughput_gc_pause.json").write_text(
        json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
