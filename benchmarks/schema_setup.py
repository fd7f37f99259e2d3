"""A PostgreSQL test's schema set-up and tear-down: fresh DDL against the reused schema pool.

Usage: ``python benchmarks/schema_setup.py [--rounds N] [--url URL]`` (default URL: the
``OMSKIT_TEST_POSTGRES_URL`` environment variable). Writes ``benchmarks/results/
schema_setup.json``.

Each round does what ``omskit_database`` and ``make_oms`` do around one test with no plugins,
twice, interleaved so both see the same load: **fresh** (decision 7: ``CREATE SCHEMA``,
``bootstrap``, ``create_schema``, ``close``, ``DROP SCHEMA ... CASCADE``) and **pooled**
(decision 49: the same through ``omskit.testing``'s schema pool: the empty schema, the pooled
one handed over, and at the end fingerprinted, emptied and renamed back into the pool). The
test's own work is left out: both would do the same. Wall time is what a test waits; the
server's share shows in it, not in this process's CPU, so both are reported.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

from omskit import bootstrap, create_engine
from omskit.testing._schemas import SchemaPool, table_set_key

RESULTS = Path(__file__).resolve().parent / "results" / "schema_setup.json"


def fresh(url: str, admin: sa.Engine) -> None:
    """A test's schema as decision 7 made it."""
    schema = f"omskit_bench_{uuid.uuid4().hex[:12]}"
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    oms = bootstrap(url, schema=schema, load_entrypoints=False)
    oms.create_schema()
    oms.close()
    with admin.begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')


def pooled(url: str, pool: SchemaPool) -> None:
    """A test's schema as decision 49 makes it (``make_oms``'s path, then the release)."""
    schema = f"omskit_bench_{uuid.uuid4().hex[:12]}"
    pool.create_empty(url, schema)
    oms = bootstrap(url, schema=schema, load_entrypoints=False)
    key = table_set_key(oms.metadata, oms.engine.dialect, schema)
    outcome = pool.take(url, schema, key)
    if outcome != "taken":
        oms.create_schema()
    if outcome == "empty":
        pool.created(url, schema, key)
    oms.close()
    pool.release(url, schema, reusable=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--url", default=os.environ.get("OMSKIT_TEST_POSTGRES_URL"))
    args = parser.parse_args()
    if not args.url:
        print("give --url or set OMSKIT_TEST_POSTGRES_URL", file=sys.stderr)
        return 2
    admin = create_engine(args.url, poolclass=sa.pool.NullPool)
    pool = SchemaPool(prefix=f"omskit_bench_pool_{uuid.uuid4().hex[:6]}_")
    timings: dict[str, dict[str, list[float]]] = {
        name: {"wall": [], "cpu": []} for name in ("fresh", "pooled")}
    pooled(args.url, pool)  # the first pooled test creates the tables (not counted)
    try:
        for _ in range(args.rounds):
            for name in ("fresh", "pooled"):
                wall, cpu = time.perf_counter(), time.process_time()
                if name == "fresh":
                    fresh(args.url, admin)
                else:
                    pooled(args.url, pool)
                timings[name]["wall"].append(time.perf_counter() - wall)
                timings[name]["cpu"].append(time.process_time() - cpu)
    finally:
        pool.close()
        admin.dispose()
    load = os.getloadavg()
    summary = {
        "rounds": args.rounds,
        "load_average_1_5_15": [round(x, 2) for x in load],
        "synchronous_commit_off": "synchronous_commit=off" in os.environ.get("PGOPTIONS", ""),
        **{name: {f"{what}_ms_{stat}": round(1000 * fn(values), 1)
                  for what, values in t.items()
                  for stat, fn in (("median", statistics.median), ("min", min))}
           for name, t in timings.items()},
    }
    RESULTS.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
