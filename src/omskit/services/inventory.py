"""Locations, stock movements, supply and availability (``oms.inventory``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, time
from decimal import Decimal
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs
import sqlalchemy as sa

from omskit.domain.availability import StockSummary
from omskit.domain.checks import (
    MAX_GROUPS,
    check_address,
    check_code,
    check_each,
    check_identifier,
    check_location_code,
    check_moment,
    check_quantity,
    check_text,
    encodes,
    refuse,
    typed,
)
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
    Capability,
    GlobalStock,
    LedgerEntry,
    Location,
    LocationKind,
    MovementKind,
    StockItem,
    Supply,
    SupplyKind,
    SupplyStatus,
)
from omskit.domain.values import Address, Coordinates, check_decimal
from omskit.routing.settings import inventory_settings
from omskit.services.runtime import Runtime
from omskit.services.sourcing import channel_available
from omskit.store.availability import AvailabilityQueries
from omskit.store.uow import UnitOfWork

T = TypeVar("T")

#: Largest page :meth:`InventoryService.stock_view` reads in one query.
MAX_PAGE_SIZE = 10_000
#: Highest handling cost per unit of a location (a routing cost, at most 6 decimals).
MAX_HANDLING_COST = Decimal(1_000_000)
#: Longest IANA time-zone name (the column's width; the longest real one has 32).
MAX_TIMEZONE_LENGTH = 64


def _check_key(key: object, problems: list[str]) -> None:
    if key is not None:
        check_identifier(key, "idempotency_key", problems)


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

    def __init__(self, rt: Runtime) -> None:
        self._rt = rt

    def _write(self, operation: Callable[[UnitOfWork, datetime], T], *,
               idempotency_key: str | None = None) -> T:
        """Run ``operation`` in a committed unit of work (again on transient conflicts) and
        dispatch its events (their handlers offer new stock to waiting backorders)."""
        rt = self._rt

        def attempt() -> tuple[T, list[Event]]:
            with rt.uow() as uow:
                result = operation(uow, rt.now())
                return result, uow.commit()

        try:
            result, events = rt.retrying(attempt)
        except sa.exc.IntegrityError:
            # A concurrent call with the same key committed first (unique ledger index);
            # running again finds its movement and changes nothing.
            if idempotency_key is None or rt.connection is not None:
                raise
            result, events = rt.retrying(attempt)
        rt.dispatch(events)
        return result

    def _read(self, operation: Callable[[UnitOfWork], T]) -> T:
        with self._rt.uow() as uow:
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
        given: object = location
        if not isinstance(given, Location):
            refuse([f"location: must be a Location, not {type(given).__name__}"], "location")
        problems: list[str] = []
        check_location_code(location.code, "code", problems)
        check_text(location.name, "name", problems)
        if location.daily_capacity is not None:
            check_quantity(location.daily_capacity, "daily_capacity", problems, minimum=0)
        # Typed fields, checked anyway: a host may build a Location from untrusted data.
        check_decimal(location.handling_cost, "handling_cost", problems,
                      maximum=MAX_HANDLING_COST, places=6)
        coordinates: object = location.coordinates
        if coordinates is not None:
            typed(coordinates, Coordinates, "coordinates", problems)
        if location.address is not None and typed(location.address, Address, "address",
                                                  problems):
            check_address(location.address, "address", problems)
        kind: object = location.kind
        if not isinstance(kind, LocationKind):
            problems.append(f"kind: {kind!r} is not a location kind")
        capabilities: object = location.capabilities
        if not isinstance(capabilities, frozenset | set) or not all(
                isinstance(c, Capability) for c in capabilities):
            problems.append("capabilities: must be a set of Capability values")
        groups: object = location.groups
        if not isinstance(groups, frozenset | set):
            problems.append("groups: must be a set of group codes")
        elif len(groups) > MAX_GROUPS:
            problems.append(f"groups: more than {MAX_GROUPS} groups")
        else:
            for group in sorted(groups, key=repr):
                check_code(group, "groups[]", problems)
        if (isinstance(location.processing_days, bool)
                or not isinstance(location.processing_days, int)
                or not 0 <= location.processing_days <= 60):
            problems.append("processing_days: must be a whole number of days from 0 to 60")
        if location.cutoff is not None and (not isinstance(location.cutoff, time)
                                            or location.cutoff.second or location.cutoff.tzinfo):
            problems.append("cutoff: must be a local time in whole minutes, without a zone")
        timezone: object = location.timezone
        if not isinstance(timezone, str):
            problems.append(f"timezone: must be a string, not {timezone!r}")
        elif len(timezone) > MAX_TIMEZONE_LENGTH or not encodes(timezone):
            problems.append(f"timezone: {timezone!r} is not an IANA time zone")
        else:
            try:
                ZoneInfo(timezone)
            except (ValueError, ZoneInfoNotFoundError):
                problems.append(f"timezone: {timezone!r} is not an IANA time zone")
        _raise_if(problems, "location")

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
        problems: list[str] = []
        check_location_code(location, "location", problems)
        check_identifier(sku, "sku", problems)
        check_quantity(quantity, "quantity", problems)
        check_text(reference, "reference", problems)
        _check_key(idempotency_key, problems)
        _raise_if(problems, "receipt")

        def op(uow: UnitOfWork, at: datetime) -> StockItem:
            self._require_location(uow, location)
            if not self._seen(uow, location, sku, MovementKind.RECEIVE, idempotency_key):
                uow.inventory.add_on_hand(location, sku, quantity, MovementKind.RECEIVE,
                                          reference, at, idempotency_key)
                uow.emit(StockReceived(occurred_at=at, location=location, sku=sku,
                                       quantity=quantity, reference=reference))
            item = uow.inventory.stock_item(location, sku)
            assert item is not None
            return item

        return self._write(op, idempotency_key=idempotency_key)

    def adjust(self, location: str, sku: str, delta: int, *, reason: str,
               idempotency_key: str | None = None) -> StockItem:
        """Correct on-hand stock by ``delta`` (a count, damage, shrinkage).

        A decrease may not take on-hand below the reserved units: :class:`InsufficientStock`.
        """
        problems: list[str] = []
        check_location_code(location, "location", problems)
        check_identifier(sku, "sku", problems)
        _check_key(idempotency_key, problems)
        if isinstance(delta, bool) or not isinstance(delta, int) or delta == 0:
            problems.append(f"delta: must be a non-zero whole number, not {delta!r}")
        else:
            check_quantity(abs(delta), "delta", problems)
        check_text(reason, "reason", problems)
        _raise_if(problems, "adjustment")

        def op(uow: UnitOfWork, at: datetime) -> StockItem:
            self._require_location(uow, location)
            if not self._seen(uow, location, sku, MovementKind.ADJUST, idempotency_key):
                if delta > 0:
                    uow.inventory.add_on_hand(location, sku, delta, MovementKind.ADJUST,
                                              reason, at, idempotency_key)
                else:
                    uow.inventory.remove_on_hand(location, sku, -delta, MovementKind.ADJUST,
                                                 reason, at, idempotency_key)
                item = uow.inventory.stock_item(location, sku)
                assert item is not None
                uow.emit(StockAdjusted(occurred_at=at, location=location, sku=sku,
                                       on_hand_delta=delta, safety_stock=item.safety_stock,
                                       reason=reason))
            item = uow.inventory.stock_item(location, sku)
            assert item is not None
            return item

        return self._write(op, idempotency_key=idempotency_key)

    def set_safety_stock(self, location: str, sku: str, quantity: int) -> StockItem:
        """Keep ``quantity`` units of ``sku`` at ``location`` back from promising."""
        problems: list[str] = []
        check_location_code(location, "location", problems)
        check_identifier(sku, "sku", problems)
        check_quantity(quantity, "quantity", problems, minimum=0)
        _raise_if(problems, "safety stock")

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
                 eta: datetime | None = None, reference: str = "") -> Supply | None:
        """Move unreserved stock between locations.

        Without ``eta`` it arrives at once. With an ``eta`` it is in transit: it leaves the
        source now and is open supply at the destination until :meth:`receive_supply`.
        """
        problems: list[str] = []
        check_location_code(from_location, "from_location", problems)
        check_location_code(to_location, "to_location", problems)
        check_identifier(sku, "sku", problems)
        check_quantity(quantity, "quantity", problems)
        check_text(reference, "reference", problems)
        if not problems and from_location == to_location:
            problems.append("to_location: must differ from from_location")
        if eta is not None:
            check_moment(eta, "eta", problems)
        _raise_if(problems, "transfer")

        def op(uow: UnitOfWork, at: datetime) -> Supply | None:
            self._require_location(uow, from_location)
            self._require_location(uow, to_location)
            ref = reference or f"transfer {from_location}->{to_location}"
            uow.inventory.lock_rows([(from_location, sku), (to_location, sku)])
            uow.inventory.remove_on_hand(from_location, sku, quantity,
                                         MovementKind.TRANSFER_OUT, ref, at)
            supply = None
            if eta is None:
                uow.inventory.add_on_hand(to_location, sku, quantity, MovementKind.TRANSFER_IN,
                                          ref, at)
            else:
                supply = Supply(id=new_id(), location=to_location, sku=sku, quantity=quantity,
                                eta=eta, kind=SupplyKind.TRANSFER, reference=ref,
                                created_at=at)
                uow.inventory.add_supply(supply)
                uow.emit(SupplyRegistered(occurred_at=at, supply_id=supply.id,
                                          location=to_location, sku=sku, quantity=quantity,
                                          eta=eta))
            uow.emit(StockTransferred(occurred_at=at, sku=sku, from_location=from_location,
                                      to_location=to_location, quantity=quantity,
                                      supply_id=supply.id if supply else None))
            return supply

        return self._write(op)

    # -- supply ---------------------------------------------------------------------------------

    def register_supply(self, location: str, sku: str, quantity: int, eta: datetime, *,
                        kind: SupplyKind = SupplyKind.PURCHASE_ORDER,
                        reference: str = "") -> Supply:
        """Record stock expected at ``location`` by ``eta`` (a purchase order, production)."""
        problems: list[str] = []
        check_location_code(location, "location", problems)
        check_identifier(sku, "sku", problems)
        check_quantity(quantity, "quantity", problems)
        check_text(reference, "reference", problems)
        check_moment(eta, "eta", problems)
        supply_kind: object = kind
        if not isinstance(supply_kind, SupplyKind):
            problems.append(f"kind: must be one of {', '.join(k.value for k in SupplyKind)}")
        _raise_if(problems, "supply")

        def op(uow: UnitOfWork, at: datetime) -> Supply:
            self._require_location(uow, location)
            supply = Supply(id=new_id(), location=location, sku=sku, quantity=quantity,
                            eta=eta, kind=kind, reference=reference, created_at=at)
            uow.inventory.add_supply(supply)
            uow.emit(SupplyRegistered(occurred_at=at, supply_id=supply.id, location=location,
                                      sku=sku, quantity=quantity, eta=eta))
            return supply

        # supply.registered's handler validates again the orders held because nobody
        # stocked or expected the SKU: they are pre-orders now.
        return self._write(op)

    def receive_supply(self, supply_id: str) -> Supply:
        """Expected stock arrived: it becomes on-hand. Receiving it again changes nothing."""
        problems: list[str] = []
        check_identifier(supply_id, "supply_id", problems)
        refuse(problems, "supply receipt")
        def op(uow: UnitOfWork, at: datetime) -> Supply:
            supply = uow.inventory.supply(supply_id, for_update=True)
            if supply is None:
                raise SupplyNotFound(supply_id)
            if uow.inventory.set_supply_status(supply_id, SupplyStatus.RECEIVED):
                kind = (MovementKind.TRANSFER_IN if supply.kind is SupplyKind.TRANSFER
                        else MovementKind.RECEIVE)
                uow.inventory.add_on_hand(supply.location, supply.sku, supply.quantity, kind,
                                          f"supply {supply.id}", at)
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
                self._rt.router, uow, channel, [sku], locations=places, at=at)[sku])
        # One aggregate query: no per-location rows reach Python (1,000 locations included).
        return self._read(lambda uow: AvailabilityQueries(uow.connection, self._rt.tables)
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
            found = AvailabilityQueries(uow.connection, self._rt.tables).summaries(
                after=after, limit=page_size, skus=chunk, locations=locations)
            if channel is None or not found:
                return found
            # What the channel's rules let it use, per SKU, in the page's transaction.
            usable = channel_available(self._rt.router, uow, channel,
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
        return inventory_settings(self._rt.settings).channel_buffers.get(channel, 0)

    def ledger(self, location: str, sku: str) -> list[LedgerEntry]:
        """Every movement of ``sku`` at ``location``, oldest first."""
        _stock_key(location, sku, "ledger query")
        return self._read(lambda uow: uow.inventory.ledger(location, sku))

    def ledger_mismatches(self) -> list[tuple[str, str]]:
        """Stock rows whose ledger does not sum to them; empty unless something is broken."""
        return self._read(lambda uow: uow.inventory.ledger_mismatches())


__all__ = ["InventoryService"]
