"""omskit's pytest plugin, opt-in with ``pytest_plugins = ["omskit.testing"]``.

Fixtures:

- ``omskit_database``: each test runs once per database backend. SQLite (a WAL file in the
  test's ``tmp_path``) always; PostgreSQL from ``OMSKIT_TEST_POSTGRES_URL``, each test in its
  own empty schema. No rows are shared between tests, so ``pytest -n auto`` (pytest-xdist)
  runs them in parallel on one PostgreSQL database. Creating omskit's tables is most of a
  short PostgreSQL test's time, so the schema of a test that passed is emptied and kept, and a
  later test of the same process whose first ``make_oms`` wants exactly the same tables gets
  it renamed to its own schema's name: the same tables, no rows, every sequence restarted. A
  schema the test changed (DDL, grants) or whose test failed is dropped instead; the kept ones
  are dropped when the session ends (``omskit.testing._schemas``, decision 49).
  ``OMSKIT_TEST_DATABASES`` (``sqlite,postgresql`` by default) narrows the list; asking for
  PostgreSQL without a URL fails the test instead of skipping it.
- ``make_oms``: builds an ``Oms`` on that database with its tables created (entry points off
  unless asked for); ``oms`` is ``make_oms()``.
- ``hook_calls``: records every hook call of an ``Oms``.

Builders (plain functions, ``omskit.testing.builders``): :func:`location`,
:func:`order_command`, :func:`order`, :func:`routing_request`, :func:`candidate`;
:func:`table_counts` and :func:`table_contents` snapshot the database.
Conformance kits, one per plugin kind: :class:`ChannelConformance`,
:class:`RoutingStrategyConformance`, :class:`RoutingRulesConformance` (rules and cost terms),
:class:`GeocoderConformance`, :class:`CarrierConformance` (with :class:`RecordingCarrier`
and :class:`Webhook`),
:class:`PaymentProviderConformance` (with :class:`MutableClock`, :class:`FaultyProvider` and
:class:`SimulatedCrash`), :class:`ReturnsPolicyConformance` (with :func:`return_context`
and :func:`refund_context`), :class:`RelayConformance` (with :class:`MemoryRelay`,
:class:`MemoryBroker`, :class:`CrashingRelay` and :class:`ReceivedMessage`),
:class:`SupplierConformance` (with :class:`SupplierDesk`, :class:`MemorySupplier` and
:class:`FaultyConnector`), :class:`NotifierConformance` (with :class:`RecordingNotifier` and
:func:`sample_message`).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import pytest
import sqlalchemy as sa

# Only public names: the plugin is written like a host's or a plugin's own test helpers.
from omskit import Oms, bootstrap, create_engine
from omskit.testing._schemas import SchemaPool, table_set_key

ENV_POSTGRES_URL = "OMSKIT_TEST_POSTGRES_URL"
ENV_DATABASES = "OMSKIT_TEST_DATABASES"
BACKENDS = ("sqlite", "postgresql")


def selected_backends() -> list[str]:
    """Backends named by ``OMSKIT_TEST_DATABASES`` (default: all)."""
    raw = os.environ.get(ENV_DATABASES, ",".join(BACKENDS))
    chosen = [b.strip() for b in raw.split(",") if b.strip()]
    unknown = set(chosen) - set(BACKENDS)
    if unknown:
        raise pytest.UsageError(f"{ENV_DATABASES}: unknown backends {sorted(unknown)}")
    return chosen


@attrs.frozen(kw_only=True)
class TestDatabase:
    """Where one test's omskit lives."""

    __test__ = False  # not a test class, whatever pytest thinks of the name

    backend: str
    url: str
    schema: str | None = None

    def engine(self, **kwargs: Any) -> sa.Engine:
        """A new engine on this database (the caller disposes of it)."""
        return create_engine(self.url, **kwargs)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise every test that uses ``omskit_database`` over the selected backends."""
    if "omskit_database" in metafunc.fixturenames:
        backends = selected_backends()
        marker = metafunc.definition.get_closest_marker("postgres_only")
        if marker is not None:
            backends = [b for b in backends if b == "postgresql"]
        metafunc.parametrize("omskit_backend", backends, indirect=False)


def _worker_prefix() -> str:
    """``gw3_`` under pytest-xdist's worker ``gw3``, else nothing.

    Schema names are already unique per test; the worker's name shows whose schema a leftover
    one was, should a killed run leave some behind.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    return f"{worker}_" if worker.isidentifier() else ""


# Set on a test's item when one of its phases failed: its schema is then never reused.
_FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Note a failed set-up or call, before the test's fixtures are torn down."""
    report = yield
    if report.failed:
        item.stash[_FAILED] = True
    return report


@pytest.fixture(scope="session")
def _omskit_schema_pool() -> Iterator[SchemaPool]:
    """This session's emptied PostgreSQL schemas, dropped when it ends (decision 49)."""
    pool = SchemaPool(prefix=f"omskit_pool_{_worker_prefix()}")
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture
def omskit_database(omskit_backend: str, tmp_path: Path, request: pytest.FixtureRequest,
                    _omskit_schema_pool: SchemaPool) -> Iterator[TestDatabase]:
    """A clean database for one test (see the module docstring)."""
    if omskit_backend == "sqlite":
        yield TestDatabase(backend="sqlite", url=f"sqlite:///{tmp_path / 'omskit.db'}")
        return
    url = os.environ.get(ENV_POSTGRES_URL)
    if not url:
        pytest.fail(f"PostgreSQL tests need {ENV_POSTGRES_URL} "
                    f"(or set {ENV_DATABASES}=sqlite to run on SQLite only)")
    schema = f"omskit_test_{_worker_prefix()}{uuid.uuid4().hex[:12]}"
    db = TestDatabase(backend="postgresql", url=url, schema=schema)
    _omskit_schema_pool.create_empty(url, schema)
    try:
        yield db
    finally:
        _omskit_schema_pool.release(url, schema,
                                    reusable=not request.node.stash.get(_FAILED, False))


@pytest.fixture
def make_oms(omskit_database: TestDatabase,
             _omskit_schema_pool: SchemaPool) -> Iterator[Callable[..., Oms]]:
    """Factory: ``make_oms(plugins=[...], **bootstrap_kwargs)`` with tables created."""
    made: list[Oms] = []
    db = omskit_database

    def factory(**kwargs: Any) -> Oms:
        kwargs.setdefault("load_entrypoints", False)
        kwargs.setdefault("schema", db.schema)
        oms = bootstrap(db.url, **kwargs)
        made.append(oms)
        pool = _omskit_schema_pool
        if (db.schema is None or kwargs["schema"] != db.schema
                or pool.claimed(db.url, db.schema)):
            oms.create_schema()
            return oms
        # The test's first Oms in its own schema: the same tables, emptied, from an earlier
        # test if there is one (decision 49); what the test sees is the same either way.
        key = table_set_key(oms.metadata, oms.engine.dialect, db.schema)
        taken = pool.take(db.url, db.schema, key)
        if taken != "taken":
            oms.create_schema()
        if taken == "empty":
            pool.created(db.url, db.schema, key)
        return oms

    yield factory
    for oms in made:
        oms.close()


@pytest.fixture
def oms(make_oms: Callable[..., Oms]) -> Oms:
    """An ``Oms`` with no external plugins on a clean database of the current backend."""
    return make_oms()


@attrs.define
class HookCall:
    """One recorded hook call."""

    name: str
    kwargs: dict[str, Any]


@attrs.define
class HookRecorder:
    """Hook calls seen since :meth:`start`; ``names()`` lists them in order."""

    calls: list[HookCall] = attrs.field(factory=list)

    def names(self) -> list[str]:
        """Names of the hooks called, in call order."""
        return [c.name for c in self.calls]

    def of(self, name: str) -> list[HookCall]:
        """Calls of one hook."""
        return [c for c in self.calls if c.name == name]


@pytest.fixture
def hook_calls() -> Iterator[Callable[[Oms], HookRecorder]]:
    """``recorder = hook_calls(oms)`` records every hook call of ``oms`` until the test ends."""
    undo: list[Callable[[], None]] = []

    def start(oms: Oms) -> HookRecorder:
        recorder = HookRecorder()

        def before(name: str, _impls: Sequence[Any], kwargs: Mapping[str, Any]) -> None:
            recorder.calls.append(HookCall(name=name, kwargs=dict(kwargs)))

        def after(*_args: Any) -> None:
            return None

        undo.append(oms.plugin_manager.add_hookcall_monitoring(before, after))
        return recorder

    yield start
    for stop in undo:
        stop()


# Builders and conformance kits live in their own modules; these names are the public ones.
from omskit.testing.builders import (  # noqa: E402
    candidate,
    location,
    order,
    order_command,
    routing_request,
    table_contents,
    table_counts,
)
from omskit.testing.carriers import CarrierConformance, RecordingCarrier, Webhook  # noqa: E402
from omskit.testing.channels import ChannelConformance  # noqa: E402
from omskit.testing.geocoding import GeocoderConformance  # noqa: E402
from omskit.testing.notifiers import (  # noqa: E402
    NotifierConformance,
    RecordingNotifier,
    sample_message,
)
from omskit.testing.payments import (  # noqa: E402
    FaultyProvider,
    MutableClock,
    PaymentProviderConformance,
    SimulatedCrash,
)
from omskit.testing.relays import (  # noqa: E402
    CrashingRelay,
    MemoryBroker,
    MemoryRelay,
    ReceivedMessage,
    RelayConformance,
    outbox_events,
    place_some_orders,
    relay_all,
)
from omskit.testing.returns import (  # noqa: E402
    ReturnsPolicyConformance,
    refund_context,
    return_context,
)
from omskit.testing.routing import (  # noqa: E402
    RoutingRulesConformance,
    RoutingStrategyConformance,
    check_plan,
    routing_inputs,
)
from omskit.testing.suppliers import (  # noqa: E402
    FaultyConnector,
    MemorySupplier,
    SupplierConformance,
    SupplierDesk,
)

__all__ = [
    "BACKENDS",
    "CarrierConformance",
    "ChannelConformance",
    "CrashingRelay",
    "FaultyConnector",
    "FaultyProvider",
    "GeocoderConformance",
    "HookCall",
    "HookRecorder",
    "MemoryBroker",
    "MemoryRelay",
    "MemorySupplier",
    "MutableClock",
    "NotifierConformance",
    "PaymentProviderConformance",
    "ReceivedMessage",
    "RecordingCarrier",
    "RecordingNotifier",
    "RelayConformance",
    "ReturnsPolicyConformance",
    "RoutingRulesConformance",
    "RoutingStrategyConformance",
    "SimulatedCrash",
    "SupplierConformance",
    "SupplierDesk",
    "TestDatabase",
    "Webhook",
    "candidate",
    "check_plan",
    "hook_calls",
    "location",
    "make_oms",
    "oms",
    "omskit_database",
    "order",
    "order_command",
    "outbox_events",
    "place_some_orders",
    "refund_context",
    "relay_all",
    "return_context",
    "routing_inputs",
    "routing_request",
    "sample_message",
    "selected_backends",
    "table_contents",
    "table_counts",
]
