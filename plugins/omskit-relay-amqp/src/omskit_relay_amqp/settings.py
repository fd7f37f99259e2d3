"""``settings["relay_amqp"]``: where the AMQP relay publishes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import attrs

#: The key of this plugin's settings in the mapping given to ``omskit.bootstrap``.
SETTINGS_KEY = "relay_amqp"
_CODE = re.compile(r"^[a-z0-9][a-z0-9_.:-]{0,63}$")
_KNOWN = {"url", "exchange", "code", "routing_key_prefix", "mandatory", "timeout"}


@attrs.frozen(kw_only=True)
class AmqpSettings:
    """Where and how the relay publishes."""

    #: The broker (``amqp://user:password@host:5672/vhost``; ``amqps://`` for TLS).
    url: str = "amqp://guest:guest@127.0.0.1:5672/"
    #: The durable topic exchange events are published to (declared if missing).
    exchange: str = "omskit.events"
    #: The relay's code: ``oms.outbox.relay(code)``, ``omskit outbox relay CODE``.
    code: str = "amqp"
    #: Put before the event type in the routing key (``shop`` gives ``shop.order.placed``).
    routing_key_prefix: str = ""
    #: Publish as mandatory: a message no queue is bound for comes back and is not
    #: counted as delivered (off: the broker confirms and drops it).
    mandatory: bool = False
    #: Seconds to wait for the connection and for each confirmation.
    timeout: float = 10.0

    def safe_url(self) -> str:
        """The URL without its password, for messages."""
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{host}{port}{parts.path}"


def parse(raw: object) -> tuple[AmqpSettings | None, list[str]]:
    """The settings and every problem with them (settings ``None`` when any)."""
    if not isinstance(raw, Mapping):
        return None, [f"{SETTINGS_KEY}: must be a table, not {type(raw).__name__}"]
    problems = [f"{SETTINGS_KEY}.{k}: unknown setting" for k in sorted(set(raw) - _KNOWN)]
    values: dict[str, Any] = {}
    for key in ("url", "exchange", "routing_key_prefix"):
        if key in raw:
            if not isinstance(raw[key], str):
                problems.append(f"{SETTINGS_KEY}.{key}: must be text")
            else:
                values[key] = raw[key]
    if "url" in values and urlsplit(values["url"]).scheme not in ("amqp", "amqps"):
        problems.append(f"{SETTINGS_KEY}.url: must start with amqp:// or amqps://")
    if "exchange" in values and not values["exchange"].strip():
        problems.append(f"{SETTINGS_KEY}.exchange: must not be empty")
    if "code" in raw:
        if not isinstance(raw["code"], str) or not _CODE.match(raw["code"]):
            problems.append(f"{SETTINGS_KEY}.code: lower-case letters, digits and _ . : -")
        else:
            values["code"] = raw["code"]
    if "mandatory" in raw:
        if not isinstance(raw["mandatory"], bool):
            problems.append(f"{SETTINGS_KEY}.mandatory: must be true or false")
        else:
            values["mandatory"] = raw["mandatory"]
    if "timeout" in raw:
        t = raw["timeout"]
        if isinstance(t, bool) or not isinstance(t, int | float) or not 0 < t <= 300:
            problems.append(f"{SETTINGS_KEY}.timeout: seconds from 0 to 300")
        else:
            values["timeout"] = float(t)
    if problems:
        return None, problems
    return AmqpSettings(**values), []
