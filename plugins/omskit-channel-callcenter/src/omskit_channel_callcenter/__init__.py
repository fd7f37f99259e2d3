"""omskit-channel-callcenter: orders and order edits entered by call-center agents.

Contributes the ``callcenter`` channel connector (``omskit_register_channels``)::

    order = oms.channels.receive("callcenter", order_payload)     # placed_by: agent:<id>
    edit = oms.channels.receive_edit("callcenter", edit_payload)  # actor: agent:<id>
"""

from __future__ import annotations

from collections.abc import Callable

from omskit import ChannelConnector, hookimpl

from omskit_channel_callcenter.connector import CHANNEL_CODE, CallCenterConnector, agent_actor

__all__ = ["CHANNEL_CODE", "CallCenterConnector", "agent_actor", "omskit_register_channels"]


@hookimpl
def omskit_register_channels(register: Callable[[ChannelConnector], None]) -> None:
    """Contribute the ``callcenter`` connector."""
    register(CallCenterConnector())
