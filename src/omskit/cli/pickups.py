"""``omskit pickups``: pick up in store, from the store's counter or a scheduler."""

from __future__ import annotations

from datetime import UTC, datetime

import click

from omskit.cli.context import CliState, echo_json, pass_state

_MOMENT = click.DateTime(formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S"])


@click.group()
def pickups() -> None:
    """Pick up in store: mark ready, collect, expire the uncollected."""


@pickups.command("ready")
@click.argument("fulfillment_order_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a sentence.")
@pass_state
def ready(state: CliState, fulfillment_order_id: str, as_json: bool) -> None:
    """The store set the goods of FULFILLMENT_ORDER_ID aside for the customer."""
    fo = state.oms().pickups.ready(fulfillment_order_id)
    assert fo.collect_by is not None
    if as_json:
        echo_json({"fulfillment_order_id": fo.id, "status": fo.status.value,
                   "location": fo.location, "collect_by": fo.collect_by.isoformat()})
        return
    state.console.print(f"{fo.id} ready at {fo.location}: collect by "
                        f"{fo.collect_by:%Y-%m-%d %H:%M} UTC")


@pickups.command("collect")
@click.argument("fulfillment_order_id")
@click.option("--line", "lines", multiple=True, metavar="LINE_ID=QUANTITY",
              help="A line and the units collected (repeat it); none: everything left.")
@click.option("--collection-id", default=None,
              help="Names this visit: a retry with the same id collects nothing more.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a sentence.")
@pass_state
def collect(state: CliState, fulfillment_order_id: str, lines: tuple[str, ...],
            collection_id: str | None, as_json: bool) -> None:
    """The customer collected FULFILLMENT_ORDER_ID (or some of its lines)."""
    from omskit import LineQuantity
    from omskit.domain.errors import InvalidCommand

    oms = state.oms()
    skus = {x.line_id: x.sku for x in oms.fulfillment.get(fulfillment_order_id).lines}
    wanted: list[LineQuantity] = []
    problems: list[str] = []
    for given in lines:
        line_id, _, units = given.partition("=")
        if not units.isdigit():
            problems.append(f"--line {given!r}: write LINE_ID=QUANTITY")
            continue
        wanted.append(LineQuantity(line_id=line_id, sku=skus.get(line_id, line_id),
                                   quantity=int(units)))
    if problems:
        raise InvalidCommand(problems, subject="collection")
    fo = oms.pickups.collect(fulfillment_order_id, wanted, collection_id=collection_id)
    if as_json:
        echo_json({"fulfillment_order_id": fo.id, "status": fo.status.value,
                   "left": fo.unshipped()})
        return
    left = sum(fo.unshipped().values())
    state.console.print(f"{fo.id} {fo.status.value}: {left} units left to collect")


@pickups.command("expire")
@click.option("--now", "now", type=_MOMENT, default=None,
              help="Expire pickups whose deadline is at or before this time (UTC; default: "
                   "now).")
@pass_state
def expire(state: CliState, now: datetime | None) -> None:
    """Cancel pickups not collected by their deadline and restock their goods."""
    when = now.replace(tzinfo=now.tzinfo or UTC) if now else None
    expired = state.oms().pickups.expire_uncollected(now=when)
    state.console.print(f"{expired} pickups expired")
