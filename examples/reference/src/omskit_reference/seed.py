"""Demo data for a fresh deployment: a small Italian network, stock and a few orders.

Written only with omskit's public API, like everything in the deployment. Seeding twice
changes nothing the second time (locations are saved by code, receipts carry a reference,
orders are placed once per channel and external id).
"""

from __future__ import annotations

from decimal import Decimal

from omskit import (
    Address,
    Capability,
    Contact,
    Coordinates,
    Customer,
    DeliveryKind,
    DeliveryMethod,
    Location,
    LocationKind,
    NewLine,
    Oms,
    PlaceOrder,
)

#: Carriers the demo ships with (labels bought outside omskit).
DEMO_CARRIERS = ("brt", "gls", "poste")

LOCATIONS = (
    Location(code="dc-milano", name="Milano DC", kind=LocationKind.DISTRIBUTION_CENTRE,
             coordinates=Coordinates(lat=45.4642, lon=9.19), handling_cost=Decimal("0.80")),
    Location(code="store-roma", name="Roma store", kind=LocationKind.STORE,
             coordinates=Coordinates(lat=41.9028, lon=12.4964),
             capabilities=frozenset({Capability.PICKUP, Capability.SHIP_FROM_STORE})),
    Location(code="store-torino", name="Torino store", kind=LocationKind.STORE,
             coordinates=Coordinates(lat=45.0703, lon=7.6869),
             capabilities=frozenset({Capability.PICKUP, Capability.SHIP_FROM_STORE})),
)

STOCK = {
    "dc-milano": {"SHIRT-M": 40, "SHIRT-L": 25, "JEANS-32": 30, "SCARF-RED": 15},
    "store-roma": {"SHIRT-M": 4, "JEANS-32": 3, "SCARF-RED": 6},
    "store-torino": {"SHIRT-M": 3, "SHIRT-L": 2},
}

PRICES = {"SHIRT-M": "29.90", "SHIRT-L": "29.90", "JEANS-32": "59.00", "SCARF-RED": "19.50"}

CUSTOMERS = (
    ("c-ada", "Ada Rossi", Address(line1="Via del Corso 12", city="Roma", country="IT",
                                   postal_code="00186",
                                   coordinates=Coordinates(lat=41.90, lon=12.48))),
    ("c-bruno", "Bruno Bianchi", Address(line1="Via Roma 5", city="Torino", country="IT",
                                         postal_code="10121",
                                         coordinates=Coordinates(lat=45.07, lon=7.68))),
    ("c-carla", "Carla Verdi", Address(line1="Corso Buenos Aires 3", city="Milano",
                                       country="IT", postal_code="20124",
                                       coordinates=Coordinates(lat=45.48, lon=9.21))),
)


def seed(oms: Oms) -> list[str]:
    """Save the network, receive its stock and place a few orders; the orders' ids."""
    for location in LOCATIONS:
        oms.inventory.save_location(location)
    for code, items in STOCK.items():
        for sku, quantity in items.items():
            oms.inventory.receive(code, sku, quantity, reference=f"seed-{code}-{sku}")
    placed = []
    for n, (customer_id, name, address) in enumerate(CUSTOMERS, start=1):
        skus = list(PRICES)[n - 1:n + 1]
        pickup = n == 1
        placed.append(oms.orders.place(PlaceOrder(
            channel="web", external_id=f"DEMO-{n:03d}", currency="EUR",
            customer=Customer(id=customer_id, contact=Contact(
                name=name, email=f"{customer_id}@example.com")),
            lines=[NewLine(sku=sku, quantity=1, unit_price=PRICES[sku]) for sku in skus],
            delivery=(DeliveryMethod(kind=DeliveryKind.PICKUP, pickup_location="store-roma")
                      if pickup else DeliveryMethod()),
            shipping_address=address)).id)
    return placed
