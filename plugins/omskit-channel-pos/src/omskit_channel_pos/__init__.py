"""omskit-channel-pos: store tills as an omskit sales channel.

Contributes the ``pos`` channel connector (``omskit_register_channels``) and the ``pos-till``
shipping carrier, the hand-over at the till (``omskit_register_shipping_carriers``). The tills
come from the bootstrap settings, each standing in a store (an omskit location)::

    oms = omskit.bootstrap(url, settings={"pos": {"tills": {"till-1": "store-milano"}}})
    sale = omskit_channel_pos.record_sale(oms, json.loads(body))

A host that builds its plugins itself passes ``PosChannel(tills={...})`` instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from omskit import (
    LOCATION_CODE_PATTERN,
    ChannelConnector,
    ManualCarrier,
    ShippingCarrier,
    hookimpl,
)

from omskit_channel_pos.connector import CHANNEL_CODE, MODES, WALK_IN, PosConnector, external_id
from omskit_channel_pos.sales import (
    TILL_CARRIER,
    TillSale,
    hand_over,
    pay_at_collection,
    record_sale,
    replay,
)

#: The key of this plugin's settings.
SETTINGS_KEY = "pos"

__all__ = ["CHANNEL_CODE", "MODES", "SETTINGS_KEY", "TILL_CARRIER", "WALK_IN", "PosChannel",
           "PosConnector", "TillSale", "external_id", "hand_over", "omskit_register_channels",
           "omskit_register_shipping_carriers", "omskit_validate_settings", "pay_at_collection",
           "record_sale", "replay", "tills_problems"]


def tills_problems(tills: object) -> list[str]:
    """What is wrong with a ``{till: store}`` mapping (empty when nothing)."""
    if not isinstance(tills, Mapping):
        return [f"{SETTINGS_KEY}.tills: must be an object of till: store, not {tills!r}"]
    problems = []
    for till, store in tills.items():
        if not isinstance(till, str) or not till.strip() or till != till.strip():
            problems.append(f"{SETTINGS_KEY}.tills: {till!r} is not a till id")
        if not isinstance(store, str) or not LOCATION_CODE_PATTERN.fullmatch(store):
            problems.append(f"{SETTINGS_KEY}.tills[{till!r}]: {store!r} is not a location code")
    return problems


def _tills(settings: Mapping[str, Any]) -> dict[str, str]:
    section = settings.get(SETTINGS_KEY)
    tills = section.get("tills", {}) if isinstance(section, Mapping) else {}
    return dict(tills) if not tills_problems(tills) else {}


@hookimpl
def omskit_register_channels(register: Callable[[ChannelConnector], None],
                             settings: Mapping[str, Any]) -> None:
    """Contribute the ``pos`` connector with the tills of ``settings["pos"]["tills"]``
    (none when absent or malformed: ``omskit_validate_settings`` reports it)."""
    register(PosConnector(_tills(settings)))


@hookimpl
def omskit_register_shipping_carriers(register: Callable[[ShippingCarrier], None]) -> None:
    """Contribute ``pos-till``: goods handed over at the till (no label, no tracking)."""
    register(ManualCarrier(TILL_CARRIER))  # type: ignore[arg-type]


@hookimpl
def omskit_validate_settings(settings: Mapping[str, Any]) -> list[str]:
    """Problems with ``settings["pos"]``: ``tills`` must map till ids to location codes."""
    section = settings.get(SETTINGS_KEY)
    if section is None:
        return []
    if not isinstance(section, Mapping):
        return [f"{SETTINGS_KEY}: must be an object, not {section!r}"]
    return tills_problems(section.get("tills", {}))


class PosChannel:
    """The plugin as an object with its tills given (``plugins=[PosChannel(tills=...)]``),
    for hosts and tests that do not configure it through the settings."""

    def __init__(self, tills: Mapping[str, str]) -> None:
        self.tills = dict(tills)

    def __repr__(self) -> str:
        return f"PosChannel(tills={self.tills!r})"

    @hookimpl
    def omskit_register_channels(self, register: Callable[[ChannelConnector], None]) -> None:
        """Contribute the ``pos`` connector with these tills."""
        register(PosConnector(self.tills))

    @hookimpl
    def omskit_register_shipping_carriers(
            self, register: Callable[[ShippingCarrier], None]) -> None:
        """Contribute ``pos-till``."""
        register(ManualCarrier(TILL_CARRIER))  # type: ignore[arg-type]
