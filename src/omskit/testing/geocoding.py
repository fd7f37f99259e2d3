"""The geocoder conformance kit."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import attrs
import pytest

from omskit import Address, Coordinates, Geocoder, Oms, bootstrap
from omskit.testing.builders import location, order_command


class GeocoderConformance:
    """Tests every geocoder must pass. Provide the fixtures ``geocoder_plugin`` (the plugin
    object), ``geocoder_code``, ``known_addresses`` (a list of ``(Address, Coordinates)``:
    addresses without coordinates and where they are) and ``unknown_addresses`` (addresses
    the geocoder must not place). ``geocoder_tolerance_km`` (default 25) is how far an answer
    may be from the expected point.
    """

    @pytest.fixture
    def geocoder_tolerance_km(self) -> float:
        return 25.0

    @pytest.fixture
    def geocoder(self, geocoder_plugin: object, geocoder_code: str) -> Iterator[Geocoder]:
        with bootstrap("sqlite://", plugins=[geocoder_plugin], load_entrypoints=False) as oms:
            assert oms.geocoders() == [geocoder_code]
            yield oms.geocoder(geocoder_code)

    def test_geocoder_is_registered_under_its_code(self, geocoder: Geocoder,
                                                   geocoder_code: str) -> None:
        assert geocoder.code == geocoder_code

    def test_known_addresses_are_placed_near_where_they_are(
            self, geocoder: Geocoder, known_addresses: list[tuple[Address, Coordinates]],
            geocoder_tolerance_km: float) -> None:
        assert known_addresses, "the kit needs at least one known address"
        for address, expected in known_addresses:
            found = geocoder.geocode(address)
            assert isinstance(found, Coordinates), f"{address!r} gave {found!r}"
            assert found.distance_km(expected) <= geocoder_tolerance_km, (
                f"{address.city}: {found} is {found.distance_km(expected):.0f} km from "
                f"{expected}")
            assert geocoder.geocode(address) == found, "geocode() is not deterministic"

    def test_unknown_addresses_are_none(self, geocoder: Geocoder,
                                        unknown_addresses: list[Address]) -> None:
        assert unknown_addresses, "the kit needs at least one address it must not place"
        for address in unknown_addresses:
            assert geocoder.geocode(address) is None, f"{address!r} was placed"

    def test_an_order_without_coordinates_is_routed_by_distance(
            self, make_oms: Callable[..., Oms], geocoder_plugin: object, geocoder_code: str,
            known_addresses: list[tuple[Address, Coordinates]]) -> None:
        address, expected = known_addresses[0]
        oms = make_oms(plugins=[geocoder_plugin])
        # One location at the address, one on the far side of the globe: only a geocoded
        # destination tells them apart.
        far = Coordinates(lat=-expected.lat, lon=expected.lon + 180 if expected.lon < 0
                          else expected.lon - 180)
        oms.inventory.save_location(location("near", expected.lat, expected.lon))
        oms.inventory.save_location(location("antipode", far.lat, far.lon))
        for code in ("near", "antipode"):
            oms.inventory.receive(code, "SKU-1", 5)
        command = order_command("GEO-1", {"SKU-1": 1}, country=address.country)
        placed = oms.orders.place(attrs.evolve(
            command, shipping_address=attrs.evolve(address, coordinates=None)))
        assert [fo.location for fo in placed.fulfillment_orders] == ["near"]
        (decision,) = oms.orders.explain(placed.id)
        assert any(f"geocoder:{geocoder_code}" in note for note in decision.notes)
