"""Default answers to the decide hooks, and the core's own event types."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from omskit.domain.dropship import DROPSHIP_EVENTS
from omskit.domain.edits import EDIT_EVENTS
from omskit.domain.events import CORE_EVENTS, Event
from omskit.domain.invoices import (
    INVOICE_EVENTS,
    InvoiceSettings,
    invoice_settings,
    parse_invoice_settings,
)
from omskit.domain.monitoring import MONITOR_EVENTS, parse_monitor_settings
from omskit.domain.order import Order, OrderLine
from omskit.domain.payments import PAYMENT_EVENTS
from omskit.domain.pickup import PICKUP_EVENTS, parse_pickup
from omskit.domain.returns import RETURN_EVENTS
from omskit.domain.routing import RoutingPolicy, RoutingRequest
from omskit.hookspecs import hookimpl
from omskit.routing.settings import parse_inventory, parse_routing, routing_settings

#: Segment used when neither the channel nor a plugin names one.
DEFAULT_SEGMENT = "standard"


class DefaultsPlugin:
    """The core's defaults; ``trylast`` so that any plugin's answer comes first."""

    def __init__(self, *, routing_strategy: str) -> None:
        self.routing_strategy = routing_strategy
        self._invoices: tuple[Mapping[str, Any], InvoiceSettings] | None = None

    @hookimpl(trylast=True)
    def omskit_customer_segment(self, order: Order) -> str:
        """The segment the channel sent, else ``standard``."""
        return order.customer.segment or DEFAULT_SEGMENT

    @hookimpl(trylast=True)
    def omskit_choose_routing_strategy(self, request: RoutingRequest) -> str:
        """The strategy named at bootstrap."""
        return self.routing_strategy

    @hookimpl(trylast=True)
    def omskit_routing_policy(self, policy: RoutingPolicy) -> RoutingPolicy:
        """The deployment's policy, unchanged."""
        return policy

    @hookimpl(trylast=True)
    def omskit_order_priority(self, order: Order, settings: Mapping[str, Any]) -> int:
        """Position of the order's segment in ``segment_priority``; unlisted segments last."""
        ranking = routing_settings(settings).segment_priority
        segment = order.customer.segment or ""
        return ranking.index(segment) if segment in ranking else len(ranking)

    @hookimpl(trylast=True)
    def omskit_tax_rate(self, line: OrderLine, settings: Mapping[str, Any]) -> Decimal:
        """The rate of the line's SKU in the ``invoices`` tax class table, else the
        ``invoices.tax_rate`` (0 unless set)."""
        cached = self._invoices
        if cached is None or cached[0] is not settings:
            # Parsed once per settings object (each Oms has its own), not per line.
            cached = self._invoices = (settings, invoice_settings(settings))
        return cached[1].rate_of(line.sku)

    @hookimpl
    def omskit_validate_settings(self, settings: Mapping[str, Any]) -> list[str]:
        """Check the core's keys: ``settings["routing"]``, ``settings["inventory"]``,
        ``settings["invoices"]`` and ``settings["monitor"]``."""
        problems: list[str] = []
        parse_routing(settings, problems)
        parse_inventory(settings, problems)
        parse_invoice_settings(settings, problems)
        parse_monitor_settings(settings, problems)
        parse_pickup(settings, problems)
        return problems

    @hookimpl
    def omskit_register_event_types(self, register: Callable[[type[Event]], None]) -> None:
        """The core's events, registered like any plugin's."""
        for event_type in (*CORE_EVENTS, *PAYMENT_EVENTS, *INVOICE_EVENTS, *EDIT_EVENTS,
                           *MONITOR_EVENTS, *RETURN_EVENTS, *PICKUP_EVENTS,
                           *DROPSHIP_EVENTS):
            register(event_type)
