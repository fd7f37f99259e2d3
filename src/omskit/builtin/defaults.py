"""Default answers to the decide hooks, and the core's own event types."""

from __future__ import annotations

from collections.abc import Callable

from omskit.domain.events import CORE_EVENTS, Event
from omskit.domain.order import Order
from omskit.hookspecs import hookimpl

#: Segment used when neither the channel nor a plugin names one.
DEFAULT_SEGMENT = "standard"


class DefaultsPlugin:
    """The core's defaults; ``trylast`` so that any plugin's answer comes first."""

    def __init__(self, *, routing_strategy: str) -> None:
        self.routing_strategy = routing_strategy

    @hookimpl(trylast=True)
    def omskit_customer_segment(self, order: Order) -> str:
        """The segment the channel sent, else ``standard``."""
        return order.customer.segment or DEFAULT_SEGMENT

    @hookimpl(trylast=True)
    def omskit_choose_routing_strategy(self, order: Order) -> str:
        """The strategy named at bootstrap."""
        return self.routing_strategy

    @hookimpl
    def omskit_register_event_types(self, register: Callable[[type[Event]], None]) -> None:
        """The core's events, registered like any plugin's."""
        for event_type in CORE_EVENTS:
            register(event_type)
