"""Interfaces that plugins implement or receive (typing ``Protocol`` classes)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from omskit.domain.commands import PlaceOrder
from omskit.domain.inventory import Location, StockItem


class ChannelConnector(Protocol):
    """Turns a sales channel's order payload into a :class:`PlaceOrder` command."""

    code: str

    def parse(self, payload: Mapping[str, Any]) -> PlaceOrder:
        """Return the command, or raise ``PayloadError`` listing every problem found."""
        ...


class InventoryReader(Protocol):
    """Read-only stock queries in the caller's transaction (given to validators)."""

    def known_skus(self, skus: Iterable[str]) -> set[str]:
        """The subset of ``skus`` that has a stock row at any location."""
        ...

    def location(self, code: str) -> Location | None:
        """The location with this code, or None."""
        ...

    def stock_items(self, sku: str) -> list[StockItem]:
        """Stock rows of ``sku`` at every location."""
        ...
