"""Availability at scale: single-SKU available to promise across 1,000 locations, the streamed
global stock view over 100,000 SKUs × 50 locations, and memory against the order count.

    python benchmarks/availability/run.py            # or: tox -e bench-availability
    python benchmarks/availability/run.py --quick    # smoke run, under a minute, writes nothing

Everything runs on PostgreSQL (``--postgres``), each part in its own scratch schema that is
dropped afterwards; part (a) is repeated on an SQLite file for reference.

(a) 1,000 locations (every 25th inactive) × 500 SKUs, every SKU stocked everywhere (500,000
    stock rows, inserted location by location so one SKU's rows are spread over the table),
    plus open supply for every SKU at 10 locations. Latency of ``oms.inventory.available(sku)``,
    ``available(sku, at=...)`` and ``oms.inventory.stock(sku)`` for random SKUs.
(b) 50 locations (2 inactive) × 100,000 SKUs (5,000,000 stock rows) plus open supply for one
    SKU in 7: the whole ``oms.inventory.stock_view()`` streamed, timed (total, rows/s, first
    page), then again under tracemalloc for the peak of Python allocations; EXPLAIN ANALYZE of
    one page's queries.
(c) 50 locations × 2,000 SKUs and 1k / 10k / 50k orders: ``oms.orders.iter_all()`` and
    ``stock_view()`` streamed at each count, tracemalloc peak of each.

Seeding does not go through ``receive()`` (5 million receipts would take hours): stock,
supply and order rows are bulk-inserted into the instance's tables (``oms.tables``) with
``INSERT … SELECT generate_series`` on PostgreSQL (foreign-key triggers off for the load,
``session_replication_role = replica``) and executemany on SQLite. No ledger rows are written:
the reads measured here never touch the ledger (``ledger_mismatches()`` would report them).

Results: ``benchmarks/results/availability.json`` and the table between the markers in
``benchmarks/README.md`` (not with ``--quick``).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from importlib.metadata import version
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from omskit import Oms, bootstrap
from omskit.store.availability import AvailabilityQueries
from omskit.store.engine import normalise_url

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
README = ROOT / "benchmarks" / "README.md"
BEGIN, END = "<!-- availability-results:begin -->", "<!-- availability-results:end -->"
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
SCHEMA = "omskit_bench_availability"
NOW = datetime.now(UTC).replace(microsecond=0)


# -- helpers ----------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def latency(samples: list[float]) -> dict[str, float]:
    return {"n": len(samples), "p50_ms": round(pct(samples, 0.50), 3),
            "p95_ms": round(pct(samples, 0.95), 3), "p99_ms": round(pct(samples, 0.99), 3),
            "mean_ms": round(statistics.fmean(samples), 3),
            "max_ms": round(max(samples), 3)}


def timed(fn: Callable[[str], Any], skus: list[str], rng: random.Random,
          queries: int) -> dict[str, float]:
    for sku in skus[:50]:  # warm the statement caches and the connection pool
        fn(sku)
    samples = []
    for _ in range(queries):
        sku = rng.choice(skus)
        start = time.perf_counter()
        fn(sku)
        samples.append((time.perf_counter() - start) * 1000)
    return latency(samples)


@contextmanager
def scratch_oms(url: str, schema: str | None) -> Iterator[Oms]:
    """An ``Oms`` in a fresh scratch schema (PostgreSQL) or file (SQLite), removed after."""
    admin = sa.create_engine(normalise_url(url), poolclass=sa.pool.NullPool) if schema else None
    if admin is not None:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    oms = bootstrap(url, load_entrypoints=False, schema=schema)
    try:
        oms.create_schema()
        yield oms
    finally:
        oms.close()
        if admin is not None:
            with admin.begin() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            admin.dispose()


def location_rows(count: int, inactive_every: int) -> list[dict[str, Any]]:
    return [{"code": f"loc-{i:04d}", "name": f"Location {i}", "kind": "warehouse",
             "lat": 36.0 + (i % 100) / 10, "lon": 6.0 + (i // 100), "address": None,
             "capabilities": ["ship"], "daily_capacity": None, "handling_cost": "0",
             "active": i % inactive_every != inactive_every - 1, "updated_at": NOW,
             "groups": [], "cutoff": None, "processing_days": 0, "timezone": "UTC"}
            for i in range(count)]


def sku_code(n: int) -> str:
    return f"SKU-{n:06d}"


def seed_postgres(oms: Oms, locations: int, skus: int, inactive_every: int,
                  supply_every: int, supply_locations: int) -> float:
    """Locations, then stock for every (location, SKU) and open supply, in bulk."""
    start = time.perf_counter()
    t = oms.tables
    s, sp = t.stock_items.fullname, t.supplies.fullname
    with oms.engine.begin() as conn:
        conn.execute(t.locations.insert(), location_rows(locations, inactive_every))
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        # Location by location: one SKU's rows end up spread over the whole table.
        conn.exec_driver_sql(
            f"INSERT INTO {s} (location, sku, on_hand, reserved, safety_stock) "
            "SELECT 'loc-' || lpad(l::text, 4, '0'), 'SKU-' || lpad(k::text, 6, '0'), "
            "20 + mod(l * 7919 + k::bigint * 104729, 200), mod(l + k, 10), mod(l * 31 + k, 5) "
            f"FROM generate_series(0, {locations - 1}) l, generate_series(0, {skus - 1}) k")
        conn.exec_driver_sql(
            f"INSERT INTO {sp} (id, location, sku, quantity, eta, kind, reference, status, "
            "created_at) "
            "SELECT 'sup-' || k || '-' || j, "
            f"'loc-' || lpad(mod(k * 13 + j * 97, {locations})::text, 4, '0'), "
            "'SKU-' || lpad(k::text, 6, '0'), 5 + mod(k + j, 20), "
            "now() + make_interval(days => 1 + mod(k + j * 3, 20)), 'purchase_order', '', "
            "CASE WHEN mod(k + j, 10) = 0 THEN 'received' ELSE 'open' END, now() "
            f"FROM generate_series(0, {skus - 1}, {supply_every}) k, "
            f"generate_series(0, {supply_locations - 1}) j")
    with oms.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in (s, sp, t.locations.fullname):
            conn.exec_driver_sql(f"VACUUM ANALYZE {table}")
    return time.perf_counter() - start


def seed_sqlite(oms: Oms, locations: int, skus: int, inactive_every: int,
                supply_every: int, supply_locations: int) -> float:
    start = time.perf_counter()
    t = oms.tables
    with oms.engine.begin() as conn:
        conn.execute(t.locations.insert(), location_rows(locations, inactive_every))
        batch: list[dict[str, Any]] = []
        for loc in range(locations):
            for k in range(skus):
                batch.append({"location": f"loc-{loc:04d}", "sku": sku_code(k),
                              "on_hand": 20 + (loc * 7919 + k * 104729) % 200,
                              "reserved": (loc + k) % 10, "safety_stock": (loc * 31 + k) % 5})
            if len(batch) >= 50_000:
                conn.execute(t.stock_items.insert(), batch)
                batch = []
        if batch:
            conn.execute(t.stock_items.insert(), batch)
        conn.execute(t.supplies.insert(), [
            {"id": f"sup-{k}-{j}", "location": f"loc-{(k * 13 + j * 97) % locations:04d}",
             "sku": sku_code(k), "quantity": 5 + (k + j) % 20,
             "eta": NOW + timedelta(days=1 + (k + j * 3) % 20), "kind": "purchase_order",
             "reference": "", "status": "received" if (k + j) % 10 == 0 else "open",
             "created_at": NOW}
            for k in range(0, skus, supply_every) for j in range(supply_locations)])
        conn.exec_driver_sql("ANALYZE")
    return time.perf_counter() - start


# -- (a) single-SKU available to promise ------------------------------------------------------


def single_sku(oms: Oms, skus: int, queries: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    codes = [sku_code(k) for k in range(skus)]
    later = NOW + timedelta(days=10)
    return {
        "available(sku)": timed(oms.inventory.available, codes, rng, queries),
        "available(sku, at=+10d)": timed(lambda s: oms.inventory.available(s, at=later),
                                         codes, rng, queries),
        "stock(sku)": timed(oms.inventory.stock, codes, rng, queries),
    }


def part_a(args: argparse.Namespace) -> dict[str, Any]:
    locations, skus = (1000, 500) if not args.quick else (1000, 40)
    queries = args.queries if not args.quick else 100
    found: dict[str, Any] = {"locations": locations, "inactive_locations": locations // 25,
                             "skus": skus, "stock_rows": locations * skus,
                             "open_supply_per_sku": "10 locations (1 in 10 received)"}
    with scratch_oms(args.postgres, SCHEMA) as oms:
        found["postgresql_seed_s"] = round(
            seed_postgres(oms, locations, skus, 25, 1, 10), 1)
        found["postgresql"] = single_sku(oms, skus, queries, args.seed)
        found["postgresql_check"] = check_available(oms, skus, args.seed)
    print("(a) PostgreSQL", json.dumps(found["postgresql"]), flush=True)
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as tmp, \
                scratch_oms(f"sqlite:///{tmp}/availability.db", None) as oms:
            found["sqlite_seed_s"] = round(seed_sqlite(oms, locations, skus, 25, 1, 10), 1)
            found["sqlite"] = single_sku(oms, skus, max(100, queries // 4), args.seed)
            found["sqlite_check"] = check_available(oms, skus, args.seed)
        print("(a) SQLite", json.dumps(found["sqlite"]), flush=True)
    return found


def check_available(oms: Oms, skus: int, seed: int) -> int:
    """``available(sku)`` must equal the sum over ``stock(sku)``'s active positions."""
    active = {loc.code for loc in oms.inventory.locations() if loc.active}
    rng = random.Random(seed + 1)
    checked = 0
    for sku in rng.sample([sku_code(k) for k in range(skus)], min(20, skus)):
        stock = oms.inventory.stock(sku)
        expected = sum(p.available for p in stock.positions if p.location in active)
        got = oms.inventory.available(sku)
        if got != expected:
            raise SystemExit(f"available({sku}) = {got}, stock() says {expected}")
        checked += 1
    return checked


# -- (b) the global stock view ----------------------------------------------------------------


def stream_view(oms: Oms, page_size: int) -> dict[str, Any]:
    start = time.perf_counter()
    first = None
    rows = on_hand = 0
    for row in oms.inventory.stock_view(page_size=page_size):
        if first is None:
            first = time.perf_counter() - start
        rows += 1
        on_hand += row.on_hand
    total = time.perf_counter() - start
    return {"rows": rows, "on_hand": on_hand, "total_s": round(total, 3),
            "rows_per_s": round(rows / total), "first_page_ms": round((first or 0) * 1000, 2)}


def traced(fn: Callable[[], Any]) -> tuple[Any, float]:
    """``fn()``'s result and the peak of Python allocations during it, in MiB."""
    gc.collect()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        result = fn()
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    return result, round(peak / 2**20, 2)


def explain_page(oms: Oms, page_size: int, after: str) -> list[dict[str, Any]]:
    """EXPLAIN (ANALYZE, BUFFERS) of each query one page of the view runs after ``after``."""
    captured: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            captured.append((statement, parameters))

    sa.event.listen(oms.engine, "before_cursor_execute", capture)
    try:
        # The page after ``after``, read exactly as the service reads every page.
        with oms.engine.connect() as conn:
            AvailabilityQueries(conn, oms.tables).summaries(after=after, limit=page_size)
    finally:
        sa.event.remove(oms.engine, "before_cursor_execute", capture)
    plans = []
    with oms.engine.connect() as conn:
        for statement, parameters in captured:
            lines = [r[0] for r in conn.exec_driver_sql(
                "EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)]
            plans.append({"query": " ".join(statement.split())[:160], "plan": lines})
    return plans


def part_b(args: argparse.Namespace) -> dict[str, Any]:
    locations, skus = (50, 100_000) if not args.quick else (50, 5_000)
    found: dict[str, Any] = {"locations": locations, "inactive_locations": 2, "skus": skus,
                             "stock_rows": locations * skus,
                             "open_supply": "1 SKU in 7, at 3 locations (1 in 10 received)"}
    with scratch_oms(args.postgres, SCHEMA) as oms:
        found["seed_s"] = round(seed_postgres(oms, locations, skus, 25, 7, 3), 1)
        stream_view(oms, 1000)  # warm: statement caches, the table in the buffer cache
        for page_size in (1000, 5000):
            run = stream_view(oms, page_size)
            run_traced, peak = traced(lambda size=page_size: stream_view(oms, size))
            run["tracemalloc_peak_mib"] = peak
            run["total_s_under_tracemalloc"] = run_traced["total_s"]
            found[f"page_size={page_size}"] = run
            print(f"(b) page_size={page_size}", json.dumps(run), flush=True)
            if run["rows"] != skus:
                raise SystemExit(f"stock view streamed {run['rows']} SKUs, not {skus}")
        found["explain_middle_page"] = explain_page(oms, 1000, sku_code(skus // 2))
    return found


# -- (c) memory against the order count -------------------------------------------------------


def order_rows(start: int, stop: int, skus: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for n in range(start, stop):
        placed = NOW - timedelta(minutes=n)
        batch.append({
            "id": f"ord-{n:07d}", "channel": "web", "external_id": f"W-{n}",
            "status": "allocated", "currency": "EUR", "total": Decimal("19.90"),
            "customer_id": f"customer-{n % 997}",
            "customer": {"id": f"customer-{n % 997}", "segment": None,
                         "contact": {"name": "Bench Customer", "email": "b@example.com"}},
            "delivery": {"kind": "ship"}, "shipping_address": None, "billing_address": None,
            "tags": [], "metadata": {"sku": sku_code(n % skus)}, "placed_at": placed,
            "updated_at": placed, "version": 1, "promised_date": None, "cart_id": None})
        if len(batch) == 5000:
            yield batch
            batch = []
    if batch:
        yield batch


def part_c(args: argparse.Namespace) -> dict[str, Any]:
    locations, skus = 50, 2000
    counts = [1000, 10_000, 50_000] if not args.quick else [200, 1000]
    found: dict[str, Any] = {"locations": locations, "skus": skus, "by_orders": []}
    with scratch_oms(args.postgres, SCHEMA) as oms:
        seed_postgres(oms, locations, skus, 25, 7, 3)
        have = 0
        stream_view(oms, 1000)
        for count in counts:
            with oms.engine.begin() as conn:
                for batch in order_rows(have, count, skus):
                    conn.execute(oms.tables.orders.insert(), batch)
            have = count
            with oms.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.exec_driver_sql(f"VACUUM ANALYZE {oms.tables.orders.fullname}")

            def orders() -> tuple[int, float]:
                start = time.perf_counter()
                seen = sum(1 for _ in oms.orders.iter_all(page_size=500))
                return seen, time.perf_counter() - start

            (seen, seconds), orders_peak = traced(orders)
            if seen != count:
                raise SystemExit(f"iter_all streamed {seen} orders, not {count}")
            view, view_peak = traced(lambda: stream_view(oms, 1000))
            row = {"orders": count, "iter_all_peak_mib": orders_peak,
                   "iter_all_s": round(seconds, 2), "stock_view_peak_mib": view_peak,
                   "stock_view_rows": view["rows"]}
            found["by_orders"].append(row)
            print("(c)", json.dumps(row), flush=True)
    return found


# -- report -----------------------------------------------------------------------------------


def machine(url: str) -> dict[str, Any]:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    engine = sa.create_engine(normalise_url(url), poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        server = conn.exec_driver_sql("SHOW server_version").scalar_one()
        shared = conn.exec_driver_sql("SHOW shared_buffers").scalar_one()
    engine.dispose()
    return {"date": NOW.date().isoformat(), "cpu": cpu, "cores": os.cpu_count(),
            "machine": platform.machine(), "python": platform.python_version(),
            "sqlalchemy": version("sqlalchemy"), "psycopg": version("psycopg"),
            "postgresql": server, "shared_buffers": shared, "sqlite": sqlite3.sqlite_version,
            "load_average": [round(x, 2) for x in os.getloadavg()]}


def markdown(results: dict[str, Any]) -> str:
    m, a, b, c = (results[k] for k in ("machine", "single_sku", "stock_view", "memory"))
    out = [f"Last run ({m['date']}, {m['cores']}-core {m['machine']} {m['cpu']}, Python "
           f"{m['python']}, SQLAlchemy {m['sqlalchemy']}, psycopg {m['psycopg']}, "
           f"PostgreSQL {m['postgresql']} (shared_buffers {m['shared_buffers']}), "
           f"SQLite {m['sqlite']}; load average at the end {m['load_average']}):", "",
           f"**(a) One SKU across {a['locations']:,} locations** ({a['inactive_locations']} "
           f"inactive, {a['skus']} SKUs stocked everywhere, {a['stock_rows']:,} stock rows; "
           "random SKUs):", "",
           "| backend | call | queries | p50 ms | p95 ms | p99 ms |",
           "| --- | --- | ---: | ---: | ---: | ---: |"]
    for backend in ("postgresql", "sqlite"):
        for call, row in a.get(backend, {}).items():
            out.append(f"| {backend} | `{call}` | {row['n']} | {row['p50_ms']} | "
                       f"{row['p95_ms']} | {row['p99_ms']} |")
    out += ["", f"**(b) `stock_view()` over {b['skus']:,} SKUs × {b['locations']} locations** "
            f"({b['stock_rows']:,} stock rows, PostgreSQL, one process):", "",
            "| page_size | SKUs streamed | total s | SKUs/s | first page ms | "
            "tracemalloc peak MiB |", "| ---: | ---: | ---: | ---: | ---: | ---: |"]
    for key, row in b.items():
        if key.startswith("page_size="):
            out.append(f"| {key.split('=')[1]} | {row['rows']:,} | {row['total_s']} | "
                       f"{row['rows_per_s']:,} | {row['first_page_ms']} | "
                       f"{row['tracemalloc_peak_mib']} |")
    out += ["", f"**(c) Memory against the order count** ({c['locations']} locations × "
            f"{c['skus']:,} SKUs; `iter_all(page_size=500)`, `stock_view(page_size=1000)`):", "",
            "| orders | `iter_all` peak MiB | `iter_all` s | `stock_view` peak MiB |",
            "| ---: | ---: | ---: | ---: |"]
    for row in c["by_orders"]:
        out.append(f"| {row['orders']:,} | {row['iter_all_peak_mib']} | {row['iter_all_s']} | "
                   f"{row['stock_view_peak_mib']} |")
    return "\n".join(out)


def write_readme(text: str) -> None:
    readme = README.read_text()
    if BEGIN in readme and END in readme:
        before, rest = readme.split(BEGIN, 1)
        after = rest.split(END, 1)[1]
        README.write_text(f"{before}{BEGIN}\n{text}\n{END}{after}")
    else:
        print(f"README markers {BEGIN} … {END} not found: table not written", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="small sizes, under a minute, writes nothing")
    parser.add_argument("--queries", type=int, default=2000,
                        help="single-SKU queries per call on PostgreSQL (SQLite: a quarter)")
    parser.add_argument("--no-sqlite", action="store_true", help="skip the SQLite reference")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--postgres", default=os.environ.get("OMSKIT_BENCH_POSTGRES_URL",
                                                             DEFAULT_PG))
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--no-readme", action="store_true")
    args = parser.parse_args()

    started = time.perf_counter()
    results: dict[str, Any] = {"command": "python benchmarks/availability/run.py"
                                          + (" --quick" if args.quick else "")}
    results["single_sku"] = part_a(args)
    results["stock_view"] = part_b(args)
    results["memory"] = part_c(args)
    results["machine"] = machine(args.postgres)
    results["wall_s"] = round(time.perf_counter() - started, 1)
    text = markdown(results)
    print(text)
    if args.quick:
        print(f"--quick: nothing written ({results['wall_s']} s)")
        return
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "availability.json").write_text(json.dumps(results, indent=2) + "\n")
    if not args.no_readme:
        write_readme(text)
    print(f"wrote {args.out / 'availability.json'} ({results['wall_s']} s)")


if __name__ == "__main__":
    main()
