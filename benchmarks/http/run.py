"""Load test of the reference deployment on PostgreSQL at 1, 2 and 4 API processes, against
the library's own placement rate with the same number of processes.

For each process count N, on a fresh database:

1. ``omskit-reference serve --workers N`` (N API processes) and, beside it, one
   ``omskit-reference worker`` (outbox delivery and the periodic sweeps, every 5 s): the
   deployment's real shape. A network of 50 locations × 200 SKUs, stocked at half of the
   (location, SKU) pairs, written once through omskit.
2. Warm-up: locust ``Placer`` users for ``--warmup`` seconds (not counted).
3. **HTTP placement**: ``--users`` locust ``Placer`` users (POST /orders only) for
   ``--seconds``.
4. **Library placement**: N spawned processes, each opening the deployment exactly as an API
   process does (``Deployment.open(..., migrate=False)``, the same plugins and settings) and
   calling ``oms.orders.place`` in a loop for ``--seconds`` with the same kind of orders
   (``workload.py``), while the API processes and the worker sit idle beside them.
5. **HTTP mix**: ``--users`` locust ``Channel`` users (place : read : list = 6 : 3 : 1) for
   ``--seconds``.

Per phase: requests/s, p50 and p95 (ms) and failures per request type, the CPU time (user +
system) of the API processes, of the PostgreSQL backends serving this database, of the load
generator and of the worker, per placed order; deadlocks PostgreSQL counted; the load
average before and after. After the phases, every order a 201 or the library reported must
be in the database exactly once, and the servers' logs must hold no traceback.
Writes ``benchmarks/results/http.json`` and the table between the markers in
``benchmarks/README.md``.

    python benchmarks/http/run.py [--processes 1 2 4] [--seconds 30] [--users 16] [--warmup 8]

Before and after a change to the deployment, side by side in one run: ``--compare-src PATH
[PATH ...]`` runs every process count once per ``PATH`` (labelled ``v1``, ``v2``...), with
``PATH`` (directories joined by ``:``, as in ``PYTHONPATH``) ahead of the installed packages,
say an older reference deployment (``git archive <commit> examples/reference/src | tar -x -C
/tmp/base``, then ``--compare-src /tmp/base/examples/reference/src``), and then once as
installed (``now``): for the API processes, the worker and the library processes alike. It
writes ``benchmarks/results/http_compare.json`` and leaves the README's table alone.

Needs ``pip install -r benchmarks/http/requirements.txt`` beside the reference deployment
(``-e examples/reference``) and PostgreSQL (``OMSKIT_BENCH_POSTGRES_URL``, default
``postgresql://postgres@127.0.0.1:5432``; the run creates and drops its own database).
"""

from __future__ import annotations

import argparse
import csv
import json
import multiprocessing as mp
import os
import platform
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil
import psycopg

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
RESULTS = HERE.parent / "results" / "http.json"
COMPARE_RESULTS = HERE.parent / "results" / "http_compare.json"
README = HERE.parent / "README.md"
BEGIN, END = "<!-- http-results:begin -->", "<!-- http-results:end -->"
SERVER = os.environ.get("OMSKIT_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432")
#: The run's own database (created and dropped): another name lets two runs share a server.
DATABASE = os.environ.get("OMSKIT_BENCH_HTTP_DATABASE", "omskit_bench_http")
LOCATIONS, SKUS = 50, 200
PHASES = ("http_place", "library_place", "http_mix")

sys.path.insert(0, str(HERE))
from workload import order_body  # noqa: E402


def place_command(body: dict[str, Any]) -> Any:
    """The ``PlaceOrder`` the API builds from ``body`` (the fields ``order_body`` sets)."""
    from omskit import Address, Coordinates, Customer, NewLine, PlaceOrder

    address, point = body["shipping_address"], body["shipping_address"]["coordinates"]
    return PlaceOrder(
        channel=body["channel"], external_id=body["external_id"], currency=body["currency"],
        customer=Customer(id=body["customer"]["id"]),
        lines=[NewLine(sku=line["sku"], quantity=line["quantity"],
                       unit_price=line["unit_price"]) for line in body["lines"]],
        shipping_address=Address(line1=address["line1"], city=address["city"],
                                 country=address["country"],
                                 coordinates=Coordinates(lat=point["lat"], lon=point["lon"])))


def fresh_database() -> str:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DATABASE}")
    return f"{SERVER}/{DATABASE}"


def drop_database() -> None:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")


def call(base: str, key: str, method: str, path: str) -> object:
    """One API call with the admin key."""
    request = urllib.request.Request(base + path, method=method,
                                     headers={"Authorization": f"Bearer {key}"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read() or b"null")


def seed(url: str) -> None:
    """The network, written with omskit's own API in this process, in one transaction
    (5,000 receipts one by one over HTTP take minutes): locations, and stock at half of the
    (location, SKU) pairs."""
    from omskit import Capability, Coordinates, Location, LocationKind, bootstrap

    rng = random.Random(7)
    with bootstrap(url, load_entrypoints=False) as root, root.engine.begin() as conn:
        oms = root.bind(conn)
        for n in range(LOCATIONS):
            code = f"loc-{n:02d}"
            oms.inventory.save_location(Location(
                code=code, name=f"Location {n}",
                kind=LocationKind.STORE if n % 3 else LocationKind.DISTRIBUTION_CENTRE,
                coordinates=Coordinates(lat=38 + rng.uniform(0, 8), lon=8 + rng.uniform(0, 8)),
                capabilities=frozenset({Capability.SHIP_FROM_STORE})))
            for s in range(SKUS):
                if rng.random() < 0.5:
                    oms.inventory.receive(code, f"SKU-{s:03d}", 100_000)


def wait_for(predicate: Any, what: str, timeout: float = 180) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.5)
    raise SystemExit(f"{what} within {timeout} s: no")


def answers(base: str) -> bool:
    try:
        with urllib.request.urlopen(base + "/health", timeout=2):
            return True
    except OSError:
        return False


# -- measuring ---------------------------------------------------------------------------------


def cpu_seconds(pids: list[int]) -> dict[int, float]:
    """User + system CPU seconds of each live process of ``pids``."""
    out = {}
    for pid in pids:
        try:
            times = psutil.Process(pid).cpu_times()
        except psutil.Error:
            continue
        out[pid] = times.user + times.system
    return out


def tree(pid: int) -> list[int]:
    """A process and all its descendants."""
    root = psutil.Process(pid)
    return [pid, *(p.pid for p in root.children(recursive=True))]


def backends() -> list[int]:
    """The PostgreSQL server processes serving this benchmark's database."""
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        return [r[0] for r in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s", (DATABASE,))]


def database_counts() -> dict[str, int]:
    """Orders stored, and PostgreSQL's counters for this database: deadlocks, sessions
    opened (a pool that closes and reopens connections shows here), rolled-back
    transactions."""
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        row = conn.execute("SELECT deadlocks, sessions, xact_rollback FROM pg_stat_database "
                           "WHERE datname = %s", (DATABASE,)).fetchone()
    with psycopg.connect(f"{SERVER}/{DATABASE}", autocommit=True) as conn:
        orders = conn.execute("SELECT count(*) FROM omskit_orders").fetchone()
        events = conn.execute("SELECT count(*), count(*) FILTER (WHERE dispatched_at IS NULL) "
                              "FROM omskit_outbox").fetchone()
    assert row is not None
    assert orders is not None
    assert events is not None
    return {"deadlocks": int(row[0]), "sessions": int(row[1]),
            "rollbacks": int(row[2]), "orders": int(orders[0]), "events": int(events[0]),
            "undelivered": int(events[1])}


class Meter:
    """CPU of the API processes, the worker and the database backends over one phase (a
    backend that opened during the phase counts from zero), and the load average."""

    def __init__(self, api: int, worker: int) -> None:
        self.api, self.worker = api, worker

    def __enter__(self) -> Meter:
        self.load_before = os.getloadavg()
        self.counts0 = database_counts()
        self.api_pids = tree(self.api)
        self.api0 = cpu_seconds(self.api_pids)
        self.worker0 = cpu_seconds([self.worker])
        self.db0 = cpu_seconds(backends())
        self.load_generator = 0.0  # set by locust(): its CPU once its users are running
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.t0
        api1 = cpu_seconds(self.api_pids)
        self.api_cpu = sum(api1[p] - self.api0.get(p, 0.0) for p in api1)
        self.worker_cpu = sum(cpu_seconds([self.worker]).values()) - sum(self.worker0.values())
        db1 = cpu_seconds(backends())
        self.db_cpu = sum(db1[p] - self.db0.get(p, 0.0) for p in db1)
        counts1 = database_counts()
        self.counts = {k: counts1[k] - self.counts0[k] for k in counts1}
        self.undelivered = counts1["undelivered"]
        self.load_after = os.getloadavg()

    def report(self, placed: int) -> dict[str, Any]:
        def per_order(seconds: float) -> float | None:
            return round(seconds / placed * 1e6) if placed else None
        return {"load_before": [round(x, 2) for x in self.load_before],
                "load_after": [round(x, 2) for x in self.load_after],
                "wall_seconds": round(self.wall, 1),
                # Orders the database gained and its counters over the phase (the last
                # requests of a locust run may be cut off client-side after the server has
                # placed the order: then orders_stored is a little above the 201s counted).
                "orders_stored": self.counts["orders"],
                "deadlocks": self.counts["deadlocks"],
                # Minus the one this meter opened to count the orders.
                "sessions_opened": self.counts["sessions"] - 1,
                "rollbacks": self.counts["rollbacks"],
                # The outbox: events written in the phase, and those the worker had not
                # delivered yet when it ended.
                "events_written": self.counts["events"],
                "events_undelivered_at_end": self.undelivered,
                "cpu_seconds": {"api": round(self.api_cpu, 2), "database": round(self.db_cpu, 2),
                                "load_generator": round(self.load_generator, 2),
                                "worker": round(self.worker_cpu, 2)},
                "cpu_us_per_order": {"api": per_order(self.api_cpu),
                                     "database": per_order(self.db_cpu),
                                     "load_generator": per_order(self.load_generator)}}


def percentile_of(histogram: dict[str, int], q: float) -> float | None:
    """The q-th percentile (0-100, nearest rank) of locust's response-time histogram
    (milliseconds, rounded as locust rounds them: to 10 ms above 100, to 100 above 1,000)."""
    total = sum(histogram.values())
    if not total:
        return None
    rank, seen = max(1, round(q / 100 * total)), 0
    for value, count in sorted((float(k), v) for k, v in histogram.items()):
        seen += count
        if seen >= rank:
            return value
    raise AssertionError("unreachable: the ranks add up to the total")


def locust(user_class: str, base: str, key: str, users: int, seconds: int,
           log: Path, meter: Meter | None = None) -> dict[str, Any]:
    """One headless locust run of ``seconds`` once its users run, stopped by SIGTERM (its
    own ``--run-time`` counts from before its imports, so a busy machine shortens the run);
    the per-request-type figures from its final JSON. With ``meter``: the CPU locust spends
    while its users run (its start-up is not the load's cost)."""
    with tempfile.TemporaryDirectory() as tmp, log.open("a") as out:
        env = {**os.environ, "BENCH_KEY": key, "BENCH_SKUS": str(SKUS),
               "PYTHONPATH": str(HERE)}
        offset = log.stat().st_size
        process = subprocess.Popen(
            [sys.executable, "-m", "locust", "-f", str(HERE / "locustfile.py"), user_class,
             "--headless", "--host", base, "-u", str(users), "-r", str(users),
             "--json-file", f"{tmp}/run", "--csv", f"{tmp}/run", "--only-summary",
             "--stop-timeout", "10"],
            env=env, stdout=out, stderr=subprocess.STDOUT)
        running = None
        while running is None:
            if process.poll() is not None:
                raise SystemExit(f"locust stopped before its users ran: see {log}")
            with log.open() as f:
                f.seek(offset)
                if "All users spawned" in f.read():
                    times = psutil.Process(process.pid).cpu_times()
                    running = times.user + times.system
            time.sleep(0.05)
        time.sleep(seconds)
        process.send_signal(signal.SIGTERM)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        if meter is not None:
            meter.load_generator = usage.ru_utime + usage.ru_stime - running
        entries = json.loads(Path(f"{tmp}/run.json").read_text())
        failures: list[dict[str, str]] = []
        failures_csv = Path(f"{tmp}/run_failures.csv")
        if failures_csv.exists():
            with failures_csv.open(newline="") as f:
                failures = list(csv.DictReader(f))
    requests: dict[str, dict[str, Any]] = {}
    for e in entries:
        span = e["last_request_timestamp"] - e["start_time"]
        requests[e["name"]] = {
            "count": e["num_requests"], "failures": e["num_failures"],
            "rps": round(e["num_requests"] / span, 1) if span > 0 else None,
            "p50_ms": percentile_of(e["response_times"], 50),
            "p95_ms": percentile_of(e["response_times"], 95)}
    if len(entries) > 1:
        merged: dict[str, int] = {}
        for e in entries:
            for value, count in e["response_times"].items():
                merged[value] = merged.get(value, 0) + count
        requests["all"] = {
            "count": sum(r["count"] for r in requests.values()),
            "failures": sum(r["failures"] for r in requests.values()),
            "rps": round(sum(r["rps"] or 0 for r in requests.values()), 1),
            "p50_ms": percentile_of(merged, 50), "p95_ms": percentile_of(merged, 95)}
    return {"requests": requests,
            "failure_messages": [{"request": f["Name"], "error": f["Error"][:300],
                                  "count": int(f["Occurrences"])} for f in failures]}


def library_worker(url: str, seed: int, prefix: str, ready: Any, go: Any, stop_at: Any,
                   results: Any, src: str | None = None) -> None:
    """One library process: the deployment opened as an API process opens it (from ``src``,
    when given), then ``oms.orders.place`` until the shared deadline."""
    if src is not None:  # a spawned process starts with its parent's sys.path, not PYTHONPATH
        sys.path[:0] = src.split(os.pathsep)
    from omskit_reference.deployment import Deployment
    from omskit_reference.seed import DEMO_CARRIERS

    import omskit

    deployment = Deployment.open(url, migrate=False,
                                 plugins=[omskit.ManualCarriers(*DEMO_CARRIERS)])
    oms = deployment.oms
    rng = random.Random(seed)
    oms.orders.place(place_command(order_body(f"{prefix}-warm", rng)))  # outside the clock
    ready.put(os.getpid())
    go.wait()
    deadline = stop_at.value
    latencies: list[float] = []
    cpu0 = time.process_time()
    n = 0
    while time.perf_counter() < deadline:
        command = place_command(order_body(f"{prefix}-{n:07d}", rng))
        t0 = time.perf_counter()
        oms.orders.place(command)
        latencies.append((time.perf_counter() - t0) * 1000)
        n += 1
    cpu = time.process_time() - cpu0
    deployment.close()
    results.put((latencies, cpu))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def library(url: str, processes: int, seconds: int, meter: Meter,
            src: str | None = None) -> dict[str, Any]:
    """``processes`` spawned library processes placing for ``seconds``."""
    ctx = mp.get_context("spawn")
    ready, results = ctx.Queue(), ctx.Queue()
    go, stop_at = ctx.Event(), ctx.Value("d", 0.0)
    procs = [ctx.Process(target=library_worker,
                         args=(url, 1000 * processes + w, f"lib{processes}-{w}", ready, go,
                               stop_at, results, src)) for w in range(processes)]
    for p in procs:
        p.start()
    for _ in procs:  # imports, connections and the warm-up order, outside the clock
        ready.get(timeout=300)
    with meter:
        stop_at.value = time.perf_counter() + seconds
        go.set()
        gathered = [results.get(timeout=seconds + 120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
        if p.exitcode != 0:
            raise RuntimeError(f"library process {p.pid} exited with {p.exitcode}")
    latencies = [x for lat, _ in gathered for x in lat]
    cpu = sum(c for _, c in gathered)
    placed = len(latencies)
    out = {"placed": placed, "warm_up_orders": processes,
           "rps": round(placed / seconds, 1),
           "p50_ms": round(percentile(latencies, 50), 1),
           "p95_ms": round(percentile(latencies, 95), 1), **meter.report(placed)}
    out["cpu_seconds"]["library"] = round(cpu, 2)
    out["cpu_us_per_order"]["library"] = round(cpu / placed * 1e6) if placed else None
    return out


def placed_by(phase: dict[str, Any]) -> int:
    """Orders a locust phase placed (201s)."""
    post = phase["requests"].get("POST /orders")
    return post["count"] - post["failures"] if post else 0


def run_one(processes: int, seconds: int, users: int, warmup: int, port: int,
            logs: Path, src: str | None = None) -> dict[str, Any]:
    """One process count on a fresh database; ``src``: directories (``PYTHONPATH``) ahead of
    the installed packages (``--compare-src``)."""
    url = fresh_database()
    tag = f"{processes}-{abs(hash(src)) if src else 'now'}"
    serve_log = logs / f"serve-{tag}.log"
    worker_log = logs / f"worker-{tag}.log"
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}  # the logs are read while they run
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join([src, *filter(None, [env.get("PYTHONPATH")])])
    with serve_log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "omskit_reference", "serve", "--database", url,
             "--workers", str(processes), "--port", str(port)],
            stdout=out, stderr=subprocess.STDOUT, env=env)
    worker: subprocess.Popen[bytes] | None = None
    try:
        found = wait_for(lambda: re.search(r"admin key: (\S+)", serve_log.read_text()),
                         "serve printed its admin key")
        key = found.group(1)
        print(f"{processes} process(es): seeding", file=sys.stderr, flush=True)
        seed(url)
        with worker_log.open("w") as out:
            worker = subprocess.Popen(
                [sys.executable, "-m", "omskit_reference", "worker", "--database", url,
                 "--interval", "5"], stdout=out, stderr=subprocess.STDOUT, env=env)
        wait_for(lambda: answers(base), f"{base} answered")
        for _ in range(4 * processes):  # every API process answers before the clock starts
            call(base, key, "GET", "/orders?limit=1")
        print(f"{processes} process(es): warm-up {warmup} s", file=sys.stderr, flush=True)
        locust_log = logs / f"locust-{tag}.log"
        warm = locust("Placer", base, key, users, warmup, locust_log)
        phases: dict[str, Any] = {}
        for name, user_class in (("http_place", "Placer"), ("library_place", None),
                                 ("http_mix", "Channel")):
            print(f"{processes} process(es): {name} {seconds} s", file=sys.stderr, flush=True)
            meter = Meter(server.pid, worker.pid)
            if user_class is None:
                phases[name] = library(url, processes, seconds, meter, src)
                continue
            with meter:
                phase = locust(user_class, base, key, users, seconds, locust_log, meter)
            phases[name] = {**phase, **meter.report(placed_by(phase))}
        # Every order a 201 or the library reported is in the database, once.
        expected = (placed_by(warm) + placed_by(phases["http_place"])
                    + placed_by(phases["http_mix"]) + phases["library_place"]["placed"]
                    + phases["library_place"]["warm_up_orders"])
        with psycopg.connect(url, autocommit=True) as conn:
            stored = conn.execute("SELECT count(*) FROM omskit_orders").fetchone()
        log_text = serve_log.read_text() + worker_log.read_text()
        return {"processes": processes, "seconds": seconds, "users": users,
                "source": src or "this checkout",
                "warm_up": {"seconds": warmup, "placed": placed_by(warm)},
                **phases,
                "orders_expected": expected, "orders_stored": stored[0] if stored else None,
                "tracebacks_in_logs": log_text.count("Traceback"),
                "worker_rounds": log_text.count("delivered "),
                # What an API process spends per order against what the library spends:
                # the HTTP ÷ library rate to expect where the processes' CPU is the limit.
                "ratio_cpu_library_to_api": round(
                    phases["library_place"]["cpu_us_per_order"]["library"]
                    / phases["http_place"]["cpu_us_per_order"]["api"], 2),
                "ratio_http_to_library": round(
                    phases["http_place"]["requests"]["POST /orders"]["rps"]
                    / phases["library_place"]["rps"], 2)
                if phases["library_place"]["rps"] else None}
    finally:
        for process in (worker, server):
            if process is not None:
                process.terminate()
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
        drop_database()


# -- reporting ---------------------------------------------------------------------------------


def run_label(result: dict[str, Any], run: dict[str, Any]) -> str:
    """The process count, and with ``--compare-src`` which source ran (``v1``... or
    ``now``)."""
    if "compare_src" not in result:
        return str(run["processes"])
    sources = result["compare_src"]
    which = f"v{sources.index(run['source']) + 1}" if run["source"] in sources else "now"
    return f"{run['processes']} ({which})"


def table(result: dict[str, Any]) -> str:
    runs = result["runs"]
    lines = [
        f"Last run ({result['when']}, {result['machine']}, {result['users']} users, "
        f"{result['seconds']} s per phase after a {result['warmup']} s warm-up; load average "
        f"{result['load_before'][0]} before, {result['load_after'][0]} after): "
        f"`{result['command']}`", "",
        "Placement, HTTP (`Placer` users, POST /orders only) against the library "
        "(the same number of processes calling `oms.orders.place`):", "",
        "| processes | HTTP orders/s | p50 ms | p95 ms | errors | library orders/s | "
        "p50 ms | p95 ms | HTTP ÷ library | CPU µs/order: API · DB · locust | "
        "library · DB | library ÷ API CPU | load avg (1 min) before → after |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: "
        "| --- |"]
    for run in runs:
        h, lib = run["http_place"], run["library_place"]
        post = h["requests"]["POST /orders"]
        hc, lc = h["cpu_us_per_order"], lib["cpu_us_per_order"]
        label = run_label(result, run)
        lines.append(
            f"| {label} | {post['rps']} | {post['p50_ms']:.0f} | "
            f"{post['p95_ms']:.0f} | {post['failures']} | {lib['rps']} | {lib['p50_ms']:.0f} | "
            f"{lib['p95_ms']:.0f} | {run['ratio_http_to_library']} | "
            f"{hc['api']} · {hc['database']} · {hc['load_generator']} | "
            f"{lc['library']} · {lc['database']} | {run['ratio_cpu_library_to_api']} | "
            f"{h['load_before'][0]} → {h['load_after'][0]} |")
    lines += ["", "The deployment's mix (`Channel` users: place, read back, list = 6 : 3 : 1):",
              "", "| processes | request | requests/s | p50 ms | p95 ms | errors |",
              "| ---: | --- | ---: | ---: | ---: | ---: |"]
    for run in runs:
        for name, r in run["http_mix"]["requests"].items():
            lines.append(f"| {run_label(result, run)} | {name} | {r['rps']} | {r['p50_ms']:.0f} | "
                         f"{r['p95_ms']:.0f} | {r['failures']} |")
    lines += ["", "Checks: " + "; ".join(
        f"{run_label(result, run)} process(es): {run['orders_stored']} orders stored of "
        f"{run['orders_expected']} reported placed, "
        f"{sum(run[p]['deadlocks'] for p in PHASES)} deadlocks, "
        f"{sum(run[p]['sessions_opened'] for p in PHASES)} database sessions opened "
        f"during the phases, {run['tracebacks_in_logs']} tracebacks in the logs, "
        f"{run['worker_rounds']} worker rounds, outbox: "
        + ", ".join(f"{run[p]['events_written']} events written in {p} "
                    f"({run[p]['events_undelivered_at_end']} undelivered at its end)"
                    for p in PHASES) for run in runs) + "."]
    return "\n".join(lines)


def write_readme(text: str) -> None:
    readme = README.read_text()
    start, end = readme.index(BEGIN) + len(BEGIN), readme.index(END)
    README.write_text(readme[:start] + "\n" + text + "\n" + readme[end:])


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=8)
    parser.add_argument("--port", type=int, default=8790)
    parser.add_argument("--no-readme", action="store_true",
                        help="Write the JSON only, not the table in benchmarks/README.md.")
    parser.add_argument("--compare-src", default=None, nargs="+", metavar="PATH",
                        help="Run each process count with each PATH ahead of the installed "
                             "packages, then as installed (see above).")
    args = parser.parse_args()
    command = "python benchmarks/http/run.py " + " ".join(sys.argv[1:])
    load_before = os.getloadavg()
    started = time.monotonic()
    logs = Path(tempfile.mkdtemp(prefix="omskit-bench-http-"))
    print(f"logs of the servers, workers and locust: {logs}", file=sys.stderr, flush=True)
    compared = [os.pathsep.join(str(Path(d).resolve()) for d in path.split(os.pathsep))
                for path in args.compare_src or []]
    sources: list[str | None] = [*compared, None]
    runs = [run_one(n, args.seconds, args.users, args.warmup, args.port, logs, src)
            for n in args.processes for src in sources]
    result = {"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "command": command.strip(),
              "machine": f"{os.cpu_count()} cores, {platform.machine()}, "
                         f"Python {platform.python_version()}",
              "seconds": args.seconds, "users": args.users, "warmup": args.warmup,
              "total_seconds": round(time.monotonic() - started),
              "load_before": [round(x, 2) for x in load_before],
              "load_after": [round(x, 2) for x in os.getloadavg()], "runs": runs}
    if args.compare_src is not None:
        result["compare_src"] = compared
    output = RESULTS if args.compare_src is None else COMPARE_RESULTS
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n")
    text = table(result)
    if not args.no_readme and args.compare_src is None:
        write_readme(text)
    print(text)


if __name__ == "__main__":
    main()
