"""Carriers: what shipping a parcel from a location to a destination costs and how long it takes.

Carriers are contributed by plugins through ``omskit_register_carriers``. Routing prices the
shipping term of each candidate location with the cheapest carrier that serves the lane, and
the promise API adds the chosen carrier's transit days.
"""

from __future__ import annotations

import math

import attrs

from omskit.domain.inventory import Location
from omskit.domain.values import Coordinates


@attrs.frozen(kw_only=True)
class CarrierRate:
    """A carrier's price and speed for one lane (origin location → destination)."""

    carrier: str
    fixed: float  # per parcel
    per_unit: float
    transit_days: int


@attrs.frozen(kw_only=True)
class RateTableCarrier:
    """A carrier priced as ``base + per_km × km`` per parcel plus ``per_unit`` per unit.

    Transit takes ``transit_days_base`` days plus one day per started ``km_per_day``
    kilometres beyond the first ``km_per_day``. ``countries`` (ISO codes, empty: all) limits
    the destinations served. This is the rate card of ``omskit simulate``'s network file.
    """

    code: str
    base: float
    per_km: float
    per_unit: float = 0.0
    transit_days_base: int = 1
    km_per_day: float = 800.0
    countries: frozenset[str] = frozenset()

    def rate(self, origin: Location, destination: Coordinates | None,
             distance_km: float | None, country: str | None) -> CarrierRate | None:
        """Price the lane; unknown distance is charged as zero kilometres."""
        if self.countries and country is not None and country not in self.countries:
            return None
        km = distance_km or 0.0
        extra_days = max(0, math.ceil(km / self.km_per_day) - 1) if self.km_per_day > 0 else 0
        return CarrierRate(carrier=self.code, fixed=self.base + self.per_km * km,
                           per_unit=self.per_unit,
                           transit_days=self.transit_days_base + extra_days)
