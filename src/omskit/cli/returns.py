"""``omskit returns``: request, approve, label, receive, inspect, refund and close returns."""

from __future__ import annotations

from typing import Any

import click
from rich.table import Table

from omskit.cli.context import CliState, echo_json, pass_state
from omskit.cli.orders import resolve
from omskit.domain.commands.returns import ReturnItem
from omskit.domain.returns import Disposition, Return, ReturnStatus, UnitDisposition


def _as_dict(rma: Return) -> dict[str, Any]:
    return {
        "id": rma.id, "order_id": rma.order_id, "status": rma.status.value,
        "channel": rma.channel, "location": rma.location, "policy": rma.policy,
        "lines": [{"line_id": x.line_id, "sku": x.sku, "quantity": x.quantity,
                   "reason": x.reason, "received": rma.received.get(x.line_id, 0),
                   "inspected": rma.inspected.get(x.line_id, 0),
                   "dispositions": rma.dispositions(x.line_id)} for x in rma.lines],
        "label": None if rma.label is None else {
            "carrier": rma.label.carrier, "tracking_number": rma.label.tracking_number},
        "refund": None if rma.refund is None else {
            "amount": str(rma.refund.amount), "items": str(rma.refund.quote.items),
            "shipping": str(rma.refund.quote.shipping), "fees": str(rma.refund.quote.fees)},
        "exchange_order_id": rma.exchange_order_id,
    }


def _print(state: CliState, rma: Return, as_json: bool) -> None:
    if as_json:
        echo_json(_as_dict(rma))
        return
    where = f" at {rma.location}" if rma.location else ""
    state.console.print(f"return {rma.id} of order {rma.order_id}: {rma.status.value}{where} "
                        f"(from {rma.channel})")
    table = Table("line", "sku", "asked", "received", "inspected", "reason")
    got, seen = rma.received, rma.inspected
    for x in rma.lines:
        table.add_row(x.line_id, x.sku, str(x.quantity), str(got.get(x.line_id, 0)),
                      str(seen.get(x.line_id, 0)), x.reason)
    state.console.print(table)
    if rma.label is not None:
        state.console.print(f"label: {rma.label.carrier} {rma.label.tracking_number}")
    if rma.refund is not None:
        q = rma.refund.quote
        state.console.print(f"refunded {rma.refund.amount} (items {q.items}, shipping "
                            f"{q.shipping}, fees {q.fees})")
    if rma.exchange_order_id is not None:
        state.console.print(f"exchange order: {rma.exchange_order_id}")


def _items(values: tuple[str, ...], reason: str = "") -> list[ReturnItem]:
    found: list[ReturnItem] = []
    for value in values:
        line_id, sep, units = value.partition("=")
        if not (sep and line_id and units.isdigit()):
            raise click.BadParameter(f"{value!r} is not LINE_ID=UNITS, such as 1=2")
        found.append(ReturnItem(line_id=line_id, quantity=int(units), reason=reason))
    return found


def _units(values: tuple[str, ...]) -> list[UnitDisposition]:
    found: list[UnitDisposition] = []
    choices = ", ".join(d.value for d in Disposition)
    for value in values:
        line_id, sep, rest = value.partition("=")
        units, sep2, disposition = rest.partition(":")
        if not (sep and sep2 and line_id and units.isdigit()) or disposition not in {
                d.value for d in Disposition}:
            raise click.BadParameter(f"{value!r} is not LINE_ID=UNITS:DISPOSITION (one of "
                                     f"{choices}), such as 1=2:restock")
        found.append(UnitDisposition(line_id=line_id, quantity=int(units),
                                     disposition=Disposition(disposition)))
    return found


_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")


@click.group()
def returns() -> None:
    """Returns (RMAs): request, approve, label, receive, inspect, refund and close."""


@returns.command("list")
@click.option("--order", "order_id", default=None, help="Only this order's returns.")
@click.option("--status", type=click.Choice([s.value for s in ReturnStatus]), default=None)
@click.option("--location", default=None, help="Only returns to this location.")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@_JSON
@pass_state
def list_returns(state: CliState, order_id: str | None, status: str | None,
                 location: str | None, limit: int, as_json: bool) -> None:
    """Returns matching every filter given, newest first."""
    oms = state.oms()
    found = (oms.returns.for_order(resolve(oms, order_id)) if order_id is not None else
             oms.returns.search(status=ReturnStatus(status) if status else None,
                                location=location, limit=limit))
    if order_id is not None and status is not None:
        found = [r for r in found if r.status.value == status]
    if as_json:
        echo_json([_as_dict(r) for r in found])
        return
    table = Table("return", "order", "status", "channel", "location", "units",
                  title=f"{len(found)} returns")
    for r in found:
        table.add_row(r.id, r.order_id, r.status.value, r.channel, r.location or "",
                      str(sum(x.quantity for x in r.lines)))
    state.console.print(table)


@returns.command("show")
@click.argument("return_id")
@_JSON
@pass_state
def show(state: CliState, return_id: str, as_json: bool) -> None:
    """One return: its lines, what was received and inspected, its label and refund."""
    _print(state, state.oms().returns.get(return_id), as_json)


@returns.command("request")
@click.argument("order_id")
@click.argument("quantities", nargs=-1, required=True, metavar="LINE_ID=UNITS...")
@click.option("--channel", required=True, help="Where it is asked: web, call_center, store.")
@click.option("--location", default=None, help="The location the goods come back to.")
@click.option("--reason", default="", help="The reason, for every line given.")
@click.option("--idempotency-key", default=None,
              help="Run it again with the same key: the same return, not a second one.")
@_JSON
@pass_state
def request(state: CliState, order_id: str, quantities: tuple[str, ...], channel: str,
            location: str | None, reason: str, idempotency_key: str | None,
            as_json: bool) -> None:
    """Ask to return units of the order's shipped lines."""
    oms = state.oms()
    _print(state, oms.returns.request(resolve(oms, order_id), _items(quantities, reason),
                                      channel=channel, location=location,
                                      idempotency_key=idempotency_key), as_json)


@returns.command("approve")
@click.argument("return_id")
@_JSON
@pass_state
def approve(state: CliState, return_id: str, as_json: bool) -> None:
    """Approve a requested return (and place its exchange order)."""
    _print(state, state.oms().returns.approve(return_id), as_json)


@returns.command("decline")
@click.argument("return_id")
@click.option("--reason", default="")
@_JSON
@pass_state
def decline(state: CliState, return_id: str, reason: str, as_json: bool) -> None:
    """Decline a requested return."""
    _print(state, state.oms().returns.decline(return_id, reason), as_json)


@returns.command("cancel")
@click.argument("return_id")
@click.option("--reason", default="")
@_JSON
@pass_state
def cancel(state: CliState, return_id: str, reason: str, as_json: bool) -> None:
    """Cancel a return no goods arrived for."""
    _print(state, state.oms().returns.cancel(return_id, reason), as_json)


@returns.command("label")
@click.argument("return_id")
@click.option("--carrier", required=True, help="A shipping carrier with return labels.")
@click.option("--weight-grams", type=click.IntRange(1, 1_000_000), default=1000,
              show_default=True)
@_JSON
@pass_state
def label(state: CliState, return_id: str, carrier: str, weight_grams: int,
          as_json: bool) -> None:
    """Buy the customer's return label (once per return)."""
    _print(state, state.oms().returns.buy_label(return_id, carrier, weight_grams=weight_grams),
           as_json)


@returns.command("receive")
@click.argument("return_id")
@click.argument("quantities", nargs=-1, required=True, metavar="LINE_ID=UNITS...")
@click.option("--location", required=True, help="Where the goods arrived.")
@click.option("--idempotency-key", required=True,
              help="The receipt's key (a parcel's or a till's): taken once.")
@_JSON
@pass_state
def receive(state: CliState, return_id: str, quantities: tuple[str, ...], location: str,
            idempotency_key: str, as_json: bool) -> None:
    """Units of the return arrived at a location."""
    _print(state, state.oms().returns.receive(return_id, location, _items(quantities),
                                              idempotency_key=idempotency_key), as_json)


@returns.command("inspect")
@click.argument("return_id")
@click.argument("units", nargs=-1, required=True, metavar="LINE_ID=UNITS:DISPOSITION...")
@click.option("--idempotency-key", required=True, help="The inspection's key: taken once.")
@_JSON
@pass_state
def inspect(state: CliState, return_id: str, units: tuple[str, ...], idempotency_key: str,
            as_json: bool) -> None:
    """Give received units a disposition: restock, quarantine, damaged, return_to_vendor."""
    _print(state, state.oms().returns.inspect(return_id, _units(units),
                                              idempotency_key=idempotency_key), as_json)


@returns.command("refund")
@click.argument("return_id")
@_JSON
@pass_state
def refund(state: CliState, return_id: str, as_json: bool) -> None:
    """Pay the policy's refund for an inspected return (once); a credit note follows."""
    _print(state, state.oms().returns.refund(return_id), as_json)


@returns.command("close")
@click.argument("return_id")
@_JSON
@pass_state
def close(state: CliState, return_id: str, as_json: bool) -> None:
    """Close an inspected return."""
    _print(state, state.oms().returns.close(return_id), as_json)
