"""Orders arriving from sales channels through connector plugins (``oms.channels``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from omskit.domain.channels import channel_claims, owns_channel
from omskit.domain.checks import check_identifier, refuse
from omskit.domain.commands import EditOrder, PlaceOrder
from omskit.domain.edits import OrderEdit
from omskit.domain.errors import ChannelNotOwned, EditsNotSupported, InvalidCommand, PayloadError
from omskit.domain.order import Order
from omskit.ports import ChannelConnector
from omskit.registries import Registry
from omskit.services.edits import OrderEditService
from omskit.services.orders import OrderService


class ChannelService:
    """Parses channel payloads with the contributed connectors and places the orders."""

    def __init__(self, *, channels: Registry[ChannelConnector], orders: OrderService,
                 edits: OrderEditService) -> None:
        self._channels = channels
        self._orders = orders
        self._edits = edits

    def codes(self) -> list[str]:
        """Codes of the installed channel connectors."""
        return list(self._channels)

    def namespace(self, channel: str) -> frozenset[str]:
        """The names whose order channels (each name and its ``name:…`` sub-channels) the
        connector ``channel`` owns: its code and the ``channels`` it declares."""
        return channel_claims(self._channels.get(channel))

    def owner(self, order_channel: str) -> str | None:
        """The code of the connector whose namespace holds the order channel
        ``order_channel``, or ``None`` (an order placed by the host itself)."""
        for code in self._channels:
            if owns_channel(self._channels.get(code), order_channel):
                return code
        return None

    def parse(self, channel: str, payload: Mapping[str, Any]) -> PlaceOrder:
        """The command a connector makes of ``payload``; :class:`PayloadError` if malformed,
        :class:`ChannelNotOwned` if the connector placed it outside its namespace."""
        problems: list[str] = []
        check_identifier(channel, "channel", problems)
        refuse(problems, "channel payload")
        connector = self._channels.get(channel)
        if not isinstance(payload, Mapping):
            raise PayloadError([f"payload: expected a JSON object, got {type(payload).__name__}"],
                               channel=channel)
        try:
            command = connector.parse(payload)
        except PayloadError:
            raise
        except InvalidCommand as exc:
            raise PayloadError(exc.problems, channel=channel) from exc
        # The order channel is the idempotency space of external ids: a connector keeps to
        # its own, so two connectors never answer each other's re-deliveries.
        if not owns_channel(connector, command.channel):
            raise ChannelNotOwned(channel, command.channel)
        return command

    def receive(self, channel: str, payload: Mapping[str, Any]) -> Order:
        """Parse and place an order; a re-delivered payload returns the existing order."""
        return self._orders.place(self.parse(channel, payload))

    def parse_edit(self, channel: str, payload: Mapping[str, Any]) -> EditOrder:
        """The order edit a connector makes of ``payload`` (its optional ``parse_edit``):
        :class:`EditsNotSupported` if it has none, :class:`PayloadError` if malformed."""
        problems: list[str] = []
        check_identifier(channel, "channel", problems)
        refuse(problems, "channel payload")
        connector = self._channels.get(channel)
        parse_edit = getattr(connector, "parse_edit", None)
        if parse_edit is None:
            raise EditsNotSupported(channel)
        if not isinstance(payload, Mapping):
            raise PayloadError([f"payload: expected a JSON object, got {type(payload).__name__}"],
                               channel=channel)
        try:
            command = parse_edit(payload)
        except PayloadError:
            raise
        except InvalidCommand as exc:
            raise PayloadError(exc.problems, channel=channel) from exc
        if not isinstance(command, EditOrder):
            raise PayloadError([f"payload: the connector made a {type(command).__name__}, "
                                "not an EditOrder"], channel=channel)
        # The edit's idempotency keys live in the channel it comes from: keep it in ours.
        if not owns_channel(connector, command.channel):
            raise ChannelNotOwned(channel, command.channel)
        return command

    def receive_edit(self, channel: str, payload: Mapping[str, Any]) -> OrderEdit:
        """Parse and apply an order edit (begun, staged and committed at once); a
        re-delivered payload (the same idempotency key) commits once and returns the edit."""
        return self._edits.submit(self.parse_edit(channel, payload))
