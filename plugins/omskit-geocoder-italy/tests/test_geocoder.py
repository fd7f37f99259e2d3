"""The ``italy`` geocoder: omskit's conformance kit, Italian spellings, and routing with it."""

from __future__ import annotations

from collections.abc import Callable

import attrs
import pytest
from omskit import Address, Coordinates, Oms, bootstrap
from omskit.testing import GeocoderConformance, location, order_command

import omskit_geocoder_italy
from omskit_geocoder_italy.places import normalise


def address(city: str, country: str = "IT") -> Address:
    return Address(line1="Via Roma 1", city=city, country=country)


#: Town halls, from the towns' own records; the kit allows 25 km.
TORINO = Coordinates(lat=45.0703, lon=7.6869)
NAPOLI = Coordinates(lat=40.8518, lon=14.2681)
BOLZANO = Coordinates(lat=46.4983, lon=11.3548)
REGGIO = Coordinates(lat=38.1144, lon=15.6500)


@pytest.fixture
def geocoder_plugin() -> object:
    return omskit_geocoder_italy


@pytest.fixture
def geocoder_code() -> str:
    return "italy"


@pytest.fixture
def known_addresses() -> list[tuple[Address, Coordinates]]:
    return [(address("Torino"), TORINO), (address("Napoli"), NAPOLI),
            (address("Bolzano"), BOLZANO), (address("Reggio Calabria"), REGGIO)]


@pytest.fixture
def unknown_addresses() -> list[Address]:
    return [address("Torino", country="FR"), address("Atlantide"), address("   ")]


class TestItalyConformance(GeocoderConformance):
    pass


@pytest.fixture(scope="module")
def italy() -> omskit_geocoder_italy.ItalianPlaces:
    return omskit_geocoder_italy.ItalianPlaces(code="italy")


@pytest.mark.parametrize(("city", "expected"), [
    ("Turin", TORINO),                 # the English name
    ("TORINO", TORINO),                # shouted
    ("10121 Torino (TO)", TORINO),     # as call centres type it: postcode and province
    ("Bozen", BOLZANO),                # the German name of a bilingual town
    ("Reggio di Calabria", REGGIO),    # GeoNames' own spelling
    ("Napoli ", NAPOLI),
])
def test_italian_spellings_are_found(italy: omskit_geocoder_italy.ItalianPlaces, city: str,
                                     expected: Coordinates) -> None:
    found = italy.geocode(address(city))
    assert found is not None
    assert found.distance_km(expected) < 25


def test_a_shared_name_goes_to_the_most_populous_place() -> None:
    # GeoNames calls the capital "Rome" and lists "Roma" among its other names; hamlets may
    # be called Roma too. A customer writing "Roma" means the capital.
    index = omskit_geocoder_italy.places.places()
    rank, population, where = index[normalise("Roma")]
    assert population > 2_000_000
    assert where.distance_km(Coordinates(lat=41.9028, lon=12.4964)) < 25
    assert rank == 1


def test_names_are_normalised() -> None:
    assert normalise("Sant'Angelo dei Lombardi") == normalise("SANT ANGELO  DEI LOMBARDI")
    assert normalise("Forlì") == "forli"
    assert normalise("Cortina d’Ampezzo") == "cortina d ampezzo"


def test_a_marketplace_order_without_coordinates_ships_from_the_nearest_location(
        make_oms: Callable[..., Oms]) -> None:
    # "nearest": with no carrier priced, distance is what tells the locations apart.
    oms = make_oms(plugins=[omskit_geocoder_italy], routing_strategy="nearest")
    oms.inventory.save_location(location("dc-milano", 45.4642, 9.19))
    oms.inventory.save_location(location("dc-roma", 41.9028, 12.4964))
    for code in ("dc-milano", "dc-roma"):
        oms.inventory.receive(code, "SKU-1", 5)
    command = order_command("MKT-1", {"SKU-1": 1}, channel="marketplace")
    assert command.shipping_address is not None
    to_naples = attrs.evolve(command.shipping_address, city="Napoli", coordinates=None)
    placed = oms.orders.place(attrs.evolve(command, shipping_address=to_naples))
    assert [fo.location for fo in placed.fulfillment_orders] == ["dc-roma"]
    (decision,) = oms.orders.explain(placed.id)
    assert decision.destination is not None
    assert decision.destination.distance_km(NAPOLI) < 25
    assert any("geocoder:italy" in note for note in decision.notes)
    # The order keeps the address as the channel sent it.
    assert oms.orders.get(placed.id).shipping_address == to_naples


def test_without_the_geocoder_the_explanation_warns(make_oms: Callable[..., Oms]) -> None:
    oms = make_oms()
    oms.inventory.save_location(location("dc-milano", 45.4642, 9.19))
    oms.inventory.receive("dc-milano", "SKU-1", 5)
    command = order_command("MKT-2", {"SKU-1": 1})
    assert command.shipping_address is not None
    blind = attrs.evolve(command.shipping_address, city="Napoli", coordinates=None)
    placed = oms.orders.place(attrs.evolve(command, shipping_address=blind))
    (decision,) = oms.orders.explain(placed.id)
    assert decision.destination is None
    assert any("no coordinates" in note for note in decision.notes)


def test_the_entry_point_loads_the_plugin() -> None:
    with bootstrap("sqlite://") as oms:
        assert "italy" in oms.geocoders()
