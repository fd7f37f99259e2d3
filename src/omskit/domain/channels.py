"""Channel namespaces: which order channels a connector may place orders on.

Orders are idempotent per ``(channel, external id)``, so the order channel is an idempotency
space. Each connector owns a namespace of them: its ``code``, the extra channels it declares
in its optional ``channels`` attribute (the storefront's ``web`` and ``mobile``), and every
``<name>:<anything>`` sub-channel of those (``marketplace:acme-shop``). Two installed
connectors never own the same channel: registration refuses the second one.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

import attrs


def channel_claims(connector: object) -> frozenset[str]:
    """The names a connector claims: its code and its declared ``channels``."""
    declared: Iterable[object] = getattr(connector, "channels", None) or ()
    return frozenset({str(getattr(connector, "code", "")),
                      *(str(name) for name in declared)})


def in_namespace(name: str, channel: str) -> bool:
    """Whether ``channel`` is ``name`` or one of its ``name:…`` sub-channels."""
    return channel == name or channel.startswith(f"{name}:")


def owns_channel(connector: object, channel: str) -> bool:
    """Whether the order ``channel`` is in ``connector``'s namespace."""
    return any(in_namespace(name, channel) for name in channel_claims(connector))


def namespace_clash(first: object, second: object) -> str | None:
    """A name both connectors' namespaces hold (``None``: they are disjoint)."""
    for a in sorted(channel_claims(first)):
        for b in sorted(channel_claims(second)):
            if in_namespace(a, b):
                return b
            if in_namespace(b, a):
                return a
    return None


class ChannelStatus(enum.StrEnum):
    """What a channel is told about an order it sent."""

    #: omskit placed the order.
    ACCEPTED = "accepted"
    #: A shipment left, with its carrier and tracking number.
    SHIPPED = "shipped"
    #: The order was cancelled.
    CANCELLED = "cancelled"


#: How long after the n-th failed push the next attempt is due (the last step repeats).
PUSH_BACKOFF: tuple[timedelta, ...] = (timedelta(seconds=30), timedelta(minutes=2),
                                       timedelta(minutes=10), timedelta(hours=1))


@attrs.frozen(kw_only=True)
class ChannelStatusUpdate:
    """One status of an order to push back to the channel it came from, through its
    connector's ``push_status``; kept until sent, retried after a failure."""

    id: str
    #: The connector whose namespace holds the order's channel (it sends the update).
    connector: str
    order_id: str
    #: The order's channel and its id there (what the channel knows the order by).
    channel: str
    external_id: str
    status: ChannelStatus
    #: ``carrier`` and ``tracking_number`` for ``shipped``, ``reason`` for ``cancelled``.
    details: Mapping[str, str]
    #: What it reports (``accepted``, or the id of the event): one update per key.
    key: str
    created_at: datetime
    attempts: int = 0
    next_attempt_at: datetime
    sent_at: datetime | None = None
    last_error: str = ""


def next_attempt(failures: int, at: datetime) -> datetime:
    """When a push that failed ``failures`` times is due again."""
    return at + PUSH_BACKOFF[min(failures, len(PUSH_BACKOFF)) - 1]


__all__ = ["PUSH_BACKOFF", "ChannelStatus", "ChannelStatusUpdate", "channel_claims",
           "in_namespace", "namespace_clash", "next_attempt", "owns_channel"]
