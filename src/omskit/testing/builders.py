"""Builders for the public types tests meet, and snapshots of the database."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from omskit import (
    Address,
    Candidate,
    Capability,
    Contact,
    Coordinates,
    Customer,
    DeliveryKind,
    DeliveryMethod,
    LineQuantity,
    Location,
    LocationKind,
    NewLine,
    Oms,
    Order,
    PlaceOrder,
    RoutingPolicy,
    RoutingRequest,
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


def routing_request(demand: Mapping[str, int], *, order_id: str = "order-1",
                    channel: str = "web", segment: str = "standard",
                    lat: float | None = 45.4642, lon: float | None = 9.19,
                    country: str | None = "IT", pickup_at: str | None = None,
                    customer_id: str = "customer-1",
                    policy: RoutingPolicy | None = None) -> RoutingRequest:
    """A routing request for ``{sku: quantity}``, one line per SKU (line ids ``1``, ``2``...),
    shipped to (lat, lon) in ``country`` (``lat=None``: no coordinates), or picked up."""
    delivery = (DeliveryMethod(kind=DeliveryKind.PICKUP, pickup_location=pickup_at)
                if pickup_at else DeliveryMethod())
    destination = Coordinates(lat=lat, lon=lon) if lat is not None and lon is not None else None
    return RoutingRequest(
        order_id=order_id, channel=channel, segment=segment, customer_id=customer_id,
        demand=tuple(LineQuantity(line_id=str(i), sku=sku, quantity=q)
                     for i, (sku, q) in enumerate(demand.items(), start=1)),
        delivery=delivery, destination=destination, destination_country=country,
        policy=policy or RoutingPolicy())


def candidate(code: str, lat: float, lon: float, available: Mapping[str, int], *,
              to: RoutingRequest | None = None,
              kind: LocationKind = LocationKind.WAREHOUSE,
              capabilities: Sequence[Capability] = (Capability.SHIP,),
              fixed_cost: float = 0.0, unit_cost: Mapping[str, float] | None = None,
              capacity_left: int | None = None, groups: Sequence[str] = (),
              country: str | None = None) -> Candidate:
    """A candidate location with ``available`` units per SKU, as routing strategies and rules
    receive it; its distance is measured to ``to``'s destination when given."""
    where = location(code, lat, lon, kind=kind, capabilities=capabilities, groups=groups,
                     country=country)
    distance = None
    if to is not None and to.destination is not None and where.coordinates is not None:
        distance = where.coordinates.distance_km(to.destination)
    return Candidate(location=where, available=dict(available), distance_km=distance,
                     fixed_cost=fixed_cost, unit_cost=dict(unit_cost or {}),
                     capacity_left=capacity_left)


def order(external_id: str, lines: Mapping[str, int], *, order_id: str = "order-1",
          at: datetime | None = None, **command: Any) -> Order:
    """An :class:`Order` as placement first builds it (status ``received``, no fulfilment
    orders), for testing validators and segment hooks without a database. ``command`` takes
    :func:`order_command`'s keywords."""
    placed = order_command(external_id, lines, **command)
    return Order.place(placed, order_id=order_id, at=at or datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
