"""A warehouse in Milan and orders to Turin, for the end-to-end tests."""

from __future__ import annotations

import attrs
from omskit import Address, Location, Oms
from omskit.testing import location, order_command

MILANO = Address(name="Magazzino Centrale", line1="Via Gallarate 200", city="Milano",
                 postal_code="20151", region="MI", country="IT")
TORINO = Address(name="Giulia Rossi", line1="Via Roma 12", city="Torino", postal_code="10121",
                 region="TO", country="IT")


def warehouse() -> Location:
    """The Milan warehouse, with its postal address."""
    return attrs.evolve(location("dc-milano", 45.50, 9.15, country="IT"), address=MILANO)


def stocked(oms: Oms) -> Oms:
    oms.inventory.save_location(warehouse())
    oms.inventory.receive("dc-milano", "SKU-1", 50)
    return oms


def packed(oms: Oms, external_id: str = "K-1", units: int = 3) -> tuple[str, str]:
    """(order id, fulfilment order id) of a packed order shipped to Turin."""
    command = order_command(external_id, {"SKU-1": units}, lat=45.07, lon=7.69)
    assert command.shipping_address is not None
    command = attrs.evolve(command, shipping_address=attrs.evolve(
        TORINO, coordinates=command.shipping_address.coordinates))
    order = oms.orders.place(command)
    oms.fulfillment.release(order.id)
    (fo,) = order.fulfillment_orders
    for step in (oms.fulfillment.accept, oms.fulfillment.pick, oms.fulfillment.pack):
        step(fo.id)
    return order.id, fo.id
