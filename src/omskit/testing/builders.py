"""Builders for the public types tests meet, and snapshots of the database."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

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


def location(code: str, lat: float, lon: float, *,
             kind: LocationKind = LocationKind.WAREHOUSE,
             capabilities: Sequence[Capability] = (Capability.SHIP,),
             handling_cost: str = "0", daily_capacity: int | None = None,
             groups: Sequence[str] = (), country: str | None = None) -> Location:
    """A location with coordinates, shipping by default (``country`` gives it an address)."""
    address = None
    if country is not None:
        address = Address(line1="1 Depot Road", city=code, country=country)
    return Location(code=code, name=code.replace("-", " ").title(), kind=kind,
                    coordinates=Coordinates(lat=lat, lon=lon), address=address,
                    capabilities=frozenset(capabilities), handling_cost=Decimal(handling_cost),
                    daily_capacity=daily_capacity, groups=frozenset(groups))


def order_command(external_id: str, lines: Mapping[str, int], *, channel: str = "web",
                  customer_id: str = "customer-1", segment: str | None = None,
                  lat: float = 45.4642, lon: float = 9.19, currency: str = "EUR",
                  unit_price: str = "10.00", pickup_at: str | None = None,
                  country: str = "IT") -> PlaceOrder:
    """A ``PlaceOrder`` for ``{sku: quantity}`` shipped to (lat, lon) in ``country``, or
    picked up."""
    delivery = (DeliveryMethod(kind=DeliveryKind.PICKUP, pickup_location=pickup_at)
                if pickup_at else DeliveryMethod())
    return PlaceOrder(
        channel=channel, external_id=external_id, currency=currency,
        customer=Customer(id=customer_id, segment=segment,
                          contact=Contact(name="Test Customer", email="test@example.com")),
        lines=[NewLine(sku=sku, quantity=q, unit_price=unit_price) for sku, q in lines.items()],
        delivery=delivery,
        shipping_address=Address(line1="Via Test 1", city="Test", country=country,
                                 coordinates=Coordinates(lat=lat, lon=lon)),
    )


def table_counts(oms: Oms) -> dict[str, int]:
    """Row count of every omskit table: compare before and after to prove nothing was written."""
    with oms.engine.connect() as conn:
        return {t.name: int(conn.execute(sa.select(sa.func.count()).select_from(t))
                            .scalar_one())
                for t in oms.tables.all()}


def table_contents(oms: Oms) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every omskit table, sorted: the database's full observable state."""
    with oms.engine.connect() as conn:
        return {t.name: sorted(tuple(map(repr, r)) for r in conn.execute(sa.select(t)))
                for t in oms.tables.all()}
