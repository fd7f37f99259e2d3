"""Load test of the reference deployment on PostgreSQL at 1, 2 and 4 API processes.

For each process count: a fresh database, ``omskit-reference serve --workers N``, a network
of 50 locations × 200 SKUs stocked through the API, then locust (headless) for ``--seconds``
with ``--users`` channel users placing, reading and listing orders. Reports requests/s, p50
and p95 (ms) and errors per request type, writes ``benchmarks/results/http.json``.

    python benchmarks/http/run.py [--processes 1 2 4] [--seconds 30] [--users 16]

Needs ``pip install -r benchmarks/http/requirements.txt -e examples/reference`` and
PostgreSQL (``OMSKIT_BENCH_POSTGRES_URL``, default ``postgresql://postgres@127.0.0.1:5432``).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psycopg

HERE = Path(__file__).resolve().parent
RESULTS = HERE.parent / "results" / "http.json"
SERVER = os.environ.get("OMSKIT_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432")
DATABASE = "omskit_bench_http"


def fresh_database() -> str:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DATABASE}")
    return f"{SERVER}/{DATABASE}"


def call(base: str, key: str, method: str, path: str, body: object = None) -> object:
    """One API call with the admin key."""
    request = urllib.request.Request(
        base + path, method=method, data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json",
                 "Idempotency-Key": f"{method}{path}{random.random()}"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read() or b"null")


def seed(url: str, locations: int, skus: int) -> None:
    """The network, written with omskit's own API in this process, in one transaction
    (5,000 receipts one by one over HTTP take minutes): locations, and stock at half of the
    (location, SKU) pairs."""
    from omskit import Capability, Coordinates, Location, LocationKind, bootstrap

    rng = random.Random(7)
    with bootstrap(url, load_entrypoints=False) as root, root.engine.begin() as conn:
        oms = root.bind(conn)
        for n in range(locations):
            code = f"loc-{n:02d}"
            oms.inventory.save_location(Location(
                code=code, name=f"Location {n}",
                kind=LocationKind.STORE if n % 3 else LocationKind.DISTRIBUTION_CENTRE,
                coordinates=Coordinates(lat=38 + rng.uniform(0, 8), lon=8 + rng.uniform(0, 8)),
                capabilities=frozenset({Capability.SHIP_FROM_STORE})))
            for s in range(skus):
                if rng.random() < 0.5:
                    oms.inventory.receive(code, f"SKU-{s:03d}", 100_000)


def wait_up(base: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(base + "/health", timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"{base} did not answer within {timeout} s")


def run_one(processes: int, seconds: int, users: int, port: int) -> dict[str, object]:
    url = fresh_database()
    server = subprocess.Popen(
        [sys.executable, "-m", "omskit_reference", "serve", "--database", url,
         "--workers", str(processes), "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert server.stdout is not None
        key = ""
        for line in server.stdout:
            found = re.match(r"admin key: (\S+)", line)
            if found:
                key = found.group(1)
                break
        base = f"http://127.0.0.1:{port}"
        print(f"{processes} process(es): seeding", file=sys.stderr, flush=True)
        seed(url, locations=50, skus=200)
        print(f"{processes} process(es): waiting for the API", file=sys.stderr, flush=True)
        wait_up(base)
        for _ in range(4 * processes):  # every worker answers once before the clock starts
            call(base, key, "GET", "/orders?limit=1")
        print(f"{processes} process(es): locust for {seconds} s", file=sys.stderr, flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            env = {**os.environ, "BENCH_KEY": key, "BENCH_SKUS": "200"}
            subprocess.run(
                [sys.executable, "-m", "locust", "-f", str(HERE / "locustfile.py"),
                 "--headless", "--host", base, "-u", str(users), "-r", str(users),
                 "-t", f"{seconds}s", "--csv", f"{tmp}/run", "--only-summary"],
                env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            with open(f"{tmp}/run_stats.csv", newline="") as f:
                rows = list(csv.DictReader(f))
        return {"processes": processes, "seconds": seconds, "users": users,
                "requests": {r["Name"]: {
                    "count": int(r["Request Count"]), "failures": int(r["Failure Count"]),
                    "rps": round(float(r["Requests/s"]), 1),
                    "p50_ms": float(r["50%"]), "p95_ms": float(r["95%"])}
                    for r in rows}}
    finally:
        server.terminate()
        server.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--port", type=int, default=8790)
    args = parser.parse_args()
    runs = [run_one(n, args.seconds, args.users, args.port) for n in args.processes]
    with os.popen("uptime") as uptime:
        load = uptime.read().strip()
    result = {"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "machine": f"{os.cpu_count()} cores, {platform.machine()}, "
                         f"Python {platform.python_version()}",
              "load_before": load, "runs": runs}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print("| API processes | request | requests/s | p50 ms | p95 ms | errors |")
    print("| ---: | --- | ---: | ---: | ---: | ---: |")
    for run in runs:
        for name, r in run["requests"].items():  # type: ignore[attr-defined]
            print(f"| {run['processes']} | {name} | {r['rps']} | {r['p50_ms']:.0f} | "
                  f"{r['p95_ms']:.0f} | {r['failures']} |")


if __name__ == "__main__":
    main()
