"""Placement throughput: omskit on SQLite and PostgreSQL, raw SQL (pgbench) and Tryton 8, one run.

    python benchmarks/throughput/run.py            # or: tox -e bench-throughput
    python benchmarks/throughput/run.py --quick    # smoke run, about 2 minutes, writes nothing

Workload: a network of 50 locations × 200 SKUs (40 stocked per location, so most orders of
2+ lines are split across locations) and a seeded stream of orders of 1–5 lines, each placed
through the public API (``oms.orders.place`` or ``oms.orders.place_many``: idempotency look-up →
segment → validate → route → conditional reservations → order, fulfilment order, reservation,
ledger and outbox rows → commit). Routing is the ``optimal`` strategy priced by real carriers:
the core's ``RateTableCarrier`` with the routing benchmark's rate cards (a ground carrier and an
express one), so every candidate location is priced per lane. Beside each rate: the client
processes' CPU time per order (user + system, from ``resource.getrusage``), the figure the
Python side of placement costs, and the share of orders split across 2+ locations.

1. SQLite file (WAL), one process: per order, then the same orders through ``place_many`` in
   batches.
2. PostgreSQL, 1/2/4/8 worker processes (each its own ``Oms``), per-order ``place`` for a fixed
   duration; and on the same server, right after each, ``pgbench`` with a custom script doing
   what one 3-line order minimally needs, at the same client count.
3. Tryton 8 (trytond, trytond_sale, trytond_stock in their own virtual environment) on
   SQLite: create, quote, confirm and process sale orders for the first N orders of the same
   stream, against omskit placing those same N orders on SQLite.

Results: ``benchmarks/results/throughput.json`` and the table between the markers in
``benchmarks/README.md`` (not with ``--quick``).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from omskit import Oms, bootstrap, hookimpl
from omskit.domain.carriers import RateTableCarrier
from omskit.domain.commands import PlaceOrder
from omskit.testing import location, order_command

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
README = ROOT / "benchmarks" / "README.md"
BEGIN, END = "<!-- throughput-results:begin -->", "<!-- throughput-results:end -->"
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
SCHEMA = "omskit_throughput"
RAW_SCHEMA = "omskit_rawbench"
LOCATIONS, SKUS, SKUS_PER_LOCATION = 50, 200, 40
#: Commands a PostgreSQL worker builds before the clock, per second of the run.
PREBUILT_PER_SECOND = 800
#: The routing benchmark's rate cards (benchmarks/routing/netgen.py): a ground carrier, and an
#: express one dearer per parcel and cheaper per km.
CARRIERS = (RateTableCarrier(code="ground", base=4.5, per_km=0.004, per_unit=0.4),
            RateTableCarrier(code="express", base=8.0, per_km=0.0012, per_unit=0.6))


class CarriersPlugin:
    """Registers :data:`CARRIERS`: the ``optimal`` strategy prices every lane with them."""

    @hookimpl
    def omskit_register_carriers(self, register: Any) -> None:
        """Both rate cards."""
        for carrier in CARRIERS:
            register(carrier)


def open_oms(url: str, schema: str | None = None) -> Oms:
    """The benchmark's ``Oms``: ``optimal`` routing over the rate-table carriers."""
    return bootstrap(url, load_entrypoints=False, schema=schema, routing_strategy="optimal",
                     plugins=[CarriersPlugin()])


def cpu_seconds(who: int = resource.RUSAGE_SELF) -> float:
    """User + system CPU time of this process (or its waited-for children), in seconds."""
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime
TRYTON_PINS = ("trytond>=8.0,<8.1", "trytond_sale>=8.0,<8.1", "trytond_stock>=8.0,<8.1")

# -- workload ---------------------------------------------------------------------------------


def sku_code(n: int) -> str:
    return f"SKU-{n:04d}"


def network(seed: int) -> tuple[list[tuple[str, float, float]], dict[str, dict[str, int]]]:
    """50 locations in a 10° × 11° box and their stock: 60 SKUs each, plenty of units."""
    rng = random.Random(seed)
    places = [(f"loc-{i:02d}", 36.7 + rng.random() * 10, 7.0 + rng.random() * 11)
              for i in range(LOCATIONS)]
    skus = [sku_code(n) for n in range(SKUS)]
    stock = {code: {sku: rng.randint(5_000, 20_000) for sku in rng.sample(skus, SKUS_PER_LOCATION)}
             for code, _, _ in places}
    return places, stock


def split_share(oms: Oms) -> float:
    """The share of placed orders whose fulfilment orders are at 2+ locations."""
    fo = oms.tables.fulfillment_orders.c
    per_order = (sa.select(fo.order_id, sa.func.count(sa.distinct(fo.location)).label("n"))
                 .group_by(fo.order_id).subquery())
    with oms.engine.connect() as conn:
        total, split = conn.execute(
            sa.select(sa.func.count(), sa.func.count().filter(per_order.c.n > 1))).one()
    return round(split / total, 3) if total else 0.0


def order_lines(rng: random.Random) -> dict[str, int]:
    """1–5 distinct SKUs, 1–3 units each."""
    return {sku_code(n): rng.randint(1, 3) for n in rng.sample(range(SKUS), rng.randint(1, 5))}


def order_stream(seed: int, prefix: str) -> Iterator[PlaceOrder]:
    """An endless seeded stream of orders shipped to points in the network's box."""
    rng = random.Random(seed)
    n = 0
    while True:
        lines = order_lines(rng)
        yield order_command(f"{prefix}-{n:07d}", lines, lat=36.7 + rng.random() * 10,
                            lon=7.0 + rng.random() * 11)
        n += 1


def take(stream: Iterator[PlaceOrder], n: int) -> list[PlaceOrder]:
    return [next(stream) for _ in range(n)]


def seed_network(oms: Oms, seed: int) -> None:
    places, stock = network(seed)
    for code, lat, lon in places:
        oms.inventory.save_location(location(code, lat, lon))
    for code, items in stock.items():
        for sku, units in items.items():
            oms.inventory.receive(code, sku, units)


def warmed_up(oms: Oms, orders: int, prefix: str = "PR") -> list[PlaceOrder]:
    """Seed the network (seed 1), place the order stream's first 50 orders one by one
    (caches warm, outside any clock) and return its next ``orders`` commands."""
    seed_network(oms, 1)
    stream = order_stream(2, prefix)
    for command in take(stream, 50):
        oms.orders.place(command)
    return take(stream, orders)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def summary(latencies_ms: list[float], orders: int, seconds: float,
            cpu: float | None = None) -> dict[str, Any]:
    """Rate and latency percentiles; ``cpu``: the client processes' CPU seconds in all."""
    return {"orders": orders, "seconds": round(seconds, 3),
            "orders_per_second": round(orders / seconds, 1),
            "cpu_us_per_order": round(cpu / orders * 1e6) if cpu is not None and orders else None,
            "latency_ms": {"p50": round(percentile(latencies_ms, 50), 2),
                           "p95": round(percentile(latencies_ms, 95), 2),
                           "p99": round(percentile(latencies_ms, 99), 2),
                           "mean": round(statistics.fmean(latencies_ms), 2)}}


def statuses(oms: Oms) -> dict[str, int]:
    return {k.value: v for k, v in sorted(oms.orders.count_by_status().items())}


# -- SQLite -----------------------------------------------------------------------------------


def sqlite_runs(tmp: Path, orders: int, batch: int, seed: int,
                peer_orders: int) -> dict[str, Any]:
    """Per-order and batched placement on copies of one seeded SQLite file."""
    seeded = tmp / "seeded.db"
    oms = open_oms(f"sqlite:///{seeded}")
    oms.create_schema()
    seed_network(oms, seed)
    oms.close()
    for name in ("per_order", "batch", "peer"):
        shutil.copy(seeded, tmp / f"{name}.db")
    commands = take(order_stream(seed + 1, "S"), orders)
    # One order outside the clock, as each PostgreSQL worker places: statements compiled,
    # caches filled, so the rate is the steady one (the first placement takes ~15× longer).
    warm_up = take(order_stream(seed + 1, "W"), 1)
    out: dict[str, Any] = {}

    oms = open_oms(f"sqlite:///{tmp / 'per_order.db'}")
    oms.orders.place(warm_up[0])
    latencies = []
    cpu0 = cpu_seconds()
    started = time.perf_counter()
    for command in commands:
        t0 = time.perf_counter()
        oms.orders.place(command)
        latencies.append((time.perf_counter() - t0) * 1000)
    out["per_order"] = summary(latencies, orders, time.perf_counter() - started,
                               cpu_seconds() - cpu0)
    out["per_order"]["statuses"] = statuses(oms)
    out["per_order"]["split_share"] = split_share(oms)
    assert oms.inventory.ledger_mismatches() == []
    oms.close()

    oms = open_oms(f"sqlite:///{tmp / 'batch.db'}")
    oms.orders.place_many(warm_up)
    latencies = []
    cpu0 = cpu_seconds()
    started = time.perf_counter()
    for i in range(0, orders, batch):
        t0 = time.perf_counter()
        oms.orders.place_many(commands[i:i + batch])
        latencies.append((time.perf_counter() - t0) * 1000)
    out["batch"] = summary(latencies, orders, time.perf_counter() - started,
                           cpu_seconds() - cpu0)
    out["batch"]["batch_size"] = batch
    out["batch"]["latency_is"] = "per batch"
    out["batch"]["statuses"] = statuses(oms)
    assert out["batch"]["statuses"] == out["per_order"]["statuses"]
    assert oms.inventory.ledger_mismatches() == []
    oms.close()

    # The Tryton comparison: omskit places exactly the orders Tryton gets, one by one. The run
    # is short (about a second), so it is repeated on fresh copies and the median run kept.
    runs = []
    for repeat in range(3):
        path = tmp / f"peer-{repeat}.db"
        shutil.copy(tmp / "peer.db", path)
        oms = open_oms(f"sqlite:///{path}")
        latencies = []
        cpu0 = cpu_seconds()
        started = time.perf_counter()
        for command in commands[:peer_orders]:
            t0 = time.perf_counter()
            oms.orders.place(command)
            latencies.append((time.perf_counter() - t0) * 1000)
        runs.append(summary(latencies, peer_orders, time.perf_counter() - started,
                            cpu_seconds() - cpu0))
        oms.close()
    runs.sort(key=lambda r: r["orders_per_second"])
    out["peer_omskit"] = runs[1]
    out["peer_omskit"]["repeats_orders_per_second"] = [r["orders_per_second"] for r in runs]
    return out


# -- PostgreSQL: omskit -----------------------------------------------------------------------


def sa_url(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def pg_worker(url: str, seed: int, prefix: str, seconds: float, ready: Any, go: Any,
              stop_at: Any, results: Any) -> None:
    """One worker process: its own Oms, per-order place until the shared deadline; puts its
    latencies and the CPU seconds it used while placing them."""
    oms = open_oms(sa_url(url), SCHEMA)
    stream = order_stream(seed, prefix)
    warm = next(order_stream(seed + 10_000, prefix + "w"))
    oms.orders.place(warm)  # connections, caches and imports warm, outside the clock
    # The commands are the input, built before the clock as the SQLite runs build theirs:
    # more than a worker places in the time given on this machine (the stream goes on if not).
    commands = iter(take(stream, round(PREBUILT_PER_SECOND * seconds)))
    ready.put(os.getpid())
    go.wait()
    deadline = stop_at.value
    latencies = []
    cpu0 = cpu_seconds()
    while time.perf_counter() < deadline:
        command = next(commands, None) or next(stream)
        t0 = time.perf_counter()
        oms.orders.place(command)
        latencies.append((time.perf_counter() - t0) * 1000)
    cpu = cpu_seconds() - cpu0
    oms.close()
    results.put((latencies, cpu))


def pg_omskit(url: str, workers: int, seconds: float, seed: int) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    go = ctx.Event()
    stop_at = ctx.Value("d", 0.0)
    results = ctx.Queue()
    ready = ctx.Queue()
    procs = [ctx.Process(target=pg_worker,
                         args=(url, seed + 100 * workers + w, f"P{workers}-{w}", seconds,
                               ready, go, stop_at, results))
             for w in range(workers)]
    for p in procs:
        p.start()
    # Every worker has imported, connected and placed its warm-up order before the clock
    # starts (on a loaded machine that can take long), then a second more for them to wait.
    for _ in procs:
        ready.get(timeout=600)
    time.sleep(1)
    start = time.perf_counter()
    stop_at.value = start + seconds
    go.set()
    latencies: list[float] = []
    cpu = 0.0
    for _ in procs:
        found, used = results.get(timeout=seconds + 120)
        latencies.extend(found)
        cpu += used
    for p in procs:
        p.join(timeout=30)
        if p.exitcode != 0:
            raise RuntimeError(f"worker {p.pid} exited with {p.exitcode}")
    out = summary(latencies, len(latencies), seconds, cpu)
    out["workers"] = workers
    return out


# -- PostgreSQL: pgbench ----------------------------------------------------------------------

RAW_DDL = f"""
DROP SCHEMA IF EXISTS {RAW_SCHEMA} CASCADE;
CREATE SCHEMA {RAW_SCHEMA};
CREATE TABLE {RAW_SCHEMA}.stock (
    location integer NOT NULL, sku integer NOT NULL,
    on_hand integer NOT NULL, reserved integer NOT NULL DEFAULT 0,
    PRIMARY KEY (location, sku), CHECK (reserved >= 0 AND reserved <= on_hand));
CREATE TABLE {RAW_SCHEMA}.orders (
    id bigserial PRIMARY KEY, channel varchar(64) NOT NULL, external_id varchar(128) NOT NULL,
    status varchar(32) NOT NULL, total numeric(18, 4) NOT NULL,
    placed_at timestamptz NOT NULL, UNIQUE (channel, external_id));
CREATE TABLE {RAW_SCHEMA}.order_lines (
    order_id bigint NOT NULL REFERENCES {RAW_SCHEMA}.orders (id), line_no integer NOT NULL,
    sku integer NOT NULL, quantity integer NOT NULL, unit_price numeric(18, 4) NOT NULL,
    PRIMARY KEY (order_id, line_no));
INSERT INTO {RAW_SCHEMA}.stock (location, sku, on_hand)
    SELECT l, s, 1000000000 FROM generate_series(1, {LOCATIONS}) l,
                                 generate_series(1, {SKUS}) s;
"""

# Three SKUs from disjoint ranges, so the stock rows are always taken in (location, SKU)
# order, as omskit takes them; each UPDATE states its precondition, as omskit's reserve does.
RAW_SCRIPT = f"""\\set loc random(1, {LOCATIONS})
\\set s1 random(1, {SKUS // 3})
\\set s2 random({SKUS // 3 + 1}, {2 * SKUS // 3})
\\set s3 random({2 * SKUS // 3 + 1}, {SKUS})
\\set q1 random(1, 3)
\\set q2 random(1, 3)
\\set q3 random(1, 3)
BEGIN;
UPDATE {RAW_SCHEMA}.stock SET reserved = reserved + :q1 WHERE location = :loc AND sku = :s1 AND on_hand - reserved >= :q1;
UPDATE {RAW_SCHEMA}.stock SET reserved = reserved + :q2 WHERE location = :loc AND sku = :s2 AND on_hand - reserved >= :q2;
UPDATE {RAW_SCHEMA}.stock SET reserved = reserved + :q3 WHERE location = :loc AND sku = :s3 AND on_hand - reserved >= :q3;
INSERT INTO {RAW_SCHEMA}.orders (channel, external_id, status, total, placed_at) VALUES ('web', 'R-' || txid_current(), 'allocated', 10 * (:q1 + :q2 + :q3), now());
INSERT INTO {RAW_SCHEMA}.order_lines VALUES (currval('{RAW_SCHEMA}.orders_id_seq'), 1, :s1, :q1, 10);
INSERT INTO {RAW_SCHEMA}.order_lines VALUES (currval('{RAW_SCHEMA}.orders_id_seq'), 2, :s2, :q2, 10);
INSERT INTO {RAW_SCHEMA}.order_lines VALUES (currval('{RAW_SCHEMA}.orders_id_seq'), 3, :s3, :q3, 10);
COMMIT;
"""  # noqa: E501


def pgbench_args(url: str) -> list[str]:
    u = sa.make_url(url)
    return ["-h", u.host or "127.0.0.1", "-p", str(u.port or 5432), "-U", u.username or "postgres",
            u.database or "postgres"]


def pgbench_run(url: str, clients: int, seconds: float, tmp: Path) -> dict[str, Any]:
    script = tmp / "order.sql"
    script.write_text(RAW_SCRIPT)
    logs = tmp / f"pgbench-{clients}"
    logs.mkdir(exist_ok=True)
    env = {**os.environ, "PGPASSWORD": sa.make_url(url).password or ""}
    cmd = ["pgbench", "-n", "-f", str(script), "-c", str(clients), "-j", str(clients),
           "-T", str(round(seconds)), "-l", "--log-prefix", str(logs / "log"),
           *pgbench_args(url)]
    cpu0 = cpu_seconds(resource.RUSAGE_CHILDREN)
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    cpu = cpu_seconds(resource.RUSAGE_CHILDREN) - cpu0  # pgbench's own CPU, the client side
    if done.returncode != 0:
        raise RuntimeError(f"pgbench failed: {done.stderr.strip()}")
    found = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", done.stdout)
    if found is None:
        raise RuntimeError(f"no tps in pgbench output:\n{done.stdout}")
    latencies = []
    for log in logs.iterdir():
        for line in log.read_text().splitlines():
            parts = line.split()
            latencies.append(int(parts[2]) / 1000)
    failed = re.search(r"number of failed transactions: (\d+)", done.stdout)
    out = summary(latencies, len(latencies), seconds, cpu)
    out["orders_per_second"] = round(float(found.group(1)), 1)  # pgbench's own figure
    out["clients"] = clients
    out["failed_transactions"] = int(failed.group(1)) if failed else 0
    out["command"] = "pgbench " + " ".join(cmd[1:-len(pgbench_args(url))])
    return out


def raw_counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: int(conn.exec_driver_sql(f"SELECT count(*) FROM {RAW_SCHEMA}.{t}").scalar_one())
                for t in ("orders", "order_lines")}


#: The tables the seeding fills: omskit's stock rows and locations, the raw schema's stock.
SEEDED_OMSKIT = ("omskit_stock_items", "omskit_locations")
SEEDED = (*((SCHEMA, table) for table in SEEDED_OMSKIT), (RAW_SCHEMA, "stock"))


def analyse_seeded(engine: sa.Engine) -> None:
    """Planner statistics for the seeded tables, as autovacuum would gather within a minute
    (without them omskit's stock read is planned from a new table's default estimates, a
    sequential scan of the 2,000 rows). Only those: statistics taken of a table while it is
    still empty make the planner scan it whole once it has grown (the foreign-key checks
    against the orders tables, omskit's and pgbench's alike, slowed both by a third)."""
    with engine.begin() as conn:
        for schema, table in SEEDED:
            conn.exec_driver_sql(f'ANALYZE "{schema}"."{table}"')


def checkpoint(engine: sa.Engine) -> None:
    """Write the dirty buffers out before a phase starts, so that the checkpoint the
    previous phase's writes call for does not land in the next one. Needs a superuser (or
    ``pg_checkpoint``); without one, nothing."""
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("CHECKPOINT")
    except sa.exc.DBAPIError:
        pass


def postgres_runs(url: str, clients: list[int], seconds: float, seed: int,
                  tmp: Path) -> dict[str, Any]:
    engine = sa.create_engine(sa_url(url))
    with engine.begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE')
        conn.exec_driver_sql(f'CREATE SCHEMA "{SCHEMA}"')
        conn.exec_driver_sql(RAW_DDL)
    out: dict[str, Any] = {"omskit": [], "raw": []}
    try:
        oms = open_oms(sa_url(url), SCHEMA)
        oms.create_schema()
        seed_network(oms, seed)
        oms.close()
        analyse_seeded(engine)
        for n in clients:
            checkpoint(engine)
            print(f"  PostgreSQL, {n} worker(s): omskit ...", flush=True)
            out["omskit"].append(pg_omskit(url, n, seconds, seed))
            checkpoint(engine)
            print(f"  PostgreSQL, {n} client(s): pgbench ...", flush=True)
            out["raw"].append(pgbench_run(url, n, seconds, tmp))
        oms = open_oms(sa_url(url), SCHEMA)
        out["omskit_statuses"] = statuses(oms)
        out["omskit_split_share"] = split_share(oms)
        out["ledger_mismatches"] = len(oms.inventory.ledger_mismatches())
        oms.close()
        out["raw_rows"] = raw_counts(engine)
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{SCHEMA}" CASCADE')
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {RAW_SCHEMA} CASCADE")
        engine.dispose()
    return out


# -- Tryton -----------------------------------------------------------------------------------


def tryton_venv(log: list[str]) -> Path:
    """The Tryton venv (created on first use): its python."""
    venv = HERE / ".tryton-venv"
    python = venv / "bin" / "python"
    if not python.exists():
        log.append(f"created {venv}")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *TRYTON_PINS], check=True)
    return python


def tryton_run(commands: list[PlaceOrder], tmp: Path) -> dict[str, Any]:
    log: list[str] = []
    python = tryton_venv(log)
    work = tmp / "tryton"
    work.mkdir()
    (work / "trytond.conf").write_text(f"[database]\nuri = sqlite://\npath = {work}\n")
    (work / "bench.sqlite").touch()
    (work / "admin-password").write_text("admin\n")
    admin = python.parent / "trytond-admin"
    t0 = time.perf_counter()
    done = subprocess.run(
        [str(admin), "-c", str(work / "trytond.conf"), "-d", "bench", "--all",
         "--email", "admin@example.com", "-u", "sale", "stock", "--activate-dependencies"],
        capture_output=True, text=True, check=False,
        env={**os.environ, "TRYTONPASSFILE": str(work / "admin-password")})
    if done.returncode != 0:
        raise RuntimeError(f"trytond-admin failed:\n{done.stderr[-3000:]}")
    setup_seconds = time.perf_counter() - t0
    demand: dict[str, int] = {}
    orders = []
    for command in commands:
        lines = [[line.sku, line.quantity] for line in command.lines]
        for sku, q in lines:
            demand[str(sku)] = demand.get(str(sku), 0) + int(q)
        orders.append(lines)
    spec = {"stock": {sku: 10 * q for sku, q in demand.items()}, "orders": orders}
    (work / "orders.json").write_text(json.dumps(spec))
    done = subprocess.run([str(python), str(HERE / "tryton_peer.py"), str(work),
                           str(work / "orders.json")],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the Tryton run failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    out = summary(result["latencies_ms"], result["orders"], result["seconds"])
    freeze = subprocess.run([str(python), "-m", "pip", "freeze"], capture_output=True,
                            text=True, check=True).stdout
    out["versions"] = {m.group(1): m.group(2) for m in
                       re.finditer(r"^(trytond[a-z_]*)==(\S+)$", freeze, re.M)}
    out["states"] = result["states"]
    out["retried_for_locks"] = result["retried_for_locks"]
    out["setup_seconds"] = round(setup_seconds, 1)
    out["notes"] = log
    return out


# -- report -----------------------------------------------------------------------------------


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "n/a"


def table(results: dict[str, Any]) -> str:
    m = results["machine"]
    v = results["versions"]
    a = results["args"]
    head = (f"Last run ({results['when'][:10]}, {m['processor']}, {m['cpus']} cores, Python "
            f"{m['python']}, PostgreSQL {v['postgresql']}, SQLAlchemy {v['SQLAlchemy']}, "
            f"psycopg {v['psycopg']}, omskit {v['omskit']} at {results['commit']}, seed "
            f"{a['seed']}, {results['seconds']:.0f} s in all, load average before "
            f"{', '.join(f'{x:.2f}' for x in m['load_average_before'])}, after "
            f"{', '.join(f'{x:.2f}' for x in m.get('load_average_after', ()))}): "
            f"`{results['command']}`. Routing `optimal` over two rate-table carriers; orders "
            f"split across 2+ locations: {results['sqlite']['per_order']['split_share']:.0%} "
            f"on SQLite, {results['postgresql']['omskit_split_share']:.0%} on PostgreSQL. "
            "CPU µs/order: user + system CPU of the client processes (omskit's workers, or "
            "pgbench) per order.")
    rows = ["| run | orders | orders/s | CPU µs/order | p50 ms | p95 ms | p99 ms | ratio |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]

    def row(label: str, r: dict[str, Any], extra: str = "") -> None:
        lat = r["latency_ms"]
        cpu = r.get("cpu_us_per_order")
        rows.append(f"| {label} | {r['orders']} | {r['orders_per_second']} "
                    f"| {'' if cpu is None else cpu} | {lat['p50']} "
                    f"| {lat['p95']} | {lat['p99']} | {extra} |")

    s = results["sqlite"]
    row("omskit, SQLite file (WAL), 1 process, `place`", s["per_order"])
    row(f"omskit, SQLite, 1 process, `place_many` × {s['batch']['batch_size']} "
        "(latency per batch)", s["batch"],
        f"{ratio(s['batch']['orders_per_second'], s['per_order']['orders_per_second'])}× "
        "per-order")
    pg = results["postgresql"]
    for om, raw in zip(pg["omskit"], pg["raw"], strict=True):
        n = om["workers"]
        row(f"omskit, PostgreSQL, {n} worker process{'es' if n > 1 else ''}, `place`", om,
            f"omskit ÷ raw = **{ratio(om['orders_per_second'], raw['orders_per_second'])}**")
        row(f"raw SQL (pgbench, 3-line order), {n} client{'s' if n > 1 else ''}", raw)
    t = results.get("tryton")
    if t and "error" not in t:
        row("omskit, SQLite, 1 process, `place` (the orders Tryton gets)", s["peer_omskit"],
            f"omskit ÷ Tryton = **{ratio(s['peer_omskit']['orders_per_second'], t['orders_per_second'])}**")  # noqa: E501
        row("Tryton 8 (`trytond` " + t["versions"].get("trytond", "?") + "), SQLite, sale: "
            "create, quote, confirm, process, assign", t)
    elif t:
        rows.append(f"| Tryton 8: failed, see below | | | | | | | {t['error'][:120]} |")
    return head + "\n\n" + "\n".join(rows)


def write_readme(text: str) -> None:
    readme = README.read_text()
    if BEGIN in readme and END in readme:
        before, rest = readme.split(BEGIN, 1)
        after = rest.split(END, 1)[1]
        README.write_text(f"{before}{BEGIN}\n{text}\n{END}{after}")
    else:
        print(f"README markers {BEGIN} … {END} not found: table not written", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="small sizes, short durations; writes nothing")
    parser.add_argument("--orders", type=int, default=2000, help="SQLite orders")
    parser.add_argument("--batch", type=int, default=100, help="orders per place_many call")
    parser.add_argument("--seconds", type=float, default=20,
                        help="duration per PostgreSQL client count (omskit and pgbench each)")
    parser.add_argument("--clients", default="1,2,4,8")
    parser.add_argument("--tryton-orders", type=int, default=200)
    parser.add_argument("--no-tryton", action="store_true")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--postgres", default=DEFAULT_PG)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--no-readme", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.orders, args.seconds, args.tryton_orders = 200, 3, 20
    started = time.perf_counter()
    clients = [int(c) for c in args.clients.split(",")]
    engine = sa.create_engine(sa_url(args.postgres))
    with engine.connect() as conn:
        pg_version = conn.exec_driver_sql("SHOW server_version").scalar_one()
    engine.dispose()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=ROOT, check=False).stdout.strip()
    results: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": ("python benchmarks/throughput/run.py " + " ".join(sys.argv[1:])).strip(),
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "commit": commit,
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "processor": _cpu_model(), "cpus": os.cpu_count(),
                    "load_average_before": os.getloadavg()},
        "versions": {**{name: version(name) for name in ("omskit", "SQLAlchemy", "psycopg")},
                     "postgresql": pg_version,
                     "pgbench": subprocess.run(["pgbench", "--version"], capture_output=True,
                                               text=True, check=True).stdout.strip()},
    }
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        print("SQLite ...", flush=True)
        results["sqlite"] = sqlite_runs(tmp, args.orders, args.batch, args.seed,
                                        args.tryton_orders)
        print("PostgreSQL ...", flush=True)
        results["postgresql"] = postgres_runs(args.postgres, clients, args.seconds, args.seed,
                                              tmp)
        if not args.no_tryton:
            print("Tryton ...", flush=True)
            commands = take(order_stream(args.seed + 1, "S"), args.tryton_orders)
            try:
                results["tryton"] = tryton_run(commands, tmp)
            except Exception as exc:  # recorded, never faked
                results["tryton"] = {"error": f"{type(exc).__name__}: {exc}"}
    results["seconds"] = round(time.perf_counter() - started, 1)
    results["machine"]["load_average_after"] = os.getloadavg()
    text = table(results)
    print(text)
    if args.quick:
        return
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "throughput.json").write_text(json.dumps(results, indent=2) + "\n")
    if not args.no_readme:
        write_readme(text)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


if __name__ == "__main__":
    main()
