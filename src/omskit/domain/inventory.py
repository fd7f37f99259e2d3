"""The inventory side: locations, stock per location × SKU, supply, reservations, the ledger."""

from __future__ import annotations

import enum
from datetime import datetime, time
from decimal import Decimal

import attrs

from omskit.domain.values import Address, Coordinates


class LocationKind(enum.StrEnum):
    """What kind of place holds stock."""

    WAREHOUSE = "warehouse"
    DISTRIBUTION_CENTRE = "distribution_centre"
    STORE = "store"
    SUPPLIER = "supplier"  # dropship: the supplier ships to the customer
    THIRD_PARTY_LOGISTICS = "3pl"


class Capability(enum.StrEnum):
    """What a location can do for an order."""

    SHIP = "ship"  # ships parcels to customers
    PICKUP = "pickup"  # customers collect orders there
    SHIP_FROM_STORE = "ship_from_store"  # a store that also ships parcels


@attrs.define(kw_only=True)
class Location:
    """A place that holds or ships stock."""

    code: str
    name: str
    kind: LocationKind
    coordinates: Coordinates | None = None
    address: Address | None = None
    capabilities: frozenset[Capability] = frozenset({Capability.SHIP})
    daily_capacity: int | None = None  # fulfilment orders per day; None = unlimited
    handling_cost: Decimal = Decimal(0)  # per unit
    active: bool = True
    #: Named groups the location belongs to ("eu-dcs", "flagship-stores"), for routing rules.
    groups: frozenset[str] = frozenset()
    #: Local time of day after which an order ships the next working day (None: any time).
    cutoff: time | None = None
    #: Working days from release to hand-over to the carrier (0: same day before cut-off).
    processing_days: int = 0
    #: IANA time zone of ``cutoff`` and of the location's working days.
    timezone: str = "UTC"

    @property
    def country(self) -> str | None:
        """ISO country of the location's address, if known."""
        return self.address.country if self.address is not None else None

    def can(self, capability: Capability) -> bool:
        """Whether this active location offers ``capability``."""
        return self.active and capability in self.capabilities

    @property
    def ships(self) -> bool:
        """Whether the location ships parcels (a warehouse, or a store that ships)."""
        return self.can(Capability.SHIP) or self.can(Capability.SHIP_FROM_STORE)


@attrs.frozen(kw_only=True)
class StockItem:
    """Stock of one SKU at one location.

    ``reserved`` units belong to orders not yet shipped; ``safety_stock`` is kept back from
    promising. Available-to-promise is ``on_hand - reserved - safety_stock`` (never negative).
    """

    location: str
    sku: str
    on_hand: int = 0
    reserved: int = 0
    safety_stock: int = 0

    @property
    def available(self) -> int:
        """Units that can be promised now."""
        return max(0, self.on_hand - self.reserved - self.safety_stock)


class SupplyKind(enum.StrEnum):
    """Where expected stock comes from."""

    PURCHASE_ORDER = "purchase_order"
    TRANSFER = "transfer"
    PRODUCTION = "production"


class SupplyStatus(enum.StrEnum):
    """Whether expected stock is still on its way."""

    OPEN = "open"
    RECEIVED = "received"
    CANCELLED = "cancelled"


@attrs.define(kw_only=True)
class Supply:
    """Stock expected at a location by an ETA: in transit, or on order from a supplier."""

    id: str
    location: str
    sku: str
    quantity: int
    eta: datetime
    kind: SupplyKind = SupplyKind.PURCHASE_ORDER
    reference: str = ""
    status: SupplyStatus = SupplyStatus.OPEN
    created_at: datetime
    #: A ship-to-store transfer reserved for this order's fulfilment order at ``location``:
    #: received, its units are reserved for it (decision 42). None: anyone's stock.
    order_id: str | None = None
    fulfillment_order_id: str | None = None


class ReservationStatus(enum.StrEnum):
    """What happened to reserved stock."""

    ACTIVE = "active"
    CONSUMED = "consumed"  # shipped
    RELEASED = "released"  # given back: cancelled, rejected, expired


@attrs.define(kw_only=True)
class Reservation:
    """Units of a SKU at a location held for one order line."""

    id: str
    order_id: str
    line_id: str
    fulfillment_order_id: str | None
    location: str
    sku: str
    quantity: int
    status: ReservationStatus = ReservationStatus.ACTIVE
    created_at: datetime
    expires_at: datetime | None = None


class MovementKind(enum.StrEnum):
    """Why a ledger entry changed stock."""

    RECEIVE = "receive"
    ADJUST = "adjust"
    RESERVE = "reserve"
    RELEASE = "release"
    SHIP = "ship"
    TRANSFER_OUT = "transfer_out"
    TRANSFER_IN = "transfer_in"
    SOFT_RESERVE = "soft_reserve"  # a cart's hold (oms.carts)
    SOFT_RELEASE = "soft_release"  # a cart's hold released, expired or converted


@attrs.frozen(kw_only=True)
class LedgerEntry:
    """One append-only movement of stock: per location × SKU, the deltas sum to the stock row."""

    id: int | None
    location: str
    sku: str
    kind: MovementKind
    on_hand_delta: int
    reserved_delta: int
    reference: str
    occurred_at: datetime
    idempotency_key: str | None = None


@attrs.frozen(kw_only=True)
class IncomingSupply:
    """Quantity of a SKU expected at a location by a date."""

    eta: datetime
    quantity: int


@attrs.frozen(kw_only=True)
class StockPosition:
    """Stock of one SKU at one location, with what is expected to arrive."""

    location: str
    location_kind: LocationKind
    on_hand: int
    reserved: int
    safety_stock: int
    incoming: tuple[IncomingSupply, ...] = ()

    @property
    def available(self) -> int:
        """Available to promise now: on hand − reserved − safety stock (never negative)."""
        return max(0, self.on_hand - self.reserved - self.safety_stock)

    @property
    def in_transit(self) -> int:
        """Units expected from open supply."""
        return sum(s.quantity for s in self.incoming)

    def available_by(self, when: datetime) -> int:
        """Available to promise at ``when``, counting supply whose ETA is not later."""
        due = sum(s.quantity for s in self.incoming if s.eta <= when)
        # Supply first fills the safety stock and reservations it is short of.
        return max(0, self.on_hand + due - self.reserved - self.safety_stock)


@attrs.frozen(kw_only=True)
class GlobalStock:
    """One SKU across the whole network, with the per-location breakdown."""

    sku: str
    positions: tuple[StockPosition, ...]

    @property
    def on_hand(self) -> int:
        """Units physically held across all locations."""
        return sum(p.on_hand for p in self.positions)

    @property
    def reserved(self) -> int:
        """Units held for orders across all locations."""
        return sum(p.reserved for p in self.positions)

    @property
    def available(self) -> int:
        """Available to promise now across all locations."""
        return sum(p.available for p in self.positions)

    @property
    def in_transit(self) -> int:
        """Units expected from open supply across all locations."""
        return sum(p.in_transit for p in self.positions)

    def available_by(self, when: datetime) -> int:
        """Available to promise at ``when`` across all locations."""
        return sum(p.available_by(when) for p in self.positions)
