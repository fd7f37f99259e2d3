"""Locations, stock movements, supply and availability (``oms.inventory``)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any, TypeVar

import attrs
import sqlalchemy as sa

from omskit.domain.availability import StockSummary
from omskit.domain.checks import (
    check_code,
    check_each,
    check_identifier,
    check_location_code,
    check_moment,
    refuse,
)
from omskit.domain.commands import (
    AdjustStock,
    ReceiveStock,
    ReceiveSupply,
    RegisterSupply,
    SaveLocation,
    SetSafetyStock,
    TransferStock,
)
from omskit.domain.commands.inventory import MAX_HANDLING_COST, MAX_TIMEZONE_LENGTH
from omskit.domain.errors import LocationNotFound, SupplyNotFound
from omskit.domain.events import (
    Event,
    LocationSaved,
    StockAdjusted,
    StockReceived,
    StockTransferred,
    SupplyReceived,
    SupplyRegistered,
    new_id,
)
from omskit.domain.inventory import (
    GlobalStock,
    LedgerEntry,
    Location,
    MovementKind,
    StockItem,
    Supply,
    SupplyKind,
    SupplyStatus,
)
from omskit.routing.engine import RoutingEngine
from omskit.routing.settings import inventory_settings
from omskit.services.database import Database
from omskit.services.dispatch import EventDispatcher
from omskit.services.ship_to_store import reserve_arrived_transfer
from omskit.services.sourcing import channel_available
from omskit.store.availability import AvailabilityQueries
from omskit.store.uow import UnitOfWork

T = TypeVar("T")

#: Largest page :meth:`InventoryService.stock_view` reads in one query.
MAX_PAGE_SIZE = 10_000
#: Namespace of the ids of in-transit supply made by a transfer with an idempotency key.
_TRANSFER_IDS = uuid.UUID("5b0c1d2e-8f0a-4c55-9a51-6c7e0f1d2a3b")
#: Namespace of the ids of supply registered with an idempotency key.
_SUPPLY_IDS = uuid.UUID("9d4f6a1c-3e2b-4f7d-8c15-2a6b0e9f4d71")


def _raise_if(problems: list[str], subject: str) -> None:
    refuse(problems, subject)


def _stock_key(location: object, sku: object, subject: str) -> None:
    """Refuse a malformed (location, SKU) pair before it reaches a query."""
    problems: list[str] = []
    check_location_code(location, "location", problems)
    check_identifier(sku, "sku", problems)
    refuse(problems, subject)


class InventoryService:
    """The inventory side of the public API.

    Movements that a caller may retry take an ``idempotency_key``: a second call with the
    same key at the same location and SKU changes nothing.
    """

    def __init__(self, *, db: Database, dispatcher: EventDispatcher,
                 clock: Callable[[], datetime], router: RoutingEngine,
                 settings: Mapping[str, Any]) -> None:
        self._db = db
        self._dispatcher = dispatcher
        self._clock = clock
        self._router = router
        self._settings = settings

    def _write(self, operation: Callable[[UnitOfWork, datetime], T], *,
               idempotency_key: str | None = None) -> T:
        """Run ``operation`` in a committed unit of work (again on transient conflicts) and
        dispatch its events (their handlers offer new stock to waiting backorders)."""

        def attempt() -> tuple[T, list[Event]]:
            with self._db.uow() as uow:
                result = operation(uow, self._clock())
                return result, uow.commit()

        try:
            result, events = self._db.retrying(attempt)
        except sa.exc.IntegrityError:
            # A concurrent call with the same key committed first (unique ledger index);
            # running again finds its movement and changes nothing.
            if idempotency_key is None or self._db.in_host_transaction:
                raise
            result, events = self._db.retrying(attempt)
        self._dispatcher.dispatch(events)
        return result

    def _read(self, operation: Callable[[UnitOfWork], T]) -> T:
        with self._db.uow() as uow:
            return operation(uow)

    @staticmethod
    def _require_location(uow: UnitOfWork, code: str) -> Location:
        found = uow.inventory.location(code)
        if found is None:
            raise LocationNotFound(code)
        return found

    @staticmethod
    def _seen(uow: UnitOfWork, location: str, sku: str, kind: MovementKind,
              key: str | None) -> bool:
        return key is not None and uow.inventory.has_movement(location, sku, kind, key)

    # -- locations ------------------------------------------------------------------------------

    def save_location(self, location: Location) -> Location:
        """Create a location or replace its settings (stock rows are kept)."""
        return self._save_location(SaveLocation(location=location))

    def _save_location(self, command: SaveLocation) -> Location:
        location = command.location

        def op(uow: UnitOfWork, at: datetime) -> Location:
            created = uow.inventory.save_location(location, at)
            uow.emit(LocationSaved(occurred_at=at, location=location.code, created=created))
            return location

        return self._write(op)

    def location(self, code: str) -> Location:
        """The location with this code, or :class:`LocationNotFound`."""
        problems: list[str] = []
        check_location_code(code, "code", problems)
        refuse(problems, "location query")
        return self._read(lambda uow: self._require_location(uow, code))

    def locations(self) -> list[Location]:
        """Every location, by code."""
        return self._read(lambda uow: uow.inventory.locations())

    # -- movements ------------------------------------------------------------------------------

    def receive(self, location: str, sku: str, quantity: int, *, reference: str = "",
                idempotency_key: str | None = None) -> StockItem:
        """Add received goods to on-hand stock (creates the stock row for a new SKU)."""
        return self._receive(ReceiveStock(location=location, sku=sku, quantity=quantity,
                                          reference=reference,
                                          idempotency_key=idempotency_key))

    def _receive(self, c: ReceiveStock) -> StockItem:
        def op(uow: UnitOfWork, at: datetime) -> StockItem:
            self._require_location(uow, c.location)
            if not self._seen(uow, c.location, c.sku, MovementKind.RECEIVE, c.idempotency_key):
                uow.inventory.add_on_hand(c.location, c.sku, c.quantity, MovementKind.RECEIVE,
                                          c.reference, at, c.idempotency_key)
                uow.emit(StockReceived(occurred_at=at, location=c.location, sku=c.sku,
                                       quantity=c.quantity, reference=c.reference))
            item = uow.inventory.stock_item(c.location, c.sku)
            assert item is not None
            return item

        return self._write(op, idempotency_key=c.idempotency_key)

    def adjust(self, location: str, sku: str, delta: int, *, reason: str,
               idempotency_key: str | None = None) -> StockItem:
        """Correct on-hand stock by ``delta`` (a count, damage, shrinkage).

        A decrease may not take on-hand below the reserved units: :class:`InsufficientStock`.
        """
        return self._adjust(AdjustStock(location=location, sku=sku, delta=delta, reason=reason,
                                        idempotency_key=idempotency_key))

    def _adjust(self, c: AdjustStock) -> StockItem:
        location, sku, delta, reason = c.location, c.sku, c.delta, c.reason

        def op(uow: UnitOfWork, at: datetime) -> StockItem:
            self._require_location(uow, location)
            if not self._seen(uow, location, sku, MovementKind.ADJUST, c.idempotency_key):
                if delta > 0:
                    uow.inventory.add_on_hand(location, sku, delta, MovementKind.ADJUST,
                                              reason, at, c.idempotency_key)
                else:
                    uow.inventory.remove_on_hand(location, sku, -delta, MovementKind.ADJUST,
                                                 reason, at, c.idempotency_key)
                item = uow.inventory.stock_item(location, sku)
                assert item is not None
                uow.emit(StockAdjusted(occurred_at=at, location=location, sku=sku,
                                       on_hand_delta=delta, safety_stock=item.safety_stock,
                                       reason=reason))
            item = uow.inventory.stock_item(location, sku)
            assert item is not None
            return item

        return self._write(op, idempotency_key=c.idempotency_key)

    def set_safety_stock(self, location: str, sku: str, quantity: int) -> StockItem:
        """Keep ``quantity`` units of ``sku`` at ``location`` back from promising."""
        return self._set_safety_stock(SetSafetyStock(location=location, sku=sku,
                                                     quantity=quantity))

    def _set_safety_stock(self, c: SetSafetyStock) -> StockItem:
        location, sku, quantity = c.location, c.sku, c.quantity

        def op(uow: UnitOfWork, at: datetime) -> StockItem:
            self._require_location(uow, location)
            before = uow.inventory.stock_item(location, sku)
            if before is None:
                uow.inventory.add_on_hand(location, sku, 0, MovementKind.ADJUST,
                                          "stock row created", at)
            uow.inventory.set_safety_stock(location, sku, quantity)
            item = uow.inventory.stock_item(location, sku)
            assert item is not None
            uow.emit(StockAdjusted(occurred_at=at, location=location, sku=sku,
                                   on_hand_delta=0, safety_stock=quantity,
                                   reason="safety stock"))
            return item

        return self._write(op)

    def transfer(self, sku: str, from_location: str, to_location: str, quantity: int, *,
                 eta: datetime | None = None, reference: str = "",
                 idempotency_key: str | None = None) -> Supply | None:
        """Move unreserved stock between locations.

        Without ``eta`` it arrives at once. With an ``eta`` it is in transit: it leaves the
        source now and is open supply at the destination until :meth:`receive_supply`.
        With an ``idempotency_key``, a repeat (same key, source and SKU) moves nothing
        and returns what the first call returned.
        """
        return self._transfer(TransferStock(
            sku=sku, from_location=from_location, to_location=to_location, quantity=quantity,
            eta=eta, reference=reference, idempotency_key=idempotency_key))

    def _transfer(self, c: TransferStock) -> Supply | None:
        sku, from_location, to_location, quantity = (c.sku, c.from_location, c.to_location,
                                                     c.quantity)
        eta, key = c.eta, c.idempotency_key
        # With a key the in-transit supply's id follows from it, so a repeat can return it.
        supply_id = (new_id() if key is None
                     else uuid.uuid5(_TRANSFER_IDS, f"{from_location}\x1f{sku}\x1f{key}").hex)

        def op(uow: UnitOfWork, at: datetime) -> Supply | None:
            self._require_location(uow, from_location)
            self._require_location(uow, to_location)
            if self._seen(uow, from_location, sku, MovementKind.TRANSFER_OUT, key):
                return None if eta is None else uow.inventory.supply(supply_id)
            ref = c.reference or f"transfer {from_location}->{to_location}"
            uow.inventory.lock_rows([(from_location, sku), (to_location, sku)])
            uow.inventory.remove_on_hand(from_location, sku, quantity,
                                         MovementKind.TRANSFER_OUT, ref, at, key)
            supply = None
            if eta is None:
                uow.inventory.add_on_hand(to_location, sku, quantity, MovementKind.TRANSFER_IN,
                                          ref, at, key)
            else:
                supply = Supply(id=supply_id, location=to_location, sku=sku,
                                quantity=quantity, eta=eta, kind=SupplyKind.TRANSFER,
                                reference=ref, created_at=at)
                uow.inventory.add_supply(supply)
                uow.emit(SupplyRegistered(occurred_at=at, supply_id=supply.id,
                                          location=to_location, sku=sku, quantity=quantity,
                                          eta=eta))
            uow.emit(StockTransferred(occurred_at=at, sku=sku, from_location=from_location,
                                      to_location=to_location, quantity=quantity,
                                      supply_id=supply.id if supply else None))
            return supply

        return self._write(op, idempotency_key=key)

    # -- supply ---------------------------------------------------------------------------------

    def register_supply(self, location: str, sku: str, quantity: int, eta: datetime, *,
                        kind: SupplyKind = SupplyKind.PURCHASE_ORDER,
                        reference: str = "", idempotency_key: str | None = None) -> Supply:
        """Record stock expected at ``location`` by ``eta`` (a purchase order, production).

        With an ``idempotency_key``, a repeat (same key, location and SKU) registers nothing
        and returns the first supply.
        """
        return self._register_supply(RegisterSupply(location=location, sku=sku,
                                                    quantity=quantity, eta=eta, kind=kind,
                                                    reference=reference,
                                                    idempotency_key=idempotency_key))

    def _register_supply(self, c: RegisterSupply) -> Supply:
        key = c.idempotency_key
        # With a key the id follows from it: the supplies' primary key makes a repeat (or a
        # concurrent twin) find the first instead of adding another.
        supply_id = (new_id() if key is None
                     else uuid.uuid5(_SUPPLY_IDS, f"{c.location}\x1f{c.sku}\x1f{key}").hex)

        def op(uow: UnitOfWork, at: datetime) -> Supply:
            self._require_location(uow, c.location)
            if key is not None:
                found = uow.inventory.supply(supply_id)
                if found is not None:
                    return found
            supply = Supply(id=supply_id, location=c.location, sku=c.sku, quantity=c.quantity,
                            eta=c.eta, kind=c.kind, reference=c.reference, created_at=at)
            uow.inventory.add_supply(supply)
            uow.emit(SupplyRegistered(occurred_at=at, supply_id=supply.id, location=c.location,
                                      sku=c.sku, quantity=c.quantity, eta=c.eta))
            return supply

        # supply.registered's handler validates again the orders held because nobody
        # stocked or expected the SKU: they are pre-orders now.
        return self._write(op, idempotency_key=key)

    def receive_supply(self, supply_id: str) -> Supply:
        """Expected stock arrived: it becomes on-hand. Receiving it again changes nothing."""
        return self._receive_supply(ReceiveSupply(supply_id=supply_id))

    def _receive_supply(self, c: ReceiveSupply) -> Supply:
        supply_id = c.supply_id

        def op(uow: UnitOfWork, at: datetime) -> Supply:
            peek = uow.inventory.supply(supply_id)
            if peek is not None and peek.order_id is not None:
                # A ship-to-store transfer: its order's lock first, then the stock's, the
                # order every order change takes them in.
                uow.orders.get(peek.order_id, for_update=True)
            supply = uow.inventory.supply(supply_id, for_update=True)
            if supply is None:
                raise SupplyNotFound(supply_id)
            if uow.inventory.set_supply_status(supply_id, SupplyStatus.RECEIVED):
                kind = (MovementKind.TRANSFER_IN if supply.kind is SupplyKind.TRANSFER
                        else MovementKind.RECEIVE)
                uow.inventory.add_on_hand(supply.location, supply.sku, supply.quantity, kind,
                                          f"supply {supply.id}", at)
                # Sent for a pickup order: its units are that order's (decision 42).
                reserve_arrived_transfer(uow, supply, at)
                uow.emit(SupplyReceived(occurred_at=at, supply_id=supply.id,
                                        location=supply.location, sku=supply.sku,
                                        quantity=supply.quantity))
                supply.status = SupplyStatus.RECEIVED
            return supply

        return self._write(op)

    # -- availability ---------------------------------------------------------------------------

    def stock_item(self, location: str, sku: str) -> StockItem | None:
        """The stock row of ``sku`` at ``location``, or None if it never had any."""
        _stock_key(location, sku, "stock query")
        return self._read(lambda uow: uow.inventory.stock_item(location, sku))

    def stock(self, sku: str) -> GlobalStock:
        """``sku`` across the network: totals and the per-location breakdown with supply."""
        problems: list[str] = []
        check_identifier(sku, "sku", problems)
        refuse(problems, "stock query")
        return self._read(lambda uow: GlobalStock(sku=sku,
                                                  positions=tuple(uow.inventory.positions(sku))))

    def available(self, sku: str, *, location: str | None = None,
                  at: datetime | None = None, channel: str | None = None) -> int:
        """Available to promise: on hand − reserved − safety stock, plus open supply due by
        ``at`` (in transit or on order), at active locations only.

        For one location, or across all locations when ``location`` is None. With a
        ``channel``, only what that channel's orders may get: the routing rules are applied
        as for a shipped order of the channel (locations they exclude count nothing, their
        holdbacks, such as the channel's buffer, are kept back). Backordered demand
        is not netted out: waiting orders take arriving supply first (see
        ``docs/promising.md``).
        """
        problems: list[str] = []
        check_identifier(sku, "sku", problems)
        if location is not None:
            check_location_code(location, "location", problems)
        if channel is not None:
            check_code(channel, "channel", problems)
        if at is not None:
            check_moment(at, "at", problems)
        _raise_if(problems, "availability query")
        if channel is not None:
            places = None if location is None else [location]
            return self._read(lambda uow: channel_available(
                self._router, uow, channel, [sku], locations=places, at=at)[sku])
        # One aggregate query: no per-location rows reach Python (1,000 locations included).
        return self._read(lambda uow: AvailabilityQueries(uow.connection, self._db.tables)
                          .available_to_promise(sku, location=location, at=at))

    def stock_view(self, *, skus: Iterable[str] | None = None,
                   locations: Iterable[str] | None = None, channel: str | None = None,
                   page_size: int = 1000) -> Iterator[StockSummary]:
        """The network's stock, one :class:`StockSummary` per SKU, by SKU, streamed.

        Every SKU with a stock row or open supply (at ``locations``, all by default): on
        hand, reserved, safety stock and open supply summed over those locations, and
        available to promise now at the active ones (as :meth:`available`: with a
        ``channel``, only what that channel's routing rules let its orders use). ``skus``
        restricts the view to those SKUs (unknown ones are left out). Pages of
        ``page_size`` SKUs (1 to 10,000) are read by keyset on the SKU, each in its own short
        transaction, so memory stays flat however large the catalogue; a page reflects the
        stock when it was read, not when the view started.

        Arguments are checked at the call, before anything is read: :class:`InvalidCommand`.
        """
        problems: list[str] = []
        size: object = page_size
        if isinstance(size, bool) or not isinstance(size, int) or not (
                1 <= size <= MAX_PAGE_SIZE):
            problems.append(f"page_size: must be a whole number from 1 to {MAX_PAGE_SIZE}, "
                            f"not {size!r}")
        wanted = check_each(skus, "skus", check_identifier, problems)
        places = check_each(locations, "locations", check_location_code, problems)
        if channel is not None:
            check_code(channel, "channel", problems)
        _raise_if(problems, "stock view")
        return self._stock_pages(wanted, places, channel, page_size)

    def _stock_pages(self, skus: list[str] | None, locations: list[str] | None,
                     channel: str | None, page_size: int) -> Iterator[StockSummary]:
        def read(uow: UnitOfWork, after: str | None,
                 chunk: list[str] | None) -> list[StockSummary]:
            found = AvailabilityQueries(uow.connection, self._db.tables).summaries(
                after=after, limit=page_size, skus=chunk, locations=locations)
            if channel is None or not found:
                return found
            # What the channel's rules let it use, per SKU, in the page's transaction.
            usable = channel_available(self._router, uow, channel,
                                       [s.sku for s in found], locations=locations)
            return [attrs.evolve(s, available=usable[s.sku]) for s in found]

        def page(after: str | None, chunk: list[str] | None) -> list[StockSummary]:
            return self._read(lambda uow: read(uow, after, chunk))

        if skus is not None:
            for start in range(0, len(skus), page_size):
                yield from page(None, skus[start:start + page_size])
            return
        after: str | None = None
        while True:
            found = page(after, None)  # read and closed before the caller sees a row
            yield from found
            if len(found) < page_size:
                return
            after = found[-1].sku

    def channel_buffer(self, channel: str) -> int:
        """Units per location and SKU that ``channel`` may not take (0 without a buffer)."""
        problems: list[str] = []
        check_code(channel, "channel", problems)
        refuse(problems, "channel buffer")
        return inventory_settings(self._settings).channel_buffers.get(channel, 0)

    def ledger(self, location: str, sku: str) -> list[LedgerEntry]:
        """Every movement of ``sku`` at ``location``, oldest first."""
        _stock_key(location, sku, "ledger query")
        return self._read(lambda uow: uow.inventory.ledger(location, sku))

    def ledger_mismatches(self) -> list[tuple[str, str]]:
        """Stock rows whose ledger does not sum to them; empty unless something is broken."""
        return self._read(lambda uow: uow.inventory.ledger_mismatches())


__all__ = ["MAX_HANDLING_COST", "MAX_TIMEZONE_LENGTH", "InventoryService"]
