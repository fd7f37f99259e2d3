"""omskit's pytest plugin, opt-in with ``pytest_plugins = ["omskit.testing"]``.

Fixtures:

- ``omskit_database``: each test runs once per database backend. SQLite (a WAL file in the
  test's ``tmp_path``) always; PostgreSQL from ``OMSKIT_TEST_POSTGRES_URL``, each test in a
  fresh schema dropped after it. Nothing is shared between tests, so ``pytest -n auto``
  (pytest-xdist) runs them in parallel on one PostgreSQL database.
  ``OMSKIT_TEST_DATABASES`` (``sqlite,postgresql`` by default) narrows the list; asking for
  PostgreSQL without a URL fails the test instead of skipping it.
- ``make_oms``: builds an ``Oms`` on that database with its tables created (entry points off
  unless asked for); ``oms`` is ``make_oms()``.
- ``hook_calls``: records every hook call of an ``Oms``.

Builders (plain functions): :func:`location`, :func:`order_command`.
Conformance suites: :class:`ChannelConformance`.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest
import sqlalchemy as sa

# Only public names: the plugin is written like a host's or a plugin's own test helpers.
from omskit import (
    Address,
    Capability,
    Contact,
    Coordinates,
    Customer,
    DeliveryKind,
    DeliveryMethod,
    Location,
    LocationKind,
    NewLine,
    Oms,
    PayloadError,
    PlaceOrder,
    bootstrap,
    create_engine,
)

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


@pytest.fixture
def omskit_database(omskit_backend: str, tmp_path: Path) -> Iterator[TestDatabase]:
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
    engine = db.engine(poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield db
    finally:
        with engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        engine.dispose()


@pytest.fixture
def make_oms(omskit_database: TestDatabase) -> Iterator[Callable[..., Oms]]:
    """Factory: ``make_oms(plugins=[...], **bootstrap_kwargs)`` with tables created."""
    made: list[Oms] = []

    def factory(**kwargs: Any) -> Oms:
        kwargs.setdefault("load_entrypoints", False)
        kwargs.setdefault("schema", omskit_database.schema)
        oms = bootstrap(omskit_database.url, **kwargs)
        made.append(oms)
        oms.create_schema()
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


# -- builders ---------------------------------------------------------------------------------


def location(code: str, lat: float, lon: float, *,
             kind: LocationKind = LocationKind.WAREHOUSE,
             capabilities: Sequence[Capability] = (Capability.SHIP,),
             handling_cost: str = "0", daily_capacity: int | None = None,
             groups: Sequence[str] = (), country: str | None = None) -> Location:
    """A location with coordinates, shipping by default (``country`` gives it an address)."""
    address = None
    if country is not None:
        address = Address(line1="1 Depot Road", city=code, country=country)
    return Location(code=code, name=code.replace("-", " ").title(), kind=kind,
                    coordinates=Coordinates(lat=lat, lon=lon), address=address,
                    capabilities=frozenset(capabilities), handling_cost=Decimal(handling_cost),
                    daily_capacity=daily_capacity, groups=frozenset(groups))


def order_command(external_id: str, lines: Mapping[str, int], *, channel: str = "web",
                  customer_id: str = "customer-1", segment: str | None = None,
                  lat: float = 45.4642, lon: float = 9.19, currency: str = "EUR",
                  unit_price: str = "10.00", pickup_at: str | None = None,
                  country: str = "IT") -> PlaceOrder:
    """A ``PlaceOrder`` for ``{sku: quantity}`` shipped to (lat, lon) in ``country``, or
    picked up."""
    delivery = (DeliveryMethod(kind=DeliveryKind.PICKUP, pickup_location=pickup_at)
                if pickup_at else DeliveryMethod())
    return PlaceOrder(
        channel=channel, external_id=external_id, currency=currency,
        customer=Customer(id=customer_id, segment=segment,
                          contact=Contact(name="Test Customer", email="test@example.com")),
        lines=[NewLine(sku=sku, quantity=q, unit_price=unit_price) for sku, q in lines.items()],
        delivery=delivery,
        shipping_address=Address(line1="Via Test 1", city="Test", country=country,
                                 coordinates=Coordinates(lat=lat, lon=lon)),
    )


def table_counts(oms: Oms) -> dict[str, int]:
    """Row count of every omskit table: compare before and after to prove nothing was written."""
    with oms.engine.connect() as conn:
        return {t.name: int(conn.execute(sa.select(sa.func.count()).select_from(t))
                            .scalar_one())
                for t in oms.tables.all()}


def table_contents(oms: Oms) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every omskit table, sorted: the database's full observable state."""
    with oms.engine.connect() as conn:
        return {t.name: sorted(tuple(map(repr, r)) for r in conn.execute(sa.select(t)))
                for t in oms.tables.all()}


# -- conformance suites -------------------------------------------------------------------------


class ChannelConformance:
    """Tests every channel connector must pass. Subclass it in the plugin's tests and provide
    the fixtures ``channel_code`` (str), ``channel_plugin`` (the plugin object),
    ``valid_payloads`` (list of dicts) and ``invalid_payloads`` (list of dicts); the valid
    payloads must use SKUs ``SKU-1``..``SKU-3``, which the suite stocks.
    """

    @pytest.fixture
    def channel_oms(self, make_oms: Callable[..., Oms], channel_plugin: object) -> Oms:
        oms = make_oms(plugins=[channel_plugin])
        oms.inventory.save_location(location("conformance-dc", 45.0, 9.0))
        for sku in ("SKU-1", "SKU-2", "SKU-3"):
            oms.inventory.receive("conformance-dc", sku, 1000)
        return oms

    def test_connector_is_registered_under_its_code(self, channel_oms: Oms,
                                                    channel_code: str) -> None:
        assert channel_oms.channel(channel_code).code == channel_code

    def test_valid_payloads_parse_to_commands(self, channel_oms: Oms, channel_code: str,
                                              valid_payloads: list[dict[str, Any]]) -> None:
        assert valid_payloads, "the suite needs at least one valid payload"
        for payload in valid_payloads:
            command = channel_oms.channels.parse(channel_code, payload)
            assert isinstance(command, PlaceOrder)
            assert command.lines

    def test_redelivery_places_one_order(self, channel_oms: Oms, channel_code: str,
                                         valid_payloads: list[dict[str, Any]]) -> None:
        first = channel_oms.channels.receive(channel_code, valid_payloads[0])
        again = channel_oms.channels.receive(channel_code, valid_payloads[0])
        assert again.id == first.id
        assert len(channel_oms.orders.search()) == 1

    def test_invalid_payloads_raise_and_write_nothing(
        self, channel_oms: Oms, channel_code: str, invalid_payloads: list[dict[str, Any]]
    ) -> None:
        assert invalid_payloads, "the suite needs at least one invalid payload"
        before = table_contents(channel_oms)
        for payload in invalid_payloads:
            with pytest.raises(PayloadError) as caught:
                channel_oms.channels.receive(channel_code, payload)
            assert caught.value.problems, f"no problems listed for {payload!r}"
            assert caught.value.channel == channel_code
            for problem in caught.value.problems:
                path, _, message = problem.partition(": ")
                assert path, f"problem {problem!r} is not 'path: message'"
                assert message, f"problem {problem!r} is not 'path: message'"
        assert table_contents(channel_oms) == before

    def test_non_object_payload_is_a_payload_error(self, channel_oms: Oms,
                                                   channel_code: str) -> None:
        not_objects: tuple[Any, ...] = ([], "order", 42, None)
        for payload in not_objects:
            with pytest.raises(PayloadError):
                channel_oms.channels.receive(channel_code, payload)
