"""Shipments, labels and tracking (``oms.shipping``): the core's side of the shipping carrier
contract.

The invariants live here, never in a plugin:

- A parcel's label is bought once. The purchase is claimed (status ``pending`` and an
  idempotency key) in a committed transaction before the carrier is called; the call is
  made outside any transaction; its result is recorded after. A concurrent caller finds the
  claim and gets :class:`LabelPurchaseInProgress`. A call whose outcome is unknown (a
  timeout, an unexpected exception, a claim left by a crashed process) is reconciled with
  ``retrieve_label(key)`` before any new purchase, which reuses the same key.
- Tracking is normalised to :class:`TrackingStatus`; each carrier event is stored once per
  parcel; an event older than the parcel's status, or arriving after delivery, is history
  only. Delivery takes the carrier's time and completes the fulfilment order once all its
  shipments are delivered; a new estimate moves the order's ``expected_date``, with an
  event.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

import attrs

from omskit.documents import html_to_pdf, render_packing_slip, render_pick_list
from omskit.domain.checks import check_each, check_identifier, check_location_code, refuse
from omskit.domain.commands import (
    BuyLabel,
    CreateShipment,
    ReceiveCarrierWebhook,
    RecordTracking,
    ShipShipment,
    TrackShipment,
    VoidLabel,
)
from omskit.domain.errors import (
    CapabilityNotSupported,
    CarrierError,
    CarrierOutcomeUnknown,
    CarrierRefused,
    CarrierUnavailable,
    IdempotencyKeyConflict,
    LabelPurchaseInProgress,
    LocationNotFound,
    ParcelNotFound,
)
from omskit.domain.events import Event, LabelBought, LabelVoided, ParcelTracked, new_id
from omskit.domain.inventory import ReservationStatus
from omskit.domain.order import FulfillmentOrder, Order
from omskit.domain.shipping import (
    FINAL_TRACKING,
    CarrierCapability,
    Label,
    LabelRequest,
    LabelStatus,
    Parcel,
    ParcelSpec,
    RateRequest,
    Shipment,
    ShippingRate,
    TrackingStatus,
    TrackingUpdate,
    tracking_rank,
)
from omskit.domain.values import LineQuantity
from omskit.ports import ShippingCarrier
from omskit.registries import Registry
from omskit.services.database import Database
from omskit.services.dispatch import EventDispatcher
from omskit.services.orders import OrderService, require_id
from omskit.services.ship_to_store import require_arrived
from omskit.store.shipping import ParcelRef, RecordedTrackingEvent, ShippingRepository
from omskit.store.uow import UnitOfWork

T = TypeVar("T")

#: How long a label purchase claim stands before another caller may take the call as lost
#: and reconcile it. Longer than any carrier call's timeout.
LABEL_CLAIM_LEASE = timedelta(minutes=5)


@attrs.frozen(kw_only=True)
class TrackingResult:
    """What recording a batch of tracking events did."""

    #: Events stored for the first time.
    recorded: int = 0
    #: Events seen before (the same carrier event id for the parcel): nothing changed.
    duplicates: int = 0
    #: Of the recorded, those that moved a parcel's status.
    applied: int = 0
    #: Tracking numbers no parcel of the carrier has (labels bought elsewhere): ignored.
    unknown: tuple[str, ...] = ()


def consume_shipped(uow: UnitOfWork, order: Order, fo: FulfillmentOrder,
                    lines: Sequence[LineQuantity], at: datetime) -> None:
    """Take the shipped ``lines`` off the fulfilment order's reservations: the units leave
    on-hand and reserved stock (a reservation shrinks or is consumed). ``GoodsInTransit``
    while a ship-to-store transfer for it has not arrived."""
    require_arrived(uow, fo.id)
    wanted = {x.line_id: x.quantity for x in lines}
    found = uow.inventory.active_reservations(order.id, fo.id)
    consumed: list[str] = []
    for r in sorted(found, key=lambda r: (r.location, r.sku, r.id)):
        take = min(wanted.get(r.line_id, 0), r.quantity)
        if not take:
            continue
        wanted[r.line_id] -= take
        uow.inventory.consume(r.location, r.sku, take, order.id, at)
        if take == r.quantity:
            consumed.append(r.id)
        else:
            uow.inventory.reduce_reservation(r.id, take)
    uow.inventory.set_reservation_status(consumed, ReservationStatus.CONSUMED)


class ShippingService:
    """The shipping side of the public API (``oms.shipping``)."""

    def __init__(self, *, db: Database, dispatcher: EventDispatcher,
                 clock: Callable[[], datetime], carriers: Registry[ShippingCarrier],
                 settings: Mapping[str, Any], orders: OrderService) -> None:
        self._db = db
        self._dispatcher = dispatcher
        self._clock = clock
        self._carriers = carriers
        self._settings = settings
        self._orders = orders

    # -- plumbing -------------------------------------------------------------------------

    def carrier(self, code: str, capability: CarrierCapability | None = None) -> ShippingCarrier:
        """The installed shipping carrier with this code (``UnknownShippingCarrier``); with
        ``capability``, one that declares it (``CapabilityNotSupported``)."""
        found: ShippingCarrier = self._carriers.get(code)
        if capability is not None and capability not in found.capabilities:
            raise CapabilityNotSupported(code, capability.value)
        return found

    def carriers(self) -> list[str]:
        """Codes of every installed shipping carrier."""
        return list(self._carriers)

    def _read(self, read: Callable[[ShippingRepository, UnitOfWork], T]) -> T:
        with self._db.uow() as uow:
            return read(ShippingRepository(uow.connection, self._db.tables), uow)

    def _write(self, order_id: str,
               change: Callable[[UnitOfWork, ShippingRepository, Order, datetime], T]) -> T:
        """Apply ``change`` to the locked order and commit it, whatever it did (a label
        claim appends no event but must be durable before the carrier is called)."""
        def attempt() -> tuple[T, list[Event]]:
            with self._db.uow() as uow:
                order = uow.orders.get(order_id, for_update=True)
                result = change(uow, ShippingRepository(uow.connection, self._db.tables),
                                order, self._clock())
                uow.orders.save(order)
                return result, uow.commit()

        result, events = self._db.retrying(attempt)
        self._dispatcher.dispatch(events)
        return result

    # -- shipments ------------------------------------------------------------------------

    def create_shipment(self, fulfillment_order_id: str, *, carrier: str,
                        parcels: Sequence[ParcelSpec], lines: Sequence[LineQuantity] = (),
                        service: str = "", shipment_id: str | None = None) -> Shipment:
        """Prepare a shipment of a packed fulfilment order: ``lines`` (default: every unit
        not yet in a shipment) in ``parcels``, to go with ``carrier``. Ship part now and
        the rest later with another shipment. See :class:`CreateShipment`."""
        return self._create_shipment(CreateShipment(
            fulfillment_order_id=fulfillment_order_id, carrier=carrier, parcels=parcels,
            lines=lines, service=service, shipment_id=shipment_id))

    def _create_shipment(self, c: CreateShipment) -> Shipment:
        self.carrier(c.carrier)
        with self._db.uow() as uow:
            order_id = uow.orders.order_id_for_fulfillment(c.fulfillment_order_id)

        def change(uow: UnitOfWork, repo: ShippingRepository, order: Order,
                   at: datetime) -> Shipment:
            if c.shipment_id is not None:
                for fo in order.fulfillment_orders:
                    found = fo.shipment_by_id(c.shipment_id)
                    if found is not None:
                        if fo.id != c.fulfillment_order_id or found.carrier != c.carrier:
                            raise IdempotencyKeyConflict(c.shipment_id, "shipment")
                        return found
            sid = c.shipment_id or new_id()
            shipment = Shipment(
                id=sid, carrier=c.carrier, service=c.service, lines=c.lines,
                parcels=[Parcel(id=f"{sid}-{i + 1}", shipment_id=sid,
                                weight_grams=p.weight_grams, dimensions=p.dimensions,
                                contents=tuple(p.contents))
                         for i, p in enumerate(c.parcels)])
            return order.create_shipment(c.fulfillment_order_id, shipment, at)

        return self._write(order_id, change)

    def get(self, shipment_id: str) -> Shipment:
        """The shipment with this id (``ShipmentNotFound``)."""
        require_id(shipment_id, "shipment_id")
        order_id, _ = self._read(lambda repo, _uow: repo.shipment_order(shipment_id))
        return self._orders.get(order_id).shipment(shipment_id)[1]

    def ship(self, shipment_id: str) -> Shipment:
        """The shipment left with its carrier: its units leave the stock; the fulfilment
        order is shipped once all its units have. See :class:`ShipShipment`."""
        return self._ship(ShipShipment(shipment_id=shipment_id))

    def _ship(self, c: ShipShipment) -> Shipment:
        order_id, _ = self._read(lambda repo, _uow: repo.shipment_order(c.shipment_id))

        def change(uow: UnitOfWork, repo: ShippingRepository, order: Order,
                   at: datetime) -> Shipment:
            fo, shipment = order.shipment(c.shipment_id)
            if shipment.shipped_at is not None:
                return shipment
            order.ship_shipment(c.shipment_id, at)
            consume_shipped(uow, order, fo, shipment.lines, at)
            return shipment

        return self._write(order_id, change)

    # -- labels ---------------------------------------------------------------------------

    def buy_label(self, parcel_id: str) -> Parcel:
        """Buy the parcel's label from its shipment's carrier, once. See :class:`BuyLabel`
        and the module's docstring for what happens on failures."""
        return self._buy_label(BuyLabel(parcel_id=parcel_id))

    def buy_labels(self, shipment_id: str) -> Shipment:
        """Buy the label of every parcel of the shipment that has none (one
        :class:`BuyLabel` per parcel)."""
        for parcel in self.get(shipment_id).parcels:
            if not parcel.labelled:
                self.buy_label(parcel.id)
        return self.get(shipment_id)

    def _buy_label(self, c: BuyLabel) -> Parcel:
        ref = self._read(lambda repo, _uow: repo.parcel(c.parcel_id))
        carrier = self.carrier(ref.carrier, CarrierCapability.LABELS)
        settings = self._settings

        # 1. Claim, committed before the carrier hears of it.
        def claim(uow: UnitOfWork, repo: ShippingRepository, order: Order,
                  at: datetime) -> tuple[Parcel, LabelRequest | None, bool]:
            fo, shipment = order.shipment(ref.shipment_id)
            parcel = shipment.parcel(c.parcel_id)
            if parcel.labelled:
                return parcel, None, False
            refuse([] if shipment.shipped_at is None else
                   [f"parcel_id: shipment {shipment.id} has left"], "label")
            status = parcel.label_status
            if (status is LabelStatus.PENDING and parcel.label_claimed_at is not None
                    and parcel.label_claimed_at + LABEL_CLAIM_LEASE > at):
                raise LabelPurchaseInProgress(parcel.id)
            # A claim past its lease is a call whose outcome nobody knows.
            reconcile = status in (LabelStatus.PENDING, LabelStatus.UNKNOWN)
            if parcel.label_key is None or status in (LabelStatus.VOIDED, LabelStatus.FAILED):
                parcel.label_attempts += 1
                parcel.label_key = f"{parcel.id}:{parcel.label_attempts}"
            parcel.label_status = LabelStatus.PENDING
            parcel.label_claimed_at = at
            order.updated_at = at
            return parcel, self._label_request(uow, order, fo, shipment, parcel), reconcile

        parcel, request, reconcile = self._write(ref.order_id, claim)
        if request is None:
            return parcel
        # 2. The call, outside any transaction.
        try:
            label = carrier.retrieve_label(request.idempotency_key, settings) if reconcile \
                else None
            if label is None:
                label = carrier.buy_label(request, settings)
        except CarrierUnavailable as exc:
            self._label_failed(ref, request.idempotency_key, LabelStatus.NONE, exc.message)
            raise
        except CarrierRefused as exc:
            self._label_failed(ref, request.idempotency_key, LabelStatus.FAILED, exc.message)
            raise
        except CarrierError as exc:
            self._label_failed(ref, request.idempotency_key, LabelStatus.UNKNOWN, exc.message)
            raise
        except Exception as exc:
            # Anything else may have happened after the carrier acted: find out next time.
            said = f"{type(exc).__name__}: {exc}"
            self._label_failed(ref, request.idempotency_key, LabelStatus.UNKNOWN, said)
            raise CarrierOutcomeUnknown(ref.carrier, said) from exc
        # 3. The result, recorded.
        return self._label_bought(ref, request.idempotency_key, label)

    def _label_request(self, uow: UnitOfWork, order: Order, fo: FulfillmentOrder,
                       shipment: Shipment, parcel: Parcel) -> LabelRequest:
        origin = uow.inventory.location(fo.location)
        if origin is None:
            raise LocationNotFound(fo.location)
        refuse([] if order.shipping_address is not None else
               [f"order {order.id} has no shipping address"], "label")
        assert order.shipping_address is not None
        assert parcel.label_key is not None
        return LabelRequest(
            idempotency_key=parcel.label_key, order_id=order.id, shipment_id=shipment.id,
            parcel_id=parcel.id, origin=origin, destination=order.shipping_address,
            parcel=ParcelSpec(weight_grams=parcel.weight_grams, dimensions=parcel.dimensions,
                              contents=parcel.contents),
            service=shipment.service)

    def _label_failed(self, ref: ParcelRef, key: str, status: LabelStatus,
                      message: str) -> None:
        def change(uow: UnitOfWork, repo: ShippingRepository, order: Order,
                   at: datetime) -> None:
            parcel = order.shipment(ref.shipment_id)[1].parcel(ref.parcel_id)
            if parcel.label_key == key and parcel.label_status is LabelStatus.PENDING:
                parcel.label_status = status
                parcel.label_error = message[:500]
                order.updated_at = at

        self._write(ref.order_id, change)

    def _label_bought(self, ref: ParcelRef, key: str, label: Label) -> Parcel:
        def change(uow: UnitOfWork, repo: ShippingRepository, order: Order,
                   at: datetime) -> Parcel:
            _, shipment = order.shipment(ref.shipment_id)
            parcel = shipment.parcel(ref.parcel_id)
            if parcel.label_key != key or parcel.labelled:
                return parcel  # recorded already (a reconciling caller got there first)
            parcel.label_status = LabelStatus.BOUGHT
            parcel.label_id = label.label_id
            parcel.tracking_number = label.tracking_number
            parcel.label_error = ""
            parcel.tracking_status = parcel.tracking_status or TrackingStatus.LABEL_CREATED
            parcel.tracking_at = parcel.tracking_at or at
            if not shipment.tracking_number:
                shipment.tracking_number = label.tracking_number
            if label.document:
                repo.add_document(key, parcel.id, label.media_type, label.document, at)
            order.updated_at = at
            order.record(LabelBought(
                order=order.id, occurred_at=at, shipment_id=shipment.id, parcel_id=parcel.id,
                carrier=ref.carrier, tracking_number=label.tracking_number,
                label_id=label.label_id))
            if label.expected_date is not None:
                parcel.expected_date = label.expected_date
                order.set_expected_date(shipment.id, label.expected_date, at)
            return parcel

        return self._write(ref.order_id, change)

    def void_label(self, parcel_id: str) -> Parcel:
        """Void the parcel's label at the carrier (before the shipment leaves); a new label
        can then be bought, under a new key. See :class:`VoidLabel`."""
        return self._void_label(VoidLabel(parcel_id=parcel_id))

    def _void_label(self, c: VoidLabel) -> Parcel:
        ref = self._read(lambda repo, _uow: repo.parcel(c.parcel_id))
        carrier = self.carrier(ref.carrier, CarrierCapability.VOID)
        order = self._orders.get(ref.order_id)
        _, shipment = order.shipment(ref.shipment_id)
        parcel = shipment.parcel(c.parcel_id)
        if parcel.label_status is not LabelStatus.BOUGHT:
            return parcel
        refuse([] if shipment.shipped_at is None else
               [f"parcel_id: shipment {shipment.id} has left"], "label")
        assert parcel.label_id is not None
        carrier.void_label(parcel.label_id, self._settings)
        key = parcel.label_key

        def change(uow: UnitOfWork, repo: ShippingRepository, order: Order,
                   at: datetime) -> Parcel:
            _, shipment = order.shipment(ref.shipment_id)
            found = shipment.parcel(ref.parcel_id)
            if found.label_key != key or found.label_status is not LabelStatus.BOUGHT:
                return found
            voided = found.tracking_number
            found.label_status = LabelStatus.VOIDED
            found.tracking_number = ""
            found.tracking_status = None
            found.tracking_at = None
            if shipment.tracking_number == voided:
                shipment.tracking_number = ""
            order.updated_at = at
            order.record(LabelVoided(order=order.id, occurred_at=at, shipment_id=shipment.id,
                                     parcel_id=found.id, carrier=ref.carrier,
                                     tracking_number=voided))
            return found

        return self._write(ref.order_id, change)

    def label_document(self, parcel_id: str) -> tuple[str, bytes]:
        """(media type, bytes) of the parcel's current label (``ParcelNotFound`` when it has
        no stored document)."""
        require_id(parcel_id, "parcel_id")
        ref = self._read(lambda repo, _uow: repo.parcel(parcel_id))
        parcel = self._orders.get(ref.order_id).shipment(ref.shipment_id)[1].parcel(parcel_id)
        found = None if parcel.label_key is None or not parcel.labelled else self._read(
            lambda repo, _uow: repo.document(str(parcel.label_key)))
        if found is None:
            raise ParcelNotFound(f"{parcel_id} (no label document)")
        return found

    def rates(self, fulfillment_order_id: str, parcels: Sequence[ParcelSpec],
              carriers: Sequence[str] | None = None) -> list[ShippingRate]:
        """Offers of every carrier that declares ``rates`` (or of ``carriers``) for these
        parcels from the fulfilment order's location to the order's address, cheapest
        first. A carrier that fails is left out (rates are advice, never a write)."""
        require_id(fulfillment_order_id, "fulfillment_order_id")
        order = self._orders.get(self._read(
            lambda repo, uow: uow.orders.order_id_for_fulfillment(fulfillment_order_id)))
        fo = order.fulfillment_order(fulfillment_order_id)
        origin = self._read(lambda repo, uow: uow.inventory.location(fo.location))
        refuse([] if order.shipping_address is not None else
               [f"order {order.id} has no shipping address"], "rates")
        assert origin is not None
        assert order.shipping_address is not None
        request = RateRequest(origin=origin, destination=order.shipping_address,
                              parcels=tuple(parcels))
        codes = carriers if carriers is not None else [
            code for code in self.carriers()
            if CarrierCapability.RATES in self.carrier(code).capabilities]
        found: list[ShippingRate] = []
        for code in codes:
            carrier = self.carrier(code, CarrierCapability.RATES)
            try:
                found.extend(carrier.rates(request, self._settings))
            except CarrierError:
                continue
        return sorted(found, key=lambda r: (r.amount, r.transit_days, r.carrier, r.service))

    # -- documents ------------------------------------------------------------------------

    def pick_list(self, location: str,
                  fulfillment_order_ids: Sequence[str] | None = None) -> str:
        """The pick list of a wave at ``location``, as an HTML page (jinja2): units per SKU
        and the orders they are for. The wave is ``fulfillment_order_ids`` (each must be at
        the location), else every fulfilment order there that is released or accepted."""
        problems: list[str] = []
        check_location_code(location, "location", problems)
        ids = check_each(fulfillment_order_ids, "fulfillment_order_ids", check_identifier,
                         problems)
        refuse(problems, "pick list")

        def read(repo: ShippingRepository, uow: UnitOfWork) -> str:
            found = uow.inventory.location(location)
            if found is None:
                raise LocationNotFound(location)
            wanted = ids if ids is not None else repo.waiting_to_pick(location)
            order_ids = {fo_id: uow.orders.order_id_for_fulfillment(fo_id) for fo_id in wanted}
            orders = {o.id: o for o in uow.orders.get_many(sorted(set(order_ids.values())))}
            wave: list[tuple[Order, FulfillmentOrder]] = []
            for fo_id, order_id in order_ids.items():
                fo = orders[order_id].fulfillment_order(fo_id)
                refuse([] if fo.location == location else
                       [f"fulfillment_order_ids: {fo_id} is at {fo.location}, not {location}"],
                       "pick list")
                wave.append((orders[order_id], fo))
            return render_pick_list(found, wave, self._clock())

        return self._read(read)

    def packing_slip(self, shipment_id: str) -> str:
        """The packing slip of a shipment, as an HTML page (jinja2): the parcels' contents,
        the address, the tracking number and what follows in another shipment."""
        require_id(shipment_id, "shipment_id")
        order_id, _ = self._read(lambda repo, _uow: repo.shipment_order(shipment_id))
        order = self._orders.get(order_id)
        fo, shipment = order.shipment(shipment_id)
        return render_packing_slip(order, fo, shipment)

    def pick_list_pdf(self, location: str,
                      fulfillment_order_ids: Sequence[str] | None = None) -> bytes:
        """:meth:`pick_list` as a PDF (WeasyPrint; ``PdfUnavailable`` without it)."""
        return html_to_pdf(self.pick_list(location, fulfillment_order_ids))

    def packing_slip_pdf(self, shipment_id: str) -> bytes:
        """:meth:`packing_slip` as a PDF (WeasyPrint; ``PdfUnavailable`` without it)."""
        return html_to_pdf(self.packing_slip(shipment_id))

    # -- tracking -------------------------------------------------------------------------

    def record_tracking(self, carrier: str,
                        updates: Sequence[TrackingUpdate]) -> TrackingResult:
        """Record tracking events of ``carrier`` (from a poll, a webhook or the host).
        See :class:`RecordTracking`."""
        return self._record_tracking(RecordTracking(carrier=carrier, updates=updates))

    def _record_tracking(self, c: RecordTracking) -> TrackingResult:
        self.carrier(c.carrier)
        numbers = [u.tracking_number for u in c.updates]
        refs = self._read(lambda repo, _uow: repo.parcels_tracked(c.carrier, numbers))
        numbers_of = self._read(lambda repo, _uow: repo.tracking_numbers(
            [r.parcel_id for r in refs]))
        by_order: dict[str, list[ParcelRef]] = defaultdict(list)
        for ref in refs:
            by_order[ref.order_id].append(ref)
        known = set(numbers_of.values())
        total = TrackingResult(unknown=tuple(sorted({n for n in numbers if n not in known})))
        for order_id, parcels in by_order.items():
            def apply(uow: UnitOfWork, repo: ShippingRepository, order: Order, at: datetime,
                      parcels: Sequence[ParcelRef] = parcels) -> TrackingResult:
                return self._apply(repo, order, parcels, numbers_of, c.updates, at)

            got = self._write(order_id, apply)
            total = attrs.evolve(total, recorded=total.recorded + got.recorded,
                                 duplicates=total.duplicates + got.duplicates,
                                 applied=total.applied + got.applied)
        return total

    def _apply(self, repo: ShippingRepository, order: Order, refs: Sequence[ParcelRef],
               numbers_of: Mapping[str, str], updates: Sequence[TrackingUpdate],
               at: datetime) -> TrackingResult:
        recorded = duplicates = applied = 0
        for ref in refs:
            _, shipment = order.shipment(ref.shipment_id)
            parcel = shipment.parcel(ref.parcel_id)
            seen = repo.seen_events(ref.carrier, parcel.id)
            mine = sorted((u for u in updates if u.tracking_number == numbers_of[ref.parcel_id]),
                          key=lambda u: (u.occurred_at, tracking_rank(u.status)))
            for update in mine:
                if update.event_id in seen:
                    duplicates += 1
                    continue
                seen.add(update.event_id)
                repo.add_event(ref, update, at)
                recorded += 1
                if self._advance(order, shipment, parcel, ref, update, at):
                    applied += 1
        return TrackingResult(recorded=recorded, duplicates=duplicates, applied=applied)

    def _advance(self, order: Order, shipment: Shipment, parcel: Parcel, ref: ParcelRef,
                 update: TrackingUpdate, at: datetime) -> bool:
        """Move the parcel to ``update`` unless it is final already or the update is older
        than its status (then the event is history only)."""
        if parcel.tracking_status in FINAL_TRACKING:
            return False
        if parcel.tracking_at is not None and update.occurred_at < parcel.tracking_at and \
                parcel.tracking_status is not TrackingStatus.LABEL_CREATED:
            return False
        parcel.tracking_status = update.status
        parcel.tracking_at = update.occurred_at
        order.updated_at = max(order.updated_at, at)
        order.record(ParcelTracked(
            order=order.id, occurred_at=update.occurred_at, shipment_id=shipment.id,
            parcel_id=parcel.id, carrier=ref.carrier, tracking_number=update.tracking_number,
            status=update.status.value, description=update.description))
        if update.expected_date is not None and update.status not in FINAL_TRACKING:
            parcel.expected_date = update.expected_date
            estimates = [p.expected_date for p in shipment.parcels if p.expected_date]
            order.set_expected_date(shipment.id, max(estimates), at)
        if update.status is TrackingStatus.DELIVERED:
            parcel.delivered_at = update.occurred_at
            delivered = [p.delivered_at for p in shipment.parcels]
            if all(d is not None for d in delivered):
                order.deliver_shipment(shipment.id, max(d for d in delivered if d))
        return True

    def track(self, shipment_id: str) -> TrackingResult:
        """Ask the carrier for each parcel's tracking and record it. See
        :class:`TrackShipment`."""
        return self._track(TrackShipment(shipment_id=shipment_id))

    def _track(self, c: TrackShipment) -> TrackingResult:
        shipment = self.get(c.shipment_id)
        carrier = self.carrier(shipment.carrier, CarrierCapability.TRACKING)
        updates: list[TrackingUpdate] = []
        for parcel in shipment.parcels:
            if parcel.tracking_number:
                updates.extend(carrier.track(parcel.tracking_number, self._settings))
        return self.record_tracking(shipment.carrier, updates)

    def receive_webhook(self, carrier: str, headers: Mapping[str, str],
                        body: bytes) -> TrackingResult:
        """A carrier's webhook, raw: its plugin checks the signature over ``body`` and
        translates the events, which are recorded. See :class:`ReceiveCarrierWebhook`."""
        return self._receive_webhook(ReceiveCarrierWebhook(carrier=carrier, headers=headers,
                                                           body=body))

    def _receive_webhook(self, c: ReceiveCarrierWebhook) -> TrackingResult:
        found = self.carrier(c.carrier, CarrierCapability.WEBHOOKS)
        headers = {k.lower(): v for k, v in c.headers.items()}
        updates = found.parse_webhook(headers, c.body, self._settings)
        return self.record_tracking(c.carrier, updates)

    def tracking_events(self, parcel_id: str) -> list[RecordedTrackingEvent]:
        """Every tracking event recorded for the parcel, in the carrier's time order
        (duplicates once, late ones included)."""
        require_id(parcel_id, "parcel_id")
        return self._read(lambda repo, _uow: (repo.parcel(parcel_id), repo.events(parcel_id))[1])


__all__ = ["LABEL_CLAIM_LEASE", "ShippingService", "TrackingResult", "consume_shipped"]
