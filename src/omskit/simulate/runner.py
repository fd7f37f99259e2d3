"""Replaying an order stream through the real engine, once per routing strategy.

Each strategy runs on its own throwaway SQLite database (a file in a temporary directory,
WAL mode), copied from one database seeded with the network, so every strategy starts from
the same stock. Orders are placed through ``oms.orders.place`` in stream order with the
clock set to their ``placed_at``; what the engine decided is read back from the order and
from ``oms.orders.explain``.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, cast

import attrs

from omskit.app import Oms, bootstrap
from omskit.domain.carriers import CarrierRate
from omskit.domain.delivery_dates import delivery_date
from omskit.domain.inventory import Location
from omskit.domain.order import Order
from omskit.domain.routing import RoutingDecision
from omskit.domain.values import Coordinates
from omskit.hookspecs import hookimpl
from omskit.ports import Carrier
from omskit.simulate.formats import Network, OrderSpec

#: The strategies compared when none is named.
DEFAULT_STRATEGIES = ("optimal", "nearest", "fewest-shipments")
#: Builtin plugin the simulator leaves out: it holds orders with unknown SKUs, and the
#: simulator backorders them instead (every order is routed).
VALIDATION_PLUGIN = "omskit.builtin.validation"

#: ``progress(strategy, orders done, orders in total)``.
Progress = Callable[[str, int, int], None]


class NetworkCarriers:
    """The plugin that contributes the network file's carriers (``omskit_register_carriers``)."""

    def __init__(self, carriers: Iterable[Carrier]) -> None:
        self.carriers = tuple(carriers)

    @hookimpl
    def omskit_register_carriers(self, register: Callable[[Carrier], None]) -> None:
        """Register every carrier of the network."""
        for carrier in self.carriers:
            register(carrier)


@attrs.define
class SimulationClock:
    """The clock of a simulated ``Oms``: the ``placed_at`` of the order being placed."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now


@attrs.frozen(kw_only=True)
class Shipment:
    """One fulfilment order of a simulated order: a location, its units and how far away."""

    location: str
    lines: tuple[tuple[str, int], ...]  # (SKU, quantity), SKUs in first-seen order
    distance_km: float

    @property
    def units(self) -> int:
        """Units in this shipment."""
        return sum(q for _, q in self.lines)


@attrs.frozen(kw_only=True)
class OrderOutcome:
    """What one strategy did with one order."""

    external_id: str
    order_id: str
    placed_at: datetime
    destination: Coordinates
    status: str
    units: int
    shipments: tuple[Shipment, ...]
    backordered: tuple[tuple[str, int], ...]
    #: Sum of ``cost.total`` over the order's routing decisions.
    cost: float
    cost_by_term: dict[str, float]
    solver: str
    candidates: int
    rounds: int
    #: Routing time measured by the engine (``elapsed_ms`` of the decisions).
    decision_ms: float
    #: Wall time of ``oms.orders.place`` (validation, routing, reservation, commit).
    place_ms: float
    #: Date the core promised (last parcel's arrival), set when fully allocated.
    promised_date: date | None
    #: Earliest date the network could have delivered every unit at placement.
    earliest_date: date | None
    holds: tuple[str, ...] = ()

    @property
    def units_backordered(self) -> int:
        """Units no location filled."""
        return sum(q for _, q in self.backordered)

    @property
    def on_time(self) -> bool:
        """Fully allocated, and the plan arrives by the earliest date the network could give."""
        return (not self.backordered and self.promised_date is not None
                and self.earliest_date is not None and self.promised_date <= self.earliest_date)


@attrs.frozen(kw_only=True)
class StrategyRun:
    """Every order's outcome under one strategy, in stream order."""

    strategy: str
    outcomes: tuple[OrderOutcome, ...]
    seconds: float


def network_carriers(network: Network) -> list[Carrier]:
    """The network's carriers as core carriers."""
    # RateTableCarrier is frozen (read-only ``code``) while the Carrier protocol declares a
    # plain attribute, which mypy reads as settable: the cast states they match at run time.
    return [cast(Carrier, c.carrier()) for c in network.carriers]


def cheapest_lane(carriers: Sequence[Carrier], location: Location, destination: Coordinates,
                  country: str | None) -> CarrierRate | None:
    """The rate routing prices a lane with: lowest parcel price, then per unit, then code."""
    best: CarrierRate | None = None
    distance = location.coordinates.distance_km(destination) if location.coordinates else None
    for carrier in carriers:
        rate = carrier.rate(location, destination, distance, country)
        if rate is not None and (best is None or (rate.fixed, rate.per_unit, rate.carrier)
                                 < (best.fixed, best.per_unit, best.carrier)):
            best = rate
    return best


def earliest_delivery(decision: RoutingDecision, locations: dict[str, Location],
                      carriers: Sequence[Carrier], placed_at: datetime,
                      country: str | None) -> date | None:
    """The earliest date by which the locations eligible at placement could deliver the
    whole demand: the smallest date ``d`` such that the locations whose parcel would arrive
    by ``d`` (placed now, cheapest lane, cut-off and processing days) together have every
    unit available. ``None`` when even all of them together lack stock."""
    need: dict[str, int] = defaultdict(int)
    for d in decision.demand:
        need[d.sku] += d.quantity
    if decision.destination is None:
        return None
    options: list[tuple[date, str]] = []
    for c in decision.candidates:
        if c.status == "excluded" or c.location not in locations:
            continue
        rate = cheapest_lane(carriers, locations[c.location], decision.destination, country)
        if rate is not None:
            options.append((delivery_date(locations[c.location], placed_at, rate.transit_days),
                            c.location))
    available = {c.location: c.available for c in decision.candidates}
    have: dict[str, int] = defaultdict(int)
    for when, code in sorted(options):
        for sku, units in available[code].items():
            have[sku] += units
        if all(have[sku] >= units for sku, units in need.items()):
            return when
    return None


def _merge(pairs: Iterable[tuple[str, int]]) -> tuple[tuple[str, int], ...]:
    total: dict[str, int] = {}
    for sku, quantity in pairs:
        total[sku] = total.get(sku, 0) + quantity
    return tuple(total.items())


def _bootstrap(url: str, network: Network, *, strategy: str, clock: SimulationClock,
               plugins: Sequence[object], load_entrypoints: bool,
               settings: Mapping[str, Any] | None = None) -> Oms:
    # The network's routing figures, then the caller's settings on top, plugin by plugin.
    merged: dict[str, Any] = {"routing": {"backorder_penalty": network.backorder_penalty,
                                          "split_penalty": 0,
                                          "explain_limit": max(20, len(network.locations))}}
    for key, value in (settings or {}).items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    carriers = NetworkCarriers(network_carriers(network))
    return bootstrap(url, routing_strategy=strategy, settings=merged,
                     plugins=[carriers, *plugins], load_entrypoints=load_entrypoints,
                     disabled_plugins=(VALIDATION_PLUGIN,), clock=clock)


def seed(oms: Oms, network: Network) -> None:
    """Create the network's locations, receive their stock and set their safety stock."""
    oms.create_schema()
    for spec in network.locations:
        oms.inventory.save_location(spec.location())
        for sku, units in spec.stock.items():
            if units > 0:
                oms.inventory.receive(spec.code, sku, units, reference="simulation opening")
        for sku, units in spec.safety_stock.items():
            oms.inventory.set_safety_stock(spec.code, sku, units)


def _distance(location: Location, destination: Coordinates) -> float:
    return location.coordinates.distance_km(destination) if location.coordinates else 0.0


def _outcome(oms: Oms, spec: OrderSpec, locations: dict[str, Location],
             carriers: Sequence[Carrier], place_ms: float, order: Order) -> OrderOutcome:
    # Rounds share the placement time, so put them in round order (the first is the whole
    # order's demand, which the promise is computed from).
    decisions = sorted(oms.orders.explain(order.id), key=lambda d: d.round)
    shipments = tuple(
        Shipment(location=fo.location, lines=_merge((q.sku, q.quantity) for q in fo.lines),
                 distance_km=_distance(locations[fo.location], spec.destination))
        for fo in order.fulfillment_orders)
    by_term: dict[str, float] = defaultdict(float)
    for d in decisions:
        for term, value in d.cost.by_term.items():
            by_term[term] += value
    country = spec.command.shipping_address.country if spec.command.shipping_address else None
    earliest = (earliest_delivery(decisions[0], locations, carriers, spec.placed_at, country)
                if decisions else None)
    return OrderOutcome(
        external_id=spec.external_id, order_id=order.id, placed_at=spec.placed_at,
        destination=spec.destination, status=order.status.value, units=spec.units,
        shipments=shipments,
        backordered=_merge((q.sku, q.quantity) for q in order.backordered()),
        cost=sum(d.cost.total for d in decisions), cost_by_term=dict(by_term),
        solver="+".join(dict.fromkeys(d.solver or d.strategy for d in decisions)),
        candidates=decisions[0].candidates_total if decisions else 0,
        rounds=len(decisions), decision_ms=sum(d.elapsed_ms for d in decisions),
        place_ms=place_ms, promised_date=order.promised_date, earliest_date=earliest,
        holds=tuple(h.code for h in order.active_holds))


def run_strategy(network: Network, orders: Sequence[OrderSpec], strategy: str, *,
                 database: Path, plugins: Sequence[object] = (),
                 load_entrypoints: bool = False,
                 settings: Mapping[str, Any] | None = None,
                 progress: Progress | None = None) -> StrategyRun:
    """Place every order on the seeded SQLite file ``database`` with ``strategy``."""
    clock = SimulationClock(orders[0].placed_at if orders else datetime.now(UTC))
    oms = _bootstrap(f"sqlite:///{database}", network, strategy=strategy, clock=clock,
                     plugins=plugins, load_entrypoints=load_entrypoints, settings=settings)
    locations = {spec.code: spec.location() for spec in network.locations}
    carriers = network_carriers(network)
    outcomes: list[OrderOutcome] = []
    started = time.perf_counter()
    try:
        for done, spec in enumerate(orders, start=1):
            clock.now = spec.placed_at
            t0 = time.perf_counter()
            order = oms.orders.place(spec.command)
            place_ms = (time.perf_counter() - t0) * 1000
            outcomes.append(_outcome(oms, spec, locations, carriers, place_ms, order))
            if progress is not None:
                progress(strategy, done, len(orders))
    finally:
        oms.close()
    return StrategyRun(strategy=strategy, outcomes=tuple(outcomes),
                       seconds=time.perf_counter() - started)


def simulate(network: Network, orders: Sequence[OrderSpec],
             strategies: Sequence[str] = DEFAULT_STRATEGIES, *,
             plugins: Sequence[object] = (), load_entrypoints: bool = False,
             settings: Mapping[str, Any] | None = None,
             progress: Progress | None = None,
             workdir: str | Path | None = None) -> list[StrategyRun]:
    """Run ``orders`` through ``network`` once per strategy; one :class:`StrategyRun` each.

    ``settings`` (keyed by plugin, as ``bootstrap`` takes them) go to every run, over the
    network file's routing figures.

    The databases live in ``workdir`` (default: a temporary directory removed afterwards).
    Unknown strategy codes raise :class:`~omskit.domain.errors.UnknownRoutingStrategy`
    before any order is placed.
    """
    with tempfile.TemporaryDirectory(prefix="omskit-simulate-") as tmp:
        where = Path(workdir) if workdir is not None else Path(tmp)
        where.mkdir(parents=True, exist_ok=True)
        base = where / "network.db"
        clock = SimulationClock(orders[0].placed_at if orders else datetime.now(UTC))
        for strategy in strategies:
            # Fail fast on an unknown strategy, before seeding anything.
            _bootstrap("sqlite://", network, strategy=strategy, clock=clock,
                       plugins=plugins, load_entrypoints=load_entrypoints,
                       settings=settings).close()
        oms = _bootstrap(f"sqlite:///{base}", network, strategy=strategies[0], clock=clock,
                         plugins=plugins, load_entrypoints=load_entrypoints, settings=settings)
        try:
            seed(oms, network)
        finally:
            oms.close()
        runs = []
        for strategy in strategies:
            database = where / f"{_safe(strategy)}.db"
            _copy_database(base, database)
            runs.append(run_strategy(network, orders, strategy, database=database,
                                     plugins=plugins, load_entrypoints=load_entrypoints,
                                     settings=settings, progress=progress))
        return runs


def _copy_database(source: Path, target: Path) -> None:
    # No connection is open (the seeding engine was disposed, which checkpoints the WAL);
    # a WAL file left behind is copied with the database, so the copy has everything.
    shutil.copyfile(source, target)
    wal = source.with_name(source.name + "-wal")
    if wal.exists():
        shutil.copyfile(wal, target.with_name(target.name + "-wal"))


def _safe(strategy: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in strategy)


def as_json(outcome: OrderOutcome, strategy: str) -> dict[str, Any]:
    """One line of ``decisions.jsonl`` (see ``docs/formats.md``)."""
    return {
        "strategy": strategy,
        "external_id": outcome.external_id,
        "fulfillments": [
            {"location": s.location,
             "lines": [{"sku": sku, "quantity": q} for sku, q in s.lines]}
            for s in outcome.shipments],
        "backordered": [{"sku": sku, "quantity": q} for sku, q in outcome.backordered],
        "cost": round(outcome.cost, 6),
        "promise": {
            "promised_date": _iso(outcome.promised_date),
            "earliest_date": _iso(outcome.earliest_date),
            "on_time": outcome.on_time,
        },
        "explain": {
            "solver": outcome.solver,
            "locations": [s.location for s in outcome.shipments],
            "cost_by_term": {k: round(v, 6) for k, v in sorted(outcome.cost_by_term.items())},
            "candidates": outcome.candidates,
            "rounds": outcome.rounds,
            "elapsed_ms": round(outcome.decision_ms, 3),
            "status": outcome.status,
            "holds": list(outcome.holds),
        },
    }


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def write_decisions(path: str | Path, runs: Sequence[StrategyRun]) -> int:
    """Write ``decisions.jsonl``: every order of every run, strategy by strategy, each in
    stream order. Returns the number of lines written."""
    written = 0
    with Path(path).open("w", encoding="utf-8") as out:
        for run in runs:
            for outcome in run.outcomes:
                out.write(json.dumps(as_json(outcome, run.strategy), ensure_ascii=False))
                out.write("\n")
                written += 1
    return written
