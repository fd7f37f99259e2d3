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
    CandidateExplanation,
    CostTerm,
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


def holdback_of(holdbacks: Sequence[Holdback], location: str, sku: str) -> int:
    """Units of ``sku`` at ``location`` the holdbacks keep back."""
    return sum(h.quantity for h in holdbacks
               if h.location in (None, location) and h.sku in (None, sku))


@attrs.frozen(kw_only=True)
class Decision:
    """What :meth:`RoutingEngine.decide` returns: the plan, its cost, its explanation."""

    plan: RoutingPlan
    cost: PlanCost
    explanation: RoutingDecision
    #: The eligible, priced candidates the strategy chose from.
    candidates: tuple[Candidate, ...]


def check_plan(plan: RoutingPlan, request: RoutingRequest,
               candidates: Sequence[Candidate]) -> None:
    """Raise :class:`InvalidRoutingPlan` unless ``plan`` covers the demand exactly, uses only
    candidates, never takes more than they have, and respects ``max_shipments``."""
    by_code = {c.code: c for c in candidates}
    wanted = {d.line_id: d for d in request.demand}
    given: dict[str, int] = defaultdict(int)
    taken: dict[tuple[str, str], int] = defaultdict(int)
    for a in plan.allocations:
        if a.location not in by_code or a.line_id not in wanted or a.quantity <= 0:
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
        if quantity > by_code[code].available.get(sku, 0):
            raise InvalidRoutingPlan(
                f"{plan.strategy}: {quantity} × {sku} from {code}, which has "
                f"{by_code[code].available.get(sku, 0)}")
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


def _price(candidate: Candidate, terms: Sequence[CostTerm], skus: Sequence[str]) -> Candidate:
    fixed = 0.0
    per_unit = 0.0
    by_sku: dict[str, float] | None = None
    for term in terms:
        fixed += term.fixed
        per_unit += term.per_unit
        if term.per_unit_by_sku:
            by_sku = by_sku if by_sku is not None else defaultdict(float)
            for sku, extra in term.per_unit_by_sku.items():
                by_sku[sku] += extra
    # Without SKU-specific terms (the common case) every SKU costs the same per unit.
    unit_cost = (dict.fromkeys(skus, per_unit) if by_sku is None
                 else {sku: per_unit + by_sku.get(sku, 0.0) for sku in skus})
    # The constructor, not attrs.evolve: this runs for every candidate of every decision.
    return Candidate(location=candidate.location, available=candidate.available,
                     distance_km=candidate.distance_km, fixed_cost=fixed, unit_cost=unit_cost,
                     capacity_left=candidate.capacity_left, terms=tuple(terms))


#: Up to this many candidates, standalone costs are summed in Python: building arrays for a
#: few dozen candidates costs more than the arithmetic they save.
_PYTHON_COSTS_UP_TO = 100


def _standalone_costs(priced: PricedCandidates, request: RoutingRequest,
                      need: Mapping[str, int]) -> Sequence[float]:
    """What each candidate would cost shipping all it can of the demand alone, the rest
    backordered (the ranking of an explanation's considered candidates)."""
    penalty = request.policy.backorder_penalty
    if len(priced) <= _PYTHON_COSTS_UP_TO:
        wanted = list(need.items())
        costs = []
        for c in priced:
            available, unit = c.available, c.unit_cost
            total = c.fixed_cost
            for sku, want in wanted:
                take = min(available.get(sku, 0), want)
                total += take * unit.get(sku, 0.0) + (want - take) * penalty
            costs.append(total)
        return costs
    skus = sorted(need)
    arrays = priced.arrays(skus)
    demand = np.array([need[s] for s in skus], dtype=float)
    take_all = np.minimum(arrays.available, demand)
    result: np.ndarray = (arrays.fixed + (take_all * arrays.unit).sum(axis=1)
                          + ((demand - take_all) * penalty).sum(axis=1))
    return result.tolist()  # type: ignore[no-any-return]


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
        skus = request.units()
        excluded: dict[str, list[Exclusion]] = defaultdict(list)
        holdbacks: list[Holdback] = []
        for verdict in self._hooks.routing_rules(request, candidates, self._settings):
            if isinstance(verdict, Exclusion):
                excluded[verdict.location].append(verdict)
            else:
                holdbacks.append(verdict)
        eligible: list[Candidate] = []
        for c in candidates:
            if c.code in excluded:
                continue
            if c.capacity_left is not None and c.capacity_left <= 0:
                excluded[c.code].append(Exclusion(
                    location=c.code, rule="capacity",
                    reason=f"daily capacity of {c.location.daily_capacity} "
                           "fulfilment orders reached"))
                continue
            if holdbacks:
                c = _apply_holdbacks(c, holdbacks)
            if any(c.available.get(sku, 0) > 0 for sku in skus):
                eligible.append(c)
        return Screening(excluded=dict(excluded), holdbacks=tuple(holdbacks),
                         eligible=tuple(eligible))

    def decide(self, request: RoutingRequest, candidates: Sequence[Candidate],
               strategy: str, *, at: datetime, round_: int = 1) -> Decision:
        """Route ``request`` over raw ``candidates`` (stock, distance, capacity) with
        ``strategy``: apply the rules, price, plan, check, cost and explain."""
        started = time.perf_counter()
        request = self.with_policy(request)
        chosen_strategy = self._strategies.get(strategy)
        need = request.units()
        skus = sorted(need)

        screening = self.screen(request, candidates)
        excluded, holdbacks, eligible = (screening.excluded, screening.holdbacks,
                                         list(screening.eligible))

        terms: dict[str, list[CostTerm]] = defaultdict(list)
        for term in self._hooks.routing_cost_terms(request, eligible, self.carriers,
                                                   self._settings):
            terms[term.location].append(term)
        priced = PricedCandidates(_price(c, terms.get(c.code, ()), skus) for c in eligible)

        plan = chosen_strategy.plan(request, priced)
        check_plan(plan, request, priced)
        cost = plan_cost(plan, request, priced)
        elapsed_ms = (time.perf_counter() - started) * 1000
        explanation = self._explain(request, candidates, priced, excluded, holdbacks, plan,
                                    cost, need, at=at, elapsed_ms=elapsed_ms, round_=round_)
        return Decision(plan=plan, cost=cost, explanation=explanation, candidates=priced)

    def _explain(self, request: RoutingRequest, raw: Sequence[Candidate],
                 priced: PricedCandidates, excluded: Mapping[str, list[Exclusion]],
                 holdbacks: Sequence[Holdback], plan: RoutingPlan, cost: PlanCost,
                 need: Mapping[str, int], *, at: datetime, elapsed_ms: float,
                 round_: int) -> RoutingDecision:
        used = set(plan.locations())
        costs = _standalone_costs(priced, request, need)
        # Only the best few are shown: a partial sort, not a sort of every candidate.
        count = min(len(priced), self.routing.explain_limit + len(used))
        top: list[int]
        if count and len(costs) > _PYTHON_COSTS_UP_TO:
            top = np.argpartition(costs, count - 1)[:count].tolist()
        else:
            top = heapq.nsmallest(count, range(len(costs)), key=costs.__getitem__)
        best = sorted((float(costs[i]), priced[i].code, priced[i]) for i in top)
        best_codes = {code for _, code, _ in best}
        outside = [(float(costs[i]), c.code, c) for i, c in enumerate(priced)
                   if c.code in used and c.code not in best_codes]
        rows: list[CandidateExplanation] = []
        shown = 0
        for rank, (standalone, _, c) in enumerate([*best, *outside], start=1):
            if c.code not in used and shown >= self.routing.explain_limit:
                continue
            if c.code not in used:
                shown += 1
            reasons = tuple(f"{t.term}: {_describe(t)}" for t in c.terms)
            rows.append(CandidateExplanation(
                location=c.code, status="chosen" if c.code in used else "considered",
                distance_km=_round(c.distance_km),
                available={s: c.available.get(s, 0) for s in need},
                fixed_cost=round(c.fixed_cost, 4),
                unit_cost={s: round(v, 4) for s, v in c.unit_cost.items()},
                standalone_cost=round(standalone, 4),
                reasons=(f"rank {rank} of {len(priced)} by standalone cost"
                         if rank <= len(best) else
                         f"ranked below the best {len(best)} by standalone cost", *reasons)))
        counts: dict[str, int] = defaultdict(int)
        by_code = {c.code: c for c in raw}
        named = 0
        for code in sorted(excluded):
            for verdict in excluded[code]:
                counts[verdict.rule] += 1
            if named < EXCLUDED_NAMED:
                named += 1
                raw_candidate = by_code.get(code)
                rows.append(CandidateExplanation(
                    location=code, status="excluded",
                    distance_km=_round(raw_candidate.distance_km) if raw_candidate else None,
                    available=({s: raw_candidate.available.get(s, 0) for s in need}
                               if raw_candidate else {}),
                    reasons=tuple(f"{v.rule}: {v.reason}" for v in excluded[code])))
        return RoutingDecision(
            id=new_id(), order_id=request.order_id, decided_at=at, strategy=plan.strategy,
            solver=plan.solver, elapsed_ms=round(elapsed_ms, 3), demand=request.demand,
            destination=request.destination, segment=request.segment,
            channel=request.channel, policy=request.policy, allocations=plan.allocations,
            backordered=plan.backordered, cost=cost, candidates=tuple(rows),
            candidates_total=len(raw), excluded_counts=dict(counts),
            holdbacks=tuple(holdbacks), notes=(*destination_notes(request), *plan.notes),
            round=round_)


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


def _describe(term: CostTerm) -> str:
    parts = []
    if term.fixed:
        parts.append(f"{term.fixed:.2f} per shipment")
    if term.per_unit:
        parts.append(f"{term.per_unit:.2f} per unit")
    for sku, extra in sorted(term.per_unit_by_sku.items()):
        parts.append(f"{extra:.2f} per unit of {sku}")
    text = ", ".join(parts) or "0"
    return f"{text} ({term.note})" if term.note else text
