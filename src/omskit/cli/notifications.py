"""``omskit notifications``: the customer messages sent (and failed), customers' preferences,
and sending a failed message again."""

from __future__ import annotations

import click
from rich.table import Table

from omskit.cli.context import CliState, echo_json, pass_state

_STATUSES = ("sending", "sent", "retrying", "failed")


@click.group()
def notifications() -> None:
    """Customer messages: list them, set preferences, retry a failed one."""


@notifications.command("list")
@click.option("--order", "order_id", default=None, help="Only this order's messages.")
@click.option("--status", type=click.Choice(_STATUSES), default=None, help="Only this status.")
@click.option("--limit", type=click.IntRange(1, 1000), default=100, show_default=True,
              help="How many to list.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@pass_state
def list_(state: CliState, order_id: str | None, status: str | None, limit: int,
          as_json: bool) -> None:
    """Messages newest first: kind, recipient, notifier, status, attempts, last error."""
    from omskit import NotificationStatus

    found = state.oms().notifications.list(
        order_id=order_id, status=NotificationStatus(status) if status else None, limit=limit)
    if as_json:
        echo_json([{"id": n.id, "kind": n.kind.value, "order_id": n.order_id,
                    "event_type": n.event_type, "notifier": n.notifier,
                    "recipient": n.recipient, "language": n.language,
                    "status": n.status.value, "attempts": n.attempts, "subject": n.subject,
                    "created_at": n.created_at.isoformat(),
                    "sent_at": n.sent_at.isoformat() if n.sent_at else None,
                    "next_attempt_at": (n.next_attempt_at.isoformat()
                                        if n.next_attempt_at else None),
                    "last_error": n.last_error} for n in found])
        return
    table = Table("id", "kind", "recipient", "notifier", "status", "attempts", "error",
                  title=f"notifications ({len(found)})")
    for n in found:
        table.add_row(n.id, n.kind.value, n.recipient, n.notifier, n.status.value,
                      str(n.attempts), n.last_error or "-")
    state.console.print(table)


@notifications.command("preferences")
@click.argument("customer_id")
@click.option("--set", "choices", multiple=True, metavar="CHANNEL=MEDIA",
              help="Choose email or none for the customer's orders from CHANNEL "
                   "(repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def preferences(state: CliState, customer_id: str, choices: tuple[str, ...],
                as_json: bool) -> None:
    """Show (or --set) how a customer hears about their orders, per sales channel; a
    channel not listed sends e-mail."""
    oms = state.oms()
    for choice in choices:
        channel, sep, media = choice.partition("=")
        if not sep:
            raise click.BadParameter(f"{choice!r} is not CHANNEL=MEDIA", param_hint="--set")
        oms.notifications.set_preference(customer_id, channel.strip(), media.strip())
    found = oms.notifications.preferences(customer_id)
    if as_json:
        echo_json(found)
        return
    if not found:
        click.echo(f"{customer_id}: e-mail on every channel (no preference set)")
    for channel, media in found.items():
        click.echo(f"{customer_id} {channel}: {media}")


@notifications.command("retry")
@click.argument("ids", nargs=-1, required=True)
@pass_state
def retry(state: CliState, ids: tuple[str, ...]) -> None:
    """Send failed (or waiting) messages again now; prints each one's status after."""
    oms = state.oms()
    for notification_id in ids:
        done = oms.notifications.retry(notification_id)
        click.echo(f"{done.id}: {done.status.value}"
                   + (f" ({done.last_error})" if done.last_error else ""))
