"""A pooled connection is pinged before it is lent only if it sat idle (decision 51): a
connection lost while idle is replaced without the caller seeing an error, and a busy worker
pays no round trip per transaction for it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa

from omskit import Oms
from omskit.store.backends import PostgreSQLBackend
from omskit.testing import location, order_command
from tests.support import MILAN


def stocked(oms: Oms) -> None:
    oms.inventory.save_location(location("milan", *MILAN))
    oms.inventory.receive("milan", "A", 100)


def counted_pings(oms: Oms, monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every ping the engine's dialect sends, from now on."""
    pings: list[object] = []
    real = oms.engine.dialect.do_ping

    def ping(dbapi_connection: Any) -> bool:
        pings.append(dbapi_connection)
        return real(dbapi_connection)

    monkeypatch.setattr(oms.engine.dialect, "do_ping", ping)
    return pings


def pooled_backend_pid(oms: Oms) -> int:
    with oms.engine.connect() as conn:
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    assert isinstance(pid, int)
    return pid


def test_a_connection_returned_a_moment_ago_is_lent_without_a_ping(
        oms: Oms, monkeypatch: pytest.MonkeyPatch) -> None:
    stocked(oms)
    pings = counted_pings(oms, monkeypatch)
    for n in range(5):
        oms.orders.place(order_command(f"W-{n}", {"A": 1}))
    assert pings == []


def test_an_idle_connection_is_pinged_and_a_lost_one_replaced(
        oms: Oms, omskit_backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    stocked(oms)
    pings = counted_pings(oms, monkeypatch)
    # Every connection counts as idle long enough.
    monkeypatch.setattr(PostgreSQLBackend, "ping_after_idle", 0.0)
    if omskit_backend == "sqlite":
        # No server to lose the connection: nothing is pinged however long it sat.
        oms.orders.place(order_command("W-1", {"A": 1}))
        assert pings == []
        return
    lost = pooled_backend_pid(oms)
    with sa.create_engine(oms.engine.url, poolclass=sa.pool.NullPool).connect() as admin:
        assert admin.exec_driver_sql(f"SELECT pg_terminate_backend({lost})").scalar()
    order = oms.orders.place(order_command("W-1", {"A": 1}))
    assert order.status.value == "allocated"
    assert pings, "the idle connection was lent without a ping"
    assert pooled_backend_pid(oms) != lost  # the lost connection was replaced


def test_pool_pre_ping_in_the_engine_options_pings_every_checkout(
        omskit_backend: str, make_oms: Callable[..., Oms],
        monkeypatch: pytest.MonkeyPatch) -> None:
    oms = make_oms(engine_options={"pool_pre_ping": True})
    stocked(oms)
    pings = counted_pings(oms, monkeypatch)
    oms.orders.place(order_command("W-1", {"A": 1}))
    oms.orders.place(order_command("W-2", {"A": 1}))
    if omskit_backend == "sqlite":
        assert pings  # SQLAlchemy's own pre-ping, asked for
    else:
        assert len(pings) >= 2
