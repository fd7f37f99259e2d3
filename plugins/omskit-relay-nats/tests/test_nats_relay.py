"""The NATS relay against the real NATS server with JetStream: the conformance kit on SQLite
and PostgreSQL, subjects and de-duplication, settings, and the command line."""

from __future__ import annotations

import importlib.metadata
import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from omskit import InvalidSettings, Oms, bootstrap, hookimpl
from omskit.testing import (
    CrashingRelay,
    MutableClock,
    ReceivedMessage,
    RelayConformance,
    SimulatedCrash,
    TestDatabase,
    outbox_events,
    place_some_orders,
    relay_all,
)

import omskit_relay_nats
from omskit_relay_nats import NatsRelay, NatsSettings
from server import DOWN_URL, NATS_URL, TestStream


class Configured:
    """The plugin module's hooks with these settings, as one plugin object per test."""

    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings = settings

    @hookimpl
    def omskit_register_event_relays(self, register: Callable[[Any], None]) -> None:
        omskit_relay_nats.omskit_register_event_relays(register, self.settings)


@pytest.fixture
def relay_clock_start() -> MutableClock:
    return MutableClock()


@pytest.fixture
def stream() -> Iterator[TestStream]:
    made = TestStream()
    yield made
    made.delete()


class TestNatsRelayConformance(RelayConformance):
    @pytest.fixture
    def relay_code(self) -> str:
        return "nats"

    @pytest.fixture
    def relay_plugin(self, stream: TestStream) -> Configured:
        return Configured({"relay_nats": {"servers": [NATS_URL], "stream": stream.stream,
                                          "subject_prefix": stream.prefix, "timeout": 5}})

    @pytest.fixture
    def down_relay_plugin(self, stream: TestStream) -> Configured:
        return Configured({"relay_nats": {"servers": DOWN_URL, "stream": stream.stream,
                                          "subject_prefix": stream.prefix, "timeout": 2}})

    @pytest.fixture
    def received(self, stream: TestStream) -> Callable[[], list[ReceivedMessage]]:
        return stream.held


def test_subjects_are_event_types_and_the_stream_holds_each_event_once(
        make_oms: Callable[..., Oms], stream: TestStream,
        relay_clock_start: MutableClock) -> None:
    settings = {"relay_nats": {"servers": [NATS_URL], "stream": stream.stream,
                               "subject_prefix": stream.prefix}}
    oms = make_oms(plugins=[Configured(settings)], clock=relay_clock_start)
    place_some_orders(oms, count=2)
    events = outbox_events(oms)
    crashing = CrashingRelay(oms.event_relay("nats"))
    worker = make_oms(plugins=[crashing], clock=relay_clock_start)
    with pytest.raises(SimulatedCrash):
        worker.outbox.relay("nats", limit=4)
    relay_clock_start.advance(oms.outbox.lease + timedelta(seconds=1))
    runs = relay_all(oms, "nats", limit=100)
    assert runs[0].delivered == len(events)  # the four re-published ones count as delivered
    got = stream.held()
    # JetStream dropped the four duplicates: each event once, in write order.
    assert [m.message_id for m in got] == [e[1] for e in events]
    assert stream.subjects == [f"{stream.prefix}.{e[3]}" for e in events]
    assert [json.loads(m.body)["event_id"] for m in got] == [e[1] for e in events]


def test_without_create_stream_a_missing_stream_is_a_failure(
        make_oms: Callable[..., Oms], stream: TestStream) -> None:
    oms = make_oms(plugins=[Configured({"relay_nats": {
        "servers": [NATS_URL], "stream": stream.stream, "subject_prefix": stream.prefix,
        "create_stream": False, "timeout": 2}})])
    place_some_orders(oms, count=1)
    run = oms.outbox.relay("nats", limit=100)
    assert run.error is not None
    assert run.delivered == 0
    assert oms.outbox.relay_status("nats").pending == len(outbox_events(oms))


@pytest.mark.parametrize(("raw", "problem"), [
    ("amqp://x", "must be a table"),
    ({"servers": ["http://x"]}, "nats:// or tls://"),
    ({"servers": []}, "nats:// or tls://"),
    ({"stream": "a.b"}, "stream"),
    ({"subject_prefix": "a.>"}, "subject_prefix"),
    ({"code": "Bad Code"}, "code"),
    ({"timeout": 0}, "timeout"),
    ({"duplicate_window": -1}, "duplicate_window"),
    ({"create_stream": "yes"}, "create_stream"),
    ({"colour": "red"}, "unknown setting"),
])
def test_bad_settings_fail_bootstrap(raw: object, problem: str) -> None:
    with pytest.raises(InvalidSettings, match=problem):
        bootstrap("sqlite://", plugins=[omskit_relay_nats], load_entrypoints=False,
                  settings={"relay_nats": raw})


def test_no_settings_no_relay() -> None:
    with bootstrap("sqlite://", plugins=[omskit_relay_nats], load_entrypoints=False) as oms:
        assert oms.outbox.relays() == []


def test_the_password_stays_out_of_errors() -> None:
    relay = NatsRelay(NatsSettings(servers=("nats://relay:s3cret@127.0.0.1:1",), timeout=2))
    with pytest.raises(Exception, match=r"127\.0\.0\.1:1") as caught:
        relay.publish([])  # nothing to publish still needs the broker: connect fails
    assert "s3cret" not in str(caught.value)


def test_entry_point_loads_the_module() -> None:
    (ep,) = [e for e in importlib.metadata.entry_points(group="omskit")
             if e.name == "relay-nats"]
    assert isinstance(ep.load(), ModuleType)


def omskit_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The ``omskit`` command of this environment (entry points load this plugin)."""
    command = Path(sys.executable).parent / "omskit"
    return subprocess.run([str(command), *args], capture_output=True, text=True,
                          timeout=120, check=False)


def test_cli_relays_once(omskit_database: TestDatabase, stream: TestStream,
                         tmp_path: Path) -> None:
    settings = tmp_path / "omskit.toml"
    settings.write_text(f'[relay_nats]\nservers = ["{NATS_URL}"]\nstream = "{stream.stream}"\n'
                        f'subject_prefix = "{stream.prefix}"\n')
    base = ["--db", omskit_database.url, "--settings", str(settings)]
    if omskit_database.schema:
        base += ["--schema", omskit_database.schema]
    assert omskit_cli(*base, "db", "upgrade").returncode == 0
    oms = bootstrap(omskit_database.url, schema=omskit_database.schema,
                    load_entrypoints=False)
    place_some_orders(oms, count=1)
    events = outbox_events(oms)
    oms.close()
    result = omskit_cli(*base, "outbox", "relay", "nats", "--once")
    assert result.returncode == 0, result.stderr
    assert f"relay nats: delivered {len(events)}; pending 0, parked 0" in result.stdout
    assert [m.message_id for m in stream.held()] == [e[1] for e in events]

