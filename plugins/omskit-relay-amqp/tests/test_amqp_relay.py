"""The AMQP relay against the real RabbitMQ: the conformance kit on SQLite and PostgreSQL,
the message's properties, settings, and the command line."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from omskit import InvalidSettings, Oms, bootstrap, hookimpl
from omskit.testing import (
    ReceivedMessage,
    RelayConformance,
    TestDatabase,
    outbox_events,
    place_some_orders,
    relay_all,
)

import omskit_relay_amqp
from broker import AMQP_URL, DOWN_URL, TestQueue
from omskit_relay_amqp import AmqpRelay, AmqpSettings


class Configured:
    """The plugin module's hooks with these settings, as one plugin object per test."""

    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings = settings

    @hookimpl
    def omskit_register_event_relays(self, register: Callable[[Any], None]) -> None:
        omskit_relay_amqp.omskit_register_event_relays(register, self.settings)


@pytest.fixture
def queue() -> Iterator[TestQueue]:
    made = TestQueue()
    yield made
    made.delete()


class TestAmqpRelayConformance(RelayConformance):
    @pytest.fixture
    def relay_code(self) -> str:
        return "amqp"

    @pytest.fixture
    def relay_plugin(self, queue: TestQueue) -> Configured:
        return Configured({"relay_amqp": {"url": AMQP_URL, "exchange": queue.exchange,
                                          "timeout": 5}})

    @pytest.fixture
    def down_relay_plugin(self, queue: TestQueue) -> Configured:
        return Configured({"relay_amqp": {"url": DOWN_URL, "exchange": queue.exchange,
                                          "timeout": 2}})

    @pytest.fixture
    def received(self, queue: TestQueue) -> Callable[[], list[ReceivedMessage]]:
        return queue.drain


def test_messages_are_persistent_routed_by_event_type_with_the_event_id(
        make_oms: Callable[..., Oms], queue: TestQueue) -> None:
    oms = make_oms(plugins=[Configured({"relay_amqp": {
        "url": AMQP_URL, "exchange": queue.exchange, "routing_key_prefix": "shop"}})])
    place_some_orders(oms, count=1)
    events = outbox_events(oms)
    relay_all(oms, "amqp", limit=100)
    got = queue.drain()
    assert [m.message_id for m in got] == [e[1] for e in events]
    assert queue.routing_keys == [f"shop.{e[3]}" for e in events]
    assert all(queue.persistent)
    assert [json.loads(m.body)["event_id"] for m in got] == [e[1] for e in events]


def test_a_message_no_queue_takes_is_not_delivered_when_mandatory(
        make_oms: Callable[..., Oms], queue: TestQueue) -> None:
    oms = make_oms(plugins=[Configured({"relay_amqp": {
        "url": AMQP_URL, "exchange": queue.exchange + ".nobody", "mandatory": True}})])
    place_some_orders(oms, count=1)
    run = oms.outbox.relay("amqp", limit=100)
    assert run.delivered == 0
    assert run.claimed > 0
    assert oms.outbox.relay_status("amqp").pending == len(outbox_events(oms))


@pytest.mark.parametrize(("raw", "problem"), [
    ("amqp://x", "must be a table"),
    ({"url": "http://x"}, "amqp:// or amqps://"),
    ({"exchange": " "}, "must not be empty"),
    ({"code": "Bad Code"}, "code"),
    ({"timeout": 0}, "timeout"),
    ({"mandatory": "yes"}, "mandatory"),
    ({"colour": "red"}, "unknown setting"),
])
def test_bad_settings_fail_bootstrap(raw: object, problem: str) -> None:
    with pytest.raises(InvalidSettings, match=problem):
        bootstrap("sqlite://", plugins=[omskit_relay_amqp], load_entrypoints=False,
                  settings={"relay_amqp": raw})


def test_no_settings_no_relay() -> None:
    with bootstrap("sqlite://", plugins=[omskit_relay_amqp], load_entrypoints=False) as oms:
        assert oms.outbox.relays() == []


def test_the_password_stays_out_of_errors() -> None:
    relay = AmqpRelay(AmqpSettings(url="amqp://guest:s3cret@127.0.0.1:1/", timeout=2))
    with pytest.raises(Exception, match=r"127\.0\.0\.1:1/") as caught:
        relay.publish([])  # nothing to publish still needs the broker: connect fails
    assert "s3cret" not in str(caught.value)


def test_entry_point_loads_the_module() -> None:
    (ep,) = [e for e in importlib.metadata.entry_points(group="omskit")
             if e.name == "relay-amqp"]
    assert isinstance(ep.load(), ModuleType)


def omskit_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The ``omskit`` command of this environment (entry points load this plugin)."""
    command = Path(sys.executable).parent / "omskit"
    return subprocess.run([str(command), *args], capture_output=True, text=True,
                          timeout=120, check=False)


def test_cli_relays_once(omskit_database: TestDatabase, queue: TestQueue,
                         tmp_path: Path) -> None:
    settings = tmp_path / "omskit.toml"
    settings.write_text(f'[relay_amqp]\nurl = "{AMQP_URL}"\nexchange = "{queue.exchange}"\n')
    base = ["--db", omskit_database.url, "--settings", str(settings)]
    if omskit_database.schema:
        base += ["--schema", omskit_database.schema]
    assert omskit_cli(*base, "db", "upgrade").returncode == 0
    oms = bootstrap(omskit_database.url, schema=omskit_database.schema,
                    load_entrypoints=False)
    place_some_orders(oms, count=1)
    events = outbox_events(oms)
    oms.close()
    result = omskit_cli(*base, "outbox", "relay", "amqp", "--once")
    assert result.returncode == 0, result.stderr
    assert f"relay amqp: delivered {len(events)}; pending 0, parked 0" in result.stdout
    assert [m.message_id for m in queue.drain()] == [e[1] for e in events]


def test_cli_fails_when_the_broker_is_down(omskit_database: TestDatabase,
                                           tmp_path: Path) -> None:
    settings = tmp_path / "omskit.toml"
    settings.write_text(f'[relay_amqp]\nurl = "{DOWN_URL}"\ntimeout = 2\n')
    base = ["--db", omskit_database.url, "--settings", str(settings)]
    if omskit_database.schema:
        base += ["--schema", omskit_database.schema]
    assert omskit_cli(*base, "db", "upgrade").returncode == 0
    oms = bootstrap(omskit_database.url, schema=omskit_database.schema,
                    load_entrypoints=False)
    place_some_orders(oms, count=1)
    oms.close()
    result = omskit_cli(*base, "outbox", "relay", "amqp")
    assert result.returncode == 1
    assert "nothing of it marked delivered" in result.stderr
