"""Typed errors raised by omskit.

Every error a caller can act on has its own class, so embedding code can catch exactly what it
handles. All of them derive from :class:`OmsError`. Errors about bad input also derive from
:class:`ValueError`, look-up failures from :class:`LookupError`.
"""

from __future__ import annotations

from collections.abc import Iterable


class OmsError(Exception):
    """Base class of every error omskit raises on purpose."""


class InvalidCommand(OmsError, ValueError):
    """A command or payload is malformed; nothing was written.

    ``problems`` lists every problem found, each as ``"path: message"``, so a caller can report
    all of them at once instead of one per round trip.
    """

    def __init__(self, problems: Iterable[str], *, subject: str = "command") -> None:
        self.problems: tuple[str, ...] = tuple(problems)
        self.subject = subject
        super().__init__(f"invalid {subject}: " + "; ".join(self.problems))


class StockLimitExceeded(InvalidCommand):
    """A movement would take a stock row above ``MAX_STOCK_UNITS`` (2³¹ − 1) units on hand;
    nothing changed. The same limit on every database (PostgreSQL's ``integer`` column)."""

    def __init__(self, location: str, sku: str, quantity: int, limit: int) -> None:
        self.location = location
        self.sku = sku
        self.quantity = quantity
        self.limit = limit
        super().__init__([f"quantity: adding {quantity} would take {location}/{sku} above "
                          f"{limit} units on hand"], subject="stock movement")


class PayloadError(InvalidCommand):
    """A channel connector could not turn an external payload into an order."""

    def __init__(self, problems: Iterable[str], *, channel: str) -> None:
        self.channel = channel
        super().__init__(problems, subject=f"{channel} payload")


class NotFound(OmsError, LookupError):
    """Something looked up by its identifier does not exist."""

    kind = "object"

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"{self.kind} {key!r} not found")


class OrderNotFound(NotFound):
    """No order has this id (or channel and external id)."""

    kind = "order"


class FulfillmentOrderNotFound(NotFound):
    """No fulfilment order has this id."""

    kind = "fulfilment order"


class LocationNotFound(NotFound):
    """No location has this code."""

    kind = "location"


class SupplyNotFound(NotFound):
    """No supply record has this id."""

    kind = "supply"


class UnknownChannel(NotFound):
    """No installed plugin contributes a channel with this code."""

    kind = "channel"


class UnknownRoutingStrategy(NotFound):
    """No installed plugin contributes a routing strategy with this code."""

    kind = "routing strategy"


class UnknownEventType(NotFound):
    """No plugin registered an event class with this ``event_type``."""

    kind = "event type"


class IllegalTransition(OmsError):
    """The lifecycle table does not allow this status change; nothing changed."""

    def __init__(self, aggregate: str, key: str, current: str, target: str) -> None:
        self.aggregate = aggregate
        self.key = key
        self.current = current
        self.target = target
        super().__init__(f"{aggregate} {key}: cannot go from {current!r} to {target!r}")


class TransitionVetoed(OmsError):
    """A plugin's ``omskit_validate_transition`` refused a status change; nothing changed."""

    def __init__(self, aggregate: str, key: str, target: str, problems: Iterable[str]) -> None:
        self.aggregate = aggregate
        self.key = key
        self.target = target
        self.problems = tuple(problems)
        super().__init__(
            f"{aggregate} {key}: change to {target!r} vetoed: " + "; ".join(self.problems)
        )


class InsufficientStock(OmsError):
    """A stock movement would take more than the location has; nothing changed."""

    def __init__(self, location: str, sku: str, requested: int, available: int) -> None:
        self.location = location
        self.sku = sku
        self.requested = requested
        self.available = available
        super().__init__(
            f"{location}/{sku}: requested {requested}, only {available} can be moved"
        )


class IdempotencyConflict(OmsError):
    """An order was delivered again under its ``(channel, external_id)`` with other content
    (lines, quantities, prices, customer, currency, addresses...); nothing was written.

    An identical re-delivery returns the first order; a different one is a bug or a reused
    id on the channel's side, and silently returning the first order would lose it.
    ``order_id`` is the order placed first (None when two commands of one batch disagree).
    """

    def __init__(self, channel: str, external_id: str, order_id: str | None) -> None:
        self.channel = channel
        self.external_id = external_id
        self.order_id = order_id
        first = f"order {order_id}" if order_id is not None else "an earlier command of the batch"
        super().__init__(
            f"({channel!r}, {external_id!r}) was placed as {first} with other content; "
            "a re-delivery must be identical (use a new external id for a new order)")


class ConcurrencyConflict(OmsError):
    """Someone else changed the aggregate since it was read; retry the whole operation."""

    def __init__(self, aggregate: str, key: str, message: str | None = None) -> None:
        self.aggregate = aggregate
        self.key = key
        super().__init__(message or f"{aggregate} {key} was changed concurrently; retry")


class OrderVersionMismatch(OmsError):
    """A change was made against a version of the order that is no longer current
    (``oms.orders.expecting_version``, HTTP's If-Match): another change came first. Nothing
    was changed; read the order again and decide again. Not retried: retrying the same
    change would overwrite what the reader never saw."""

    def __init__(self, order_id: str, expected: int, actual: int) -> None:
        self.order_id = order_id
        self.expected = expected
        self.actual = actual
        super().__init__(f"order {order_id} is at version {actual}, not {expected}: it "
                         "changed since it was read; read it again")


class DuplicateContribution(OmsError):
    """Two plugins contributed the same code to one registry."""

    def __init__(self, registry: str, code: str, first: str, second: str) -> None:
        self.registry = registry
        self.code = code
        self.plugins = (first, second)
        super().__init__(
            f"{registry} {code!r} is contributed by both {first!r} and {second!r}; "
            f"disable one of them (OMSKIT_DISABLED_PLUGINS)"
        )


class UnsupportedConnection(OmsError):
    """A host connection omskit cannot work inside safely (see ``Oms.bind``)."""


class PluginError(OmsError):
    """A plugin could not be loaded or does not match the hook specifications."""


class OrderOnHold(OmsError):
    """The order has an active hold; release it before this action."""

    def __init__(self, order_id: str, codes: Iterable[str]) -> None:
        self.order_id = order_id
        self.codes = tuple(codes)
        super().__init__(f"order {order_id} is on hold ({', '.join(self.codes)})")


class InvalidSettings(InvalidCommand):
    """The ``settings`` given to ``bootstrap`` are malformed (each problem as ``path: message``)."""

    def __init__(self, problems: Iterable[str]) -> None:
        super().__init__(problems, subject="settings")


class UnknownCarrier(NotFound):
    """No installed plugin contributes a carrier with this code."""

    kind = "carrier"


class UnknownGeocoder(NotFound):
    """No installed plugin contributes a geocoder with this code."""

    kind = "geocoder"


class CartNotFound(NotFound):
    """No active soft reservation belongs to this cart."""

    kind = "cart"


class OutboxEventNotFound(NotFound):
    """No parked event has this outbox sequence number."""

    kind = "parked outbox event"


class LineNotFound(NotFound):
    """The order has no line with this id."""

    kind = "order line"

    def __init__(self, order_id: str, line_id: str) -> None:
        self.order_id = order_id
        self.key = line_id
        OmsError.__init__(self, f"order {order_id} has no line {line_id!r}")


class QuantityNotCancellable(OmsError):
    """More units of an order line were asked to be cancelled than can be; nothing changed.

    ``cancellable`` is how many can be: units neither cancelled before, shipped, nor in a
    picked or packed fulfilment order (goods in hand are left to ship).
    """

    def __init__(self, order_id: str, line_id: str, requested: int, cancellable: int,
                 why: str = "") -> None:
        self.order_id = order_id
        self.line_id = line_id
        self.requested = requested
        self.cancellable = cancellable
        detail = f" ({why})" if why else ""
        super().__init__(f"order {order_id} line {line_id!r}: cannot cancel {requested}, "
                         f"only {cancellable} can be cancelled{detail}")


class QuantityAlreadyShipped(QuantityNotCancellable):
    """Part of the units asked to be cancelled have already shipped; nothing changed."""

    def __init__(self, order_id: str, line_id: str, requested: int, cancellable: int,
                 shipped: int) -> None:
        self.shipped = shipped
        super().__init__(order_id, line_id, requested, cancellable,
                         f"{shipped} already shipped")


class IdempotencyKeyConflict(OmsError):
    """An idempotency key was used again for a different request; nothing changed."""

    def __init__(self, key: str, subject: str) -> None:
        self.key = key
        self.subject = subject
        super().__init__(f"idempotency key {key!r} was already used for a different {subject}")


# -- payments ---------------------------------------------------------------------------------


class UnknownPaymentProvider(NotFound):
    """No installed plugin contributes a payment provider with this code."""

    kind = "payment provider"


class PaymentTransactionNotFound(NotFound):
    """No payment transaction has this id (or provider reference)."""

    kind = "payment transaction"


class PaymentAmountExceeded(OmsError):
    """A capture or refund asked for more than the transaction has left; nothing was
    written. ``available`` counts requests still pending as taken."""

    def __init__(self, transaction_id: str, action: str, requested: object,
                 available: object) -> None:
        self.transaction_id = transaction_id
        self.action = action
        self.requested = requested
        self.available = available
        super().__init__(f"payment transaction {transaction_id}: cannot {action} {requested}, "
                         f"only {available} left")


class AuthorisationExpired(OmsError):
    """The transaction's authorisation no longer holds the funds; renew it first. Nothing
    was written."""

    def __init__(self, transaction_id: str, expired_at: object) -> None:
        self.transaction_id = transaction_id
        self.expired_at = expired_at
        super().__init__(f"payment transaction {transaction_id}: the authorisation expired "
                         f"at {expired_at}")


class UnsupportedPaymentOperation(OmsError):
    """The provider does not declare the capability this operation needs; nothing was
    written."""

    def __init__(self, provider: str, operation: str, capability: str) -> None:
        self.provider = provider
        self.operation = operation
        self.capability = capability
        super().__init__(f"payment provider {provider!r} cannot do {operation} "
                         f"(it does not declare {capability!r})")


class PaymentProviderError(OmsError):
    """A payment provider's call failed; the subclass says what omskit may do next.

    Plugins raise these (never their SDK's exceptions): ``reason`` is the provider's
    short code (``card_declined``, ``rate_limited``), ``message`` its explanation.
    """

    #: How the call failed: ``retryable``, ``permanent`` or ``outcome_unknown``.
    error_class = "permanent"

    def __init__(self, reason: str, message: str = "") -> None:
        self.reason = reason
        self.message = message
        super().__init__(f"{reason}: {message}" if message else reason)


class PaymentRetryable(PaymentProviderError):
    """Nothing happened at the provider (rate limit, maintenance, connection refused): the
    same call, with the same idempotency key, may succeed later."""

    error_class = "retryable"


class PaymentDeclined(PaymentProviderError):
    """The provider refused for good (a decline, insufficient funds, a rule): asking again
    the same way will not help."""

    error_class = "permanent"


class PaymentOutcomeUnknown(PaymentProviderError):
    """Nobody knows whether the call took effect (a timeout after sending): omskit asks
    the provider's ``retrieve`` before it calls again."""

    error_class = "outcome_unknown"
# -- shipping (docs/shipping.md) ------------------------------------------------------------


class UnknownShippingCarrier(UnknownCarrier):
    """No installed plugin contributes a shipping carrier (labels, tracking) with this
    code; nothing was written."""

    kind = "shipping carrier"


class ShipmentNotFound(NotFound):
    """No shipment has this id."""

    kind = "shipment"


class ParcelNotFound(NotFound):
    """No parcel has this id (or this tracking number)."""

    kind = "parcel"


class CapabilityNotSupported(OmsError):
    """The shipping carrier did not declare the capability this call needs (a carrier
    without ``pickups`` cannot book one); nothing was written and the carrier was not
    called."""

    def __init__(self, carrier: str, capability: str) -> None:
        self.carrier = carrier
        self.capability = capability
        super().__init__(f"shipping carrier {carrier!r} does not support {capability}")


class CarrierError(OmsError):
    """A shipping carrier call failed. Plugins raise one of the three subclasses, which
    tell the core what it may do next: :class:`CarrierUnavailable` (retry),
    :class:`CarrierRefused` (do not retry), :class:`CarrierOutcomeUnknown` (ask the
    carrier what happened before any retry). Any other exception from a plugin is taken as
    an unknown outcome."""

    #: Whether calling again with the same request may succeed.
    retryable = False

    def __init__(self, carrier: str, message: str) -> None:
        self.carrier = carrier
        self.message = message
        super().__init__(f"shipping carrier {carrier!r}: {message}")


class CarrierUnavailable(CarrierError):
    """Retryable: the carrier did not act on the request (timeout before sending, 5xx with
    nothing done, rate limit). The core releases its claim; call again later."""

    retryable = True


class CarrierRefused(CarrierError):
    """Permanent: the carrier refused the request (bad address, parcel too heavy, lane not
    served). Retrying the same request fails the same way."""


class CarrierOutcomeUnknown(CarrierError):
    """The request may or may not have been carried out (a timeout after sending). The core
    records it and, on the next attempt, asks the carrier by idempotency key before buying
    again."""

    retryable = True


class LabelPurchaseInProgress(OmsError):
    """Another caller is buying this parcel's label right now; retry shortly (the label is
    then returned, never bought twice)."""

    def __init__(self, parcel_id: str) -> None:
        self.parcel_id = parcel_id
        super().__init__(f"parcel {parcel_id!r}: its label is being bought by another "
                         "caller; retry shortly")


class InvalidWebhook(InvalidCommand):
    """A payment provider's or a carrier's webhook was refused: malformed, or its signature
    does not verify over the raw body. Nothing was written. ``provider`` or ``carrier``
    names who sent it (``source`` either way)."""

    def __init__(self, problems: Iterable[str], *, provider: str | None = None,
                 carrier: str | None = None) -> None:
        self.provider = provider
        self.carrier = carrier
        self.source = provider or carrier or "unknown"
        super().__init__(problems, subject=f"{self.source} webhook")


# -- invoices and the journal (docs/invoices.md) ----------------------------------------------


class InvoiceNotFound(NotFound):
    """No invoice or credit note has this number (or id)."""

    kind = "invoice"


class InvalidPeriod(InvalidCommand):
    """A period whose start is after its end (a journal export ``--from`` after ``--to``);
    nothing was read."""

    def __init__(self, start: object, end: object) -> None:
        self.start = start
        self.end = end
        super().__init__([f"from {start} is after to {end}"], subject="period")


class PdfUnavailable(OmsError):
    """Rendering a PDF needs WeasyPrint (``pip install 'omskit[pdf]'``) and the Pango
    library it draws text with; HTML rendering works without them."""


class OrderEditNotFound(NotFound):
    """No order edit has this id."""

    kind = "order edit"


class OrderEditClosed(OmsError):
    """The order edit is committed, abandoned or expired: nothing more can be staged on it
    and it cannot commit (a committed one commits again as a no-op); begin a new one."""

    def __init__(self, edit_id: str, status: str) -> None:
        self.edit_id = edit_id
        self.status = status
        super().__init__(f"order edit {edit_id} is {status}: begin a new edit")


class OrderEditConflict(OmsError):
    """The order changed after the edit was begun (another edit, a release, a payment...):
    the edit was staged against a version that is gone. Nothing was changed; begin a new
    edit on the order as it is now."""

    def __init__(self, edit_id: str | None, order_id: str, expected_version: int,
                 actual_version: int) -> None:
        self.edit_id = edit_id
        self.order_id = order_id
        self.expected_version = expected_version
        self.actual_version = actual_version
        super().__init__(
            f"order {order_id} moved from version {expected_version} to {actual_version} "
            f"since the edit{'' if edit_id is None else ' ' + edit_id} was begun; nothing "
            "changed: begin a new edit")


class OrderNotEditable(OmsError):
    """The order cannot be edited (cancelled, completed, or everything shipped)."""

    def __init__(self, order_id: str, reason: str) -> None:
        self.order_id = order_id
        self.reason = reason
        super().__init__(f"order {order_id} cannot be edited: {reason}")


class LineReleased(OrderNotEditable):
    """The change touches goods already released for picking (or picked, packed, shipped):
    only what is not yet released can change. Names the line (None for a change of the
    shipping address or delivery method) and the fulfilment order that holds it."""

    def __init__(self, order_id: str, line_id: str | None, fulfillment_order_id: str,
                 location: str, status: str, change: str) -> None:
        self.line_id = line_id
        self.fulfillment_order_id = fulfillment_order_id
        self.location = location
        self.status = status
        self.change = change
        super().__init__(order_id, f"{change} cannot change: fulfilment order "
                                   f"{fulfillment_order_id} at {location} is {status}")


class EditsNotSupported(OmsError):
    """The channel connector takes no order edits (it has no ``parse_edit``)."""

    def __init__(self, channel: str) -> None:
        self.channel = channel
        super().__init__(f"channel connector {channel!r} takes no order edits "
                         "(it has no parse_edit)")


# -- returns -----------------------------------------------------------------------------------


class ReturnNotFound(NotFound):
    """No return (RMA) has this id."""

    kind = "return"


class UnknownReturnsPolicy(NotFound):
    """No installed plugin contributes a returns policy with this code (or none at all)."""

    kind = "returns policy"


class ReturnQuantityExceeded(OmsError):
    """A return (or a receipt, or an inspection) names more units of a line than there are
    to take: more than was shipped less what earlier returns took, more than the return
    asked for, or more than was received and not yet inspected. Nothing was written."""

    def __init__(self, subject: str, line_id: str, requested: int, available: int) -> None:
        self.subject = subject
        self.line_id = line_id
        self.requested = requested
        self.available = available
        super().__init__(f"{subject}: line {line_id!r} asks for {requested} unit(s), only "
                         f"{available} can be taken")


class ReturnRefused(OmsError):
    """The returns policy refuses the return; ``refusals`` says why (each a
    ``ReturnRefusal`` with its code and, for one line's, the line id). Nothing was
    written."""

    def __init__(self, order_id: str, refusals: Iterable[object]) -> None:
        self.order_id = order_id
        self.refusals: tuple[object, ...] = tuple(refusals)
        said = "; ".join(str(getattr(r, "message", r)) for r in self.refusals)
        super().__init__(f"return of order {order_id} refused: {said}")


class ReturnWindowClosed(ReturnRefused):
    """The return comes after the policy's return window closed; nothing was written."""


# -- event relays ------------------------------------------------------------------------------


class UnknownRelay(NotFound):
    """No installed plugin contributes an event relay with this code."""

    kind = "event relay"


class RelayUnavailable(OmsError):
    """An event relay could not reach its broker (down, refused the connection, timed out):
    the whole batch is retryable, and nothing of it is recorded as delivered. Relays raise it
    (or any exception) from ``publish``; the core records the failure on the relay."""

    retryable = True
class PickupNotReady(OmsError):
    """A pickup fulfilment order cannot be made ready yet: goods are still coming to the
    store by transfer (ship-to-store), or it is not a pickup at its own store. Nothing was
    changed; receive the transfer first."""

    def __init__(self, fulfillment_order_id: str, reason: str) -> None:
        self.fulfillment_order_id = fulfillment_order_id
        self.reason = reason
        super().__init__(f"fulfilment order {fulfillment_order_id} cannot be ready for "
                         f"pickup: {reason}")
class GoodsInTransit(OmsError):
    """A fulfilment order's goods cannot be picked, shipped or handed over yet: a
    ship-to-store transfer bringing them to its location has not arrived. Nothing was
    changed; receive the transfer at the store first (``oms.inventory.receive_supply``)."""

    def __init__(self, fulfillment_order_id: str, coming: str) -> None:
        self.fulfillment_order_id = fulfillment_order_id
        self.coming = coming
        super().__init__(f"fulfilment order {fulfillment_order_id}: goods still on their way "
                         f"to the store by transfer ({coming}); receive the transfer first")


class ChannelNotOwned(PluginError):
    """A channel connector made a command for an order channel outside its namespace (its
    code, the channels it declares, and their ``<name>:…`` sub-channels): it would share
    another connector's idempotency space of ``(channel, external id)``."""

    def __init__(self, connector: str, channel: str) -> None:
        self.connector = connector
        self.channel = channel
        super().__init__(f"channel connector {connector!r} made an order for channel "
                         f"{channel!r}, outside its namespace (its code, its declared "
                         "channels and their ':' sub-channels)")


# -- notifications -------------------------------------------------------------------------------


class UnknownNotifier(NotFound):
    """No plugin registered a notifier with this code."""

    kind = "notifier"


class NotificationNotFound(NotFound):
    """No notification is stored with this id."""

    kind = "notification"


class NotifierError(OmsError):
    """A notifier could not deliver a message. ``retryable`` says whether sending the same
    message again later may succeed (a server down) or never will (a refused address)."""

    #: Whether omskit sends the message again later (with backoff).
    retryable = False

    def __init__(self, message: str, *, retryable: bool | None = None) -> None:
        super().__init__(message)
        if retryable is not None:
            self.retryable = retryable


class NotifierUnavailable(NotifierError):
    """The notifier's server did not answer or answered "try later": retried later."""

    retryable = True


class NotifierRefused(NotifierError):
    """The notifier's server refused the message for good (a bad address): not retried."""

    retryable = False


class NotificationTemplateError(OmsError):
    """A notification template is missing or failed to render; nothing was sent."""
