"""``settings["relay_nats"]``: where the NATS relay publishes."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import attrs

#: The key of this plugin's settings in the mapping given to ``omskit.bootstrap``.
SETTINGS_KEY = "relay_nats"
_CODE = re.compile(r"^[a-z0-9][a-z0-9_.:-]{0,63}$")
_STREAM = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
_SUBJECT = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$")
_KNOWN = {"servers", "stream", "subject_prefix", "code", "create_stream",
          "duplicate_window", "timeout"}


@attrs.frozen(kw_only=True)
class NatsSettings:
    """Where and how the relay publishes."""

    #: The NATS servers (``nats://host:4222``; ``tls://`` for TLS).
    servers: tuple[str, ...] = ("nats://127.0.0.1:4222",)
    #: The JetStream stream that keeps the events (created if missing and allowed).
    stream: str = "OMSKIT_EVENTS"
    #: Events go to ``<subject_prefix>.<event type>`` (``omskit.events.order.placed``).
    subject_prefix: str = "omskit.events"
    #: The relay's code: ``oms.outbox.relay(code)``, ``omskit outbox relay CODE``.
    code: str = "nats"
    #: Create the stream (subjects ``<subject_prefix>.>``) when it does not exist.
    create_stream: bool = True
    #: Seconds JetStream remembers a ``Nats-Msg-Id`` to drop a re-published duplicate (for a
    #: stream the relay creates; longer than the outbox lease, so a crashed worker's events
    #: published again are dropped).
    duplicate_window: float = 300.0
    #: Seconds to wait for the connection and for each acknowledgement.
    timeout: float = 10.0

    def safe_servers(self) -> str:
        """The servers without credentials, for messages."""
        shown = []
        for server in self.servers:
            parts = urlsplit(server)
            port = f":{parts.port}" if parts.port else ""
            shown.append(f"{parts.scheme}://{parts.hostname or ''}{port}")
        return ", ".join(shown)


def _seconds(raw: Mapping[str, Any], key: str, most: float, problems: list[str],
             values: dict[str, Any]) -> None:
    if key in raw:
        t = raw[key]
        if isinstance(t, bool) or not isinstance(t, int | float) or not 0 < t <= most:
            problems.append(f"{SETTINGS_KEY}.{key}: seconds from 0 to {most:g}")
        else:
            values[key] = float(t)


def parse(raw: object) -> tuple[NatsSettings | None, list[str]]:
    """The settings and every problem with them (settings ``None`` when any)."""
    if not isinstance(raw, Mapping):
        return None, [f"{SETTINGS_KEY}: must be a table, not {type(raw).__name__}"]
    problems = [f"{SETTINGS_KEY}.{k}: unknown setting" for k in sorted(set(raw) - _KNOWN)]
    values: dict[str, Any] = {}
    if "servers" in raw:
        servers = raw["servers"]
        listed = [servers] if isinstance(servers, str) else servers
        if not isinstance(listed, list | tuple) or not listed or not all(
                isinstance(s, str) and urlsplit(s).scheme in ("nats", "tls")
                for s in listed):
            problems.append(f"{SETTINGS_KEY}.servers: nats:// or tls:// URLs")
        else:
            values["servers"] = tuple(listed)
    if "stream" in raw:
        if not isinstance(raw["stream"], str) or not _STREAM.match(raw["stream"]):
            problems.append(f"{SETTINGS_KEY}.stream: letters, digits, _ and -")
        else:
            values["stream"] = raw["stream"]
    if "subject_prefix" in raw:
        prefix = raw["subject_prefix"]
        if not isinstance(prefix, str) or not _SUBJECT.match(prefix):
            problems.append(f"{SETTINGS_KEY}.subject_prefix: dot-separated tokens, no "
                            f"wildcards")
        else:
            values["subject_prefix"] = prefix
    if "code" in raw:
        if not isinstance(raw["code"], str) or not _CODE.match(raw["code"]):
            problems.append(f"{SETTINGS_KEY}.code: lower-case letters, digits and _ . : -")
        else:
            values["code"] = raw["code"]
    if "create_stream" in raw:
        if not isinstance(raw["create_stream"], bool):
            problems.append(f"{SETTINGS_KEY}.create_stream: must be true or false")
        else:
            values["create_stream"] = raw["create_stream"]
    _seconds(raw, "duplicate_window", 86_400, problems, values)
    _seconds(raw, "timeout", 300, problems, values)
    if problems:
        return None, problems
    return NatsSettings(**values), []
