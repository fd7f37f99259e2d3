"""The core's own routing rules and prices, registered like any plugin.

Rules every deployment needs: a location must be active and able to deliver the way the
order asks, and a location that rejected the order never gets it again; channel buffers from
``settings["inventory"]`` hold stock back. Prices: handling per unit, and shipping from the
cheapest carrier serving the lane. Disable it (``disabled_plugins``) to replace them all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from omskit.domain.carriers import CarrierRate, RateTableCarrier
from omskit.domain.inventory import Capability
from omskit.domain.routing import (
    Candidate,
    CostTerm,
    Exclusion,
    Holdback,
    RoutingRequest,
)
from omskit.domain.values import DeliveryKind
from omskit.hookspecs import hookimpl
from omskit.ports import Carrier
from omskit.routing.settings import inventory_settings


def cheapest_rate(carriers: Sequence[Carrier], candidate: Candidate,
                  request: RoutingRequest) -> CarrierRate | None:
    """The carrier rate with the lowest parcel price for the lane (ties: per unit, code)."""
    best: CarrierRate | None = None
    for carrier in carriers:
        rate = carrier.rate(candidate.location, request.destination, candidate.distance_km,
                            request.destination_country)
        if rate is not None and (best is None or (rate.fixed, rate.per_unit, rate.carrier)
                                 < (best.fixed, best.per_unit, best.carrier)):
            best = rate
    return best


#: A location ships parcels when it has one of these (``Location.ships``, inlined below).
_SHIPPING = frozenset({Capability.SHIP, Capability.SHIP_FROM_STORE})


def _lanes(carriers: Sequence[Carrier], candidates: Sequence[Candidate],
           request: RoutingRequest) -> list[tuple[str, float, float, int] | None] | None:
    """What :func:`cheapest_rate` answers for every candidate, as ``(carrier, fixed,
    per_unit, transit_days)`` or ``None``, computed per carrier over all candidates at once.

    Only for carriers that are exactly :class:`RateTableCarrier` (their price depends on the
    distance alone, by a formula repeated here element-wise, with the same floating-point
    operations in the same order, so the figures are identical); ``None`` when any other
    carrier is registered, and the caller asks each lane with :func:`cheapest_rate`.
    """
    if not all(type(c) is RateTableCarrier for c in carriers):
        return None
    tables: list[RateTableCarrier] = list(carriers)  # type: ignore[arg-type]
    country = request.destination_country
    serving = [c for c in tables
               if not (c.countries and country is not None and country not in c.countries)]
    n = len(candidates)
    if not serving:
        return [None] * n
    km = np.array([c.distance_km or 0.0 for c in candidates], dtype=float)
    best_fixed = np.full(n, np.inf)
    best_unit = np.full(n, np.inf)
    best_at = np.full(n, -1)
    # Ties on (fixed, per_unit) go to the lower carrier code, as in `cheapest_rate`.
    for i, carrier in sorted(enumerate(serving), key=lambda item: item[1].code):
        fixed = carrier.base + carrier.per_km * km
        better = (fixed < best_fixed) | ((fixed == best_fixed) & (carrier.per_unit < best_unit))
        best_fixed = np.where(better, fixed, best_fixed)
        best_unit = np.where(better, carrier.per_unit, best_unit)
        best_at = np.where(better, i, best_at)
    days: list[list[int]] = []
    for carrier in serving:
        if carrier.km_per_day > 0:
            extra = np.maximum(0, np.ceil(km / carrier.km_per_day) - 1).astype(int)
            days.append((carrier.transit_days_base + extra).tolist())
        else:
            days.append([carrier.transit_days_base] * n)
    codes = [c.code for c in serving]
    return [(codes[at], fixed, unit, days[at][k])
            for k, (at, fixed, unit) in enumerate(zip(best_at.tolist(), best_fixed.tolist(),
                                                      best_unit.tolist(), strict=True))]


class CoreRulesPlugin:
    """Eligibility, channel buffers, handling and shipping prices."""

    def __init__(self) -> None:
        # The handling term of a location is the same in every decision: one object per
        # location, kept by the identity of its `Location` (the object is held, so its id
        # cannot be reused while the entry lives).
        self._handling: dict[int, tuple[Any, CostTerm | None]] = {}

    def _handling_term(self, candidate: Candidate) -> CostTerm | None:
        location = candidate.location
        found = self._handling.get(id(location))
        if found is not None and found[0] is location:
            return found[1]
        handling = float(location.handling_cost)
        term = (CostTerm(location=location.code, term="handling", per_unit=handling)
                if handling else None)
        if len(self._handling) >= 100_000:  # a bound, for callers that rebuild locations
            self._handling.clear()
        self._handling[id(location)] = (location, term)
        return term

    @hookimpl
    def omskit_routing_rules(self, request: RoutingRequest, candidates: Sequence[Candidate],
                             settings: Mapping[str, Any]) -> Iterable[Exclusion | Holdback]:
        """Inactive, unable to deliver this way, or rejected this order before; buffers."""
        pickup = request.delivery.kind is DeliveryKind.PICKUP
        rejected = request.exclude_locations
        for c in candidates:
            location = c.location
            # The common case first: an active shipping location this order never rejected.
            if (not pickup and location.active and not _SHIPPING.isdisjoint(location.capabilities)
                    and (not rejected or location.code not in rejected)):
                continue
            if not location.active:
                yield Exclusion(location=c.code, rule="inactive", reason="location inactive")
            elif c.code in request.exclude_locations:
                yield Exclusion(location=c.code, rule="rejected",
                                reason="rejected this order before")
            elif pickup and c.code != request.delivery.pickup_location:
                yield Exclusion(location=c.code, rule="delivery",
                                reason=f"the customer collects at "
                                       f"{request.delivery.pickup_location}")
            elif pickup and not location.can(Capability.PICKUP):
                yield Exclusion(location=c.code, rule="delivery",
                                reason="does not offer pickup")
            elif not pickup and not location.ships:
                yield Exclusion(location=c.code, rule="delivery",
                                reason="does not ship parcels")
        buffer = inventory_settings(settings).channel_buffers.get(request.channel, 0)
        if buffer:
            yield Holdback(rule="channel_buffer", quantity=buffer,
                           reason=f"{buffer} units per location and SKU kept from channel "
                                  f"{request.channel}")

    @hookimpl
    def omskit_routing_cost_terms(self, request: RoutingRequest,
                                  candidates: Sequence[Candidate],
                                  carriers: Sequence[Carrier]) -> Iterable[CostTerm]:
        """Handling per unit at every location; shipping by the cheapest carrier."""
        pickup = request.delivery.kind is DeliveryKind.PICKUP
        terms: list[CostTerm] = []
        handling_term = self._handling_term
        if pickup or not carriers:
            for c in candidates:
                term = handling_term(c)
                if term is not None:
                    terms.append(term)
            return terms
        lanes = _lanes(carriers, candidates, request)
        if lanes is None:
            lanes = []
            for c in candidates:
                rate = cheapest_rate(carriers, c, request)
                lanes.append(None if rate is None else
                             (rate.carrier, rate.fixed, rate.per_unit, rate.transit_days))
        for c, lane in zip(candidates, lanes, strict=True):
            term = handling_term(c)
            if term is not None:
                terms.append(term)
            if lane is not None:
                terms.append(CostTerm(location=c.location.code, term="shipping", fixed=lane[1],
                                      per_unit=lane[2], note=lane[0], transit_days=lane[3]))
        return terms
