"""omskit-channel-storefront: orders from a web shop or mobile app, as omskit orders.

Contributes one sales-channel connector, code ``storefront``, through the
``omskit_register_channels`` hook. The entry point (``[project.entry-points.omskit]``,
``storefront = "omskit_channel_storefront"``) registers this module as the plugin, so
``omskit.bootstrap()`` picks it up when the distribution is installed::

    oms = omskit.bootstrap("sqlite:///shop.db")
    order = oms.channels.receive("storefront", json.loads(request_body))
    edit = oms.channels.receive_edit("storefront", json.loads(edit_body))

The payload format is documented in the README and in :mod:`.payload`.
"""

from __future__ import annotations

from collections.abc import Callable

from omskit import ChannelConnector, hookimpl

from omskit_channel_storefront.connector import CHANNEL_CODE, StorefrontConnector
from omskit_channel_storefront.payload import EditPayload, OrderPayload

__all__ = ["CHANNEL_CODE", "EditPayload", "OrderPayload", "StorefrontConnector",
           "omskit_register_channels"]


@hookimpl
def omskit_register_channels(register: Callable[[ChannelConnector], None]) -> None:
    """Contribute the ``storefront`` connector (a new one per ``Oms``, sharing nothing)."""
    register(StorefrontConnector())
