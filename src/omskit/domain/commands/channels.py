"""Channel commands: status pushed back to the channel an order came from
(``oms.channels``)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import attrs

from omskit.domain.channels import ChannelStatus
from omskit.domain.checks import check_text
from omskit.domain.commands.base import Command, identifier, moment


def _status(value: object) -> object:
    # A string from JSON becomes the enum; anything else is kept for check() to report.
    try:
        return ChannelStatus(value) if isinstance(value, str) else value
    except ValueError:
        return value


@attrs.frozen(kw_only=True)
class RecordChannelStatus(Command):
    """Keep a status of the order to push back to the channel it came from, when the
    connector owning that channel pushes statuses (``push_status``); otherwise nothing.
    Naturally idempotent per ``key``: recording it again changes nothing."""

    name = "record_channel_status"
    subject = "channel status"

    order_id: str = identifier()
    status: ChannelStatus = attrs.field(converter=_status)
    #: What the update reports (``accepted``, an event id): one update per key.
    key: str = identifier()
    details: Mapping[str, str] = attrs.field(factory=dict)

    def check(self, problems: list[str]) -> None:
        status: object = self.status
        if not isinstance(status, ChannelStatus):
            problems.append(f"status: must be one of "
                            f"{', '.join(s.value for s in ChannelStatus)}, not {status!r}")
        details: object = self.details
        if not isinstance(details, Mapping):
            problems.append("details: must be a mapping of text")
            return
        for name, value in details.items():
            check_text(name, "details: key", problems)
            check_text(value, f"details[{name!r}]", problems)


@attrs.frozen(kw_only=True)
class PushChannelStatus(Command):
    """Send the status updates due at ``now`` (default: the clock) through their
    connectors; a failure is kept and retried later. Naturally idempotent: a sent update is
    not sent again by a later push."""

    name = "push_channel_status"
    subject = "status push"

    now: datetime | None = moment(optional=True, default=None)  # noqa: RUF009
    limit: int = 100

    def check(self, problems: list[str]) -> None:
        limit: object = self.limit
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 10_000:
            problems.append(f"limit: must be a whole number from 1 to 10000, not {limit!r}")


__all__ = ["PushChannelStatus", "RecordChannelStatus"]
