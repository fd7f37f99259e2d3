"""omskit-relay-nats: an event relay (``omskit.EventRelay``) publishing outbox events to
NATS JetStream, de-duplicated by ``Nats-Msg-Id``, on nats-py. Configured by
``settings["relay_nats"]``::

    oms = omskit.bootstrap("postgresql://...", settings={"relay_nats": {
        "servers": ["nats://127.0.0.1:4222"], "stream": "OMSKIT_EVENTS"}})
    oms.outbox.relay("nats")

Without the key no relay is registered. The entry point (``relay-nats =
"omskit_relay_nats"``) registers this module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from omskit import EventRelay, hookimpl

from omskit_relay_nats.relay import NatsRelay
from omskit_relay_nats.settings import SETTINGS_KEY, NatsSettings, parse

__all__ = ["SETTINGS_KEY", "NatsRelay", "NatsSettings", "omskit_register_event_relays",
           "omskit_validate_settings", "parse"]


@hookimpl
def omskit_register_event_relays(register: Callable[[EventRelay], None],
                                 settings: Mapping[str, Any]) -> None:
    """The relay, when ``settings["relay_nats"]`` is given and parses (a new one per
    ``Oms``, with its own connection)."""
    if SETTINGS_KEY not in settings:
        return
    parsed, _ = parse(settings[SETTINGS_KEY])
    if parsed is not None:
        register(NatsRelay(parsed))


@hookimpl
def omskit_validate_settings(settings: Mapping[str, Any]) -> list[str]:
    """Every problem with ``settings["relay_nats"]``."""
    if SETTINGS_KEY not in settings:
        return []
    return parse(settings[SETTINGS_KEY])[1]
