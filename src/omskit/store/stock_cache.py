"""The stock rows one transaction has read, kept in step with its own reservations."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any


class StockCache:
    """Stock rows read in one transaction, per SKU then location, with the version and active
    flag of each location they are at (``InventoryRepository`` keeps one per unit of work).

    Validation ("is this SKU known"), candidate gathering and every routing round of a batch
    ask about the same rows: the cache answers from one query per set of SKUs. A SKU is held
    whole, every stock row it had when it was read (none: an unstocked SKU is held too). Of
    this transaction's own movements only a reservation the database accepted is applied
    here (:meth:`note_reserved`, the hot path), and units given back from rows the
    transaction holds locked (:meth:`note_given_back`); any other movement of a SKU, and a
    refused reservation (the rows were stale), :meth:`forget` the SKU, so its next read goes
    to the database.

    So for every SKU it holds, the cache equals the database as long as no other transaction
    changes those rows (``tests/property/test_stock_cache.py``). On PostgreSQL another
    transaction's commit can make it stale unless the rows are locked
    (``InventoryRepository.lock_stock``); a reservation never trusts it (the database
    decides, ``StoreBackend``'s reservation contract), so staleness costs a refused
    reservation and a re-plan, never a wrong one.
    """

    __slots__ = ("_locations", "_rows")

    def __init__(self) -> None:
        # SKU -> location -> [on_hand, reserved, safety_stock]; lists, updated in place.
        self._rows: dict[str, dict[str, list[int]]] = {}
        # Location -> (version as the driver returned it, active).
        self._locations: dict[str, tuple[object, bool]] = {}

    def __contains__(self, sku: object) -> bool:
        return sku in self._rows

    def skus(self) -> list[str]:
        """The SKUs held, sorted."""
        return sorted(self._rows)

    def missing(self, skus: Iterable[str]) -> list[str]:
        """Those of ``skus`` not held, deduplicated and sorted."""
        return sorted({sku for sku in skus if sku not in self._rows})

    def fill(self, skus: Iterable[str], rows: Iterable[Sequence[Any]]) -> None:
        """Hold ``skus`` as just read: each with exactly those of ``rows`` that name it,
        replacing what was held. A row is ``(location, sku, on_hand, reserved,
        safety_stock, location version, location active)``, as ``Statements.stock_of_skus``
        returns it."""
        for sku in skus:
            self._rows[sku] = {}
        for location, sku, on_hand, reserved, safety, version, active in rows:
            self._rows[sku][location] = [on_hand, reserved, safety]
            self._locations[location] = (version, bool(active))

    def rows(self, sku: str) -> Mapping[str, Sequence[int]]:
        """The held rows of ``sku`` by location: ``(on_hand, reserved, safety_stock)``.
        KeyError if the SKU is not held. Read it, do not change it."""
        return self._rows[sku]

    def known(self, sku: str) -> bool:
        """Whether ``sku`` is held with at least one stock row."""
        return bool(self._rows.get(sku))

    def available(self, location: str, sku: str) -> int | None:
        """``on_hand - reserved - safety_stock`` of the held row; None if it is not held."""
        row = self._rows.get(sku, {}).get(location)
        return None if row is None else row[0] - row[1] - row[2]

    def promisable(self, sku: str) -> Iterable[tuple[str, int]]:
        """(location, units) for each held row of ``sku`` with units available to promise at
        an active location. KeyError if the SKU is not held."""
        locations = self._locations
        for code, (on_hand, reserved, safety) in self._rows[sku].items():
            units = on_hand - reserved - safety
            if units > 0 and locations[code][1]:
                yield code, units

    def location_version(self, code: str) -> object:
        """The version (``updated_at`` as the driver returned it) of a location a held row is
        at. KeyError for any other location."""
        return self._locations[code][0]

    def note_reserved(self, location: str, sku: str, quantity: int) -> None:
        """The database reserved ``quantity`` more of this row (nothing if it is not held)."""
        row = self._rows.get(sku, {}).get(location)
        if row is not None:
            row[1] += quantity

    def note_given_back(self, location: str, sku: str, quantity: int, *,
                        shipped: bool) -> None:
        """The database gave back ``quantity`` reserved units of this row (``shipped``: they
        left on-hand too). Nothing if the SKU is not held; a row it does not hold (created
        since it was read) drops the SKU."""
        rows = self._rows.get(sku)
        if rows is None:
            return
        row = rows.get(location)
        if row is None:
            self.forget(sku)
            return
        row[1] -= quantity
        if shipped:
            row[0] -= quantity

    def forget(self, sku: str) -> None:
        """Drop ``sku``: its rows moved otherwise, or the database refused a reservation."""
        self._rows.pop(sku, None)

    def clear(self) -> None:
        """Drop everything (a location changed: every row carries its version)."""
        self._rows.clear()
        self._locations.clear()
