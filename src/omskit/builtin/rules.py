"""The core's own routing rules and prices, registered like any plugin.

Rules every deployment needs: a location must be active and able to deliver the way the
order asks, and a location that rejected the order never gets it again; channel buffers from
``settings["inventory"]`` hold stock back. Prices: handling per unit, and shipping from the
cheapest carrier serving the lane. Disable it (``disabled_plugins``) to replace them all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from omskit.domain.carriers import CarrierRate
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


class CoreRulesPlugin:
    """Eligibility, channel buffers, handling and shipping prices."""

    @hookimpl
    def omskit_routing_rules(self, request: RoutingRequest, candidates: Sequence[Candidate],
                             settings: Mapping[str, Any]) -> Iterable[Exclusion | Holdback]:
        """Inactive, unable to deliver this way, or rejected this order before; buffers."""
        pickup = request.delivery.kind is DeliveryKind.PICKUP
        for c in candidates:
            location = c.location
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
        for c in candidates:
            handling = float(c.location.handling_cost)
            if handling:
                yield CostTerm(location=c.code, term="handling", per_unit=handling)
            if pickup or not carriers:
                continue
            rate = cheapest_rate(carriers, c, request)
            if rate is not None:
                yield CostTerm(location=c.code, term="shipping", fixed=rate.fixed,
                               per_unit=rate.per_unit, note=rate.carrier,
                               transit_days=rate.transit_days)
