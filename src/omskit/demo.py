"""``omskit demo``: a day of omnichannel orders through a seeded Italian network.

It uses only the public API (``bootstrap``, ``oms.inventory``, ``oms.orders``,
``oms.fulfillment``): what it does, an integrator's code can do.
"""

from __future__ import annotations

import heapq
import random
import smtplib
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import attrs

from omskit.app import Oms
from omskit.domain.carriers import RateTableCarrier
from omskit.domain.commands import EditOrder, NewLine, PlaceOrder
from omskit.domain.commands.payments import OrderPayment, Tender
from omskit.domain.commands.returns import ReturnItem
from omskit.domain.errors import InvalidWebhook, NotifierUnavailable
from omskit.domain.inventory import Capability, Location, LocationKind, SupplyKind
from omskit.domain.invoices import Invoice
from omskit.domain.lifecycle import FulfillmentStatus, OrderStatus
from omskit.domain.notifications import NotificationMessage
from omskit.domain.order import Order
from omskit.domain.payments import (
    PaymentCapability,
    PaymentNotification,
    PaymentRequest,
    PaymentResult,
)
from omskit.domain.returns import (
    Disposition,
    RefundContext,
    RefundQuote,
    RefusalCode,
    Return,
    ReturnContext,
    ReturnRefusal,
    UnitDisposition,
)
from omskit.domain.shipping import (
    CarrierCapability,
    Label,
    LabelRequest,
    ParcelSpec,
    TrackingStatus,
    TrackingUpdate,
)
from omskit.domain.values import (
    Address,
    Contact,
    Coordinates,
    Customer,
    DeliveryKind,
    DeliveryMethod,
)
from omskit.hookspecs import hookimpl
from omskit.ports import Carrier, Notifier, PaymentProvider, ReturnsPolicy, ShippingCarrier

#: The demo's carriers: Italian parcel rate cards (EUR per parcel, per km, per unit) that
#: routing prices each candidate location with, and the promise adds transit days from.
CARRIERS: tuple[RateTableCarrier, ...] = (
    RateTableCarrier(code="brt", base=5.90, per_km=0.0020, per_unit=0.10,
                     transit_days_base=1, km_per_day=700, countries=frozenset({"IT"})),
    RateTableCarrier(code="gls", base=5.40, per_km=0.0030, per_unit=0.15,
                     transit_days_base=1, km_per_day=600, countries=frozenset({"IT"})),
    RateTableCarrier(code="poste", base=4.50, per_km=0.0015, per_unit=0.20,
                     transit_days_base=2, km_per_day=500, countries=frozenset({"IT"})),
)
#: The strategy the demo routes with: the exact optimum of shipping, handling and splits.
STRATEGY = "optimal"


class DemoCarriers:
    """The plugin that contributes :data:`CARRIERS` (``omskit_register_carriers``)."""

    @hookimpl
    def omskit_register_carriers(self, register: Callable[[Carrier], None]) -> None:
        """Register the demo's three carriers."""
        for carrier in CARRIERS:
            register(carrier)


C = Capability
#: (code, name, kind, city, lat, lon, capabilities, handling cost per unit, daily capacity)
NETWORK: tuple[tuple[str, str, LocationKind, str, float, float, frozenset[Capability], str,
                     int | None], ...] = (
    ("dc-milano", "Milano distribution centre", LocationKind.DISTRIBUTION_CENTRE, "Milano",
     45.4642, 9.1900, frozenset({C.SHIP}), "0.80", 5000),
    ("dc-roma", "Roma distribution centre", LocationKind.DISTRIBUTION_CENTRE, "Roma",
     41.9028, 12.4964, frozenset({C.SHIP}), "0.85", 4000),
    ("3pl-bari", "Bari 3PL warehouse", LocationKind.THIRD_PARTY_LOGISTICS, "Bari",
     41.1171, 16.8719, frozenset({C.SHIP}), "1.10", 1500),
    ("dropship-prato", "Prato textile supplier", LocationKind.SUPPLIER, "Prato",
     43.8777, 11.1022, frozenset({C.SHIP}), "1.50", 800),
    ("store-torino", "Torino Via Roma store", LocationKind.STORE, "Torino",
     45.0703, 7.6869, frozenset({C.PICKUP, C.SHIP_FROM_STORE}), "2.00", 120),
    ("store-genova", "Genova store", LocationKind.STORE, "Genova",
     44.4056, 8.9463, frozenset({C.PICKUP}), "2.00", 80),
    ("store-venezia", "Venezia store", LocationKind.STORE, "Venezia",
     45.4408, 12.3155, frozenset({C.PICKUP, C.SHIP_FROM_STORE}), "2.20", 80),
    ("store-bologna", "Bologna store", LocationKind.STORE, "Bologna",
     44.4949, 11.3426, frozenset({C.PICKUP, C.SHIP_FROM_STORE}), "2.00", 100),
    ("store-firenze", "Firenze store", LocationKind.STORE, "Firenze",
     43.7696, 11.2558, frozenset({C.PICKUP, C.SHIP_FROM_STORE}), "2.10", 100),
    ("store-napoli", "Napoli store", LocationKind.STORE, "Napoli",
     40.8518, 14.2681, frozenset({C.PICKUP, C.SHIP_FROM_STORE}), "2.00", 100),
    ("store-palermo", "Palermo store", LocationKind.STORE, "Palermo",
     38.1157, 13.3615, frozenset({C.PICKUP, C.SHIP_FROM_STORE}), "2.30", 60),
)

#: Where customers live: (city, region, lat, lon, weight ~ population).
CITIES: tuple[tuple[str, str, float, float, int], ...] = (
    ("Roma", "Lazio", 41.9028, 12.4964, 28), ("Milano", "Lombardia", 45.4642, 9.1900, 14),
    ("Napoli", "Campania", 40.8518, 14.2681, 9), ("Torino", "Piemonte", 45.0703, 7.6869, 8),
    ("Palermo", "Sicilia", 38.1157, 13.3615, 6), ("Genova", "Liguria", 44.4056, 8.9463, 5),
    ("Bologna", "Emilia-Romagna", 44.4949, 11.3426, 4),
    ("Firenze", "Toscana", 43.7696, 11.2558, 4), ("Bari", "Puglia", 41.1171, 16.8719, 3),
    ("Catania", "Sicilia", 37.5079, 15.0830, 3), ("Venezia", "Veneto", 45.4408, 12.3155, 3),
    ("Verona", "Veneto", 45.4384, 10.9916, 3), ("Messina", "Sicilia", 38.1938, 15.5540, 2),
    ("Padova", "Veneto", 45.4064, 11.8768, 2), ("Trieste", "Friuli-Venezia Giulia",
                                                45.6495, 13.7768, 2),
    ("Brescia", "Lombardia", 45.5416, 10.2118, 2), ("Parma", "Emilia-Romagna",
                                                    44.8015, 10.3279, 2),
    ("Cagliari", "Sardegna", 39.2238, 9.1217, 2), ("Perugia", "Umbria", 43.1107, 12.3908, 2),
    ("Reggio Calabria", "Calabria", 38.1144, 15.6500, 2),
)

CATEGORIES = ("SHIRT", "JEANS", "SHOE", "BAG", "JACKET", "DRESS", "SCARF", "BELT")
#: Share of orders per channel; "store" orders are picked up at a store.
CHANNELS = (("web", 45), ("mobile", 30), ("call_center", 10), ("store", 15))
SEGMENTS = (("standard", 80), ("gold", 15), ("b2b", 5))


@attrs.define
class SimulatedClock:
    """The demo's clock: it moves only when the demo says so."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now


@attrs.frozen(kw_only=True)
class DemoSummary:
    """What ``omskit demo`` measured."""

    orders: int
    skus: int
    locations: int
    by_status: dict[str, int]
    by_channel: dict[str, int]
    split_orders: int
    routed_orders: int
    backordered_orders: int
    held_orders: int
    cancelled_orders: int
    rejected_fulfillment_orders: int
    units_shipped_by_location: dict[str, int]
    units_reserved_by_location: dict[str, int]
    placement_seconds: float
    total_seconds: float
    operations: int

    @property
    def split_rate(self) -> float:
        """Share of routed orders shipped from more than one location."""
        return self.split_orders / self.routed_orders if self.routed_orders else 0.0

    @property
    def backorder_rate(self) -> float:
        """Share of routed orders with some quantity backordered."""
        return self.backordered_orders / self.routed_orders if self.routed_orders else 0.0

    @property
    def placements_per_second(self) -> float:
        """Orders placed (validated, routed, reserved, committed) per second."""
        return self.orders / self.placement_seconds if self.placement_seconds else 0.0

    @property
    def operations_per_second(self) -> float:
        """All write operations (placements and fulfilment steps) per second."""
        return self.operations / self.total_seconds if self.total_seconds else 0.0


#: The carriers the demo's warehouses ship with (labels bought outside omskit: the demo's
#: ``Oms`` needs ``ManualCarriers(*DEMO_CARRIERS)``).
DEMO_CARRIERS = ("brt", "gls", "poste")


def _weighted(rng: random.Random, items: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([i for i, _ in items], weights=[w for _, w in items])[0]


def seed_network(oms: Oms, rng: random.Random, *, skus: int = 300,
                 today: datetime) -> list[str]:
    """Create the locations, stock, safety stock and supply in transit; returns the SKUs.

    Distribution centres carry most of the range, stores a slice of it with a safety stock of
    one or two display units, the dropship supplier the textile lines; a few SKUs have stock
    on its way to a distribution centre.
    """
    for code, name, kind, city, lat, lon, capabilities, cost, capacity in NETWORK:
        oms.inventory.save_location(Location(
            code=code, name=name, kind=kind, coordinates=Coordinates(lat=lat, lon=lon),
            address=Address(line1=name, city=city, country="IT"),
            capabilities=capabilities, handling_cost=Decimal(cost), daily_capacity=capacity))
    catalogue = [f"{CATEGORIES[i % len(CATEGORIES)]}-{i:04d}" for i in range(skus)]
    for index, sku in enumerate(catalogue):
        # Popular SKUs (low index) sell faster, so they are stocked deeper and more widely.
        popular = index < skus // 5
        for code, _name, kind, *_rest in NETWORK:
            if kind is LocationKind.DISTRIBUTION_CENTRE:
                if rng.random() < 0.9:
                    top = 60 if popular else 25
                    oms.inventory.receive(code, sku, rng.randint(5, top), reference="opening")
            elif kind is LocationKind.STORE:
                if rng.random() < (0.8 if popular else 0.3):
                    oms.inventory.receive(code, sku, rng.randint(2, 8), reference="opening")
                    oms.inventory.set_safety_stock(code, sku, 1)
            elif kind is LocationKind.SUPPLIER:
                if sku.startswith(("SHIRT", "DRESS", "SCARF")) and rng.random() < 0.6:
                    oms.inventory.receive(code, sku, rng.randint(10, 40), reference="opening")
            elif rng.random() < 0.4:
                oms.inventory.receive(code, sku, rng.randint(5, 20), reference="opening")
        if index % 7 == 0:
            oms.inventory.register_supply(
                rng.choice(("dc-milano", "dc-roma")), sku, rng.randint(10, 50),
                today + timedelta(days=rng.randint(2, 10)), kind=SupplyKind.PURCHASE_ORDER,
                reference=f"PO-{index:05d}")
    return catalogue


def generate_orders(rng: random.Random, catalogue: list[str], count: int,
                    day_start: datetime) -> list[PlaceOrder]:
    """``count`` orders spread over a trading day (08:00-22:00), in placement order."""
    stores = [row for row in NETWORK if C.PICKUP in row[6]]
    popularity = [1.0 / (1 + i) ** 0.8 for i in range(len(catalogue))]
    commands = []
    for n in range(count):
        placed_at = day_start + timedelta(hours=8, seconds=n * 14 * 3600 / count)
        channel = _weighted(rng, CHANNELS)
        city, region, lat, lon, _w = rng.choices(CITIES, weights=[c[4] for c in CITIES])[0]
        delivery = DeliveryMethod()
        if channel == "store" or (channel in ("web", "mobile") and rng.random() < 0.1):
            store = min(stores, key=lambda s: Coordinates(lat=s[4], lon=s[5]).distance_km(
                Coordinates(lat=lat, lon=lon)))
            delivery = DeliveryMethod(kind=DeliveryKind.PICKUP, pickup_location=store[0])
        skus = rng.choices(catalogue, weights=popularity, k=rng.choices(
            (1, 2, 3, 4), weights=(50, 30, 15, 5))[0])
        if rng.random() < 0.01:
            skus.append(f"DISCONTINUED-{n:04d}")  # held by the builtin validator
        lines = [NewLine(sku=sku, quantity=rng.choices((1, 2, 3), weights=(75, 20, 5))[0],
                         unit_price=Decimal(rng.randrange(990, 19990, 100)) / 100)
                 for sku in dict.fromkeys(skus)]
        jitter = Coordinates(lat=lat + rng.uniform(-0.05, 0.05),
                             lon=lon + rng.uniform(-0.05, 0.05))
        commands.append(PlaceOrder(
            channel=channel, external_id=f"{channel.upper()}-{day_start:%Y%m%d}-{n:05d}",
            currency="EUR",
            customer=Customer(id=f"cust-{rng.randint(1, count * 3):06d}",
                              segment=_weighted(rng, SEGMENTS),
                              contact=Contact(name=f"Customer {n}",
                                              email=f"customer{n}@example.it")),
            lines=lines, delivery=delivery,
            shipping_address=Address(line1=f"Via Garibaldi {rng.randint(1, 200)}", city=city,
                                     region=region, postal_code=f"{rng.randint(10, 98)}100",
                                     country="IT", coordinates=jitter),
            placed_at=placed_at,
        ))
    return commands


#: Minutes after placement at which a fulfilment order takes each step.
_STEPS = ((5, "release"), (20, "accept"), (60, "pick"), (90, "pack"), (180, "ship"),
          (480, "deliver"))


def run_demo(oms: Oms, clock: SimulatedClock, *, orders: int = 400, skus: int = 300,
             seed: int = 7,
             progress: Callable[[int, int], None] | None = None) -> DemoSummary:
    """Seed the network, then replay a day of orders through their whole life.

    Each order is placed at its time; its fulfilment orders are released, accepted, picked,
    packed, shipped and delivered at fixed delays after that, so late orders end the day
    part-way through. About 3 % of store fulfilment orders are rejected (and re-routed, or
    held when the store was the pickup location),
    1 % of orders are cancelled before release, 1 % carry a discontinued SKU and are held,
    and one web order is edited from the mobile app before its release.
    """
    rng = random.Random(seed)
    day_start = clock.now.replace(hour=0, minute=0, second=0, microsecond=0)
    day_end = day_start + timedelta(days=1)
    catalogue = seed_network(oms, rng, skus=skus, today=day_start)
    commands = generate_orders(rng, catalogue, orders, day_start)

    queue: list[tuple[datetime, int, str, str]] = []  # (when, tiebreak, step, order id)
    tiebreak = 0
    placement_seconds = 0.0
    operations = 0
    rejected = 0
    started = time.perf_counter()

    def run_due(until: datetime) -> None:
        nonlocal operations, rejected, tiebreak
        while queue and queue[0][0] <= until:
            when, _, step, order_id = heapq.heappop(queue)
            clock.now = when
            done_ops, rejections = _advance(oms, rng, order_id, step)
            operations += done_ops
            rejected += rejections
            following = [s for s in _STEPS if s[1] == step]
            index = _STEPS.index(following[0]) + 1
            if index < len(_STEPS):
                delay = _STEPS[index][0] - _STEPS[index - 1][0]
                tiebreak += 1
                heapq.heappush(queue, (when + timedelta(minutes=delay), tiebreak,
                                       _STEPS[index][1], order_id))

    for done, command in enumerate(commands, start=1):
        assert command.placed_at is not None
        run_due(command.placed_at)
        clock.now = command.placed_at
        t0 = time.perf_counter()
        order = oms.orders.place(command)
        placement_seconds += time.perf_counter() - t0
        operations += 1
        edit_from_another_channel(oms, order)
        if order.status in (OrderStatus.ALLOCATED, OrderStatus.BACKORDERED):
            if rng.random() < 0.01:
                oms.orders.cancel(order.id, "customer changed their mind")
                operations += 1
            elif order.fulfillment_orders:
                tiebreak += 1
                heapq.heappush(queue, (command.placed_at + timedelta(minutes=_STEPS[0][0]),
                                       tiebreak, _STEPS[0][1], order.id))
        if progress is not None:
            progress(done, len(commands))
    run_due(day_end - timedelta(microseconds=1))
    total_seconds = time.perf_counter() - started
    return _summarise(oms, catalogue, orders, rejected, placement_seconds, total_seconds,
                      operations)


def edit_from_another_channel(oms: Oms, order: Order) -> bool:
    """The day's first web order that is routed and not yet released is changed by its
    customer from the mobile app: one more unit of its first line, an edit that names the
    order by its channel and external id (as a connector's ``parse_edit`` does). Only the
    added unit is routed; ``omskit orders show`` then has ``order.edit_committed`` from
    ``mobile`` in its timeline. Returns whether it edited ``order``."""
    if order.channel != "web" or order.status is not OrderStatus.ALLOCATED:
        return False
    if oms.edits.recent(limit=1):
        return False  # one edited order is enough to show
    line = order.lines[0]
    oms.edits.submit(EditOrder(
        channel="mobile", actor=f"customer:{order.customer.id}",
        idempotency_key=f"app-edit-{order.external_id}", order_channel=order.channel,
        order_external_id=order.external_id, quantities={line.line_id: line.open_quantity + 1}))
    return True


def _advance(oms: Oms, rng: random.Random, order_id: str, step: str) -> tuple[int, int]:
    """Take every live fulfilment order of the order one step.

    Returns (operations done, rejections). At the accept step about 3 % of store fulfilment
    orders are rejected (goods not found on the shelf); their lines are re-routed, and the
    new fulfilment orders are released and accepted at once so they catch up. A pickup
    order its store rejected is held (``pickup_rejected``) instead.
    """
    order = oms.orders.get(order_id)
    if step == "release":
        if order.active_holds or order.status is OrderStatus.CANCELLED:
            return 0, 0
        oms.fulfillment.release(order_id)
        return 1, 0
    wanted = {"accept": FulfillmentStatus.RELEASED, "pick": FulfillmentStatus.ACCEPTED,
              "pack": FulfillmentStatus.PICKED, "ship": FulfillmentStatus.PACKED,
              "deliver": FulfillmentStatus.SHIPPED}[step]
    operations = rejections = 0
    for fo in order.fulfillment_orders:
        if fo.status is not wanted:
            continue
        operations += 1
        if step == "accept" and fo.location.startswith("store-") and rng.random() < 0.03:
            rerouted = oms.fulfillment.reject(fo.id, "goods not found on the shelf")
            rejections += 1
            if rerouted.active_holds:
                # A pickup the store rejected waits for an operator (pickup_rejected).
                continue
            # Accepting is idempotent, so fulfilment orders this loop reaches later are safe.
            for new in oms.fulfillment.release(order_id).fulfillment_orders:
                if new.status is FulfillmentStatus.RELEASED:
                    oms.fulfillment.accept(new.id)
                    operations += 1
        elif step == "pick" and fo.location == order.delivery.pickup_location:
            # The transfers sent to the store arrive before it picks: goods still on their
            # way cannot be picked (GoodsInTransit, decision 42).
            for transfer in oms.pickups.transfers(fo.id):
                oms.inventory.receive_supply(transfer.id)
            oms.fulfillment.pick(fo.id)
        elif step == "ship" and fo.location == order.delivery.pickup_location:
            # Collected in the store: the store sets the goods aside, the customer takes
            # them (oms.pickups, decision 42).
            oms.pickups.ready(fo.id)
            oms.pickups.collect(fo.id)
        elif step == "ship":
            oms.fulfillment.ship(fo.id, carrier=rng.choice(DEMO_CARRIERS),
                                tracking_number=f"TRK{rng.randrange(10**9, 10**10)}")
        else:
            getattr(oms.fulfillment, step)(fo.id)
    return operations, rejections


def _summarise(oms: Oms, catalogue: list[str], orders: int, rejected: int,
               placement_seconds: float, total_seconds: float, operations: int) -> DemoSummary:
    by_status: Counter[str] = Counter()
    by_channel: Counter[str] = Counter()
    shipped: Counter[str] = Counter()
    reserved: Counter[str] = Counter()
    split = routed = backordered = held = cancelled = 0
    for summary in oms.orders.iter_all():
        order = oms.orders.get(summary.id)
        by_status[order.status.value] += 1
        by_channel[order.channel] += 1
        if order.active_holds:
            held += 1
        if order.status is OrderStatus.CANCELLED:
            cancelled += 1
        live = [fo for fo in order.fulfillment_orders
                if fo.status not in (FulfillmentStatus.REJECTED, FulfillmentStatus.CANCELLED)]
        if live or (order.backordered() and not order.active_holds):
            routed += 1
            split += len({fo.location for fo in live}) > 1
            backordered += bool(order.backordered())
        for fo in live:
            if fo.status in (FulfillmentStatus.SHIPPED, FulfillmentStatus.DELIVERED):
                shipped[fo.location] += fo.units
            elif fo.active:
                reserved[fo.location] += fo.units
    return DemoSummary(
        orders=orders, skus=len(catalogue), locations=len(NETWORK),
        by_status=dict(by_status), by_channel=dict(by_channel), split_orders=split,
        routed_orders=routed, backordered_orders=backordered, held_orders=held,
        cancelled_orders=cancelled, rejected_fulfillment_orders=rejected,
        units_shipped_by_location=dict(shipped), units_reserved_by_location=dict(reserved),
        placement_seconds=placement_seconds, total_seconds=total_seconds,
        operations=operations,
    )


def demo_day(now: datetime | None = None) -> datetime:
    """Midnight UTC of the day the demo replays (today by default)."""
    now = now or datetime.now(UTC)
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


# -- an order paid by card, captured at shipment and invoiced -----------------------------------

#: The demo shop's invoicing: an Italian seller, Italian VAT by product tax class (22 %
#: standard, 10 % reduced for food, 4 % for books), dates in Rome's time zone. Configuration,
#: not code: ``omskit --settings`` takes the same table from a TOML file.
DEMO_SETTINGS: Mapping[str, Any] = {
    "invoices": {
        "seller": {"name": "Bottega Demo S.r.l.", "vat_number": "IT01234567890",
                   "line1": "Via Torino 12", "postal_code": "20123", "city": "Milano",
                   "region": "MI", "country": "IT", "email": "fatture@bottega.example"},
        "timezone": "Europe/Rome",
        "tax_rate": "22",
        "tax_classes": {"standard": "22", "reduced": "10", "super_reduced": "4"},
        "sku_tax_classes": {"BOOK-*": "super_reduced", "FOOD-*": "reduced"},
        "channel_series": {"store": {"invoice": "POS", "credit_note": "POSNC"}},
    },
    # The demo's own policy, even where another is installed (omskit-returns-standard).
    "returns": {"policy": "demo-returns"},
    # The shop writes to its customers in Italian, as Bottega Demo.
    "notifications": {"default_language": "it",
                      "brand": {"brand": "Bottega Demo", "from": "ordini@bottega.example"}},
}


class DemoCardProvider:
    """The demo's card processor: approves every card, remembers each answer by idempotency
    key (so nothing is ever charged twice), sends no webhooks."""

    code = "demo-card"
    capabilities = frozenset(set(PaymentCapability) - {PaymentCapability.WEBHOOKS})

    def __init__(self) -> None:
        self._answers: dict[str, PaymentResult] = {}
        self._lock = threading.Lock()

    def _answer(self, request: PaymentRequest) -> PaymentResult:
        with self._lock:
            return self._answers.setdefault(request.idempotency_key, PaymentResult(
                provider_reference=request.provider_reference or f"pay-{request.transaction_id}",
                amount=request.amount, operation_reference=request.idempotency_key))

    def authorise(self, request: PaymentRequest) -> PaymentResult:
        """Approve the card."""
        return self._answer(request)

    def capture(self, request: PaymentRequest) -> PaymentResult:
        """Take the amount."""
        return self._answer(request)

    def void(self, request: PaymentRequest) -> PaymentResult:
        """Release the rest."""
        return self._answer(request)

    def refund(self, request: PaymentRequest) -> PaymentResult:
        """Give the amount back."""
        return self._answer(request)

    def retrieve(self, request: PaymentRequest) -> PaymentResult | None:
        """The answer given under the request's key, if any."""
        with self._lock:
            return self._answers.get(request.idempotency_key)

    def parse_webhook(self, headers: Mapping[str, str],
                      body: bytes) -> Sequence[PaymentNotification]:
        """The demo processor sends none."""
        raise InvalidWebhook(["body: the demo card processor sends no webhooks"],
                             provider=self.code)


class DemoPayments:
    """The plugin that contributes :class:`DemoCardProvider`."""

    @hookimpl
    def omskit_register_payment_providers(
            self, register: Callable[[PaymentProvider], None]) -> None:
        """Register the demo's card processor."""
        register(DemoCardProvider())


def run_invoiced_order(oms: Oms, clock: SimulatedClock) -> Invoice:
    """One web order paid by card, from placement to its invoice: authorised after it is
    placed, shipped from Milano in a parcel with a label bought from :class:`DemoCourier`,
    captured when it ships, invoiced with a book (4 % VAT), a panettone
    (10 %) and a shirt (22 %). Needs :class:`DemoPayments` and :data:`DEMO_SETTINGS`."""
    stock = {"BOOK-GUIDA-MILANO": Decimal("18.50"), "FOOD-PANETTONE": Decimal("24.90"),
             "SHIRT-LINO": Decimal("59.00")}
    for sku in stock:
        oms.inventory.receive("dc-milano", sku, 5, reference="opening")
    lines = [NewLine(sku=sku, quantity=1 + (sku == "FOOD-PANETTONE"), unit_price=price)
             for sku, price in stock.items()]
    total = sum((line.unit_price * line.quantity for line in lines), Decimal(0))
    clock.now += timedelta(minutes=1)
    order = oms.orders.place(PlaceOrder(
        channel="web", external_id=f"WEB-{clock.now:%Y%m%d}-PAID", currency="EUR",
        customer=Customer(id="cust-paid", contact=Contact(name="Giulia Rossi",
                                                          email="giulia@example.it")),
        lines=lines,
        shipping_address=Address(name="Giulia Rossi", line1="Corso Buenos Aires 5",
                                 postal_code="20124", city="Milano", region="MI",
                                 country="IT", coordinates=Coordinates(lat=45.48, lon=9.21)),
        payment=OrderPayment(tenders=[Tender(provider=DemoCardProvider.code, amount=total,
                                             method_token="card-visa-4242")]),
        placed_at=clock.now))
    for fo in oms.fulfillment.release(order.id).fulfillment_orders:
        for step in ("accept", "pick", "pack"):
            clock.now += timedelta(minutes=10)
            getattr(oms.fulfillment, step)(fo.id)
        clock.now += timedelta(minutes=10)
        # A parcel with a label bought from the demo's courier (once, under its key).
        shipment = oms.shipping.create_shipment(fo.id, carrier=DemoCourier.code,
                                                parcels=[ParcelSpec(weight_grams=1800)])
        oms.shipping.buy_labels(shipment.id)
        oms.shipping.ship(shipment.id)
    (invoice,) = oms.invoices.for_order(order.id)
    return invoice


class DemoReturnsPolicy:
    """The demo's returns policy: 30 days from delivery, every unit received refunded at
    its price (a deployment installs a real one, such as omskit-returns-standard)."""

    code = "demo-returns"
    window = timedelta(days=30)

    def evaluate(self, context: ReturnContext,
                 settings: Mapping[str, Any]) -> Sequence[ReturnRefusal]:
        """Refuse after the window."""
        start = context.delivered_at or context.shipped_at or context.placed_at
        if context.requested_at > start + self.window:
            return [ReturnRefusal(code=RefusalCode.WINDOW_CLOSED,
                                  message="the 30-day return window has closed")]
        return []

    def quote(self, context: RefundContext, settings: Mapping[str, Any]) -> RefundQuote:
        """The price of every unit received."""
        return RefundQuote(items=sum((x.unit_price * x.received for x in context.lines),
                                     Decimal(0)))


class DemoReturns:
    """The plugin that contributes :class:`DemoReturnsPolicy`."""

    @hookimpl
    def omskit_register_returns_policies(
            self, register: Callable[[ReturnsPolicy], None]) -> None:
        """Register the demo's returns policy."""
        register(DemoReturnsPolicy())


def run_returned_order(oms: Oms, clock: SimulatedClock, invoice: Invoice) -> Return:
    """The invoiced order is tracked to its delivery; two days later the customer brings the
    shirt back to the Torino store (which neither sold nor shipped it). It is received and
    restocked there, refunded through the card with a credit note, and closed. Needs
    :class:`DemoReturns`."""
    order = oms.orders.get(invoice.order_id)
    # The courier's tracking events arrive (one of them twice): delivered, by its own time.
    for fo in order.fulfillment_orders:
        for shipment in fo.shipments:
            for parcel in shipment.parcels:
                updates = []
                for step, status, where in DEMO_TRACKING:
                    clock.now += step
                    updates.append(TrackingUpdate(
                        tracking_number=parcel.tracking_number, status=status,
                        occurred_at=clock.now, location=where,
                        event_id=f"{parcel.tracking_number}-{status.value}"))
                oms.shipping.record_tracking(DemoCourier.code, updates)
                oms.shipping.record_tracking(DemoCourier.code, updates[-1:])
    clock.now += timedelta(days=2)
    shirt = next(line for line in order.lines if line.sku == "SHIRT-LINO")
    rma = oms.returns.request(order.id, [ReturnItem(line_id=shirt.line_id, quantity=1,
                                                    reason="too large")],
                              channel="store", location="store-torino",
                              idempotency_key="demo-return-1")
    oms.returns.approve(rma.id)
    clock.now += timedelta(minutes=5)
    oms.returns.receive(rma.id, "store-torino", [ReturnItem(line_id=shirt.line_id, quantity=1)],
                        idempotency_key="torino-counter-1")
    oms.returns.inspect(rma.id, [UnitDisposition(line_id=shirt.line_id, quantity=1,
                                                 disposition=Disposition.RESTOCK)],
                        idempotency_key="torino-bench-1")
    oms.returns.refund(rma.id)
    return oms.returns.close(rma.id)


class DemoMailbox:
    """The demo's e-mail notifier: each message written as an ``.eml`` file (text and HTML
    alternatives) into a folder any mail client opens and, given ``smtp`` (host, port), sent
    to that SMTP server too: a local sink such as ``python -m aiosmtpd -n``. A deployment
    installs ``omskit-notify-smtp`` instead."""

    code = "demo-mailbox"
    media = "email"

    def __init__(self, folder: Path, smtp: tuple[str, int] | None = None) -> None:
        self.folder = folder
        self.smtp = smtp
        self.sent: list[NotificationMessage] = []

    def send(self, message: NotificationMessage) -> str:
        """Write the message to ``<folder>/<notification id>.eml``."""
        mail = EmailMessage()
        mail["Message-ID"] = f"<{message.notification_id}@omskit.demo>"
        mail["From"] = message.sender or "ordini@bottega.example"
        mail["To"] = message.recipient
        mail["Subject"] = message.subject
        mail.set_content(message.text)
        mail.add_alternative(message.html, subtype="html")
        if self.smtp is not None:
            try:
                with smtplib.SMTP(*self.smtp, timeout=10) as server:
                    server.send_message(mail)
            except (OSError, smtplib.SMTPException) as exc:
                # Recorded on the message by the core and retried by the sweep.
                raise NotifierUnavailable(f"the SMTP sink {self.smtp[0]}:{self.smtp[1]} "
                                          f"did not take the message: {exc}") from exc
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / f"{message.notification_id}.eml").write_bytes(bytes(mail))
        self.sent.append(message)
        return message.notification_id

    @hookimpl
    def omskit_register_notifiers(self, register: Callable[[Notifier], None]) -> None:
        """Register this mailbox."""
        register(self)


class DemoCourier:
    """The demo's parcel courier: sells a label per parcel (a ZPL document for a thermal
    printer, numbered ``DC`` + 9 digits) and de-duplicates on the label's key, as a real
    carrier API does. A deployment installs ``omskit-carrier-tablerate`` or
    ``omskit-carrier-karrio`` instead."""

    code = "demo-courier"
    capabilities = frozenset({CarrierCapability.LABELS})

    def __init__(self) -> None:
        self._labels: dict[str, Label] = {}
        self._lock = threading.Lock()

    def buy_label(self, request: LabelRequest, settings: Mapping[str, Any]) -> Label:
        """The label of this key: the same one when asked again."""
        with self._lock:
            found = self._labels.get(request.idempotency_key)
            if found is None:
                number = f"DC{len(self._labels) + 1:09d}"
                to = request.destination
                zpl = (f"^XA^CF0,40^FO40,40^FDomskit demo courier^FS^BY3^FO40,110"
                       f"^BCN,120,Y,N,N^FD{number}^FS^CF0,30^FO40,290"
                       f"^FD{to.city} {to.postal_code or ''}^FS^XZ")
                found = Label(label_id=number, tracking_number=number,
                              idempotency_key=request.idempotency_key,
                              document=zpl.encode(), media_type="application/zpl",
                              service="express")
                self._labels[request.idempotency_key] = found
            return found

    def retrieve_label(self, idempotency_key: str, settings: Mapping[str, Any]) -> Label | None:
        """The label sold under ``idempotency_key``, if any."""
        with self._lock:
            return self._labels.get(idempotency_key)

    @hookimpl
    def omskit_register_shipping_carriers(
            self, register: Callable[[ShippingCarrier], None]) -> None:
        """Register the demo's courier."""
        register(self)  # type: ignore[arg-type]  # labels only: the core calls nothing else


#: The demo courier's tracking of a parcel: the time since the previous event, the status
#: and where it happened.
DEMO_TRACKING: tuple[tuple[timedelta, TrackingStatus, str], ...] = (
    (timedelta(hours=2), TrackingStatus.PICKED_UP, "Milano"),
    (timedelta(hours=6), TrackingStatus.IN_TRANSIT, "Bologna hub"),
    (timedelta(hours=10), TrackingStatus.OUT_FOR_DELIVERY, "Milano"),
    (timedelta(hours=3), TrackingStatus.DELIVERED, "Milano, Corso Buenos Aires 5"),
)
