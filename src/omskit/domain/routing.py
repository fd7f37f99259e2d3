"""Routing vocabulary: what is asked (a request), what could serve it (candidates), the answer.

The engine (``omskit.routing``) builds a :class:`RoutingRequest` for the part of an order
still to source, gathers :class:`Candidate` locations with their available-to-promise, lets
rule plugins exclude candidates or hold stock back (:class:`Exclusion`, :class:`Holdback`),
prices them with cost terms (:class:`CostTerm`), and asks a strategy for a
:class:`RoutingPlan`. Strategies are plugins: anything with a ``code`` and a ``plan`` method
matching :class:`RoutingStrategy`, contributed through ``omskit_register_routing_strategies``.

Routing costs are floats in the order's currency: they are scores to minimise, not money
to book, and the solver works in floating point.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

import attrs

from omskit.domain.events import RoutedQuantity
from omskit.domain.inventory import Location
from omskit.domain.values import Coordinates, DeliveryMethod, LineQuantity


@attrs.frozen(kw_only=True)
class RoutingPolicy:
    """The knobs of one routing decision.

    - ``backorder_penalty``: cost of leaving one unit unfilled (the plan backorders a unit
      only when every way of shipping it costs more than this);
    - ``split_penalty``: cost of every shipment beyond the first;
    - ``max_shipments``: most locations one decision may use (``None``: no limit); demand no
      allowed set of locations can fill is backordered;
    - ``exact`` (default): when the optimiser's bounds do not prove a plan optimal, solve the
      MILP; ``False`` keeps the local-search plan with its proven gap (``docs/routing.md``).
    """

    backorder_penalty: float = 1000.0
    split_penalty: float = 0.0
    max_shipments: int | None = None
    #: Prove every decision optimal, with a MILP when the bounds do not; ``False`` keeps the
    #: local-search plan with its proven gap instead (faster on unusual networks).
    exact: bool = True


@attrs.frozen(kw_only=True)
class RoutingRequest:
    """Demand to place: the lines still to source for one order, and where they go."""

    order_id: str
    channel: str
    segment: str
    demand: tuple[LineQuantity, ...]
    delivery: DeliveryMethod
    destination: Coordinates | None
    destination_country: str | None = None
    customer_id: str = ""
    #: When the decision is made (the clock of the ``Oms``): capacity is counted per UTC day.
    at: datetime | None = None
    #: Delivery date the customer was promised or asked for, if any.
    wanted_by: date | None = None
    #: Locations that rejected this order before: never used again for it.
    exclude_locations: frozenset[str] = frozenset()
    policy: RoutingPolicy = RoutingPolicy()
    #: Where ``destination`` came from when the caller did not give it: the geocoder that
    #: found it (``geocoder:italy``), or empty. Shown in the decision's notes.
    destination_source: str = ""

    def units(self) -> dict[str, int]:
        """Units wanted per SKU (lines of the same SKU added up)."""
        need: dict[str, int] = defaultdict(int)
        for d in self.demand:
            need[d.sku] += d.quantity
        return dict(need)


@attrs.frozen(kw_only=True)
class CostTerm:
    """One priced component of using a location, contributed by a cost-term hook.

    ``fixed`` is paid once if the location ships anything for the order (a parcel, a pick
    wave); ``per_unit`` for every unit it ships; ``per_unit_by_sku`` adds SKU-specific unit
    costs (a margin term: a store's markdown, a supplier's price). ``term`` names the
    component in explanations (``shipping``, ``handling``, ``margin``...).
    """

    location: str
    term: str
    fixed: float = 0.0
    per_unit: float = 0.0
    per_unit_by_sku: Mapping[str, float] = attrs.field(factory=dict)
    note: str = ""
    #: For shipping terms: the lane's transit days (promised dates are built from it).
    transit_days: int | None = None


@attrs.frozen(kw_only=True)
class Exclusion:
    """A rule's verdict that a location must not serve this request."""

    location: str
    rule: str
    reason: str


@attrs.frozen(kw_only=True)
class Holdback:
    """A rule keeps ``quantity`` units back from this request (scarce stock for others).

    ``location`` or ``sku`` ``None`` means every location or every SKU. Holdbacks from
    several rules add up; availability never goes below zero.
    """

    rule: str
    reason: str
    quantity: int
    location: str | None = None
    sku: str | None = None


@attrs.frozen(kw_only=True)
class Candidate:
    """A location that may serve the request, with its available-to-promise and its prices.

    ``fixed_cost`` and ``unit_cost`` are the sums of the cost terms (0 when unpriced);
    ``capacity_left`` is how many more fulfilment orders the location takes today
    (``None``: unlimited).
    """

    location: Location
    available: Mapping[str, int]
    distance_km: float | None
    fixed_cost: float = 0.0
    unit_cost: Mapping[str, float] = attrs.field(factory=dict)
    capacity_left: int | None = None
    terms: tuple[CostTerm, ...] = ()

    @property
    def code(self) -> str:
        """The location code."""
        return self.location.code

    def cost_per_unit(self, sku: str) -> float:
        """What one unit of ``sku`` costs from here (handling, unit shipping, margin)."""
        return self.unit_cost.get(sku, 0.0)

    def can_fill(self, demand: Sequence[LineQuantity]) -> bool:
        """Whether this location alone has every unit of ``demand``."""
        need: dict[str, int] = defaultdict(int)
        for d in demand:
            need[d.sku] += d.quantity
        return all(self.available.get(sku, 0) >= q for sku, q in need.items())


@attrs.frozen(kw_only=True)
class RoutingPlan:
    """A routing answer: quantities per location and line, and what stays backordered.

    ``solver`` says how the strategy reached it (``single``, ``milp``, ``greedy``...), and
    ``notes`` carries anything the strategy wants shown by ``explain``.
    """

    strategy: str
    allocations: tuple[RoutedQuantity, ...]
    backordered: tuple[LineQuantity, ...]
    solver: str = ""
    notes: tuple[str, ...] = ()

    def locations(self) -> list[str]:
        """Locations the plan ships from, in first-use order."""
        return list(dict.fromkeys(a.location for a in self.allocations))


@attrs.frozen(kw_only=True)
class PlanCost:
    """What a plan costs under the request's prices, term by term."""

    total: float
    shipments: int
    units_shipped: int
    units_backordered: int
    by_term: Mapping[str, float]


def plan_cost(plan: RoutingPlan, request: RoutingRequest,
              candidates: Iterable[Candidate]) -> PlanCost:
    """Price ``plan`` with the candidates' cost terms and the request's policy.

    Every strategy is judged by this one function, so their costs compare.
    """
    by_code = {c.code: c for c in candidates}
    by_term: dict[str, float] = defaultdict(float)
    units_at: dict[str, int] = defaultdict(int)
    shipped = 0
    for a in plan.allocations:
        units_at[a.location] += a.quantity
        shipped += a.quantity
    for code, units in units_at.items():
        candidate = by_code[code]
        for term in candidate.terms:
            if term.fixed:
                by_term[term.term] += term.fixed
            per_unit = term.per_unit
            if per_unit:
                by_term[term.term] += per_unit * units
        for a in plan.allocations:
            if a.location != code:
                continue
            for term in candidate.terms:
                extra = term.per_unit_by_sku.get(a.sku)
                if extra:
                    by_term[term.term] += extra * a.quantity
    shipments = len(units_at)
    if shipments > 1 and request.policy.split_penalty:
        by_term["split_penalty"] += request.policy.split_penalty * (shipments - 1)
    backordered = sum(b.quantity for b in plan.backordered)
    if backordered:
        by_term["backorder_penalty"] += request.policy.backorder_penalty * backordered
    return PlanCost(total=sum(by_term.values()), shipments=shipments, units_shipped=shipped,
                    units_backordered=backordered, by_term=dict(by_term))


@attrs.frozen(kw_only=True)
class CandidateExplanation:
    """Why one location was used, ranked, or left out of a decision."""

    location: str
    status: str  # "chosen", "considered" or "excluded"
    distance_km: float | None = None
    available: Mapping[str, int] = attrs.field(factory=dict)
    fixed_cost: float | None = None
    unit_cost: Mapping[str, float] = attrs.field(factory=dict)
    #: Cost of this location shipping everything it can alone (ranks the considered ones).
    standalone_cost: float | None = None
    reasons: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class RoutingDecision:
    """The stored explanation of one routing decision for an order.

    Kept with the order and returned by ``oms.orders.explain``. ``candidates`` lists every
    location used, the best-ranked others up to a limit, and every excluded one (codes of
    excluded locations beyond the limit are counted in ``excluded_counts``).
    """

    id: str
    order_id: str
    decided_at: datetime
    strategy: str
    solver: str
    elapsed_ms: float
    demand: tuple[LineQuantity, ...]
    destination: Coordinates | None
    segment: str
    channel: str
    policy: RoutingPolicy
    allocations: tuple[RoutedQuantity, ...]
    backordered: tuple[LineQuantity, ...]
    cost: PlanCost
    candidates: tuple[CandidateExplanation, ...]
    candidates_total: int
    excluded_counts: Mapping[str, int] = attrs.field(factory=dict)
    holdbacks: tuple[Holdback, ...] = ()
    notes: tuple[str, ...] = ()
    #: Set when stock moved under the plan and the remainder was planned again.
    round: int = 1
    extra: Mapping[str, Any] = attrs.field(factory=dict)
