"""Connector codes are namespaces of order channels: two connectors never share the
idempotency space of ``(channel, external id)``, and a connector keeps to its own."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pytest

from omskit import (
    ChannelConnector,
    ChannelNotOwned,
    DuplicateContribution,
    Oms,
    PlaceOrder,
    PluginError,
    hookimpl,
)
from omskit.testing import location, order_command, table_contents


class Connector:
    """Places ``{"id": ..., "channel": ...}`` on the channel the payload names."""

    def __init__(self, code: str, channels: Any = None) -> None:
        self.code = code
        if channels is not None:
            self.channels = channels

    def parse(self, payload: Mapping[str, Any]) -> PlaceOrder:
        return order_command(str(payload["id"]), {"A": 1},
                             channel=str(payload.get("channel", self.code)))


class Channels:
    def __init__(self, *connectors: object) -> None:
        self.connectors = connectors

    @hookimpl
    def omskit_register_channels(self, register: Callable[[ChannelConnector], None]) -> None:
        for connector in self.connectors:
            register(connector)  # type: ignore[arg-type]


def stocked(oms: Oms) -> Oms:
    oms.inventory.save_location(location("dc", 45.0, 9.0))
    oms.inventory.receive("dc", "A", 10)
    return oms


@pytest.mark.parametrize(("first", "second", "clash"), [
    (Connector("shop", frozenset({"web"})), Connector("web"), "web"),
    (Connector("shop", frozenset({"web"})), Connector("app", frozenset({"web"})), "web"),
    (Connector("market"), Connector("market:acme"), "market:acme"),
    (Connector("market:acme"), Connector("market"), "market:acme"),
    (Connector("pos"), Connector("till", frozenset({"pos:store-1"})), "pos:store-1"),
])
def test_overlapping_namespaces_are_refused_naming_both_plugins(
        make_oms: Callable[..., Oms], first: Connector, second: Connector, clash: str) -> None:
    with pytest.raises(DuplicateContribution) as caught:
        make_oms(plugins=[Channels(first), Channels(second)])
    assert caught.value.code == clash
    assert caught.value.registry == "channel"
    assert len(set(caught.value.plugins)) == 2


def test_disjoint_namespaces_register_side_by_side(make_oms: Callable[..., Oms]) -> None:
    oms = make_oms(plugins=[Channels(Connector("shop", frozenset({"web", "mobile"})),
                                     Connector("market"), Connector("marketplace"))])
    assert oms.channels.codes() == ["market", "marketplace", "shop"]
    assert oms.channels.namespace("shop") == frozenset({"shop", "web", "mobile"})
    assert oms.channels.owner("web") == "shop"
    assert oms.channels.owner("market:acme") == "market"
    assert oms.channels.owner("marketplace") == "marketplace"
    assert oms.channels.owner("phone") is None


@pytest.mark.parametrize("channels", [["web"], frozenset({"Web"}), "web"])
def test_declared_channels_must_be_a_set_of_codes(make_oms: Callable[..., Oms],
                                                  channels: Any) -> None:
    with pytest.raises(PluginError):
        make_oms(plugins=[Channels(Connector("shop", channels))])


def test_an_order_outside_the_namespace_is_refused_and_writes_nothing(
        make_oms: Callable[..., Oms]) -> None:
    oms = stocked(make_oms(plugins=[Channels(Connector("market"), Connector("pos"))]))
    before = table_contents(oms)
    for channel in ("pos", "web", "marketplace", "pos:store-1"):
        with pytest.raises(ChannelNotOwned) as caught:
            oms.channels.receive("market", {"id": "X-1", "channel": channel})
        assert (caught.value.connector, caught.value.channel) == ("market", channel)
    assert table_contents(oms) == before


def test_the_same_external_id_on_two_connectors_places_two_orders(
        make_oms: Callable[..., Oms]) -> None:
    oms = stocked(make_oms(plugins=[Channels(Connector("market"), Connector("pos"))]))
    market = oms.channels.receive("market", {"id": "1001", "channel": "market:acme"})
    pos = oms.channels.receive("pos", {"id": "1001"})
    assert market.id != pos.id
    assert (market.channel, pos.channel) == ("market:acme", "pos")
    assert oms.channels.receive("market", {"id": "1001", "channel": "market:acme"}).id \
        == market.id
