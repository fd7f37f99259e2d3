"""Sourcing, written once: gather candidates, screen them with the rules, plan, take what the
plan says, and plan again what someone else took first.

Placement (hard reservations and daily capacity, ``omskit.services.allocation``), carts (soft
holds, ``omskit.services.carts``) and availability per channel share it; promise quotes
share the candidates and the rules' screening (``RoutingEngine.screen``). What differs is
only what "taking" a planned quantity means, passed in as a function.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import UTC, datetime

import attrs

from omskit.domain.events import RoutedQuantity
from omskit.domain.routing import Candidate, RoutingRequest
from omskit.domain.values import DeliveryMethod, LineQuantity
from omskit.routing.engine import Decision, RoutingEngine, holdback_of
from omskit.store.uow import UnitOfWork

#: Re-planning rounds when concurrent writers took planned stock first.
MAX_PLAN_ROUNDS = 5

#: Takes what one decision planned: returns (what it got, what it could not get). Called
#: with the plan's allocations sorted by (location, SKU, line): the global lock order.
Take = Callable[[Decision, Sequence[RoutedQuantity]],
                tuple[list[RoutedQuantity], list[LineQuantity]]]


def gather_candidates(uow: UnitOfWork, request: RoutingRequest, *,
                      capacity: bool = True) -> list[Candidate]:
    """Locations with available-to-promise for the request's SKUs, with their distance and
    (``capacity``) what is left of their daily capacity on the request's day. Rules decide
    later which may serve."""
    found = uow.inventory.candidates(d.sku for d in request.demand)
    load: dict[str, int] = {}
    if capacity:
        capped = [loc.code for loc, _ in found if loc.daily_capacity is not None]
        day = (request.at or datetime.now(UTC)).astimezone(UTC).date()
        load = uow.routing.load(capped, day) if capped else {}
    candidates = []
    for location, available in found:
        distance = None
        if request.destination is not None and location.coordinates is not None:
            distance = location.coordinates.distance_km(request.destination)
        left = None
        if capacity and location.daily_capacity is not None:
            left = max(0, location.daily_capacity - load.get(location.code, 0))
        candidates.append(Candidate(location=location, available=available,
                                    distance_km=distance, capacity_left=left))
    return candidates


def merge_demand(quantities: Iterable[LineQuantity]) -> tuple[LineQuantity, ...]:
    """Quantities of the same line (and SKU) added up: the demand of a re-plan is one entry
    per line, however many locations the lost quantities of that line were at."""
    total: dict[tuple[str, str], int] = defaultdict(int)
    for q in quantities:
        total[(q.line_id, q.sku)] += q.quantity
    return tuple(LineQuantity(line_id=k[0], sku=k[1], quantity=v) for k, v in total.items())


@attrs.frozen(kw_only=True)
class Sourced:
    """What sourcing in rounds got: the quantities taken, what stays unsourced, and every
    decision made on the way (one per round)."""

    taken: tuple[RoutedQuantity, ...]
    unsourced: tuple[LineQuantity, ...]
    decisions: tuple[Decision, ...]

    @property
    def strategy(self) -> str:
        """The code of the strategy that planned the last round."""
        return self.decisions[-1].plan.strategy


def source_in_rounds(router: RoutingEngine, uow: UnitOfWork, request: RoutingRequest,
                     strategy: str, take: Take, *, at: datetime,
                     capacity: bool = True) -> Sourced:
    """Plan ``request`` with ``strategy`` over fresh candidates, ``take`` the plan, and plan
    again what could not be taken (another writer got there first), up to
    :data:`MAX_PLAN_ROUNDS` rounds. Whatever is still missing after the last round, and
    whatever no plan could source, is returned as ``unsourced``."""
    taken: list[RoutedQuantity] = []
    decisions: list[Decision] = []
    unsourced: tuple[LineQuantity, ...] = request.demand
    for round_ in range(1, MAX_PLAN_ROUNDS + 1):
        decision = router.decide(request, gather_candidates(uow, request, capacity=capacity),
                                 strategy, at=at, round_=round_)
        decisions.append(decision)
        ordered = sorted(decision.plan.allocations, key=lambda a: (a.location, a.sku,
                                                                   a.line_id))
        got, missed = take(decision, ordered)
        taken.extend(got)
        unsourced = merge_demand([*missed, *decision.plan.backordered])
        if not missed:
            break
        request = attrs.evolve(request, demand=unsourced)
    return Sourced(taken=tuple(taken), unsourced=unsourced, decisions=tuple(decisions))


def channel_available(router: RoutingEngine, uow: UnitOfWork, channel: str,
                      skus: Sequence[str], *, locations: Collection[str] | None = None,
                      at: datetime | None = None) -> dict[str, int]:
    """Available to promise per SKU for a shipped order of ``channel``: only the stock that
    channel's routing rules let it use (locations they exclude count nothing; holdbacks,
    such as the channel's buffer, are kept back per location), at active locations, with
    open supply due by ``at``. A marketplace feed built from this never offers a unit a
    marketplace order could not get. ``locations`` limits the count to those locations."""
    wanted = sorted(set(skus))
    positions = uow.inventory.positions_of(wanted, active_only=True)
    units: dict[str, dict[str, int]] = defaultdict(dict)
    for sku, found in positions.items():
        for p in found:
            if locations is not None and p.location not in locations:
                continue
            due = sum(s.quantity for s in p.incoming if at is not None and s.eta <= at)
            units[p.location][sku] = p.on_hand + due - p.reserved - p.safety_stock
    candidates = [Candidate(location=place, available=units[code], distance_km=None)
                  for code in sorted(units)
                  if (place := uow.inventory.location(code)) is not None]
    total = dict.fromkeys(wanted, 0)
    if not candidates:
        return total
    request = RoutingRequest(
        order_id="availability", channel=channel, segment="standard",
        demand=tuple(LineQuantity(line_id=str(i), sku=sku, quantity=1)
                     for i, sku in enumerate(wanted, start=1)),
        delivery=DeliveryMethod(), destination=None, at=at)
    screening = router.screen(request, candidates)
    for c in candidates:
        if c.code in screening.excluded:
            continue
        for sku, raw in c.available.items():
            total[sku] += max(0, raw - holdback_of(screening.holdbacks, c.code, sku))
    return total
