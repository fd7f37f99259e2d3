"""What each optimisation gained: the same placement workload on several git revisions, one run.

    python benchmarks/throughput/steps.py                 # the revisions in STEPS
    python benchmarks/throughput/steps.py REV [REV ...]   # any revisions, oldest first

Each revision is exported (``git archive``) to a scratch directory and measured in its own
process with ``PYTHONPATH`` pointing at its ``src``: ``oms.orders.place`` on a SQLite file,
``oms.orders.place_many`` in batches of 100 on SQLite, and ``place`` on PostgreSQL (one
process), with the workload of ``run.py`` (50 locations, orders of 1–5 lines, ``optimal``
routing over rate-table carriers; the harness is this checkout's ``run.py``, so a revision
must have ``RateTableCarrier``). Each measure is orders/s and the process's CPU µs per order
(user + system, ``resource.getrusage``), the figure to judge by on a shared machine.
Revisions are interleaved for ``--rounds`` rounds and the median of each is reported, so a
noisy moment hits every revision alike; the load average is recorded before and after.
Results: ``benchmarks/results/throughput_steps_15.json`` and the table between the markers in
``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
README = ROOT / "benchmarks" / "README.md"
BEGIN, END = "<!-- throughput-steps-15:begin -->", "<!-- throughput-steps-15:end -->"

#: The optimisations of issue 15, oldest first: (revision, what it changed).
STEPS = (
    ("b1051a9", "before: issue 13 finished (the garbage-collector pause of decision 46 in)"),
    ("62c70d9", "time-ordered ids (decision 50); pooled PostgreSQL connections pinged only "
                "after idling (decision 51); SQLite's new rows straight to the driver; the "
                "stock read without per-call compilation"),
    ("26cdf33", "routing: explanation stored compact (decision 48), screening as one array, "
                "only the used candidates built"),
    ("9b6f394", "SQLite's BEGIN, look-up, stock read and reservation to the driver; the "
                "ledger's redundant index dropped (decision 52)"),
    ("d2c2264", "SQLite's log checkpointed by a background thread (decision 53); "
                "decimal_places on the digit tuple; a repeated timestamp formatted once"),
    ("cd13e6d", "PostgreSQL's look-up, stock read, reservation and insert to the driver, "
                "lost connections invalidated (decision 54)"),
    ("c81005c", "optimal routing: the relaxed SKU-set programme skipped when it equals the "
                "whole-stock one"),
    ("899afe4", "PostgreSQL: the external-id look-up shares the locked stock read's "
                "statement (decision 55)"),
)

#: Runs in a child process whose PYTHONPATH puts one revision's ``src`` first.
CHILD = r"""
import json, sys, tempfile, time
sys.path.insert(0, sys.argv[1])
import sqlalchemy as sa
from run import SEEDED_OMSKIT, cpu_seconds, open_oms, order_stream, seed_network, take, sa_url

def measure(url, schema, orders, batch):
    oms = open_oms(url, schema)
    oms.create_schema()
    seed_network(oms, 1)
    stream = order_stream(2, "S")
    oms.orders.place_many(take(stream, 50)) if hasattr(oms.orders, "place_many") else None
    if schema:  # the seeded tables' planner statistics, as run.py gathers them
        with oms.engine.begin() as conn:
            for table in SEEDED_OMSKIT:
                conn.exec_driver_sql(f'ANALYZE "{schema}"."{table}"')
    commands = take(stream, orders)
    cpu0 = cpu_seconds()
    started = time.perf_counter()
    if batch:
        for i in range(0, orders, batch):
            oms.orders.place_many(commands[i:i + batch])
    else:
        for command in commands:
            oms.orders.place(command)
    elapsed = time.perf_counter() - started
    cpu = cpu_seconds() - cpu0
    oms.close()
    return round(orders / elapsed, 1), round(cpu / orders * 1e6)

orders, pg = int(sys.argv[2]), sys.argv[3]
result = {}
with tempfile.TemporaryDirectory() as tmp:
    result["sqlite_place"] = measure(f"sqlite:///{tmp}/a.db", None, orders, 0)
    result["sqlite_place_many"] = measure(f"sqlite:///{tmp}/b.db", None, orders, 100)
if pg:
    engine = sa.create_engine(sa_url(pg))
    with engine.begin() as conn:
        conn.exec_driver_sql('DROP SCHEMA IF EXISTS omskit_steps CASCADE')
        conn.exec_driver_sql('CREATE SCHEMA omskit_steps')
    try:
        result["postgresql_place"] = measure(sa_url(pg), "omskit_steps", orders, 0)
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql('DROP SCHEMA IF EXISTS omskit_steps CASCADE')
        engine.dispose()
print(json.dumps(result))
"""

MEASURES = (("sqlite_place", "SQLite `place`"), ("sqlite_place_many", "SQLite `place_many` ×100"),
            ("postgresql_place", "PostgreSQL `place`, 1 process"))


def export(revision: str, into: Path) -> str:
    """Unpack ``revision``'s tree into ``into``; returns its short hash."""
    short = subprocess.run(["git", "rev-parse", "--short", revision], cwd=ROOT, check=True,
                           capture_output=True, text=True).stdout.strip()
    archive = subprocess.run(["git", "archive", "--format=tar", revision], cwd=ROOT,
                             check=True, capture_output=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return short


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("revisions", nargs="*", help="default: the revisions in STEPS")
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--no-readme", action="store_true")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite measures only")
    parser.add_argument("--out", type=Path,
                        default=ROOT / "benchmarks" / "results" / "throughput_steps_15.json")
    args = parser.parse_args()
    load_before = os.getloadavg()
    steps = [(r, "") for r in args.revisions] if args.revisions else list(STEPS)
    runs: dict[str, dict[str, list[list[float]]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        trees = {}
        for revision, _ in steps:
            tree = Path(tmp) / revision
            tree.mkdir()
            trees[revision] = (export(revision, tree), tree)
        for round_ in range(args.rounds):
            for revision, _ in steps:
                short, tree = trees[revision]
                env = {**os.environ, "PYTHONPATH": str(tree / "src")}
                out = subprocess.run(
                    [sys.executable, "-c", CHILD, str(HERE), str(args.orders),
                     "" if args.no_postgres else args.postgres],
                    env=env, check=True, capture_output=True, text=True).stdout
                found = json.loads(out.strip().splitlines()[-1])
                print(f"round {round_ + 1} {short}: {found}", flush=True)
                for key, value in found.items():
                    runs.setdefault(revision, {}).setdefault(key, []).append(value)
    results = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": ("python benchmarks/throughput/steps.py " + " ".join(sys.argv[1:])).strip(),
        "orders": args.orders, "rounds": args.rounds,
        "load_average_before": load_before, "load_average_after": os.getloadavg(),
        "steps": [{"revision": trees_short, "change": change,
                   "median_orders_per_second": {k: statistics.median(r for r, _ in v)
                                                for k, v in runs[revision].items()},
                   "median_cpu_us_per_order": {k: statistics.median(c for _, c in v)
                                               for k, v in runs[revision].items()},
                   "runs": runs[revision]}
                  for (revision, change), trees_short in
                  zip(steps, [trees[r][0] for r, _ in steps], strict=True)],
    }
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    table = render(results)
    print(table)
    if not args.no_readme and not args.revisions:
        text = README.read_text()
        if BEGIN in text and END in text:
            start, end = text.index(BEGIN) + len(BEGIN), text.index(END)
            README.write_text(text[:start] + "\n" + table + "\n" + text[end:])
        else:
            print(f"README markers {BEGIN} … {END} not found: table not written",
                  file=sys.stderr)


def render(results: dict[str, object]) -> str:
    """The markdown table: orders/s and CPU µs per order per revision, and each step's CPU
    per order against the first row's."""
    steps = results["steps"]
    assert isinstance(steps, list)
    first = steps[0]["median_cpu_us_per_order"]
    measures = [(k, label) for k, label in MEASURES if k in first]
    head = "| revision | change | " + " | ".join(label for _, label in measures) + " |"
    rows = [head, "| --- | --- | " + " | ".join("---:" for _ in measures) + " |"]
    for step in steps:
        rates, cpu = step["median_orders_per_second"], step["median_cpu_us_per_order"]
        cells = [f"{rates[key]:.0f}/s, {cpu[key]:.0f} µs (×{cpu[key] / first[key]:.2f})"
                 for key, _ in measures]
        rows.append(f"| `{step['revision']}` | {step['change']} | " + " | ".join(cells) + " |")
    load = ", ".join(f"{x:.2f}" for x in results["load_average_before"])  # type: ignore[attr-defined]
    return (f"Medians of {results['rounds']} interleaved rounds of {results['orders']} orders "
            f"each: orders/s, CPU µs per order (× the first row's CPU), "
            f"{str(results['when'])[:10]}, load average before {load}: "
            f"`{results['command']}`\n\n" + "\n".join(rows))


if __name__ == "__main__":
    main()
