"""Carriers whose labels are bought outside omskit: :class:`ManualCarrier` and the plugin
:class:`ManualCarriers` that registers them.

A warehouse that prints labels with its own carrier software reports each shipment with its
tracking number (``oms.fulfillment.ship(fo, carrier="brt", tracking_number=...)``) and, if it
wants tracking, passes the carrier's events to ``oms.shipping.record_tracking``. The carrier
must still be known (an unknown code is ``UnknownShippingCarrier``), so a misspelt carrier
is refused instead of stored: register the codes you use with ``ManualCarriers``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import attrs

from omskit.domain.checks import check_code, refuse
from omskit.domain.shipping import CarrierCapability
from omskit.hookspecs import hookimpl
from omskit.ports import ShippingCarrier


@attrs.frozen
class ManualCarrier:
    """A shipping carrier with no capabilities: omskit records its shipments and the
    tracking the host reports, and never calls it."""

    code: str
    capabilities: frozenset[CarrierCapability] = attrs.field(default=frozenset(), init=False)


class ManualCarriers:
    """A plugin registering one :class:`ManualCarrier` per code:
    ``bootstrap(plugins=[ManualCarriers("brt", "gls")])``."""

    def __init__(self, *codes: str) -> None:
        problems: list[str] = []
        for i, code in enumerate(codes):
            check_code(code, f"codes[{i}]", problems)
        refuse(problems, "manual carriers")
        self.codes = codes

    def __repr__(self) -> str:
        return f"ManualCarriers({', '.join(map(repr, self.codes))})"

    @hookimpl
    def omskit_register_shipping_carriers(
            self, register: Callable[[ShippingCarrier], None]) -> None:
        """Register a :class:`ManualCarrier` per code."""
        for code in self.codes:
            # The contract is by capability (omskit.kinds checks the methods of declared
            # capabilities only): with none declared, none is needed.
            register(cast(ShippingCarrier, ManualCarrier(code)))


__all__ = ["ManualCarrier", "ManualCarriers"]
