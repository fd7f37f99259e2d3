"""``omskit.bootstrap`` and the ``Oms`` facade: the whole public API from one object."""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any

import attrs
import cattrs
import pluggy
import sqlalchemy as sa

from omskit import kinds
from omskit.builtin import builtin_plugins
from omskit.domain.commands import Command
from omskit.domain.errors import (
    InvalidSettings,
    UnknownRoutingStrategy,
    UnsupportedConnection,
)
from omskit.domain.events import utcnow
from omskit.plugins import (
    Hooks,
    PluginInfo,
    autoload_from_environment,
    build_plugin_manager,
    describe_plugins,
    disabled_from_environment,
)
from omskit.ports import (
    ChannelConnector,
    EventRelay,
    Geocoder,
    PaymentProvider,
    RoutingStrategy,
)
from omskit.registries import Registries
from omskit.routing.engine import RoutingEngine
from omskit.routing.settings import routing_settings
from omskit.serialization import EventCodec, make_converter
from omskit.services import commands
from omskit.services.carts import CartService
from omskit.services.channels import ChannelService
from omskit.services.database import Database
from omskit.services.dispatch import DispatchMode, EventDispatcher
from omskit.services.dropship import DropshipService
from omskit.services.edits import OrderEditService
from omskit.services.fulfillment import FulfillmentService
from omskit.services.handle import Services
from omskit.services.handlers import CORE_HANDLERS, EventDelivery, with_notifications
from omskit.services.inventory import InventoryService
from omskit.services.invoices import InvoiceService, JournalService
from omskit.services.monitor import MonitorService
from omskit.services.notifications import NOTIFIED_EVENT_TYPES, NotificationService
from omskit.services.orders import OrderService
from omskit.services.outbox import OutboxService
from omskit.services.payments import PaymentService
from omskit.services.pickups import PickupService
from omskit.services.promise import PromiseService
from omskit.services.returns import ReturnService
from omskit.services.shipping import ShippingService
from omskit.services.sweeps import SweepService
from omskit.store import migrate
from omskit.store.engine import DEFAULT_URL, create_engine
from omskit.store.tables import Tables, build_metadata
from omskit.store.uow import UnitOfWork

#: Environment variable naming the database when ``bootstrap`` is given none.
ENV_DATABASE_URL = "OMSKIT_DATABASE_URL"


class Oms:
    """One embedded order management system. Build it with :func:`bootstrap`.

    Services: ``inventory``, ``orders``, ``edits``, ``fulfillment``, ``pickups``, ``channels``,
    ``outbox``, ``promise``, ``carts``, ``payments``, ``shipping``, ``invoices``,
    ``journal``, ``monitor``, ``sweeps``, ``returns``, ``dropship``, ``notifications``;
    ``router`` runs routing decisions in memory.
    """

    def __init__(self, *, db: Database, dispatcher: EventDispatcher,
                 clock: Callable[[], datetime], hooks: Hooks, router: RoutingEngine,
                 settings: Mapping[str, Any], registries: Registries,
                 plugin_tables: tuple[sa.Table, ...], plugin_manager: pluggy.PluginManager,
                 builtin_names: Iterable[str], owns_engine: bool) -> None:
        # Only what the facade itself needs is kept; each service gets exactly the
        # collaborators it uses (decision 28).
        self._db = db
        self._dispatcher = dispatcher
        self._clock = clock
        self._hooks = hooks
        self._router = router
        self._settings = settings
        self._registries = registries
        self._plugin_tables = plugin_tables
        self._pm = plugin_manager
        self._builtin_names = tuple(builtin_names)
        self._owns_engine = owns_engine
        #: Locations, stock movements, supply and availability.
        self.inventory = InventoryService(db=db, dispatcher=dispatcher, clock=clock,
                                          router=router, settings=settings)
        #: Placing, finding, holding, cancelling and completing orders.
        self.orders = OrderService(db=db, dispatcher=dispatcher, clock=clock, hooks=hooks,
                                   router=router, settings=settings,
                                   providers=registries[kinds.PAYMENT_PROVIDER])
        #: Fulfilment orders: release, accept/reject, pick, pack, ship, deliver.
        self.fulfillment = FulfillmentService(db=db, orders=self.orders, hooks=hooks,
                                              router=router,
                                              carriers=registries[kinds.SHIPPING_CARRIER])
        #: Pick up in store: ready, collect, expire what is not collected.
        self.pickups = PickupService(db=db, orders=self.orders, clock=clock,
                                     settings=settings)
        #: Order edits from any channel: begin, stage, preview, commit or abandon.
        self.edits = OrderEditService(db=db, clock=clock, hooks=hooks, router=router,
                                      providers=registries[kinds.PAYMENT_PROVIDER],
                                      orders=self.orders)
        #: Orders (and order edits) from channel payloads, through connector plugins.
        self.channels = ChannelService(channels=registries[kinds.CHANNEL], orders=self.orders,
                                       edits=self.edits, db=db, clock=clock)
        #: Delivery-date quotes per option (ship, pickup) for lines not yet ordered.
        self.promise = PromiseService(db=db, clock=clock, router=router)
        #: Soft reservations: stock held for a cart for a time-to-live.
        self.carts = CartService(db=db, dispatcher=dispatcher, clock=clock, hooks=hooks,
                                 router=router)
        #: Payment ledgers: authorise, capture, void, refund through provider plugins.
        self.payments = PaymentService(db=db, clock=clock, router=router, hooks=hooks,
                                       providers=registries[kinds.PAYMENT_PROVIDER],
                                       orders=self.orders)
        #: Shipments and parcels, labels and tracking, through shipping carrier plugins.
        self.shipping = ShippingService(db=db, dispatcher=dispatcher, clock=clock,
                                        carriers=registries[kinds.SHIPPING_CARRIER],
                                        settings=settings, orders=self.orders)
        #: Invoices and credit notes, issued when the payment ledger records captures
        #: and refunds; rendered to HTML and PDF.
        self.invoices = InvoiceService(db=db, dispatcher=dispatcher, clock=clock, hooks=hooks,
                                       settings=settings, orders=self.orders,
                                       payments=self.payments)
        #: The journal: a posting per document, capture and refund; its CSV export.
        self.journal = JournalService(db=db, dispatcher=dispatcher, settings=settings,
                                      orders=self.orders, payments=self.payments)
        #: Order monitoring: late, stuck, held orders and more; the sweep raising each once.
        self.monitor = MonitorService(db=db, dispatcher=dispatcher, clock=clock,
                                      settings=settings, payments=self.payments)
        #: Customer messages through notifier plugins, once per event and recipient.
        self.notifications = NotificationService(db=db, clock=clock, settings=settings,
                                                 notifiers=registries[kinds.NOTIFIER],
                                                 orders=self.orders)
        #: The periodic jobs (lapsed holds and edits, expired authorisations, the monitor,
        #: message retries), one process at a time.
        self.sweeps = SweepService(db=db, clock=clock, carts=self.carts, edits=self.edits,
                                   payments=self.payments, pickups=self.pickups,
                                   monitor=self.monitor, notifications=self.notifications)
        #: Returns (RMAs) from any channel: request, label, receive, inspect, refund,
        #: exchange; judged and priced by the returns policy plugin.
        self.returns = ReturnService(db=db, dispatcher=dispatcher, clock=clock,
                                     policies=registries[kinds.RETURNS_POLICY],
                                     settings=settings, orders=self.orders,
                                     payments=self.payments, shipping=self.shipping)
        #: Dropship: purchase orders to suppliers through supplier connector plugins, and
        #: their acknowledgements, refusals, ship notices and stock feeds.
        self.dropship = DropshipService(db=db, dispatcher=dispatcher, clock=clock,
                                        hooks=hooks, router=router,
                                        suppliers=registries[kinds.SUPPLIER],
                                        carriers=registries[kinds.SHIPPING_CARRIER],
                                        settings=settings, orders=self.orders)
        delivery = EventDelivery(hooks, core_handlers(registries))
        #: Relaying stored events to the core's handlers and ``omskit_handle_event``;
        #: parked events for operators.
        self.outbox = OutboxService(db=db, dispatcher=dispatcher, clock=clock,
                                    deliver=delivery, relays=registries[kinds.EVENT_RELAY])
        #: The services alone: what event handlers and plugins are given, not this object.
        self.services = Services(orders=self.orders, inventory=self.inventory,
                                 fulfillment=self.fulfillment, channels=self.channels,
                                 outbox=self.outbox, promise=self.promise, carts=self.carts,
                                 payments=self.payments, shipping=self.shipping,
                                 invoices=self.invoices, journal=self.journal,
                                 edits=self.edits, monitor=self.monitor, sweeps=self.sweeps,
                                 returns=self.returns, pickups=self.pickups,
                                 dropship=self.dropship, notifications=self.notifications)
        delivery.services = self.services
        # Inline dispatch drains the outbox through this instance's outbox service.
        dispatcher.drain = self.outbox.dispatch_batch

    # -- commands -----------------------------------------------------------------------------

    def execute(self, command: Command) -> Any:
        """Run a command (``ReceiveStock``, ``CancelOrder``...: every write is one) and return
        what the matching service method returns. See ``docs/embedding.md``, "Commands"."""
        return commands.execute(self.services, command)

    def command(self, name: str, payload: Mapping[str, Any]) -> Command:
        """The command called ``name`` (``"receive_stock"``) built from a JSON object with
        this instance's converter: datetimes as ISO 8601 with an offset, decimals as
        strings, enums as their values. Any problem is an :class:`InvalidCommand` naming
        the fields; nothing is run."""
        return commands.structure(self._command_converter, name, payload)

    @functools.cached_property
    def _command_converter(self) -> cattrs.Converter:
        # Built at first use, so hooks a host adds to oms.converter after bootstrap count.
        return commands.command_converter(self._db.converter)

    @property
    def fulfilment(self) -> FulfillmentService:
        """Deprecated spelling of :attr:`fulfillment` (kept for one release)."""
        warnings.warn("oms.fulfilment is deprecated: use oms.fulfillment", DeprecationWarning,
                      stacklevel=2)
        return self.fulfillment

    # -- plumbing the host may need -----------------------------------------------------------

    @property
    def engine(self) -> sa.Engine:
        """The engine omskit writes through (the host's own, if it passed one)."""
        return self._db.engine

    @property
    def tables(self) -> Tables:
        """omskit's tables (prefixed and in the chosen schema)."""
        return self._db.tables

    @property
    def metadata(self) -> sa.MetaData:
        """The ``MetaData`` holding omskit's tables and those plugins added."""
        return self._db.tables.metadata

    @property
    def converter(self) -> cattrs.Converter:
        """This instance's cattrs converter."""
        return self._db.converter

    @property
    def plugin_manager(self) -> pluggy.PluginManager:
        """This instance's pluggy manager (for advanced introspection and tests)."""
        return self._pm

    @property
    def hooks(self) -> Hooks:
        """Typed access to the hooks (for plugins that call other plugins)."""
        return self._hooks

    def unit_of_work(self) -> UnitOfWork:
        """A unit of work for code that needs several repositories in one transaction."""
        return self._db.uow()

    # -- introspection ------------------------------------------------------------------------

    def plugins(self) -> list[PluginInfo]:
        """Every registered plugin with its distribution, version and hooks (builtins first)."""
        return describe_plugins(self._pm, self._builtin_names,
                                self._registries.by_plugin())

    def channel(self, code: str) -> ChannelConnector:
        """The installed channel connector with this code, or :class:`UnknownChannel`."""
        return self._registries[kinds.CHANNEL].get(code)

    def geocoder(self, code: str) -> Geocoder:
        """The installed geocoder with this code, or :class:`UnknownGeocoder`."""
        return self._registries[kinds.GEOCODER].get(code)

    def event_relay(self, code: str) -> EventRelay:
        """The installed event relay with this code, or :class:`UnknownRelay`."""
        return self._registries[kinds.EVENT_RELAY].get(code)

    def routing_strategy(self, code: str) -> RoutingStrategy:
        """The routing strategy with this code, or :class:`UnknownRoutingStrategy`."""
        return self._registries[kinds.ROUTING_STRATEGY].get(code)

    @property
    def router(self) -> RoutingEngine:
        """The routing engine: ``oms.router.decide(request, candidates, strategy, at=...)``
        runs one decision in memory, exactly as placement does (simulations, what-ifs)."""
        return self._router

    def routing_strategies(self) -> list[str]:
        """Codes of every installed routing strategy."""
        return list(self._registries[kinds.ROUTING_STRATEGY])

    def payment_provider(self, code: str) -> PaymentProvider:
        """The installed payment provider with this code, or
        :class:`UnknownPaymentProvider`."""
        return self.payments.provider(code)

    def carriers(self) -> list[str]:
        """Codes of every installed carrier."""
        return list(self._registries[kinds.CARRIER])

    def geocoders(self) -> list[str]:
        """Codes of every installed geocoder, in the order they are asked."""
        return list(self._registries[kinds.GEOCODER])

    @property
    def settings(self) -> Mapping[str, Any]:
        """The settings given to ``bootstrap``."""
        return self._settings

    def event_types(self) -> list[str]:
        """Every registered event type string."""
        return list(self._registries[kinds.EVENT_TYPE])

    # -- schema -------------------------------------------------------------------------------

    def upgrade(self, revision: str = "head") -> None:
        """Run omskit's Alembic migrations (version table ``<prefix>alembic_version``)."""
        migrate.upgrade(self._db.engine, prefix=self._db.tables.prefix,
                        schema=self._schema, revision=revision)

    def create_schema(self) -> None:
        """Create every table directly from ``metadata`` (tests and throwaway databases)."""
        self.metadata.create_all(self._db.engine, tables=self._owned_tables())

    def drop_schema(self) -> None:
        """Drop every omskit table and the migration version table (destroys the data)."""
        self.metadata.drop_all(self._db.engine, tables=self._owned_tables())
        version = sa.Table(migrate.version_table(self._db.tables.prefix), sa.MetaData(),
                           schema=self._schema)
        version.drop(self._db.engine, checkfirst=True)

    def _owned_tables(self) -> list[sa.Table]:
        # Only omskit's and its plugins' tables: the MetaData may be the host's own.
        return [*self._db.tables.all(), *self._plugin_tables]

    @property
    def _schema(self) -> str | None:
        return self._db.tables.locations.schema

    # -- lifecycle ----------------------------------------------------------------------------

    def bind(self, connection: sa.Connection) -> Oms:
        """An ``Oms`` working inside the host's transaction on ``connection``.

        Its writes happen in savepoints of that transaction and become durable when the host
        commits; their events stay pending until ``oms.outbox.dispatch_pending()``.

        On SQLite the connection must come from an engine whose driver leaves transaction
        control to SQLAlchemy (as ``omskit.store.engine.create_engine`` sets up): with
        pysqlite's default, releasing a savepoint commits it, and a host rollback would not
        undo omskit's writes. Such a connection raises :class:`UnsupportedConnection`.
        """
        if connection.dialect.name == "sqlite":
            driver = connection.connection.dbapi_connection
            if getattr(driver, "isolation_level", None) is not None:
                raise UnsupportedConnection(
                    "this SQLite connection lets pysqlite manage transactions, so savepoints "
                    "would commit on release; create the host engine with "
                    "omskit.store.engine.create_engine(url) or apply SQLAlchemy's pysqlite "
                    "transaction recipe")
        # A dispatcher that leaves events pending, and a database on the host's connection
        # that settles nothing on write; the rest is shared with this instance.
        dispatcher = attrs.evolve(self._dispatcher, in_host_transaction=True, drain=None)
        db = attrs.evolve(self._db, connection=connection,
                          settle_policy=dispatcher.settled_on_write)
        return Oms(db=db, dispatcher=dispatcher, clock=self._clock, hooks=self._hooks,
                   router=self._router, settings=self._settings, registries=self._registries,
                   plugin_tables=self._plugin_tables, plugin_manager=self._pm,
                   builtin_names=self._builtin_names, owns_engine=False)

    def close(self) -> None:
        """Dispose of the engine if omskit created it; a host's engine is left alone."""
        if self._owns_engine:
            self._db.engine.dispose()

    def __enter__(self) -> Oms:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def core_handlers(registries: Registries) -> Mapping[str, Any]:
    """The core's event handlers for this instance: customer notifications join them when
    a notifier is installed (without one, nobody would be told, and placement keeps settling
    its events on write)."""
    if len(registries[kinds.NOTIFIER]):
        return with_notifications(CORE_HANDLERS, NOTIFIED_EVENT_TYPES)
    return CORE_HANDLERS


def bootstrap(
    engine_or_url: sa.Engine | str | sa.URL | None = None,
    *,
    plugins: Iterable[object] = (),
    load_entrypoints: bool = True,
    disabled_plugins: Iterable[str] = (),
    table_prefix: str = "omskit_",
    schema: str | None = None,
    metadata: sa.MetaData | None = None,
    routing_strategy: str = "nearest",
    settings: Mapping[str, Any] | None = None,
    dispatch: DispatchMode = "inline",
    clock: Callable[[], datetime] = utcnow,
    engine_options: dict[str, Any] | None = None,
) -> Oms:
    """Build an :class:`Oms`.

    - ``engine_or_url``: the host's ``Engine`` (never disposed by omskit), or a URL; default
      ``$OMSKIT_DATABASE_URL``, else ``sqlite:///omskit.db``.
    - ``plugins``: plugin objects to register in addition to entry points.
    - ``load_entrypoints``: load the ``omskit`` entry-point group (off also with
      ``OMSKIT_DISABLE_PLUGIN_AUTOLOAD``); ``disabled_plugins`` (and
      ``OMSKIT_DISABLED_PLUGINS``) names plugins, builtins included, never to register.
    - ``table_prefix``, ``schema``, ``metadata``: where omskit's tables live.
    - ``routing_strategy``: the default strategy code (builtins: ``nearest``, ``optimal``,
      ``fewest-shipments``).
    - ``settings``: configuration keyed by plugin (the core reads ``routing`` and
      ``inventory``; see ``docs/routing.md``), checked by ``omskit_validate_settings``.
    - ``dispatch``: ``inline`` delivers events to ``omskit_handle_event`` right after commit;
      ``deferred`` leaves them for ``oms.outbox.dispatch_pending()`` in a worker.
    - ``clock``: returns the current time (timezone-aware); injectable for tests and replays.
    """
    if isinstance(engine_or_url, sa.Engine):
        engine, owns_engine = engine_or_url, False
    else:
        url = engine_or_url or os.environ.get(ENV_DATABASE_URL) or DEFAULT_URL
        engine, owns_engine = create_engine(url, **(engine_options or {})), True
    builtins = builtin_plugins(routing_strategy=routing_strategy)
    pm = build_plugin_manager(
        builtins=builtins,
        plugins=plugins,
        load_entrypoints=autoload_from_environment(load_entrypoints),
        disabled=(*disabled_plugins, *disabled_from_environment()),
    )
    hooks = Hooks(pm)
    settings = dict(settings or {})
    # Contributions first, then configuration: the order the hook specs are documented in.
    # (A shipping carrier plugin may read `settings` to register one carrier per account.)
    registries = Registries()
    for kind in registries.kinds:
        hooks.contribute(kind, functools.partial(registries.add, kind), settings)
    strategies, carriers = registries[kinds.ROUTING_STRATEGY], registries[kinds.CARRIER]
    if routing_strategy not in strategies:
        raise UnknownRoutingStrategy(routing_strategy)
    problems = hooks.validate_settings(settings)
    if problems:
        raise InvalidSettings(problems)

    converter = make_converter()
    hooks.configure_converter(converter)
    tables = build_metadata(table_prefix, schema, metadata)
    before = set(tables.metadata.tables)
    hooks.configure_metadata(tables.metadata, table_prefix, schema)
    plugin_tables = tuple(t for key, t in tables.metadata.tables.items() if key not in before)

    router = RoutingEngine(hooks, strategies, carriers, settings, routing_settings(settings),
                           geocoders=registries[kinds.GEOCODER])
    dispatcher = EventDispatcher(hooks=hooks, mode=dispatch,
                                 handled_types=frozenset(core_handlers(registries)))
    db = Database(engine=engine, tables=tables, converter=converter,
                  codec=EventCodec(converter, registries[kinds.EVENT_TYPE]), hooks=hooks,
                  settle_policy=dispatcher.settled_on_write)
    return Oms(db=db, dispatcher=dispatcher, clock=clock, hooks=hooks, router=router,
               settings=settings, registries=registries, plugin_tables=plugin_tables,
               plugin_manager=pm, builtin_names=[name for name, _ in builtins],
               owns_engine=owns_engine)
