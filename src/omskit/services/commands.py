"""The handler table: one function per command type, and the JSON entry point.

``oms.execute(command)`` finds the command's handler here by its type; each handler is the
same code the service method runs (the service method only builds the command), so a
command from Python, from JSON or from a service call behaves the same.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import time, timedelta
from typing import Any

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn

from omskit.domain import commands as c
from omskit.domain.errors import InvalidCommand
from omskit.services.handle import Services

#: A command handler: runs the command with the public services and returns its result.
Handler = Callable[[Services, Any], Any]

#: The handler of every command type.
HANDLERS: dict[type[c.Command], Handler] = {
    c.PlaceOrder: lambda s, x: s.orders.place(x),
    # inventory
    c.SaveLocation: lambda s, x: s.inventory._save_location(x),
    c.ReceiveStock: lambda s, x: s.inventory._receive(x),
    c.AdjustStock: lambda s, x: s.inventory._adjust(x),
    c.SetSafetyStock: lambda s, x: s.inventory._set_safety_stock(x),
    c.TransferStock: lambda s, x: s.inventory._transfer(x),
    c.RegisterSupply: lambda s, x: s.inventory._register_supply(x),
    c.ReceiveSupply: lambda s, x: s.inventory._receive_supply(x),
    # orders
    c.PlaceHold: lambda s, x: s.orders._place_hold(x),
    c.ReleaseHold: lambda s, x: s.orders._release_hold(x),
    c.CancelOrder: lambda s, x: s.orders._cancel(x),
    c.CancelLines: lambda s, x: s.orders._cancel_lines(x),
    c.ShortClose: lambda s, x: s.orders._short_close(x),
    c.CompleteOrder: lambda s, x: s.orders._complete(x),
    c.AllocateBackorders: lambda s, x: s.orders._allocate_backorders(x),
    # order edits
    c.BeginOrderEdit: lambda s, x: s.edits._begin(x),
    c.StageOrderEdit: lambda s, x: s.edits._stage(x),
    c.CommitOrderEdit: lambda s, x: s.edits._commit(x),
    c.AbandonOrderEdit: lambda s, x: s.edits._abandon(x),
    c.EditOrder: lambda s, x: s.edits._submit(x),
    c.ExpireOrderEdits: lambda s, x: s.edits._expire(x),
    # monitoring and sweeps
    c.SweepExceptions: lambda s, x: s.monitor._sweep(x),
    c.RunSweeps: lambda s, x: s.sweeps._run(x),
    # notifications
    c.SetNotificationPreference: lambda s, x: s.notifications._set_preference(x),
    c.RetryNotification: lambda s, x: s.notifications._retry(x),
    # fulfilment
    c.ReleaseOrder: lambda s, x: s.fulfillment._release(x),
    c.AcceptFulfillmentOrder: lambda s, x: s.fulfillment._accept(x),
    c.RejectFulfillmentOrder: lambda s, x: s.fulfillment._reject(x),
    c.PickFulfillmentOrder: lambda s, x: s.fulfillment._pick(x),
    c.PackFulfillmentOrder: lambda s, x: s.fulfillment._pack(x),
    c.ShipFulfillmentOrder: lambda s, x: s.fulfillment._ship(x),
    c.DeliverFulfillmentOrder: lambda s, x: s.fulfillment._deliver(x),
    # shipping
    c.CreateShipment: lambda s, x: s.shipping._create_shipment(x),
    c.BuyLabel: lambda s, x: s.shipping._buy_label(x),
    c.VoidLabel: lambda s, x: s.shipping._void_label(x),
    c.ShipShipment: lambda s, x: s.shipping._ship(x),
    c.RecordTracking: lambda s, x: s.shipping._record_tracking(x),
    c.TrackShipment: lambda s, x: s.shipping._track(x),
    c.ReceiveCarrierWebhook: lambda s, x: s.shipping._receive_webhook(x),
    # pick up in store
    c.MarkReadyForPickup: lambda s, x: s.pickups._ready(x),
    c.CollectPickup: lambda s, x: s.pickups._collect(x),
    c.ExpireUncollectedPickups: lambda s, x: s.pickups._expire(x),
    # dropship
    c.CreatePurchaseOrder: lambda s, x: s.dropship._purchase(x),
    c.SendPurchaseOrder: lambda s, x: s.dropship._send(x),
    c.ReceiveSupplierResponse: lambda s, x: s.dropship._receive_response(x),
    c.ReceiveShipNotice: lambda s, x: s.dropship._receive_ship_notice(x),
    c.ReceiveStockFeed: lambda s, x: s.dropship._receive_stock_feed(x),
    c.PollSuppliers: lambda s, x: s.dropship._poll(x),
    # carts
    c.HoldCart: lambda s, x: s.carts._hold(x),
    c.ReleaseCart: lambda s, x: s.carts._release(x),
    c.ExpireCarts: lambda s, x: s.carts._expire(x),
    # payments
    c.AuthorisePayment: lambda s, x: s.payments._authorise(x),
    c.CapturePayment: lambda s, x: s.payments._capture(x),
    c.VoidPayment: lambda s, x: s.payments._void(x),
    c.RefundPayment: lambda s, x: s.payments._refund(x),
    c.RecordChannelCapture: lambda s, x: s.payments._record_channel_capture(x),
    c.HandlePaymentWebhook: lambda s, x: s.payments._handle_webhook(x),
    # returns
    c.RequestReturn: lambda s, x: s.returns._request(x),
    c.ApproveReturn: lambda s, x: s.returns._approve(x),
    c.DeclineReturn: lambda s, x: s.returns._decline(x),
    c.CancelReturn: lambda s, x: s.returns._cancel(x),
    c.ExpireReturn: lambda s, x: s.returns._expire(x),
    c.BuyReturnLabel: lambda s, x: s.returns._buy_label(x),
    c.ReceiveReturn: lambda s, x: s.returns._receive(x),
    c.InspectReturn: lambda s, x: s.returns._inspect(x),
    c.RefundReturn: lambda s, x: s.returns._refund(x),
    c.CloseReturn: lambda s, x: s.returns._close(x),
    # channels
    c.RecordChannelStatus: lambda s, x: s.channels._record_status(x),
    c.PushChannelStatus: lambda s, x: s.channels._push(x),
}


def execute(services: Services, command: c.Command) -> Any:
    """Run ``command`` by its handler and return what the service method returns.

    :class:`InvalidCommand` for an object that is not a command omskit knows (a command
    that exists was checked when it was built).
    """
    handler = HANDLERS.get(type(command))
    if handler is None:
        raise InvalidCommand([f"command: {type(command).__name__} is not a command omskit "
                              "knows"])
    return handler(services, command)


def _as_is(value: Any, type_: type) -> Any:
    # Strings and whole numbers are passed on unchanged: the command's own checks then say
    # what is wrong ("quantity: must be a whole number, not '5'") instead of str(42) or
    # int(1.5) quietly making something valid of them. Enums are built from their values.
    if type_ is str or type_ is int:
        return value
    return type_(value)


def _strict_bool(value: Any, _type: type) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"must be true or false, not {value!r}")
    return value


def command_converter(converter: cattrs.Converter) -> cattrs.Converter:
    """A copy of an instance's converter for commands from JSON: its hooks (plugins'
    included), plus unknown keys refused, no coercion of strings, numbers or booleans,
    times of day as ISO strings (``"14:30"``) and durations as seconds."""
    found = converter.copy(forbid_extra_keys=True)
    found.register_structure_hook(time, _time)
    found.register_structure_hook(timedelta, _seconds)
    # Also reached by subclasses (string and integer enums), which are built as before.
    found.register_structure_hook(str, _as_is)
    found.register_structure_hook(int, _as_is)
    found.register_structure_hook(bool, _strict_bool)
    return found


def _time(value: Any, _type: type) -> time:
    if isinstance(value, time):
        return value
    if not isinstance(value, str):
        raise TypeError(f"must be a time like '14:30', not {value!r}")
    return time.fromisoformat(value)


def _seconds(value: Any, _type: type) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"must be a number of seconds, not {value!r}")
    return timedelta(seconds=value)


def _problem(exc: BaseException, _type: type | None) -> str:
    if isinstance(exc, InvalidCommand):
        return "; ".join(exc.problems)
    if isinstance(exc, KeyError):
        return "required field missing"
    if isinstance(exc, cattrs.ForbiddenExtraKeysError):
        return f"unknown fields {sorted(exc.extra_fields)}"
    return f"{exc}" or type(exc).__name__


def structure(converter: cattrs.Converter, name: object, payload: object) -> c.Command:
    """The command called ``name`` built from the JSON-like ``payload``.

    Every failure is an :class:`InvalidCommand` naming the fields: an unknown name, a
    payload that is not an object, unknown or missing fields, values of the wrong type, and
    whatever the command's own checks refuse.
    """
    cls = c.COMMANDS.get(name) if isinstance(name, str) else None
    if cls is None:
        raise InvalidCommand([f"name: {name!r} is not a command; known: "
                              f"{', '.join(sorted(c.COMMANDS))}"])
    if not isinstance(payload, Mapping):
        raise InvalidCommand([f"payload: must be a JSON object, not {type(payload).__name__}"],
                             subject=cls.subject)
    unknown = sorted(str(k) for k in payload if k not in attrs.fields_dict(cls))
    if unknown:
        raise InvalidCommand([f"{key}: not a field of {name}" for key in unknown],
                             subject=cls.subject)
    structure_fn = make_dict_structure_fn(cls, converter)
    try:
        return structure_fn(payload, cls)
    except InvalidCommand:
        raise  # the command's own checks: already every problem, named
    except cattrs.BaseValidationError as exc:
        # An InvalidCommand without cattrs' note naming a field came from the command's own
        # checks (every field structured): it names its fields already.
        own = [e for e in exc.exceptions
               if isinstance(e, InvalidCommand) and not getattr(e, "__notes__", None)]
        if own and len(own) == len(exc.exceptions):
            raise own[0] from None
        problems = cattrs.transform_error(exc, path="", format_exception=_problem)
        raise InvalidCommand([_tidy(p) for p in problems], subject=cls.subject) from None
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise InvalidCommand([f"payload: {exc}"], subject=cls.subject) from None


def _tidy(problem: str) -> str:
    # transform_error says "message @ .field.sub"; omskit says "field.sub: message".
    message, _, where = problem.rpartition(" @ ")
    if not message:
        return problem
    return f"{where.lstrip('.') or 'payload'}: {message}"


__all__ = ["HANDLERS", "Handler", "command_converter", "execute", "structure"]
