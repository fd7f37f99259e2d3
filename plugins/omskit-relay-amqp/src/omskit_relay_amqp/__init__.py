"""omskit-relay-amqp: an event relay (``omskit.EventRelay``) publishing outbox events to
RabbitMQ with publisher confirms, on aio-pika. Configured by ``settings["relay_amqp"]``::

    oms = omskit.bootstrap("postgresql://...", settings={"relay_amqp": {
        "url": "amqp://guest:guest@127.0.0.1:5672/", "exchange": "omskit.events"}})
    oms.outbox.relay("amqp")

Without the key no relay is registered. The entry point (``relay-amqp =
"omskit_relay_amqp"``) registers this module.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from omskit import EventRelay, hookimpl

from omskit_relay_amqp.relay import AmqpRelay
from omskit_relay_amqp.settings import SETTINGS_KEY, AmqpSettings, parse

__all__ = ["SETTINGS_KEY", "AmqpRelay", "AmqpSettings", "omskit_register_event_relays",
           "omskit_validate_settings", "parse"]


@hookimpl
def omskit_register_event_relays(register: Callable[[EventRelay], None],
                                 settings: Mapping[str, Any]) -> None:
    """The relay, when ``settings["relay_amqp"]`` is given and parses (a new one per
    ``Oms``, with its own connection)."""
    if SETTINGS_KEY not in settings:
        return
    parsed, _ = parse(settings[SETTINGS_KEY])
    if parsed is not None:
        register(AmqpRelay(parsed))


@hookimpl
def omskit_validate_settings(settings: Mapping[str, Any]) -> list[str]:
    """Every problem with ``settings["relay_amqp"]``."""
    if SETTINGS_KEY not in settings:
        return []
    return parse(settings[SETTINGS_KEY])[1]
