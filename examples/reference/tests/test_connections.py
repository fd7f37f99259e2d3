"""The per-request database work of the API: the idempotency claim in one statement
(``connections.py``). Pinging pooled connections only after they sat idle is omskit's
(decision 51, ``tests/integration/test_pool_ping.py`` in the core)."""

from __future__ import annotations

import threading

import pytest

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
