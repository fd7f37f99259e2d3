"""Customer notifications: what a message is, what it is about, how a sent one is recorded,
and the settings that brand it per sales channel. Pure Python: no database, no jinja2."""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import attrs

#: What a customer may choose per sales channel: a medium, or ``none`` (no messages).
NO_MESSAGES = "none"
#: The media a customer's preference can name (the others, webhooks, reach integrators).
CUSTOMER_MEDIA: tuple[str, ...] = ("email", NO_MESSAGES)
#: Languages the core ships templates for.
LANGUAGES: tuple[str, ...] = ("en", "it")
#: How many times a retryable failure is sent again before it is given up.
MAX_ATTEMPTS = 8
#: First retry delay; each next one doubles, up to ``MAX_BACKOFF``.
FIRST_BACKOFF = timedelta(minutes=1)
MAX_BACKOFF = timedelta(hours=6)
#: How long a claimed message may be "sending" before a sweep treats the sender as dead.
SEND_LEASE = timedelta(minutes=5)


class NotificationKind(enum.StrEnum):
    """What a message tells the customer (also its template's name)."""

    ORDER_CONFIRMED = "order_confirmed"
    ORDER_BACKORDERED = "order_backordered"
    ORDER_DELAYED = "order_delayed"
    ORDER_SHIPPED = "order_shipped"
    OUT_FOR_DELIVERY = "out_for_delivery"
    ORDER_DELIVERED = "order_delivered"
    READY_FOR_PICKUP = "ready_for_pickup"
    PICKUP_REMINDER = "pickup_reminder"
    ORDER_CANCELLED = "order_cancelled"
    RETURN_RECEIVED = "return_received"
    REFUND_ISSUED = "refund_issued"


class NotificationStatus(enum.StrEnum):
    """Where one message is: claimed and being sent, sent, waiting for a retry, or failed
    for good (a permanent refusal, a template error, or too many attempts)."""

    SENDING = "sending"
    SENT = "sent"
    RETRYING = "retrying"
    FAILED = "failed"


@attrs.frozen(kw_only=True)
class NotificationMessage:
    """One message for one recipient through one notifier, rendered and ready to send.

    ``notification_id`` is stable across retries: a notifier that can pass an idempotency
    key to its provider (a webhook id, a ``Message-ID``) should use it."""

    notification_id: str
    kind: NotificationKind
    #: The event the message is about (``order.placed``) and its id.
    event_type: str
    event_id: str
    order_id: str | None
    channel: str
    #: An e-mail address for e-mail; the notifier's own target otherwise.
    recipient: str
    language: str
    subject: str
    text: str
    html: str
    #: The brand's name and sender address for this channel.
    brand: str = ""
    sender: str = ""
    #: The facts the message was rendered from (JSON-safe): what a webhook posts.
    data: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class Notification:
    """The record of one message: kept once per (event, kind, notifier, recipient)."""

    id: str
    key: str
    kind: NotificationKind
    event_type: str
    event_id: str
    order_id: str | None
    channel: str
    notifier: str
    media: str
    recipient: str
    language: str
    status: NotificationStatus
    attempts: int
    subject: str
    created_at: datetime
    next_attempt_at: datetime | None = None
    sent_at: datetime | None = None
    provider_message_id: str | None = None
    last_error: str = ""


def notification_key(event_id: str, kind: NotificationKind, notifier: str,
                     recipient: str) -> str:
    """The key a message is stored under before it is sent: a second delivery of the same
    event (or a racing worker) finds it taken and sends nothing."""
    return f"{event_id}:{kind.value}:{notifier}:{recipient}"[:255]


def backoff(attempts: int) -> timedelta:
    """How long to wait before attempt ``attempts + 1``: doubling from ``FIRST_BACKOFF``,
    at most ``MAX_BACKOFF``."""
    delay: timedelta = FIRST_BACKOFF * (2 ** max(attempts - 1, 0))
    return min(delay, MAX_BACKOFF)


@attrs.frozen(kw_only=True)
class NotificationBranding:
    """How one sales channel's messages look and who sends them."""

    brand: str = "omskit"
    sender: str = "orders@example.com"
    #: Colours the HTML templates use (``primary``, ``text``, ``background``).
    colours: Mapping[str, str] = attrs.field(factory=lambda: {
        "primary": "#1f4e79", "text": "#222222", "background": "#ffffff"})
    #: ``{tracking_number}`` and ``{carrier}`` are filled in; empty: no link.
    tracking_url: str = ""
    #: The language of this channel's customers when an order names none.
    language: str | None = None


@attrs.frozen(kw_only=True)
class NotificationSettings:
    """``settings["notifications"]``: the default language, branding per channel, and a
    directory of templates that override the core's."""

    default_language: str = "en"
    default: NotificationBranding = attrs.field(factory=NotificationBranding)
    channels: Mapping[str, NotificationBranding] = attrs.field(factory=dict)
    templates: str | None = None
    max_attempts: int = MAX_ATTEMPTS

    def branding(self, channel: str) -> NotificationBranding:
        """The channel's branding, else the default."""
        return self.channels.get(channel, self.default)


_COLOUR = re.compile(r"^#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?$")
_BRAND_KEYS = {"brand", "from", "colours", "tracking_url", "language"}


def _branding(raw: object, where: str, base: NotificationBranding,
              problems: list[str]) -> NotificationBranding:
    if not isinstance(raw, Mapping):
        problems.append(f"{where}: must be a table, not {type(raw).__name__}")
        return base
    for key in sorted(set(raw) - _BRAND_KEYS):
        problems.append(f"{where}.{key}: unknown key (known: {', '.join(sorted(_BRAND_KEYS))})")
    values: dict[str, Any] = {}
    for key, field in (("brand", "brand"), ("from", "sender"), ("tracking_url", "tracking_url")):
        if key in raw:
            if not isinstance(raw[key], str):
                problems.append(f"{where}.{key}: must be a string")
            else:
                values[field] = raw[key]
    if "language" in raw:
        if raw["language"] not in LANGUAGES:
            problems.append(f"{where}.language: must be one of {', '.join(LANGUAGES)}")
        else:
            values["language"] = raw["language"]
    if "colours" in raw:
        colours = raw["colours"]
        if not isinstance(colours, Mapping) or not all(
                isinstance(v, str) and _COLOUR.match(v) for v in colours.values()):
            problems.append(f"{where}.colours: must map names to #rrggbb colours")
        else:
            values["colours"] = {**base.colours, **colours}
    url = values.get("tracking_url", "")
    if url:
        try:
            url.format(tracking_number="x", carrier="x")
        except (KeyError, IndexError, ValueError):
            problems.append(f"{where}.tracking_url: may only use {{tracking_number}} and "
                            "{carrier}")
    return attrs.evolve(base, **values)


def parse_notification_settings(settings: Mapping[str, Any],
                                problems: list[str]) -> NotificationSettings:
    """Read ``settings["notifications"]``; each problem is appended to ``problems``."""
    raw = settings.get("notifications", {})
    if not isinstance(raw, Mapping):
        problems.append("notifications: must be a table")
        return NotificationSettings()
    known = {"default_language", "brand", "channels", "templates", "max_attempts"}
    for key in sorted(set(raw) - known):
        problems.append(f"notifications.{key}: unknown key (known: {', '.join(sorted(known))})")
    language = raw.get("default_language", "en")
    if language not in LANGUAGES:
        problems.append(f"notifications.default_language: must be one of {', '.join(LANGUAGES)}")
        language = "en"
    default = _branding(raw.get("brand", {}), "notifications.brand", NotificationBranding(),
                        problems)
    channels: dict[str, NotificationBranding] = {}
    raw_channels = raw.get("channels", {})
    if not isinstance(raw_channels, Mapping):
        problems.append("notifications.channels: must be a table of channel codes")
    else:
        for code, value in raw_channels.items():
            channels[str(code)] = _branding(value, f"notifications.channels.{code}", default,
                                            problems)
    templates = raw.get("templates")
    if templates is not None and not isinstance(templates, str):
        problems.append("notifications.templates: must be a directory path")
        templates = None
    attempts = raw.get("max_attempts", MAX_ATTEMPTS)
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
        problems.append("notifications.max_attempts: must be a whole number of at least 1")
        attempts = MAX_ATTEMPTS
    return NotificationSettings(default_language=language, default=default,
                                channels=channels, templates=templates,
                                max_attempts=attempts)


__all__ = [
    "CUSTOMER_MEDIA",
    "LANGUAGES",
    "NO_MESSAGES",
    "Notification",
    "NotificationBranding",
    "NotificationKind",
    "NotificationMessage",
    "NotificationSettings",
    "NotificationStatus",
    "backoff",
    "notification_key",
    "parse_notification_settings",
]
