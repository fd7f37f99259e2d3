"""Commands of customer notifications: a customer's choice of medium per sales channel, and
sending a failed message again."""

from __future__ import annotations

import attrs

from omskit.domain.commands.base import Command, code, identifier
from omskit.domain.notifications import CUSTOMER_MEDIA


@attrs.frozen(kw_only=True)
class SetNotificationPreference(Command):
    """Choose how a customer hears about their orders from one sales channel: ``email``
    or ``none``. Naturally idempotent: setting the same choice again changes nothing."""

    name = "set_notification_preference"
    subject = "notification preference"

    customer_id: str = identifier()
    channel: str = code()
    media: str

    def check(self, problems: list[str]) -> None:
        if self.media not in CUSTOMER_MEDIA:
            problems.append(f"media: must be one of {', '.join(CUSTOMER_MEDIA)}, "
                            f"not {self.media!r}")


@attrs.frozen(kw_only=True)
class RetryNotification(Command):
    """Send a message that failed (or waits for its next retry) again now. A sent message
    is not sent twice: retrying it changes nothing."""

    name = "retry_notification"
    subject = "notification retry"

    notification_id: str = identifier()


__all__ = ["RetryNotification", "SetNotificationPreference"]
