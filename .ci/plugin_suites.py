"""Run every plugin's own test suite, each in its own pytest process, several at a time.

Usage (tox -e plugins runs it): ``python .ci/plugin_suites.py [pytest arguments...]``

Each folder ``plugins/*/tests`` is one suite, run exactly as ``pytest plugins/<name>/tests``
would run it alone: its own rootdir and pytest settings (the plugin's pyproject.toml), its own
conftest, and only what its distribution declares (decision 47). Suites run side by side, one
per core (``OMSKIT_PLUGIN_SUITE_JOBS`` overrides): a suite spends part of its time waiting on
PostgreSQL, the message brokers and process start-up, and serially the second core sat idle.
Every test uses its own schema or temporary folder, so suites cannot see each other's data;
each gets its own ``--basetemp`` so no run cleans up another's temporary folders.

Each suite's output is printed whole when it ends (never interleaved), then a summary; the
exit status is non-zero if any suite failed.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


# The longest suites, started first so that the last ones to finish are short (the relays
# wait on their brokers far longer than their size suggests); the rest by size of their tests.
LONGEST_FIRST = ("omskit-carrier-karrio", "omskit-relay-amqp", "omskit-relay-nats",
                 "omskit-payment-stripe", "omskit-routing-rules")


def suites() -> list[Path]:
    """Every plugin's tests folder, the longest first."""
    found = [p for p in sorted((ROOT / "plugins").glob("*/tests")) if p.is_dir()]

    def order(folder: Path) -> tuple[int, int]:
        name = folder.parent.name
        rank = LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)
        return rank, -sum(f.stat().st_size for f in folder.rglob("test_*.py"))

    return sorted(found, key=order)


def run(folder: Path, args: list[str], basetemp: Path) -> tuple[Path, int, str, float]:
    """One suite in its own pytest process: (folder, exit status, output, seconds)."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", str(folder.relative_to(ROOT)), "-p", "no:cacheprovider",
         f"--basetemp={basetemp / folder.parent.name}", *args],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    return folder, done.returncode, done.stdout, time.monotonic() - started


def main(args: list[str]) -> int:
    jobs = int(os.environ.get("OMSKIT_PLUGIN_SUITE_JOBS", os.cpu_count() or 1))
    todo = suites()
    if not todo:
        print("no plugin test suites found under plugins/*/tests", file=sys.stderr)
        return 1
    print(f"{len(todo)} plugin suites, {jobs} at a time", flush=True)
    results: list[tuple[Path, int, float]] = []
    with tempfile.TemporaryDirectory(prefix="omskit-plugin-suites-") as tmp, \
            ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(run, folder, args, Path(tmp)) for folder in todo]
        for future in as_completed(futures):
            folder, status, output, seconds = future.result()
            name = folder.relative_to(ROOT)
            print(f"\n===== {name} (exit {status}, {seconds:.1f} s) =====", flush=True)
            print(output, end="" if output.endswith("\n") else "\n", flush=True)
            results.append((folder, status, seconds))
    failed = [folder.relative_to(ROOT) for folder, status, _ in results if status != 0]
    print("\n===== plugin suites =====")
    for folder, status, seconds in sorted(results, key=lambda r: -r[2]):
        print(f"{'ok  ' if status == 0 else 'FAIL'} {seconds:6.1f} s  {folder.relative_to(ROOT)}")
    if failed:
        print(f"{len(failed)} of {len(results)} plugin suites failed: "
              + ", ".join(map(str, failed)), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
