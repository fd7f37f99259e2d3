"""The per-request database work of the API: the idempotency claim in one statement, and
pooled PostgreSQL connections pinged only after they sat idle (``connections.py``)."""

from __future__ import annotations

import threading

import omskit
import pytest
import sqlalchemy as sa
from omskit.testing import TestDatabase

from omskit_reference import Deployment
from omskit_reference.idempotency import KeyInUse, KeyReused, Reply


def test_two_concurrent_requests_under_one_key_are_served_once(deployment: Deployment) -> None:
    """The second request with a key, while the first is still being served, gets
    ``KeyInUse`` (409); once the first is done, a retry gets its answer back."""
    started, release = threading.Event(), threading.Event()
    served: list[int] = []

    def work() -> Reply:
        served.append(1)
        started.set()
        assert release.wait(30)
        return Reply(status=201, body=b'{"n": 1}')

    outcomes: list[object] = []
    first = threading.Thread(
        target=lambda: outcomes.append(deployment.idempotency.run("k", "i-1", "f", work))
    )
    first.start()
    assert started.wait(30)
    second = deployment.idempotency.run("k", "i-1", "f", work)
    release.set()
    first.join(30)
    assert isinstance(second, KeyInUse)
    assert outcomes == [Reply(status=201, body=b'{"n": 1}')]
    replayed = deployment.idempotency.run("k", "i-1", "f", work)
    assert replayed == Reply(status=201, body=b'{"n": 1}', replayed=True)
    assert isinstance(deployment.idempotency.run("k", "i-1", "other", work), KeyReused)
    assert served == [1]


def test_a_failed_request_frees_its_key(deployment: Deployment) -> None:
    def fails() -> Reply:
        raise RuntimeError("the work broke")

    with pytest.raises(RuntimeError):
        deployment.idempotency.run("k", "i-2", "f", fails)
    again = deployment.idempotency.run("k", "i-2", "f", lambda: Reply(status=200, body=b"{}"))
    assert again == Reply(status=200, body=b"{}")


def _opened(db: TestDatabase, ping_after_idle: float) -> Deployment:
    made = Deployment.open(
        db.url,
        create=True,
        load_entrypoints=False,
        schema=db.schema,
        plugins=[omskit.ManualCarriers("brt")],
        ping_after_idle=ping_after_idle,
    )
    made.oms.engine.dispose()  # the pool starts empty: one connection, opened below
    return made


def _kill_pooled_connections(deployment: Deployment, db: TestDatabase) -> None:
    """Terminate, from outside, the server process behind every connection the pool holds."""
    with deployment.oms.engine.connect() as conn:
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
    admin = db.engine(poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        assert conn.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})").scalar_one()
    admin.dispose()


@pytest.mark.postgres_only
def test_a_connection_idle_past_the_bound_is_pinged_and_replaced(
    omskit_database: TestDatabase,
) -> None:
    deployment = _opened(omskit_database, ping_after_idle=0)
    try:
        _kill_pooled_connections(deployment, omskit_database)
        assert deployment.keys.list() == []  # served on a fresh connection
    finally:
        deployment.close()


@pytest.mark.postgres_only
def test_a_connection_lost_within_the_bound_fails_one_request_and_the_pool_recovers(
    omskit_database: TestDatabase,
) -> None:
    """Without the ping, the request that meets the dead connection fails; SQLAlchemy then
    replaces every pooled connection, and the next request is served."""
    deployment = _opened(omskit_database, ping_after_idle=3600)
    try:
        _kill_pooled_connections(deployment, omskit_database)
        with pytest.raises(sa.exc.OperationalError):
            deployment.keys.list()
        assert deployment.keys.list() == []
    finally:
        deployment.close()
