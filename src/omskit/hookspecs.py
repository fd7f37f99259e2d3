"""Every hook omskit calls, in lifecycle order. All hooks start with ``omskit_``.

Six families:

- **contribute** (``omskit_register_*``): called once at bootstrap with a ``register`` callable;
  contributions are kept in registries keyed by code and later called directly.
- **configure** (``omskit_configure_*``): called once at bootstrap to adjust a shared object.
- **decide** (firstresult): the first non-``None`` answer wins; the core's answer is a builtin
  plugin registered with ``trylast=True`` so any plugin can override it.
- **validate** (``omskit_validate_*``): every implementation returns problems; any problem vetoes.
- **route** (``omskit_routing_*``): called for every routing decision; every implementation's
  answer is used (rules that exclude or hold back, cost terms that price).
- **observe** (``omskit_after_*``, ``omskit_handle_event``): told what happened.

Each spec documents when it is called, what it returns and its **error policy**: what happens
when an implementation raises. ``docs/hooks.md`` mirrors this file and a test keeps them in step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from decimal import Decimal

    import cattrs
    import sqlalchemy as sa

    from omskit.domain.events import Event
    from omskit.domain.order import FulfillmentOrder, Order, OrderLine
    from omskit.domain.routing import (
        Candidate,
        CostTerm,
        Exclusion,
        Holdback,
        RoutingPolicy,
        RoutingRequest,
    )
    from omskit.domain.values import Problem
    from omskit.ports import (
        Carrier,
        ChannelConnector,
        EventRelay,
        Geocoder,
        InventoryReader,
        Notifier,
        PaymentProvider,
        ReturnsPolicy,
        RoutingStrategy,
        ShippingCarrier,
        SupplierConnector,
    )

#: What ``omskit_handle_event`` receives: an ``omskit.Services``, the narrow handle on the
#: public services. The application layer defines it above the hook specs, which import
#: nothing from the layers above them (no import cycle, not even a type-only one).
Services = Any

PROJECT = "omskit"
hookspec = pluggy.HookspecMarker(PROJECT)
#: Decorate plugin functions with this to implement an omskit hook.
hookimpl = pluggy.HookimplMarker(PROJECT)


# -- contribute -----------------------------------------------------------------------------


@hookspec
def omskit_register_channels(register: Callable[[ChannelConnector], None],
                             settings: Mapping[str, Any]) -> None:
    """Contribute sales-channel connectors.

    Call ``register(connector)`` once per connector; ``connector.code`` must be unique across
    all plugins, and so must its namespace of order channels (its code, its optional
    ``channels``, and their ``<name>:…`` sub-channels), the idempotency space of its orders'
    external ids. A connector turns a channel's payload into a ``PlaceOrder`` command
    (``Oms.channels.receive(code, payload)``); one with the optional ``parse_edit``
    (``EditingChannelConnector``) also turns order edits into ``EditOrder`` commands
    (``Oms.channels.receive_edit(code, payload)``).

    ``settings`` is the mapping given to ``bootstrap``, for a connector configured there
    (the tills of a point of sale, the shops of a marketplace); omit the argument when
    there is nothing to read. As for shipping carriers, it is read before
    ``omskit_validate_settings`` runs: register what parses and report the rest there.

    Error policy: an exception aborts ``bootstrap``; a duplicate code or an overlapping
    namespace raises ``DuplicateContribution`` naming both plugins.
    """


@hookspec
def omskit_register_routing_strategies(register: Callable[[RoutingStrategy], None]) -> None:
    """Contribute routing strategies, keyed by ``strategy.code``.

    The strategy used for an order is chosen by ``omskit_choose_routing_strategy``.

    Error policy: as ``omskit_register_channels``.
    """


@hookspec
def omskit_register_carriers(register: Callable[[Carrier], None]) -> None:
    """Contribute carriers (``omskit.ports.Carrier``), keyed by ``carrier.code``.

    The builtin shipping cost term prices each candidate location with the cheapest carrier
    that serves the lane; the promise API uses the carrier's transit days.

    Error policy: as ``omskit_register_channels``.
    """


@hookspec
def omskit_register_geocoders(register: Callable[[Geocoder], None]) -> None:
    """Contribute geocoders (``omskit.ports.Geocoder``), keyed by ``geocoder.code``.

    An order shipped to an address without coordinates is routed to the coordinates the
    first geocoder (in registration order) finds for it; the routing explanation says which
    geocoder placed it, or warns that distances were unknown when none did.

    Error policy: as ``omskit_register_channels``.
    """


@hookspec
def omskit_register_shipping_carriers(register: Callable[[ShippingCarrier], None],
                                      settings: Mapping[str, Any]) -> None:
    """Contribute shipping carriers (``omskit.ports.ShippingCarrier``), keyed by
    ``carrier.code``: labels, tracking, webhooks and pickups of one provider.

    ``settings`` is the mapping given to ``bootstrap``, for a plugin that registers one
    carrier per configured account (omit the argument when the codes are fixed). It is read
    before ``omskit_validate_settings`` runs: register what parses, skip the rest, and let
    the plugin's validator report it (``bootstrap`` then raises ``InvalidSettings``).

    ``oms.fulfillment.ship`` and ``oms.shipping`` resolve their ``carrier`` here; the core
    calls only the methods of the capabilities a carrier declares, outside any transaction,
    and keeps the invariants (one label per parcel and key, tracking that never goes back
    after delivery). A plugin may register a rate card under the same code with
    ``omskit_register_carriers`` so that routing prices its lanes.

    Error policy: as ``omskit_register_channels``; a carrier missing a method of a declared
    capability raises ``PluginError`` naming the plugin.
    """


@hookspec
def omskit_register_suppliers(register: Callable[[SupplierConnector], None],
                              settings: Mapping[str, Any]) -> None:
    """Contribute supplier connectors (``omskit.SupplierConnector``), keyed by
    ``connector.code``: the code of the supplier location (kind ``supplier``) whose
    purchase orders it sends and whose acknowledgements, refusals, ship notices and stock
    feeds it reads back (dropship, ``oms.dropship``).

    ``settings`` is the mapping given to ``bootstrap``, for a plugin that registers one
    connector per configured supplier (omit the argument when the codes are fixed); as for
    ``omskit_register_shipping_carriers``, it is read before ``omskit_validate_settings``.

    The core calls the connector outside any transaction and keeps the invariants (one
    purchase order per fulfilment order and key, each message processed once, a ship
    notice never beyond what was ordered).

    Error policy: as ``omskit_register_channels``; a connector that does not fit the
    Protocol raises ``PluginError`` naming the plugin.
    """


@hookspec
def omskit_register_event_types(register: Callable[[type[Event]], None]) -> None:
    """Contribute event classes (subclasses of ``omskit.domain.events.Event``).

    Registered types can be written to the outbox and read back; their ``event_type`` string
    must be unique and stable, since stored events are decoded by it.

    Error policy: as ``omskit_register_channels``.
    """


@hookspec
def omskit_register_payment_providers(register: Callable[[PaymentProvider], None],
                                      settings: Mapping[str, Any]) -> None:
    """Contribute payment providers (``omskit.ports.PaymentProvider``), keyed by
    ``provider.code``.

    A ``PlaceOrder`` tender names a provider by its code; ``oms.payments`` calls it to
    authorise, capture, void, refund and reconcile, and to read its webhooks. The core keeps
    the payment ledger and every invariant; the provider only translates its API.

    ``settings`` is the mapping given to ``bootstrap`` (decision 12), so an entry-point plugin
    can build its provider from its own key (API keys, webhook secrets). It is not validated
    yet: ``omskit_validate_settings`` runs right after the contributions, so an
    implementation registers nothing when its key is absent or wrong and reports the problems
    there. An implementation may leave ``settings`` out of its signature.

    Error policy: as ``omskit_register_channels``; a provider whose ``capabilities`` is not a
    frozenset of ``PaymentCapability`` raises ``PluginError`` naming the plugin.
    """


@hookspec
def omskit_register_returns_policies(register: Callable[[ReturnsPolicy], None],
                                     settings: Mapping[str, Any]) -> None:
    """Contribute returns policies (``omskit.ports.ReturnsPolicy``), keyed by
    ``policy.code``.

    ``oms.returns`` asks the policy named by ``settings["returns"]["policy"]`` (or the only
    one installed) whether a return may be requested (window, reasons, non-returnable goods,
    where it may be brought back) and what its refund is (items, shipping, fees). The core
    keeps every invariant: shipped quantities, idempotent receipts, stock movements and the
    payment ledger. ``settings`` as for ``omskit_register_payment_providers``; an
    implementation may leave it out of its signature.

    Error policy: as ``omskit_register_channels``.
    """


@hookspec
def omskit_register_event_relays(register: Callable[[EventRelay], None],
                                 settings: Mapping[str, Any]) -> None:
    """Contribute event relays (``omskit.ports.EventRelay``), keyed by ``relay.code``: each
    publishes outbox events to one broker.

    ``oms.outbox.relay(code)`` and ``omskit outbox relay CODE`` claim the events that relay
    has not delivered (per relay, so several relays and several workers of each share the
    outbox), call ``publish`` outside any transaction and record what the broker confirmed.
    ``settings`` is the mapping given to ``bootstrap``, for a plugin that builds its relay
    from its own key (broker URL, exchange or stream); register nothing for a key that does
    not parse and report it from ``omskit_validate_settings``. An implementation may leave
    ``settings`` out of its signature. A relay should connect on first ``publish``, not
    when it registers.

    Error policy: as ``omskit_register_channels``.
    """


@hookspec
def omskit_register_notifiers(register: Callable[[Notifier], None],
                              settings: Mapping[str, Any]) -> None:
    """Contribute notifiers (``omskit.ports.Notifier``), keyed by ``notifier.code``.

    ``oms.notifications`` renders a message for each customer-facing event (order
    confirmed, shipped, delivered...) and hands it to every notifier: to those of media
    ``"email"`` when the customer's preference for the order's channel is e-mail, to the
    others (webhooks) always. The core stores each message once before calling
    ``send`` (outside any transaction), records the outcome and retries retryable failures;
    the notifier only delivers.

    ``settings`` is the mapping given to ``bootstrap`` (decision 12), so an entry-point plugin
    can build its notifier from its own key (an SMTP host, webhook endpoints); it registers
    nothing when its key is absent. An implementation may leave ``settings`` out.

    Error policy: as ``omskit_register_channels``; a notifier without a valid ``code``, a
    ``media`` string or a ``send`` method raises ``PluginError`` naming the plugin.
    """


# -- configure ------------------------------------------------------------------------------


@hookspec
def omskit_configure_converter(converter: cattrs.Converter) -> None:
    """Adjust the cattrs converter used for rows, events and payloads (register hooks).

    Called once per ``Oms``, after the core has configured it.

    Error policy: an exception aborts ``bootstrap``.
    """


@hookspec
def omskit_configure_metadata(metadata: sa.MetaData, table_prefix: str,
                              schema: str | None) -> None:
    """Add a plugin's own tables to omskit's SQLAlchemy ``MetaData``.

    Name tables ``f"{table_prefix}<plugin>_<table>"`` and create them in ``schema`` (the one
    given to ``bootstrap``) so they sit beside the core's. Plugins ship their own migrations
    with their own version table; ``Oms.create_schema()`` creates these tables too.

    Error policy: an exception aborts ``bootstrap``.
    """


@hookspec
def omskit_validate_settings(settings: Mapping[str, Any]) -> Iterable[str] | None:
    """Check the ``settings`` given to ``bootstrap``; return a message per problem.

    Each plugin reads its own key of ``settings`` (the core reads ``routing`` and
    ``inventory``). Called once at bootstrap; any message raises ``InvalidSettings`` listing
    them all, so a misconfigured deployment fails at start-up rather than on an order.

    Error policy: an exception aborts ``bootstrap``.
    """


# -- decide (firstresult) -------------------------------------------------------------------


@hookspec(firstresult=True)
def omskit_customer_segment(order: Order) -> str | None:
    """Return the customer segment used for routing and priority (``"gold"``, ``"b2b"``...).

    Called once when an order is placed. Default (builtin, ``trylast``): the segment the
    channel sent, else ``"standard"``.

    Error policy: an exception propagates and the placement is rolled back.
    """


@hookspec(firstresult=True)
def omskit_choose_routing_strategy(request: RoutingRequest) -> str | None:
    """Return the code of the routing strategy for this routing request.

    Asked for every order's routing and for every cart hold: ``request`` carries the
    channel, the customer's segment, the demand, the delivery method and the destination.
    Default (builtin, ``trylast``): the ``routing_strategy`` given to ``bootstrap``.

    Error policy: an exception propagates and the operation is rolled back; an unknown code
    raises ``UnknownRoutingStrategy``.
    """


@hookspec(firstresult=True)
def omskit_routing_policy(request: RoutingRequest, settings: Mapping[str, Any],
                          policy: RoutingPolicy) -> RoutingPolicy | None:
    """Return the policy (penalties, maximum shipments) for one routing decision.

    ``policy`` is the deployment's default, from ``settings["routing"]``; return
    ``attrs.evolve(policy, ...)`` to change it for this request (a segment that tolerates
    no split, a channel whose backorders cost more). Default (builtin, ``trylast``):
    ``policy`` unchanged.

    Error policy: an exception propagates and the operation is rolled back.
    """


@hookspec(firstresult=True)
def omskit_order_priority(order: Order, settings: Mapping[str, Any]) -> int | None:
    """Return the rank of ``order`` when scarce stock is shared out; lower goes first.

    Backordered orders waiting for the same supply are allocated by this rank, then by age.
    Default (builtin, ``trylast``): the position of the order's segment in
    ``settings["routing"]["segment_priority"]`` (unlisted segments after every listed one).

    Error policy: an exception propagates and the operation is rolled back.
    """


@hookspec(firstresult=True)
def omskit_tax_rate(line: OrderLine, order: Order, settings: Mapping[str, Any]
                    ) -> Decimal | None:
    """Return the VAT rate of ``line`` in percent (``Decimal("22")``), for its invoice.

    Asked once per line of each invoice, when the invoice is issued (a shipment paid),
    outside any transaction. The line's price includes the VAT: omskit works out the net
    and the VAT from it. Default (builtin, ``trylast``): the tax class table of
    ``settings["invoices"]`` (``sku_tax_classes`` patterns to ``tax_classes`` rates), else
    ``settings["invoices"]["tax_rate"]``, else 0.

    Error policy: an exception propagates and no invoice is issued (the event that asked
    for it fails and is retried); an answer that is not a ``Decimal`` from 0 to 100 with at
    most 4 decimals raises ``PluginError`` naming the plugin.
    """


# -- validate -------------------------------------------------------------------------------


@hookspec
def omskit_validate_order(order: Order, inventory: InventoryReader) -> Iterable[Problem] | None:
    """Check a newly received order; each returned ``Problem`` becomes a hold on it.

    Also called again for an order held for ``unknown_sku`` when stock or supply for one of
    its SKUs is recorded. ``inventory`` reads stock and locations in the caller's transaction.
    The builtin validator holds orders for SKUs no location stocks or expects and for
    unusable pickup locations.

    Error policy: an exception propagates and the placement is rolled back (nothing written);
    on re-validation it is logged and the order stays held.
    """


@hookspec
def omskit_validate_transition(
    aggregate: str,
    order: Order,
    fulfillment_order: FulfillmentOrder | None,
    from_status: str,
    to_status: str,
) -> Iterable[str] | None:
    """Veto a status change the lifecycle table allows; return reasons to refuse it.

    ``aggregate`` is ``"order"`` or ``"fulfillment_order"`` (then ``fulfillment_order`` is
    set). Called for every change when the unit of work commits, so ``order`` is in its state
    at the end of the operation (placing an order checks ``received → validated`` on an order
    that is already allocated): judge the change by ``from_status`` and ``to_status``. Any
    reason raises ``TransitionVetoed`` and the whole operation is rolled back.

    Error policy: an exception propagates and the operation is rolled back.
    """


# -- route ----------------------------------------------------------------------------------


@hookspec
def omskit_routing_rules(
    request: RoutingRequest, candidates: Sequence[Candidate], settings: Mapping[str, Any]
) -> Iterable[Exclusion | Holdback] | None:
    """Judge the candidate locations of one routing decision.

    Return an ``Exclusion`` for each location that must not serve the request (with the
    rule's name and a reason shown by ``explain``), and ``Holdback``s for stock the request
    may not take (units kept for better segments, channel buffers). Candidates carry their
    available-to-promise and distance; they are not priced yet. Called once per decision with
    every candidate, so keep it linear in their number.

    Error policy: an exception propagates and the operation is rolled back.
    """


@hookspec
def omskit_routing_cost_terms(
    request: RoutingRequest, candidates: Sequence[Candidate], carriers: Sequence[Carrier],
    settings: Mapping[str, Any],
) -> Iterable[CostTerm] | None:
    """Price the eligible candidates of one routing decision: return ``CostTerm``s.

    Terms for the same location add up. The builtins price handling (the location's
    ``handling_cost`` per unit) and shipping (the cheapest of ``carriers`` serving the lane).
    Add terms for anything else a plan should weigh: margins, labour, carbon.

    Error policy: an exception propagates and the operation is rolled back.
    """


# -- observe --------------------------------------------------------------------------------


@hookspec
def omskit_after_transition(
    aggregate: str,
    order: Order,
    fulfillment_order: FulfillmentOrder | None,
    from_status: str,
    to_status: str,
) -> None:
    """Observe a status change, inside the transaction, just before commit.

    Called once per change recorded by the operation, in order, after every
    ``omskit_validate_transition`` has passed; ``order`` (and ``fulfillment_order``) are in
    their state at the end of the operation. Raising aborts the whole operation, so use it for
    checks that must hold for the change to happen; it may run for an attempt that is then
    retried. Side effects outside the database belong in ``omskit_handle_event``, which runs
    once the change is committed.

    Error policy: an exception propagates and the whole operation is rolled back.
    """


@hookspec
def omskit_handle_event(event: Event, oms: Services) -> None:
    """Receive a committed domain event from the outbox (at least once).

    ``oms`` is a narrow handle on the public services (``orders``, ``inventory``,
    ``fulfillment``, ``channels``, ``outbox``, ``promise``, ``carts``, ``payments``,
    ``shipping``, ``invoices``, ``journal``), not the whole ``Oms``.
    Called after the transaction that wrote the event committed, after the core's own
    handlers for the event (backorder allocation on stock events). Each order's events go out
    in the order they were written: an event of an order is never delivered before an
    earlier, undelivered event of the same order. Events without an order (stock movements)
    have no such guarantee once one has failed. Several dispatcher processes share the
    outbox with ``SKIP LOCKED``. De-duplicate on ``event.event_id``.

    Events written while no plugin implements this hook (in ``inline`` mode) are stored as
    already dispatched, except those the core itself handles; use
    ``bootstrap(dispatch="deferred")`` in processes without the relay so a worker that has
    it delivers them.

    Error policy: an exception is logged with its traceback and recorded on the outbox row
    (attempts, last error); the event stays pending, and so do the later events of its
    order, while other orders' events flow. After ``oms.outbox.max_attempts`` failures (5)
    the event is parked: an operator lists it (``oms.outbox.parked()``, ``omskit outbox
    parked``), then retries or skips it. It is never dropped silently.
    """
