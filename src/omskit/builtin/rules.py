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
from omskit.routing.candidates import CostTable, TermColumn
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
           request: RoutingRequest) -> TermColumn | None:
    """The shipping terms :func:`cheapest_rate` gives every candidate, as one column
    computed per carrier over all candidates at once.

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
        return TermColumn(term="shipping", present=np.zeros(n, dtype=bool))
    km = np.array([c.distance_km or 0.0 for c in candidates], dtype=float)
    best_fixed = np.full(n, np.inf)
    best_unit = np.full(n, np.inf)
    best_at = np.zeros(n, dtype=np.int64)
    days = np.empty((len(serving), n), dtype=np.int64)
    # Ties on (fixed, per_unit) go to the lower carrier code, as in `cheapest_rate`.
    for i, carrier in sorted(enumerate(serving), key=lambda item: item[1].code):
        fixed = carrier.base + carrier.per_km * km
        better = (fixed < best_fixed) | ((fixed == best_fixed) & (carrier.per_unit < best_unit))
        best_fixed = np.where(better, fixed, best_fixed)
        best_unit = np.where(better, carrier.per_unit, best_unit)
        best_at = np.where(better, i, best_at)
        extra = (np.maximum(0, np.ceil(km / carrier.km_per_day) - 1).astype(np.int64)
                 if carrier.km_per_day > 0 else 0)
        days[i] = carrier.transit_days_base + extra
    codes = [c.code for c in serving]
    return TermColumn(term="shipping", fixed=best_fixed, per_unit=best_unit,
                      notes=[codes[i] for i in best_at.tolist()],
                      transit_days=days[best_at, np.arange(n)])


def _asked_lanes(carriers: Sequence[Carrier], candidates: Sequence[Candidate],
                 request: RoutingRequest) -> TermColumn:
    """The shipping column from :func:`cheapest_rate`, asked lane by lane."""
    rates = [cheapest_rate(carriers, c, request) for c in candidates]
    return TermColumn(
        term="shipping",
        fixed=np.array([r.fixed if r is not None else 0.0 for r in rates], dtype=float),
        per_unit=np.array([r.per_unit if r is not None else 0.0 for r in rates], dtype=float),
        present=np.array([r is not None for r in rates], dtype=bool),
        notes=[r.carrier if r is not None else "" for r in rates],
        transit_days=np.array([r.transit_days if r is not None else 0 for r in rates],
                              dtype=np.int64))


class CoreRulesPlugin:
    """Eligibility, channel buffers, handling and shipping prices."""

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
        """Handling per unit at every location; shipping by the cheapest carrier.

        Returned in column form (:class:`~omskit.routing.candidates.CostTable`): the engine
        adds the columns up as arrays; iterating it gives the same terms one by one.
        """
        pickup = request.delivery.kind is DeliveryKind.PICKUP
        handling = np.array([float(c.location.handling_cost) for c in candidates],
                            dtype=float)
        columns = [TermColumn(term="handling", per_unit=handling, present=handling != 0)]
        if not pickup and carriers:
            lanes = _lanes(carriers, candidates, request)
            columns.append(lanes if lanes is not None
                           else _asked_lanes(carriers, candidates, request))
        return CostTable(candidates, columns)
