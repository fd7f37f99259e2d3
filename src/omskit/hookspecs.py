"""Every hook omskit calls, in lifecycle order. All hooks start with ``omskit_``.

Five families:

- **contribute** (``omskit_register_*``): called once at bootstrap with a ``register`` callable;
  contributions are kept in registries keyed by code and later called directly.
- **configure** (``omskit_configure_*``): called once at bootstrap to adjust a shared object.
- **decide** (firstresult): the first non-``None`` answer wins; the core's answer is a builtin
  plugin registered with ``trylast=True`` so any plugin can override it.
- **validate** (``omskit_validate_*``): every implementation returns problems; any problem vetoes.
- **observe** (``omskit_after_*``, ``omskit_handle_event``): told what happened.

Each spec documents when it is called, what it returns and its **error policy**: what happens
when an implementation raises. ``docs/hooks.md`` mirrors this file and a test keeps them in step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import cattrs
    import sqlalchemy as sa

    from omskit.app import Oms
    from omskit.domain.events import Event
    from omskit.domain.order import FulfillmentOrder, Order
    from omskit.domain.routing import RoutingStrategy
    from omskit.domain.values import Problem
    from omskit.ports import ChannelConnector, InventoryReader

PROJECT = "omskit"
hookspec = pluggy.HookspecMarker(PROJECT)
#: Decorate plugin functions with this to implement an omskit hook.
hookimpl = pluggy.HookimplMarker(PROJECT)


# -- contribute -----------------------------------------------------------------------------


@hookspec
def omskit_register_channels(register: Callable[[ChannelConnector], None]) -> None:
    """Contribute sales-channel connectors.

    Call ``register(connector)`` once per connector; ``connector.code`` must be unique across
    all plugins. A connector turns a channel's payload into a ``PlaceOrder`` command
    (``Oms.channels.receive(code, payload)``).

    Error policy: an exception aborts ``bootstrap``; a duplicate code raises
    ``DuplicateContribution`` naming both plugins.
    """


@hookspec
def omskit_register_routing_strategies(register: Callable[[RoutingStrategy], None]) -> None:
    """Contribute routing strategies, keyed by ``strategy.code``.

    The strategy used for an order is chosen by ``omskit_choose_routing_strategy``.

    Error policy: as ``omskit_register_channels``.
    """


@hookspec
def omskit_register_event_types(register: Callable[[type[Event]], None]) -> None:
    """Contribute event classes (subclasses of ``omskit.domain.events.Event``).

    Registered types can be written to the outbox and read back; their ``event_type`` string
    must be unique and stable, since stored events are decoded by it.

    Error policy: as ``omskit_register_channels``.
    """


# -- configure ------------------------------------------------------------------------------


@hookspec
def omskit_configure_converter(converter: cattrs.Converter) -> None:
    """Adjust the cattrs converter used for rows, events and payloads (register hooks).

    Called once per ``Oms``, after the core has configured it.

    Error policy: an exception aborts ``bootstrap``.
    """


@hookspec
def omskit_configure_metadata(metadata: sa.MetaData, table_prefix: str) -> None:
    """Add a plugin's own tables to omskit's SQLAlchemy ``MetaData``.

    Name tables ``f"{table_prefix}<plugin>_<table>"``. Plugins ship their own migrations with
    their own version table; ``Oms.create_schema()`` creates these tables too.

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
def omskit_choose_routing_strategy(order: Order) -> str | None:
    """Return the code of the routing strategy for this order.

    Default (builtin, ``trylast``): the ``routing_strategy`` given to ``bootstrap``.

    Error policy: an exception propagates and the operation is rolled back; an unknown code
    raises ``UnknownRoutingStrategy``.
    """


# -- validate -------------------------------------------------------------------------------


@hookspec
def omskit_validate_order(order: Order, inventory: InventoryReader) -> Iterable[Problem] | None:
    """Check a newly received order; each returned ``Problem`` becomes a hold on it.

    ``inventory`` reads stock and locations in the placement's own transaction. The builtin
    validator holds orders for SKUs no location stocks and for unusable pickup locations.

    Error policy: an exception propagates and the placement is rolled back (nothing written).
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
    set). Called for every change when the unit of work commits; any reason raises
    ``TransitionVetoed`` and the whole operation is rolled back.

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

    Use it for checks or writes that must be atomic with the change; for side effects outside
    the database use ``omskit_handle_event``, which runs after commit.

    Error policy: an exception propagates and the whole operation is rolled back.
    """


@hookspec
def omskit_handle_event(event: Event, oms: Oms) -> None:
    """Receive a committed domain event from the outbox (at least once).

    Called after the transaction that wrote the event committed, in the order events were
    written, and again by ``Oms.outbox.dispatch_pending()`` for events whose earlier dispatch
    failed. De-duplicate on ``event.event_id``.

    Error policy: an exception is recorded on the outbox row (attempts, last error) and the
    event stays pending for a later dispatch; it is never dropped.
    """
