"""The routing engine: rules, prices, a strategy's plan, and its explanation.

:meth:`RoutingEngine.decide` is pure: it reads only the request and the candidates it is
given (and the plugins' answers), so the order service, the simulator and the benchmark run
exactly the same decision. The order service gathers candidates from the database and
reserves the plan in the same transaction (``omskit.services.allocation``).
"""

from __future__ import annotations

import functools
import heapq
import math
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs
import numpy as np

from omskit.domain.errors import OmsError, PluginError
from omskit.domain.events import new_id
from omskit.domain.routing import (
    Candidate,
    Exclusion,
    Holdback,
    PlanCost,
    RoutingDecision,
    RoutingPlan,
    RoutingPolicy,
    RoutingRequest,
    plan_cost,
)
from omskit.domain.values import Address, Coordinates, DeliveryKind
from omskit.plugins import Hooks
from omskit.ports import Carrier, Geocoder, RoutingStrategy
from omskit.registries import Registry
from omskit.routing.candidates import PricedCandidates
from omskit.routing.explanation import ExplanationRecord
from omskit.routing.settings import RoutingSettings

#: Excluded locations an explanation names one by one; beyond that they are counted per rule.
EXCLUDED_NAMED = 50


class InvalidRoutingPlan(OmsError):
    """A routing strategy returned a plan that breaks its contract (a plugin bug)."""


@attrs.frozen(kw_only=True)
class Screening:
    """What the rules and capacity made of one request's candidates."""

    #: Locations left out, with every rule's verdict.
    excluded: Mapping[str, list[Exclusion]]
    #: Units the request may not take (they add up; availability never goes below 0).
    holdbacks: tuple[Holdback, ...]
    #: Candidates that may serve, holdbacks taken off, with some of the demand.
    eligible: tuple[Candidate, ...]


@attrs.frozen(kw_only=True)
class _Screened:
    """:class:`Screening` as the engine uses it (lists, not copied into tuples)."""

    excluded: Mapping[str, list[Exclusion]]
    holdbacks: tuple[Holdback, ...]
    eligible: list[Candidate]
    #: Availability per eligible candidate (rows) and demanded SKU (columns, sorted).
    available: np.ndarray
    #: The raw candidate of each excluded location (the explanation names some of them).
    excluded_raw: Mapping[str, Candidate]


def holdback_of(holdbacks: Sequence[Holdback], location: str, sku: str) -> int:
    """Units of ``sku`` at ``location`` the holdbacks keep back."""
    return sum(h.quantity for h in holdbacks
               if h.location in (None, location) and h.sku in (None, sku))


@attrs.frozen(kw_only=True)
class Decision:
    """What :meth:`RoutingEngine.decide` returns: the plan, its cost, its explanation."""

    plan: RoutingPlan
    cost: PlanCost
    #: The explanation as it is stored (compact; :attr:`explanation` renders it).
    record: ExplanationRecord
    #: The eligible, priced candidates the strategy chose from (each built when read).
    candidates: PricedCandidates

    @property
    def explanation(self) -> RoutingDecision:
        """The full explanation (rendered on first read)."""
        return self.record.render()


def check_plan(plan: RoutingPlan, request: RoutingRequest,
               candidates: Sequence[Candidate]) -> None:
    """Raise :class:`InvalidRoutingPlan` unless ``plan`` covers the demand exactly, uses only
    candidates, never takes more than they have, and respects ``max_shipments``."""
    by_code: Any
    if isinstance(candidates, PricedCandidates):
        by_code = candidates  # looked up by code without building every candidate
    else:
        by_code = {c.code: c for c in candidates}
    wanted = {d.line_id: d for d in request.demand}
    given: dict[str, int] = defaultdict(int)
    taken: dict[tuple[str, str], int] = defaultdict(int)
    for a in plan.allocations:
        if by_code.get(a.location) is None or a.line_id not in wanted or a.quantity <= 0:
            raise InvalidRoutingPlan(f"{plan.strategy}: allocation {a} is not a candidate")
        if a.sku != wanted[a.line_id].sku:
            raise InvalidRoutingPlan(f"{plan.strategy}: allocation {a} has the wrong SKU")
        given[a.line_id] += a.quantity
        taken[(a.location, a.sku)] += a.quantity
    for b in plan.backordered:
        if b.line_id not in wanted or b.quantity <= 0:
            raise InvalidRoutingPlan(f"{plan.strategy}: backorder {b} is not demand")
        given[b.line_id] += b.quantity
    for line_id, d in wanted.items():
        if given[line_id] != d.quantity:
            raise InvalidRoutingPlan(
                f"{plan.strategy}: line {line_id} planned {given[line_id]} of {d.quantity}")
    for (code, sku), quantity in taken.items():
        has = by_code.get(code).available.get(sku, 0)
        if quantity > has:
            raise InvalidRoutingPlan(
                f"{plan.strategy}: {quantity} × {sku} from {code}, which has {has}")
    limit = request.policy.max_shipments
    if limit is not None and len(plan.locations()) > limit:
        raise InvalidRoutingPlan(
            f"{plan.strategy}: {len(plan.locations())} shipments, at most {limit} allowed")


def _apply_holdbacks(candidate: Candidate, holdbacks: Sequence[Holdback]) -> Candidate:
    available = dict(candidate.available)
    changed = False
    for h in holdbacks:
        if h.location is not None and h.location != candidate.code:
            continue
        for sku in ([h.sku] if h.sku is not None else list(available)):
            if sku in available:
                available[sku] = max(0, available[sku] - h.quantity)
                changed = True
    return attrs.evolve(candidate, available=available) if changed else candidate


def _standalone_costs(priced: PricedCandidates, request: RoutingRequest,
                      need: Mapping[str, int]) -> np.ndarray:
    """What each candidate would cost shipping all it can of the demand alone, the rest
    backordered (the ranking of an explanation's considered candidates)."""
    penalty = request.policy.backorder_penalty
    skus = sorted(need)
    arrays = priced.arrays(skus)
    demand = np.array([need[s] for s in skus], dtype=float)
    take_all = np.minimum(arrays.available, demand)
    result: np.ndarray = (arrays.fixed + (take_all * arrays.unit).sum(axis=1)
                          + ((demand - take_all) * penalty).sum(axis=1))
    return result


#: Above this many candidates the explanation's best few are found by a partial sort.
_PARTIAL_SORT_FROM = 100


class RoutingEngine:
    """Runs routing decisions with one ``Oms``'s plugins, carriers and settings."""

    def __init__(self, hooks: Hooks, strategies: Registry[RoutingStrategy],
                 carriers: Registry[Carrier], settings: Mapping[str, Any],
                 routing: RoutingSettings,
                 geocoders: Registry[Geocoder] | None = None) -> None:
        self._hooks = hooks
        self._strategies = strategies
        #: The registered carriers, in code order (also read by the promise API).
        self.carriers: tuple[Carrier, ...] = tuple(c.item for c in carriers.contributions())
        self._settings = settings
        self.routing = routing
        self._geocoders: tuple[Geocoder, ...] = ()
        if geocoders is not None:
            wanted = routing.geocoders if routing.geocoders is not None else tuple(geocoders)
            # An unknown code is UnknownGeocoder at bootstrap, not a silent blind spot.
            self._geocoders = tuple(geocoders.get(code) for code in wanted)
        # Geocoders are pure and offline (their Protocol says so): one answer per address
        # serves every later decision, re-plans and backorder rounds included.
        self.locate = functools.lru_cache(maxsize=20_000)(self._locate)

    @property
    def settings(self) -> Mapping[str, Any]:
        """The deployment's settings (keyed by plugin) this engine was built with."""
        return self._settings

    def _locate(self, address: Address) -> tuple[Coordinates | None, str]:
        """Coordinates for ``address`` from the first geocoder that knows it, with
        ``geocoder:<code>`` as their source; ``(None, "")`` when none does."""
        for geocoder in self._geocoders:
            found = geocoder.geocode(address)
            if found is None:
                continue
            if not isinstance(found, Coordinates):
                raise PluginError(f"geocoder {geocoder.code!r} returned {found!r}, not "
                                  "Coordinates or None")
            return found, f"geocoder:{geocoder.code}"
        return None, ""

    def with_policy(self, request: RoutingRequest) -> RoutingRequest:
        """``request`` with the policy the settings and ``omskit_routing_policy`` give it."""
        policy = self._hooks.routing_policy(request, self._settings, self.routing.policy)
        if not isinstance(policy, RoutingPolicy) or not all(
                math.isfinite(v) and v >= 0
                for v in (policy.backorder_penalty, policy.split_penalty)) or (
                policy.max_shipments is not None and policy.max_shipments < 1):
            raise PluginError(f"omskit_routing_policy returned an invalid policy: {policy!r}")
        return attrs.evolve(request, policy=policy)

    def screen(self, request: RoutingRequest, candidates: Sequence[Candidate]) -> Screening:
        """Apply the rules (``omskit_routing_rules``) and daily capacity to ``candidates``:
        what is excluded and why, what is held back, and the eligible candidates with the
        holdbacks taken off their availability (only those with some of the demand)."""
        found = self._screen(request, candidates, sorted(request.units()))
        return Screening(excluded=found.excluded, holdbacks=found.holdbacks,
                         eligible=tuple(found.eligible))

    def _screen(self, request: RoutingRequest, candidates: Sequence[Candidate],
                skus: Sequence[str]) -> _Screened:
        """:meth:`screen`, plus what the decision reads next: each eligible candidate's
        availability of ``skus`` and the raw candidate of each excluded location."""
        excluded: dict[str, list[Exclusion]] = defaultdict(list)
        holdbacks: list[Holdback] = []
        for verdict in self._hooks.routing_rules(request, candidates, self._settings):
            if isinstance(verdict, Exclusion):
                excluded[verdict.location].append(verdict)
            else:
                holdbacks.append(verdict)
        excluded_raw: dict[str, Candidate] = {}
        kept: list[Candidate] = []
        # One pass over every candidate: keep it lean, it runs a thousand times a decision.
        for c in candidates:
            code = c.location.code
            if code in excluded:
                excluded_raw.setdefault(code, c)
                continue
            left = c.capacity_left
            if left is not None and left <= 0:
                excluded[code].append(Exclusion(
                    location=code, rule="capacity",
                    reason=f"daily capacity of {c.location.daily_capacity} "
                           "fulfilment orders reached"))
                excluded_raw.setdefault(code, c)
                continue
            kept.append(_apply_holdbacks(c, holdbacks) if holdbacks else c)
        # Availability of the demanded SKUs, a column per SKU (a comprehension per SKU is
        # cheaper than a row per candidate); eligible: some of the demand (any column > 0).
        stock = [c.available for c in kept]
        columns = np.array([[a.get(s, 0) for a in stock] for s in skus],
                           dtype=float).reshape(len(skus), len(kept))
        some = (columns > 0).any(axis=0)
        if some.all():
            eligible, rows = kept, columns.T
        else:
            eligible = [kept[k] for k in np.flatnonzero(some).tolist()]
            rows = columns.T[some]
        return _Screened(excluded=dict(excluded), holdbacks=tuple(holdbacks),
                         eligible=eligible, available=rows, excluded_raw=excluded_raw)

    def decide(self, request: RoutingRequest, candidates: Sequence[Candidate],
               strategy: str, *, at: datetime, round_: int = 1) -> Decision:
        """Route ``request`` over raw ``candidates`` (stock, distance, capacity) with
        ``strategy``: apply the rules, price, plan, check, cost and explain."""
        started = time.perf_counter()
        request = self.with_policy(request)
        chosen_strategy = self._strategies.get(strategy)
        need = request.units()
        skus = sorted(need)

        screened = self._screen(request, candidates, skus)
        eligible = screened.eligible
        term_sets = self._hooks.routing_cost_term_sets(request, eligible, self.carriers,
                                                       self._settings)
        priced = PricedCandidates(eligible, term_sets, skus, screened.available)

        plan = chosen_strategy.plan(request, priced)
        check_plan(plan, request, priced)
        used = [priced.get(code) for code in plan.locations()]
        cost = plan_cost(plan, request, [c for c in used if c is not None])
        elapsed_ms = (time.perf_counter() - started) * 1000
        record = self._explain(request, candidates, priced, screened, plan, cost, need,
                               at=at, elapsed_ms=elapsed_ms, round_=round_)
        return Decision(plan=plan, cost=cost, record=record, candidates=priced)

    def _explain(self, request: RoutingRequest, raw: Sequence[Candidate],
                 priced: PricedCandidates, screened: _Screened, plan: RoutingPlan,
                 cost: PlanCost, need: Mapping[str, int], *, at: datetime, elapsed_ms: float,
                 round_: int) -> ExplanationRecord:
        """The explanation, compact: its candidate rows as the plain (rounded) values the
        full explanation shows, rendered when read (:mod:`omskit.routing.explanation`)."""
        excluded, holdbacks = screened.excluded, screened.holdbacks
        used = set(plan.locations())
        costs = _standalone_costs(priced, request, need)
        limit = self.routing.explain_limit
        # Only the best few are shown: a partial sort, not a sort of every candidate.
        count = min(len(priced), limit + len(used))
        top: list[int]
        if count and len(costs) > _PARTIAL_SORT_FROM:
            top = np.argpartition(costs, count - 1)[:count].tolist()
        else:
            top = heapq.nsmallest(count, range(len(costs)), key=costs.tolist().__getitem__)
        codes = priced.codes
        cost_of = costs.item  # a Python float, without a list of every candidate's cost
        best = sorted((cost_of(i), codes[i], i) for i in top)
        best_codes = {code for _, code, _ in best}
        # Used locations outside the best few, in candidate order.
        places = [priced.position(code) for code in used if code not in best_codes]
        outside = [(cost_of(k), codes[k], k)
                   for k in sorted(k for k in places if k is not None)]
        order = list(need)
        skus = list(priced.arrays(sorted(need)).skus)
        unpriced = priced.unpriced
        shown: list[list[Any]] = []
        considered = 0
        for rank, (standalone, code, k) in enumerate([*best, *outside], start=1):
            chosen = code in used
            if not chosen:
                if considered >= limit:
                    continue
                considered += 1
            c = unpriced[k]
            fixed, unit = priced.prices(k)
            get = c.available.get
            # Costs are plain floats, rounded when read (JSON keeps them exactly).
            shown.append([
                code, "chosen" if chosen else "considered", _round(c.distance_km),
                [get(s, 0) for s in order], fixed, unit, standalone, rank, priced.term_rows(k)])
        counts: dict[str, int] = defaultdict(int)
        by_code = screened.excluded_raw
        named: list[list[Any]] = []
        for code in sorted(excluded):
            verdicts = excluded[code]
            for verdict in verdicts:
                counts[verdict.rule] += 1
            if len(named) < EXCLUDED_NAMED:
                raw_candidate = by_code.get(code)
                if raw_candidate is None:  # excluded by a rule, not among the candidates
                    named.append([code, None, None, [f"{v.rule}: {v.reason}" for v in verdicts]])
                    continue
                get = raw_candidate.available.get
                distance = raw_candidate.distance_km
                named.append([
                    code, None if distance is None else round(distance, 3),
                    [get(s, 0) for s in order], [f"{v.rule}: {v.reason}" for v in verdicts]])
        head = RoutingDecision(
            id=new_id(), order_id=request.order_id, decided_at=at, strategy=plan.strategy,
            solver=plan.solver, elapsed_ms=round(elapsed_ms, 3), demand=request.demand,
            destination=request.destination, segment=request.segment,
            channel=request.channel, policy=request.policy, allocations=plan.allocations,
            backordered=plan.backordered, cost=cost, candidates=(),
            candidates_total=len(raw), excluded_counts=dict(counts),
            holdbacks=tuple(holdbacks), notes=(*destination_notes(request), *plan.notes),
            round=round_)
        return ExplanationRecord(head, {
            "need": order, "skus": skus, "priced": len(priced), "best": len(best),
            "shown": shown, "excluded": named})


def destination_notes(request: RoutingRequest) -> tuple[str, ...]:
    """What the explanation says about the destination: which geocoder placed it, or that
    an order shipped to an address had no coordinates at all (routing was blind to
    distance: nearness, distance-priced shipping and transit days could not count)."""
    if request.destination_source:
        return (f"destination {request.destination} from {request.destination_source}",)
    if request.destination is None and request.delivery.kind is DeliveryKind.SHIP:
        return ("the destination has no coordinates and no geocoder found it: distances are "
                "unknown, so nearness and distance-priced shipping did not count",)
    return ()


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
